#!/usr/bin/env bash
# Bad inputs never give a silent wrong image: each is refused with the exit code, a message
# naming the file or field, no output left behind, and (outputs) before any computation.
# Input images (NaN, Inf, negative voxels; mu-maps not in 1/mm), an all-zero normalisation, an
# HDF5 histogram of the wrong size, all-zero counts (a warning), resume against a changed
# scanner or config and without a checkpoint, frames cut from an unsorted HDF5 list-mode, and
# every output path. usage: cli_bad_inputs.sh PETREL FIXTURES_DIR
set -u
PETREL=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
pass=0
fail=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
export OMP_NUM_THREADS=1

timeout 120 "$PETREL" demo --quiet --counts 1e6 --iterations 1 --subsets 4 --out demo --save-data in > demo.log 2>&1
if [ ! -s in/recon.json ] || [ ! -s in/mu.nii.gz ] || [ ! -s in/listmode.h5 ]; then
  echo "FAIL: demo inputs: $(tail -3 demo.log)"; exit 1
fi

# patch_nii IN OUT MODE: a copy of a float32 NIfTI with voxel (5, 7, 2) set to nan/-1/inf, or
# every voxel scaled by a factor (scale:F); python3 standard library only
patch_nii() {
  python3 - "$@" <<'EOF'
import gzip, struct, sys
src, dst, mode = sys.argv[1:4]
raw = bytearray(gzip.open(src).read() if src.endswith('.gz') else open(src, 'rb').read())
nx, ny, nz = struct.unpack_from('<3h', raw, 42)
dtype, = struct.unpack_from('<h', raw, 70)
off = int(struct.unpack_from('<f', raw, 108)[0])
assert dtype == 16, 'float32 expected'
n = nx * ny * nz
vals = list(struct.unpack_from('<%df' % n, raw, off))
if mode.startswith('scale:'):
    f = float(mode[6:])
    vals = [v * f for v in vals]
else:
    vals[(2 * ny + 7) * nx + 5] = {'nan': float('nan'), 'neg': -1.0, 'inf': float('inf')}[mode]
struct.pack_into('<%df' % n, raw, off, *vals)
(gzip.open(dst, 'wb') if dst.endswith('.gz') else open(dst, 'wb')).write(bytes(raw))
EOF
}
patch_nii in/mu.nii.gz mu_nan.nii.gz nan
patch_nii in/mu.nii.gz mu_neg.nii neg
patch_nii in/mu.nii.gz mu_cm.nii.gz scale:10
patch_nii in/mu.nii.gz mu_m.nii.gz scale:1000
patch_nii in/mu.nii.gz zero.nii.gz scale:0
patch_nii demo/truth.nii.gz act_inf.nii.gz inf
patch_nii demo/truth.nii.gz act_neg.nii.gz neg
patch_nii demo/truth.nii.gz act_nan.nii.gz nan

# expect NAME RC PATTERN OUTPUT -- COMMAND...: exit code RC, the log matches PATTERN (grep -E),
# OUTPUT (a file, or "-") does not exist afterwards
expect() {
  local name=$1 want=$2 pattern=$3 out=$4
  shift 5
  [ "$out" != - ] && rm -rf "$out"
  "$@" > bad.log 2>&1
  local rc=$?
  if [ $rc -ne "$want" ]; then bad "$name: exit $rc, expected $want: $(head -c 400 bad.log)";
  elif [ -n "$pattern" ] && ! grep -qE -- "$pattern" bad.log; then bad "$name: message does not match '$pattern': $(head -c 400 bad.log)";
  elif [ "$out" != - ] && [ -e "$out" ]; then bad "$name: left $out behind";
  else ok "$name"; fi
}
R() { "$PETREL" recon --config in/recon.json --quiet "$@"; }

# ---- input images ----
expect "mu-map with a NaN voxel" 1 'attenuation_image.*mu_nan.nii.gz.*voxel \(5, 7, 2\).*nan' o.nii.gz -- \
  R --attenuation "" --attenuation_image mu_nan.nii.gz --output o.nii.gz
expect "mu-map with a negative voxel" 1 'attenuation_image.*mu_neg.nii.*voxel \(5, 7, 2\) holds -1' o.nii.gz -- \
  R --attenuation "" --attenuation_image mu_neg.nii --output o.nii.gz
