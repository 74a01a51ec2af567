"""Memory a run needs, estimated before any field is allocated, and the refusal of one that
cannot fit (`check_fits`): a grid too large for the machine stops with the estimate and the
largest grid that fits instead of being killed by the OOM killer in its first step.

Linear in the number of cells, plus a fixed runtime part. Per cell, with P order parameters:
the state (P + 1 fields) three times (the initial state the run keeps, a step's argument and its
result: nothing is donated, the last good state stays for a retry); XLA's work space (FFT
spectra, fluxes), the larger of a step's and an observables pass's; frames saved on the device;
constants and FFT plans. ``batch`` multiplies them (a vmapped sweep). On the host the initial
fields are built in numpy float64 (`sintersim.initial.particles`), then converted. The
coefficients (`COEFFICIENTS`) are measured; `scripts/bench_memory.py` checks the estimate against
the peak (RSS on the CPU, ``peak_bytes_in_use`` on a GPU) and repeats the calibration.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re

import numpy as np

from sintersim.model._energy import PAIR_LOOP_MAX

# --- calibration ------------------------------------------------------------------------------
# Per grid cell, in units of the run dtype's itemsize, as lines (a, b): a + b P, P = n_fields;
# where several lines are given, the largest. XLA's work space: temp_size_in_bytes of
# `Compiled.memory_analysis()` of the jitted `advance` and `two_particle_observables` on
# ShapeDtypeStructs (128^2 and 32^3, P = 1..32, float32 and float64 alike in itemsize units;
# `python scripts/bench_memory.py --calibrate` repeats it). "cpu": jax 0.10.2, XLA:CPU; the
# step's own work space is ~6 + 2P up to P = 12 and joins the observables' line beyond 16.
# "gpu" (any accelerator): jax 0.11.2 on an NVIDIA H200; the step ~2.1P, the observables ~1.1P,
# [noise] no more. [orientation]: as plain up to PAIR_LOOP_MAX fields; beyond, the boundary
# cross terms are one contraction, whose step needs 5.35P on the CPU (none more on the GPU).
# "library": per-cell memory outside XLA's buffers: on the CPU the spectral tables compiled in
# as constants (RSS after compiling less before, 4096^2 / 256^3: 5.5 fields; up to 14 where
# malloc keeps the compiler's freed buffers, which varies from process to process); on the GPU
# cuFFT's work areas and the constants (device peak less XLA's buffers at 4096^2 P = 4, 256^3
# P = 6, 2048^2 P = 8: 3.9, 5.4, 9.7 fields). "runtime", not per cell: on the CPU the compiler's
# leftovers and the free memory malloc keeps (glibc returns no buffer under 32 MiB): peak RSS
# less the per-cell model: +190 MiB at 2048^2 and 128^3, -110 MiB at 4096^2 (best case).
COEFFICIENTS = {
    "cpu": {
        "step": ((6.0, 2.0),),
        "observe": ((3.0, 3.05),),
        "noise": ((7.0, 4.0), (-5.0, 6.0)),
        "orientation": ((0.0, 5.35),),
        "library": ((5.5, 0.0),),
        "runtime": 192 * 2**20,
    },
    "gpu": {
        "step": ((7.5, 0.0), (1.0, 2.1)),
        "observe": ((1.0, 1.1),),
        "noise": ((7.5, 0.0), (1.0, 2.1)),
        "orientation": ((7.5, 0.0), (1.0, 2.1)),
        "library": ((1.0, 1.0),),
        "runtime": 64 * 2**20,
    },
}
FIELD_COPIES = 3  # the initial state the run keeps, the step's argument and its result
SAVE_COPIES = 2.0  # per frame saved on the device: the stacked output and the scan's buffer
# Host: initial.particles holds the P + 1 fields in float64, one more field and three
# full-grid temporaries (r^2, two tanh stages) or, at the end, the run-dtype copy (float32:
# staged on the host; float64 is not copied). Peak RSS of `particles` at 2048^2 and 4096^2:
# within 8 % of 8 (P + 2) + max(24, itemsize (P + 1)).
HOST_TEMPORARIES = 3


class DoesNotFit(MemoryError, ValueError):
    """A run whose estimated memory exceeds what is available (raised before allocating)."""


@dataclasses.dataclass(frozen=True)
class MemoryEstimate:
    """Estimated peak memory of a run (`estimate_memory`).

    device_bytes: peak on the device while stepping and observing (state, FFT work space,
        temporaries, saved frames).
    host_bytes: peak host memory: building the initial fields in numpy float64, the run-dtype
        copy, checkpoint copies.
    per_cell_device, per_cell_host: the same per grid cell (for `largest_grid`).
    breakdown: named parts in bytes, for the message and the docs.
    """

    device_bytes: int
    host_bytes: int
    per_cell_device: float
    per_cell_host: float
    breakdown: dict[str, int]

    def total_on(self, platform: str) -> int:
        """Bytes the run needs of the memory that `memory_limit` counts on ``platform``. cpu:
        the larger of host and device (one memory; the float64 build is freed before the first
        step: RSS peaks at the larger, not the sum, measured); gpu (any accelerator): device."""
        return max(self.device_bytes, self.host_bytes) if _is_cpu(platform) else self.device_bytes


def _bytes(per_cell: float | int, cells: int) -> int:
    return int(math.ceil(per_cell * cells))


def _need(est: MemoryEstimate, cells: int, platform: str) -> int:
    device = est.breakdown["runtime"] + _bytes(est.per_cell_device, cells)
    return max(device, _bytes(est.per_cell_host, cells)) if _is_cpu(platform) else device


def _is_cpu(platform: str) -> bool:
    return platform.lower() == "cpu"


def _default_platform() -> str:
    import jax

    return jax.devices()[0].platform


def _lines(lines: tuple[tuple[float, float], ...], p: int) -> float:
    return max(a + b * p for a, b in lines)


def estimate_memory(
    shape: tuple[int, ...],
    n_fields: int,
    dtype,
    *,
    orientation: bool = False,
    noise: bool = False,
    batch: int = 1,
    saves_on_device: int = 0,
    platform: str | None = None,
) -> MemoryEstimate:
    """Peak memory of a run on a grid of ``shape`` with ``n_fields`` order parameters.

    orientation / noise: the `[orientation]` and `[noise]` features (more work space: [noise]
        on the CPU, [orientation] with more than PAIR_LOOP_MAX fields on the CPU).
    batch: members of a vmapped sweep (each keeps its own fields and work space).
    saves_on_device: frames of the full state kept on the device (batch `integrate` with
        `SaveAt`), per member.
    platform: whose coefficients (XLA:CPU or a GPU's); default: that of ``jax.devices()[0]``.
    """
    p, item = int(n_fields), np.dtype(dtype).itemsize
    if p < 1 or batch < 1 or saves_on_device < 0:
        raise ValueError(
            f"n_fields = {n_fields}, batch = {batch}, saves_on_device = {saves_on_device}: need "
            "n_fields >= 1, batch >= 1, saves_on_device >= 0"
        )
    cells = math.prod(int(n) for n in shape)
    c = COEFFICIENTS["cpu" if _is_cpu(platform or _default_platform()) else "gpu"]
    state = p + 1
    work = max(_lines(c["noise" if noise else "step"], p), _lines(c["observe"], p))
    if orientation and p > PAIR_LOOP_MAX:
        work = max(work, _lines(c["orientation"], p))
    parts = {  # bytes per cell
        "fields": batch * FIELD_COPIES * state * item,
        "FFT work space": batch * work * item,
        "saved frames": batch * saves_on_device * SAVE_COPIES * state * item,
        "constants and FFT plans": batch * _lines(c["library"], p) * item,
    }
    device = float(sum(parts.values()))
    staged = (p + 1) * item if item < 8 else 0
    build = 8 * (p + 2) + max(8 * HOST_TEMPORARIES, staged)  # (> a checkpoint's host copy)
    breakdown = {k: _bytes(v, cells) for k, v in parts.items() if v}
    breakdown["runtime"] = c["runtime"]
    breakdown["initial fields built in float64"] = _bytes(build, cells)
    dev = c["runtime"] + _bytes(device, cells)
    return MemoryEstimate(dev, _bytes(build, cells), device, float(build), breakdown)


_UNITS = {"": 1, "b": 1}
_UNITS |= {f"{u}b": 1000**i for i, u in enumerate("kmgt", 1)}  # decimal
_UNITS |= {f"{u}ib": 1024**i for i, u in enumerate("kmgt", 1)}  # binary
ENV = "SINTERSIM_MEMORY_LIMIT"


def parse_bytes(text: str, what: str = ENV) -> int:
    """``"512MB"``, ``"2GiB"``, ``"1.5e9"``, ``"1000"`` -> bytes (kB/MB/GB/TB decimal, KiB/MiB/
    GiB/TiB binary)."""
    m = re.fullmatch(r"\s*([0-9.]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*", text)
    unit = m.group(2).lower() if m else None
    try:
        value = float(m.group(1)) * _UNITS[unit] if m else math.nan
    except (KeyError, ValueError):
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ValueError(
            f"{what} = {text!r}: expected a positive size in bytes, e.g. 512MB, 2GiB, 1.5e9 "
            f"(units: {', '.join(u for u in _UNITS if u)}, case-insensitive)"
        )
    return int(value)


def memory_limit(platform: str | None = None) -> int | None:
    """Bytes available to a run on ``platform`` (default: that of ``jax.devices()[0]``).

    ``SINTERSIM_MEMORY_LIMIT`` overrides; else on a GPU the device's ``bytes_limit`` less what
    is in use (None where the backend reports no memory stats), on the CPU ``MemAvailable`` of
    /proc/meminfo, capped by the cgroup's limit (a container's OOM killer acts on that).
    """
    env = os.environ.get(ENV)
    if env is not None and env.strip():
        return parse_bytes(env)
    if not _is_cpu(platform or _default_platform()):
        import jax

        try:
            stats = jax.devices()[0].memory_stats() or {}
        except Exception:  # backends without memory stats
            return None
        if "bytes_limit" not in stats:
            return None
        return int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
    return _cpu_available()


def _cpu_available() -> int | None:
    avail = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
    except OSError:
        return None
    cg = "/sys/fs/cgroup/"  # v2, v1
    for cap_file, used_file in (
        ("memory.max", "memory.current"),
        ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes"),
    ):
        try:
            with open(cg + cap_file) as f, open(cg + used_file) as g:
                cap, used = f.read().strip(), int(g.read().strip())
        except (OSError, ValueError):
            continue
        if cap.isdigit() and int(cap) < 2**60:
            avail = int(cap) - used if avail is None else min(avail, int(cap) - used)
        break
    return avail


def largest_grid(est: MemoryEstimate, limit: int, ndim: int, platform: str) -> int:
    """Largest n such that an ``n^ndim`` grid with the same fields and dtype fits in ``limit``
    bytes on ``platform`` (0 if none does)."""
    per_cell = max(est.per_cell_device, est.per_cell_host if _is_cpu(platform) else 0.0)
    return _largest(
        lambda c: _need(est, c, platform), per_cell, est.breakdown["runtime"], limit, ndim
    )


def _largest(need, per_cell: float, fixed: int, limit: int, ndim: int) -> int:
    n = int((max(0, limit - fixed) / per_cell) ** (1.0 / ndim))
    while n > 0 and need(n**ndim) > limit:
        n -= 1
    while need((n + 1) ** ndim) <= limit:
        n += 1
    return n


def _gib(b: float | int) -> str:
    if b >= 2**30:
        return f"{b / 2**30:.3g} GiB"
    return f"{b / 2**20:.3g} MiB"


def check_fits(shape, n_fields, dtype, *, what: str = "grid.shape", **kw) -> MemoryEstimate:
    """The estimate of a run (`estimate_memory`, keywords passed on); raises `DoesNotFit` if it
    exceeds `memory_limit` of the default device's platform (unknown limit: no check) or, on an
    accelerator, if building the initial fields exceeds the host's MemAvailable."""
    shape, n_fields = tuple(int(n) for n in shape), int(n_fields)
    platform = kw.pop("platform", None) or _default_platform()
    est = estimate_memory(shape, n_fields, dtype, platform=platform, **kw)
    cpu, d, build = _is_cpu(platform), len(shape), "initial fields built in float64"
    src = ENV if os.environ.get(ENV, "").strip() else ("MemAvailable" if cpu else "bytes_limit")
    checks = [(platform, est.total_on(platform), memory_limit(platform), src)]
    if not cpu:  # the fields are built on the host first
        checks.append(("host", est.host_bytes, _cpu_available(), "MemAvailable"))
    for where, need, limit, src in checks:
        if limit is None or need <= limit:
            continue
        if where == "host":
            parts = f"{build} {_gib(need)}"
            n = _largest(lambda c: _bytes(est.per_cell_host, c), est.per_cell_host, 0, limit, d)
        else:
            parts = ", ".join(f"{k} {_gib(v)}" for k, v in est.breakdown.items() if k != build)
            if cpu:  # the build comes first and is freed before the first step
                parts += f"; before that, the {build} {_gib(est.breakdown[build])}"
            n = largest_grid(est, limit, d, platform)
        name = np.dtype(dtype).name
        less = "fewer fields" + (", float32" if name == "float64" else "")
        hint = (
            f"the largest grid that fits is {n}^{d} (or {less}, a coarser grid.spacing_nm)"
            if n >= 4
            else f"no grid fits (runtime {_gib(est.breakdown['runtime'])})"
        )
        raise DoesNotFit(
            f"{what} = {list(shape)} with {n_fields} fields in {name} needs about {_gib(need)} "
            f"on the {where} ({parts}); {_gib(limit)} is available ({src}); {hint}"
        )
    return est
