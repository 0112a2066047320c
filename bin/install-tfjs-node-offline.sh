#!/usr/bin/env bash
# Installs the native TensorFlow backend (@tensorflow/tfjs-node, tfjs backend 'tensorflow') for
# blip-itm WITHOUT the downloads that tfjs-node's own install script makes from Google storage.
#
#   bash bin/install-tfjs-node-offline.sh            # install, or check an existing install
#   bash bin/install-tfjs-node-offline.sh --force    # rebuild from scratch
#   bash bin/install-tfjs-node-offline.sh --uninstall
#
# What it does (run it in the project root, or anywhere: it cds there):
#   1. pip-downloads TensorFlow's CPU wheel (tensorflow-cpu, default 2.21.0) into a cache folder
#      outside the repository. That wheel carries libtensorflow_cc.so.2 and libtensorflow_framework.so.2,
#      which export TensorFlow's C API (TF_*) and eager C API (TFE_*), and the C headers.
#   2. npm install --no-save --ignore-scripts @tensorflow/tfjs-node@4.22.0 (package.json and
#      package-lock.json are left as they are; the next `npm install`/`npm ci` removes it again).
#   3. puts the two libraries in node_modules/@tensorflow/tfjs-node/deps/lib (with the names that
#      tfjs-node's binding.gyp links against) and the C headers in deps/include.
#   4. builds tfjs-node's addon (binding/*.cc) with node-gyp against this Node's headers.
#   5. checks that require('@tensorflow/tfjs-node') loads and the backend is 'tensorflow'.
#
# Nothing here is needed to install, build or test blip-itm: without it the 'auto' backend is wasm.
# Needs: Linux x86_64, glibc >= 2.27, node + npm, python3 with pip (reaching a PyPI index or mirror),
# g++ and make, Node's C headers (node_api.h) on disk, about 1.2 GB of free disk space.
# Environment overrides:
#   TF_WHEEL_SPEC     pip requirement for the wheel      (default tensorflow-cpu==2.21.0)
#   TF_WHEEL_PYTHON   python version tag to ask pip for  (default 3.11; the libraries are the same
#                     for every Python version, only the wheel's tag differs)
#   TFJS_NODE_VERSION                                    (default 4.22.0: must equal @tensorflow/tfjs-core)
#   BLIP_ITM_CACHE    where the wheel is kept            (default ${XDG_CACHE_HOME:-~/.cache}/blip-itm)
#   PYTHON            python interpreter with pip        (default python3)
#   BLIP_ITM_NODE_ROOT the folder whose node_modules gets tfjs-node (default: this checkout; set by
#                     `npx blip-itm install-native` to the project that installed blip-itm)
set -euo pipefail

TF_WHEEL_SPEC="${TF_WHEEL_SPEC:-tensorflow-cpu==2.21.0}"
TF_WHEEL_PYTHON="${TF_WHEEL_PYTHON:-3.11}"
TFJS_NODE_VERSION="${TFJS_NODE_VERSION:-4.22.0}"
CACHE="${BLIP_ITM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/blip-itm}/tfjs-node-offline"
PYTHON="${PYTHON:-python3}"

say() { printf '[tfjs-node-offline] %s\n' "$*"; }
die() { printf '[tfjs-node-offline] ERROR: %s\n' "$*" >&2; exit 1; }

FORCE=0
case "${1:-}" in
  '') ;;
  --force) FORCE=1 ;;
  --uninstall) UNINSTALL=1 ;;
  -h|--help) sed -n '2,32p' "$0"; exit 0 ;;
  *) die "unknown option '$1' (use --force, --uninstall or --help)" ;;
esac

if [ -n "${BLIP_ITM_NODE_ROOT:-}" ]; then
  ROOT="$(cd "$BLIP_ITM_NODE_ROOT" && pwd)"
  cd "$ROOT"
  [ -d node_modules/@tensorflow/tfjs-core ] || die "$ROOT/node_modules has no @tensorflow/tfjs-core (BLIP_ITM_NODE_ROOT must be the project that installed blip-itm)"
