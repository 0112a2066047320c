#!/usr/bin/env python3
"""Twin of scripts/bench/image.js: the same file through transformers' load_image (Pillow decode,
EXIF transpose, convert RGB) and BlipImageProcessor (PIL backend: bicubic resize, rescale,
normalise). Not used by the tests. Run with the reference venv:
  .venv-ref/bin/python scripts/bench/image.py [IMAGE] [--size N] [--runs N]
"""
import argparse, json, os, statistics, time

from PIL import Image
from transformers import BlipImageProcessorPil
from transformers.image_utils import load_image

ap = argparse.ArgumentParser()
ap.add_argument('image', nargs='?', default=os.path.join(os.path.dirname(__file__), '..', '..', 'test', 'fixtures', 'images-extra', 'j1411.jpg'))
ap.add_argument('--size', type=int, default=384)
ap.add_argument('--runs', type=int, default=20)
a = ap.parse_args()
proc = BlipImageProcessorPil(size={'height': a.size, 'width': a.size})


def timed(fn):
    c0, t0 = time.process_time(), time.perf_counter()
    r = fn()
    return r, (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000


def full():
    return proc(images=load_image(a.image), return_tensors='np')['pixel_values']


_, first, _ = timed(full)
total, cpu, dec, rsz = [], [], [], []
for _ in range(a.runs):
    _, w, c = timed(full); total.append(w); cpu.append(c)
    img, w, _ = timed(lambda: load_image(a.image)); dec.append(w)
    _, w, _ = timed(lambda: img.resize((a.size, a.size), Image.BICUBIC)); rsz.append(w)
print(json.dumps({
    'impl': 'Pillow + transformers BlipImageProcessorPil', 'file': os.path.basename(a.image),
    'image': '%dx%d' % img.size, 'size': a.size, 'runs': a.runs, 'first_ms': round(first, 1),
    'median_ms': round(statistics.median(total), 1), 'median_cpu_ms': round(statistics.median(cpu), 1),
    'decode_median_ms': round(statistics.median(dec), 1), 'resize_median_ms': round(statistics.median(rsz), 1),
}))
