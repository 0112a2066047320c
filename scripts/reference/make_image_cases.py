#!/usr/bin/env python3
"""What transformers' BLIP image processor (Pillow backend) makes of image files, per image i:
  resized.{i}       uint8 [H,W,3]   after convert-to-RGB (alpha composited on white) and Pillow's
                                    bicubic resize: the integers the model sees
  pixel_values.{i}  float32 [3,H,W] after rescale by 1/255 and mean/std normalisation
The metadata "files" lists the image file names in order.

usage: make_image_cases.py CKPT OUT.safetensors IMG... [--size N] [--first-pixel-values-only]
"""
import argparse
import json
import os

import numpy as np
import torch
from PIL import Image
from transformers import BlipProcessor
from transformers.image_transforms import convert_to_rgb

from stamp import stamp, write_safetensors


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ckpt")
    ap.add_argument("out")
    ap.add_argument("images", nargs="+")
    ap.add_argument("--size", type=int, default=None, help="square size instead of the checkpoint's")
    ap.add_argument("--first-pixel-values-only", action="store_true", help="keep the file small: pixel_values of image 0 only")
    a = ap.parse_args()
    processor = BlipProcessor.from_pretrained(a.ckpt).image_processor
    override = {"size": {"height": a.size, "width": a.size}} if a.size else {}
    side = a.size or processor.size["height"]
    mean = np.array(processor.image_mean, dtype=np.float32)[:, None, None]
    std = np.array(processor.image_std, dtype=np.float32)[:, None, None]
    out = {}
    for i, file in enumerate(a.images):
        image = Image.open(file)
        resized = np.array(convert_to_rgb(image).resize((side, side), resample=Image.BICUBIC))
        pixel_values = processor(images=image, return_tensors="pt", **override)["pixel_values"][0]
        # The integers saved are the ones the processor normalised (else the file would mislead).
        ours = (resized.transpose(2, 0, 1).astype(np.float32) / 255.0 - mean) / std
        worst = np.abs(ours - pixel_values.numpy()).max()
        assert worst < 1e-5, (file, worst)
        out[f"resized.{i}"] = torch.from_numpy(resized.copy())
        if i == 0 or not a.first_pixel_values_only:
            out[f"pixel_values.{i}"] = pixel_values.float().contiguous()
    write_safetensors(a.out, out, stamp(__file__, {"files": json.dumps([os.path.basename(p) for p in a.images])}))
    print(f"{a.out}: {len(a.images)} images at {side}x{side}")


if __name__ == "__main__":
    main()
