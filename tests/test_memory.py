"""The memory estimate made before a run allocates its fields (`sintersim.solver._memory`)."""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sintersim as ss
from sintersim.observables._fields import two_particle_observables
from sintersim.solver._memory import (
    COEFFICIENTS,
    ENV,
    DoesNotFit,
    check_fits,
    estimate_memory,
    largest_grid,
    memory_limit,
    parse_bytes,
)

MODEL = ss.SinterModel(
    ss.WangEnergy(A=5.0, B=1.0, kappa_rho=3.0, kappa_eta=3.0),
    ss.Mobility(M_vol=0.0, M_vap=0.0, M_surf=1.0, M_gb=0.1),
    1.0,
)


def _xla_total(shape, p, dtype):
    """What XLA says a run holds at its peak: the initial state the run keeps, the step's
    argument and result, and the larger work space of a step and of an observables pass."""
    grid = ss.Grid(shape, 1.0)
    # shapes only, nothing allocated (the State is made inside the trace: its fields are checked)
    spec = (jax.ShapeDtypeStruct(shape, dtype), jax.ShapeDtypeStruct((p, *shape), dtype))
    step = jax.jit(lambda r, e: ss.solver.advance(MODEL, grid, ss.State(r, e), 3, 0.1))
    obs = jax.jit(lambda r, e: two_particle_observables(ss.State(r, e), grid, MODEL, 4.0, 12.0))
    a = step.lower(*spec).compile().memory_analysis()
    o = obs.lower(*spec).compile().memory_analysis()
    assert a.alias_size_in_bytes == 0  # nothing donated: argument and result coexist
    state = a.argument_size_in_bytes
    return (
        state
        + a.argument_size_in_bytes
        + a.output_size_in_bytes
        + max(a.temp_size_in_bytes, o.temp_size_in_bytes)
    )


@pytest.mark.parametrize(
    "shape, p, dtype",
    [((96, 80), 2, jnp.float32), ((96, 96), 6, jnp.float32), ((24, 24, 24), 4, jnp.float32)],
)
def test_estimate_matches_xla_buffer_analysis(shape, p, dtype):
    platform = jax.devices()[0].platform  # the coefficients of the XLA that compiles here
    est = estimate_memory(shape, p, dtype, platform=platform)
    # memory_analysis leaves out the constants compiled into the programs and the runtime
    extra = est.breakdown["constants and FFT plans"] + est.breakdown["runtime"]
    assert (
        est.breakdown["runtime"] == COEFFICIENTS["cpu" if platform == "cpu" else "gpu"]["runtime"]
    )
    assert est.device_bytes - extra == pytest.approx(_xla_total(shape, p, dtype), rel=0.2)


@pytest.mark.parametrize("platform", ["cpu", "gpu"])
def test_estimate_scales(platform):
    def est(shape, p, dtype, **kw):
        return estimate_memory(shape, p, dtype, platform=platform, **kw)

    a = est((64, 64), 4, np.float32)
    runtime = a.breakdown["runtime"]
    assert runtime + a.per_cell_device * 64 * 64 == pytest.approx(a.device_bytes, abs=1)
    b = est((64, 64), 4, np.float64)
    assert b.device_bytes - runtime == pytest.approx(2 * (a.device_bytes - runtime), abs=2)
    assert est((128, 128), 4, np.float32).device_bytes - runtime == pytest.approx(
        4 * (a.device_bytes - runtime), abs=4
    )
    more = est((64, 64), 8, np.float32)
    assert more.device_bytes > a.device_bytes
    noisy = est((64, 64), 4, np.float32, noise=True)
    assert noisy.breakdown["FFT work space"] >= a.breakdown["FFT work space"]
    # many oriented fields: the boundary cross terms are one contraction (more on the CPU)
    oriented, plain = est((64, 64), 12, np.float32, orientation=True), est((64, 64), 12, np.float32)
    assert oriented.breakdown["FFT work space"] >= plain.breakdown["FFT work space"]
    sweep = est((64, 64), 4, np.float32, batch=4, saves_on_device=3)
    assert sweep.breakdown["fields"] == 4 * a.breakdown["fields"]
    assert sweep.breakdown["saved frames"] > 0
    # the float64 build happens on the host, before stepping
    assert a.total_on("cpu") == max(a.device_bytes, a.host_bytes)
    assert a.total_on("gpu") == a.device_bytes
    with pytest.raises(ValueError, match="n_fields"):
        est((64, 64), 0, np.float32)


