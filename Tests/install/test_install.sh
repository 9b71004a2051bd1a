#!/usr/bin/env bash
# Installs the CMake build into a fresh prefix, builds examples/c and examples/engine against it
# with pkg-config and with find_package, runs them, and checks the installed library for
# build-tree paths.
#   test_install.sh <build dir> <source dir> [C compiler] [SA_STATIC_SWIFT_STDLIB: ON/OFF]
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
cc=${3:-${CC:-cc}}
static=${4:-OFF}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
fail() { echo "FAIL: $*" >&2; exit 1; }

echo "== install into $prefix"
cmake --install "$build" --prefix "$prefix" > "$tmp/install.log" || { cat "$tmp/install.log"; fail "cmake --install"; }
lib=$prefix/lib/libsampleattn.so
for f in lib/libsampleattn.so lib/libsampleattn.so.0 include/sampleattn.h lib/pkgconfig/sampleattn.pc \
         lib/cmake/sampleattn/sampleattnConfig.cmake lib/cmake/sampleattn/sampleattnConfigVersion.cmake; do
    [ -e "$prefix/$f" ] || fail "$f not installed"
done
real=$(readlink -f "$lib")
[[ $real == */lib/libsampleattn.so.[0-9]*.[0-9]*.[0-9]* ]] || fail "libsampleattn.so resolves to $real"
[ "$(readlink "$prefix/lib/libsampleattn.so")" = libsampleattn.so.0 ] || fail "libsampleattn.so is not -> libsampleattn.so.0"

echo "== RPATH/RUNPATH of the installed library"
dyn=$(readelf -d "$real")
paths=$(sed -n 's/.*(\(RPATH\|RUNPATH\)).*\[\(.*\)\].*/\2/p' <<< "$dyn")
echo "   ${paths:-(none)}"
for p in "$build" "$src"; do
    if grep -qF "$p" <<< "$paths"; then fail "RPATH/RUNPATH '$paths' refers to the build tree ($p)"; fi
done
if grep -aqF "$build" "$real"; then fail "the installed library contains the build directory path"; fi
if ldd "$real" | grep -q 'not found'; then ldd "$real"; fail "unresolved dependencies"; fi
if [ "$static" = ON ]; then
    if ldd "$real" | grep -q libswift; then ldd "$real"; fail "SA_STATIC_SWIFT_STDLIB=ON but libswift* is needed"; fi
fi

echo "== examples/c with pkg-config"
cp -r "$src/examples/c" "$tmp/pc"
rm -rf "$tmp/pc/build"
grep -q "^prefix=$prefix\$" "$prefix/lib/pkgconfig/sampleattn.pc" || fail "sampleattn.pc prefix is not $prefix"
PKG_CONFIG_PATH=$prefix/lib/pkgconfig make -C "$tmp/pc" CC="$cc" minimal
"$tmp/pc/minimal"

echo "== examples/c with find_package"
cmake -S "$src/examples/c" -B "$tmp/cm" -G Ninja -DCMAKE_C_COMPILER="$cc" \
      -DCMAKE_PREFIX_PATH="$prefix" > "$tmp/cm.log" || { cat "$tmp/cm.log"; fail "configure examples/c"; }
cmake --build "$tmp/cm"
"$tmp/cm/minimal"

# The engine example (f16 KV cache in ggml's layout, chunked prefill, lse merge) on real data:
# the full run with one build, a different cache layout and chunk size with the other.
data=$src/data/qwen05b_code_4k
echo "== examples/engine with pkg-config"
cp -r "$src/examples/engine" "$tmp/eng-pc"
rm -rf "$tmp/eng-pc/build" "$tmp/eng-pc/engine" "$tmp/eng-pc/wait_policy"
PKG_CONFIG_PATH=$prefix/lib/pkgconfig make -C "$tmp/eng-pc" CC="$cc" engine wait_policy
"$tmp/eng-pc/engine" --data "$data"

echo "== examples/engine with find_package"
cmake -S "$src/examples/engine" -B "$tmp/eng-cm" -G Ninja -DCMAKE_C_COMPILER="$cc" \
      -DCMAKE_PREFIX_PATH="$prefix" > "$tmp/eng-cm.log" || { cat "$tmp/eng-cm.log"; fail "configure examples/engine"; }
cmake --build "$tmp/eng-cm"
"$tmp/eng-cm/engine" --data "$data" --layers 12 --cache tokens --chunk 500
echo "install test passed"
