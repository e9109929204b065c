# Thin wrapper around CMake; see README.md.
BUILD_DIR  ?= build
BUILD_TYPE ?= Release
JOBS       ?= $(shell nproc)
PYTHON     := /usr/bin/python3
# The sanitizer build (clang, ASan + UBSan): the gateway, the unit tests and the fuzz targets.
SAN_DIR    ?= build-san
# Seconds per fuzz target: `make fuzz`, and `make test` (from the committed seeds only).
FUZZ_SECONDS       ?= 60
FUZZ_SMOKE_SECONDS ?= 6

.PHONY: all deps configure build test run bench format clean san-build asan-test fuzz

all: build

deps:
	@scripts/install-deps.sh

$(BUILD_DIR)/CMakeCache.txt:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DCELLBOX_WERROR=ON \
	      -DPYTHON_EXECUTABLE=$(PYTHON)

configure: deps $(BUILD_DIR)/CMakeCache.txt

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Every suite (the sanitizer build compiling beside them at nice 19); then the unit, gateway
# and security suites against the sanitized gateway, and each fuzz target for
# FUZZ_SMOKE_SECONDS.
test: build
	scripts/run-all-tests.sh $(BUILD_DIR) $(SAN_DIR) $(FUZZ_SMOKE_SECONDS)

# -O0 and line tables only: what ASan's reports need (symbolized stacks). The build is the
# longest step of `make test`, and optimising Beast's instrumented templates is most of it
# (websocket_session.cpp: 134 CPU s at -O1, 47 at -O0; a small unit 7.5 -> 4.1 s); the suites
# it runs spend their time waiting on kernels, not in the gateway's code. (Patterns matched
# against requests use Boost.Regex: libstdc++'s recursive std::regex overflowed ASan's -O0
# stack on a long path.)
SAN_OPT_FLAGS := -O0 -gline-tables-only -DNDEBUG
# It runs the plain build's kernel and sandbox launcher (they cannot carry ASan). clang warns
# about libseccomp's macros (C99 compound literals): no -Werror here, the gcc build keeps the
# code warning-free.
$(SAN_DIR)/CMakeCache.txt:
	CC=clang CXX=clang++ cmake -S . -B $(SAN_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$(SAN_OPT_FLAGS)" -DCMAKE_C_FLAGS_RELWITHDEBINFO="$(SAN_OPT_FLAGS)" \
	      -DCELLBOX_SANITIZE=ON -DCELLBOX_HELPERS_DIR=$(CURDIR)/$(BUILD_DIR)/bin \
	      -DPYTHON_EXECUTABLE=$(PYTHON)

san-build: build $(SAN_DIR)/CMakeCache.txt
	cmake --build $(SAN_DIR) -j $(JOBS) --target cellbox cellbox-unit-tests cellbox-fuzzers

# The unit and gateway suites against the sanitized gateway.
asan-test: san-build
	CELLBOX_SANITIZE_ALL=1 scripts/run-sanitized-tests.sh $(SAN_DIR)

# Each fuzz target for FUZZ_SECONDS, keeping what it discovers in $(SAN_DIR)/fuzz-corpus.
fuzz: san-build
	scripts/run-fuzzers.sh $(SAN_DIR) $(FUZZ_SECONDS) --keep

# The gateway on 127.0.0.1:8888 with a generated token; it prints the URL to use.
run: build
	$(BUILD_DIR)/bin/cellbox serve

bench: build
	JUPYTER_PATH=$(CURDIR)/$(BUILD_DIR)/share/jupyter $(PYTHON) tests/bench/kernel_bench.py

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf $(BUILD_DIR) $(SAN_DIR)
