#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""PNG line plots for tools/experiments from a JSON spec, with matplotlib or gnuplot.

  python3 plots.py SPEC.json [--backend matplotlib|gnuplot]

SPEC: {"figures": [{"path": "claim1.png", "title": "...", "panels": [
          {"title": "...", "xlabel": "...", "ylabel": "...", "logx": false, "logy": false,
           "series": [{"label": "...", "x": [...], "y": [...], "faint": false, "marker": false,
                       "color": 0}]}]}]}

run_experiments.py writes the spec and runs this file with an interpreter that can import
matplotlib (the running one, else Debian's /usr/bin/python3 with python3-matplotlib), else with
gnuplot if it is on PATH; with neither it skips the plots and says so in the report.
Standard library only apart from the backend.
"""

import json
import os
import shutil
import subprocess
import sys

COLORS = [
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
]


def render_matplotlib(spec):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for fig_spec in spec["figures"]:
        panels = fig_spec["panels"]
        fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.0), squeeze=False)
        for ax, p in zip(axes[0], panels):
            for s in p["series"]:
                if not s["x"]:
                    continue
                c = COLORS[s.get("color", 0) % len(COLORS)]
                kw = (
                    dict(color=c, linewidth=0.6, alpha=0.35)
                    if s.get("faint")
                    else dict(color=c, linewidth=1.6, label=s.get("label"))
                )
                if s.get("marker"):
                    kw["marker"] = "o"
                    kw["markersize"] = 3.5
                ax.plot(s["x"], s["y"], **kw)
            if p.get("logx"):
                ax.set_xscale("log")
            if p.get("logy"):
                ax.set_yscale("log")
            ax.set_title(p.get("title", ""), fontsize=10)
            ax.set_xlabel(p.get("xlabel", ""))
            ax.set_ylabel(p.get("ylabel", ""))
            ax.grid(True, alpha=0.3)
            if any(s.get("label") and not s.get("faint") and s["x"] for s in p["series"]):
                ax.legend(fontsize=7)
        fig.suptitle(fig_spec.get("title", ""), fontsize=11)
        fig.tight_layout()
        fig.savefig(fig_spec["path"], dpi=90)
        plt.close(fig)


def _gp_quote(s):
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


def gnuplot_script(spec):
    lines = []
    for fig_spec in spec["figures"]:
        panels = fig_spec["panels"]
        lines.append(f"set terminal pngcairo size {int(470 * len(panels))},380 font ',8'")
        lines.append(f"set output {_gp_quote(fig_spec['path'])}")
        lines.append(
            f"set multiplot layout 1,{len(panels)} title {_gp_quote(fig_spec.get('title', ''))}"
        )
        for p in panels:
            lines.append("unset logscale")
            if p.get("logx"):
                lines.append("set logscale x")
            if p.get("logy"):
                lines.append("set logscale y")
            lines.append(f"set title {_gp_quote(p.get('title', ''))}")
            lines.append(f"set xlabel {_gp_quote(p.get('xlabel', ''))}")
            lines.append(f"set ylabel {_gp_quote(p.get('ylabel', ''))}")
            lines.append("set grid")
            lines.append("set key top right")
            series = [s for s in p["series"] if s["x"]]
            if not series:
                lines.append("set label 1 'no data' at graph 0.45,0.5")
                lines.append("plot 0 notitle lc rgb 'white'")
                lines.append("unset label 1")
                continue
            parts = []
            for s in series:
                c = COLORS[s.get("color", 0) % len(COLORS)]
                style = "linespoints pt 7 ps 0.5" if s.get("marker") else "lines"
                width = 1 if s.get("faint") else 2
                title = (
                    "notitle"
                    if s.get("faint") or not s.get("label")
                    else f"title {_gp_quote(s['label'])}"
                )
                color = c if not s.get("faint") else "#80" + c[1:]
                parts.append(
                    f"'-' using 1:2 with {style} lw {width} lc rgb {_gp_quote(color)} {title}"
                )
            lines.append("plot " + ", ".join(parts))
            for s in series:
                for x, y in zip(s["x"], s["y"]):
                    lines.append(f"{x} {y}")
                lines.append("e")
        lines.append("unset multiplot")
        lines.append("unset output")
    return "\n".join(lines) + "\n"


def render_gnuplot(spec):
    gp = shutil.which("gnuplot")
    if not gp:
        raise RuntimeError("gnuplot not found")
    subprocess.run(
        [gp],
        input=gnuplot_script(spec),
        text=True,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def have_matplotlib():
    try:
        import matplotlib  # noqa: F401

        return True
    except ImportError:
        return False


def main(argv):
    import argparse

    ap = argparse.ArgumentParser(description="render tools/experiments plot specs")
    ap.add_argument("spec")
    ap.add_argument("--backend", choices=["matplotlib", "gnuplot", "auto"], default="auto")
    a = ap.parse_args(argv)
    with open(a.spec) as f:
        spec = json.load(f)
    backend = a.backend
    if backend == "auto":
        backend = "matplotlib" if have_matplotlib() else "gnuplot"
    (render_matplotlib if backend == "matplotlib" else render_gnuplot)(spec)
    missing = [fs["path"] for fs in spec["figures"] if not os.path.exists(fs["path"])]
    if missing:
        print("plots: not written: " + ", ".join(missing), file=sys.stderr)
        return 1
    print(backend)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
