#!/usr/bin/env python3
"""PyTorch twin of `blip-itm eval --videos`: BLIP's eval_retrieval_video.py (`evaluation` +
`itm_eval`) on transformers' BlipForImageTextRetrieval modules, for the test fixture
test/fixtures/video/eval-twin-tiny.json:

  /work/venv/bin/python scripts/reference/eval_video_twin.py --model test/fixtures/blip-itm-tiny \
      --annotations test/fixtures/video/annotations.json --videos test/fixtures/video \
      --frames 8 --k-test 2 --k-test 128 --out test/fixtures/video/eval-twin-tiny.json

Videos are decoded by ffmpeg to rgb24 (frames counted by ffprobe -count_frames), sampled by
np.arange(0, vlen, vlen / n, dtype=int), each frame through BlipProcessor; video features are the
frames' last hidden states concatenated, the video embedding normalize(mean_f vision_proj(CLS_f)).
Captions: pre_caption(max_words=40), max_length 35; [ENC] at position 0 of the ITM input; per
video the k_test best texts and per text the k_test best videos (capped; ties by lower index)
re-scored as ITM logit + ITC, -100 elsewhere; ranks by descending score, ties by lower index;
vid_mdR = median over texts of the 1-based rank of the right video.
Annotations: BLIP's msrvtt_test.jsonl (clip_name, caption; DIR/clip_name.mp4) or a JSON list of
{"video", "caption" (string or list)}.
"""
import argparse
import json
import os
import subprocess

import numpy as np
import torch
from PIL import Image
from transformers import BlipForImageTextRetrieval, BlipProcessor

from eval_twin import ENC_TOKEN_ID, pre_caption, shortlist_scores


def decode(path):
    probe = json.loads(subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
                                       "stream=width,height,nb_read_frames", "-of", "json", path],
                                      check=True, capture_output=True).stdout)["streams"][0]
    w, h, n = int(probe["width"]), int(probe["height"]), int(probe["nb_read_frames"])
    raw = subprocess.run(["ffmpeg", "-v", "error", "-noautorotate", "-i", path, "-map", "0:v:0", "-fps_mode", "passthrough",
                          "-pix_fmt", "rgb24", "-f", "rawvideo", "pipe:1"], check=True, capture_output=True).stdout
    frames = np.frombuffer(raw, dtype=np.uint8).reshape(-1, h, w, 3)
    assert len(frames) == n, (path, len(frames), n)
    return frames


def load(annotations, root):
    with open(annotations) as f:
        text = f.read()
    if text.lstrip().startswith("["):
        items = [(x["video"], x["caption"] if isinstance(x["caption"], list) else [x["caption"]]) for x in json.loads(text)]
    else:
        items = [(x["clip_name"] + ".mp4", [x["caption"]]) for x in map(json.loads, filter(str.strip, text.splitlines()))]
    videos, texts, txt2vid, vid2txt = [], [], [], []
    for i, (video, caps) in enumerate(items):
        videos.append(os.path.join(root, video))
        vid2txt.append([])
        for c in caps:
            vid2txt[i].append(len(texts))
            txt2vid.append(i)
            texts.append(pre_caption(c, 40))
    return videos, texts, txt2vid, vid2txt


def recalls(v2t, t2v, txt2vid, vid2txt):
    tr = [min(int(np.where(np.argsort(-s, kind="stable") == t)[0][0]) for t in vid2txt[i]) for i, s in enumerate(v2t)]
    vr = np.array([int(np.where(np.argsort(-s, kind="stable") == txt2vid[t])[0][0]) for t, s in enumerate(t2v)])
    tr = np.array(tr)
    r = {}
    for name, ranks in (("txt", tr), ("vid", vr)):
        for k in (1, 5, 10):
            r[f"{name}_r{k}"] = 100.0 * float((ranks < k).sum()) / len(ranks)
        r[f"{name}_r_mean"] = (r[f"{name}_r1"] + r[f"{name}_r5"] + r[f"{name}_r10"]) / 3
    r["vid_mdR"] = float(np.median(vr + 1))
    r["r_mean"] = (r["txt_r_mean"] + r["vid_r_mean"]) / 2
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--annotations", required=True)
    ap.add_argument("--videos", required=True)
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--k-test", type=int, action="append", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    model = BlipForImageTextRetrieval.from_pretrained(a.model, dtype=torch.float32).eval()
    proc = BlipProcessor.from_pretrained(a.model)
    videos, texts, txt2vid, vid2txt = load(a.annotations, a.videos)
    with torch.inference_mode():
        enc = proc.tokenizer(texts, padding="max_length", truncation=True, max_length=35, return_tensors="pt")
        text_out = model.text_encoder(input_ids=enc.input_ids, attention_mask=enc.attention_mask)
        text_embeds = torch.nn.functional.normalize(model.text_proj(text_out.last_hidden_state[:, 0]), dim=-1)
        itm_ids = enc.input_ids.clone()
        itm_ids[:, 0] = ENC_TOKEN_ID
        feats, embeds = [], []
        for path in videos:
            frames = decode(path)
            indices = np.arange(0, len(frames), len(frames) / a.frames, dtype=int)
            pix = proc.image_processor([Image.fromarray(frames[i]) for i in indices], return_tensors="pt").pixel_values
            f = model.vision_model(pixel_values=pix).last_hidden_state  # [n, T, D]
            embeds.append(torch.nn.functional.normalize(model.vision_proj(f[:, 0]).mean(0, keepdim=True), dim=-1))
            feats.append(f.reshape(1, -1, f.shape[-1]))
        vid_embeds = torch.cat(embeds)
        sims = (vid_embeds @ text_embeds.t()).numpy()

        def itm(video, text_idx):
            states = feats[video].expand(len(text_idx), -1, -1)
            out = model.text_encoder(input_ids=itm_ids[text_idx], attention_mask=enc.attention_mask[text_idx],
                                     encoder_hidden_states=states,
                                     encoder_attention_mask=torch.ones(states.shape[:-1], dtype=torch.long))
            return model.itm_head(out.last_hidden_state[:, 0])[:, 1].numpy()

        runs = []
        for k in a.k_test:
            v2t, t2v = shortlist_scores(sims, k, itm)
            runs.append({"k_test": k, "recalls": recalls(v2t, t2v, txt2vid, vid2txt), "v2t": v2t.tolist(), "t2v": t2v.tolist()})
    json.dump({"texts": texts, "frames": a.frames, "sims": sims.tolist(), "runs": runs}, open(a.out, "w"))


if __name__ == "__main__":
    main()
