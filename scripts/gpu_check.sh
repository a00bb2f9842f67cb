#!/usr/bin/env bash
# Everything that needs a GPU, in one go (for the lent GPU machine or a GPU node): build with
# CUDA and the Python module, the whole test suite (gpu, mpi, python, cli labels), the GPU
# tests under compute-sanitizer, and the GPU benchmarks. Logs and JSON lines go to $OUT.
# usage: [OUT=dir] [PYTHON=python3] [MEMCHECK_TIMEOUT=s] scripts/gpu_check.sh
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/petrel-gpu-check}
mkdir -p "$OUT"
FIX=$PWD/tests/fixtures/yrtpet
PY=${PYTHON:-python3}
B=build-gpu
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
cmake -S . -B $B -DPET_WERROR=ON -DPython3_EXECUTABLE="$(command -v "$PY")" \
  > "$OUT/configure.log" 2>&1 || { tail -20 "$OUT/configure.log"; exit 1; }
cmake --build $B -j"$(nproc)" > "$OUT/build.log" 2>&1 || { grep -B2 -A6 -E "error" "$OUT/build.log" | head -60; exit 1; }
echo "== test suite"
ctest --test-dir $B -j8 -LE slurm --output-on-failure --timeout 600 > "$OUT/ctest.log" 2>&1
grep -E "tests passed|tests failed|Failed|\*\*\*" "$OUT/ctest.log" | tail -15
echo "== GPU backend over ranks sharing the GPU (host MPI)"
for np in 1 2 4; do
  OMP_NUM_THREADS=2 timeout 300 mpirun --allow-run-as-root --oversubscribe -np $np ./$B/tests/test_mpi_osem \
    > "$OUT/mpi_osem_np$np.log" 2>&1
  echo "np $np: rc=$? $(grep -E 'PASSED|FAILED' "$OUT/mpi_osem_np$np.log" | tail -1)"
  grep -E "gpu == cpu" "$OUT/mpi_osem_np$np.log"
done
echo "== gpu tests (verbose)"
for t in test_gpu_projector test_gpu_osem test_gpu_scatter; do
  ./$B/tests/$t > "$OUT/$t.log" 2>&1
  echo "$t: rc=$? $(grep -E 'PASSED|FAILED' "$OUT/$t.log" | tail -2 | tr '\n' ' ')"
  grep -E "rel|worst|seed|cpu - gpu" "$OUT/$t.log" | head -40
done
echo "== python gpu tests"
grep -E "passed|failed|skipped" "$OUT/ctest.log" | grep -iv "tests passed" | tail -3
PYTHONPATH=$B/python "$PY" -m pytest -q python/tests -k "gpu or device or torch or seed" 2>&1 | tail -3
echo "== compute-sanitizer memcheck"
for t in test_gpu_projector test_gpu_osem test_gpu_scatter; do
  timeout "${MEMCHECK_TIMEOUT:-240}" compute-sanitizer --tool memcheck ./$B/tests/$t > "$OUT/memcheck_$t.log" 2>&1
  echo "$t: $(grep -E 'ERROR SUMMARY' "$OUT/memcheck_$t.log")"
  grep -E "Invalid|out of bounds|Address" "$OUT/memcheck_$t.log" | head -5
done
echo "== benchmarks"
./$B/bench/bench_gpu | tee "$OUT/bench_gpu.jsonl"
./$B/bench/bench_nccl | tee "$OUT/bench_nccl.jsonl"
echo "== scatter estimate (SSS), clinical geometry: host, then the pair sums on the GPU"
timeout 300 ./$B/bench/bench_scatter | tee "$OUT/bench_scatter.jsonl"
timeout 300 ./$B/bench/bench_scatter --gpu | tee -a "$OUT/bench_scatter.jsonl"
timeout 300 ./$B/bench/bench_scatter --gpu --tof-bins 13 | tee -a "$OUT/bench_scatter.jsonl"
PYTHONPATH=$B/python "$PY" -c "
import petrel as p
im = p.ImageOwned(p.ImageParams(150, 150, 24, 600.0, 600.0, 97.68)); im.allocate(); im.setValue(1.0)
im.writeToFile('$OUT/clinical_ones.nii')"
TIMEFORMAT="fwd_gpu_process_seconds %R"
for i in 1 2; do
  time ./$B/petrel fwd --scanner "$FIX/clinical/scanner.json" --image "$OUT/clinical_ones.nii" \
    --out /tmp/clinical_fwd.his --gpu
done
ls -la /tmp/clinical_fwd.his
timeout 240 ./$B/bench/bench_dynamic --events 100000000 --frames 4 --iterations 1 --subsets 4 --gpu | tee "$OUT/bench_dynamic_gpu.jsonl"
rm -f /tmp/clinical_fwd.his
