#!/usr/bin/env bash
# The command's conventions: --help on every command and bench program, exit codes as the README
# states (2 for a bad flag or config value), each error printed once, --json stdout is JSON lines
# only, stdout is line-buffered in a pipe, fwd/back take recon's spellings and signed data,
# --save-data writes a relocatable recon.json, the sbatch scripts find petrel and append to logs.
# usage: cli_usage.sh PETREL FIXTURES_DIR
set -u
PETREL=$(readlink -f "$1")
REPO=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$(dirname "$PETREL")/bench
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
pass=0
fail=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
export OMP_NUM_THREADS=2
rc_is() { local want=$1; shift; "$@" > rc.out 2> rc.err; local rc=$?; [ $rc -eq "$want" ] || { echo "  rc=$rc: $(head -c 300 rc.err)"; return 1; }; }

# --help: exit 0, usage on stdout, on every command
for c in demo recon sens fwd back convert diff info; do
  check "petrel $c --help exits 0 with a usage" bash -c "'$PETREL' $c --help > h.out 2>&1 && grep -qi usage h.out"
done
check "petrel --help exits 0" rc_is 0 "$PETREL" --help
check "petrel demo --dynamic --help exits 0" rc_is 0 "$PETREL" demo --dynamic --help
for b in "$BENCH"/bench_*; do
  [ -x "$b" ] || continue
  check "$(basename "$b") --help exits 0 with a usage" bash -c "'$b' --help > h.out 2>&1 && grep -qi usage h.out"
done

"$PETREL" demo --quiet --counts 2e6 --iterations 1 --subsets 2 --out demo --save-data in > demo.log 2>&1
check "demo inputs" test -s in/recon.json -a -s in/data.h5

# exit codes: 2 for a bad flag and for a bad config value, each error printed once
check "recon: unknown flag -> 2" rc_is 2 "$PETREL" recon --config in/recon.json --no_such_field 3
check "recon: bad config value -> 2" rc_is 2 "$PETREL" recon --config in/recon.json --iterations 0
check "... printed once" test "$(grep -c 'iterations' rc.err)" -eq 1
printf '{"iterations": 2, "subsets": }' > broken.json
check "recon: malformed config -> 2" rc_is 2 "$PETREL" recon --config broken.json
check "recon: --vram-budget (its help's spelling) is accepted" rc_is 0 "$PETREL" recon --config in/recon.json \
  --iterations 1 --vram-budget 100 --output vb.nii.gz --quiet
check "fwd: unknown flag -> 2" rc_is 2 "$PETREL" fwd --scanner in/scanner.json --bogus 1
check "fwd: bad value -> 2" rc_is 2 "$PETREL" fwd --scanner in/scanner.json --image demo/truth.nii.gz --out x.h5 --num_rays 0
check "demo: unknown flag -> 2" rc_is 2 "$PETREL" demo --bogus
check "demo: bad projector -> 2" rc_is 2 "$PETREL" demo --projector XYZ
# --seed and --counts: the config's table and ranges (fields "seed", "counts")
check "demo: --seed -1 -> 2" rc_is 2 "$PETREL" demo --seed -1 --out bs
check "... the message names the field seed" grep -q 'field "seed"' rc.err
check "demo: --counts 0 -> 2" rc_is 2 "$PETREL" demo --counts 0 --out bc
check "... the message names the field counts" grep -q 'field "counts"' rc.err
check "demo: --seed without a value -> 2" rc_is 2 "$PETREL" demo --seed
check "demo --dynamic: --seed lucky -> 2 naming the field" rc_is 2 "$PETREL" demo --dynamic --seed lucky --out bd
check "... the message names the field seed" grep -q 'field "seed"' rc.err
"$PETREL" demo --quiet --counts 2e6 --seed 7 --iterations 1 --subsets 2 --out demo7 --save-data in7 > demo7.log 2>&1
check "demo --seed 7: other noise than the default seed (same counts)" sh -c "! '$PETREL' diff demo/recon.nii.gz demo7/recon.nii.gz --tol 1e-3 > /dev/null 2>&1"
"$PETREL" demo --quiet --counts 2e6 --seed 42 --iterations 1 --subsets 2 --out demo42 > demo42.log 2>&1
check "demo --seed 42 (the default) repeats the default run" "$PETREL" diff demo/recon.nii.gz demo42/recon.nii.gz --tol 0
check "unknown command -> 2" rc_is 2 "$PETREL" nosuchcommand
"$PETREL" recon --config in/recon.json --sensitivity /nonexistent/s.nii --output s.nii.gz > e.log 2>&1
check "a missing file's error is printed once" test "$(grep -c 'error:' e.log)" -eq 1

