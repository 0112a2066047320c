#!/usr/bin/env python3
"""What float16 costs in transformers: BlipForImageTextRetrieval in float32 and after
model.half() (PyTorch CPU), ITM probability and ITC cosine for images x 16 captions.
Writes JSON {float32: {probs, cosine}, half: {...}} for the browser comparison
(notes/i13-closing.md). Versions used: torch 2.13, transformers 5.17 (CPU).

usage: float16-cost.py MODEL_DIR CAPTIONS_JSON OUT_JSON IMAGE...
"""
import json
import sys

import torch
from PIL import Image
from transformers import BlipForImageTextRetrieval, BlipProcessor


def scores(model, processor, images, texts, dtype):
    probs, cosine = [], []
    for image in images:
        inputs = processor(images=[image] * len(texts), text=texts, return_tensors="pt", padding=True)
        inputs["pixel_values"] = inputs["pixel_values"].to(dtype)
        with torch.no_grad():
            itm = model(**inputs, use_itm_head=True).itm_score
            cos = model(**inputs, use_itm_head=False).itm_score
        probs.append(torch.softmax(itm.float(), dim=1)[:, 1].tolist())
        cosine.append(cos.float().diagonal().tolist())
    return {"probs": probs, "cosine": cosine}


def main():
    model_dir, captions_json, out_json, *image_files = sys.argv[1:]
    texts = json.load(open(captions_json))["texts16"]
    processor = BlipProcessor.from_pretrained(model_dir)
    images = [Image.open(f).convert("RGB") for f in image_files]
    model = BlipForImageTextRetrieval.from_pretrained(model_dir).eval()
    out = {"texts": texts, "images": image_files, "float32": scores(model, processor, images, texts, torch.float32)}
    model = model.half()
    out["half"] = scores(model, processor, images, texts, torch.float16)
    json.dump(out, open(out_json, "w"))


if __name__ == "__main__":
    main()
