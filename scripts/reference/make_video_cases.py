#!/usr/bin/env python3
"""Reference video-text scores: BLIP's zero-shot video protocol (eval_retrieval_video.py) run on
transformers' BlipForImageTextRetrieval modules.

Per video of vlen frames and per n in --frames:
  indices = np.arange(0, vlen, vlen / n, dtype=int)                 (data/video_dataset.py, "uniform")
  each sampled frame -> BlipProcessor (resized straight to the image size, normalised) -> vision_model
  ITM: text_encoder(ids, mask, encoder_hidden_states = all frames' last_hidden_state concatenated
       [1, n*T, D], encoder_attention_mask = ones) -> itm_head([CLS]); probs = softmax(...)[:, 1]
  ITC: normalize(mean over frames of vision_proj(CLS_f))  .  normalize(text_proj(text-only [CLS]))
  Grad-CAM (--gradcam LAYER): LAVIS compute_gradcam over the concatenated states, each frame's
       class column dropped: [V*T_texts, L, n, g, g]

A video is a run of frame images (the source PNGs of a lossless test video: its decoded frames are
these bit for bit), given as NAME=FIRST:COUNT over --frame-pattern.

Names: n{N}.frames.{v} int32, n{N}.itm.logits [V,T,2], n{N}.itm.probs [V,T], n{N}.itc.video_embeds [V,E],
       n{N}.itc.cosine [V,T], n{N}.gradcam.{layer} [V*T,L,n,g,g]; itc.text_embeds [T,E]; input_ids, attention_mask.

usage: make_video_cases.py CKPT OUT.safetensors --frame-pattern DIR/%02d.png --video NAME=FIRST:COUNT...
                           --texts TXT... [--frames 8 3] [--gradcam LAYER]
"""
import argparse
import json

import numpy as np
import torch
from PIL import Image
from transformers import BlipForImageTextRetrieval, BlipProcessor

from stamp import stamp, write_safetensors


def video_scores(model, processor, frames, n, ids, mask, gradcam_layer):
    vlen = len(frames)
    indices = np.arange(0, vlen, vlen / n, dtype=int)
    pixels = processor(images=[frames[i] for i in indices], return_tensors="pt")["pixel_values"]
    with torch.no_grad():
        states = model.vision_model(pixel_values=pixels).last_hidden_state  # [n, T, D], one pass per frame (no mixing)
    video_states = states.reshape(1, -1, states.shape[-1])  # [1, n*T, D]
    video_embed = torch.nn.functional.normalize(model.vision_proj(states[:, 0, :]).mean(0, keepdim=True), dim=-1)
    k = ids.shape[0]
    enc = video_states.repeat(k, 1, 1)
    ones = torch.ones(enc.shape[:-1], dtype=torch.long)
    out = model.text_encoder(input_ids=ids, attention_mask=mask, encoder_hidden_states=enc, encoder_attention_mask=ones,
                             output_attentions=gradcam_layer is not None)
    logits = model.itm_head(out.last_hidden_state[:, 0, :])
    cam = None
    if gradcam_layer is not None:
        attention = out.cross_attentions[gradcam_layer]
        attention.retain_grad()
        logits[:, 1].sum().backward(retain_graph=True)
        t = states.shape[1]
        grid = int((t - 1) ** 0.5)
        heads, length = attention.shape[1], attention.shape[2]
        per_frame = lambda x: x.reshape(k, heads, length, len(indices), t)[..., 1:].reshape(k, heads, length, len(indices), grid, grid)
        text_mask = mask.view(k, 1, -1, 1, 1, 1).float()
        cam = (per_frame(attention) * text_mask * per_frame(attention.grad).clamp(0)).mean(1).detach()
    return indices, logits.detach(), video_embed.detach(), cam


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ckpt")
    ap.add_argument("out")
    ap.add_argument("--frame-pattern", required=True)
    ap.add_argument("--video", nargs="+", required=True, metavar="NAME=FIRST:COUNT")
    ap.add_argument("--texts", nargs="+", required=True)
    ap.add_argument("--frames", nargs="+", type=int, default=[8])
    ap.add_argument("--gradcam", type=int, default=None, metavar="LAYER")
    a = ap.parse_args()

    model = BlipForImageTextRetrieval.from_pretrained(a.ckpt, dtype=torch.float32).eval()
    processor = BlipProcessor.from_pretrained(a.ckpt)
    videos = []
    for spec in a.video:
        name, rng = spec.split("=")
        first, count = (int(x) for x in rng.split(":"))
        videos.append((name, [Image.open(a.frame_pattern % i).convert("RGB") for i in range(first, first + count)]))
    enc = processor.tokenizer(a.texts, padding=True, return_tensors="pt")
    ids, mask = enc["input_ids"], enc["attention_mask"]
    out = {"input_ids": ids.to(torch.int32), "attention_mask": mask.to(torch.int32)}
    with torch.no_grad():
        text = model.text_encoder(input_ids=ids, attention_mask=mask)
        text_embeds = torch.nn.functional.normalize(model.text_proj(text.last_hidden_state[:, 0, :]), dim=-1)
    out["itc.text_embeds"] = text_embeds
    summary = {}
    for n in a.frames:
        logits, embeds, cams = [], [], []
        for v, (_, frames) in enumerate(videos):
            indices, l, e, cam = video_scores(model, processor, frames, n, ids, mask, a.gradcam)
            out[f"n{n}.frames.{v}"] = torch.tensor(indices, dtype=torch.int32)
            logits.append(l)
            embeds.append(e)
            if cam is not None:
                cams.append(cam)
        logits = torch.stack(logits)  # [V, T, 2]
        embeds = torch.cat(embeds)  # [V, E]
        out[f"n{n}.itm.logits"] = logits
        out[f"n{n}.itm.probs"] = torch.softmax(logits, -1)[..., 1]
        out[f"n{n}.itc.video_embeds"] = embeds
        out[f"n{n}.itc.cosine"] = embeds @ text_embeds.t()
        if cams:
            out[f"n{n}.gradcam.{a.gradcam}"] = torch.cat(cams)
        summary[n] = {"itm.probs": out[f"n{n}.itm.probs"].tolist(), "itc.cosine": out[f"n{n}.itc.cosine"].tolist()}

    out = {k: (v.float() if v.is_floating_point() else v) for k, v in sorted(out.items())}
    meta = stamp(__file__, {"videos": json.dumps([s for s in a.video]), "texts": json.dumps(a.texts),
                            "frames": json.dumps(a.frames), "protocol": "BLIP eval_retrieval_video.py"})
    write_safetensors(a.out, out, meta)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
