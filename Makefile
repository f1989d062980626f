# The two commands a new user runs: `make demo` and `make test`.
# SANITIZE=1 builds with AddressSanitizer + UndefinedBehaviorSanitizer in its own folder.

SANITIZE ?= 0
JOBS ?= $(shell nproc)
ifeq ($(SANITIZE),1)
BUILD_DIR ?= build-sanitize
BUILD_TYPE ?= RelWithDebInfo
else
BUILD_DIR ?= build
BUILD_TYPE ?= Release
endif
NACC := $(BUILD_DIR)/nacc
DEMO_DIR := $(BUILD_DIR)/demo

.PHONY: all deps configure build test demo bench clean

all: build

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DNACC_SANITIZE=$(SANITIZE) > /dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

demo: build
	@mkdir -p $(DEMO_DIR)
	$(NACC) zoo list
	$(NACC) zoo export resnet50 -o $(DEMO_DIR)/resnet50.onnx
	$(NACC) inspect $(DEMO_DIR)/resnet50.onnx --top 10
	$(NACC) compile $(DEMO_DIR)/resnet50.onnx
	$(NACC) quantize $(DEMO_DIR)/resnet50.onnx --calib random --calib-samples 16 -o $(DEMO_DIR)/resnet50-int8.onnx
	$(NACC) bench $(DEMO_DIR)/resnet50.onnx --quick --duration-ms 3000 -o $(DEMO_DIR)/bench-fp32
	$(NACC) bench $(DEMO_DIR)/resnet50-int8.onnx --quick --duration-ms 3000 -o $(DEMO_DIR)/bench-int8
	@echo "demo: plots and logs in $(DEMO_DIR)/bench-fp32/report.html and $(DEMO_DIR)/bench-int8/report.html"

# Benchmarks against ONNX Runtime (installs onnxruntime-node from npm into the build folder). Not a test.
bench: build
	@bash scripts/install-deps.sh --bench
	@bash bench/compare-ort.sh

clean:
	rm -rf $(BUILD_DIR)
