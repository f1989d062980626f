#!/usr/bin/env bash
# How good is the search's quick accuracy estimate? On models/resnet50-fmnist.onnx, 12 candidates across the range
# (from one block removed to eight blocks removed and every stage narrowed) each get the quick estimate (blocks
# distilled alone, FINETUNE_STEPS (default 100) steps of logit distillation end to end, INT8) and the full distillation fine-tune (labels,
# logits and stage-end features, one pass over FULL_SUBSET training images, INT8), both scored on the whole
# validation split (5,000 images); nacc prints Kendall's tau and the mean absolute error between the two, and the
# latency table's error against the measured latencies, and what one candidate's evaluation costs. Results in $BUILD/search-estimate/space.json, report.html.
# Usage: bench/search-estimate.sh (after make build); about 40 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD_DIR:-build}
NACC="$BUILD/nacc"
OUT="$BUILD/search-estimate"
THREADS=${THREADS:-2}
FULL_SUBSET=${FULL_SUBSET:-15000}
FINETUNE_STEPS=${FINETUNE_STEPS:-100}
[[ -x "$NACC" ]] || { echo "search-estimate: build nacc first (make build)" >&2; exit 1; }

eight=layer1.1:remove,layer1.2:remove,layer2.2:remove,layer2.3:remove,layer3.3:remove,layer3.4:remove,layer3.5:remove,layer4.2:remove
candidates=(layer1.1:remove
            layer3:width=0.5
            layer1.1:remove,layer3.3:remove
            layer3.3:remove,layer3.4:remove,layer4.1:remove
            layer2:width=0.25,layer3:width=0.5
            layer1.1:remove,layer2.2:remove,layer3.3:remove,layer3.4:remove
            layer3.1:replace=conv,layer3.2:replace=conv,layer3.3:remove
            layer3:width=0.25,layer4:width=0.25
            "$eight"
            layer2:width=0.25,layer3:width=0.25,layer4:width=0.25
            "$eight,layer4:width=0.25"
            "$eight,layer2:width=0.25,layer3:width=0.25,layer4:width=0.25")
args=()
for candidate in "${candidates[@]}"; do args+=(--candidate "$candidate"); done

lscpu | grep -m1 'Model name' || true
"$NACC" search space models/resnet50-fmnist.onnx --data fashion-mnist --threads "$THREADS" "${args[@]}" \
  --val-samples 5000 --finetune-steps "$FINETUNE_STEPS" --full-epochs 1 --full-subset "$FULL_SUBSET" -o "$OUT"
