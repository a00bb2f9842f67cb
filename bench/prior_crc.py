#!/usr/bin/env python3
"""Contrast recovery vs noise of the demo phantom: OSEM against OSL and BSREM with the RDP at
several betas, from `petrel demo --json` (the metrics of its last iteration: contrast recovery of
the three hot spheres and the cold one, the background's coefficient of variation, the RMSE to
the truth). Prints a markdown table (and the JSON lines with --jsonl); with --png, also the
contrast-recovery vs noise curves (needs matplotlib). --from-jsonl FILE redraws the table and
the plot from saved JSON lines instead of running the demo.

usage: prior_crc.py [--petrel build/petrel] [--betas 2,10,50] [--prior rdp] [--jsonl] [--png F]
                    [--from-jsonl F] [-- demo flags, e.g. --clinical --iterations 10 --subsets 8]
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
    ap.add_argument("--png", help="write the CRC vs background-noise plot to this PNG")
    ap.add_argument("--from-jsonl", help="JSON lines of an earlier --jsonl run: no demo is run")
    ap.add_argument("demo", nargs=argparse.REMAINDER, help="flags passed to petrel demo (after --)")
    a = ap.parse_args()
    extra = [f for f in a.demo if f != "--"]
    betas = [float(b) for b in a.betas.split(",") if b]
    runs = [("osem", "none", 0.0)] + [(alg, a.prior, b) for alg in ("osl", "bsrem") for b in betas]
    rows = []
    if a.from_jsonl:
        with open(a.from_jsonl) as f:
            rows = [json.loads(line) for line in f if line.strip().startswith("{")]
        runs = []
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
    if a.png:
        plot(rows, a.png)


def plot(rows, path):
    """Mean hot-sphere CRC against the background CV: OSEM one point, OSL and BSREM one curve each
    over beta (labelled)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for alg, marker in (("osem", "*"), ("osl", "o"), ("bsrem", "s")):
        rs = sorted((r for r in rows if r["algorithm"] == alg), key=lambda r: r["beta"])
        if not rs:
            continue
        x = [r["bkg_cv"] for r in rs]
        y = [sum(r["crc_hot"]) / len(r["crc_hot"]) for r in rs]
        ax.plot(x, y, marker=marker, markersize=10 if alg == "osem" else 6, linestyle="-" if len(rs) > 1 else "",
                label=alg.upper() + ("" if alg == "osem" else f" + {rs[0]['prior'].upper()}"))
        if alg != "osem":
            for r, xi, yi in zip(rs, x, y):
                ax.annotate(f"β={r['beta']:g}", (xi, yi), textcoords="offset points",
                            xytext=(5, 4) if alg == "osl" else (5, -11), fontsize=8)
    ax.set_xlabel("background coefficient of variation (noise)")
    ax.set_ylabel("mean contrast recovery, hot spheres")
    ax.set_title("petrel demo phantom: contrast recovery vs noise")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
