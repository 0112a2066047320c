#!/usr/bin/env python3
"""PyTorch twin of `blip-itm eval`: BLIP's retrieval evaluation (train_retrieval.py `evaluation`
+ `itm_eval`) written on transformers' BlipForImageTextRetrieval modules, for the test fixture
test/fixtures/eval/twin-tiny.json. Written for this project from the protocol's description
(torch 2.13, transformers 5.17, numpy, pillow):

  .venv-ref/bin/python scripts/reference/eval_twin.py --model test/fixtures/blip-itm-tiny \
      --annotations test/fixtures/eval/annotations.json --images test/fixtures \
      --k-test 4 --k-test 256 --out test/fixtures/eval/twin-tiny.json

Protocol: captions through pre_caption(max_words=30), tokenised with max_length 35; ITC
similarity images x texts; per image the k_test best texts and per text the k_test best images
(k_test capped at the candidates; ties by lower index) re-scored as ITM match logit (index 1) +
ITC, [ENC] (id 30523) at position 0 of the ITM input; -100 elsewhere; ranks by descending score,
ties by lower index (numpy argsort(-s, kind="stable")).
"""
import argparse
import json
import os
import re

import numpy as np
import torch
from PIL import Image
from transformers import BlipForImageTextRetrieval, BlipProcessor

ENC_TOKEN_ID = 30523


def pre_caption(caption, max_words=30):
    caption = re.sub(r"([.!\"()*#:;~])", " ", caption.lower())
    caption = re.sub(r"\s{2,}", " ", caption)
    caption = caption.rstrip("\n").strip(" ")
    words = caption.split(" ")
    return " ".join(words[:max_words]) if len(words) > max_words else caption


def top(sims, k):
    """torch.topk with ties by lower index: a stable descending order."""
    order = np.argsort(-sims, kind="stable")
    return order[: min(k, len(sims))]


def shortlist_scores(sims, k, itm):
    """Both score matrices of itm_eval: per image (row of sims) its k best texts and per text its k
    best images re-scored as itm(image, text_indices) + ITC, -100 outside the shortlists."""
    n_img, n_txt = sims.shape
    i2t = np.full((n_img, n_txt), -100.0)
    t2i = np.full((n_txt, n_img), -100.0)
    for i in range(n_img):
        idx = top(sims[i], k)
        i2t[i, idx] = itm(i, torch.tensor(idx)) + sims[i, idx]
    for t in range(n_txt):
        for i in top(sims[:, t], k):  # one image at a time: the same pairs as the image-major pass
            t2i[t, i] = itm(int(i), torch.tensor([t]))[0] + sims[i, t]
    return i2t, t2i


def recalls(i2t, t2i, txt2img, img2txt):
    tr = []
    for i, s in enumerate(i2t):
        order = np.argsort(-s, kind="stable")
        tr.append(min(int(np.where(order == t)[0][0]) for t in img2txt[i]))
    ir = [int(np.where(np.argsort(-s, kind="stable") == txt2img[t])[0][0]) for t, s in enumerate(t2i)]
    tr, ir = np.array(tr), np.array(ir)
    r = {}
    for name, ranks in (("txt", tr), ("img", ir)):
        for k in (1, 5, 10):
            r[f"{name}_r{k}"] = 100.0 * float((ranks < k).sum()) / len(ranks)
        r[f"{name}_r_mean"] = (r[f"{name}_r1"] + r[f"{name}_r5"] + r[f"{name}_r10"]) / 3
    r["r_mean"] = (r["txt_r_mean"] + r["img_r_mean"]) / 2
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--annotations", required=True)
    ap.add_argument("--images", required=True)
    ap.add_argument("--k-test", type=int, action="append", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    model = BlipForImageTextRetrieval.from_pretrained(a.model, dtype=torch.float32).eval()
    proc = BlipProcessor.from_pretrained(a.model)
    ann = json.load(open(a.annotations))
    texts, txt2img, img2txt = [], [], []
    for i, item in enumerate(ann):
        caps = item["caption"] if isinstance(item["caption"], list) else [item["caption"]]
        img2txt.append([])
        for c in caps:
            img2txt[i].append(len(texts))
            txt2img.append(i)
            texts.append(pre_caption(c, 30))
    with torch.inference_mode():
        enc = proc.tokenizer(texts, padding="max_length", truncation=True, max_length=35, return_tensors="pt")
        text_out = model.text_encoder(input_ids=enc.input_ids, attention_mask=enc.attention_mask)
        text_embeds = torch.nn.functional.normalize(model.text_proj(text_out.last_hidden_state[:, 0]), dim=-1)
        itm_ids = enc.input_ids.clone()
        itm_ids[:, 0] = ENC_TOKEN_ID
        feats, embeds = [], []
        for item in ann:
            pix = proc.image_processor(Image.open(os.path.join(a.images, item["image"])), return_tensors="pt").pixel_values
            f = model.vision_model(pixel_values=pix).last_hidden_state
            feats.append(f)
            embeds.append(torch.nn.functional.normalize(model.vision_proj(f[:, 0]), dim=-1))
        feats = torch.cat(feats)
        image_embeds = torch.cat(embeds)
        sims = (image_embeds @ text_embeds.t()).numpy()

        def itm(image, text_idx):
            states = feats[image : image + 1].expand(len(text_idx), -1, -1)
            out = model.text_encoder(input_ids=itm_ids[text_idx], attention_mask=enc.attention_mask[text_idx],
                                     encoder_hidden_states=states,
                                     encoder_attention_mask=torch.ones(states.shape[:-1], dtype=torch.long))
            return model.itm_head(out.last_hidden_state[:, 0])[:, 1].numpy()

        runs = []
        for k in a.k_test:
            i2t, t2i = shortlist_scores(sims, k, itm)
            runs.append({"k_test": k, "recalls": recalls(i2t, t2i, txt2img, img2txt), "i2t": i2t.tolist(), "t2i": t2i.tolist()})
    json.dump({"texts": texts, "sims": sims.tolist(), "runs": runs}, open(a.out, "w"))


if __name__ == "__main__":
    main()
