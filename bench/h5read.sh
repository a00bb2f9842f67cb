#!/usr/bin/env bash
# Parallel read of a list-mode file vs `dd` of the same file, in one run (issue 16): for each
# cache state (cold: page cache dropped before each read, which needs root; warm: the file just
# read), `dd bs=16M` of the file, then `mpirun -np N bench_h5read` for each N. One JSON line
# each, the bench's with "vs_dd" = its GB/s over dd's of the same cache state.
# usage: bench/h5read.sh BUILD_DIR FILE [RANKS="1 2 4 8"] > h5read.jsonl
#   env: STATES ("cold warm"; cold is skipped when /proc/sys/vm/drop_caches is not writable),
#        REPEAT (3, warm only: cold reads are one each)
set -euo pipefail
B=$(readlink -f "${1:?usage: bench/h5read.sh BUILD_DIR FILE [RANKS]}")
F=${2:?usage: bench/h5read.sh BUILD_DIR FILE [RANKS]}
RANKS=${3:-1 2 4 8}
STATES=${STATES:-cold warm}
REPEAT=${REPEAT:-3} # warm: the fastest of 3 reads (the first also faults the buffers in)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
MPIRUN=${MPIRUN:-mpirun --allow-run-as-root --oversubscribe --bind-to none}
drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }
for state in $STATES; do
  if [ "$state" = cold ] && ! { [ -w /proc/sys/vm/drop_caches ] && drop 2> /dev/null; }; then
    echo "h5read.sh: cannot drop the page cache (not root?): no cold runs" >&2
    continue
  fi
  [ "$state" = warm ] && cat "$F" > /dev/null
  s=$(dd if="$F" of=/dev/null bs=16M 2>&1 | awk '/copied/ { print $(NF-3) " " $(NF-1) " " $NF }')
  bytes=$(stat -c %s "$F")
  secs=$(echo "$s" | awk '{ print $1 }')
  dd_gbs=$(python3 -c "print(round($bytes / $secs / 1e9, 3))")
  echo "{\"bench\":\"dd\",\"state\":\"$state\",\"bytes\":$bytes,\"seconds\":$secs,\"gb_per_s\":$dd_gbs}"
  r=$REPEAT
  [ "$state" = cold ] && r=1
  for n in $RANKS; do
    [ "$state" = cold ] && drop
    $MPIRUN -np "$n" "$B/bench/bench_h5read" --file "$F" --repeat "$r" |
      python3 -c "import json, sys; d = json.loads(sys.stdin.readline()); d['state'] = '$state'; d['vs_dd'] = round(d['gb_per_s'] / $dd_gbs, 3); print(json.dumps(d))"
  done
done
