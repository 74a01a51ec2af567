"""Regenerate the experiments' committed reduced outputs (``make experiments``), timing each script.

    python scripts/run_experiments.py                      # in place: experiments/*/out/
    python scripts/run_experiments.py --out-root DIR       # into DIR/<folder>/ (experiments-check)
    python scripts/run_experiments.py --only seed002_cdse_cds orientation
    python scripts/run_experiments.py --list

RUNS is the one list of what is committed under experiments/*/out/ and the command that writes it
(each script writes its tables and their ``*summary.json`` companions, see experiments/seedlib.py;
scripts/compare_experiments.py compares those companions). Each command runs in its own process
from the repository root with ``--out``; the wall time of each and the total are printed at the
end (and written to ``--times FILE`` as markdown if given). A script that fails does not stop the
others; the exit status is 1 if any failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# (folder under experiments/, script and its arguments). The order matters only for reading the
# log: fit_seed001 first (its committed fit.json feeds seed001's config and packings).
RUNS: list[tuple[str, list[str]]] = [
    ("fit_seed001", ["fit.py"]),
    ("seed000_pbse_rotation", ["run.py"]),
    ("seed001_pbse_neck", ["run.py"]),
    ("seed002_cdse_cds", ["run.py"]),
    ("seed003_cdse_melting", ["run.py"]),
    ("seed004_cspbbr3_stitching", ["run.py"]),
    ("orientation", ["run.py", "--quick"]),
    ("packings", ["run.py"]),
    ("densification", ["run.py"]),
    ("surface_melting", ["theory.py"]),
    ("surface_melting", ["phase_field_table.py"]),
    ("surface_melting", ["fit_phase_field.py"]),
    ("surface_melting", ["fusion.py"]),
    ("surface_melting", ["fusion_cdse.py"]),
]


def command(folder: str, script: list[str], out: Path) -> list[str]:
    return [sys.executable, str(Path("experiments") / folder / script[0]), *script[1:],
            "--out", str(out)]  # fmt: skip


def name(folder: str, script: list[str]) -> str:
    return " ".join([f"{folder}/{script[0]}", *script[1:]])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--out-root", type=Path, help="write DIR/<folder>/ instead of experiments/*/out"
    )
    ap.add_argument("--only", nargs="+", metavar="FOLDER", help="run only these folders")
    ap.add_argument("--times", type=Path, help="also write the wall-time table to this file")
    ap.add_argument("--list", action="store_true", help="print the commands and exit")
    args = ap.parse_args(argv)
    runs = [(f, s) for f, s in RUNS if not args.only or f in args.only]
    if args.only and (unknown := set(args.only) - {f for f, _ in RUNS}):
        ap.error(f"unknown folders: {sorted(unknown)}")
    times, failed = [], []
    t_all = time.perf_counter()
    for folder, script in runs:
        out = (args.out_root / folder) if args.out_root else Path("experiments") / folder / "out"
        cmd = command(folder, script, out)
        if args.list:
            print(" ".join(cmd[1:]))
            continue
        out.mkdir(parents=True, exist_ok=True)
        print(f"== {name(folder, script)} -> {out}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.run(cmd, cwd=ROOT).returncode
        wall = time.perf_counter() - t0
        times.append((name(folder, script), wall, rc))
        print(f"== {name(folder, script)}: exit {rc}, {wall:.0f} s", flush=True)
        if rc:
            failed.append(name(folder, script))
    if args.list:
        return 0
    total = time.perf_counter() - t_all
    lines = ["| script | wall time (s) | exit |", "|---|---|---|"]
    lines += [f"| `{n}` | {w:.0f} | {rc} |" for n, w, rc in times]
    lines.append(f"| total | {total:.0f} | {len(failed)} failed |")
    print("\n".join(lines))
    if args.times:
        args.times.parent.mkdir(parents=True, exist_ok=True)
        args.times.write_text("\n".join(lines) + "\n")
    if failed:
        print("FAILED: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
