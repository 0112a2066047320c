#!/usr/bin/env bash
# Makes the Python environment the reference generators need (never needed by tests or CI).
# usage: scripts/reference/setup-venv.sh [DIR]    (default .venv-ref, which .gitignore ignores)
# Versions: requirements.txt beside this file. torch's CPU wheels come from
# https://download.pytorch.org/whl/cpu unless pip is already configured with extra indexes
# (pip.conf or PIP_EXTRA_INDEX_URL, e.g. a local mirror), which are then used as they are.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir=${1:-.venv-ref}
python3 -m venv "$dir"
extra=()
if [ -z "${PIP_EXTRA_INDEX_URL:-}" ] && [ -z "$("$dir/bin/pip" config get global.extra-index-url 2>/dev/null || true)" ]; then
  extra=(--extra-index-url https://download.pytorch.org/whl/cpu)
fi
"$dir/bin/pip" install -q "${extra[@]}" -r "$here/requirements.txt"
"$dir/bin/python" -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__)"
