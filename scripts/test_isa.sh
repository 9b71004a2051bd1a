#!/usr/bin/env bash
# Every kernel ISA this CPU has, against the scalar reference and a float64 oracle, and the
# dispatcher's choices and refusals. Needs no Swift at run time: the test binaries and the
# library (LD_LIBRARY_PATH may point at a static-runtime build). The real-data check runs the
# Python binding: PYTHON (default python3) with numpy, and SAMPLEATTN_LIBRARY / PYTHONPATH as
# the binding needs them.
#   scripts/test_isa.sh BIN_DIR      (BIN_DIR holds sa_rowtile_test and sa_isa_test)
set -u
bin=${1:?usage: test_isa.sh BIN_DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
fail=0
run() {   # run NAME ENV... -- CMD...: prints the output, counts a failure
    local name=$1; shift
    local envs=()
    while [ "$1" != "--" ]; do envs+=("$1"); shift; done
    shift
    echo "== $name: ${envs[*]:-} $*"
    if env "${envs[@]}" "$@"; then echo "-- $name: ok"; else echo "-- $name: FAILED"; fail=1; fi
}

unset SAMPLEATTN_ISA SAMPLEATTN_TEST_CPU_MASK
grep -m1 "model name" /proc/cpuinfo || true
run rowtile -- "$bin/sa_rowtile_test"
mask=$("$bin/sa_rowtile_test" | sed -n 's/^cpu_isa_mask \(0x[0-9a-f]*\).*/\1/p')
run default -- "$bin/sa_isa_test" check

# Each ISA the CPU has, forced: float32 outputs must be bitwise equal across ISAs.
isas=avx2
(( mask & 2 )) && isas="avx2 avx512"
(( mask & 8 )) && isas="avx2 avx512 amx"
for isa in $isas; do
    run "forced $isa" SAMPLEATTN_ISA=$isa -- "$bin/sa_isa_test" check $isa | tee "${TMPDIR:-/tmp}/isa_$isa.log"
    grep -q -- "-- forced $isa: ok" "${TMPDIR:-/tmp}/isa_$isa.log" || fail=1
done
# Scratch memory is never read before it is written (so fresh, reused and cached workspace give
# the same bits): each ISA again with every block not zeroed filled with NaN bytes.
for isa in $isas; do
    run "poisoned $isa" SAMPLEATTN_ISA=$isa SAMPLEATTN_TEST_POISON_WORKSPACE=1 -- "$bin/sa_isa_test" check $isa \
        | tee "${TMPDIR:-/tmp}/isa_${isa}_poisoned.log"
    if [ "$(grep "^HASH" "${TMPDIR:-/tmp}/isa_$isa.log" | awk '{print $2, $3, $4}')" = \
         "$(grep "^HASH" "${TMPDIR:-/tmp}/isa_${isa}_poisoned.log" | awk '{print $2, $3, $4}')" ] \
       && grep -q "^HASH" "${TMPDIR:-/tmp}/isa_$isa.log"; then
        echo "-- $isa outputs bitwise equal with a poisoned workspace: ok"
    else echo "-- $isa outputs differ with a poisoned workspace: FAILED"; fail=1; fi
done
# Real heads on every ISA: finite, the same bits for any thread count, close to float64.
if "$python" -c "import numpy" 2> /dev/null; then
    for isa in $isas; do
        run "real data $isa" SAMPLEATTN_ISA=$isa PYTHONPATH="$root/bindings/python${PYTHONPATH:+:$PYTHONPATH}" -- \
            "$python" "$root/Tests/isa/real_data_check.py"
    done
else
    echo "-- real data: FAILED ($python has no numpy; set PYTHON)"; fail=1
fi
# float32 precision: bitwise equal on every ISA; bf16 precision: equal on avx2 and avx512 (the
# same rounding and products), AMX tiles sum in their own order.
for prec in f32 bf16; do
    a=$(grep "^HASH .* $prec " "${TMPDIR:-/tmp}/isa_avx2.log" | awk '{print $2, $4}')
    for isa in $isas; do
        [ $isa = avx2 ] && continue
        [ $prec = bf16 ] && [ $isa = amx ] && continue
        b=$(grep "^HASH .* $prec " "${TMPDIR:-/tmp}/isa_$isa.log" | awk '{print $2, $4}')
        if [ -n "$a" ] && [ "$a" = "$b" ]; then echo "-- $prec outputs bitwise equal on avx2 and $isa: ok"
        else echo "-- $prec outputs differ between avx2 and $isa: FAILED"; fail=1; fi
    done
done
(( mask & 8 )) || run "amx refused" SAMPLEATTN_ISA=amx -- "$bin/sa_isa_test" refuse "SAMPLEATTN_ISA=amx asks for an ISA"
(( mask & 2 )) || run "avx512 refused" SAMPLEATTN_ISA=avx512 -- "$bin/sa_isa_test" refuse "SAMPLEATTN_ISA=avx512 asks for an ISA"
run "avx512 refused (hidden)" SAMPLEATTN_ISA=avx512 SAMPLEATTN_TEST_CPU_MASK=0x1 -- "$bin/sa_isa_test" refuse "SAMPLEATTN_ISA=avx512 asks for an ISA"
run "no AVX2 (hidden)" SAMPLEATTN_TEST_CPU_MASK=0 -- "$bin/sa_isa_test" refuse "lacks AVX2"
if [ $fail = 0 ]; then echo "test-isa: PASS"; else echo "test-isa: FAIL"; fi
exit $fail
