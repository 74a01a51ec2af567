"""Adaptive against fixed time steps on the project's own cases: steps, wall time, results.

    python scripts/adaptive_cases.py [--cases demo,seed002,fit_seed001,fit_twin] [--json FILE]

- demo: `sintersim demo` (PbSe pair, 64 x 40, float32, 40 log-spaced saves to 1 s);
- seed002: the seed 002 base case, experiments/seed002_cdse_cds/config.toml (two 15.4 nm
  CdSe/CdS particles, 96 x 54, float32, 60 log-spaced saves to 1500 s: the 22-minute anneal);
- fit_seed001: experiments/fit_seed001/fit.py (bracket, Levenberg-Marquardt, re-centring);
- fit_twin: scripts/fit_twin.py (two parameters, 40 points).

Each runs twice in a fresh process. Runs: with fixed first-order steps (``time.adaptive =
false``, ``time.scheme = "euler"``, the config's ``dt_internal``: every run before adaptive
steps) and with the defaults (error-controlled steps). Fits: with the fit's default (fixed steps
of the config's ``dt_internal``) and with ``--adaptive`` (error-controlled steps frozen per fit
round). Runs report steps and the largest neck difference between
the two at the save-points (nm and cells); fits report the fitted values. Wall times include
compilation (what a user waits for).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FIXED = ["--set", "time.adaptive=false", "--set", "time.scheme=euler"]
RUNS = {
    "demo": ROOT / "sintersim" / "data" / "demo.toml",
    "seed002": ROOT / "experiments" / "seed002_cdse_cds" / "config.toml",
}


def _timed(cmd: list[str]) -> tuple[float, str]:
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stderr[-2000:]}")
    return wall, r.stdout


def _observables(path: Path) -> dict[str, np.ndarray]:
    rows = list(csv.DictReader(path.open()))
    return {k: np.asarray([float(r[k]) for r in rows]) for k in rows[0]}


def run_case(name: str, config: Path, tmp: Path) -> dict:
    out = {}
    for mode, extra in (("fixed", FIXED), ("adaptive", [])):
        d = tmp / f"{name}_{mode}"
        cmd = [sys.executable, "-m", "sintersim", "run", str(config), "--out", str(d), "--quiet"]
        wall, _ = _timed(cmd + ["--set", "output.fields=false", *extra])
        obs = _observables(d / "observables.csv")
        out[mode] = {
            "wall_s": wall,
            "steps": int(obs["steps"][-1]),
            "rejected": int(obs["rejected_steps"][-1]),
            "neck_nm": obs["neck_width_nm"],
        }
    from sintersim.scenario import loads_config

    dx = loads_config(config.read_text()).grid.spacing_nm
    diff = np.abs(out["adaptive"]["neck_nm"] - out["fixed"]["neck_nm"])
    res = {"case": name, "max_neck_diff_nm": float(diff.max()), "max_neck_diff_cells": 0.0}
    res["max_neck_diff_cells"] = res["max_neck_diff_nm"] / dx
    res["final_neck_nm"] = {m: float(out[m]["neck_nm"][-1]) for m in out}
    for m in out:
        res[m] = {k: v for k, v in out[m].items() if k != "neck_nm"}
    return res


def fit_case(name: str, tmp: Path) -> dict:
    script = {
        "fit_seed001": [str(ROOT / "experiments" / "fit_seed001" / "fit.py")],
        "fit_twin": [str(ROOT / "scripts" / "fit_twin.py")],
    }[name]
    res: dict = {"case": name}
    for mode, extra in (("fixed", []), ("adaptive", ["--adaptive"])):
        args = [sys.executable, *script, *extra]
        if name == "fit_seed001":
            args += ["--out", str(tmp / f"{name}_{mode}")]
        wall, stdout = _timed(args)
        res[mode] = {"wall_s": wall, "output": stdout.strip().splitlines()[-6:]}
        # fit.py logs "D_s = V +- E m^2/s"; fit_twin.py prints "| name | true | start | V | E |"
        values = re.findall(r"(D_s) = ([0-9.eE+-]+) \+- ([0-9.eE+-]+)", stdout) + re.findall(
            r"^\| ([a-z_\[\]]+) \| \S+ \| \S+ \| ([0-9.eE+-]+) \| ([0-9.eE+-]+) \|",
            stdout,
            re.M,
        )
        res[mode]["values"] = {k: (float(v), float(e)) for k, v, e in values}
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--cases", default="demo,seed002,fit_seed001,fit_twin")
    ap.add_argument("--json", default=None)
    a = ap.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        for name in a.cases.split(","):
            r = run_case(name, RUNS[name], tmp) if name in RUNS else fit_case(name, tmp)
            results.append(r)
            print(json.dumps(r, default=str), flush=True)
    print("\n| case | fixed: steps, wall (s) | adaptive: steps (rejected), wall (s) | result |")
    print("|---|---|---|---|")
    for r in results:
        f, d = r["fixed"], r["adaptive"]
        if "steps" in f:
            print(
                f"| {r['case']} | {f['steps']}, {f['wall_s']:.1f} | {d['steps']} "
                f"({d['rejected']}), {d['wall_s']:.1f} | neck within "
                f"{r['max_neck_diff_nm']:.3g} nm ({r['max_neck_diff_cells']:.3g} cells) at every "
                "save |"
            )
        else:
            vals = "; ".join(
                f"{k}: {f['values'].get(k, ('?',))[0]} vs {v[0]}" for k, v in d["values"].items()
            )
            print(
                f"| {r['case']} | {f['wall_s']:.1f} | {d['wall_s']:.1f} | {vals or 'see output'} |"
            )
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
