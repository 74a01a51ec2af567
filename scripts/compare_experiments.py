"""Compare regenerated experiment summaries with the committed ones (`make experiments-check`).

    python scripts/run_experiments.py --out-root out/experiments-check     # regenerate elsewhere
    python scripts/compare_experiments.py --fresh out/experiments-check    # then compare

Every table an experiment script writes has a machine-readable companion (``results.md`` ->
``summary.json``, ``name.md`` -> ``name.summary.json``; `seedlib.write_summary`) holding its rows
and notes as printed, without wall times or dates. For each committed companion
``experiments/<folder>/out/<file>`` this script reads ``<fresh>/<folder>/<file>`` and compares:

* text with its numbers masked (the words, the agreement verdicts, the row labels) exactly;
* the numbers in it within the tolerance of TOLERANCES below (the first pattern that matches the
  cell's path ``folder/file:table:row label:column``, or ``folder/file:notes:N`` for a note):
  ``|a - b| <= abs + rel * max(|a|, |b|) + unit``, where unit is one unit of the last printed
  digit of a number printed with a decimal point or exponent (two runs whose values differ in
  round-off can print one digit apart) and 0 for integers (counts are exact up to rel / abs);
* row counts, table and note counts exactly.

Exit status 0 when everything matches, 1 with a readable list of the differences otherwise
(2 for a usage error). Wall times are not in the companions; rows labelled "wall time" are
skipped anyway.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import math
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Tolerances (relative, absolute), one place. Patterns are fnmatch patterns on the cell path
# "folder/file:table:row label:column" (notes: "folder/file:notes:N"); the first match wins.
DEFAULT = (0.02, 0.0)  # 2 % relative: float32 / float64 runs repeat far closer on one machine
TOLERANCES: list[tuple[str, float, float]] = [
    # round-off sized numbers: relative drifts and asymmetries (their verdict words still compare)
    ("*:*drift*", 0.0, 1e-5),
    ("*:*mass conservation*", 0.0, 1e-5),
    ("*:*abs(V0*", 0.0, 1e-3),
    # numbers inside an agreement cell (percent off, shares of a tolerance) follow from the
    # simulated value, which is compared on its own row; the verdict word compares exactly
    ("*:*:agreement", 0.10, 2.0),
    # noise-driven rows of seed 001: each member's incubation and filaments are chaotic in the
    # round-off of the noisy batch (float32)
    ("seed001_pbse_neck/*:*incubation*", 0.10, 0.5),
    ("seed001_pbse_neck/*:*filament*", 0.10, 0.05),
    ("seed001_pbse_neck/*:*noisy members*", 0.10, 0.05),
    ("seed001_pbse_neck/*:*nucleation*", 0.10, 0.05),
]
SKIP = ["*:wall time*"]

# A number starts a token (not inside a word or a hex name); a sign counts only at a token start.
NUM = re.compile(r"(?<![\w.^])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def tolerance(path: str) -> tuple[float, float]:
    for pattern, rel, abs_ in TOLERANCES:
        if fnmatch.fnmatchcase(path, pattern):
            return rel, abs_
    return DEFAULT


def unit(s: str) -> float:
    """One unit of the last printed digit (0 for an integer)."""
    mant, _, exp = s.lower().partition("e")
    if "." not in mant and not exp:
        return 0.0
    decimals = len(mant.split(".")[1]) if "." in mant else 0
    return 10.0 ** (-decimals + (int(exp) if exp else 0))


def compare_text(path: str, a: str, b: str) -> list[str]:
    """Differences between a committed (a) and a fresh (b) printed string."""
    ta, tb = NUM.sub("#", a), NUM.sub("#", b)
    if ta != tb:
        return [f"{path}: text differs\n    committed: {a}\n    fresh:     {b}"]
    rel, abs_ = tolerance(path)
    out = []
    for x, y in zip(NUM.findall(a), NUM.findall(b), strict=True):
        u, v = float(x), float(y)
        if u == v:
            continue
        allowed = abs_ + rel * max(abs(u), abs(v)) + max(unit(x), unit(y))
        if not math.isfinite(u - v) or abs(u - v) > allowed:
            out.append(
                f"{path}: {x} -> {y} (difference {abs(u - v):.3g} > allowed {allowed:.3g}: "
                f"rel {rel:g}, abs {abs_:g})\n    committed: {a}\n    fresh:     {b}"
            )
    return out


def compare_tables(where: str, name: str, a: dict, b: dict) -> list[str]:
    out = []
    if a["columns"] != b["columns"]:
        return [f"{where}:{name}: columns differ: {a['columns']} vs {b['columns']}"]
    ra, rb = a["rows"], b["rows"]
    if len(ra) != len(rb):
        out.append(f"{where}:{name}: {len(ra)} rows committed, {len(rb)} fresh")
    for row_a, row_b in zip(ra, rb, strict=False):
        label = row_a[0]
        if any(fnmatch.fnmatchcase(f"{where}:{label}", p) for p in SKIP):
            continue
        for col, x, y in zip(a["columns"], row_a, row_b, strict=True):
            out += compare_text(f"{where}:{name}:{label}:{col}", x, y)
    return out


def compare_value(path: str, a, b) -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{path}: key {k!r} only committed" for k in a.keys() - b.keys()]
        out += [f"{path}: key {k!r} only fresh" for k in b.keys() - a.keys()]
        for k in a.keys() & b.keys():
            out += compare_value(f"{path}:{k}", a[k], b[k])
        return out
    if isinstance(a, list) and isinstance(b, list):
        out = [] if len(a) == len(b) else [f"{path}: {len(a)} items committed, {len(b)} fresh"]
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            out += compare_value(f"{path}:{i}", x, y)
        return out
    return compare_text(path, str(a), str(b))


def compare_summary(where: str, a: dict, b: dict) -> list[str]:
    """Differences between a committed (a) and a fresh (b) summary; ``where`` = folder/file."""
    out = []
    ta, tb = a.get("tables", {}), b.get("tables", {})
    if list(ta) != list(tb):
        out.append(f"{where}: tables {list(ta)} committed, {list(tb)} fresh")
    for name in ta.keys() & tb.keys():
        out += compare_tables(where, name, ta[name], tb[name])
    rest_a = {k: v for k, v in a.items() if k != "tables"}
    rest_b = {k: v for k, v in b.items() if k != "tables"}
    return out + compare_value(where, rest_a, rest_b)


def summaries(root: Path) -> list[Path]:
    """Committed companions under root/<folder>/out/ (relative to root)."""
    files = sorted(root.glob("*/out/summary.json")) + sorted(root.glob("*/out/*.summary.json"))
    return [p.relative_to(root) for p in files]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--fresh", type=Path, required=True, help="root of the regenerated folders")
    ap.add_argument("--committed", type=Path, default=ROOT / "experiments",
                    help="root of the committed folders (default: experiments/)")  # fmt: skip
    ap.add_argument("--only", nargs="+", metavar="FOLDER", help="compare only these folders")
    args = ap.parse_args(argv)
    files = [p for p in summaries(args.committed) if not args.only or p.parts[0] in args.only]
    if not files:
        print(f"no committed summaries under {args.committed}", file=sys.stderr)
        return 2
    problems, n_ok = [], 0
    for rel in files:
        folder, name = rel.parts[0], rel.name
        fresh = args.fresh / folder / name
        where = f"{folder}/{name}"
        if not fresh.exists():
            problems.append(f"{where}: no fresh file {fresh}")
            continue
        diff = compare_summary(where, json.loads((args.committed / rel).read_text()),
                               json.loads(fresh.read_text()))  # fmt: skip
        problems += diff
        n_ok += not diff
    print(f"compared {len(files)} summaries: {n_ok} match, {len(files) - n_ok} differ")
    if problems:
        print("\n".join(problems))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
