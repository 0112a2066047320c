#!/usr/bin/env python3
"""Compares regenerated reference files with committed ones before replacing them.

For safetensors: the same names, dtypes and shapes, and for every tensor the largest absolute
difference (0 = bit-identical). JSONL tokenizer cases: the same records (the stamp line aside).
Exits 1 if any tensor differs by more than --tol or any record differs.

usage: compare.py OLD NEW [--tol 1e-7]
"""
import argparse
import json
import sys

import torch
from safetensors import safe_open


def load(path):
    with safe_open(path, framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}


def compare_safetensors(old_path, new_path, tol):
    old, new = load(old_path), load(new_path)
    ok = set(old) == set(new)
    if not ok:
        print(f"names differ: only old {sorted(set(old) - set(new))}, only new {sorted(set(new) - set(old))}")
    worst = 0.0
    for name in sorted(set(old) & set(new)):
        a, b = old[name], new[name]
        if a.dtype != b.dtype or a.shape != b.shape:
            print(f"{name}: {a.dtype}{list(a.shape)} vs {b.dtype}{list(b.shape)}")
            ok = False
            continue
        same_bits = torch.equal(a, b)
        diff = 0.0 if same_bits else (a.double() - b.double()).abs().max().item()
        worst = max(worst, diff)
        if diff > tol:
            print(f"{name}: max |diff| {diff:.3e}")
            ok = False
    print(f"{new_path}: {len(new)} tensors, max |diff| {worst:.3e} ({'bit-identical' if worst == 0 else 'within tol' if ok else 'DIFFERENT'})")
    return ok


def records(path):
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [r for r in rows if "__metadata__" not in r]


def compare_jsonl(old_path, new_path):
    old, new = records(old_path), records(new_path)
    bad = [i for i, (a, b) in enumerate(zip(old, new)) if a != b]
    ok = len(old) == len(new) and not bad
    print(f"{new_path}: {len(new)} records vs {len(old)}, {len(bad)} differ{' e.g. line ' + str(bad[0]) if bad else ''}")
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--tol", type=float, default=1e-7)
    a = ap.parse_args()
    ok = compare_jsonl(a.old, a.new) if a.old.endswith(".jsonl") else compare_safetensors(a.old, a.new, a.tol)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
