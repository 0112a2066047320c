#!/usr/bin/env python3
"""Tokenizer reference cases: what transformers' AutoTokenizer (BertTokenizer for BLIP) makes of
strings, one JSON object a line after a first line {"__metadata__": {...}} (the version stamp):
  {"text": ..., "ids": [...], "tokens": [...], "ids_35": [...]}
ids: [CLS] ... [SEP], untruncated; ids_35: truncated to max_length 35 (BLIP's retrieval setting).

Strings come from --strings FILE (one JSON value a line: a string, or an object with "text", so a
committed cases file can be re-derived), and/or --random N generated strings (seeded) mixing
scripts, accents, combining marks, control and zero-width characters, emoji and very long runs.

usage: make_tokenizer_cases.py CKPT OUT.jsonl [--strings FILE] [--random N] [--seed S]
"""
import argparse
import json
import random

from transformers import AutoTokenizer

from stamp import stamp

# Character families the BERT normaliser and splitter treat differently.
FAMILIES = [
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", " \t\n\r\u00a0\u2003\u3000",
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", "àáâãäåæçèéêëìíîïñòóôõöøùúûüýÿœßÀÉÎÕÜÇİſ",
    "\u0300\u0301\u0302\u0308\u0327\u030a", "αβγδεζηθλμπσςωΣΩ", "абвгдежзийклмнопрстуфЖЯ", "日本語中文漢字東京",
    "한국어", "ひらがなカタカナ", "العربية", "עברית", "हिन्दी", "ไทย", "😀🚀🐱❤️👍🏽🇯🇵", "\u200b\u200c\u200d\u2060\ufeff",
    "\x00\x01\x07\x1b\x7f\ufffd", "–—…‘’“”«»•°€£©™", "ﬁﬂ①②ⅣⅫ𝔸𝕓", "[CLS][SEP][UNK][PAD][MASK]",
]


def random_text(rng):
    pieces = []
    for _ in range(rng.randint(1, 10)):
        family = rng.choice(FAMILIES)
        length = rng.choice([1, 2, 3, 6, 12, 50, 150])
        pieces.append("".join(rng.choice(family) for _ in range(length)))
        pieces.append(rng.choice(["", " ", " ", "  "]))
    return "".join(pieces)


def read_strings(path):
    with open(path, encoding="utf-8") as f:
        values = [json.loads(line) for line in f if line.strip()]
    return [v["text"] if isinstance(v, dict) else v for v in values if not (isinstance(v, dict) and "__metadata__" in v)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ckpt")
    ap.add_argument("out")
    ap.add_argument("--strings")
    ap.add_argument("--random", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    tokenizer = AutoTokenizer.from_pretrained(a.ckpt)
    texts = read_strings(a.strings) if a.strings else []
    rng = random.Random(a.seed)
    texts += [random_text(rng) for _ in range(a.random)]
    with open(a.out, "w", encoding="utf-8") as f:
        f.write(json.dumps({"__metadata__": stamp(__file__, {"tokenizer": type(tokenizer).__name__})}) + "\n")
        for text in texts:
            ids = tokenizer(text)["input_ids"]
            case = {"text": text, "ids": ids, "tokens": tokenizer.convert_ids_to_tokens(ids),
                    "ids_35": tokenizer(text, truncation=True, max_length=35)["input_ids"]}
            f.write(json.dumps(case, ensure_ascii=False) + "\n")
    print(f"{a.out}: {len(texts)} cases ({type(tokenizer).__name__})")


if __name__ == "__main__":
    main()
