"""Output writers and readers (host side): CSV, run.h5 (HDF5, SWMR) and its XDMF sidecar."""

from __future__ import annotations

from sintersim.io._check import RunFileError, check_run, open_read
from sintersim.io._csv import read_csv, write_csv
from sintersim.io._repair import Repair, repair_run, rewrite_companions, write_grains_csv
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
    "Repair",
    "RunFile",
    "RunFileError",
    "check_run",
    "open_read",
    "read_csv",
    "read_frame",
    "read_grain_history",
    "read_grain_ids",
    "read_run",
    "repair_run",
    "rewrite_companions",
    "set_status",
    "write_csv",
    "write_grains_csv",
    "write_xdmf",
]