def test_gpu_needs_less_work_space_than_the_cpu():
    """XLA:GPU fuses more: its work space per field is about 2 fields, not 3 (measured)."""
    cpu = estimate_memory((512, 512, 512), 16, np.float32, platform="cpu")
    gpu = estimate_memory((512, 512, 512), 16, np.float32, platform="gpu")
    assert gpu.breakdown["fields"] == cpu.breakdown["fields"]
    assert gpu.breakdown["FFT work space"] < 0.8 * cpu.breakdown["FFT work space"]


@pytest.mark.parametrize(
    "text, value",
    [
        ("512MB", 512 * 10**6),
        ("2GiB", 2 * 2**30),
        ("1.5e9", 1_500_000_000),
        ("1000", 1000),
        (" 4 kib ", 4096),
        ("0.5 TB", 5 * 10**11),
        ("100b", 100),
    ],
)
def test_limit_parsing(monkeypatch, text, value):
    assert parse_bytes(text) == value
    monkeypatch.setenv(ENV, text)
    assert memory_limit("cpu") == value
    assert memory_limit("gpu") == value  # the variable overrides every platform


@pytest.mark.parametrize("text", ["lots", "-1GB", "2 XB", "0", "1e999", "GB", "1.2.3MB"])
def test_bad_limit_names_the_variable(monkeypatch, text):
    monkeypatch.setenv(ENV, text)
    with pytest.raises(ValueError, match=ENV):
        memory_limit("cpu")


def test_limit_from_the_machine(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    avail = memory_limit("cpu")
    assert avail is not None and avail > 2**20


def test_refuses_a_grid_that_does_not_fit(monkeypatch):
    monkeypatch.setenv(ENV, "1GiB")
    platform = jax.devices()[0].platform
    with pytest.raises(DoesNotFit) as info:
        check_fits((1024, 1024, 1024), 6, jnp.float32, what="grid.shape")
    msg = str(info.value)
    assert isinstance(info.value, MemoryError) and isinstance(info.value, ValueError)
    assert "grid.shape = [1024, 1024, 1024] with 6 fields in float32" in msg
    need = estimate_memory((1024,) * 3, 6, jnp.float32, platform=platform).total_on(platform)
    assert f"needs about {need / 2**30:.3g} GiB" in msg
    assert "FFT work space" in msg and "1 GiB is available (SINTERSIM_MEMORY_LIMIT)" in msg
    n = int(re.search(r"the largest grid that fits is (\d+)\^3", msg).group(1))
    limit = 2**30
    for m, fits in ((n, True), (n + 1, False)):
        est = estimate_memory((m,) * 3, 6, jnp.float32, platform=platform)
        assert (est.total_on(platform) <= limit) is fits
    assert 100 < n < 1024
    # what fits passes and returns the estimate
    est = check_fits((n, n, n), 6, jnp.float32)
    assert est.total_on(platform) <= limit


@pytest.mark.parametrize("platform", ["cpu", "gpu"])
@pytest.mark.parametrize("ndim", [2, 3])
def test_largest_grid_is_the_largest(platform, ndim):
    def need(n):
        est = estimate_memory((n,) * ndim, 5, np.float64, noise=True, platform=platform)
        return est.total_on(platform)

    est = estimate_memory((64,) * ndim, 5, np.float64, noise=True, platform=platform)
    for limit in (3 * 10**8, 3 * 10**9, 10**11):
        n = largest_grid(est, limit, ndim, platform)
        assert need(n) <= limit < need(n + 1)
    assert largest_grid(est, 10**6, ndim, platform) == 0  # not even the runtime fits


def test_gpu_run_also_checks_the_host_build(monkeypatch):
    """On an accelerator the float64 build needs host memory the device limit does not count."""
    from sintersim.solver import _memory

    monkeypatch.setenv(ENV, "1TB")  # the device's limit
    monkeypatch.setattr(_memory, "_cpu_available", lambda: 2**30)
    with pytest.raises(DoesNotFit, match=r"on the host \(initial fields built in float64") as e:
        check_fits((1024, 1024, 1024), 6, jnp.float32, platform="gpu")
    n = int(re.search(r"the largest grid that fits is (\d+)\^3", str(e.value)).group(1))
    assert estimate_memory((n,) * 3, 6, jnp.float32, platform="gpu").host_bytes <= 2**30
    assert estimate_memory((n + 1,) * 3, 6, jnp.float32, platform="gpu").host_bytes > 2**30
    check_fits((n, n, n), 6, jnp.float32, platform="gpu")  # fits both
