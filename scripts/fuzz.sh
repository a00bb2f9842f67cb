#!/usr/bin/env bash
# Builds petrel's libFuzzer targets (fuzz/, clang, ASan + UBSan) in ./build-fuzz (or
# $PET_FUZZ_BUILD_DIR) and runs each for a bounded number of executions on its seed corpus
# tests/fuzz_corpus/<target>/ (copied: new inputs go to the build folder, not the tree).
#   bash scripts/fuzz.sh [RUNS [MAX_SECONDS_PER_TARGET]]     defaults: 100000, 120
# Prints, per target, the executions done, exec/s and seconds. Exits non-zero when a target
# crashes, leaks, hits UB or times out; the input that did it is saved as
# build-fuzz/fuzz/artifacts/<target>/crash-* (or leak-*, timeout-*, oom-*): keep it as a
# regression case in tests/fuzz_regressions/<target>/ (see tests/test_fuzz_regressions.c).
# Extra libFuzzer flags: PET_FUZZ_FLAGS="-max_len=8192 ...". Targets: PET_FUZZ_TARGETS (space-
# separated names, default every fuzz/fuzz_*.c but h5, whose libhdf5 has a known heap
# over-read on corrupt files: see fuzz/known/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-100000}
MAX_TIME=${2:-120}
BUILD=${PET_FUZZ_BUILD_DIR:-build-fuzz}

if ! command -v clang >/dev/null 2>&1 ||
   [ -z "$(clang -print-file-name=libclang_rt.fuzzer-x86_64.a 2>/dev/null | grep /)" ] ||
   [ ! -e "$(clang -print-file-name=libclang_rt.fuzzer-x86_64.a)" ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "fuzz: installing clang and libFuzzer (libclang-rt-dev)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    clang libclang-rt-dev libomp-dev >/dev/null
fi

CC=clang cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPET_BUILD_FUZZ=ON \
  -DPET_ENABLE_CUDA=OFF -DPET_ENABLE_PYTHON=OFF -DPET_BUILD_TESTS=OFF -DPET_BUILD_BENCH=OFF \
  >/dev/null
cmake --build "$BUILD" -j"$(nproc)" >/dev/null

# One thread: the inputs are tiny and OpenMP start-up would dominate every execution.
export OMP_NUM_THREADS=1
ASAN_BASE=${ASAN_OPTIONS:-detect_leaks=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$PWD/fuzz/lsan.supp}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fail=0
printf '%-22s %10s %10s %8s  %s\n' target execs exec/s seconds result
TARGETS=${PET_FUZZ_TARGETS:-$(for f in fuzz/fuzz_*.c; do basename "$f" .c; done |
                              sed 's/^fuzz_//' | grep -vx h5)}
for target in $TARGETS; do
  exe=$BUILD/fuzz/fuzz_$target
  [ -x "$exe" ] || { echo "fuzz: no target $exe"; fail=1; continue; }
  # libhdf5 has no frame pointers: the slow unwinder lets lsan.supp match its stacks
  export ASAN_OPTIONS=$ASAN_BASE
  [ "$target" = h5 ] && export ASAN_OPTIONS=$ASAN_BASE:fast_unwind_on_malloc=0
  seeds=tests/fuzz_corpus/$target
  work=$BUILD/fuzz/corpus/$target
  art=$BUILD/fuzz/artifacts/$target
  log=$BUILD/fuzz/$target.log
  mkdir -p "$work" "$art"
  [ -d "$seeds" ] && cp -n "$seeds"/* "$work"/ 2>/dev/null || true
  start=$(date +%s.%N)
  rc=0
  # shellcheck disable=SC2086
  "$exe" -runs="$RUNS" -max_total_time="$MAX_TIME" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$art/" ${PET_FUZZ_FLAGS:-} "$work" >"$log" 2>&1 || rc=$?
  secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  result=ok
  if [ "$rc" -ne 0 ]; then
    result="FAILED (rc $rc, log $log)"
    fail=1
  fi
  printf '%-22s %10s %10s %8.1f  %s\n' "$target" "${execs:-?}" "${rate:-?}" "$secs" "$result"
  if [ "$rc" -ne 0 ]; then
    grep -E "ERROR|runtime error|SUMMARY|Test unit written" "$log" | head -20 || true
  fi
done
exit $fail
