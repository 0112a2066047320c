#!/usr/bin/env python3
"""Reference activations of transformers' BlipForImageTextRetrieval: every image paired with
every text (image-major: pair k = i * n_texts + j), written to one safetensors file.

Names (float32 unless noted; N vision layers, M text layers):
  pixel_values [n_img,3,H,W]               what BlipProcessor made of the images
  input_ids, attention_mask [n_txt,L]      int32, padded to the longest text
  vision.hidden_states.{0..N}              patch+position embeddings, then each layer's output
  vision.attentions.{0..N-1}               [n_img,heads,T,T] softmax probabilities
  vision.last_hidden_state                 after post_layernorm
  itm.text.hidden_states.{0..M}            text encoder with cross-attention into the image, per pair
  itm.text.attentions.{0..M-1}             [pairs,heads,L,L]
  itm.text.cross_attentions.{0..M-1}       [pairs,heads,L,T]
  itm.logits [n_img,n_txt,2], itm.probs [n_img,n_txt] (softmax(logits)[..., 1])
  itc.text.hidden_states.{0..M}            text encoder alone
  itc.image_embeds [n_img,D], itc.text_embeds [n_txt,D], itc.cosine [n_img,n_txt]
  gradcam.{layer} [pairs,L,g,g]            with --gradcam LAYER: LAVIS compute_gradcam (cross-attention
                                           of that layer x relu(d itm logit 1 / d attention), text mask
                                           applied, mean over heads)
--no-activations keeps the inputs, vision.last_hidden_state, itm.* and itc.*_embeds/cosine only.
--enc-token puts [ENC] (id 30523) at position 0 of the ITM input, as BLIP's retrieval evaluation does.

usage: make_activations.py CKPT OUT.safetensors --images IMG... --texts TXT...
                           [--gradcam LAYER] [--enc-token] [--no-activations] [--max-length N]
"""
import argparse
import json
import os

import torch
from PIL import Image
from transformers import BlipForImageTextRetrieval, BlipProcessor

from stamp import stamp, write_safetensors

ENC_TOKEN_ID = 30523


def numbered(out, prefix, tensors):
    for i, t in enumerate(tensors):
        out[f"{prefix}.{i}"] = t


def itm_text_pass(model, ids, mask, image_states, **kw):
    ones = torch.ones(image_states.shape[:-1], dtype=torch.long)
    return model.text_encoder(input_ids=ids, attention_mask=mask, encoder_hidden_states=image_states,
                              encoder_attention_mask=ones, output_attentions=True, **kw)


def gradcam(model, ids, mask, image_states, layer):
    """LAVIS compute_gradcam on transformers' modules: needs gradients, so a pass of its own."""
    text = itm_text_pass(model, ids, mask, image_states)
    attention = text.cross_attentions[layer]
    attention.retain_grad()
    model.itm_head(text.last_hidden_state[:, 0, :])[:, 1].sum().backward()
    pairs, heads = attention.shape[:2]
    grid = int((attention.shape[-1] - 1) ** 0.5)
    text_mask = mask.view(pairs, 1, -1, 1, 1).float()
    maps = attention[:, :, :, 1:].reshape(pairs, heads, -1, grid, grid) * text_mask  # drop the image [CLS] column
    grads = attention.grad[:, :, :, 1:].clamp(0).reshape(pairs, heads, -1, grid, grid)
    return (maps * grads).mean(1).detach()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ckpt")
    ap.add_argument("out")
    ap.add_argument("--images", nargs="+", required=True)
    ap.add_argument("--texts", nargs="+", required=True)
    ap.add_argument("--gradcam", type=int, default=None, metavar="LAYER")
    ap.add_argument("--enc-token", action="store_true")
    ap.add_argument("--no-activations", action="store_true")
    ap.add_argument("--max-length", type=int, default=None)
    a = ap.parse_args()
    keep_all = not a.no_activations

    model = BlipForImageTextRetrieval.from_pretrained(a.ckpt, dtype=torch.float32).eval()
    processor = BlipProcessor.from_pretrained(a.ckpt)
    images = [Image.open(p) for p in a.images]
    truncation = {"truncation": True, "max_length": a.max_length} if a.max_length else {}
    enc = processor(images=images, text=a.texts, padding=True, return_tensors="pt", **truncation)
    pixels, ids, mask = enc["pixel_values"], enc["input_ids"], enc["attention_mask"]
    n_img, n_txt = len(images), len(a.texts)
    pair_image = torch.arange(n_img).repeat_interleave(n_txt)
    pair_text = torch.arange(n_txt).repeat(n_img)
    itm_ids = ids.clone()
    if a.enc_token:
        itm_ids[:, 0] = ENC_TOKEN_ID

    out = {"pixel_values": pixels, "input_ids": ids.to(torch.int32), "attention_mask": mask.to(torch.int32)}
    with torch.no_grad():
        vision = model.vision_model(pixel_values=pixels, output_hidden_states=True, output_attentions=True)
        image_states = vision.last_hidden_state
        if keep_all:
            numbered(out, "vision.hidden_states", vision.hidden_states)
            numbered(out, "vision.attentions", vision.attentions)
        out["vision.last_hidden_state"] = image_states

        text = itm_text_pass(model, itm_ids[pair_text], mask[pair_text], image_states[pair_image], output_hidden_states=True)
        if keep_all:
            numbered(out, "itm.text.hidden_states", text.hidden_states)
            numbered(out, "itm.text.attentions", text.attentions)
            numbered(out, "itm.text.cross_attentions", text.cross_attentions)
        logits = model.itm_head(text.last_hidden_state[:, 0, :])
        out["itm.logits"] = logits.reshape(n_img, n_txt, 2)
        out["itm.probs"] = torch.softmax(logits, -1)[:, 1].reshape(n_img, n_txt)
        if not a.enc_token:  # our pairing agrees with the model's own forward
            own = model(input_ids=ids[:1], pixel_values=pixels[:1], attention_mask=mask[:1], use_itm_head=True)
            assert torch.allclose(own.itm_score, logits[:1], atol=1e-4), (own.itm_score, logits[:1])

        text_alone = model.text_encoder(input_ids=ids, attention_mask=mask, output_hidden_states=True)
        if keep_all:
            numbered(out, "itc.text.hidden_states", text_alone.hidden_states)
        image_embeds = torch.nn.functional.normalize(model.vision_proj(image_states[:, 0, :]), dim=-1)
        text_embeds = torch.nn.functional.normalize(model.text_proj(text_alone.last_hidden_state[:, 0, :]), dim=-1)
        out["itc.image_embeds"], out["itc.text_embeds"] = image_embeds, text_embeds
        out["itc.cosine"] = image_embeds @ text_embeds.t()
        own = model(input_ids=ids, pixel_values=pixels[:1], attention_mask=mask, use_itm_head=False)
        assert torch.allclose(own.itm_score, out["itc.cosine"][:1], atol=1e-4)

    if a.gradcam is not None:
        out[f"gradcam.{a.gradcam}"] = gradcam(model, itm_ids[pair_text], mask[pair_text], image_states[pair_image], a.gradcam)

    out = {k: (v.float() if v.is_floating_point() else v) for k, v in sorted(out.items())}
    meta = stamp(__file__, {"images": json.dumps([os.path.basename(p) for p in a.images]), "texts": json.dumps(a.texts),
                            "pairs": "image-major", "enc_token": str(a.enc_token)})
    write_safetensors(a.out, out, meta)
    print(json.dumps({"itm.probs": out["itm.probs"].tolist(), "itc.cosine": out["itc.cosine"].tolist()}))


if __name__ == "__main__":
    main()
