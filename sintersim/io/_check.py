"""Reading run.h5 safely: SWMR reads that fail instead of hanging, a truncation check, and
`check_run`, the structure every reader and the resuming writer rely on."""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np

OBS_GROUP = "observables"


class RunFileError(ValueError):
    """run.h5 is missing, damaged or not a sintersim run file (the message says which part)."""


# What h5py raises on a damaged or foreign file: a truncated or overwritten file (OSError), a
# missing group or attribute (KeyError), undecodable metadata (RuntimeError, e.g. "bad global
# heap collection signature"; the readers run no JAX, whose runtime errors share the type).
# Wrong shapes, types and values are found by `check_run` before anything trusts them; any
# other exception is a bug and is not hidden.
_DAMAGE = (OSError, KeyError, RuntimeError)


def _damaged(path: Path, e: BaseException) -> RunFileError:
    if isinstance(e, RunFileError):
        return e
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    if isinstance(e, OSError) and "already open for write" in text:
        return RunFileError(f"{path}: its writer was killed; `sintersim repair DIR` clears it")
    return RunFileError(
        f"{path} cannot be read: damaged or not a sintersim run file ({type(e).__name__}: {text})"
    )


def _reader(fn):
    """Turn every error of reading a damaged file into one `RunFileError` naming the file."""

    @functools.wraps(fn)
    def wrapped(path, *args, **kwargs):
        if not Path(path).is_file():
            raise RunFileError(f"{path}: no such run file")
        try:
            return fn(path, *args, **kwargs)
        except _DAMAGE as e:
            raise _damaged(Path(path), e) from None

    return wrapped


# A SWMR reader retries a metadata read that fails its checksum (the writer may be mid-flush),
# sleeping 1 ns, 2 ns, 4 ns, ... between HDF5's default 100 attempts: on a damaged file that is
# forever (a random overwrite hung `sintersim info`). 24 attempts wait at most ~17 ms in all.
READ_ATTEMPTS = 24


@functools.cache
def _hdf5_library():
    """The libhdf5 that h5py itself loaded (the property-list ids belong to it), via ctypes,
    for the one setting h5py does not expose; None where it cannot be found."""
    import ctypes

    try:
        with open("/proc/self/maps") as fh:
            paths = {ln.split()[-1] for ln in fh if "/libhdf5" in ln and "_hl" not in ln}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
            fn = lib.H5Pset_metadata_read_attempts
        except (OSError, AttributeError):
            continue
        fn.argtypes = [ctypes.c_int64, ctypes.c_uint]
        return fn
    return None


def _check_length(path: Path) -> None:
    """Refuse a truncated file: a SWMR reader skips HDF5's end-of-file check (a live writer's
    file grows), so compare the size with the end-of-file address in the superblock ourselves
    (version 2/3 superblock at offset 0, 8-byte addresses: the layout libver="latest" writes)."""
    with open(path, "rb") as fh:
        head = fh.read(36)
    if len(head) == 36 and head[:8] == b"\x89HDF\r\n\x1a\n" and head[8] in (2, 3) and head[9] == 8:
        eof = int.from_bytes(head[28:36], "little")
        size = path.stat().st_size
        if size < eof:
            raise RunFileError(f"{path} is truncated: {size} of its {eof} bytes")


@contextlib.contextmanager
def open_read(path: Path) -> Iterator[h5py.File]:
    """run.h5 for reading, also while (or after) its SWMR writer runs, with at most
    `READ_ATTEMPTS` tries per metadata read (a damaged file fails instead of hanging)."""
    _check_length(Path(path))
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5py.h5f.LIBVER_LATEST, h5py.h5f.LIBVER_LATEST)
    limit = _hdf5_library()
    if limit is not None:
        limit(fapl.id, READ_ATTEMPTS)
    flags = h5py.h5f.ACC_RDONLY | h5py.h5f.ACC_SWMR_READ
    with h5py.File(h5py.h5f.open(os.fsencode(path), flags, fapl=fapl)) as f:
        yield f


def _series(f: h5py.File):
    yield f["fields/time_s"]
    for name in ("rho", "eta", "orientation", "grain_id"):
        if name in f["fields"]:
            yield f["fields"][name]
    for name in f[OBS_GROUP].attrs["columns"].split(","):
        yield f[OBS_GROUP][name]


