# Developer entry points. The canonical build is CMake (CMakeLists.txt); SwiftPM (Package.swift)
# builds the same sources for `swift test`.
#   make build                  configure + build ./build (Ninja, Release)
#   make test                   swift test, then the CMake tests (ABI, exports, install)
#   make install PREFIX=/opt/sa install the CMake build
BUILD_DIR  ?= build
BUILD_TYPE ?= Release
PREFIX     ?= /usr/local
CMAKE_ARGS ?=

.PHONY: build test install clean

build:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_ARGS)
	cmake --build $(BUILD_DIR)

test: build
	swift test
	ctest --test-dir $(BUILD_DIR) --output-on-failure

install: build
	cmake --install $(BUILD_DIR) --prefix $(PREFIX)

clean:
	rm -rf $(BUILD_DIR)
