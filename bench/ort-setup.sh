# Sourced by the scripts that run ONNX Runtime (bench/compare-ort.sh, bench/ort-agreement.sh, bench/ort-edits.sh)
# with SCRIPT set to the caller's name: checks that nacc is built and node is present, installs onnxruntime-node
# into the build folder on first use (npm; the only download, and only for benchmarks), and sets NACC and NODE_PATH.
BUILD=${BUILD_DIR:-build}
NACC="$BUILD/nacc"
ORT_DIR="$BUILD/ort"
ORT_VERSION=1.30.0

[[ -x "$NACC" ]] || { echo "$SCRIPT: build nacc first (make build)" >&2; exit 1; }
command -v node >/dev/null || { echo "$SCRIPT: node is missing; install the Debian package nodejs" >&2; exit 1; }
if [[ ! -d "$ORT_DIR/node_modules/onnxruntime-node" ]]; then
  echo "$SCRIPT: installing onnxruntime-node@$ORT_VERSION into $ORT_DIR"
  mkdir -p "$ORT_DIR"
  npm install --prefix "$ORT_DIR" --ignore-scripts --no-audit --no-fund "onnxruntime-node@$ORT_VERSION" >/dev/null
fi
export NODE_PATH="$ORT_DIR/node_modules"
