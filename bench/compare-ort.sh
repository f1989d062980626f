#!/usr/bin/env bash
# nacc against ONNX Runtime (CPU build from npm) on the zoo ResNet-50 v1.5, in the same run, alternating rounds,
# reporting medians and ratios. Usage: bench/compare-ort.sh [ROUNDS] (environment: DURATION_MS, THREADS).
# The INT8 rows need nacc's quantizer and say so until it exists.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${1:-5}
DURATION_MS=${DURATION_MS:-10000}
THREADS=${THREADS:-2}
BUILD=${BUILD_DIR:-build}
NACC="$BUILD/nacc"
WORK="$BUILD/compare-ort"
ORT_DIR="$BUILD/ort"
ORT_VERSION=1.30.0

[[ -x "$NACC" ]] || { echo "compare-ort: build nacc first (make build)" >&2; exit 1; }
command -v node >/dev/null || { echo "compare-ort: node is missing; install the Debian package nodejs" >&2; exit 1; }
if [[ ! -d "$ORT_DIR/node_modules/onnxruntime-node" ]]; then
  echo "compare-ort: installing onnxruntime-node@$ORT_VERSION into $ORT_DIR"
  mkdir -p "$ORT_DIR"
  npm install --prefix "$ORT_DIR" --ignore-scripts --no-audit --no-fund "onnxruntime-node@$ORT_VERSION" >/dev/null
fi
export NODE_PATH="$ORT_DIR/node_modules"

mkdir -p "$WORK"
"$NACC" --log-level warn zoo export resnet50 --batch 1 -o "$WORK/resnet50-b1.onnx"
"$NACC" --log-level warn zoo export resnet50 --batch 64 -o "$WORK/resnet50-b64.onnx"

json_value() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {'d': d}))" "$@"; }

nacc_offline() {
  # A whole number of batches (64 images per second of DURATION_MS), so that no padded batch is counted.
  local samples=$(( (DURATION_MS / 1000 > 0 ? DURATION_MS / 1000 : 1) * 64 ))
  "$NACC" --log-level warn bench "$WORK/resnet50-b64.onnx" -s Offline --batch 64 --threads "$THREADS" \
    --duration-ms 1 --min-queries "$samples" -o "$WORK/nacc-offline" >/dev/null 2>&1
  json_value "$WORK/nacc-offline/results.json" "d['performance']['value']"
}
nacc_single() {
  "$NACC" --log-level warn bench "$WORK/resnet50-b1.onnx" -s SingleStream --threads "$THREADS" \
    --duration-ms "$DURATION_MS" --min-queries 64 -o "$WORK/nacc-single" >/dev/null 2>&1
  json_value "$WORK/nacc-single/results.json" "d['performance']['value'] / 1e6"
}
ort_run() { node bench/ort_bench.js "$1" --threads "$THREADS" --duration-ms "$DURATION_MS"; }

declare -a nacc_b64 ort_b64 nacc_p90 ort_p90
"$BUILD/nacc_peak" 2 > "$WORK/peak.json"
for round in $(seq 1 "$ROUNDS"); do
  nacc_b64+=("$(nacc_offline)")
  ort_b64+=("$(ort_run "$WORK/resnet50-b64.onnx" | python3 -c 'import json,sys; print(json.load(sys.stdin)["throughput_ips"])')")
  ort_p90+=("$(ort_run "$WORK/resnet50-b1.onnx" | python3 -c 'import json,sys; print(json.load(sys.stdin)["p90_ms"])')")
  nacc_p90+=("$(nacc_single)")
  echo "round $round/$ROUNDS: FP32 batch 64 nacc ${nacc_b64[-1]} img/s, ORT ${ort_b64[-1]} img/s;" \
       "batch 1 p90 nacc ${nacc_p90[-1]} ms, ORT ${ort_p90[-1]} ms" >&2
done

python3 - "$WORK/compare-ort.json" "${nacc_b64[*]}" "${ort_b64[*]}" "${nacc_p90[*]}" "${ort_p90[*]}" "$THREADS" "$DURATION_MS" "$WORK/peak.json" <<'PY'
import json, statistics, sys
path, nacc_b64, ort_b64, nacc_p90, ort_p90, threads, duration, peak_path = sys.argv[1:9]
peak = json.load(open(peak_path))
bound_ips = peak["fp32_gmacs"] / 4.089
values = lambda text: [float(x) for x in text.split()]
m = {k: statistics.median(values(v)) for k, v in
     dict(nacc_b64=nacc_b64, ort_b64=ort_b64, nacc_p90=nacc_p90, ort_p90=ort_p90).items()}
rows = [
    ("FP32 Offline batch 64 (img/s)", m["nacc_b64"], m["ort_b64"], m["nacc_b64"] / m["ort_b64"], ">= 1.15x ORT"),
    ("FP32 SingleStream p90 (ms)", m["nacc_p90"], m["ort_p90"], m["nacc_p90"] / m["ort_p90"], "(no target)"),
]
print(f"ResNet-50 v1.5, {threads} threads, medians of {len(values(nacc_b64))} alternating rounds of {int(duration)/1000:.0f} s")
print(f"{'configuration':34} {'nacc':>10} {'ORT':>10} {'ratio':>8}  target")
for name, nacc, ort, ratio, target in rows:
    print(f"{name:34} {nacc:10.2f} {ort:10.2f} {ratio:7.2f}x  {target}")
print(f"machine peak FP32 {peak['fp32_gflops']:.0f} GFLOP/s -> ResNet-50 bound {bound_ips:.1f} img/s; "
      f"nacc batch 64 at {100 * m['nacc_b64'] / bound_ips:.0f}% of it, ORT at {100 * m['ort_b64'] / bound_ips:.0f}%")
print("INT8 rows: not measured yet (nacc's quantizer is not built)")
json.dump({"medians": m, "rounds": {k: values(v) for k, v in
           dict(nacc_b64=nacc_b64, ort_b64=ort_b64, nacc_p90=nacc_p90, ort_p90=ort_p90).items()},
           "threads": int(threads), "duration_ms": int(duration), "peak": peak}, open(path, "w"), indent=2)
PY
