#!/usr/bin/env bash
# ONNX Runtime runs the committed models (models/*.onnx, symbolic batch) on Fashion-MNIST's test set in batches of
# 100 and agrees with `nacc eval`: top-1 of each, and the share of images both put in the same class.
# Usage: bench/ort-agreement.sh (after make build; installs onnxruntime-node into the build folder like make bench).
set -euo pipefail
cd "$(dirname "$0")/.."

SCRIPT=ort-agreement
source bench/ort-setup.sh
WORK="$BUILD/ort-agreement"
PYTHON=/usr/bin/python3  # Debian's, with numpy
mkdir -p "$WORK"

for model in models/*.onnx; do
  name=$(basename "$model" .onnx)
  # The test images preprocessed as the model records (nacc.preprocess), as one .npy, with their labels.
  "$PYTHON" bench/fmnist_test_npy.py "$model" "$WORK/$name-images.npy" "$WORK/$name-labels.json"
  node bench/ort_classify.js "$model" --images "$WORK/$name-images.npy" --batch 100 > "$WORK/$name-ort.json"
  nacc_line=$("$NACC" --log-level warn eval "$model" --data fashion-mnist:test --batch 100 | head -1)
  "$PYTHON" - "$WORK/$name-ort.json" "$WORK/$name-labels.json" "$name" "$nacc_line" "$NACC" "$model" "$WORK" <<'PY'
import json, subprocess, sys
import numpy as np
ort = np.array(json.load(open(sys.argv[1])))
labels = np.array(json.load(open(sys.argv[2])))
name, nacc_line, nacc, model, work = sys.argv[3:8]
# nacc's classes for the same preprocessed images, through nacc run (compiled FP32) at batch 10000.
subprocess.run([nacc, "--log-level", "warn", "run", model, "--input", f"{work}/{name}-images.npy",
                "-o", f"{work}/{name}-nacc.npy"], check=True, stdout=subprocess.DEVNULL)
ours = np.load(f"{work}/{name}-nacc.npy").argmax(1)
print(f"{name}: ONNX Runtime top-1 {100 * (ort == labels).mean():.2f}% (batches of 100), "
      f"nacc run top-1 {100 * (ours == labels).mean():.2f}%, same class on {100 * (ort == ours).mean():.2f}% of images; "
      f"nacc eval: {nacc_line.split(': ', 1)[1]}")
PY
done
