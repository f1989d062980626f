#!/usr/bin/env bash
# ONNX Runtime runs the committed models (models/*.onnx, symbolic batch) on Fashion-MNIST's test set in batches of
# 100 and agrees with `nacc eval`: top-1 of each, and the share of images both put in the same class.
# Usage: bench/ort-agreement.sh (after make build; installs onnxruntime-node into the build folder like make bench).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD_DIR:-build}
NACC="$BUILD/nacc"
WORK="$BUILD/ort-agreement"
ORT_DIR="$BUILD/ort"
ORT_VERSION=1.30.0
PYTHON=/usr/bin/python3  # Debian's, with numpy

[[ -x "$NACC" ]] || { echo "ort-agreement: build nacc first (make build)" >&2; exit 1; }
command -v node >/dev/null || { echo "ort-agreement: node is missing; install the Debian package nodejs" >&2; exit 1; }
if [[ ! -d "$ORT_DIR/node_modules/onnxruntime-node" ]]; then
  echo "ort-agreement: installing onnxruntime-node@$ORT_VERSION into $ORT_DIR"
  mkdir -p "$ORT_DIR"
  npm install --prefix "$ORT_DIR" --ignore-scripts --no-audit --no-fund "onnxruntime-node@$ORT_VERSION" >/dev/null
fi
export NODE_PATH="$ORT_DIR/node_modules"
mkdir -p "$WORK"

for model in models/*.onnx; do
  name=$(basename "$model" .onnx)
  # The test images preprocessed as the model records (nacc.preprocess), as one .npy, with their labels.
  "$PYTHON" - "$model" "$WORK/$name-images.npy" "$WORK/$name-labels.json" <<'PY'
import gzip, json, sys
import numpy as np
import onnx
model = onnx.load(sys.argv[1], load_external_data=False)
meta = {p.key: p.value for p in model.metadata_props}
pre = json.loads(meta.get("nacc.preprocess", '{"scale": 0.00392156862745098, "mean": [0.286], "std": [0.353]}'))
root = "/usr/share/datasets/fashion-mnist"
with gzip.open(f"{root}/t10k-images-idx3-ubyte.gz") as f:
    images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28).astype(np.float32)
with gzip.open(f"{root}/t10k-labels-idx1-ubyte.gz") as f:
    labels = np.frombuffer(f.read(), np.uint8, offset=8)
x = (images * pre["scale"] - pre["mean"][0]) / pre["std"][0]
np.save(sys.argv[2], x.astype(np.float32))
json.dump(labels.tolist(), open(sys.argv[3], "w"))
PY
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