TEXT_ATTRS = ("config", "status")
# Positive numbers a reader uses; True: every run file has it.
NUMBER_ATTRS = {
    "time_s": True,
    "dx_nm": True,
    "dt_internal": False,
    "length_m": False,
    "energy_J_m3": False,
}


def check_run(f: h5py.File) -> int:
    """Check the structure every reader and the resuming writer rely on; the number of
    completed frames.

    A frame is complete when the checkpoint names it (``checkpoint/info[0]``), so each series
    must hold at least that many rows (and stay resizable), and the checkpoint's fields must
    match the saved frames. Raises `RunFileError` naming the first missing or inconsistent
    part (a damaged file must not reach code that trusts it: tests/test_fuzz_cli.py)."""

    def need(ok, what: str) -> None:
        if not ok:
            raise RunFileError(f"{f.filename}: {what}; damaged or not a sintersim run file")

    def dataset(name: str, ndim: int | None = None, numeric: bool = True) -> h5py.Dataset:
        ds = f.get(name)
        need(isinstance(ds, h5py.Dataset), f"dataset {name!r} is missing")
        need(ndim is None or ds.ndim == ndim, f"dataset {name!r} has the wrong shape {ds.shape}")
        need(not numeric or ds.dtype.kind in "fiu", f"dataset {name!r} is not numeric")
        return ds

    for a in TEXT_ATTRS:
        need(a in f.attrs and isinstance(_text(f.attrs[a]), str), f"attribute {a!r} is not text")
    for a, required in NUMBER_ATTRS.items():
        need(a in f.attrs or not required, f"attribute {a!r} is missing")
        need(a not in f.attrs or _positive(f.attrs[a]), f"attribute {a!r} is not a number > 0")
    for g in ("fields", "checkpoint", OBS_GROUP):
        need(isinstance(f.get(g), h5py.Group), f"group {g!r} is missing")
    c = f["checkpoint"]
    info = dataset("checkpoint/info", 1)[...]
    need(info.shape in ((3,), (4,)) and np.all(np.isfinite(info)), "checkpoint/info is damaged")
    slot = checkpoint_slot(c)
    need(slot in (0, 1), "checkpoint/info names no checkpoint slot")
    n_done = int(info[0]) + 1
    need(info[0] == n_done - 1 and n_done >= 0, "checkpoint/info[0] is not a frame index")
    need(info[2] >= 0, "checkpoint/info[2] (steps taken) is negative")
    sched = dataset("schedule", 1)[...]
    need(np.all(np.isfinite(sched)) and len(sched) >= 1, "schedule is not a list of times")
    need(n_done <= len(sched) + 1, "the checkpoint lies beyond the schedule")
    cols = _text(f[OBS_GROUP].attrs.get("columns"))
    need(isinstance(cols, str) and cols, "observables/columns is not a list of names")
    dataset("fields/time_s", 1)
    for name in cols.split(","):
        need(name and "/" not in name and name in f[OBS_GROUP], f"observables/{name} is missing")
        dataset(f"{OBS_GROUP}/{name}", 1)
    ck_rho = dataset(f"checkpoint/{slot_name('rho', slot)}")
    ck_eta = dataset(f"checkpoint/{slot_name('eta', slot)}")
    shape = ck_rho.shape
    need(
        len(shape) in (1, 2, 3) and ck_eta.ndim == len(shape) + 1 and ck_eta.shape[1:] == shape,
        "checkpoint/rho and checkpoint/eta have inconsistent shapes",
    )
    if "rho" in f["fields"]:
        need(dataset("fields/rho").shape[1:] == shape, "fields/rho does not match the checkpoint")
        need(
            dataset("fields/eta").shape[1:] == ck_eta.shape,
            "fields/eta does not match the checkpoint",
        )
    if "grain_id" in f["fields"]:
        need(dataset("fields/grain_id").shape[1:] == shape, "fields/grain_id has the wrong shape")
    if "orientation" in f["fields"]:
        o = dataset(f"checkpoint/{slot_name('orientation', slot)}")
        need(dataset("fields/orientation").shape[1:] == o.shape, "orientations do not match")
    for ds in _series(f):
        need(ds.chunks is not None and ds.maxshape[0] is None, f"{ds.name} is not resizable")
        need(ds.shape[0] >= n_done, f"{ds.name} holds fewer rows than the checkpoint's frame")
    # Both slots: the named one is read, the other is written next.
    for k in (0, 1) if slot_name("rho", 1) in c else (0,):
        for name, want in (("rho", shape), ("eta", ck_eta.shape), ("grain_id", shape)):
            if name in c:
                ds = dataset(f"checkpoint/{slot_name(name, k)}")
                need(ds.shape == want, f"checkpoint/{slot_name(name, k)} has the wrong shape")
        if "orientation" in c:
            o = dataset(f"checkpoint/{slot_name('orientation', k)}")
            need(o.shape == c["orientation"].shape, "checkpoint orientations differ in shape")
        if "grain_table" in c:
            table = dataset(f"checkpoint/{slot_name('grain_table', k)}", 1)
            need(table.dtype == np.uint8 and table.maxshape[0] is None, "checkpoint/grain_table")
        if "controller" in c:
            need(dataset(f"checkpoint/{slot_name('controller', k)}", 1).shape == (3,), "controller")
    if "particles" in f and len(f["particles"]):
        _check_particles(f, need, dataset)
    if "controller" in c:
        rec = dataset(f"checkpoint/{slot_name('controller', slot)}", 1)[...]
        need(
            rec.shape == (3,)
            and (np.isnan(rec[0]) or (np.isfinite(rec[0]) and rec[0] > 0))
            and not np.isinf(rec[1])
            and np.isfinite(rec[2])
            and rec[2] >= 0,
            "checkpoint/controller is not [step > 0 or NaN, ratio, rejected >= 0]",
        )
    if "grains" in f:
        hcols = _text(f["grains"].attrs.get("columns"))
        need(isinstance(hcols, str) and hcols, "grains/columns is not a list of names")
        h = dataset("grains/history", 2)
        need(h.shape[1] == len(hcols.split(",")), "grains/history does not match its columns")
        need(h.chunks is not None and h.maxshape[0] is None, "grains/history is not resizable")
    return n_done


