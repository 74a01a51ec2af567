"""``sintersim repair``: make a killed run's directory whole again for any reader.

A run killed while writing leaves run.h5's superblock marked "open for write" by its SWMR writer
(plain ``h5py.File(path, "r")``, h5dump and ParaView refuse it until ``h5clear -s``) and may
leave a frame half written past the checkpoint. Repair copies every object into a fresh file
(which carries no writer flag), drops rows beyond the checkpoint's frame, and rewrites
observables.csv, run.xmf and grains.csv from the repaired file.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import h5py
import numpy as np

from sintersim.io._check import _DAMAGE, RunFileError, _damaged, _text, check_run, open_read
from sintersim.io._csv import write_csv
from sintersim.io._runfile import clear_writer_flag, read_grain_history, read_run, truncate
from sintersim.io._xdmf import write_xdmf

H5_NAME = "run.h5"


@dataclasses.dataclass(frozen=True)
class Repair:
    """What `repair_run` did: frames kept, rows dropped beyond the checkpoint, whether the
    writer's open-for-write flag was cleared, and the status now recorded."""

    frames: int
    dropped: int
    cleared: bool
    status: str


def repair_run(path: Path) -> Repair:
    """Clear a killed writer's flag and drop any half-written frame of ``path`` (run.h5).

    A file that is intact is left as it is (``cleared=False, dropped=0``). Raises
    `RunFileError` when the file is not a readable sintersim run (truncated, overwritten)."""
    path = Path(path)
    if not path.is_file():
        raise RunFileError(f"{path}: no such run file")
    try:
        cleared = clear_writer_flag(path)
    except _DAMAGE as e:
        raise _damaged(path, e) from None
    try:
        with h5py.File(path, "a", libver="latest") as f:
            n_done = check_run(f)
            dropped = truncate(f, n_done)
            status = _text(f.attrs["status"])
            if status == "running":  # no clean exit was recorded: the writer was killed
                status = "interrupted (repaired; `sintersim resume DIR` continues it)"
                f.attrs["status"] = status
    except RunFileError:
        raise
    except _DAMAGE as e:
        raise _damaged(path, e) from None
    return Repair(n_done, dropped, cleared, status)


def rewrite_companions(out: Path) -> list[Path]:
    """observables.csv, run.xmf and grains.csv of the run directory ``out``, from its run.h5
    (the companions of a killed run may be one frame ahead or behind)."""
    h5 = out / H5_NAME
    info = read_run(h5)
    obs, n = info["observables"], info["n_frames"]
    written = []
    if n:
        write_csv(
            out / "observables.csv", [{k: float(v[i]) for k, v in obs.items()} for i in range(n)]
        )
        written.append(out / "observables.csv")
    if info["has_fields"] and n:
        with open_read(h5) as f:
            times = f["fields/time_s"][:n]
            itemsize = f["fields/rho"].dtype.itemsize
            ids = "grain_id" in f["fields"]
        write_xdmf(
            out / "run.xmf",
            H5_NAME,
            list(map(float, times)),
            tuple(info["field_shape"]),
            int(info["n_fields"]),
            float(info["attrs"]["dx_nm"]),
            int(itemsize),
            grain_ids=ids,
        )
        written.append(out / "run.xmf")
    grains = write_grains_csv(out)
    if grains is not None and grains.exists():
        written.append(grains)
    return written


def write_grains_csv(out: Path) -> Path | None:
    """grains.csv: the grain history of run.h5 (one row per frame and live grain)."""
    history = read_grain_history(out / H5_NAME)
    if history is None:
        return None
    cols, data = history
    rows = [dict(zip(cols, map(float, r), strict=True)) for r in np.asarray(data)]
    if rows:
        write_csv(out / "grains.csv", rows)
    return out / "grains.csv"
