# Developer entry points. The canonical build is CMake (CMakeLists.txt); SwiftPM (Package.swift)
# builds the same sources for `swift test`.
#   make build                  configure + build ./build (Ninja, Release)
#   make test                   swift test, the CMake tests (ABI, exports, install), the Python
#                               tests, then make test-static
#   make test-static            the static-Swift-runtime build (build-static/, incremental): install,
#                               examples, and the engine example run with the toolchain hidden
#   make pytest                 only the Python binding's tests (in a venv under build/)
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

.PHONY: build test test-static pytest pyvenv install clean demo cli

build:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS)
	cmake --build $(BUILD_DIR)

test: build
	swift test -c release
	ctest --test-dir $(BUILD_DIR) --output-on-failure
	$(MAKE) pytest
	$(MAKE) test-static

# -DSA_STATIC_SWIFT_STDLIB=ON in its own build tree: the first run takes under a minute here, later
# runs only rebuild what changed. Tests/install/test_static.sh says what it proves.
test-static:
	cmake -S . -B $(STATIC_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	      -DSA_STATIC_SWIFT_STDLIB=ON -DSA_BUILD_TESTS=OFF $(CMAKE_ARGS)
	cmake --build $(STATIC_BUILD_DIR)
	bash Tests/install/test_static.sh $(STATIC_BUILD_DIR) . "$$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' $(STATIC_BUILD_DIR)/CMakeCache.txt)" $(BUILD_DIR)

# The binding's tests run against the CMake-built library, with torch (the CPU wheel) and
# ml_dtypes installed so that no test is skipped for a missing package.
$(PYVENV)/bin/python:
	$(PYTHON) -m venv $(PYVENV)
	$(PYVENV)/bin/pip install -q numpy pytest ml_dtypes "torch==2.13.0+cpu"

pyvenv: $(PYVENV)/bin/python
	$(PYVENV)/bin/pip install -q ./bindings/python

pytest: build pyvenv
	SAMPLEATTN_LIBRARY=$(abspath $(BUILD_DIR))/libsampleattn.so.0 $(PYVENV)/bin/python -m pytest -q bindings/python/tests

cli:
	swift build -c release --product sampleattn

demo: cli
	.build/release/sampleattn demo --data data/qwen05b_code_4k --layers 1,12,23

install: build
	cmake --install $(BUILD_DIR) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD_DIR) $(STATIC_BUILD_DIR)
