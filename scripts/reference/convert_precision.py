#!/usr/bin/env python3
"""The transformers twin of scripts/bench/convert-precision.cjs: what float16 and bfloat16 cost in
transformers on the same checkpoint. BlipForImageTextRetrieval in float32, after model.half() and
after model.to(torch.bfloat16) (computing in that precision, PyTorch CPU), and the float32 model
loaded from the directory `blip-itm convert --dtype float16` wrote (float16 weights, float32
compute: what our converted checkpoint gives). ITM match probability and ITC cosine for every
image x caption; each image is encoded once per precision.

usage: convert_precision.py MODEL_DIR CONVERTED_F16_DIR CAPTIONS_JSON OUT_JSON IMAGE...
Versions used: torch 2.13, transformers 5.17 (CPU).
"""
import json
import sys

import torch
import torch.nn.functional as F
from PIL import Image
from transformers import BlipForImageTextRetrieval, BlipProcessor


def scores(model, processor, images, texts, dtype):
    probs, cosine = [], []
    enc = processor.tokenizer(texts, return_tensors="pt", padding=True)
    n = len(texts)
    for image in images:
        pixels = processor(images=image, return_tensors="pt")["pixel_values"].to(dtype)
        with torch.no_grad():
            states = model.vision_model(pixel_values=pixels)[0]  # [1, T, D]
            atts = torch.ones(states.shape[:-1], dtype=torch.long).expand(n, -1)
            fused = model.text_encoder(
                input_ids=enc.input_ids,
                attention_mask=enc.attention_mask,
                encoder_hidden_states=states.expand(n, -1, -1),
                encoder_attention_mask=atts,
            )[0]
            itm = model.itm_head(fused[:, 0, :])
            text = model.text_encoder(input_ids=enc.input_ids, attention_mask=enc.attention_mask)[0]
            image_feat = F.normalize(model.vision_proj(states[:, 0, :]), dim=-1)
            text_feat = F.normalize(model.text_proj(text[:, 0, :]), dim=-1)
        probs.append(torch.softmax(itm.float(), dim=1)[:, 1].tolist())
        cosine.append((image_feat.float() @ text_feat.float().t())[0].tolist())
    return {"probs": probs, "itc": cosine}


def main():
    model_dir, converted, captions, out, *image_files = sys.argv[1:]
    torch.set_num_threads(2)
    texts = json.load(open(captions))
    images = [Image.open(f).convert("RGB") for f in image_files]
    processor = BlipProcessor.from_pretrained(model_dir)
    result = {"texts": texts, "images": image_files}
    model = BlipForImageTextRetrieval.from_pretrained(model_dir).eval()
    result["float32"] = scores(model, processor, images, texts, torch.float32)
    result["half"] = scores(model.half(), processor, images, texts, torch.float16)
    model = BlipForImageTextRetrieval.from_pretrained(model_dir).eval().to(torch.bfloat16)
    result["bfloat16"] = scores(model, processor, images, texts, torch.bfloat16)
    model = BlipForImageTextRetrieval.from_pretrained(converted, dtype=torch.float32).eval()
    result["converted_f16_weights"] = scores(model, processor, images, texts, torch.float32)
    result["versions"] = {"torch": torch.__version__, "transformers": __import__("transformers").__version__}
    json.dump(result, open(out, "w"))


if __name__ == "__main__":
    main()
