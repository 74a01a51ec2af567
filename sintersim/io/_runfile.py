"""``run.h5``: fields with a time axis, observables, config, and a checkpoint, crash-safe.

Layout::

    /fields/rho        (T, *grid)      one chunk per frame
    /fields/eta        (T, P, *grid)   one chunk per frame
    /fields/time_s     (T,)
    /observables/NAME  (T,)            every column of observables.csv
    /checkpoint/rho, /checkpoint/eta   the last saved state in the run's dtype (for resume);
                                       every checkpoint dataset has a twin NAME_1 (two slots)
    /fields/grain_id   (T, *grid)      grain id per cell (-1: no grain), int32, for colouring
    /fields/orientation (T, P, ...)    crystal orientation of every field (oriented runs)
    /grains/history    (R, k)          per frame and live grain: frame, time_s, id, field,
                                       volume (nm^d), centre (nm, d), orientation
    /particles/...     centres_nm, radii_nm, orientations, field: the start (index = grain id)
    /checkpoint/info   [index, t_internal, steps taken, slot]: the slot (0: NAME, 1: NAME_1)
                       that holds the state of frame ``index``
    /checkpoint/controller   [next step, last error ratio, rejected steps] (adaptive steps)
    /checkpoint/grain_id, attrs grain_table (JSON): the grain tracker, for resume
    attrs: config (resolved TOML), version, dx_nm, scales, created

The file is written in HDF5 single-writer/multiple-reader (SWMR) mode: every dataset exists before
the first save and is only appended to and flushed, so a reader (ParaView, `sintersim info`) sees a
consistent file while the run goes on, and a run killed mid-write leaves every save-point that was
flushed before the kill readable. The checkpoint is double-buffered: a save writes the slot that
``checkpoint/info`` does not name, flushes, and only then points ``info`` at it, so a kill at any
moment leaves ``info`` naming a complete state (a single buffer was overwritten before ``info``
moved on: resume then started frame i from frame i + 1's fields). Status attributes are set after
the writer closes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path

import h5py
import numpy as np

from sintersim.io._check import (
    _DAMAGE,
    CHECKPOINT,
    OBS_GROUP,
    _damaged,
    _reader,
    _series,
    _text,
    check_run,
    checkpoint_slot,
    open_read,
    slot_name,
)

# A test-only hook: SINTERSIM_TEST_KILL_IN_FRAME=N kills the process (SIGKILL) inside the write
# of frame N, after its fields are flushed and before the checkpoint names it, so a test can
# interrupt a write deterministically (tests/test_repair.py).
_KILL_ENV = "SINTERSIM_TEST_KILL_IN_FRAME"


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
        c.create_dataset("info", (4,), dtype="f8", data=[-1.0, 0.0, 0.0, 0.0])
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
        _add_twins(c)
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
        try:
            f = _open_for_append(path)
        except _DAMAGE as e:
            raise _damaged(Path(path), e) from None
        truncate(f, n_keep)
        if schedule is not None:
            f["schedule"].resize(len(schedule), axis=0)
            f["schedule"][...] = schedule
        c = f["checkpoint"]
        if "controller" not in c:  # a file from an older version
            c.create_dataset("controller", (3,), dtype="f8", data=[np.nan, np.nan, 0])
        if c["info"].shape == (3,):  # an older, single-buffered file: its state is slot 0
            info = np.append(c["info"][...], 0.0)
            del c["info"]
            c.create_dataset("info", data=info)
        _add_twins(c)
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

        The checkpoint is written last, into the slot ``info`` does not name; ``info`` names
        the frame (and that slot) only after both are complete.
        """
        f = self.f
        for ds in _series(f):
            if ds.shape[0] < index + 1:
                ds.resize(index + 1, axis=0)
        f["fields/time_s"][index] = row["time_s"]
        for k, v in row.items():
            f[OBS_GROUP][k][index] = v
        if rho is not None and "rho" in f["fields"]:
            f["fields/rho"][index] = rho
            f["fields/eta"][index] = eta
        if orientation is not None:
            f["fields/orientation"][index] = orientation
        if grain_id is not None and "grain_id" in f["fields"]:
            f["fields/grain_id"][index] = grain_id
        if history is not None and len(history) and "grains" in f:
            h = f["grains/history"]
            n0 = h.shape[0]
            h.resize(n0 + len(history), axis=0)
            h[n0:] = history
        f.flush()
        # The checkpoint: into the slot `info` does not name; what this save does not give is
        # carried over from the current slot.
        c = f["checkpoint"]
        cur = checkpoint_slot(c)
        nxt = 1 - cur
        table = None if grain_table is None else np.frombuffer(grain_table.encode(), np.uint8)
        given = {
            "rho": rho,
            "eta": eta,
            "orientation": orientation,
            "grain_id": grain_id,
            "grain_table": table,
            "controller": controller,
        }
        for name, value in given.items():
            if name not in c:
                continue
            src = c[slot_name(name, cur)] if value is None else None
            data = np.asarray(value) if value is not None else src[...]
            dst = c[slot_name(name, nxt)]
            if dst.maxshape[0] is None and dst.shape != data.shape:
                dst.resize(data.shape[0], axis=0)
            dst[...] = data
        f.flush()
        if os.environ.get(_KILL_ENV) == str(index):
            import signal

            os.kill(os.getpid(), signal.SIGKILL)
        c["info"][...] = [index, t_internal, steps, nxt]
        f.flush()

    def close(self, status: str | None = None) -> None:
        self.f.close()
        if status is not None:
            set_status(self.path, status)


