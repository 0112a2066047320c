#!/usr/bin/env python3
"""The job of `blip-itm score --json` (images x texts, ITM + ITC, load included) done efficiently
with transformers, for timing a whole process against ours:

  /usr/bin/time -v python scripts/bench/score.py --model DIR --image IMG... --text TXT...

Efficient: inference mode, safetensors mmap load, each image encoded once, its states expanded
over all texts in one text-encoder batch, ITC from one text-only batch. Prints the same JSON.
"""
import argparse
import json

import torch
from PIL import Image
from transformers import BlipForImageTextRetrieval, BlipProcessor


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--image", nargs="+", required=True)
    ap.add_argument("--text", nargs="+", required=True)
    a = ap.parse_args()
    model = BlipForImageTextRetrieval.from_pretrained(a.model, dtype=torch.float32).eval()
    proc = BlipProcessor.from_pretrained(a.model)
    enc = proc.tokenizer(a.text, padding=True, return_tensors="pt")
    itm, itc = [], []
    with torch.inference_mode():
        text = model.text_encoder(input_ids=enc.input_ids, attention_mask=enc.attention_mask)
        tfeat = torch.nn.functional.normalize(model.text_proj(text.last_hidden_state[:, 0]), dim=-1)
        for path in a.image:
            pix = proc.image_processor(Image.open(path), return_tensors="pt").pixel_values
            img = model.vision_model(pixel_values=pix).last_hidden_state
            states = img.expand(len(a.text), -1, -1)
            out = model.text_encoder(input_ids=enc.input_ids, attention_mask=enc.attention_mask,
                                     encoder_hidden_states=states,
                                     encoder_attention_mask=torch.ones(states.shape[:-1], dtype=torch.long))
            itm.append(torch.softmax(model.itm_head(out.last_hidden_state[:, 0]), -1)[:, 1].tolist())
            ifeat = torch.nn.functional.normalize(model.vision_proj(img[:, 0]), dim=-1)
            itc.append((ifeat @ tfeat.t())[0].tolist())
    print(json.dumps({"itm": itm, "itc": itc}))


if __name__ == "__main__":
    main()