expect "mu-map in 1/cm (10x too large)" 1 'attenuation_image.*mu_cm.nii.gz.*1/mm.*water is 0.0096' o.nii.gz -- \
  R --attenuation "" --attenuation_image mu_cm.nii.gz --output o.nii.gz
expect "mu-map in 1/m (a voxel > 1 /mm)" 1 'attenuation_image.*mu_m.nii.gz.*largest 9.6.*1/mm' o.nii.gz -- \
  R --attenuation "" --attenuation_image mu_m.nii.gz --output o.nii.gz
expect "the demo's mu-map (1/mm) is accepted" 0 '' - -- \
  R --attenuation "" --attenuation_image in/mu.nii.gz --output mu_ok.nii.gz
expect "initial image with an infinite voxel" 1 'initial_image.*act_inf.nii.gz.*voxel \(5, 7, 2\).*inf' o.nii.gz -- \
  R --initial_image act_inf.nii.gz --output o.nii.gz
expect "sensitivity with a negative voxel" 1 'sensitivity.*act_neg.nii.gz.*voxel \(5, 7, 2\) holds -1' o.nii.gz -- \
  R --sensitivity act_neg.nii.gz --output o.nii.gz
expect "fwd --image with a NaN voxel" 1 '\-\-image.*act_nan.nii.gz.*voxel \(5, 7, 2\).*nan' p.his -- \
  "$PETREL" fwd --scanner in/scanner.json --image act_nan.nii.gz --out p.his --quiet
expect "dynamic: sensitivity with a NaN voxel" 1 'sensitivity.*act_nan.nii.gz.*voxel \(5, 7, 2\)' dyn.nii.gz -- \
  R --data in/listmode.h5 --frames 2x100 --sensitivity act_nan.nii.gz --output dyn.nii.gz

# ---- corrections and counts ----
"$PETREL" fwd --scanner in/scanner.json --image zero.nii.gz --out zeros.h5 --quiet
expect "all-zero normalisation" 1 'zeros.h5.*"normalisation".*every bin is 0' o.nii.gz -- \
  R --normalisation zeros.h5 --output o.nii.gz
expect "all-zero attenuation factors" 1 'zeros.h5.*"attenuation".*every bin is 0' o.nii.gz -- \
  R --attenuation zeros.h5 --output o.nii.gz
expect "all-zero counts: a warning, the run completes" 0 'warning: .*zeros.h5.*every bin of the histogram is 0' - -- \
  R --data zeros.h5 --output zc.nii.gz
sed -E 's/"detsPerRing":[[:space:]]*256/"detsPerRing": 128/' in/scanner.json > other_scanner.json
"$PETREL" fwd --scanner other_scanner.json --image zero.nii.gz --grid 96,96,8,240,240,25 --out other.h5 --quiet \
  > /dev/null 2>&1 || "$PETREL" fwd --scanner other_scanner.json --image zero.nii.gz --out other.h5 --quiet
expect "HDF5 /histogram of another scanner's size (data)" 1 'other.h5.*"data".*/histogram has [0-9]+ bins.*has [0-9]+' o.nii.gz -- \
  R --data other.h5 --output o.nii.gz
expect "HDF5 /histogram of another scanner's size (normalisation)" 1 'normalisation.*other.h5.*/histogram has [0-9]+ bins' o.nii.gz -- \
  R --normalisation other.h5 --output o.nii.gz

python3 -c "
raw = open('in/data.h5', 'rb').read()
assert raw.count(b'yrtpet-histogram3d-v1') == 1
open('badorder.h5', 'wb').write(raw.replace(b'yrtpet-histogram3d-v1', b'yrtpet-histogram3d-v9'))"
expect "HDF5 histogram with a bad attribute: says so (not 'no list-mode')" 1 '"data".*badorder.h5.*/histogram has bin_order' o.nii.gz -- \
  R --data badorder.h5 --output o.nii.gz

# ---- resume ----
expect "--resume without a checkpoint field or file" 2 '\-\-resume.*checkpoint' o.nii.gz -- \
  R --output o.nii.gz --resume
expect "--resume with a checkpoint that does not exist" 2 '\-\-resume.*none.h5 does not exist' o.nii.gz -- \
  R --output o.nii.gz --checkpoint none.h5 --resume
