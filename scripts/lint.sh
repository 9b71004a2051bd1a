#!/usr/bin/env bash
# `make lint`: the checks every tracked file must pass (CONTRIBUTING.md says why these).
#   1. whitespace (.editorconfig): no trailing blanks, no CR, a final newline, tabs only in Makefiles;
#   2. Python: ruff check with ruff.toml's rules;
#   3. Swift: swift-format lint, failing on the rules .swift-format enables (and on files it cannot
#      parse); its layout findings are counted, not enforced;
#   4. C: clang-format reads .clang-format and every C file without error (layout is applied to
#      the lines a change touches, with `git clang-format`, not enforced on the tree).
# RUFF, SWIFT_FORMAT and CLANG_FORMAT name the tools (default: from PATH; swift-format from
# /opt/swift when not on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."
ruff=${RUFF:-ruff}
swift_format=${SWIFT_FORMAT:-$(command -v swift-format || echo /opt/swift/usr/bin/swift-format)}
clang_format=${CLANG_FORMAT:-clang-format}
failed=0
fail() { echo "FAIL: $*" >&2; failed=1; }

# Data, captured results, stored fuzz inputs and patches (whose blank context lines are a single
# space) are not text we write.
mapfile -t files < <(git ls-files | grep -v -E '^(data|bench/results|Tests/fuzz/regressions)/|^LICENSE$|\.patch$' \
                     | while read -r f; do [ -f "$f" ] && ! [ -L "$f" ] && echo "$f"; done)
mapfile -t text < <(for f in "${files[@]}"; do grep -Iq . "$f" 2> /dev/null && echo "$f"; done)

echo "== whitespace: ${#text[@]} text files"
bad=$(grep -l -E '[[:space:]]+$' "${text[@]}" || true)
[ -z "$bad" ] || fail "trailing whitespace in: $bad"
bad=$(grep -l $'\r' "${text[@]}" || true)
[ -z "$bad" ] || fail "CR line endings in: $bad"
bad=$(for f in "${text[@]}"; do [ -z "$(tail -c1 "$f")" ] || echo "$f"; done)
[ -z "$bad" ] || fail "no final newline in: $bad"
bad=$(grep -l $'\t' "${text[@]}" | grep -v -E '(^|/)Makefile$' || true)
[ -z "$bad" ] || fail "tabs outside Makefiles in: $bad"

echo "== ruff $("$ruff" --version | cut -d' ' -f2)"
"$ruff" check --quiet . || fail "ruff check"

echo "== swift-format $("$swift_format" --version)"
mapfile -t swift < <(printf '%s\n' "${files[@]}" | grep '\.swift$')
enforced=$(python3 -c 'import json; print(" ".join(r for r, on in json.load(open(".swift-format"))["rules"].items() if on))')
findings=$("$swift_format" lint --configuration .swift-format "${swift[@]}" 2>&1) || fail "swift-format lint could not process every file"
errors=$(grep -E ': error: ' <<< "$findings" || true)
[ -z "$errors" ] || { echo "$errors"; fail "swift-format errors"; }
broken=$(grep -E ": warning: \[($(tr ' ' '|' <<< "$enforced"))\]" <<< "$findings" || true)
[ -z "$broken" ] || { echo "$broken"; fail "swift-format: enforced rules broken"; }
layout=$(grep -c ': warning: ' <<< "$findings" || true)
echo "   ${#swift[@]} files; $(wc -w <<< "$enforced") rules enforced; $layout other findings (layout, not enforced)"

echo "== $("$clang_format" --version)"
mapfile -t csrc < <(printf '%s\n' "${files[@]}" | grep -E '\.(c|h)$')
"$clang_format" --dry-run "${csrc[@]}" 2> /dev/null || fail "clang-format could not process the C files with .clang-format"
echo "   ${#csrc[@]} files formatted without error"

[ "$failed" = 0 ] || exit 1
echo "lint passed"
