#!/usr/bin/env bash
# Installs, with apt-get, the Debian packages nacc needs that are not installed yet.
# Idempotent and non-interactive: a machine that has everything is left untouched.
# --bench also installs what `make bench` needs (Node.js and npm, to fetch ONNX Runtime from the npm registry) and
# what `make bench-train` needs (PyTorch 1.13 and ONNX for Python, the training peer).
# --list prints the packages it would install (with --bench: those too), one per line, and installs nothing.
set -euo pipefail

# ocl-icd-opencl-dev: oneDNN's CMake package file (dnnl-config.cmake) requires OpenCL, which libdnnl-dev only
# recommends, and recommends are not installed here. python3-torch and python3-torchvision: the import test exports
# torchvision's classifiers to ONNX, the way users make the models they bring. chromium: the search's report is tested
# in a real browser (headless).
packages=(
  build-essential cmake ninja-build pkg-config
  libdnnl-dev ocl-icd-opencl-dev libtorch-dev
  libprotobuf-dev libonnx-dev libonnx-testdata
  libgtest-dev libgmock-dev
  libcli11-dev nlohmann-json3-dev libfmt-dev libspdlog-dev zlib1g-dev
  libopencv-imgcodecs-dev libopencv-imgproc-dev
  dataset-fashion-mnist
  python3-torch python3-torchvision
  chromium
)

bench=0
list=0
for arg in "$@"; do
  case "$arg" in
    --bench) bench=1 ;;
    --list) list=1 ;;
    *) echo "install-deps: expected --bench or --list, but got '$arg'" >&2; exit 2 ;;
  esac
done

if [[ $bench -eq 1 ]]; then
  # Only when the commands are missing: a machine may have Node.js from elsewhere, which Debian's npm conflicts with.
  command -v node >/dev/null || packages+=(nodejs)
  command -v npm >/dev/null || packages+=(npm)
  packages+=(python3-onnx)
fi

if [[ $list -eq 1 ]]; then
  printf '%s\n' "${packages[@]}"
  exit 0
fi

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$package")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

sudo_cmd=()
if [[ $(id -u) -ne 0 ]]; then
  if ! command -v sudo >/dev/null; then
    echo "install-deps: these Debian packages are missing: ${missing[*]}; run as root or install sudo" >&2
    exit 1
  fi
  sudo_cmd=(sudo)
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
