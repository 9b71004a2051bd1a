#!/usr/bin/env bash
# The Python wheel: built from bindings/python, it carries libsampleattn (Swift runtime linked in)
# and libomp, and works in a new venv with no SAMPLEATTN_LIBRARY and no Swift toolchain.
#   1. `python -m build --wheel` of bindings/python (scikit-build-core runs the repository's CMake
#      project; the build venv and CMake tree stay in <work dir> for incremental rebuilds);
#   2. the wheel's files: libsampleattn.so.0 with libomp.so.5 beside it, no libswift* NEEDED,
#      RUNPATH $ORIGIN;
#   3. a new venv installs the wheel (numpy from the index) and runs wheel_check.py with `env -i`
#      in a private mount namespace where the Swift toolchain and the system's libomp are empty
#      directories: results against a float64 reference, the libraries mapped;
#   4. SAMPLEATTN_LIBRARY still overrides the bundled copy; as a control, the default
#      (dynamic-runtime) build fails to load in the same namespace.
#   test_wheel.sh <work dir> <source dir> [default build dir]
set -euo pipefail
work=$(mkdir -p "$1" && cd "$1" && pwd)
src=$(cd "$2" && pwd)
dynbuild=${3:-}
python=${PYTHON:-python3}
fail() { echo "FAIL: $*" >&2; exit 1; }

echo "== 1. build the wheel"
if [ ! -x "$work/buildenv/bin/python" ]; then
    "$python" -m venv "$work/buildenv"
    "$work/buildenv/bin/pip" install -q "scikit-build-core>=1.1" build
fi
rm -rf "$work/dist"
# No build isolation: the build venv already has the backend (one install, not one per build).
(cd "$src/bindings/python" && "$work/buildenv/bin/python" -m build --wheel --no-isolation \
    -C build-dir="$work/cmake" -o "$work/dist" . > "$work/build.log" 2>&1) \
    || { tail -40 "$work/build.log"; fail "wheel build"; }
wheel=$(ls "$work"/dist/sampleattn-*.whl)
echo "   $(basename "$wheel") ($(du -k "$wheel" | cut -f1) KiB)"

echo "== 2. the wheel's files"
rm -rf "$work/unpacked" && mkdir "$work/unpacked"
"$python" -m zipfile -e "$wheel" "$work/unpacked"
pkg=$work/unpacked/sampleattn
for f in libsampleattn.so.0 libomp.so.5 py.typed __init__.py; do
    [ -f "$pkg/$f" ] || fail "the wheel has no sampleattn/$f"
done
needed=$(readelf -d "$pkg/libsampleattn.so.0" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
runpath=$(readelf -d "$pkg/libsampleattn.so.0" | sed -n 's/.*(\(RPATH\|RUNPATH\)).*\[\(.*\)\]/\2/p')
echo "   NEEDED: $needed"
echo "   RUNPATH: $runpath"
if grep -q libswift <<< "$needed"; then fail "a libswift* library is NEEDED"; fi
grep -qw libomp.so.5 <<< "$needed" || fail "libomp.so.5 is not NEEDED (the bundled copy would be unused)"
[ "$runpath" = '$ORIGIN' ] || fail "RUNPATH is '$runpath', not \$ORIGIN"

echo "== 3. a new venv, the toolchain hidden"
rm -rf "$work/venv"
"$python" -m venv "$work/venv"
"$work/venv/bin/pip" install -q "$wheel"
check=("$work/venv/bin/python" "$src/Tests/install/wheel_check.py")
toolchain=/opt/swift/usr
system_omp=$(ldconfig -p | sed -n 's/.*libomp\.so\.5 .*=> //p' | head -1)
[ -n "$system_omp" ] || fail "the system has no libomp.so.5 (ldconfig -p)"
omp_dir=$(dirname "$(readlink -f "$system_omp")")
can_hide=no
if [ "$(id -u)" = 0 ] && unshare -m true 2> /dev/null; then can_hide=yes; fi
mkdir -p "$work/empty"
# hide.sh <dir:dir...> <command...>: in a new mount namespace, each dir becomes an empty
# directory; then the command runs with an empty environment from / (nothing of the checkout).
cat > "$work/hide.sh" <<HIDE
#!/bin/sh
dirs=\$1; shift
for d in \$(echo "\$dirs" | tr ':' ' '); do
    [ -d "\$d" ] || continue
    mount --bind "$work/empty" "\$d" || exit 97
done
cd /
exec env -i "\$@"
HIDE
hidden_from() {   # hidden_from <dir:dir...> <command...>
    if [ "$can_hide" = yes ]; then
        unshare -m --propagation private sh "$work/hide.sh" "$@"
    else
        shift; (cd / && env -i "$@")
    fi
}
hidden() { hidden_from "$toolchain:$omp_dir" "$@"; }
if [ "$can_hide" = yes ]; then
    echo "   hidden: $toolchain, $omp_dir"
else
    echo "   not root or no unshare -m: the toolchain stays visible; wheel_check.py still checks"
    echo "   that no Swift file is mapped"
fi
hidden "${check[@]}" 2>&1 | sed 's/^/   /' || fail "wheel_check.py in the new venv"

echo "== 4. SAMPLEATTN_LIBRARY overrides the bundled library"
probe='import sampleattn
try:
    sampleattn.version(); print("loaded", sampleattn.library_path())
except sampleattn.LibraryNotFoundError as e:
    print("refused:", str(e).splitlines()[1])'
out=$(hidden SAMPLEATTN_LIBRARY=/nonexistent/libsampleattn.so.0 "$work/venv/bin/python" -c "$probe")
echo "   $out"
grep -q '^refused: .*/nonexistent/libsampleattn.so.0: no such file' <<< "$out" \
    || fail "SAMPLEATTN_LIBRARY did not override the bundled library"
if [ -n "$dynbuild" ] && [ -e "$dynbuild/libsampleattn.so.0" ]; then
    lib=$(cd "$dynbuild" && pwd)/libsampleattn.so.0
    out=$(hidden_from "$toolchain" SAMPLEATTN_LIBRARY="$lib" "$work/venv/bin/python" -c "$probe")
    echo "   control, the default build with only the toolchain hidden: $out"
    if [ "$can_hide" = yes ]; then
        grep -q '^refused: .*cannot load.*libswiftCore' <<< "$out" \
            || fail "control: the dynamic-runtime build loaded with the toolchain hidden, so hiding proves nothing"
    fi
fi
echo "wheel test passed"
