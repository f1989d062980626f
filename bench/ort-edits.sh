#!/usr/bin/env bash
# Does every edit of the architecture search make a model other runtimes run? For every single edit of MODEL's
# search space (nacc search space --list), nacc search apply writes the edited model (inherited weights, BatchNorm
# re-estimated; FP32, symbolic batch; with PRECISION=int8 the QDQ model), ONNX Runtime classifies the first IMAGES
# Fashion-MNIST test images with it in batches of 100, nacc run classifies the same images, and the script prints
# per edit the share of images both put in the same class, then the edits ONNX Runtime failed to load or run and the
# lowest agreement. Exits non-zero when ONNX Runtime fails on any edit.
# Usage: bench/ort-edits.sh (after make build; installs onnxruntime-node into the build folder like make bench;
# environment: MODEL, IMAGES, PRECISION); about 20 minutes for the 209 edits of models/resnet50-fmnist.onnx.
set -euo pipefail
cd "$(dirname "$0")/.."

SCRIPT=ort-edits
source bench/ort-setup.sh
MODEL=${MODEL:-models/resnet50-fmnist.onnx}
IMAGES=${IMAGES:-500}
PRECISION=${PRECISION:-fp32}
WORK="$BUILD/ort-edits"
PYTHON=/usr/bin/python3  # Debian's, with numpy and onnx
mkdir -p "$WORK"

lscpu | grep -m1 'Model name' || true
"$PYTHON" bench/fmnist_test_npy.py "$MODEL" "$WORK/images.npy" "$WORK/labels.json" "$IMAGES"
mapfile -t edits < <("$NACC" --log-level warn search space "$MODEL" --list)
echo "${#edits[@]} single edits of $MODEL, $PRECISION, the first $IMAGES test images"
failed=()
: > "$WORK/agreement.txt"
for edit in "${edits[@]}"; do
  file="$WORK/$(echo "$edit" | tr ':=' '__').onnx"
  "$NACC" --log-level warn search apply "$MODEL" --edits "$edit" --precision "$PRECISION" --calib-samples 64 \
    --val-samples 100 -o "$file" > /dev/null
  if ! node bench/ort_classify.js "$file" --images "$WORK/images.npy" --batch 100 > "$WORK/ort.json" 2> "$WORK/ort.err"; then
    failed+=("$edit: $(tail -1 "$WORK/ort.err")")
    continue
  fi
  # --no-tune: the tuner's first compile of each new layer shape would triple the script's time; tuned plans
  # equal the rules' numerically (tests/runtime/tuning_test.cc).
  "$NACC" --log-level warn run "$file" --input "$WORK/images.npy" -o "$WORK/nacc.npy" --no-tune > /dev/null
  "$PYTHON" - "$WORK/ort.json" "$WORK/nacc.npy" "$edit" <<'PY' | tee -a "$WORK/agreement.txt"
import json, sys
import numpy as np
ort = np.array(json.load(open(sys.argv[1])))
ours = np.load(sys.argv[2]).argmax(1)
print(f"{sys.argv[3]}: same class on {100 * (ort == ours).mean():.1f}% of {len(ours)} images")
PY
done
echo "ONNX Runtime ran $(wc -l < "$WORK/agreement.txt") of ${#edits[@]} edited models; lowest agreement:"
sort -t' ' -k5 -n "$WORK/agreement.txt" | head -3
if ((${#failed[@]})); then
  printf 'ONNX Runtime failed on: %s\n' "${failed[@]}"
  exit 1
fi
