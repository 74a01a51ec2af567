"""Thermal noise: conserved, reproducible from its key, and of the right strength."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

import sintersim as ss

jax.config.update("jax_enable_x64", True)


def _pair():
    grid = ss.Grid((40, 32))
    model = ss.SinterModel(
        ss.WangEnergy(17.0, 1.0, 12.0, 4.0), ss.Mobility(0.1, 0.1, 1.0, 0.5), 1.0
    )
    return grid, model, ss.two_particles(grid, 9.0, gap=1.0, width=2.0)


def _noisy(model, theta, key):
    return dataclasses.replace(model, kinetics=(ss.model.ThermalNoise(theta, key),))


def _run(grid, model, state, key, theta=0.05, steps=200, step0=0):
    noisy = _noisy(model, theta, key)
    f = jax.jit(lambda s: ss.solver.advance(noisy, grid, s, steps, 0.05, step0=step0))
    return f(state)


def test_noise_conserves_mass_and_is_reproducible():
    grid, model, s0 = _pair()
    a = _run(grid, model, s0, jax.random.key(1))
    b = _run(grid, model, s0, jax.random.key(1))
    c = _run(grid, model, s0, jax.random.key(2))
    assert abs(float(a.rho.sum() - s0.rho.sum())) < 1e-9
    assert np.array_equal(np.asarray(a.rho), np.asarray(b.rho))
    assert not np.allclose(np.asarray(a.rho), np.asarray(c.rho))
    # The noise moved the fields (not a no-op) ...
    quiet = jax.jit(lambda s: ss.solver.advance(model, grid, s, 200, 0.05))(s0)
    assert float(jnp.abs(a.eta - quiet.eta).max()) > 1e-3
    # ... and splitting a run keeps the same random numbers (global step index).
    half = _run(grid, model, s0, jax.random.key(1), steps=100)
    rest = _run(grid, model, half, jax.random.key(1), steps=100, step0=100)
    assert np.allclose(np.asarray(rest.rho), np.asarray(a.rho), atol=1e-12)


def test_grain_fluctuations_follow_equipartition():
    """Langevin Allen-Cahn in a single grain (rho = 1, no density transport): stationary
    fluctuations of eta_1 about 1 have variance (theta / (N dV)) sum_k 1 / (a + kappa k^2), with
    a = d2f/deta^2 = 12 B at the bulk minimum."""
    grid = ss.Grid((64, 64))
    B, kappa, theta = 1.0, 4.0, 0.02
    model = ss.SinterModel(
        ss.WangEnergy(17.0, B, 12.0, kappa), ss.Mobility(0.0, 0.0, 0.0, 0.0), 1.0
    )
    s = ss.State(jnp.ones(grid.shape), jnp.stack([jnp.ones(grid.shape), jnp.zeros(grid.shape)]))
    model = _noisy(model, theta, jax.random.key(0))
    dt = 0.005
    adv = jax.jit(lambda s, i0: ss.solver.advance(model, grid, s, 400, dt, step0=i0))
    s = adv(s, 0)  # equilibrate (relaxation time 1/(L a) ~ 0.1)
    var = []
    for j in range(1, 11):
        s = adv(s, 400 * j)
        e1 = np.asarray(s.eta[0])
        var.append(np.var(e1 - e1.mean()))
    k2 = np.fft.fftfreq(64)[:, None] ** 2 + np.fft.fftfreq(64)[None, :] ** 2
    k2 = (2 * np.pi) ** 2 * k2
    expected = theta / grid.size * np.sum(1.0 / (12 * B + kappa * k2)[k2 > 0])
    assert abs(np.mean(var) / expected - 1) < 0.1, (np.mean(var), expected)


def test_batch_with_a_noise_key_per_member_draws_its_own_noise():
    """run_batch over models that differ only in their noise key: each member draws its own
    noise, and equals the member run on its own."""
    grid, model, s0 = _pair()
    models = [_noisy(model, 0.05, jax.random.key(k)) for k in (1, 2, 1)]
    save = ss.SaveAt(np.array([5.0]), lambda t, s: s.rho)
    sol = ss.run_batch(models, grid, s0, t0=0.0, dt=0.05, saveat=save)
    rho = np.asarray(sol.ys)[:, 0]
    assert np.array_equal(rho[0], rho[2]) and not np.allclose(rho[0], rho[1])
    alone = ss.integrate(models[1], grid, s0, t0=0.0, dt=0.05, saveat=save, differentiable=False)
    assert np.allclose(rho[1], np.asarray(alone.ys)[0], atol=1e-10)
