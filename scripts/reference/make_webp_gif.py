#!/usr/bin/env python3
"""Small WebP and GIF fixtures and what Pillow decodes them to (test/fixtures/images-webp-gif).

Writes lossy, lossless and alpha WebP files and an animated GIF (two frames, the first with a
transparent index) made from test/fixtures/images/chelsea.png, and expected.json: for each file,
the size and the SHA-256 of Image.open(f).convert('RGB').tobytes() (for the GIF: its first frame),
the pixels our decoders must give.

usage: make_webp_gif.py OUT_DIR
"""
import hashlib
import json
import os
import sys

import PIL
import PIL.features
from PIL import Image

from stamp import stamp


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    here = os.path.dirname(os.path.abspath(__file__))
    src = Image.open(os.path.join(here, "..", "..", "test", "fixtures", "images", "chelsea.png")).convert("RGB")
    small = src.resize((61, 47), Image.BICUBIC)  # odd sizes exercise the chroma edges
    alpha = small.convert("RGBA")
    alpha.putalpha(Image.linear_gradient("L").resize(small.size))
    small.save(os.path.join(out, "lossy.webp"), quality=70)
    small.save(os.path.join(out, "lossless.webp"), lossless=True)
    alpha.save(os.path.join(out, "alpha-lossy.webp"), quality=70)
    alpha.save(os.path.join(out, "alpha-lossless.webp"), lossless=True)
    first = small.quantize(colors=64)
    first.info["transparency"] = 3
    second = small.transpose(Image.FLIP_LEFT_RIGHT).quantize(colors=64)
    first.save(os.path.join(out, "animated.gif"), save_all=True, append_images=[second], duration=100, loop=0, transparency=3)
    expected = {}
    for name in sorted(os.listdir(out)):
        if not name.endswith((".webp", ".gif")):
            continue
        im = Image.open(os.path.join(out, name))
        rgb = im.convert("RGB")
        expected[name] = {
            "mode": im.mode,
            "frames": getattr(im, "n_frames", 1),
            "width": rgb.width,
            "height": rgb.height,
            "sha256": hashlib.sha256(rgb.tobytes()).hexdigest(),
        }
    meta = stamp(__file__)
    meta["pillow"] = PIL.__version__
    meta["libwebp"] = PIL.features.version("webp") or "?"
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump({"__metadata__": meta, "files": expected}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