# --json: every stdout line is JSON (human text on stderr); recon and demo
jsonl() { python3 -c 'import json,sys
n=0
for l in open(sys.argv[1]):
    json.loads(l); n+=1
sys.exit(0 if n > 0 else 1)' "$1"; }
"$PETREL" recon --config in/recon.json --iterations 1 --output j.nii.gz --json > j.out 2> j.err
check "recon --json: stdout parses as JSON lines" jsonl j.out
check "recon --json: the layout line is on stderr" grep -q "layout" j.err
"$PETREL" demo --json --counts 2e6 --iterations 1 --subsets 2 --out jd > jd.out 2> jd.err
check "demo --json: stdout parses as JSON lines" jsonl jd.out

# stdout is line-buffered: a pipe sees the first progress line while the run goes on
python3 - "$PETREL" in/recon.json > lb.log 2>&1 <<'PY'
import subprocess, sys
p = subprocess.Popen([sys.argv[1], "recon", "--config", sys.argv[2], "--iterations", "6", "--output", "lb.nii.gz"],
                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
first = p.stdout.readline()
running = p.poll() is None
p.stdout.read(); p.wait()
print("first:", first.strip(), "running:", running)
sys.exit(0 if running and "subset 1/" in first else 1)
PY
check "stdout lines reach a pipe as they are printed ($(tail -1 lb.log))" test $? -eq 0

# fwd/back take recon's spellings; back takes signed data
"$PETREL" fwd --scanner in/scanner.json --image demo/truth.nii.gz --projector MRS --num-rays 2 --out a.his --quiet
"$PETREL" fwd --scanner in/scanner.json --image demo/truth.nii.gz --projector MRS --num_rays 2 --output b.his --quiet
check "fwd: --num_rays/--output == --num-rays/--out" cmp -s a.his b.his
python3 - <<'PY'
import struct
d = bytearray(open("a.his", "rb").read())
nb = 2097152  # bins of the demo's scanner; RAWD: header, then float32 values
h = len(d) - 4 * nb
v = struct.unpack_from("<%df" % nb, d, h)
struct.pack_into("<%df" % nb, d, h, *[-x for x in v])
open("neg.his", "wb").write(d)
PY
"$PETREL" back --scanner in/scanner.json --data a.his --out pos.nii --quiet
"$PETREL" back --scanner in/scanner.json --data neg.his --out neg.nii --quiet > neg.log 2>&1
check "back accepts a signed histogram (a gradient)" test -s neg.nii
python3 - <<'PY'
import struct, sys
def vox(p):
    d = open(p, "rb").read()
    off = int(struct.unpack_from("<f", d, 108)[0])
    return struct.unpack_from("<%df" % ((len(d) - off) // 4), d, off)
a, b = vox("pos.nii"), vox("neg.nii")
sys.exit(0 if max(abs(x + y) for x, y in zip(a, b)) <= 1e-6 * max(abs(x) for x in a) and max(a) > 0 else 1)
PY
check "back of -y == -(back of y)" test $? -eq 0

# --save-data: recon.json holds relative paths and works from any folder, output in the current one
check "recon.json holds no absolute path" test -z "$(grep '"/' in/recon.json)"
mkdir elsewhere && (cd elsewhere && "$PETREL" recon --config ../in/recon.json --quiet)
check "recon --config DIR/recon.json writes its output in the current folder" \
  test -s elsewhere/recon_from_config.nii.gz -a ! -e in/recon_from_config.nii.gz

# sbatch scripts: append to the log on a requeue; PETREL unset: build/petrel, else petrel on PATH
for s in "$REPO"/slurm/*.sbatch; do
  check "$(basename "$s"): #SBATCH --open-mode=append" grep -q "^#SBATCH --open-mode=append" "$s"
done
mkdir -p fakebin sub/build empty
printf '#!/bin/sh\necho "installed petrel $*"\n' > fakebin/petrel
printf '#!/bin/sh\nwhile [ $# -gt 0 ] && [ "$1" != recon ] && [ "${1#*petrel}" = "$1" ]; do shift; done; exec "$@"\n' > fakebin/mpirun
printf '#!/bin/sh\necho "built petrel $*"\n' > sub/build/petrel
chmod +x fakebin/petrel fakebin/mpirun sub/build/petrel
out=$(env -u PETREL PATH="$T/fakebin:/usr/bin:/bin" SLURM_SUBMIT_DIR="$T/empty" bash "$REPO/slurm/petrel-cpu.sbatch" c.json 2>&1)
check "sbatch script: PETREL unset, no build: the petrel on PATH ($out)" grep -q "installed petrel recon --config c.json" <<< "$out"
out=$(env -u PETREL PATH="$T/fakebin:/usr/bin:/bin" SLURM_SUBMIT_DIR="$T/sub" bash "$REPO/slurm/petrel-cpu.sbatch" c.json 2>&1)
check "sbatch script: PETREL unset: build/petrel of the submit folder ($out)" grep -q "built petrel recon" <<< "$out"
out=$(env -u PETREL PATH="/usr/bin:/bin" SLURM_SUBMIT_DIR="$T/empty" bash "$REPO/slurm/petrel-1gpu.sbatch" c.json 2>&1); rc=$?
check "sbatch script: no petrel anywhere: a message and exit 1 ($out)" test $rc -eq 1 -a -n "$(grep 'PETREL=' <<< "$out")"
check "README documents PETREL_LAUNCH=srun with SLURM_MPI_TYPE=pmix and root in a container" \
  bash -c "grep -q PETREL_LAUNCH=srun '$REPO/README.md' && grep -q SLURM_MPI_TYPE=pmix '$REPO/README.md' && grep -q allow-run-as-root '$REPO/README.md'"

echo "cli_usage: $pass passed, $fail failed"
[ $fail -eq 0 ]
