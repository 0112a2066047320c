#!/usr/bin/env bash
# Makes the Python environment the reference generators need (never needed by tests or CI).
# usage: scripts/reference/setup-venv.sh [DIR]    (default .venv-ref, which .gitignore ignores)
# torch's CPU wheels live on https://download.pytorch.org/whl/cpu; pip's own configuration
# (PIP_INDEX_URL / PIP_EXTRA_INDEX_URL / pip.conf) is honoured, so a mirror works too.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir=${1:-.venv-ref}
python3 -m venv "$dir"
"$dir/bin/pip" install -q --extra-index-url https://download.pytorch.org/whl/cpu -r "$here/requirements.txt"
"$dir/bin/python" -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"
