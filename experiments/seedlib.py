"""Shared pieces of the seed-paper experiments (issue 10): options, the results table, timing.

Every ``experiments/seed00N_*/run.py`` has three sizes:

* ``--smoke``: the smallest setting, seconds to a minute on a CPU (tests/test_experiments.py);
* default: the reduced version ``make experiments`` runs (all five in under 20 minutes on 2 CPU
  cores);
* ``--full``: the paper-sized version, meant for a GPU.

and writes ``results.md`` -- a table ``quantity | seed value | simulated value | agreement`` whose
simulated column comes from the run -- plus its figures into ``--out`` (default: the folder's
``out/``).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path


def parse_args(doc: str, folder: Path, argv=None) -> argparse.Namespace:
    """``--smoke`` / ``--full`` / ``--out DIR``; ``args.size`` is "smoke", "reduced" or "full"."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawTextHelpFormatter)
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--smoke", action="store_true", help="smallest setting (tests)")
    size.add_argument("--full", action="store_true", help="paper-sized version (GPU)")
    ap.add_argument("--out", type=Path, default=folder / "out", help="output folder")
    args = ap.parse_args(argv)
    args.size = "smoke" if args.smoke else "full" if args.full else "reduced"
    args.out.mkdir(parents=True, exist_ok=True)
    return args


@dataclasses.dataclass
class Row:
    """One line of the results table. ``simulated`` must come from the run."""

    quantity: str
    seed: str
    simulated: str
    agreement: str


def within(value: float, lo: float, hi: float, unit: str = "") -> str:
    """Agreement of a simulated value with a seed range [lo, hi]."""
    if not math.isfinite(value):
        return "no (not reached)"
    if lo <= value <= hi:
        return f"yes (in {lo:g}-{hi:g}{unit})"
    edge = lo if value < lo else hi
    off = (value - edge) / abs(edge) if edge else float("inf")
    return f"no ({off:+.0%} outside {lo:g}-{hi:g}{unit})"


def near(value: float, target: float, rel: float) -> str:
    """Agreement of a simulated value with a seed number to a relative tolerance."""
    if not math.isfinite(value):
        return "no (not reached)"
    off = value / target - 1.0
    return f"{'yes' if abs(off) <= rel else 'no'} ({off:+.0%}; tolerance {rel:.0%})"


def qualitative(ok: bool, what: str) -> str:
    return f"{'yes' if ok else 'no'} ({what})"


def write_results(
    out: Path,
    title: str,
    seed_file: str,
    rows: Sequence[Row],
    *,
    size: str,
    seconds: float,
    notes: Sequence[str] = (),
    figures: Sequence[str] = (),
) -> Path:
    """Write ``out/results.md``: title, seed file, the table, figures and notes."""
    lines = [
        f"# {title}",
        "",
        f"Seed: `shared/seeds/{seed_file}`. Setting: **{size}** "
        f"(wall time {seconds:.0f} s, written {time.strftime('%Y-%m-%d %H:%M')}).",
        "",
        "| quantity | seed value | simulated value | agreement |",
        "|---|---|---|---|",
    ]
    for r in rows:
        cells = (r.quantity, r.seed, r.simulated, r.agreement)
        lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
    if figures:
        lines += ["", "Figures: " + ", ".join(f"`{f}`" for f in figures)]
    if notes:
        lines += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    path = out / "results.md"
    path.write_text("\n".join(lines) + "\n")
    return path


class Clock:
    """Wall time since creation, and a timestamped log line."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.t0

    def log(self, msg: str) -> None:
        print(f"[{self.seconds:6.0f} s] {msg}", flush=True)


def load_script(path: Path, name: str):
    """Import an experiment script by path as module ``name``, once (a plain ``import run`` would
    find the calling script itself, whose folder is first on sys.path)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses need the module registered while it executes
    spec.loader.exec_module(module)
    return module
