#!/usr/bin/env bash
# The shipping configuration: libsampleattn built with -DSA_STATIC_SWIFT_STDLIB=ON must run on a
# machine without a Swift toolchain. Run by `make test-static` after building <static build dir>.
#   1. the install test with static=ON (examples/c and examples/engine built against the
#      installed prefix with pkg-config and find_package; ldd shows no libswift*);
#   2. its own install: no libswift* in NEEDED or ldd, no RUNPATH into the toolchain;
#   3. the engine example run with a clean environment (env -i, no LD_LIBRARY_PATH) under
#      LD_DEBUG=libs: no file under the toolchain is opened;
#   4. the toolchain hidden: in a private mount namespace an empty directory is bind-mounted over
#      the toolchain (the whole /opt/swift/usr), and the engine example runs there. As a control,
#      a program linked to the default (dynamic-runtime) build must fail to load in the same setup.
#      Needs root (unshare -m); skipped with a message otherwise.
#   test_static.sh <static build dir> <source dir> [C compiler] [default build dir]
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
cc=${3:-${CC:-cc}}
dynbuild=${4:-}
fail() { echo "FAIL: $*" >&2; exit 1; }

grep -q '^SA_STATIC_SWIFT_STDLIB:BOOL=ON' "$build/CMakeCache.txt" || fail "$build is not configured with -DSA_STATIC_SWIFT_STDLIB=ON"
# The Swift compiler CMake used (CMakeFiles/<version>/CMakeSwiftCompiler.cmake), else PATH's.
swiftc=$(sed -n 's/^set(CMAKE_Swift_COMPILER "\(.*\)")$/\1/p' "$build"/CMakeFiles/*/CMakeSwiftCompiler.cmake 2> /dev/null | head -1)
swiftc=${swiftc:-$(command -v swiftc || true)}
[ -x "$swiftc" ] || fail "cannot find the Swift compiler of $build"
toolchain=$(cd "$(dirname "$(readlink -f "$swiftc")")/.." && pwd)   # e.g. /opt/swift/usr
[ -d "$toolchain/lib/swift/linux" ] || fail "$toolchain has no lib/swift/linux: not a Swift toolchain?"
echo "== static-runtime build in $build; toolchain $toolchain"

echo "== 1. install test of the static build"
bash "$src/Tests/install/test_install.sh" "$build" "$src" "$cc" ON > "$build/test_install_static.log" 2>&1 \
    || { cat "$build/test_install_static.log"; fail "install test (static)"; }
grep -E '^(==|engine example|install test)' "$build/test_install_static.log" | sed 's/^/   /'

tmp=$(mktemp -d)
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" > /dev/null
lib=$(readlink -f "$prefix/lib/libsampleattn.so")

echo "== 2. dependencies of the installed $(basename "$lib")"
needed=$(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
runpath=$(readelf -d "$lib" | sed -n 's/.*(\(RPATH\|RUNPATH\)).*\[\(.*\)\]/\2/p')
echo "   NEEDED: $needed"
echo "   RUNPATH: ${runpath:-(none)}"
ldd "$lib" | sed 's/^\s*/   ldd: /'
if grep -q 'libswift' <<< "$needed"; then fail "a libswift* library is NEEDED"; fi
if ldd "$lib" | grep -q 'libswift'; then fail "ldd shows a libswift* library"; fi
if ldd "$lib" | grep -qF "$toolchain"; then fail "ldd resolves a library inside $toolchain"; fi
if grep -qF "$toolchain" <<< "$runpath"; then fail "RUNPATH points into $toolchain"; fi
echo "   ok: no libswift*, nothing resolved from $toolchain"

# The engine example against this prefix (pkg-config), run from a copy outside the source tree.
cp -r "$src/examples/engine" "$tmp/engine"
rm -f "$tmp/engine/engine" "$tmp/engine/wait_policy"
PKG_CONFIG_PATH=$prefix/lib/pkgconfig make -s -C "$tmp/engine" CC="$cc" engine
cp -r "$src/data/qwen05b_code_4k" "$tmp/data"
run_engine=("$tmp/engine/engine" --data "$tmp/data" --layers 12)

echo "== 3. clean environment (env -i) with LD_DEBUG=libs"
env -i LD_DEBUG=libs LD_DEBUG_OUTPUT="$tmp/ld" "${run_engine[@]}" > "$tmp/run3.log" 2>&1 \
    || { cat "$tmp/run3.log"; fail "the engine example failed under env -i"; }
opened=$(cat "$tmp"/ld.* | sed -n 's/.*calling init: //p' | sort -u)
echo "$opened" | sed 's/^/   init: /'
if cat "$tmp"/ld.* | grep -F "$toolchain"; then fail "the dynamic loader looked into $toolchain"; fi
grep -q 'all checks passed' "$tmp/run3.log" || { cat "$tmp/run3.log"; fail "engine checks"; }
echo "   ok: the loader never looked into $toolchain; engine example: all checks passed"

echo "== 4. toolchain hidden (mount namespace, empty directory over $toolchain)"
if [ "$(id -u)" != 0 ] || ! unshare -m true 2> /dev/null; then
    echo "   skipped: needs root and unshare -m (steps 2 and 3 stand)"
    exit 0
fi
mkdir -p "$tmp/empty"
# hide.sh <command...>: runs in the new mount namespace; the toolchain becomes an empty directory.
cat > "$tmp/hide.sh" <<EOF
#!/bin/sh
mount --bind "$tmp/empty" "$toolchain" || exit 97
echo "   \$(ls -A "$toolchain" | wc -l) entries visible in $toolchain"
exec env -i "\$@"
EOF
hidden() { unshare -m --propagation private sh "$tmp/hide.sh" "$@"; }
hidden "${run_engine[@]}" > "$tmp/run4.log" 2>&1 || { cat "$tmp/run4.log"; fail "the engine example failed with the toolchain hidden"; }
head -1 "$tmp/run4.log"
grep -E '^(libsampleattn|  \(a\)|  \(c\)|engine example)' "$tmp/run4.log" | sed 's/^/   /'
grep -q 'all checks passed' "$tmp/run4.log" || fail "engine checks with the toolchain hidden"

if [ -n "$dynbuild" ] && [ -e "$dynbuild/libsampleattn.so.0" ]; then
    # Control: the same example linked to the default build (Swift runtime from the toolchain).
    dynprefix=$tmp/dynprefix
    cmake --install "$dynbuild" --prefix "$dynprefix" > /dev/null
    cp -r "$src/examples/engine" "$tmp/engine-dyn"
    rm -f "$tmp/engine-dyn/engine" "$tmp/engine-dyn/wait_policy"
    PKG_CONFIG_PATH=$dynprefix/lib/pkgconfig make -s -C "$tmp/engine-dyn" CC="$cc" engine
    if hidden "$tmp/engine-dyn/engine" --data "$tmp/data" --layers 12 > "$tmp/ctl.log" 2>&1; then
        cat "$tmp/ctl.log"
        fail "control: the dynamic-runtime build ran with the toolchain hidden, so hiding proves nothing"
    fi
    echo "   control: the default build's engine fails there as it must: $(grep -m1 -o 'error while loading shared libraries.*' "$tmp/ctl.log")"
fi
echo "static runtime test passed"