def _open_for_append(path: Path) -> h5py.File:
    """Open for writing; a file whose SWMR writer was killed is first rebuilt.

    A killed SWMR writer leaves the superblock marked "open for write", which HDF5 refuses to
    open for writing again (h5clear would reset it). The data are intact and readable in SWMR
    read mode, so copy every object into a fresh file and swap it in atomically.
    """
    clear_writer_flag(path)
    return h5py.File(path, "a", libver="latest")


def clear_writer_flag(path: Path) -> bool:
    """Rebuild ``path`` if a killed SWMR writer left it flagged "open for write"; whether it
    did. Other errors of opening (a damaged file) are raised as they come."""
    try:
        with h5py.File(path, "r"):
            return False
    except OSError as e:
        if "already open for write" not in str(e):
            raise
    rebuild(path)
    return True


def rebuild(path: Path) -> None:
    """Copy every object of ``path`` into a fresh file and swap it in atomically (see
    `_open_for_append`); the original stays untouched until the copy is complete."""
    tmp = Path(str(path) + ".rebuild")
    with (
        open_read(path) as src,
        h5py.File(tmp, "w", libver="latest") as dst,
    ):
        for k, v in src.attrs.items():
            dst.attrs[k] = v
        for name in src:
            src.copy(src[name], dst, name=name)
    os.replace(tmp, path)


def truncate(f: h5py.File, n_keep: int) -> int:
    """Drop every row beyond the first ``n_keep`` frames (a partial tail); rows dropped."""
    dropped = 0
    for ds in _series(f):
        if ds.shape[0] > n_keep:
            dropped = max(dropped, ds.shape[0] - n_keep)
            ds.resize(n_keep, axis=0)
    if "grains" in f:  # history rows of the dropped frames
        h = f["grains/history"]
        keep = int(np.sum(h[:, 0] < n_keep)) if h.shape[0] else 0
        h.resize(keep, axis=0)
    return dropped


def set_status(path: Path, status: str) -> None:
    with _open_for_append(path) as f:
        f.attrs["status"] = status


@_reader
def read_run(path: Path) -> dict:
    """Everything a reader needs, as numpy: attrs, observables (completed frames), checkpoint.

    Raises `RunFileError` for a file that is damaged or inconsistent (see `check_run`)."""
    with open_read(path) as f:
        n_done = check_run(f)
        info = f["checkpoint/info"][...]
        c = f["checkpoint"]
        slot = checkpoint_slot(c)

        def ck(name):
            return c[slot_name(name, slot)][...]

        cols = f[OBS_GROUP].attrs["columns"].split(",")
        obs = {c: f[OBS_GROUP][c][:n_done] for c in cols}
        out = {
            "attrs": {k: _text(v) for k, v in f.attrs.items()},
            "observables": obs,
            "n_frames": n_done,
            "t_internal": float(info[1]),
            "steps": int(info[2]),
            "checkpoint": (
                ck("rho"),
                ck("eta"),
                ck("orientation") if "orientation" in c else None,
            )
            if n_done > 0
            else None,
            "has_fields": "rho" in f["fields"],
            "schedule": f["schedule"][...],
        }
        if "controller" in c:
            out["controller"] = ck("controller")
        if "grain_table" in c and c[slot_name("grain_table", slot)].shape[0]:
            out["grain_table"] = bytes(ck("grain_table")).decode()
            out["grain_id"] = ck("grain_id")
        if "particles" in f and len(f["particles"]):
            out["particles"] = {k: f["particles"][k][...] for k in f["particles"]}
        if out["has_fields"]:
            out["field_shape"] = f["fields/rho"].shape[1:]
            out["n_fields"] = f["fields/eta"].shape[1]
    return out


@_reader
def read_frame(path: Path, index: int) -> tuple[np.ndarray, np.ndarray]:
    with open_read(path) as f:
        return f["fields/rho"][index], f["fields/eta"][index]


@_reader
def read_grain_history(path: Path) -> tuple[list[str], np.ndarray] | None:
    """(columns, rows) of ``grains/history`` (None for a file without one)."""
    with open_read(path) as f:
        if "grains" not in f:
            return None
        return f["grains"].attrs["columns"].split(","), f["grains/history"][...]


@_reader
def read_grain_ids(path: Path, index: int) -> np.ndarray | None:
    """The grain-id map of frame ``index`` (None for a file without one)."""
    with open_read(path) as f:
        if "grain_id" not in f["fields"]:
            return None
        return f["fields/grain_id"][index]


def _add_twins(c: h5py.Group) -> None:
    """Give every checkpoint part its slot-1 twin (same shape, type and contents)."""
    for name in CHECKPOINT:
        if name in c and slot_name(name, 1) not in c:
            ds = c[name]
            c.create_dataset(
                slot_name(name, 1),
                data=ds[...],
                maxshape=ds.maxshape,
                chunks=ds.chunks,
                dtype=ds.dtype,
            )
