"""DensityBounds: a stiff density outside [0, 1] (the crystal's bulk modulus), its stabiliser,
its weight in the rigid-body motion's contact stiffness, and its config field."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

jax.config.update("jax_enable_x64", True)

import sintersim as ss  # noqa: E402
from sintersim.model import DensityBounds, RigidBody  # noqa: E402
from sintersim.model._rigid_body import grain_sums  # noqa: E402
from sintersim.scenario import ConfigError  # noqa: E402
from sintersim.solver import SemiImplicitFourier  # noqa: E402

ENERGY = ss.calibrate.grid_energy(0.5, 3.0)
DEMO = (ss.scenario.__file__.rsplit("/", 2)[0]) + "/data/demo.toml"


def _model(factor: float | None, kinetics=()):
    terms = () if factor is None else (DensityBounds(factor),)
    return ss.SinterModel(ENERGY, ss.Mobility(1.0, 0.0, 1.0, 1.0), 1.0, terms, (), kinetics)


def _random_state(shape, lo, hi, seed=0):
    rng = np.random.default_rng(seed)
    rho = rng.uniform(lo, hi, shape)
    eta = rng.uniform(0.0, 1.0, (2, *shape))
    return jnp.asarray(rho), jnp.asarray(eta)


def test_bounds_change_nothing_on_the_physical_range():
    """On rho in [0, 1] the term is zero: the same bulk derivatives, energy and equilibria."""
    rho, eta = _random_state((16, 12), 0.0, 1.0)
    plain, bounded = _model(None), _model(10.0)
    for a, b in zip(
        plain.bulk_derivatives(rho, eta), bounded.bulk_derivatives(rho, eta), strict=True
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    grid = ss.Grid((16, 12))
    st = ss.State(rho, eta)
    assert float(plain.free_energy(st, grid)) == float(bounded.free_energy(st, grid))


@pytest.mark.parametrize("factor", [1.0, 10.0, 37.5])
def test_bounds_derivative_outside_the_range_is_the_modulus(factor):
    """f = K/2 [(rho-1)_+^2 + (-rho)_+^2] with K = s 2 (A + B): the autodiff chemical potential
    grows by K (rho - 1) above 1 and by K rho below 0 (a negative number, pushing rho up)."""
    rho = jnp.asarray([-0.2, -0.05, 0.5, 1.02, 1.3])
    eta = jnp.zeros((1, 5))
    k = factor * 2.0 * (ENERGY.A + ENERGY.B)
    d0, _ = _model(None).bulk_derivatives(rho, eta)
    d1, _ = _model(factor).bulk_derivatives(rho, eta)
    expect = k * np.array([-0.2, -0.05, 0.0, 0.02, 0.3])
    np.testing.assert_allclose(np.asarray(d1 - d0), expect, rtol=1e-12, atol=1e-14)
    local = np.asarray(_model(factor).local_stiffness(rho))
    np.testing.assert_allclose(local, [k, k, 0.0, k, k])
    assert float(_model(factor).bulk_stiffness()) == pytest.approx(k)


@pytest.mark.parametrize("bad", [-1.0, 1e4, float("nan")])
def test_bounds_refuse_bad_factors(bad):
    with pytest.raises(ValueError, match="DensityBounds.factor"):
        DensityBounds(bad)


def test_the_stabiliser_grows_by_half_the_modulus():
    """S_rho of the implicit rho operator: (A + B) + K / 2, so the linear step stays stable for
    the stiffer well (the operator is kappa k^4 + S_rho k^2)."""
    grid = ss.Grid((16, 16))
    st = ss.State(*_random_state((16, 16), 0.0, 1.0))
    stepper = SemiImplicitFourier()
    p0 = np.asarray(stepper._operators(_model(None), grid, st).p_rho)
    p1 = np.asarray(stepper._operators(_model(10.0), grid, st).p_rho)
    k = 10.0 * 2.0 * (ENERGY.A + ENERGY.B)
    np.testing.assert_allclose(p1 - p0, 0.5 * k * np.asarray(grid.k2()), rtol=1e-12)


def test_motion_weighs_pressed_contacts_by_the_local_modulus():
    """The coupled solve's contact and self stiffness integrate w |grad eta|^2 with
    w = 1 + K / (2 (A + B)) where rho > 1: a boundary pressed above 1 counts (1 + s) times."""
    grid = ss.Grid((24, 16))
    x = np.asarray(grid.coordinates()[0]) + 0 * np.asarray(grid.coordinates()[1])
    h = 0.5 * (1 - np.tanh((x - 12.0) / 1.5))
    eta = jnp.asarray(np.stack([h, 1 - h]))
    labels = jnp.asarray(np.where(np.stack([h, 1 - h]) > 0.1, 0, grid.size), jnp.int32)
    labels = labels.at[1].set(jnp.where(labels[1] == 0, 1, grid.size))
    grads = grid.gradient(eta)
    f = [jnp.zeros_like(eta) for _ in grads]
    plain = grain_sums(grid, eta, labels, f, grads, 4)
    w = jnp.full(grid.shape, 11.0)
    heavy = grain_sums(grid, eta, labels, f, grads, 4, w)
    np.testing.assert_allclose(np.asarray(heavy.contacts), 11.0 * np.asarray(plain.contacts))
    np.testing.assert_allclose(np.asarray(heavy.stiffness), 11.0 * np.asarray(plain.stiffness))
    assert float(jnp.min(plain.contacts)) < 0.0


def test_pressed_discs_compress_less_with_stiff_density():
    """Two touching discs (R = 10 cells) under the energy force in the fast limit, transport
    off (the density is only advected): the surface tension presses the grains into each other
    until the overlap's density excess balances it. With DensityBounds(s) the excess is smaller
    the stiffer the density (measured, 200 steps of 0.25, float64: max rho - 1 = 0.084 with no
    term, 0.057 with s = 3, 0.037 with s = 10, 0.015 with s = 30; unchanged by 1600 steps)."""
    grid = ss.Grid((64, 32))
    st = ss.two_particles(grid, 10.0, gap=0.0, width=1.5, dtype=jnp.float64)
    over = {}
    for s in (None, 3.0, 10.0, 30.0):
        m = _model(s, (RigidBody(None),))
        m = ss.SinterModel(m.energy, ss.Mobility(0.0, 0.0, 0.0, 0.0), 1.0, m.terms, (), m.kinetics)
        out = jax.jit(lambda x, m=m: ss.solver.advance(m, grid, x, 200, 0.25))(st)
        assert bool(ss.solver.state_ok(out))
        over[s] = float(jnp.max(out.rho)) - 1.0
    print(over)
    assert over[None] > 0.05
    assert over[None] > over[3.0] > over[10.0] > over[30.0] > 0.0
    assert over[10.0] < 0.5 * over[None] and over[30.0] < 0.25 * over[None]


def _demo(extra: str):
    return ss.scenario.loads_config(open(DEMO).read() + "\n" + extra)


def test_config_adds_the_bounds_with_motion_only():
    """[motion] density_stiffness = s adds DensityBounds(s) next to the RigidBody; the default
    (0) adds none; out of range is refused naming the field."""
    plain = ss.scenario.build(_demo("[motion]\nenabled = true\n")).model
    assert plain.find(DensityBounds) is None and plain.find(RigidBody) is not None
    stiff = ss.scenario.build(_demo("[motion]\nenabled = true\ndensity_stiffness = 10\n")).model
    assert stiff.find(DensityBounds).factor == 10.0
    off = ss.scenario.build(_demo("[motion]\nenabled = false\ndensity_stiffness = 10\n")).model
    assert off.find(DensityBounds) is None
    with pytest.raises(ConfigError, match="motion.density_stiffness"):
        _demo("[motion]\nenabled = true\ndensity_stiffness = 1000\n")


def test_a_run_with_motion_that_leaves_the_range_says_to_stiffen_the_density(tmp_path):
    """The stop message of a run whose fields left [-0.5, 1.5] names motion.density_stiffness
    when motion is on with a softer density than the one that ran seed 004's film."""
    from sintersim.scenario._run import RunWriter

    soft = ss.scenario.build(_demo("[motion]\nenabled = true\n"))
    why = RunWriter(soft, tmp_path / "soft").unstable([], None)
    assert "left [-0.5, 1.5]" in why and "motion.density_stiffness" in why
    stiff = ss.scenario.build(_demo("[motion]\nenabled = true\ndensity_stiffness = 100\n"))
    assert "density_stiffness" not in RunWriter(stiff, tmp_path / "stiff").unstable([], None)
    plain = ss.scenario.build(_demo(""))
    assert "density_stiffness" not in RunWriter(plain, tmp_path / "plain").unstable([], None)


