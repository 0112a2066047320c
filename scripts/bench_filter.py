#!/usr/bin/env python3
"""PyTorch twin of scripts/bench-filter.js: a plain transformers loop over the same WebDataset tar,
doing what `blip-itm filter` does for each sample: read the members, decode the image (Pillow,
convert RGB), BlipProcessor on a batch of 8 image-caption pairs, BlipForImageTextRetrieval ITM
head, softmax. Model load excluded; one warm-up batch first. Prints one JSON line.

  /path/to/venv/bin/python scripts/bench_filter.py --model DIR TAR [--batch 8] [--threads N]
"""
import argparse
import io
import json
import tarfile
import time

import torch
from PIL import Image
from transformers import BlipForImageTextRetrieval, BlipProcessor


def samples(tar_path):
    """(key, image bytes, caption) per WebDataset key, in tar order."""
    group, key = {}, None
    with tarfile.open(tar_path) as tar:
        for member in tar:
            if not member.isfile():
                continue
            base = member.name.rsplit('/', 1)[-1]
            k = member.name[: len(member.name) - len(base)] + base.split('.', 1)[0]
            ext = base.split('.', 1)[1].lower()
            if k != key and group:
                yield group
                group = {}
            key = k
            group['key'] = k
            group[ext] = tar.extractfile(member).read()
    if group:
        yield group


def run_batch(model, processor, batch):
    images = [Image.open(io.BytesIO(s.get('jpg') or s.get('jpeg') or s.get('png'))).convert('RGB') for s in batch]
    texts = [s['txt'].decode('utf-8').strip() for s in batch]
    inputs = processor(images=images, text=texts, padding=True, return_tensors='pt')
    with torch.no_grad():
        logits = model(**inputs, use_itm_head=True).itm_score
    return logits.softmax(dim=1)[:, 1].tolist()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--model', required=True)
    ap.add_argument('--batch', type=int, default=8)
    ap.add_argument('--threads', type=int)
    ap.add_argument('tar')
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    model = BlipForImageTextRetrieval.from_pretrained(a.model, torch_dtype=torch.float32).eval()
    processor = BlipProcessor.from_pretrained(a.model)
    everything = list(samples(a.tar))
    run_batch(model, processor, everything[: a.batch])  # warm-up, not timed
    t0 = time.perf_counter()
    n = 0
    batch = []
    for s in samples(a.tar):  # read again inside the timed loop, as the filter does
        batch.append(s)
        if len(batch) == a.batch:
            n += len(run_batch(model, processor, batch))
            batch = []
    if batch:
        n += len(run_batch(model, processor, batch))
    seconds = time.perf_counter() - t0
    print(json.dumps({'impl': 'pytorch', 'threads': torch.get_num_threads(), 'batch': a.batch, 'samples': n,
                      'seconds': round(seconds, 2), 'samples_per_s': round(n / seconds, 3)}))


if __name__ == '__main__':
    main()
