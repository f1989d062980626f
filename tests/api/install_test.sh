#!/usr/bin/env bash
# `cmake --install` then an outside CMake project that does find_package(nacc) and runs the example classifier.
# Usage: install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
source=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" > /dev/null
# A deployment needs no libtorch: the installed library must not link it.
library=$(find "$work/prefix" -name 'libnacc.so' | head -n 1)
if ldd "$library" | grep -q torch; then
  echo "install_test: $library links libtorch" >&2
  exit 1
fi
cmake -S "$source/examples/standalone" -B "$work/example" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$work/prefix" > /dev/null
cmake --build "$work/example" > /dev/null
"$work/prefix/bin/nacc" --log-level warn zoo export resnet20 -o "$work/model.onnx"
output=$("$work/example/classify" "$work/model.onnx")
echo "$output"
[[ "$output" == *"fp32 model, output fc:"* ]]
