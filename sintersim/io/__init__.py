"""Output writers and readers (host side): CSV, run.h5 (HDF5, SWMR) and its XDMF sidecar."""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sintersim.io._runfile import (
    RunFile,
    read_frame,
    read_grain_history,
    read_grain_ids,
    read_run,
    set_status,
)
from sintersim.io._xdmf import write_xdmf

__all__ = [
    "RunFile",
    "read_csv",
    "read_frame",
    "read_grain_history",
    "read_grain_ids",
    "read_run",
    "set_status",
    "write_csv",
    "write_xdmf",
]


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
