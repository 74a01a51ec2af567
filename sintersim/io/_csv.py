"""CSV tables: observables.csv, grains.csv, summary.csv."""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """Write rows (same keys) as CSV, atomically: a reader never sees a half-written file.
    Numbers with 9 significant digits; anything else (a status, a swept list) as its text."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            w.writerow({k: f"{v:.9g}" if isinstance(v, int | float) else v for k, v in r.items()})
    os.replace(tmp, path)


def read_csv(path: Path) -> dict[str, list[float]]:
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {k: [float(r[k]) for r in rows] for k in rows[0]}
