"""Fast checks of the numerical core: chemical potentials, conservation, energy decay,
JAX transformations (jit / vmap / grad) through `integrate`, 1D/2D/3D grids and float32.

float64 throughout (set at import) except `test_float32_default_dtype`, which runs in a
subprocess with x64 off so the whole solve happens in single precision.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import jax

jax.config.update("jax_enable_x64", True)

import equinox as eqx  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import sintersim as ss  # noqa: E402
from sintersim.materials import _theory as _theory  # noqa: E402
from sintersim.observables._fields import free_energy, mass, neck_size  # noqa: E402

ENERGY = ss.WangEnergy(A=5.0, B=1.0, kappa_rho=3.0, kappa_eta=3.0)
ALL_MOBILITIES = ss.Mobility(M_vol=0.01, M_vap=0.001, M_surf=1.0, M_gb=0.1)


def _model(mobility=ALL_MOBILITIES, L=1.0, energy=ENERGY) -> ss.SinterModel:
    return ss.SinterModel(energy=energy, mobility=mobility, L=L)


def _smooth_random(grid: ss.Grid, rng: np.random.Generator, n_fields: int, k_max: float = 0.8):
    """Random fields in (0, 1) with only long-wavelength Fourier content (|k| < k_max)."""
    noise = rng.standard_normal((n_fields, *grid.shape))
    hat = np.fft.rfftn(noise, axes=grid.axes)
    hat = np.where(grid.k2() < k_max**2, hat, 0.0)
    u = np.fft.irfftn(hat, s=grid.shape, axes=grid.axes)
    u = (u - u.min()) / (u.max() - u.min())
    return 0.05 + 0.9 * u


# --- chemical potentials ------------------------------------------------------------------


def test_stepper_split_equals_variational_derivative():
    """mu = f0' + kappa k^2 (the stepper's split) equals jax.grad(F)/dV on a smooth 2D state."""
    grid = ss.Grid((48, 40), spacing=0.7)
    rng = np.random.default_rng(0)
    rho = jnp.asarray(_smooth_random(grid, rng, 1)[0])
    eta = jnp.asarray(_smooth_random(grid, rng, 3))
    state = ss.State(rho, eta)
    energy = ss.WangEnergy(A=4.3, B=1.2, kappa_rho=2.1, kappa_eta=1.7)
    model = ss.SinterModel(energy, ss.Mobility(0.0, 0.0, 1.0, 0.0), 1.0)

    # Exactly the building blocks SemiImplicitFourier.step uses.
    k2 = jnp.asarray(grid.k2())
    d_rho, d_eta = model.bulk_derivatives(rho, eta)
    mu_rho = grid.irfft(grid.rfft(d_rho) + energy.kappa_rho * k2 * grid.rfft(rho))
    mu_eta = grid.irfft(grid.rfft(d_eta) + energy.kappa_eta * k2 * grid.rfft(eta))

    ref = model.variational_derivatives(state, grid)
    scale_rho = float(jnp.max(jnp.abs(ref.rho)))
    scale_eta = float(jnp.max(jnp.abs(ref.eta)))
    assert scale_rho > 1e-2 and scale_eta > 1e-2  # a non-trivial state
    np.testing.assert_allclose(mu_rho, ref.rho, rtol=0, atol=1e-10 * scale_rho)
    np.testing.assert_allclose(mu_eta, ref.eta, rtol=0, atol=1e-10 * scale_eta)


# --- conservation and dissipation ----------------------------------------------------------


def _two_particle_run(model, grid, state, ts, dt):
    def fn(t, s):
        return {"mass": mass(s, grid), "F": free_energy(s, grid, model)}

    return ss.integrate(
        model, grid, state, t0=0.0, dt=dt, saveat=ss.SaveAt(ts, fn), differentiable=False
    )


def test_mass_conserved_all_mobilities():
    grid = ss.Grid((64, 48))
    state = ss.two_particles(grid, radius=12.0, radius2=9.0, gap=-2.0, width=1.5)
    sol = _two_particle_run(_model(), grid, state, np.linspace(5.0, 100.0, 20), dt=0.05)
    assert bool(jnp.all(sol.ok))
    m0 = float(mass(state, grid))
    drift = np.abs(np.asarray(sol.ys["mass"]) - m0) / m0
    assert drift.max() < 1e-12, drift.max()
    # The run actually moved material.
    assert float(jnp.max(jnp.abs(sol.final.rho - state.rho))) > 0.05


def test_free_energy_non_increasing():
    grid = ss.Grid((64, 48))
    state = ss.two_particles(grid, radius=12.0, radius2=9.0, gap=-2.0, width=1.5)
    model = _model()
    ts = np.linspace(2.0, 200.0, 40)
    sol = _two_particle_run(model, grid, state, ts, dt=0.05)
    assert bool(jnp.all(sol.ok))
    f = np.concatenate([[float(free_energy(state, grid, model))], np.asarray(sol.ys["F"])])
    steps = np.diff(f)
    assert steps.max() <= 1e-10 * abs(f[0]), steps.max()
    assert f[-1] < f[0] - 1.0  # it did dissipate


def test_nyquist_mode_of_rho_relaxes():
    """A relaxing (non-equilibrium) flat interface must be free to change every Fourier mode."""
    grid = ss.Grid((8, 32))
    y = grid.coordinates()[1] + 0.0 * grid.coordinates()[0]
    rho = 0.25 * (1 - np.tanh((y - 23.6) / 1.2)) * (1 + np.tanh((y - 8.3) / 1.2))
    state = ss.State(jnp.asarray(rho), jnp.asarray(rho[None]))
    model = _model(mobility=ss.Mobility(0.0, 0.0, 1.0, 0.0))
    final = ss.solver.advance(model, grid, state, 200, 0.05)
    before, after = np.fft.rfft(rho, axis=1)[0, 16], np.fft.rfft(final.rho, axis=1)[0, 16]
    assert float(jnp.max(jnp.abs(final.rho - state.rho))) > 1e-3  # the profile did relax
    assert abs(after - before) > 1e-6


# --- JAX transformations through integrate --------------------------------------------------

_GRID_T = ss.Grid((40, 28))
_X_LO, _X_HI = (c[0] for c in ss.initial.two_particle_centres(_GRID_T, 8.0, gap=-1.0))
_STATE_T = ss.two_particles(_GRID_T, radius=8.0, gap=-1.0, width=1.5)


def _final_neck(m_surf, ts=(2.0, 4.0), dt=0.1):
    mob = ss.Mobility(M_vol=0.0, M_vap=0.0, M_surf=m_surf, M_gb=0.05)
    model = _model(mobility=mob)
    sol = ss.integrate(
        model, _GRID_T, _STATE_T, t0=0.0, dt=dt, saveat=ss.SaveAt(ts), differentiable=True
    )
    return neck_size(sol.final, _GRID_T, _X_LO, _X_HI)


def test_jit_matches_eager():
    eager = _final_neck(1.0)
    jitted = jax.jit(_final_neck)(1.0)
    np.testing.assert_allclose(jitted, eager, rtol=1e-12)
    assert float(eager) > float(neck_size(_STATE_T, _GRID_T, _X_LO, _X_HI))  # the neck grew


def test_vmap_over_model_parameter():
    values = jnp.asarray([0.5, 2.0])
    batched = jax.jit(jax.vmap(_final_neck))(values)
    single = [float(_final_neck(float(v))) for v in values]
    np.testing.assert_allclose(batched, single, rtol=1e-10)
    assert single[1] > single[0]  # faster surface diffusion, wider neck


def test_vmap_over_model_pytree():
    """vmap over a whole batched SinterModel (eqx pytree), not just a scalar argument."""
    base = _model(mobility=ss.Mobility(0.0, 0.0, 1.0, 0.05))
    models = eqx.tree_at(lambda m: m.mobility.M_surf, base, jnp.asarray([0.5, 2.0]))
    axes = eqx.tree_at(
        lambda m: m.mobility.M_surf,
        jax.tree.map(lambda _: None, base),
        0,
        is_leaf=lambda x: x is None,
    )

    def run(model):
        sol = ss.integrate(model, _GRID_T, _STATE_T, t0=0.0, dt=0.1, saveat=ss.SaveAt((2.0, 4.0)))
        return neck_size(sol.final, _GRID_T, _X_LO, _X_HI)

    batched = jax.vmap(run, in_axes=(axes,))(models)
    np.testing.assert_allclose(batched, [_final_neck(0.5), _final_neck(2.0)], rtol=1e-10)


def test_grad_matches_finite_difference():
    m = 1.0
    g = float(jax.jit(jax.grad(_final_neck))(m))
    h = 1e-4
    f = jax.jit(_final_neck)
    fd = (float(f(m + h)) - float(f(m - h))) / (2 * h)
    assert abs(g) > 1e-3
    assert abs(g - fd) / abs(fd) < 1e-4, (g, fd)


# --- dimensions and dtypes ------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, radius",
    [((96,), 16.0), ((48, 32), 8.0), ((24, 16, 16), 5.0)],
    ids=["1D", "2D", "3D"],
)
def test_grids_of_every_dimension_run(shape, radius):
    grid = ss.Grid(shape)
    state = ss.two_particles(grid, radius=radius, gap=-1.0, width=1.0)
    model = _model()
    sol = _two_particle_run(model, grid, state, (1.0, 2.0, 4.0), dt=0.05)
    assert bool(jnp.all(sol.ok))
    assert sol.final.rho.shape == shape and sol.final.eta.shape == (2, *shape)
    m = np.asarray(sol.ys["mass"])
    np.testing.assert_allclose(m, float(mass(state, grid)), rtol=1e-12)
    assert np.all(np.diff(np.asarray(sol.ys["F"])) <= 1e-10 * abs(float(sol.ys["F"][0])))


_FLOAT32_SCRIPT = textwrap.dedent(
    """
    import jax, jax.numpy as jnp, numpy as np
    assert not jax.config.jax_enable_x64
    import sintersim as ss
    from sintersim.observables._fields import mass, free_energy
    grid = ss.Grid((48, 32))
    state = ss.two_particles(grid, radius=8.0, gap=-1.0, width=1.5)
    assert state.rho.dtype == jnp.float32, state.rho.dtype
    model = ss.SinterModel(ss.WangEnergy(5.0, 1.0, 3.0, 3.0),
                           ss.Mobility(0.01, 0.001, 1.0, 0.1), 1.0)
    fn = lambda t, s: (mass(s, grid), free_energy(s, grid, model))
    sol = jax.jit(lambda m, s: ss.integrate(m, grid, s, t0=0.0, dt=0.05,
                                            saveat=ss.SaveAt((5.0, 10.0, 20.0), fn)))(model, state)
    assert sol.final.rho.dtype == jnp.float32 and sol.final.eta.dtype == jnp.float32
    assert sol.ys[0].dtype == jnp.float32
    assert bool(jnp.all(sol.ok))
    m0 = float(mass(state, grid))
    drift = float(np.max(np.abs(np.asarray(sol.ys[0], np.float64) - m0))) / m0
    assert drift < 1e-4, drift  # float32 round-off over 400 steps
    f = np.asarray(sol.ys[1], np.float64)
    assert f[-1] < float(free_energy(state, grid, model))
    print("FLOAT32-OK", drift)
    """
)


def test_float32_default_dtype():
    env = dict(os.environ, JAX_ENABLE_X64="0", JAX_PLATFORMS="cpu")
    out = subprocess.run(
        [sys.executable, "-c", _FLOAT32_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "FLOAT32-OK" in out.stdout


# --- analytic laws --------------------------------------------------------------------------


def test_theory_laws():
    assert _theory.dihedral_angle(1.0, 1.0) == pytest.approx(120.0)
    assert _theory.dihedral_angle(0.0, 1.0) == pytest.approx(180.0)
    assert _theory.dihedral_angle(2.0, 1.0) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError):
        _theory.dihedral_angle(2.5, 1.0)
    assert _theory.mullins_rate(2.0, 0.5) == pytest.approx(2.0 * 0.5**4)
    assert _theory.curvature_flow_radius2(10.0, 3.0, 2.0) == pytest.approx(100.0 - 12.0)
    assert _theory.curvature_flow_radius2(10.0, 3.0, 2.0, dim=3) == pytest.approx(100.0 - 24.0)
    exps = {m: _theory.neck_exponent_classic(m) for m in ("surface", "grain_boundary")}
    assert exps == {"surface": 7, "grain_boundary": 6}
    assert _theory.neck_exponent_classic("volume") == 5
    assert _theory.neck_exponent_classic("evaporation-condensation") == 3
    assert [_theory.herring_exponent(m) for m in ("surface", "grain boundary", "volume")] == [
        4,
        4,
        3,
    ]
    assert _theory.herring_exponent("evaporation_condensation") == 2
    with pytest.raises(ValueError):
        _theory.neck_exponent_classic("viscous")


def test_float32_mass_does_not_drift():
    """The float32 FFT round trip shifts the mean by a biased ~1e-8 per step; the stepper removes
    it, so mass over thousands of float32 steps stays at round-off (was 7e-5 after 8000)."""
    p = ss.packing.hex_monolayer(4, 4, 10.0, 1.0, size_spread=1.0, seed=0)
    grid = p.grid()
    state, _ = p.to_state(grid, width=1.5, safety=8.0, dtype=jnp.float32)
    model = _model(mobility=ss.Mobility(0.0, 0.0, 1.0, 0.1))
    m0 = np.sum(np.asarray(state.rho, np.float64))
    final = jax.jit(lambda s: ss.solver.advance(model, grid, s, 4000, 0.25))(state)
    assert final.rho.dtype == jnp.float32
    assert abs(np.sum(np.asarray(final.rho, np.float64)) / m0 - 1) < 1e-6
