#!/usr/bin/env bash
# Build llama.cpp's CPU tools with prompt-processing attention through libsampleattn.
#   build.sh SAMPLEATTN_PREFIX OUT_DIR
# SAMPLEATTN_PREFIX: where libsampleattn is installed (cmake --install / make install PREFIX=...).
# OUT_DIR: work folder; the binaries land in OUT_DIR/bin. Run again to rebuild incrementally.
# Environment: TARGETS (default: llama-cli llama-completion llama-perplexity llama-bench
# llama-server), JOBS (default: nproc), PIP (default: python3 -m pip).
#
# The source is the llama-cpp-python 0.3.36 sdist from PyPI (checked by sha256), which vendors
# llama.cpp at commit 0c1e57098bba43ac29e6e3b677cdceebdd22334f; sampleattn.patch adds the
# LLAMA_SAMPLEATTN CMake option and the hook in build_attn_mha, llama-sampleattn.{h,cpp} the node.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 SAMPLEATTN_PREFIX OUT_DIR" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
prefix=$(cd "$1" && pwd)
mkdir -p "$2"
out=$(cd "$2" && pwd)
targets=${TARGETS:-llama-cli llama-completion llama-perplexity llama-bench llama-server}
jobs=${JOBS:-$(nproc)}
pip=${PIP:-python3 -m pip}

sdist=llama_cpp_python-0.3.36.tar.gz
sha256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
commit=0c1e57098bba43ac29e6e3b677cdceebdd22334f

if [ ! -f "$prefix/lib/cmake/sampleattn/sampleattnConfig.cmake" ]; then
    echo "error: no libsampleattn CMake package under $prefix (lib/cmake/sampleattn)" >&2
    exit 1
fi

# 1. The sdist, checked.
if [ ! -f "$out/dl/$sdist" ]; then
    $pip download --no-deps --no-binary :all: llama-cpp-python==0.3.36 -d "$out/dl"
fi
echo "$sha256  $out/dl/$sdist" | sha256sum -c -

# 2. The llama.cpp source, patched once. The vendored .git is a link into the sdist's
#    superproject: the commit is checked there, and the copy has none (llama.cpp's build then
#    does not depend on git files).
src=$out/llama.cpp
if [ ! -f "$src/.sampleattn-patched" ]; then
    rm -rf "$out/unpack" "$src"
    mkdir -p "$out/unpack"
    tar -xzf "$out/dl/$sdist" -C "$out/unpack"
    vendor=$out/unpack/llama_cpp_python-0.3.36/vendor/llama.cpp
    got=$(git -C "$vendor" rev-parse HEAD 2>/dev/null || echo unknown)
    if [ "$got" != "$commit" ]; then
        echo "error: vendored llama.cpp is at $got, expected $commit" >&2
        exit 1
    fi
    cp -a "$vendor" "$src"
    rm -rf "$src/.git" "$out/unpack"
    patch -d "$src" -p1 --forward < "$here/sampleattn.patch"
    touch "$src/.sampleattn-patched"
fi
# The node's sources are copied every time, so edits here reach the next incremental build.
for f in llama-sampleattn.h llama-sampleattn.cpp; do
    cmp -s "$here/$f" "$src/src/$f" || cp "$here/$f" "$src/src/$f"
done

# 3. Configure (CPU only, native SIMD, OpenMP, static libraries) and build.
generator=()
command -v ninja > /dev/null && generator=(-G Ninja)
if [ ! -f "$out/build/CMakeCache.txt" ]; then
    cmake -S "$src" -B "$out/build" "${generator[@]}" \
        -DCMAKE_BUILD_TYPE=Release \
        -DGGML_NATIVE=ON -DGGML_OPENMP=ON -DGGML_CUDA=OFF \
        -DLLAMA_OPENSSL=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF \
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
        -DBUILD_SHARED_LIBS=OFF \
        -DLLAMA_SAMPLEATTN=ON -DCMAKE_PREFIX_PATH="$prefix"
fi
# shellcheck disable=SC2086
cmake --build "$out/build" -j "$jobs" --target $targets
mkdir -p "$out/bin"
for t in $targets; do cp -p "$out/build/bin/$t" "$out/bin/$t"; done
echo "built into $out/bin: $targets"
