# Thin wrapper around CMake; see README.md.
BUILD_DIR  ?= build
BUILD_TYPE ?= Release
JOBS       ?= $(shell nproc)
PYTHON     := /usr/bin/python3

.PHONY: all deps configure build test run bench format clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCELLBOX_WERROR=ON \
	      -DPYTHON_EXECUTABLE=$(PYTHON)

configure: deps $(BUILD_DIR)/CMakeCache.txt

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure --timeout 600

# The gateway on 127.0.0.1:8888 with a generated token; it prints the URL to use.
run: build
	$(BUILD_DIR)/bin/cellbox serve

bench: build
	JUPYTER_PATH=$(CURDIR)/$(BUILD_DIR)/share/jupyter $(PYTHON) tests/bench/kernel_bench.py

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf $(BUILD_DIR)