cp in/scanner.json sc.json
"$PETREL" recon --config in/recon.json --scanner sc.json --iterations 50 --checkpoint ck.h5 --output ck.nii.gz > term.log 2>&1 &
pid=$!
for _ in $(seq 1 600); do grep -q "subset 1/" term.log 2>/dev/null && break; sleep 0.02; done
kill -TERM $pid; wait $pid; rc=$?
if [ $rc -eq 3 ] && [ -e ck.h5 ]; then
  ok "a checkpoint to resume from (SIGTERM)"
  expect "resume with other subsets: says which field" 2 'subsets: checkpoint 4, this run 2' ck.nii.gz -- \
    R --scanner sc.json --iterations 50 --subsets 2 --checkpoint ck.h5 --output ck.nii.gz --resume
  sed -i -E 's/"crystalDepth":[[:space:]]*10/"crystalDepth": 12/' sc.json
  expect "resume with a changed scanner file (same path)" 2 'scanner content: checkpoint checksum [0-9a-f]+, this run checksum [0-9a-f]+' ck.nii.gz -- \
    R --scanner sc.json --iterations 50 --checkpoint ck.h5 --output ck.nii.gz --resume
  cp in/scanner.json moved_scanner.json
  expect "resume with the same scanner at another path is accepted" 0 '' - -- \
    R --scanner moved_scanner.json --iterations 2 --checkpoint ck.h5 --output ck.nii.gz --resume
else
  bad "SIGTERM did not leave a checkpoint: rc=$rc $(tail -3 term.log)"
fi

