#!/usr/bin/env python3
"""Contrast recovery vs noise of the demo phantom: OSEM against OSL and BSREM with the RDP at
several betas, from `petrel demo --json` (the metrics of its last iteration: contrast recovery of
the three hot spheres and the cold one, the background's coefficient of variation, the RMSE to
the truth). Prints a markdown table (and the JSON lines with --jsonl). Standard library only.

usage: prior_crc.py [--petrel build/petrel] [--betas 2,10,50] [--prior rdp] [--jsonl]
                    [-- demo flags, e.g. --clinical --counts 2e7 --iterations 10 --subsets 8]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile


def run_demo(petrel, flags, extra):
    with tempfile.TemporaryDirectory() as out:
        cmd = [petrel, "demo", "--json", "--out", out] + flags + extra
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"prior_crc: {' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()[-500:]}")
    last = None
    for line in r.stdout.splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if ev.get("event") == "iteration":
            last = ev
    if last is None:
        sys.exit(f"prior_crc: no iteration line from {' '.join(cmd)}")
    return last


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--petrel", default=os.path.join(here, "..", "build", "petrel"))
    ap.add_argument("--betas", default="2,10,50", help="comma-separated betas (default 2,10,50)")
    ap.add_argument("--prior", default="rdp", choices=["rdp", "quadratic"])
    ap.add_argument("--jsonl", action="store_true", help="also print one JSON line per run")
    ap.add_argument("demo", nargs=argparse.REMAINDER, help="flags passed to petrel demo (after --)")
    a = ap.parse_args()
    extra = [f for f in a.demo if f != "--"]
    betas = [float(b) for b in a.betas.split(",") if b]
    runs = [("osem", "none", 0.0)] + [(alg, a.prior, b) for alg in ("osl", "bsrem") for b in betas]
    rows = []
    for alg, prior, beta in runs:
        flags = [] if alg == "osem" else ["--algorithm", alg, "--prior", prior, "--beta", repr(beta)]
        m = run_demo(a.petrel, flags, extra)
        rec = {"algorithm": alg, "prior": prior, "beta": beta, "iterations": m["iteration"],
               "crc_hot": m["crc_hot"], "crc_cold": m["crc_cold"], "bkg_cv": m["bkg_cv"],
               "rmse_rel": m["rmse_rel"], "demo_flags": extra}
        rows.append(rec)
        if a.jsonl:
            print(json.dumps(rec), flush=True)
    print(f"| algorithm | prior | beta | CRC hot 1 | CRC hot 2 | CRC hot 3 | CRC cold | background CV | RMSE |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        h = r["crc_hot"]
        print(f"| {r['algorithm']} | {r['prior']} | {r['beta']:g} | {h[0]:.3f} | {h[1]:.3f} | {h[2]:.3f} | "
              f"{r['crc_cold']:.3f} | {r['bkg_cv']:.3f} | {r['rmse_rel']:.3f} |")
    print(f"\n(petrel demo {' '.join(extra) or '(defaults)'}; last iteration of each run)")


if __name__ == "__main__":
    main()
