"""``run.h5``: fields with a time axis, observables, config, and a checkpoint, crash-safe.

Layout::

    /fields/rho        (T, *grid)      one chunk per frame
    /fields/eta        (T, P, *grid)   one chunk per frame
    /fields/time_s     (T,)
    /observables/NAME  (T,)            every column of observables.csv
    /checkpoint/rho, /checkpoint/eta   the last saved state in the run's dtype (for resume)
    /fields/grain_id   (T, *grid)      grain id per cell (-1: no grain), int32, for colouring
    /fields/orientation (T, P, ...)    crystal orientation of every field (oriented runs)
    /grains/history    (R, k)          per frame and live grain: frame, time_s, id, field,
                                       volume (nm^d), centre (nm, d), orientation
    /particles/...     centres_nm, radii_nm, orientations, field: the start (index = grain id)
    /checkpoint/info   [index, t_internal, steps taken]
    /checkpoint/controller   [next step, last error ratio, rejected steps] (adaptive steps)
    /checkpoint/grain_id, attrs grain_table (JSON): the grain tracker, for resume
    attrs: config (resolved TOML), version, dx_nm, scales, created

The file is written in HDF5 single-writer/multiple-reader (SWMR) mode: every dataset exists before
the first save and is only appended to and flushed, so a reader (ParaView, `sintersim info`) sees a
consistent file while the run goes on, and a run killed mid-write leaves every save-point that was
flushed before the kill readable. Status attributes are set after the writer closes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path

import h5py
import numpy as np

OBS_GROUP = "observables"


class RunFile:
    """Append-only writer of ``run.h5`` (see module docstring)."""

    def __init__(self, path: Path, handle: h5py.File):
        self.path = Path(path)
        self.f = handle

    # -- creation / opening -------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        path: Path,
        *,
        shape: tuple[int, ...],
        n_fields: int,
        dtype,
        columns: list[str],
        attrs: Mapping[str, object],
        schedule,
        save_fields: bool = True,
        orientation_shape: tuple[int, ...] | None = None,
        history_columns: list[str] | None = None,
        particles: Mapping[str, np.ndarray] | None = None,
    ) -> RunFile:
        f = h5py.File(path, "w", libver="latest")
        for k, v in attrs.items():
            f.attrs[k] = v
        f.attrs["status"] = "running"
        f.attrs["created"] = time.strftime("%Y-%m-%d %H:%M:%S")
        f.attrs["save_fields"] = bool(save_fields)
        dt = np.dtype(dtype)
        g = f.create_group("fields")
        n = 0
        g.create_dataset("time_s", (n,), maxshape=(None,), dtype="f8", chunks=(256,))
        if save_fields:
            g.create_dataset(
                "rho", (n, *shape), maxshape=(None, *shape), dtype=dt, chunks=(1, *shape)
            )
            g.create_dataset(
                "eta",
                (n, n_fields, *shape),
                maxshape=(None, n_fields, *shape),
                dtype=dt,
                chunks=(1, n_fields, *shape),
            )
            g.create_dataset(
                "grain_id", (n, *shape), maxshape=(None, *shape), dtype="i4", chunks=(1, *shape)
            )
        if orientation_shape is not None:
            # Orientations are tiny: kept at every frame even when the fields are not.
            g.create_dataset(
                "orientation",
                (n, *orientation_shape),
                maxshape=(None, *orientation_shape),
                dtype="f8",
            )
        o = f.create_group(OBS_GROUP)
        o.attrs["columns"] = ",".join(columns)
        for c in columns:
            o.create_dataset(c, (n,), maxshape=(None,), dtype="f8", chunks=(256,))
        c = f.create_group("checkpoint")
        c.create_dataset("rho", shape, dtype=dt)
        c.create_dataset("eta", (n_fields, *shape), dtype=dt)
        c.create_dataset("info", (3,), dtype="f8", data=[-1.0, 0.0, 0.0])
        c.create_dataset("controller", (3,), dtype="f8", data=[np.nan, np.nan, 0.0])
        c.create_dataset("grain_id", shape, dtype="i4")
        # JSON bytes; a resizable uint8 dataset (SWMR allows resizing, not new objects)
        c.create_dataset("grain_table", (0,), maxshape=(None,), dtype="u1", chunks=(4096,))
        cols = history_columns or ["frame", "time_s", "id"]
        h = f.create_group("grains")
        h.attrs["columns"] = ",".join(cols)
        h.create_dataset(
            "history",
            (0, len(cols)),
            maxshape=(None, len(cols)),
            dtype="f8",
            chunks=(1024, len(cols)),
        )
        pg = f.create_group("particles")
        for k, v in (particles or {}).items():
            pg.create_dataset(k, data=np.asarray(v))
        if orientation_shape is not None:
            c.create_dataset("orientation", orientation_shape, dtype="f8")
        f.create_dataset("schedule", data=np.asarray(schedule, dtype="f8"), maxshape=(None,))
        f.swmr_mode = True
        return cls(path, f)

    @classmethod
    def reopen(
        cls, path: Path, n_keep: int, schedule=None, attrs: Mapping[str, object] | None = None
    ) -> RunFile:
        """Open for appending after ``n_keep`` completed frames (drops any partial tail).

        schedule: the new planned save times (internal units), if they changed.
        """
        f = _open_for_append(path)
        for ds in _series(f):
            if ds.shape[0] > n_keep:
                ds.resize(n_keep, axis=0)
        if "grains" in f:  # history rows of the dropped frames
            h = f["grains/history"]
            keep = int(np.sum(h[:, 0] < n_keep)) if h.shape[0] else 0
            h.resize(keep, axis=0)
        if schedule is not None:
            f["schedule"].resize(len(schedule), axis=0)
            f["schedule"][...] = schedule
        if "controller" not in f["checkpoint"]:  # a file from an older version
            f["checkpoint"].create_dataset("controller", (3,), dtype="f8", data=[np.nan, np.nan, 0])
        for k, v in (attrs or {}).items():
            f.attrs[k] = v
        f.attrs["status"] = "running"
        f.swmr_mode = True
        return cls(path, f)

    # -- writing -------------------------------------------------------------------------------
    def append(
        self,
        index: int,
        t_internal: float,
        row: Mapping[str, float],
        rho=None,
        eta=None,
        steps: int = 0,
        orientation=None,
        grain_id=None,
        grain_table: str | None = None,
        history=None,
        controller=None,
    ) -> None:
        """Write save-point ``index`` (0 = initial state); flush so it survives a crash.

        controller: [next step, last error ratio, rejected steps] of an adaptive run's step
        controller (NaN step: fixed steps), for an exact resume.

        The checkpoint is written last: it names a frame only after the frame is complete.
        """
        f = self.f
        for ds in _series(f):
            if ds.shape[0] < index + 1:
                ds.resize(index + 1, axis=0)
        f["fields/time_s"][index] = row["time_s"]
        for k, v in row.items():
            f[OBS_GROUP][k][index] = v
        if rho is not None:
            if "rho" in f["fields"]:
                f["fields/rho"][index] = rho
                f["fields/eta"][index] = eta
            f["checkpoint/rho"][...] = rho
            f["checkpoint/eta"][...] = eta
        if orientation is not None:
            f["fields/orientation"][index] = orientation
            f["checkpoint/orientation"][...] = orientation
        if grain_id is not None:
            if "grain_id" in f["fields"]:
                f["fields/grain_id"][index] = grain_id
            f["checkpoint/grain_id"][...] = grain_id
        if history is not None and len(history) and "grains" in f:
            h = f["grains/history"]
            n0 = h.shape[0]
            h.resize(n0 + len(history), axis=0)
            h[n0:] = history
        f.flush()
        if grain_table is not None:
            raw = np.frombuffer(grain_table.encode(), np.uint8)
            g = f["checkpoint/grain_table"]
            g.resize(len(raw), axis=0)
            g[...] = raw
        if controller is not None:
            f["checkpoint/controller"][...] = controller
        f["checkpoint/info"][...] = [index, t_internal, steps]
        f.flush()

    def close(self, status: str | None = None) -> None:
        self.f.close()
        if status is not None:
            set_status(self.path, status)


def _series(f: h5py.File):
    yield f["fields/time_s"]
    for name in ("rho", "eta", "orientation", "grain_id"):
        if name in f["fields"]:
            yield f["fields"][name]
    for name in f[OBS_GROUP].attrs["columns"].split(","):
        yield f[OBS_GROUP][name]


def _open_for_append(path: Path) -> h5py.File:
    """Open for writing; a file whose SWMR writer was killed is first rebuilt.

    A killed SWMR writer leaves the superblock marked "open for write", which HDF5 refuses to
    open for writing again (h5clear would reset it). The data are intact and readable in SWMR
    read mode, so copy every object into a fresh file and swap it in atomically.
    """
    try:
        return h5py.File(path, "a", libver="latest")
    except OSError as e:
        if "already open for write" not in str(e):
            raise
    tmp = Path(str(path) + ".rebuild")
    with (
        h5py.File(path, "r", libver="latest", swmr=True) as src,
        h5py.File(tmp, "w", libver="latest") as dst,
    ):
        for k, v in src.attrs.items():
            dst.attrs[k] = v
        for name in src:
            src.copy(src[name], dst, name=name)
    os.replace(tmp, path)
    return h5py.File(path, "a", libver="latest")


def set_status(path: Path, status: str) -> None:
    with _open_for_append(path) as f:
        f.attrs["status"] = status


def read_run(path: Path) -> dict:
    """Everything a reader needs, as numpy: attrs, observables (completed frames), checkpoint."""
    with h5py.File(path, "r", libver="latest", swmr=True) as f:
        info = f["checkpoint/info"][...]
        n_done = int(info[0]) + 1  # frames 0..index are complete
        cols = f[OBS_GROUP].attrs["columns"].split(",")
        obs = {c: f[OBS_GROUP][c][:n_done] for c in cols}
        out = {
            "attrs": {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()},
            "observables": obs,
            "n_frames": n_done,
            "t_internal": float(info[1]),
            "steps": int(info[2]),
            "checkpoint": (
                f["checkpoint/rho"][...],
                f["checkpoint/eta"][...],
                f["checkpoint/orientation"][...] if "orientation" in f["checkpoint"] else None,
            )
            if n_done > 0
            else None,
            "has_fields": "rho" in f["fields"],
            "schedule": f["schedule"][...],
        }
        c = f["checkpoint"]
        if "controller" in c:
            out["controller"] = c["controller"][...]
        if "grain_table" in c and c["grain_table"].shape[0]:
            out["grain_table"] = bytes(c["grain_table"][...]).decode()
            out["grain_id"] = c["grain_id"][...]
        if "particles" in f and len(f["particles"]):
            out["particles"] = {k: f["particles"][k][...] for k in f["particles"]}
        if out["has_fields"]:
            out["field_shape"] = f["fields/rho"].shape[1:]
            out["n_fields"] = f["fields/eta"].shape[1]
    return out


def read_frame(path: Path, index: int) -> tuple[np.ndarray, np.ndarray]:
    with h5py.File(path, "r", libver="latest", swmr=True) as f:
        return f["fields/rho"][index], f["fields/eta"][index]


def read_grain_history(path: Path) -> tuple[list[str], np.ndarray] | None:
    """(columns, rows) of ``grains/history`` (None for a file without one)."""
    with h5py.File(path, "r", libver="latest", swmr=True) as f:
        if "grains" not in f:
            return None
        return f["grains"].attrs["columns"].split(","), f["grains/history"][...]


def read_grain_ids(path: Path, index: int) -> np.ndarray | None:
    """The grain-id map of frame ``index`` (None for a file without one)."""
    with h5py.File(path, "r", libver="latest", swmr=True) as f:
        if "grain_id" not in f["fields"]:
            return None
        return f["fields/grain_id"][index]