# ---- frames from an unsorted HDF5 list-mode ----
"$PETREL" convert --scanner in/scanner.json --in in/listmode.h5 --out lm.lmDat --quiet
head -c 24000 lm.lmDat > small.lmDat # 2000 events
python3 - <<'EOF'
import struct
raw = bytearray(open('small.lmDat', 'rb').read())
for i in range(len(raw) // 12):  # sorted, distinct times from 100000 s on
    struct.pack_into('<I', raw, 12 * i, 100000000 + 3 * i)
open('sorted.lmDat', 'wb').write(bytes(raw))
EOF
"$PETREL" convert --scanner in/scanner.json --in sorted.lmDat --out sorted.h5 --quiet
python3 - <<'EOF'
import struct
raw = bytearray(open('sorted.h5', 'rb').read())
a, b = struct.pack('<I', 100000000 + 3 * 10), struct.pack('<I', 100000000 + 3 * 1990)
assert raw.count(a) == 1 and raw.count(b) == 1, 'time values not unique in the file'
i, j = raw.find(a), raw.find(b)
raw[i:i + 4], raw[j:j + 4] = b, a  # event 10 now comes after event 11 in time order
open('unsorted.h5', 'wb').write(bytes(raw))
EOF
expect "frames from a sorted HDF5 list-mode work" 0 '' - -- \
  R --data sorted.h5 --frames "100000-100003,100003-100006" --subsets 1 --output fs.nii.gz
expect "frames from an unsorted HDF5 list-mode are refused" 1 'unsorted.h5.*time_ms is not sorted: event 11' fu.nii.gz -- \
  R --data unsorted.h5 --frames "100000-100003,100003-100006" --subsets 1 --output fu.nii.gz
MPIRUN="mpirun --allow-run-as-root --oversubscribe"
# (rank 0 names the file; whether the other rank's "stopping because rank 0 failed" line is
# printed before mpirun ends it after rank 0's non-zero exit is a race, so it is not required)
expect "2 ranks: frames from an unsorted HDF5 list-mode are refused" 1 'unsorted.h5: /listmode/time_ms is not sorted' fu.nii.gz -- \
  timeout 60 $MPIRUN -np 2 "$PETREL" recon --config in/recon.json --quiet --data unsorted.h5 \
  --frames "100000-100003,100003-100006" --subsets 1 --output fu.nii.gz
expect "2 ranks: an output in a folder that does not exist" 2 '"output".*/nonexistent/o.nii.gz' - -- \
  timeout 60 $MPIRUN -np 2 "$PETREL" recon --config in/recon.json --quiet --output /nonexistent/o.nii.gz
expect "a static reconstruction of the unsorted list-mode is accepted" 0 '' - -- \
  R --data unsorted.h5 --subsets 1 --output su.nii.gz

# ---- outputs: refused before anything is loaded or computed (a late check would take long) ----
mkdir -p adir ro && chmod a-w ro
# timed NAME PATTERN OUTPUT -- COMMAND...: exit 2, message, no output, under 2 s
timed() {
  local name=$1 pattern=$2 out=$3
  shift 4
  local t0 t1
  t0=$(date +%s%N)
  expect "$name" 2 "$pattern" "$out" -- "$@"
  t1=$(date +%s%N)
  local ms=$(((t1 - t0) / 1000000))
  if [ $ms -lt 2000 ]; then ok "$name: failed in $ms ms"; else bad "$name: took $ms ms (checked late?)"; fi
}
BIG=(--iterations 1000 --subsets 4)
timed "recon output in a folder that does not exist" '"output".*/nonexistent/o.nii.gz.*does not exist' - -- \
  R "${BIG[@]}" --output /nonexistent/o.nii.gz
timed "recon output with an extension petrel does not write" '"output".*o.txt.*\.nii' o.txt -- \
  R "${BIG[@]}" --output o.txt
timed "recon output is a directory" '"output".*adir.*directory' - -- \
  R "${BIG[@]}" --output adir
if [ "$(id -u)" != 0 ]; then
  timed "recon output in a read-only folder" '"output".*ro/o.nii.gz.*not writable' ro/o.nii.gz -- \
    R "${BIG[@]}" --output ro/o.nii.gz
fi
timed "checkpoint with a bad extension" '"checkpoint".*ck.nii.*\.h5' ck.nii -- \
  R "${BIG[@]}" --output o.nii.gz --checkpoint ck.nii
timed "checkpoint in a folder that does not exist" '"checkpoint".*/nonexistent/ck.h5' - -- \
  R "${BIG[@]}" --output o.nii.gz --checkpoint /nonexistent/ck.h5
timed "save_sensitivity in a folder that does not exist" '"save_sensitivity".*/nonexistent/s.nii' - -- \
  R "${BIG[@]}" --output o.nii.gz --save_sensitivity /nonexistent/s.nii
timed "petrel sens: save_sensitivity with a bad extension" '"save_sensitivity".*s.png' s.png -- \
  "$PETREL" sens --config in/recon.json --save_sensitivity s.png --quiet
timed "dynamic: TAC outputs where the sidecar is a directory" '"output".*dyn.json.*directory' - -- \
  bash -c "mkdir -p dyn.json && '$PETREL' recon --config in/recon.json --quiet --iterations 1000 --data in/listmode.h5 --frames 2x100 --output dyn.nii.gz"
timed "dynamic: TAC PNG where a directory is" '"tac_mask".*dyn2_tac.png.*directory' - -- \
  bash -c "mkdir -p dyn2_tac.png && '$PETREL' recon --config in/recon.json --quiet --iterations 1000 --data in/listmode.h5 --frames 2x100 --tac_mask in/mu.nii.gz --output dyn2.nii.gz"
timed "demo --out in a folder that does not exist" '\-\-out.*/nonexistent/d' - -- \
  "$PETREL" demo --quiet --iterations 1000 --out /nonexistent/d
timed "demo --save-data is a file" '\-\-save-data.*in/recon.json.*not a folder' - -- \
  "$PETREL" demo --quiet --iterations 1000 --out demo2 --save-data in/recon.json
[ -e demo2 ] && bad "demo left demo2 behind" || ok "demo left nothing behind"
timed "demo --dynamic --out is a file" '\-\-out.*in/recon.json' - -- \
  "$PETREL" demo --dynamic --quiet --iterations 1000 --out in/recon.json
timed "fwd --out with an extension petrel does not write" '\-\-out.*p.txt' p.txt -- \
  "$PETREL" fwd --scanner in/scanner.json --image demo/truth.nii.gz --out p.txt
timed "back --out in a folder that does not exist" '\-\-out.*/nonexistent/b.nii' - -- \
  "$PETREL" back --scanner in/scanner.json --data in/data.h5 --out /nonexistent/b.nii
timed "convert --out with an extension petrel does not write" '\-\-out.*c.csv' c.csv -- \
  "$PETREL" convert --scanner in/scanner.json --in in/listmode.h5 --out c.csv
chmod u+w ro

echo "cli_bad_inputs: $pass passed, $fail failed"
[ $fail -eq 0 ]
