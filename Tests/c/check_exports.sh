#!/bin/sh
# The exported symbols of the built library are exactly the functions the public header declares
# with SA_API, and its SONAME is the expected one.
#   check_exports.sh <libsampleattn.so> <sampleattn.h> [expected SONAME, default libsampleattn.so.0]
set -eu
lib=$1
header=$2
soname_expected=${3:-libsampleattn.so.0}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Declared: the identifier before the first "(" of each SA_API declaration (not the #defines).
grep -v '^[[:space:]]*#' "$header" | grep 'SA_API' \
    | sed -n 's/^.*SA_API[^(]*[^A-Za-z0-9_]\([A-Za-z_][A-Za-z0-9_]*\)[[:space:]]*(.*$/\1/p' \
    | LC_ALL=C sort -u > "$tmp/declared"
# Exported: every defined dynamic symbol, whatever its type.
nm -D --defined-only "$lib" | awk 'NF >= 3 { print $3 }' | sed 's/@.*//' \
    | LC_ALL=C sort -u > "$tmp/exported"

status=0
n=$(wc -l < "$tmp/declared")
if [ "$n" -lt 10 ]; then
    echo "FAIL: parsed only $n SA_API declarations from $header"; status=1
fi
if ! cmp -s "$tmp/declared" "$tmp/exported"; then
    echo "FAIL: exported symbols differ from the header's SA_API functions"
    echo "  declared but not exported:"; LC_ALL=C comm -23 "$tmp/declared" "$tmp/exported" | sed 's/^/    /'
    echo "  exported but not declared:"; LC_ALL=C comm -13 "$tmp/declared" "$tmp/exported" | sed 's/^/    /'
    status=1
else
    echo "ok: $n exported symbols = the header's SA_API functions"
fi

soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
if [ "$soname" != "$soname_expected" ]; then
    echo "FAIL: SONAME is '$soname', expected '$soname_expected'"; status=1
else
    echo "ok: SONAME $soname"
fi
exit $status
