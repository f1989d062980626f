#!/usr/bin/env bash
# Training speed of `nacc train` against PyTorch 1.13 from Python (Debian's python3-torch) on the same ONNX models
# (the zoo's resnet20 at 1x28x28 and resnet50-fmnist), the same batch, data, augmentation and optimizer, 2 threads
# each, in the same run with alternating rounds; reports medians and the ratio to the faster of PyTorch's two
# layouts (NCHW and channels-last). Usage: bench/compare-torch-train.sh [ROUNDS] (environment: THREADS, BATCH).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${1:-3}
THREADS=${THREADS:-2}
BATCH=${BATCH:-128}
BUILD=${BUILD_DIR:-build}
NACC="$BUILD/nacc"
WORK="$BUILD/compare-torch-train"
PYTHON=/usr/bin/python3

[[ -x "$NACC" ]] || { echo "compare-torch-train: build nacc first (make build)" >&2; exit 1; }
"$PYTHON" -c "import torch, onnx" 2>/dev/null ||
  { echo "compare-torch-train: PyTorch or ONNX for Python is missing; run scripts/install-deps.sh --bench" >&2; exit 1; }

mkdir -p "$WORK"
"$NACC" --log-level warn zoo export resnet20 --input 1x28x28 --classes 10 -o "$WORK/resnet20.onnx"
"$NACC" --log-level warn zoo export resnet50-fmnist -o "$WORK/resnet50-fmnist.onnx"

# Steps per measurement: about 15-30 seconds each on 2 cores.
declare -A STEPS=([resnet20]=60 [resnet50-fmnist]=30)

# nacc_rate MODEL: images/s of `nacc train` over STEPS steps (the epoch's own measurement, before validation).
nacc_rate() {
  rm -rf "$WORK/nacc-run"
  "$NACC" --log-level warn train --model "$WORK/$1.onnx" --data fashion-mnist --epochs 1 --warmup-epochs 0 --lr 0.01 \
    --batch "$BATCH" --max-steps "${STEPS[$1]}" --threads "$THREADS" --validation-samples 1 \
    --checkpoint-dir "$WORK/nacc-run" -o "$WORK/nacc-run/trained.onnx" 2>/dev/null
  "$PYTHON" -c "import json,sys; print(json.load(open(sys.argv[1]))['epochs'][0]['images_per_second'])" \
    "$WORK/nacc-run/log.json"
}

# torch_rate MODEL [--channels-last]: images/s of PyTorch over the same steps.
torch_rate() {
  "$PYTHON" bench/torch_train.py "$WORK/$1.onnx" --steps "${STEPS[$1]}" --batch "$BATCH" --threads "$THREADS" "${@:2}" |
    "$PYTHON" -c "import json,sys; print(json.load(sys.stdin)['images_per_second'])"
}

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

results="{"
for model in resnet20 resnet50-fmnist; do
  nacc=() nchw=() channels_last=()
  for round in $(seq 1 "$ROUNDS"); do
    nacc+=("$(nacc_rate "$model")")
    nchw+=("$(torch_rate "$model")")
    channels_last+=("$(torch_rate "$model" --channels-last)")
    printf '%s round %d/%d: nacc %.1f, PyTorch NCHW %.1f, channels-last %.1f img/s\n' "$model" "$round" "$ROUNDS" \
      "${nacc[-1]}" "${nchw[-1]}" "${channels_last[-1]}"
  done
  n=$(median "${nacc[@]}") t=$(median "${nchw[@]}") c=$(median "${channels_last[@]}")
  best=$(awk -v a="$t" -v b="$c" 'BEGIN {print (a > b) ? a : b}')
  ratio=$(awk -v a="$n" -v b="$best" 'BEGIN {printf "%.2f", a / b}')
  printf '%s, batch %d, %d threads, medians of %d rounds: nacc %.1f img/s, PyTorch %.1f (NCHW) / %.1f (channels-last) img/s: %sx (target 1.1x)\n' \
    "$model" "$BATCH" "$THREADS" "$ROUNDS" "$n" "$t" "$c" "$ratio"
  results+="\"$model\": {\"nacc\": $n, \"torch_nchw\": $t, \"torch_channels_last\": $c, \"ratio\": $ratio},"
done
echo "${results%,}}" > "$WORK/results.json"
echo "compare-torch-train: wrote $WORK/results.json"
