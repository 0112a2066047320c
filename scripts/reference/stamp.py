"""What every reference generator shares: the version stamp and a safetensors writer.

The stamp goes into the `__metadata__` of each safetensors file (and the first line of each
JSONL file) so a test can tell which library versions produced the numbers it compares against.
It names no git commit and no absolute path: regenerating in another clone gives the same stamp.
"""
import json
import os
import platform
import sys

import numpy as np
import torch

# The versions the committed fixtures were made with (requirements.txt pins the same).
PINNED = {"torch": "2.13.0+cpu", "transformers": "5.17.0"}


def versions():
    import PIL
    import safetensors
    import tokenizers
    import transformers

    return {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "safetensors": safetensors.__version__,
        "pillow": PIL.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
    }


def stamp(script_file, extra=None):
    """Metadata naming the generator (path inside the repository), its arguments and the versions."""
    found = versions()
    for name, want in PINNED.items():
        if found[name] != want:
            print(f"warning: {name} {found[name]} is not the pinned {want}; the stamp will say so", file=sys.stderr)
    args = [os.path.basename(a) if os.path.isabs(a) else a for a in sys.argv[1:]]  # no machine-specific paths
    meta = {"generator": "scripts/reference/" + os.path.basename(script_file), "args": json.dumps(args, ensure_ascii=False)}
    meta.update(found)
    meta.update(extra or {})
    return {k: str(v) for k, v in meta.items()}


_DTYPE_NAMES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64",
                torch.int32: "I32", torch.uint8: "U8"}


def write_safetensors(path, tensors, metadata):
    """The safetensors format written directly (any dtype mix, insertion order kept, 8-byte aligned header)."""
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        raw = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes()
        header[name] = {"dtype": _DTYPE_NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    head = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(len(head).to_bytes(8, "little"))
        f.write(head)
        for b in blobs:
            f.write(b)
