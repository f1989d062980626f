#!/usr/bin/env bash
# The runtime's tuner (each convolution on the oneDNN implementation that measured fastest on this CPU,
# src/runtime/tuning.h) against oneDNN's first choice (--no-tune), in the same run, alternating rounds, medians and
# ratios: Offline batch 64 (THREADS streams of one thread) and SingleStream p90 (one inference of THREADS threads), on
# the Fashion-MNIST models in FP32, INT8 and (on a CPU with AVX-512 BF16 or AMX) BF16, and on any extra INT8 model
# given (a search's best-int8.onnx). Then what tuning costs: the first compile of ResNet-50 at batch 64 (FP32 direct
# and INT8) with an empty cache, and the second.
# Usage: bench/tuning.sh [ROUNDS] [EXTRA.onnx ...] (environment: DURATION_MS, SAMPLES, THREADS). Not a test.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${1:-5}
shift || true
EXTRA=("$@")
DURATION_MS=${DURATION_MS:-5000}  # SingleStream
SAMPLES=${SAMPLES:-25600}  # Offline
THREADS=${THREADS:-2}
BUILD=${BUILD_DIR:-build}
NACC="$BUILD/nacc"
WORK="$BUILD/bench-tuning"

[[ -x "$NACC" ]] || { echo "tuning: build nacc first (make build)" >&2; exit 1; }
mkdir -p "$WORK"
# The tuned runs keep their cache here, not in the user's: the first round measures, the others read it.
export XDG_CACHE_HOME="$WORK/cache"
rm -rf "$XDG_CACHE_HOME"

declare -A files=([resnet50-fmnist-fp32]=models/resnet50-fmnist.onnx [resnet20-fmnist-fp32]=models/resnet20-fmnist.onnx)
declare -A flags=()
# BF16 where the CPU has it (nacc refuses it elsewhere).
if "$NACC" --log-level off compile models/resnet20-fmnist.onnx --precision bf16 >/dev/null 2>&1; then
  for model in resnet50-fmnist resnet20-fmnist; do
    files[$model-bf16]=models/$model.onnx
    flags[$model-bf16]="--precision bf16"
  done
fi
for model in resnet50-fmnist resnet20-fmnist; do
  "$NACC" --log-level warn quantize "models/$model.onnx" --calib fashion-mnist:train --calib-samples 300 \
    -o "$WORK/$model-int8.onnx" >/dev/null
  files[$model-int8]="$WORK/$model-int8.onnx"
done
for extra in "${EXTRA[@]}"; do files[$(basename "$extra" .onnx)]="$extra"; done
names=$(printf '%s\n' "${!files[@]}" | sort)

json_value() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {'d': d}))" "$@"; }
# offline FILE [FLAG]: images/s at batch 64 over SAMPLES images (a whole number of batches).
offline() {
  "$NACC" --log-level warn bench "$1" -s Offline --batch 64 --streams "$THREADS" --threads 1 \
    --duration-ms 1 --min-queries "$SAMPLES" ${2:-} -o "$WORK/offline" >/dev/null 2>&1
  json_value "$WORK/offline/results.json" "d['performance']['value']"
}
# single FILE [FLAG]: SingleStream p90 in ms.
single() {
  "$NACC" --log-level warn bench "$1" -s SingleStream --threads "$THREADS" --duration-ms "$DURATION_MS" \
    --min-queries 64 ${2:-} -o "$WORK/single" >/dev/null 2>&1
  json_value "$WORK/single/results.json" "d['performance']['value'] / 1e6"
}

declare -A results
record() { results[$1]="${results[$1]:-} $2"; }
for round in $(seq 1 "$ROUNDS"); do
  for name in $names; do
    record "$name offline tuned" "$(offline "${files[$name]}" "${flags[$name]:-}")"
    record "$name offline rules" "$(offline "${files[$name]}" "${flags[$name]:-} --no-tune")"
    record "$name p90 tuned" "$(single "${files[$name]}" "${flags[$name]:-}")"
    record "$name p90 rules" "$(single "${files[$name]}" "${flags[$name]:-} --no-tune")"
  done
  echo "round $round/$ROUNDS done" >&2
done

median() { python3 -c "import statistics,sys; print(statistics.median(float(x) for x in sys.argv[1:]))" $1; }
cpu=$(grep -m1 "model name" /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
echo "CPU: $cpu; $THREADS threads; medians of $ROUNDS rounds (Offline: $SAMPLES images; SingleStream: $DURATION_MS ms)"
printf '%-28s %14s %14s %8s %12s %12s %8s\n' model "Offline tuned" "rules" ratio "p90 tuned" rules ratio
for name in $names; do
  ot=$(median "${results[$name offline tuned]}"); orl=$(median "${results[$name offline rules]}")
  pt=$(median "${results[$name p90 tuned]}"); pr=$(median "${results[$name p90 rules]}")
  python3 -c "import sys; n,a,b,c,d=sys.argv[1],*map(float,sys.argv[2:]); print(f'{n:<28} {a:>14.0f} {b:>14.0f} {a/b:>7.2f}x {c:>12.4f} {d:>12.4f} {c/d:>7.2f}x')" \
    "$name" "$ot" "$orl" "$pt" "$pr"
done
for pair in resnet50-fmnist resnet20-fmnist; do
  for low in int8 bf16; do
    [[ -n "${results[$pair-$low offline tuned]:-}" ]] || continue
    python3 -c "import sys; a,b,c,d=map(float,sys.argv[1:]); print(f'$pair ${low^^} / FP32, tuned: Offline {a/b:.2f}x, p90 {c/d:.2f}x')" \
      "$(median "${results[$pair-$low offline tuned]}")" "$(median "${results[$pair-fp32 offline tuned]}")" \
      "$(median "${results[$pair-$low p90 tuned]}")" "$(median "${results[$pair-fp32 p90 tuned]}")"
  done
done

# What tuning costs: ResNet-50 (224x224, random weights) at batch 64, first compile with an empty cache, then again.
"$NACC" --log-level warn zoo export resnet50 --batch 64 -o "$WORK/resnet50-b64.onnx"
"$NACC" --log-level warn quantize "$WORK/resnet50-b64.onnx" --calib random --calib-samples 64 -o "$WORK/resnet50-int8-b64.onnx"
seconds() { local start=$(date +%s.%N); "$@" >/dev/null; python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$start" "$(date +%s.%N)"; }
rm -rf "$XDG_CACHE_HOME"
for variant in "FP32 direct:$WORK/resnet50-b64.onnx:--no-winograd" "INT8:$WORK/resnet50-int8-b64.onnx:"; do
  IFS=: read -r label file flag <<< "$variant"
  first=$(seconds "$NACC" --log-level warn compile "$file" --threads 1 $flag)
  second=$(seconds "$NACC" --log-level warn compile "$file" --threads 1 $flag)
  untuned=$(seconds "$NACC" --log-level warn compile "$file" --threads 1 $flag --no-tune)
  echo "ResNet-50 $label batch 64, 1 thread: compile ${first} s with an empty cache, ${second} s cached, ${untuned} s with --no-tune"
done
