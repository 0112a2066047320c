#!/usr/bin/env python3
"""Test videos for the video tests: 20 distinct 32x24 frames cut from the fixture images
(non-square, so resizing to the model's square size stretches them, as BLIP's decord did), and
two LOSSLESS Matroska videos made from them with ffmpeg's PNG codec in rgb24, whose decoded
frames equal the PNGs bit for bit:
  clip20.mkv  frames 00..19 (20 frames: np.arange and floor(i*vlen/n) differ for n = 8 and 3)
  clip7.mkv   frames 13..19 (7 frames: fewer than 8, so n = 8 samples frame 0 eight times)
  clip5.mkv   frames 04..08 (5 frames; with the others, the small set of the video eval test)
and sampling-cases.json: numpy's np.arange(0, vlen, vlen / n, dtype=int) for many (vlen, n), including
lengths where it differs from floor(i * vlen / n) and where numpy returns n + 1 indices.

usage: make_video_fixtures.py OUT_DIR   (needs ffmpeg on PATH; the frames are not stamped: plain PNGs)
"""
import json
import os
import subprocess
import sys

import numpy as np
from PIL import Image

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "images")
SOURCES = ["chelsea.png", "rocket.jpg", "horse.png", "camera.png"]
W, H = 32, 24


def frames():
    out = []
    for k in range(20):
        src = Image.open(os.path.join(FIXTURES, SOURCES[k % 4])).convert("RGB")
        sw, sh = src.size
        step = k // 4  # 5 crops per source, sliding and zooming
        cw, ch = sw * (5 - step) // 6, sh * (5 - step) // 6
        x0, y0 = (sw - cw) * step // 5, (sh - ch) * (4 - step) // 5
        out.append(src.crop((x0, y0, x0 + cw, y0 + ch)).resize((W, H), Image.Resampling.BICUBIC))
    return out


def sampling_cases():
    lengths = list(range(1, 65)) + [17, 34, 41, 61, 99, 100, 101, 127, 128, 129, 300, 451, 1000, 4321, 12345, 99999]
    cases = []
    for vlen in sorted(set(lengths)):
        for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 16):
            cases.append([vlen, n, np.arange(0, vlen, vlen / n, dtype=int).tolist()])
    return {"numpy": np.__version__, "formula": "np.arange(0, vlen, vlen / n, dtype=int)", "cases": cases}


def main():
    out_dir = sys.argv[1]
    with open(os.path.join(out_dir, "sampling-cases.json"), "w") as f:
        json.dump(sampling_cases(), f, separators=(",", ":"))
    frame_dir = os.path.join(out_dir, "frames")
    os.makedirs(frame_dir, exist_ok=True)
    for i, im in enumerate(frames()):
        im.save(os.path.join(frame_dir, f"{i:02d}.png"), optimize=True)
    pattern = os.path.join(frame_dir, "%02d.png")
    for name, start, count in (("clip20.mkv", 0, 20), ("clip7.mkv", 13, 7), ("clip5.mkv", 4, 5)):
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-framerate", "10", "-start_number", str(start), "-i", pattern,
                        "-frames:v", str(count), "-c:v", "png", "-pix_fmt", "rgb24", "-fflags", "+bitexact",
                        "-flags:v", "+bitexact", os.path.join(out_dir, name)], check=True)


if __name__ == "__main__":
    main()
