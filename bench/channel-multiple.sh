#!/usr/bin/env bash
# Which channel multiple is the INT8 runtime fastest with? Times one oneDNN INT8 convolution (3x3, C -> C, and the
# 1x1 C -> 4C of a bottleneck; nacc_conv_postops, ReLU fused, batch 1) for inner widths C from 8 to 128 in steps
# of 4, at the sizes of models/resnet50-fmnist.onnx's stages (28x28 and 7x7), on THREADS threads. A width whose time
# is no lower than the next multiple of M's wastes the channels between: the search rounds widths to the smallest
# M for which that holds (nas::EditOptions::channel_multiple, --channel-multiple).
# Usage: bench/channel-multiple.sh (after make build); about a minute.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD_DIR:-build}
TOOL="$BUILD/nacc_conv_postops"
THREADS=${THREADS:-2}
[[ -x "$TOOL" ]] || { echo "channel-multiple: build first (make build)" >&2; exit 1; }
lscpu | grep -m1 'Model name' || true
echo "threads $THREADS; ms per image of the fused convolution + ReLU"
printf "%-6s %12s %12s %12s %12s\n" C "3x3 28x28" "3x3 7x7" "1x1 28x28" "1x1 7x7"
for c in $(seq 8 4 128); do
  row=()
  for spec in "3 28" "3 7" "1 28" "1 7"; do
    set -- $spec
    out=$((c * ($1 == 1 ? 4 : 1)))
    ms=$(OMP_NUM_THREADS=$THREADS "$TOOL" "$c" "$out" "$2" "$2" "$1" 1 int8 | awk '$1 == "relu" { print $(NF-3) }')
    row+=("$ms")
  done
  printf "%-6s %12s %12s %12s %12s\n" "$c" "${row[@]}"
done
