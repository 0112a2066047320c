#!/usr/bin/env python3
"""Python twin of scripts/bench/tokenizer.js (never used by tests): transformers' BertTokenizer
(= BertTokenizerFast in transformers 5, Rust tokenizers) on the same strings. Best of 7 runs.
usage: node scripts/bench/tokenizer.js --dump /tmp/bench
       python scripts/bench/tokenizer.py [--ckpt DIR] /tmp/bench/mixed.jsonl /tmp/bench/ascii.jsonl"""
import argparse, json, os, time

import tokenizers
import transformers
from transformers import AutoTokenizer

RUNS = 7
ap = argparse.ArgumentParser()
ap.add_argument("--ckpt", default=os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "blip-itm-tiny"))
ap.add_argument("strings", nargs="+")
a = ap.parse_args()
t0 = time.perf_counter()
tok = AutoTokenizer.from_pretrained(a.ckpt)
print(f"load: {(time.perf_counter() - t0) * 1000:.1f} ms; transformers {transformers.__version__}, "
      f"tokenizers {tokenizers.__version__}, {type(tok).__name__}, "
      f"RAYON_NUM_THREADS={os.environ.get('RAYON_NUM_THREADS', '(all cores)')}, {os.cpu_count()} cpus; best of {RUNS}")


def report(label, texts, fn):
    best, n = float("inf"), 0
    for _ in range(RUNS):
        t = time.perf_counter()
        n = fn()
        best = min(best, time.perf_counter() - t)
    print(f"{label:48} {len(texts) / best:8.0f} strings/s {n / best:9.0f} tokens/s ({best * 1000:.1f} ms)")


for path in a.strings:
    texts = [json.loads(l) for l in open(path, encoding="utf-8") if l.strip()]
    name = os.path.splitext(os.path.basename(path))[0]
    report(f"{name}: one call per string", texts, lambda: sum(len(tok(t)["input_ids"]) for t in texts))
    report(f"{name}: one batch call", texts, lambda: sum(len(x) for x in tok(texts)["input_ids"]))
    report(f"{name}: batch max_length=35, padded", texts, lambda: sum(
        sum(m) for m in tok(texts, max_length=35, truncation=True, padding="max_length")["attention_mask"]))