@pytest.mark.slow
def test_box_filling_film_with_motion_completes_only_with_the_stiff_density():
    """Seed 004's reduced film (16 cubes filling the periodic box) with motion: with the default
    soft density the grains press their boundaries out of the state range (measured: rho 1.47,
    stopped before 0.000159 s); with density_stiffness = 100 it runs to 0.004 s with rho up to
    1.18 (`python experiments/seed004_cspbbr3_stitching/run.py --motion`). ~1 min."""
    import importlib.util
    import sys
    from pathlib import Path

    jax.config.update("jax_enable_x64", False)
    try:
        folder = Path(__file__).resolve().parents[1] / "experiments/seed004_cspbbr3_stitching"
        sys.path.insert(0, str(folder))
        spec = importlib.util.spec_from_file_location("seed004_run", folder / "run.py")
        run = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(run)
        sp, n, (t_slow, _), seed = run.SIZES["reduced"]
        mat = run.CFG["material"]
        nd = run.orun.physics(mat["preset"], mat["temperature_K"], sp)
        run.orun.cache_boundary_laws(folder / "out" / "cache")
        energy = run.orun.oriented(nd.model.energy, ratio=ss.model.max_ratio(), spacing_nm=sp)
        grid, st, *_ = run.superlattice(n, sp, seed)
        out = {}
        for s in (0.0, 100.0):
            _, recs, status = run.run_film(
                nd, energy, grid, st, t_slow, 16, run.L_SLOW, motion=True, stiffness=s
            )
            out[s] = (status, recs[-1][0], max(float(jnp.max(r.rho)) for _, r in recs))
        print(out)
        assert out[0.0][0].startswith("failed") and out[0.0][2] > 1.3
        assert out[100.0][0] == "complete" and out[100.0][1] == pytest.approx(t_slow)
        assert out[100.0][2] < 1.25
    finally:
        jax.config.update("jax_enable_x64", True)
