#!/bin/sh
# host_threads_test.c built with GCC and GNU OpenMP (libgomp), as llama.cpp/ggml usually are: the
# host's parallel region runs on libgomp while libsampleattn uses LLVM's libomp, two OpenMP
# runtimes in one process. Builds the test against the build tree's library and runs it.
#   host_threads_gomp.sh <gcc> <source dir> <library dir> <output dir>
set -eu
gcc=$1
src=$2
libdir=$3
out=$4
exe=$out/sa_host_threads_test_gomp
"$gcc" -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -fopenmp -I"$src/include" \
    "$src/Tests/c/host_threads_test.c" -o "$exe" -L"$libdir" -lsampleattn -Wl,-rpath,"$libdir" -lpthread
deps=$(ldd "$exe")
echo "$deps" | grep -q 'libgomp' || { echo "FAIL: the test is not linked to libgomp"; exit 1; }
echo "$deps" | grep -q 'libomp' || { echo "FAIL: libsampleattn does not load libomp"; exit 1; }
echo "OpenMP runtimes in the process: $(echo "$deps" | grep -o 'lib[a-z]*omp[^ ]*' | sort -u | tr '\n' ' ')"
exec "$exe" "$src/data/qwen05b_code_4k"
