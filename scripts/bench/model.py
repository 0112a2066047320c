#!/usr/bin/env python3
"""PyTorch twin of `blip-itm bench`: the same quantities, measured the same way, with
transformers' BlipForImageTextRetrieval. Prints one JSON line of medians after a warm-up run.

  .venv-ref/bin/python scripts/bench/model.py --model DIR --image IMG [--runs N] [--threads N]

load_s    directory to ready model (config + safetensors, mmap-loaded, + processor)
image_s   encode one image (preprocess + vision_model)
itm1_s    one image file and one text, image encoding included
itm16_s   one already-encoded image against 16 captions: text_encoder with the image states
          expanded to 16 (as transformers' forward does), + itm_head
text16_s  ITC embeddings of the 16 captions (text-only encoder + text_proj, normalised)
rss_mb    peak RSS of the process (ru_maxrss)
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch
from PIL import Image
from transformers import BlipForImageTextRetrieval, BlipProcessor

# The same texts as `blip-itm bench` (one file serves both).
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'src', 'bench', 'captions.json')) as f:
    _captions = json.load(f)
TEXTS = _captions['texts16']
TEXT = _captions['itm1_text']


def load(model_dir):
    model = BlipForImageTextRetrieval.from_pretrained(model_dir, torch_dtype=torch.float32)  # safetensors: mmap
    model.eval()
    processor = BlipProcessor.from_pretrained(model_dir)
    return model, processor


def encode_image(model, processor, path):
    pixels = processor(images=Image.open(path).convert('RGB'), return_tensors='pt')['pixel_values']
    return model.vision_model(pixel_values=pixels)[0]  # [1, T, D]


def itm(model, processor, image_states, texts):
    enc = processor.tokenizer(texts, padding='longest', return_tensors='pt')
    states = image_states.expand(len(texts), -1, -1)
    atts = torch.ones(states.shape[:-1], dtype=torch.long)
    out = model.text_encoder(input_ids=enc['input_ids'], attention_mask=enc['attention_mask'],
                             encoder_hidden_states=states, encoder_attention_mask=atts)
    logits = model.itm_head(out[0][:, 0, :])
    return logits.softmax(dim=1)[:, 1]


def itc_texts(model, processor, texts):
    enc = processor.tokenizer(texts, padding='longest', return_tensors='pt')
    out = model.text_encoder(input_ids=enc['input_ids'], attention_mask=enc['attention_mask'])
    return torch.nn.functional.normalize(model.text_proj(out[0][:, 0, :]), dim=-1)


def timed(fn):
    t = time.perf_counter()
    r = fn()
    return time.perf_counter() - t, r


def run_once(model_dir, image):
    load_s, (model, processor) = timed(lambda: load(model_dir))
    with torch.inference_mode():
        image_s, _ = timed(lambda: encode_image(model, processor, image))
        itm1_s, _ = timed(lambda: itm(model, processor, encode_image(model, processor, image), [TEXT]))
        states = encode_image(model, processor, image)  # untimed: itm16 starts from an encoded image
        itm16_s, _ = timed(lambda: itm(model, processor, states, TEXTS))
        text16_s, _ = timed(lambda: itc_texts(model, processor, TEXTS))
    del model
    return dict(load_s=load_s, image_s=image_s, itm1_s=itm1_s, itm16_s=itm16_s, text16_s=text16_s)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model', required=True)
    ap.add_argument('--image', required=True)
    ap.add_argument('--runs', type=int, default=3)
    ap.add_argument('--threads', type=int, default=None, help='torch.set_num_threads (default: torch decides)')
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    runs = []
    for i in range(args.runs + 1):
        r = run_once(args.model, args.image)
        print(('warm-up' if i == 0 else f'run {i}') + ': ' + '  '.join(f'{k} {v:.3f}' for k, v in r.items()), file=sys.stderr)
        if i > 0:
            runs.append(r)
    result = {k: round(statistics.median(r[k] for r in runs), 3) for k in runs[0]}
    result['rss_mb'] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    result['backend'] = f'pytorch {torch.__version__} ({torch.get_num_threads()} threads)'
    result['runs'] = args.runs
    print(json.dumps(result))


if __name__ == '__main__':
    main()
