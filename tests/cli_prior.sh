#!/usr/bin/env bash
# The petrel command with a prior: OSL with beta 0 == OSEM (bit for bit), OSL / BSREM with the
# RDP change the image, bad regularisation flags exit 2 naming the field, a checkpoint written
# with one prior refuses a resume with another and resumes bit for bit with the same.
# usage: cli_prior.sh PETREL FIXTURES_DIR
set -u
PETREL=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
pass=0
fail=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
export OMP_NUM_THREADS=1

timeout 120 "$PETREL" demo --quiet --counts 3e5 --iterations 1 --subsets 4 --out demo --save-data in > demo.log 2>&1
check "demo writes its inputs" test -s in/data.h5 -a -s in/recon.json

timeout 120 "$PETREL" recon --config in/recon.json --iterations 2 --output osem.nii.gz --quiet
timeout 120 "$PETREL" recon --config in/recon.json --iterations 2 --algorithm osl --prior rdp --beta 0 --output osl0.nii.gz --quiet
check "OSL with beta 0 == OSEM (bit for bit)" "$PETREL" diff osem.nii.gz osl0.nii.gz --tol 0
timeout 120 "$PETREL" recon --config in/recon.json --iterations 2 --algorithm osl --prior rdp --beta 5 --output osl.nii.gz --quiet
check "OSL with the RDP writes its image" test -s osl.nii.gz
"$PETREL" diff osem.nii.gz osl.nii.gz --tol 1e-3 > d.log 2>&1; rc=$?
if [ $rc -eq 1 ] && grep -q relative_l2 d.log; then ok "OSL RDP differs from OSEM ($(head -1 d.log))"; else bad "OSL RDP vs OSEM: rc=$rc $(cat d.log)"; fi

# bad regularisation flags: exit 2, the field named, nothing written
for args in "--beta -1:beta" "--prior tv:prior" "--algorithm map:algorithm" "--prior rdp --beta 1:algorithm" \
            "--algorithm bsrem --relaxation 0:relaxation" "--algorithm osl --beta 2:prior" "--gamma -1:gamma"; do
  flags=${args%%:*}
  field=${args##*:}
  # shellcheck disable=SC2086
  "$PETREL" recon --config in/recon.json $flags --output never.nii.gz > bad.log 2>&1; rc=$?
  if [ $rc -eq 2 ] && grep -q "\"$field\"" bad.log && [ ! -e never.nii.gz ]; then ok "$flags: exit 2 naming \"$field\"";
  else bad "$flags: rc=$rc $(tail -1 bad.log)"; fi
done

# checkpoints carry the prior: a resume with another beta is refused, with the same it completes
BS="--algorithm bsrem --prior rdp --beta 5 --relaxation_eta 0.2"
# shellcheck disable=SC2086
timeout 120 "$PETREL" recon --config in/recon.json --iterations 3 $BS --output full.nii.gz --quiet
# shellcheck disable=SC2086
"$PETREL" recon --config in/recon.json --iterations 3 $BS --checkpoint ck.h5 --output part.nii.gz > term.log 2>&1 &
pid=$!
for _ in $(seq 1 1200); do grep -q "subset 2/" term.log 2>/dev/null && break; sleep 0.02; done
kill -TERM $pid; wait $pid; rc=$?
if [ $rc -eq 3 ] && [ -e ck.h5 ]; then
  ok "SIGTERM during BSREM writes a checkpoint"
  "$PETREL" recon --config in/recon.json --iterations 3 --algorithm bsrem --prior rdp --beta 6 --relaxation_eta 0.2 \
    --checkpoint ck.h5 --output part.nii.gz --resume > res.log 2>&1; rc=$?
  if [ $rc -ne 0 ] && grep -q "beta" res.log && [ ! -e part.nii.gz ]; then ok "resume with another beta refused, naming it";
  else bad "resume with another beta: rc=$rc $(tail -2 res.log)"; fi
  # shellcheck disable=SC2086
  timeout 120 "$PETREL" recon --config in/recon.json --iterations 3 $BS --checkpoint ck.h5 --output part.nii.gz --quiet --resume
  check "BSREM resumed == uninterrupted (bit for bit)" "$PETREL" diff full.nii.gz part.nii.gz --tol 0
elif [ $rc -eq 0 ]; then ok "run finished before SIGTERM arrived (machine too fast)";
else bad "SIGTERM: rc=$rc $(tail -3 term.log)"; fi

# the demo takes the same fields
timeout 120 "$PETREL" demo --quiet --counts 3e5 --iterations 1 --subsets 4 --algorithm bsrem --prior rdp --beta 5 \
  --out dreg > dreg.log 2>&1; rc=$?
if [ $rc -eq 0 ] && [ -s dreg/recon.nii.gz ]; then ok "demo with BSREM RDP"; else bad "demo BSREM: rc=$rc $(tail -2 dreg.log)"; fi
"$PETREL" demo --prior rdp --beta 3 --out dbad > dbad.log 2>&1; rc=$?
if [ $rc -eq 2 ] && grep -q "algorithm" dbad.log && [ ! -e dbad ]; then ok "demo: a prior without osl/bsrem exits 2";
else bad "demo prior without algorithm: rc=$rc $(tail -1 dbad.log)"; fi

echo "cli_prior: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