def _check_particles(f: h5py.File, need, dataset) -> None:
    """particles/: the start a resume rebuilds (N particles in d dimensions)."""
    centres = dataset("particles/centres_nm", 2)[...]
    n, d = centres.shape
    need(d in (1, 2, 3) and np.all(np.isfinite(centres)), "particles/centres_nm is damaged")
    radii = dataset("particles/radii_nm", 1)[...]
    need(radii.shape == (n,) and np.all(radii > 0), "particles/radii_nm is damaged")
    box = dataset("particles/box_nm", 1)[...]
    need(box.shape == (d,) and np.all(box > 0), "particles/box_nm is damaged")
    orient = dataset("particles/orientations")
    need(
        orient.dtype.kind == "f" and orient.ndim in (1, 2) and orient.shape[0] == n,
        "particles/orientations is damaged",
    )
    need(np.all(np.isfinite(orient[...])), "particles/orientations is damaged")
    field = dataset("particles/field", 1)
    need(field.shape == (n,) and field.dtype.kind in "iu", "particles/field is damaged")


def _positive(v) -> bool:
    """A finite number > 0 (an HDF5 attribute: a numpy scalar, not text or an array)."""
    return bool(
        np.ndim(v) == 0
        and isinstance(v, int | float | np.integer | np.floating)
        and not isinstance(v, bool | np.bool_)
        and np.isfinite(v)
        and v > 0
    )


def _text(v):
    """An attribute as text (h5py may give bytes); None for bytes that are not UTF-8."""
    if isinstance(v, bytes):
        try:
            return v.decode()
        except UnicodeDecodeError:
            return None
    return v


CHECKPOINT = ("rho", "eta", "orientation", "grain_id", "grain_table", "controller")


def slot_name(name: str, slot: int) -> str:
    """The dataset of checkpoint part ``name`` in ``slot`` (0: ``name``, 1: ``name_1``)."""
    return name if slot == 0 else f"{name}_{slot}"


def checkpoint_slot(c: h5py.Group) -> int:
    """The slot ``checkpoint/info`` names (0 for an older, single-buffered file)."""
    info = c["info"][...]
    return int(info[3]) if info.shape == (4,) else 0
