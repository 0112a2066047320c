#!/usr/bin/env bash
# Regenerates every committed fixture this directory's scripts make, into a staging folder,
# compares each with the committed file (tensors bit-for-bit or within 1e-7; JSONL record by
# record; other files byte for byte) and, with --replace, copies them over only if all agree.
# usage: scripts/reference/regenerate.sh [--replace]     (run from anywhere; PYTHON defaults to .venv-ref/bin/python)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
py=${PYTHON:-.venv-ref/bin/python}
ref=scripts/reference
fx=test/fixtures
stage=$(mktemp -d "${TMPDIR:-/tmp}/blip-itm-fixtures-XXXXXX")
trap 'rm -rf "$stage"' EXIT
vocab=$fx/blip-itm-tiny/vocab.txt
images=($fx/images/chelsea.png $fx/images/rocket.jpg $fx/images/horse.png)
texts=("a cat lying on a rug" "A rocket launching into the sky, with smoke!" "Café au lait — naïve résumé 東京 🚀")

"$py" $ref/make_checkpoint.py "$stage/blip-itm-tiny" --vocab "$vocab" --seed 1
"$py" $ref/make_checkpoint.py "$stage/blip-itm-tiny-f16" --vocab "$vocab" --seed 1 --dtype F16 --position-ids
"$py" $ref/make_checkpoint.py "$stage/blip-itm-tiny-bin" --vocab "$vocab" --seed 1 --bin --position-ids
mkdir -p "$stage/reference"
"$py" $ref/make_activations.py $fx/blip-itm-tiny "$stage/reference/tiny-activations.safetensors" \
  --images "${images[@]}" --texts "${texts[@]}" --gradcam 1 >/dev/null
"$py" $ref/make_activations.py $fx/blip-itm-tiny "$stage/reference/tiny-activations-enc.safetensors" \
  --images "${images[@]}" --texts "${texts[@]}" --enc-token --no-activations >/dev/null
"$py" $ref/make_activations.py $fx/blip-itm-tiny-f16 "$stage/reference/tiny-f16-scores.safetensors" \
  --images "${images[@]}" --texts "${texts[@]}" --no-activations >/dev/null
"$py" $ref/make_image_cases.py $fx/blip-itm-tiny "$stage/reference/images-384.safetensors" \
  "${images[@]}" $fx/images/camera.png --size 384 --first-pixel-values-only
"$py" $ref/make_video_cases.py $fx/blip-itm-tiny "$stage/reference/tiny-video.safetensors" \
  --frame-pattern $fx/video/frames/%02d.png --video clip20.mkv=0:20 clip7.mkv=13:7 \
  --texts "a cat lying on a rug" "A rocket launching into the sky, with smoke!" "a horse" --frames 8 3 --gradcam 1 >/dev/null
# The strings of the tokenizer cases are the committed ones (how they were first drawn: README-tokenizer.md).
for name in tokenizer-cases tokenizer-cases-extra; do
  "$py" $ref/make_tokenizer_cases.py $fx/blip-itm-tiny "$stage/reference/$name.jsonl" --strings $fx/reference/$name.jsonl
done

status=0
for file in $(cd "$stage" && find . -type f | sort); do
  old=$fx/${file#./}
  case "$file" in
    *.safetensors | *.jsonl) "$py" $ref/compare.py "$old" "$stage/$file" || status=1 ;;
    *.bin) cmp "$old" "$stage/$file" && echo "$old: byte-identical" || status=1 ;;
    *) cmp -s "$old" "$stage/$file" || { echo "$old differs"; status=1; } ;;
  esac
done
if [ $status -ne 0 ]; then echo "some files differ: nothing replaced" >&2; exit 1; fi
if [ "${1:-}" = "--replace" ]; then
  cp -r "$stage"/. $fx/
  echo "replaced the committed fixtures with the regenerated ones"
fi
