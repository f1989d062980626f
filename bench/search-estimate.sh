#!/usr/bin/env bash
# How good is the search's quick accuracy estimate? On models/resnet50-fmnist.onnx, 12 single edits across the range
# (blocks removed, narrowed, replaced, a stage narrowed, kernels and strides changed) each get the quick estimate
# (blocks distilled alone, 200 steps of logit distillation end to end, INT8) and the full distillation fine-tune
# (labels, logits and stage-end features, one pass over FULL_SUBSET training images, INT8), both scored on the same
# 1000 validation images; nacc prints Kendall's tau and the mean absolute error between the two, and the latency
# table's error against the measured latencies. Results in $BUILD/search-estimate/space.json and report.html.
# Usage: bench/search-estimate.sh (after make build); about an hour on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD_DIR:-build}
NACC="$BUILD/nacc"
OUT="$BUILD/search-estimate"
THREADS=${THREADS:-2}
FULL_SUBSET=${FULL_SUBSET:-25000}
[[ -x "$NACC" ]] || { echo "search-estimate: build nacc first (make build)" >&2; exit 1; }

edits=(layer1.1:remove layer3.3:remove layer4.1:remove
       layer2.2:width=0.5 layer3.2:width=0.25 layer4.2:width=0.25
       layer3:width=0.5 layer2:width=0.25
       layer2.1:replace=ir3 layer3.1:replace=conv
       layer1.0:kernel=1 layer3.0:stride=later)
args=()
for edit in "${edits[@]}"; do args+=(--edit "$edit"); done

lscpu | grep -m1 'Model name' || true
"$NACC" search space models/resnet50-fmnist.onnx --data fashion-mnist --threads "$THREADS" "${args[@]}" \
  --full-epochs 1 --full-subset "$FULL_SUBSET" -o "$OUT"