else
  ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  cd "$ROOT"
  [ -f package.json ] && grep -q '"name": "blip-itm"' package.json || die "run this from the blip-itm checkout ($ROOT has no blip-itm package.json)"
fi
PKG="$ROOT/node_modules/@tensorflow/tfjs-node"
STAMP="$PKG/deps/blip-itm-offline.txt"

if [ "${UNINSTALL:-0}" = 1 ]; then
  say "removing node_modules/@tensorflow/tfjs-node (npm uninstall --no-save)"
  npm uninstall --no-save --ignore-scripts @tensorflow/tfjs-node >/dev/null 2>&1 || true
  rm -rf "$PKG"
  say "done (the wheel stays cached in $CACHE; delete that folder to free ~270 MB)"
  exit 0
fi

# The check that the install works: the backend registers on the project's own tfjs.
verify() {
  TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-1}" node -e '
    const tf = require("@tensorflow/tfjs-core");
    require("@tensorflow/tfjs-node");
    if (tf.getBackend() !== "tensorflow") throw new Error("backend is " + tf.getBackend() + ", not tensorflow");
    const y = tf.tensor2d([[1, 2], [3, 4]]).matMul(tf.tensor2d([[1], [1]])).dataSync();
    if (y[0] !== 3 || y[1] !== 7) throw new Error("wrong matMul result " + y);
    const b = tf.backend().binding;
    console.log("tfjs-node " + require("@tensorflow/tfjs-node/package.json").version + " on TensorFlow " + b.TF_Version + ": backend " + tf.getBackend() + " OK");
  '
}

# ---- 0. already done? ---------------------------------------------------------------------------
if [ "$FORCE" = 0 ] && [ -f "$STAMP" ] && grep -qx "wheel=$TF_WHEEL_SPEC tfjs-node=$TFJS_NODE_VERSION node-abi=$(node -p process.versions.napi)" "$STAMP"; then
  if out="$(verify 2>&1)"; then say "already installed: $out"; exit 0; fi
  say "an earlier install is there but does not load; rebuilding:"; printf '%s\n' "$out" | tail -5
fi

# ---- prerequisites ------------------------------------------------------------------------------
[ "$(uname -s)" = Linux ] || die "only Linux is handled (tfjs-node's own installer covers macOS/Windows when online)"
[ "$(uname -m)" = x86_64 ] || die "only x86_64 is handled: TensorFlow's aarch64 wheels are built differently (arch $(uname -m))"
for tool in node npm g++ make "$PYTHON"; do command -v "$tool" >/dev/null || die "'$tool' is not on PATH"; done
"$PYTHON" -m pip --version >/dev/null 2>&1 || die "$PYTHON has no pip (apt-get install python3-pip, or set PYTHON=...)"
GLIBC="$(ldd --version 2>/dev/null | head -1 | grep -oE '[0-9]+\.[0-9]+$' || true)"
[ -n "$GLIBC" ] || die "could not read the glibc version (musl/Alpine is not supported by TensorFlow's wheels)"
GLIBC_MINOR="${GLIBC#2.}"
[ "$GLIBC_MINOR" -ge 27 ] || die "glibc $GLIBC is older than 2.27, which TensorFlow 2.21's wheel needs"
TFJS_VERSION="$(node -p 'require("@tensorflow/tfjs-core/package.json").version' 2>/dev/null)" \
  || die "node_modules/@tensorflow/tfjs-core is missing: run 'npm ci' (or npm install) first"
[ "$TFJS_VERSION" = "$TFJS_NODE_VERSION" ] \
  || die "@tensorflow/tfjs-core is $TFJS_VERSION but tfjs-node would be $TFJS_NODE_VERSION: they must match (set TFJS_NODE_VERSION)"

# Node's headers: node-gyp would otherwise download them (offline that fails).
NODEDIR="$(npm config get nodedir 2>/dev/null || true)"
case "$NODEDIR" in undefined|null) NODEDIR="" ;; esac
if [ -z "$NODEDIR" ] || [ ! -f "$NODEDIR/include/node/node_api.h" ]; then
  NODEDIR="$(cd "$(dirname "$(readlink -f "$(command -v node)")")/.." && pwd)"
