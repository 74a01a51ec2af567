"""Sublimation (`sintersim.model._sublimation`): a surface sink that removes v x area per time."""

from __future__ import annotations

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import sintersim as ss  # noqa: E402
from sintersim.model._sublimation import Sublimation, hertz_knudsen_velocity  # noqa: E402
from sintersim.scenario._assemble import build  # noqa: E402
from sintersim.scenario._config import loads_config  # noqa: E402
from sintersim.scenario._run import simulate  # noqa: E402


def test_flat_slab_recedes_at_v():
    """A periodic slab (two flat surfaces, length 32 each) loses ``v x 2 x 32`` per time: the
    sink integrates to the surface area for a diffuse profile. Surface diffusion on (it does not
    move a flat surface). Measured: rate / (2 v Ly) = 1.011 (the spectral gradient's ripple and
    the slightly dense bulk, rho ~ 1.005, add ~1 %)."""
    grid = ss.Grid((64, 32))
    x, y = grid.coordinates()
    x = x + 0.0 * y  # the coordinates broadcast; the slab needs the full grid
    slab = 0.5 * (np.tanh((x - 16) / 1.5) - np.tanh((x - 48) / 1.5))
    state = ss.State(jnp.asarray(slab), jnp.asarray(slab[None]))
    v = 0.01
    model = ss.SinterModel(
        ss.calibrate.grid_energy(0.5, 3.0),
        ss.Mobility(0.0, 0.0, 1.0, 0.0),
        1.0,
        kinetics=(Sublimation(v),),
    )
    t = 200.0
    final = jax.jit(lambda s: ss.solver.advance(model, grid, s, 400, 0.5))(state)
    lost = float(jnp.sum(state.rho) - jnp.sum(final.rho))
    rate = lost / t / (2 * v * 32)
    print(f"slab: lost {lost:.4f}, rate / (2 v Ly) = {rate:.5f}")
    assert rate == pytest.approx(1.0, abs=0.02)
    assert float(jnp.min(final.rho)) > -1e-3  # the sink does not dig into the vapour


def test_run_with_sublimation_loses_mass_at_v_times_perimeter(tmp_path):
    """CdS pair at 280 C with a 0.05 nm/s recession (the CLI key material.sublimation_nm_s): the
    mass falls monotonically; over the first save the loss rate is v times the perimeter of the
    rho = 1/2 contour at the start (within 15 %: the perimeter shrinks meanwhile)."""
    cfg = loads_config(
        """
[material]
preset = "CdS"
temperature_C = 280.0
sublimation_nm_s = 0.05
[grid]
shape = [64, 40]
spacing_nm = 0.375
dtype = "float64"
[particles]
radius_nm = 4.0
gap_nm = 0.0
[model]
interface_width_nm = 1.5
[time]
end_s = 20.0
n_saves = 10
"""
    )
    setup = build(cfg)
    out = simulate(setup, tmp_path, log=lambda m: None)
    mass = np.array([r["mass_nm2"] for r in out.rows])
    t = np.array([r["time_s"] for r in out.rows])
    assert np.all(np.diff(mass) < 0)
    rho0 = np.asarray(setup.state0.rho)
    dx = cfg["grid"]["spacing_nm"]
    import contourpy

    lines = contourpy.contour_generator(z=rho0).lines(0.5)
    perimeter = dx * sum(np.sum(np.hypot(*np.diff(ln, axis=0).T)) for ln in lines)
    rate = (mass[0] - mass[1]) / (t[1] - t[0])
    print(f"loss rate {rate:.4f} nm^2/s, v x perimeter {0.05 * perimeter:.4f}")
    assert rate == pytest.approx(0.05 * perimeter, rel=0.15)


def test_hertz_knudsen_velocity():
    """Omega p / sqrt(2 pi m k T): 1 Pa over CdS (Omega 5e-29 m^3, m 144.5 u) at 553 K."""
    m = 144.5 * 1.66053907e-27
    v = hertz_knudsen_velocity(1.0, 553.15, 5.0e-29, m)
    assert v == pytest.approx(5.0e-29 / np.sqrt(2 * np.pi * m * 1.380649e-23 * 553.15), rel=1e-12)
