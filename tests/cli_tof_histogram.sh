#!/usr/bin/env bash
# petrel convert / recon with TOF histograms: TOF list-mode binned into a TOF histogram (the
# scanner JSON's numTOFBins, tofBinWidth_ps), its reconstruction equal to the TOF list-mode
# one up to the binning, clear errors. usage: PETREL FIXTURES
set -u
PETREL=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
cd "$T"
pass=0; fail=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
export OMP_NUM_THREADS=2
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

# A small ring (64 detectors x 2 rings, radius 60 mm) with TOF: 400 ps FWHM, 40 bins of 50 ps
# (7.5 mm, a third of the kernel's sigma) reaching +-150 mm: every LOR and the kernel's support.
# 20000 events between roughly opposite detectors, TOF uniform in [-300, 300] ps, as .lmDat.
"$PY" - <<'EOF'
import json, struct, random
base = {"VERSION": 3.2, "scannerName": "TOF64", "axialFOV": 6, "crystalSize_z": 3,
        "crystalSize_trans": 3, "crystalDepth": 10, "scannerRadius": 60, "detsPerRing": 64,
        "numRings": 2, "numDOI": 1, "maxRingDiff": 1, "minAngDiff": 1, "detsPerBlock": 8,
        "tofResolution_ps": 400}
json.dump(base, open("plain.json", "w"))
json.dump(dict(base, numTOFBins=40, tofBinWidth_ps=50), open("tof.json", "w"))
json.dump(dict(base, numTOFBins=20, tofBinWidth_ps=50), open("tof20.json", "w"))
json.dump(dict(base, numTOFBins=0, tofBinWidth_ps=50), open("tof0.json", "w"))
rng = random.Random(7)
with open("lm.lmDat", "wb") as f:
    for e in range(20000):
        i1 = rng.randrange(64); i2 = (i1 + rng.randrange(16, 49)) % 64
        d1 = i1 + 64 * rng.randrange(2); d2 = i2 + 64 * rng.randrange(2)
        f.write(struct.pack("<IIIf", e // 10, d1, d2, rng.uniform(-300.0, 300.0)))
img = {"nx": 24, "ny": 24, "nz": 2, "length_x": 72, "length_y": 72, "length_z": 6}
def recon(name, scanner, data, tof=False):
    json.dump({"scanner": scanner, "data": data, "output": name + ".nii.gz", "iterations": 2,
               "subsets": 1, "projector": "S", "tof": tof, "image": img}, open(name + ".json", "w"))
recon("rh", "tof.json", "tofh.h5")
recon("rl", "plain.json", "lm.h5", tof=True)
recon("rn", "plain.json", "plain.h5")
recon("r20", "tof20.json", "tofh.h5")
EOF

"$PETREL" convert --scanner plain.json --in lm.lmDat --tof --out lm.h5 --quiet
check "TOF .lmDat -> list-mode .h5" test -s lm.h5
"$PETREL" convert --scanner tof.json --in lm.h5 --out tofh.h5 --histogram > conv.out 2> conv.err
check "convert with numTOFBins writes a TOF histogram" grep -q "TOF histogram of 40 TOF bins of 50 ps" conv.out
check "convert kept every event" test ! -s conv.err
"$PETREL" convert --scanner plain.json --in lm.h5 --out plain.h5 --histogram --quiet
check "convert without numTOFBins writes a plain histogram" test -s plain.h5

"$PETREL" convert --scanner tof.json --in lm.h5 --out tofh.his > his.out 2>&1
rc=$?
check "a TOF histogram to .his is refused (exit $rc)" test \( $rc -eq 1 -o $rc -eq 2 \) -a ! -e tofh.his
check "... saying .h5 only" grep -q "h5 only" his.out

"$PETREL" recon --config rh.json --quiet > rh.out 2>&1
check "recon of the TOF histogram" test -s rh.nii.gz
"$PETREL" recon --config rl.json --quiet > rl.out 2>&1
check "recon of the TOF list-mode" test -s rl.nii.gz
"$PETREL" recon --config rn.json --quiet > rn.out 2>&1
check "recon of the plain histogram" test -s rn.nii.gz
"$PETREL" diff rl.nii.gz rh.nii.gz --tol 0.02
check "TOF histogram image == TOF list-mode image (2% relative L2: the binning)" test $? -eq 0
"$PETREL" diff rn.nii.gz rh.nii.gz --tol 0.02 > /dev/null
check "... and not the non-TOF image" test $? -ne 0

"$PETREL" recon --config r20.json --quiet > r20.out 2>&1
rc=$?
check "a file whose TOF bins disagree with the scanner is refused (exit $rc)" test \( $rc -eq 1 -o $rc -eq 2 \) -a ! -e r20.nii.gz
check "... naming numTOFBins" grep -q "numTOFBins" r20.out
"$PETREL" convert --scanner tof0.json --in lm.h5 --out z.h5 > z.out 2>&1
rc=$?
check "numTOFBins 0 in the scanner JSON is refused (exit $rc)" test $rc -eq 1 -o $rc -eq 2
check "... naming numTOFBins" grep -q "numTOFBins" z.out

"$PETREL" back --scanner tof.json --data tofh.h5 --out b.nii.gz > back.out 2>&1
rc=$?
check "petrel back of a TOF histogram is refused, not misread (exit $rc)" test \( $rc -eq 1 -o $rc -eq 2 \) -a ! -e b.nii.gz
check "... saying it is a TOF histogram" grep -q "a TOF histogram (40 TOF bins)" back.out

echo "cli_tof_histogram: $pass passed, $fail failed"
[ $fail -eq 0 ]