fi
[ -f "$NODEDIR/include/node/node_api.h" ] || die "Node's headers are not on disk (looked for $NODEDIR/include/node/node_api.h): install them (e.g. Debian's libnode-dev / the nodejs tarball's include/) or set 'npm config set nodedir DIR'"

# npm's own node-gyp, else the newest from the npm registry.
NPM_DIR="$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)"
if [ -f "$NPM_DIR/node_modules/node-gyp/bin/node-gyp.js" ]; then
  NODE_GYP=(node "$NPM_DIR/node_modules/node-gyp/bin/node-gyp.js")
else
  NODE_GYP=(npx --yes node-gyp@11)
fi

# ---- 1. the wheel -------------------------------------------------------------------------------
mkdir -p "$CACHE/wheel"
WHEEL="$(ls "$CACHE"/wheel/tensorflow*.whl 2>/dev/null | head -1 || true)"
WANT_VER="${TF_WHEEL_SPEC##*==}"
if [ -z "$WHEEL" ] || ! basename "$WHEEL" | grep -q -- "-$WANT_VER-"; then
  rm -f "$CACHE"/wheel/*.whl
  say "downloading $TF_WHEEL_SPEC (about 270 MB) into $CACHE/wheel"
  # pip does not widen a manylinux_2_X --platform to older glibcs, so list them all.
  PLATFORMS=(--platform manylinux2014_x86_64)
  for ((m = 17; m <= GLIBC_MINOR; m++)); do PLATFORMS+=(--platform "manylinux_2_${m}_x86_64"); done
  "$PYTHON" -m pip download --no-deps --only-binary=:all: --python-version "$TF_WHEEL_PYTHON" \
      "${PLATFORMS[@]}" -d "$CACHE/wheel" "$TF_WHEEL_SPEC" \
    || die "pip could not download $TF_WHEEL_SPEC for Python $TF_WHEEL_PYTHON (check 'pip download' works here; set TF_WHEEL_SPEC/TF_WHEEL_PYTHON to a version your index has)"
  WHEEL="$(ls "$CACHE"/wheel/tensorflow*.whl | head -1)"
else
  say "using the cached wheel $(basename "$WHEEL")"
fi

# ---- 2. tfjs-node's JavaScript, without its download script ------------------------------------
if [ "$(node -p 'try{require("@tensorflow/tfjs-node/package.json").version}catch{""}' 2>/dev/null)" != "$TFJS_NODE_VERSION" ]; then
  say "npm install --no-save --ignore-scripts @tensorflow/tfjs-node@$TFJS_NODE_VERSION"
  npm install --no-save --ignore-scripts --no-audit --no-fund "@tensorflow/tfjs-node@$TFJS_NODE_VERSION" \
    || die "npm could not install @tensorflow/tfjs-node@$TFJS_NODE_VERSION"
else
  say "@tensorflow/tfjs-node@$TFJS_NODE_VERSION is already in node_modules"
fi
[ -f "$PKG/binding.gyp" ] || die "$PKG/binding.gyp is missing after npm install"
# tfjs-node must share the project's tfjs (else it registers its backend on a second tfjs-core).
SAME="$(cd "$PKG" && node -p 'require.resolve("@tensorflow/tfjs-core")' 2>/dev/null || true)"
[ "$SAME" = "$(node -p 'require.resolve("@tensorflow/tfjs-core")')" ] \
  || die "tfjs-node resolves @tensorflow/tfjs-core to $SAME, not the project's copy: versions differ?"

# ---- 3. libraries and headers where binding.gyp expects them ------------------------------------
say "unpacking libtensorflow_cc.so.2, libtensorflow_framework.so.2 and the C headers into $PKG/deps"
rm -rf "$PKG/deps" "$PKG/build" "$PKG/lib"
mkdir -p "$PKG/deps/lib" "$PKG/deps/include"
"$PYTHON" - "$WHEEL" "$PKG/deps" <<'PY'
import os, shutil, sys, zipfile
wheel, deps = sys.argv[1], sys.argv[2]
libs = {'tensorflow/libtensorflow_cc.so.2', 'tensorflow/libtensorflow_framework.so.2'}
inc = 'tensorflow/include/'
# tensorflow/c/** (C and eager C API), ctstring (TF_TString_* inline functions), xla/tsl/c (TSL_Status)
keep = ('tensorflow/c/', 'tensorflow/core/platform/ctstring', 'tsl/platform/ctstring', 'xla/tsl/c/')
found = set()
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        n = info.filename
        if n in libs:
            dest = os.path.join(deps, 'lib', os.path.basename(n))
        elif n.startswith(inc) and n[len(inc):].startswith(keep) and not n.endswith('/'):
            dest = os.path.join(deps, 'include', n[len(inc):])
        else:
            continue
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with z.open(info) as src, open(dest, 'wb') as out:
            shutil.copyfileobj(src, out, 1 << 22)
        found.add(n)
missing = libs - found
if missing:
    sys.exit('the wheel has no ' + ', '.join(sorted(missing)))
for h in ('tensorflow/c/c_api.h', 'tensorflow/c/eager/c_api.h', 'tensorflow/core/platform/ctstring_internal.h'):
    if not os.path.exists(os.path.join(deps, 'include', h)):
        sys.exit('the wheel has no header ' + h)
PY
(
  cd "$PKG/deps/lib"
  # binding.gyp links -ltensorflow -ltensorflow_framework; the addon then records the SONAMEs
  # (libtensorflow_cc.so.2, libtensorflow_framework.so.2) and finds them via RUNPATH $ORIGIN/../../deps/lib.
  ln -sf libtensorflow_cc.so.2 libtensorflow.so
  ln -sf libtensorflow_cc.so.2 libtensorflow.so.2
  ln -sf libtensorflow_framework.so.2 libtensorflow_framework.so
)
N_TFE="$(nm -D --defined-only "$PKG/deps/lib/libtensorflow_cc.so.2" 2>/dev/null | grep -c ' T TFE_' || true)"
if command -v nm >/dev/null && [ "${N_TFE:-0}" -lt 50 ]; then
  die "libtensorflow_cc.so.2 exports only ${N_TFE:-0} TFE_ functions: this wheel does not carry the eager C API"
fi

# ---- 4. build the addon -------------------------------------------------------------------------
# node-pre-gyp (which tfjs-node loads the addon with) looks in lib/napi-v<N>/tfjs_binding.node.
BINDING="$(cd "$PKG" && node -p 'require("@mapbox/node-pre-gyp").find(require("path").resolve("package.json"))')"
NAPI="$(basename "$(dirname "$BINDING")")"; NAPI="${NAPI#napi-v}"
say "building tfjs_binding.node (N-API $NAPI) with node-gyp against $NODEDIR/include/node (a minute or two)"
(
  cd "$PKG"
  "${NODE_GYP[@]}" rebuild --nodedir="$NODEDIR" --jobs="$(nproc 2>/dev/null || echo 2)" \
    --module_name=tfjs_binding --module_path="$(dirname "$BINDING")" --napi_build_version="$NAPI" \
    > "$CACHE/node-gyp.log" 2>&1
) || { tail -30 "$CACHE/node-gyp.log" >&2; die "node-gyp failed (full log: $CACHE/node-gyp.log)"; }
[ -f "$BINDING" ] || die "node-gyp finished but $BINDING is missing (log: $CACHE/node-gyp.log)"
rm -rf "$PKG/build/Release/obj.target"   # objects are not needed at run time

# ---- 5. check -----------------------------------------------------------------------------------
out="$(verify 2>&1)" || { printf '%s\n' "$out" >&2; die "the addon was built but does not load (see above)"; }
echo "wheel=$TF_WHEEL_SPEC tfjs-node=$TFJS_NODE_VERSION node-abi=$(node -p process.versions.napi)" > "$STAMP"
say "$out"
say "installed: use it with 'blip-itm --backend tensorflow', BLIP_ITM_BACKEND=tensorflow, or useBackend('tensorflow')."
say "note: package.json does not list it, so the next 'npm install'/'npm ci' removes it; rerun this script then."
say "set TF_CPP_MIN_LOG_LEVEL=1 to hide TensorFlow's start-up info lines."
