#!/usr/bin/env python3
"""Turns the JSON lines of bench/scaling.sh (and, optionally, of bench_reduce) into one PNG.

usage: python3 bench/plot_scaling.py scaling.jsonl [reduce.jsonl ...] -o scaling.png

Panels: time per iteration against ranks (strong and weak, per reduction); efficiency with
the ideal line and the core count marked; the per-phase split of each strong-scaling run;
and, with bench_reduce lines, the reduction alone (allreduce vs slab) against image size.
"""
import argparse
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load(paths):
    scaling, reduce = [], []
    for p in paths:
        with open(p) as f:
            for line in f:
                line = line.strip()
                if not line.startswith("{"):
                    continue
                d = json.loads(line)
                if d.get("bench") == "scaling":
                    scaling.append(d)
                elif d.get("bench") == "reduce":
                    reduce.append(d)
    return scaling, reduce


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("-o", "--output", default="scaling.png")
    args = ap.parse_args()
    scaling, reduce = load(args.inputs)
    if not scaling and not reduce:
        raise SystemExit("plot_scaling: no scaling or reduce JSON lines in the inputs")
    npanel = 3 + (1 if reduce else 0)
    fig, axes = plt.subplots(1, npanel, figsize=(5 * npanel, 4.2))
    cores = max((d["cores"] for d in scaling), default=0)
    styles = {("strong", "allreduce"): "o-", ("strong", "slab"): "s--",
              ("weak", "allreduce"): "^-", ("weak", "slab"): "v--"}

    ax = axes[0]
    for (mode, red), st in styles.items():
        pts = sorted((d["ranks"], d["iter_s"]) for d in scaling
                     if d["mode"] == mode and (d["reduce"] == red or d["ranks"] == 1))
        if len(pts) > 1:
            ax.plot(*zip(*pts), st, label=f"{mode}, {red}")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("ranks")
    ax.set_ylabel("seconds per iteration")
    ax.set_title("time per iteration")
    ax.legend(fontsize=8)

    ax = axes[1]
    for (mode, red), st in styles.items():
        pts = sorted((d["ranks"], d["efficiency"]) for d in scaling
                     if d["mode"] == mode and (d["reduce"] == red or d["ranks"] == 1))
        if len(pts) > 1:
            ax.plot(*zip(*pts), st, label=f"{mode}, {red}")
    ranks = sorted({d["ranks"] for d in scaling})
    if ranks:
        ax.plot(ranks, [1.0] * len(ranks), "k:", label="ideal")
        if cores:
            bound = [min(1.0, cores / r) for r in ranks]
            ax.plot(ranks, bound, "r:", label=f"bound with {cores} cores")
    ax.set_xscale("log", base=2)
    ax.set_ylim(0, 1.3)
    ax.set_xlabel("ranks")
    ax.set_ylabel("efficiency")
    ax.set_title("efficiency (strong: t1/(N tN), weak: t1/tN)")
    ax.legend(fontsize=8)

    ax = axes[2]
    runs = sorted((d for d in scaling if d["mode"] == "strong"), key=lambda d: (d["reduce"], d["ranks"]))
    labels = [f'{d["ranks"]}r {d["reduce"][:4]}' for d in runs]
    bottom = [0.0] * len(runs)
    for phase, color in (("project_s", "tab:blue"), ("reduce_s", "tab:red"),
                         ("update_s", "tab:green"), ("gather_s", "tab:orange")):
        vals = [d[phase] for d in runs]
        ax.bar(labels, vals, bottom=bottom, color=color, label=phase[:-2])
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax.bar(labels, [d["io_s"] for d in runs], bottom=bottom, color="tab:gray", alpha=0.5,
           label="I/O (once per run)")
    ax.set_ylabel("seconds per iteration")
    ax.set_title("strong scaling: phase split")
    ax.tick_params(axis="x", labelrotation=45)
    ax.legend(fontsize=8)

    if reduce:
        ax = axes[3]
        for n in sorted({d["ranks"] for d in reduce}):
            for red, st in (("allreduce", "o-"), ("slab", "s--")):
                pts = sorted((d["mbytes"], d["total_s"] * 1e3) for d in reduce
                             if d["ranks"] == n and d["variant"] == red)
                if pts:
                    ax.plot(*zip(*pts), st, label=f"np {n}, {red}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("image MB (float32)")
        ax.set_ylabel("ms per subset (reduce + update [+ gather])")
        ax.set_title("per-subset reduction alone")
        ax.legend(fontsize=8)

    fig.tight_layout()
    fig.savefig(args.output, dpi=110)
    print(f"plot_scaling: wrote {args.output}")


if __name__ == "__main__":
    main()
