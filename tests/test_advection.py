"""Wang rigid-body motion: exact rigid translation/rotation of a shape, mass, densification."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

jax.config.update("jax_enable_x64", True)

import sintersim as ss  # noqa: E402
from sintersim.grains import weighted_centres  # noqa: E402
from sintersim.model._rigid_body import RigidBody, advect, velocities  # noqa: E402
from sintersim.observables._fields import centre_distance  # noqa: E402


def _moments(w, x, y):
    m = w.sum()
    cx, cy = (w * x).sum() / m, (w * y).sum() / m
    ixx, iyy = (w * (x - cx) ** 2).sum(), (w * (y - cy) ** 2).sum()
    ixy = (w * (x - cx) * (y - cy)).sum()
    return cx, cy, 0.5 * np.degrees(np.arctan2(2 * ixy, ixx - iyy))


def test_rigid_velocity_field_moves_and_turns_a_shape_exactly():
    """An ellipse advected by v = V + omega x (r - c) for t = 250: its centre moves by V t and
    its principal axis turns by omega t; int rho is conserved to round-off."""
    grid = ss.Grid((64, 64))
    x, y = grid.coordinates()
    u = 0.5 * (1 - np.tanh((np.sqrt(((x - 32) / 14) ** 2 + ((y - 32) / 8) ** 2) - 1) * 4))
    rho, eta = jnp.asarray(u), jnp.asarray(u[None])
    vel, omega, dt, n = np.array([0.02, -0.01]), 0.002, 0.5, 500

    def step(c, _):
        r, e = c
        v = velocities(grid, e, jnp.asarray([vel]), jnp.asarray([omega]), weighted_centres(e, grid))
        return advect(r, e, grid, v, dt), None

    (r, e), _ = jax.lax.scan(step, (rho, eta), None, length=n)
    cx, cy, angle = _moments(np.asarray(e[0]), x, y)
    t = n * dt
    assert cx == pytest.approx(32 + vel[0] * t, abs=0.01)
    assert cy == pytest.approx(32 + vel[1] * t, abs=0.01)
    assert angle == pytest.approx(np.degrees(omega * t), abs=0.05)
    assert float(jnp.sum(r)) == pytest.approx(float(jnp.sum(rho)), rel=1e-12)
    assert float(r.max()) < 1.02 and float(r.min()) > -0.03


def test_boundary_force_adds_shrinkage_and_conserves_mass():
    """Two discs with a boundary: Wang's force pulls them together, beyond what diffusion alone
    gives, and mass stays conserved."""
    energy = ss.calibrate.grid_energy(1 / 3, 3.0)
    grid = ss.Grid((64, 40))
    nx, ny = grid.shape
    p1 = ss.initial.particle_profile(grid, [nx / 2 - 11.4, ny / 2], 12.0, 1.5)
    p2 = ss.initial.particle_profile(grid, [nx / 2 + 11.4, ny / 2], 12.0, 1.5)
    rho = np.maximum(p1, p2)
    left = 0.5 * (1 - np.tanh((grid.coordinates()[0] - nx / 2) / 1.5))
    state0 = ss.State(jnp.asarray(rho), jnp.asarray(np.stack([rho * left, rho * (1 - left)])))
    mob = ss.Mobility(0.0, 0.0, 1.0, 0.1)
    out = {}
    for name, body in (("diffusion", None), ("rigid", RigidBody(1.0, 1.0, force="wang"))):
        model = ss.SinterModel(energy, mob, L=1.0, kinetics=() if body is None else (body,))
        s = jax.jit(lambda s, m=model: ss.solver.advance(m, grid, s, 2000, 0.5))(state0)
        out[name] = float(centre_distance(s, grid))
        assert float(jnp.sum(s.rho)) == pytest.approx(float(jnp.sum(state0.rho)), rel=1e-12)
    d0 = float(centre_distance(state0, grid))
    print(f"centre distance {d0:.3f} -> diffusion {out['diffusion']:.3f}, rigid {out['rigid']:.3f}")
    assert d0 - out["rigid"] > 1.2 * (d0 - out["diffusion"])
