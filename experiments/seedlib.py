"""Shared pieces of the seed-paper experiments (issue 10): options, the results table, timing.

Every ``experiments/seed00N_*/run.py`` has three sizes:

* ``--smoke``: the smallest setting (tests/test_experiments.py);
* default: the reduced version ``make experiments`` runs (``scripts/run_experiments.py`` lists
  the commands and prints each one's wall time);
* ``--full``: the paper-sized version, meant for a GPU.

and writes ``results.md`` -- a table ``quantity | seed value | simulated value | agreement`` whose
simulated column comes from the run -- plus its figures into ``--out`` (default: the folder's
``out/``). Every agreement word is computed: `within`, `near`, `at_most` and `qualitative` compare
the measured value with the stated tolerance and format the word from the comparison.

Beside every table a script writes, it writes a machine-readable companion (`write_summary`:
``results.md`` -> ``summary.json``, ``name.md`` -> ``name.summary.json``) holding the same rows and
notes without wall times or dates; ``scripts/compare_experiments.py`` compares the committed
companions with freshly regenerated ones (``make experiments-check``).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path


def parse_args(doc: str, folder: Path, argv=None, flags=None) -> argparse.Namespace:
    """``--smoke`` / ``--full`` / ``--out DIR``; ``args.size`` is "smoke", "reduced" or "full".
    ``flags``: the script's own on/off options, ``{name: help}`` (``--name`` -> ``args.name``)."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawTextHelpFormatter)
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--smoke", action="store_true", help="smallest setting (tests)")
    size.add_argument("--full", action="store_true", help="paper-sized version (GPU)")
    ap.add_argument("--out", type=Path, default=folder / "out", help="output folder")
    for name, help_ in (flags or {}).items():
        ap.add_argument(f"--{name}", action="store_true", help=help_)
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


def at_most(value: float, limit: float, unit: str = "") -> str:
    """Agreement of a simulated value with an upper bound (a seed "none", "no significant")."""
    if not math.isfinite(value):
        return "no (not measured)"
    return f"{'yes' if value <= limit else 'no'} ({value:.2g}{unit}; allowed <= {limit:g}{unit})"


def qualitative(ok: bool, what: str) -> str:
    """A yes/no from a comparison made by the caller (``ok``), with what was compared."""
    return f"{'yes' if ok else 'no'} ({what})"


def summary_path(table: Path) -> Path:
    """The machine-readable companion of a table file: results.md -> summary.json, name.md ->
    name.summary.json."""
    table = Path(table)
    name = "summary.json" if table.name == "results.md" else f"{table.stem}.summary.json"
    return table.with_name(name)


def write_summary(table: Path, *, setting: str, tables: dict, notes: Sequence[str] = (),
                  **extra) -> Path:  # fmt: skip
    """Write the companion of ``table`` (`summary_path`): ``setting``, ``tables`` (name ->
    ``{"columns": [...], "rows": [[cell, ...], ...]}``, cells as printed), ``notes`` and any
    ``extra`` JSON-able items. No wall times or dates: the file is compared across runs."""
    data = {"setting": setting, "tables": tables, "notes": list(notes), **extra}
    path = summary_path(table)
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    return path


def table_of(columns: Sequence[str], rows: Sequence[Sequence]) -> dict:
    """A table for `write_summary`: cells as the strings the markdown shows."""
    return {"columns": list(columns), "rows": [[str(c) for c in r] for r in rows]}


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
    """Write ``out/results.md`` (title, seed file, the table, figures and notes) and its
    companion ``out/summary.json`` (`write_summary`)."""
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
    columns = ("quantity", "seed value", "simulated value", "agreement")
    cells = [(r.quantity, r.seed, r.simulated, r.agreement) for r in rows]
    write_summary(path, setting=size, tables={"results": table_of(columns, cells)}, notes=notes,
                  title=title, seed_file=seed_file, figures=list(figures))  # fmt: skip
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
