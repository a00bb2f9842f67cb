#!/usr/bin/env bash
# ThreadSanitizer build of the test suite (CPU, OpenMP through LLVM's libomp + Archer), run with
# 2 OpenMP threads so the parallel back projection and OSEM loops are checked for races.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v clang >/dev/null || [ ! -e /usr/lib/llvm-14/lib/libarcher.so ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get install -y -qq clang libomp-14-dev >/dev/null
fi
ARCHER=$(ls /usr/lib/llvm-*/lib/libarcher.so | tail -1)
CC=clang cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPET_SANITIZE_THREAD=ON \
  -DPET_ENABLE_CUDA=OFF -DPET_ENABLE_PYTHON=OFF -DPET_BUILD_BENCH=OFF -DPET_WERROR=OFF >/dev/null
cmake --build build-tsan -j"$(nproc)"
OMP_NUM_THREADS=2 OMP_TOOL_LIBRARIES=$ARCHER TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp" \
  ctest --test-dir build-tsan --output-on-failure -L unit -E "test_fuzz_regressions"
