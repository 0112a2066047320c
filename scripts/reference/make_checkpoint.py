#!/usr/bin/env python3
"""A BlipForImageTextRetrieval checkpoint with random weights, in the hub layout of
Salesforce/blip-itm-base-coco (config.json, weights, preprocessor and tokenizer files).

Random, but drawn so that every parameter shows in the outputs: LayerNorm gains around 1 +- 0.3,
biases +- 0.2, embeddings +- 0.6, matrices at 1.6 / sqrt(fan_in) (peaked attention). A port that
gets any detail wrong therefore disagrees visibly with transformers on it.

usage: make_checkpoint.py OUT --vocab vocab.txt [--size tiny|small|base] [--seed N]
                          [--dtype F32|F16|BF16] [--position-ids] [--bin]
"""
import argparse
import json
import os
import shutil

import torch
from transformers import BlipConfig, BlipForImageTextRetrieval

from stamp import stamp, write_safetensors

# Widths of each size. Text and vision widths differ on purpose (catches a swapped dimension).
SIZES = {
    "tiny": {"vision": (48, 96, 2, 4, 64), "text": (32, 64, 2, 4, 64), "itc": 24},
    "small": {"vision": (64, 160, 3, 8, 96), "text": (48, 96, 3, 6, 40), "itc": 16},
    "base": {"vision": (768, 3072, 12, 12, 384), "text": (768, 3072, 12, 12, 512), "itc": 256},  # the published shape
}
DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
PATCH = 16
VOCAB_SIZE = 30524  # bert-base-uncased's 30,522 + [DEC] 30522 + [ENC] 30523


def config_for(size):
    s = SIZES[size]
    v_width, v_inner, v_layers, v_heads, image_size = s["vision"]
    t_width, t_inner, t_layers, t_heads, max_positions = s["text"]
    vision = {"hidden_size": v_width, "intermediate_size": v_inner, "num_hidden_layers": v_layers,
              "num_attention_heads": v_heads, "image_size": image_size, "patch_size": PATCH,
              "layer_norm_eps": 1e-5, "hidden_act": "gelu"}
    text = {"hidden_size": t_width, "intermediate_size": t_inner, "num_hidden_layers": t_layers,
            "num_attention_heads": t_heads, "max_position_embeddings": max_positions,
            "encoder_hidden_size": v_width, "vocab_size": VOCAB_SIZE, "layer_norm_eps": 1e-12,
            "hidden_act": "gelu", "is_decoder": True, "bos_token_id": 30522, "pad_token_id": 0,
            "sep_token_id": 102, "eos_token_id": 2}
    config = BlipConfig(vision_config=vision, text_config=text, image_text_hidden_size=s["itc"], projection_dim=512)
    config.architectures = ["BlipForImageTextRetrieval"]
    return config


def draw_weights(model, seed):
    """Overwrites every parameter, in named_parameters order, from one generator seeded with `seed`."""
    gen = torch.Generator().manual_seed(seed)
    norm_names = ("LayerNorm", "layer_norm", "post_layernorm")
    with torch.no_grad():
        for name, param in model.named_parameters():
            noise = torch.randn(param.shape, generator=gen)
            if name.endswith("weight") and any(n in name for n in norm_names):
                param.copy_(1.0 + 0.3 * noise)
            elif name.endswith("bias"):
                param.copy_(0.2 * noise)
            elif "embedding" in name:
                param.copy_(0.6 * noise)
            else:
                fan_in = param[0].numel() if param.dim() > 1 else 1
                param.copy_(noise * (1.6 / fan_in**0.5))


def hub_side_files(image_size):
    """The processor and tokenizer files of blip-itm-base-coco, with the image size of this checkpoint."""
    preprocessor = {
        "do_normalize": True, "do_pad": True, "do_rescale": True, "do_resize": True,
        "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_processor_type": "BlipImageProcessor",
        "image_std": [0.26862954, 0.26130258, 0.27577711], "processor_class": "BlipProcessor", "resample": 3,
        "rescale_factor": 0.00392156862745098, "size": {"height": image_size, "width": image_size}, "size_divisor": 32}
    specials = {"cls_token": "[CLS]", "mask_token": "[MASK]", "pad_token": "[PAD]", "sep_token": "[SEP]", "unk_token": "[UNK]"}
    tokenizer = {
        "cls_token": "[CLS]", "do_basic_tokenize": True, "do_lower_case": True, "mask_token": "[MASK]",
        "model_max_length": 512, "name_or_path": "Salesforce/blip-itm-base-coco", "never_split": None,
        "pad_token": "[PAD]", "processor_class": "BlipProcessor", "sep_token": "[SEP]",
        "special_tokens_map_file": None, "strip_accents": None, "tokenize_chinese_chars": True,
        "tokenizer_class": "BertTokenizer", "unk_token": "[UNK]"}
    return {"preprocessor_config.json": preprocessor, "tokenizer_config.json": tokenizer, "special_tokens_map.json": specials}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--vocab", required=True, help="bert-base-uncased's vocab.txt")
    ap.add_argument("--size", default="tiny", choices=SIZES)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtype", default="F32", choices=DTYPES)
    ap.add_argument("--bin", action="store_true", help="pytorch_model.bin (torch.save) instead of model.safetensors")
    ap.add_argument("--position-ids", action="store_true", help="also store the int64 position_ids buffer old exports carry")
    a = ap.parse_args()

    torch.manual_seed(a.seed)  # module construction draws too; fix it although draw_weights overwrites all
    model = BlipForImageTextRetrieval(config_for(a.size)).eval()
    draw_weights(model, a.seed)
    os.makedirs(a.out, exist_ok=True)
    model.config.save_pretrained(a.out)
    weights = {k: v.to(DTYPES[a.dtype]) for k, v in model.state_dict().items() if v.is_floating_point()}
    if a.position_ids:
        n = model.config.text_config.max_position_embeddings
        weights["text_encoder.embeddings.position_ids"] = torch.arange(n, dtype=torch.int64)[None]
    if a.bin:
        torch.save(weights, os.path.join(a.out, "pytorch_model.bin"))  # a pickle has no place for a stamp
    else:
        meta = stamp(__file__, {"format": "pt", "size": a.size, "seed": a.seed, "dtype": a.dtype})
        write_safetensors(os.path.join(a.out, "model.safetensors"), weights, meta)
    for name, obj in hub_side_files(SIZES[a.size]["vision"][4]).items():
        with open(os.path.join(a.out, name), "w") as f:
            json.dump(obj, f, indent=2)
    shutil.copyfile(a.vocab, os.path.join(a.out, "vocab.txt"))
    print(f"{a.out}: {sum(v.numel() for v in weights.values())} values, {a.dtype}")


if __name__ == "__main__":
    main()
