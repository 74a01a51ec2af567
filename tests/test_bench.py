"""Fast checks of scripts/bench.py and scripts/fipy_peer.py on tiny sizes.

No test asserts a time bound (timings on shared machines are noise): only that the benchmark
functions return positive finite numbers, count the FFTs of a step correctly, and write the
expected JSON.
"""

import importlib.util
import json
import math
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sintersim as ss

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
sys.path.insert(0, str(SCRIPTS))


def _load(name):
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", SCRIPTS / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


bench = _load("bench")
fipy_peer = _load("fipy_peer")


def _positive_finite(x):
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


def _tiny_plan(**kw):
    plan = bench.Plan.tiny()
    for k, v in kw.items():
        setattr(plan, k, v)
    return plan


class _CountingGrid(ss.Grid):
    """A Grid that counts the single-field real FFTs it is asked for (stacks count P times)."""

    def rfft(self, u):
        _COUNTS["rfft"] += int(np.prod(u.shape[: u.ndim - self.ndim], dtype=int))
        return super().rfft(u)

    def irfft(self, u_hat):
        _COUNTS["irfft"] += int(np.prod(u_hat.shape[: u_hat.ndim - self.ndim], dtype=int))
        return super().irfft(u_hat)


_COUNTS = {"rfft": 0, "irfft": 0}


@pytest.mark.parametrize("shape,P", [((16, 16), 2), ((16, 12), 3), ((8, 8, 8), 2), ((8, 8, 8), 5)])
def test_fft_counts_match_the_stepper(shape, P):
    """The script's formula equals the transforms `SemiImplicitFourier.step` actually takes."""
    grid = _CountingGrid(shape)
    model = bench.make_model(jnp.float32)
    state = bench.make_state(grid, P, jnp.float32)
    _COUNTS.update(rfft=0, irfft=0)
    jax.eval_shape(lambda s: ss.SemiImplicitFourier().step(model, grid, s, 0.1), state)
    assert _COUNTS == bench.fft_counts(len(shape), P)


def test_fft_counts_formula():
    assert bench.fft_counts(2, 2) == {"rfft": 6, "irfft": 5}
    assert bench.fft_counts(3, 8) == {"rfft": 13, "irfft": 12}


def test_step_and_floor_are_positive_finite():
    plan = _tiny_plan(grids=[(16, 16), (8, 8, 8)], fields=[2], dtypes=["float32", "float64"])
    rows = bench.bench_steps(plan, log=lambda m: None)
    assert len(rows) == 4
    for r in rows:
        for k in ("step_s", "cell_updates_per_s", "floor_s", "step_over_floor", "rfft_s"):
            assert _positive_finite(r[k]), (k, r[k])
        assert r["finite"]
        assert r["fft_counts"] == bench.fft_counts(r["ndim"], r["fields"])
    fits = bench.scaling_fits(rows + [dict(rows[0], cells=2 * rows[0]["cells"], grid="x")])
    assert all(math.isfinite(f["exponent_step"]) for f in fits["vs_cells"])


def test_float32_runs_without_x64_promotion():
    with bench.x64_for("float32"):
        m = bench.make_model(jnp.float32)
        assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(m))
    with bench.x64_for("float64"):
        m = bench.make_model(jnp.float64)
        assert all(x.dtype == jnp.float64 for x in jax.tree.leaves(m))


def test_batch_and_pitfall_positive():
    plan = _tiny_plan()
    b = bench.bench_batch(plan)
    for k in ("sequential_s", "vmap_states_s", "vmap_param_s", "speedup_vmap_states"):
        assert _positive_finite(b[k]), k
    assert b["finite"]
    p = bench.bench_pitfall(plan)
    for k in ("sum_stacked_axis0_s", "sum_per_field_s", "bulk_derivatives_s", "mobility_s"):
        assert _positive_finite(p[k]), k


def test_grad_child_in_process():
    for kind in ("forward", "grad"):
        r = bench.grad_child({"kind": kind, "steps": 3, "shape": [32, 20], "dtype": "float32"})
        assert _positive_finite(r["run_s"]) and _positive_finite(r["peak_rss_mb"])
        assert math.isfinite(r["value"])
    # d neck / d M_surf: faster surface diffusion grows the neck
    assert r["value"] > 0


def test_peer_skips_without_fipy(monkeypatch):
    import fipy_peer as fp

    monkeypatch.setattr(fp, "fipy_available", lambda: False)
    out = bench.bench_peer(_tiny_plan(), log=lambda m: None)
    assert "skipped" in out and "fipy" in out["skipped"].lower()


def test_fipy_peer_agrees_on_a_short_run():
    pytest.importorskip("fipy")
    setup = bench.demo_setup()
    res, neck = fipy_peer.run_from_setup(setup, t_end=0.5, dt=0.25)
    assert np.isfinite(res.rho).all() and res.steps == 2
    # mass is conserved by the finite-volume Cahn-Hilliard equation
    assert abs(res.rho.sum() - float(setup.state0.rho.sum())) < 1e-3
    model = setup.model
    out = ss.solver.advance(model, setup.grid, setup.state0, 5, 0.1)
    from sintersim.observables._fields import neck_size

    ref = float(neck_size(out, setup.grid, setup.centres[0][0], setup.centres[1][0]))
    assert abs(neck - ref) < 1.0


def test_json_has_expected_keys(tmp_path):
    path = tmp_path / "bench.json"
    rc = bench.main(
        ["--tiny", "--no-peer", "--no-grad", "--json", str(path), "--out", str(tmp_path)]
    )
    assert rc == 0
    data = json.loads(path.read_text())
    for k in ("mode", "environment", "plan", "steps", "scaling", "batch", "pitfall", "grad"):
        assert k in data, k
    assert data["peer"] == {"skipped": "--no-peer"}
    for k in ("device", "jax", "cpu"):
        assert data["environment"][k]
    row = data["steps"][0]
    for k in (
        "grid",
        "fields",
        "dtype",
        "step_s",
        "cell_updates_per_s",
        "rfft_s",
        "irfft_s",
        "fft_counts",
        "floor_s",
        "step_over_floor",
    ):
        assert k in row, k
    assert {"vs_cells", "vs_fields"} <= set(data["scaling"])
    assert (tmp_path / "bench_scaling.png").stat().st_size > 0
