"""Memory a run needs, estimated before any field is allocated, and the refusal of one that
cannot fit (`check_fits`): a grid too large for the machine stops with the estimate and the
largest grid that fits instead of being killed by the OOM killer halfway through its first step.

The estimate is linear in the number of cells. Per cell, in units of the run's itemsize, with
P order parameters (one rho field more):

- fields: the state (P + 1 fields) three times: the initial state the run keeps, the current
  state and the next one (the step's argument and result; the run keeps the last good state
  to retry an unstable interval, so nothing is donated);
- work space: XLA's temporaries (FFT spectra, chemical potentials, fluxes), the larger of one
  step (`advance`) and one observables pass (the free energy), which never overlap;
- saved frames: ``saves_on_device`` copies of the state (a batch `integrate` with `SaveAt`).

``batch`` multiplies all of these (a vmapped sweep keeps every member's fields). On the host the
initial fields are built in numpy float64 (`sintersim.initial.particles`: P + 1 fields, the
particle profile and its temporaries) and converted to the run dtype.

The coefficients come from `jax.stages.Compiled.memory_analysis` (temp_size_in_bytes) of the
jitted `advance` and observables passes, fitted over 2D/3D grids, P = 2..32, float32/float64;
`scripts/bench_memory.py` checks the whole estimate against the measured peak (RSS on the CPU,
``peak_bytes_in_use`` on a GPU).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re

import numpy as np

# --- calibration ------------------------------------------------------------------------------
# Work space per cell, in units of itemsize, as a + b * P (P = n_fields).
# PROVISIONAL: being calibrated.
STEP_WORK = (5.0, 3.2)  # one step of SemiImplicitFourier
OBSERVE_WORK = (2.5, 3.3)  # the observables pass (free energy: one spectrum per field)
NOISE_WORK = (5.0, 3.0)  # extra for [noise]: the random fields and their fluxes
ORIENTATION_WORK = (1.0, 0.0)  # extra for [orientation]: boundary weights, torques
STATE_COPIES = 3  # initial, current, next
HOST_TEMPORARIES = 3  # float64 full-grid arrays besides the fields while building them


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
        """Bytes the run needs of the memory ``limit`` counts on ``platform``.

        cpu: the device is host memory; the float64 build is freed before the first step, so the
        peak is the larger of building and stepping, not their sum. gpu (any accelerator): the
        device part.
        """
        return _bytes(_per_cell_total(self, platform), self.cells)

    @property
    def cells(self) -> int:
        return self.breakdown.get("cells", 0)


def _bytes(per_cell: float, cells: int) -> int:
    return int(math.ceil(per_cell * cells))


def _per_cell_total(est: MemoryEstimate, platform: str) -> float:
    if _is_cpu(platform):
        return max(est.per_cell_device, est.per_cell_host)
    return est.per_cell_device


def _is_cpu(platform: str) -> bool:
    return platform.lower() == "cpu"


def _line(coef: tuple[float, float], p: int) -> float:
    return coef[0] + coef[1] * p


def estimate_memory(
    shape: tuple[int, ...],
    n_fields: int,
    dtype,
    *,
    orientation: bool = False,
    noise: bool = False,
    batch: int = 1,
    saves_on_device: int = 0,
) -> MemoryEstimate:
    """Peak memory of a run on a grid of ``shape`` with ``n_fields`` order parameters.

    orientation / noise: the `[orientation]` and `[noise]` features (extra work space).
    batch: members of a vmapped sweep (each keeps its own fields and work space).
    saves_on_device: frames of the full state kept on the device (batch `integrate` with
        `SaveAt`), per member.
    """
    p, item = int(n_fields), np.dtype(dtype).itemsize
    if p < 1 or batch < 1 or saves_on_device < 0:
        raise ValueError(
            f"n_fields = {n_fields}, batch = {batch}, saves_on_device = {saves_on_device}: need "
            "n_fields >= 1, batch >= 1, saves_on_device >= 0"
        )
    cells = math.prod(int(n) for n in shape)
    state = p + 1
    step = _line(STEP_WORK, p)
    if noise:
        step += _line(NOISE_WORK, p)
    if orientation:
        step += _line(ORIENTATION_WORK, p)
    work = max(step, _line(OBSERVE_WORK, p))
    parts = {  # per cell, bytes
        "fields": batch * STATE_COPIES * state * item,
        "FFT work space": batch * work * item,
        "saved frames": batch * saves_on_device * state * item,
    }
    device = sum(parts.values())
    # host: float64 fields + temporaries, then the run-dtype copy (staged on the host)
    build = 8 * (state + HOST_TEMPORARIES) + state * item
    host = max(build, state * item)  # a checkpoint: one state copied to the host
    breakdown = {k: _bytes(v, cells) for k, v in parts.items() if v}
    breakdown["host build (float64)"] = _bytes(build, cells)
    breakdown["cells"] = cells
    return MemoryEstimate(_bytes(device, cells), _bytes(host, cells), device, host, breakdown)


_UNITS = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
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
    if platform is None:
        import jax

        platform = jax.devices()[0].platform
    if not _is_cpu(platform):
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
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        ),
    ):
        try:
            with open(limit_file) as f, open(usage_file) as g:
                cap, used = f.read().strip(), int(g.read().strip())
        except (OSError, ValueError):
            continue
        if cap.isdigit() and int(cap) < 2**60:
            room = int(cap) - used
            avail = room if avail is None else min(avail, room)
        break
    return avail


def largest_grid(est: MemoryEstimate, limit: int, ndim: int, platform: str) -> int:
    """Largest n such that an ``n^ndim`` grid with the same fields and dtype fits in ``limit``
    bytes (0 if not even one cell does)."""
    per_cell = _per_cell_total(est, platform)
    n = int((limit / per_cell) ** (1.0 / ndim)) if per_cell > 0 else 0
    while n > 0 and _bytes(per_cell, n**ndim) > limit:
        n -= 1
    while _bytes(per_cell, (n + 1) ** ndim) <= limit:
        n += 1
    return n


def _gib(b: float) -> str:
    if b >= 2**30:
        return f"{b / 2**30:.3g} GiB"
    return f"{b / 2**20:.3g} MiB"


def check_fits(shape, n_fields: int, dtype, *, what: str = "grid.shape", **kw) -> MemoryEstimate:
    """The estimate of a run (`estimate_memory`, keywords passed on); raises `DoesNotFit` if it
    exceeds `memory_limit` of the default device's platform. Unknown limit: no check."""
    import jax

    est = estimate_memory(tuple(shape), n_fields, dtype, **kw)
    platform = jax.devices()[0].platform
    limit = memory_limit(platform)
    need = est.total_on(platform)
    if limit is None or need <= limit:
        return est
    cpu = _is_cpu(platform)
    src = "MemAvailable" if cpu else "the device's bytes_limit"
    if os.environ.get(ENV, "").strip():
        src = ENV
    parts = ", ".join(
        f"{k} {_gib(v)}"
        for k, v in est.breakdown.items()
        if k != "cells" and (cpu or "host" not in k)
    )
    n = largest_grid(est, limit, len(shape), platform)
    name = np.dtype(dtype).name
    raise DoesNotFit(
        f"{what} = {list(shape)} with {n_fields} fields in {name} needs about {_gib(need)} on "
        f"the {'cpu' if cpu else platform} ({parts}); {_gib(limit)} is available ({src}); the "
        f"largest grid that fits is {n}^{len(shape)} (or fewer fields"
        + (", float32" if name == "float64" else "")
        + ", a coarser grid.spacing_nm)"
    )
