"""The liquid phase of the phase-field model (sintersim._melting), issue 8."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sintersim._grid import Grid
from sintersim._initial import particles
from sintersim._integrate import advance
from sintersim._melting import (
    LiquidEnergy,
    LiquidMobility,
    bulk_minimum,
    interface_energies,
    kofman_fit,
    premelt_layer,
)
from sintersim._model import SinterModel
from sintersim._state import State

jax.config.update("jax_enable_x64", True)

# Shape A = 30, kappa_rho / kappa_eta = 10 (B = kappa_eta = 1).
WET = LiquidEnergy(A=30.0, B=1.0, kappa_rho=10.0, kappa_eta=1.0, c_sl=0.3, a_l=30.0)
DRY = LiquidEnergy(A=30.0, B=1.0, kappa_rho=10.0, kappa_eta=1.0, c_sl=0.5, a_l=10.0)
W = np.sqrt(10.0)  # natural width sqrt(max kappa / B)


@pytest.fixture(scope="module")
def wet_energies():
    return interface_energies(WET)


def test_interface_energies_as_designed(wet_energies):
    g = wet_energies
    # Measured once (n = 801 nodes over 60 natural widths); dry surface = Wang's surface.
    assert g.sv == pytest.approx(4.7166, rel=1e-3)
    assert g.lv == pytest.approx(2.2919, rel=1e-3)
    assert g.sl == pytest.approx(0.5590, rel=1e-3)
    assert g.wets and g.spreading == pytest.approx(1.8657, rel=2e-3)
    # gamma_lv is set by a_l alone, gamma_sl by c_sl; gamma_sv by neither.
    d = interface_energies(DRY)
    assert d.sv == pytest.approx(g.sv, rel=1e-9)
    assert d.lv > g.lv and d.sl > g.sl and not d.wets
    assert bulk_minimum(WET) > 0.0 and bulk_minimum(DRY) > 0.0


def test_no_spurious_phase_check():
    low = LiquidEnergy(A=10.0, B=1.0, kappa_rho=10.0, kappa_eta=1.0, c_sl=0.27, a_l=10.0)
    assert bulk_minimum(low) < 0.0


def test_layer_grows_monotonically_as_q_falls():
    qs = [1.0, 0.1, 0.01]
    deltas = [premelt_layer(WET, q, n=768, h=W / 8).delta for q in qs]
    assert np.all(np.diff(deltas) > 0.5), deltas
    # ~ logarithmic: equal steps per decade within 30 %
    steps = np.diff(deltas)
    assert steps[1] == pytest.approx(steps[0], rel=0.3), deltas


def test_no_layer_without_wetting():
    for q in (0.3, 0.01):
        assert abs(premelt_layer(DRY, q, n=768, h=W / 8).delta) < 1e-4


def _particle_run(q, steps=2000, dt=0.01):
    lam2 = 2.0  # widths x sqrt(2): the dry surface spans ~2.3 cells
    en = LiquidEnergy(A=30.0, B=1.0, kappa_rho=10.0 * lam2, kappa_eta=lam2, c_sl=0.3, a_l=30.0, q=q)
    mob = LiquidMobility(M_vol=0.01, M_vap=0.01, M_surf=1.0, M_gb=0.0, M_liq=1.0)
    model = SinterModel(energy=en, mobility=mob, L=1.0)
    grid = Grid((64, 64), 1.0)
    s = particles(grid, [(32.0, 32.0)], [15.0], width=1.5, n_fields=2)
    s = State(s.rho, s.eta.at[1].set(1e-6 * s.rho))  # l = 0 is stationary: a round-off seed
    out = jax.jit(lambda st: advance(model, grid, st, steps, dt))(s)
    return s, out


def test_particle_premelts_below_and_melts_above_melting_point():
    s0, cold = _particle_run(0.3)
    s0, hot = _particle_run(-0.3)
    m0 = float(jnp.sum(s0.rho))
    for s in (cold, hot):
        assert abs(float(jnp.sum(s.rho)) - m0) < 1e-10 * m0
    rho, liq, solid = (np.asarray(a) for a in (cold.rho, cold.eta[1], cold.eta[0]))
    # below T_m: solid core, liquid at the surface only
    assert solid[32, 32] > 0.99 and liq[32, 32] < 0.01
    surf = (rho > 0.3) & (rho < 0.9)
    assert liq[surf].mean() > 0.5
    assert 1.0 < np.sum(rho * liq) / (2 * np.pi * 15.0) < 10.0
    # above T_m: the whole particle is liquid
    rho, liq, solid = (np.asarray(a) for a in (hot.rho, hot.eta[1], hot.eta[0]))
    inside = rho > 0.9  # (l < 1 within the diffuse liquid-vapour interface)
    assert liq[inside].min() > 0.99 and solid.max() < 0.01


def test_layer_follows_flat_kofman_law():
    """delta = xi ln(Dgamma / (xi q)) with the measured Dgamma and xi from the slope of delta vs
    ln q: within 20 % for layers thicker than the interfaces (q <= 0.03)."""
    g = interface_energies(WET)
    qs = np.array([0.03, 0.01, 0.003])
    prev, deltas = None, []
    for q in qs:
        prev = premelt_layer(WET, q, n=768, h=W / 8, start=prev)
        deltas.append(prev.delta)
    fit = kofman_fit(qs, np.array(deltas), g.spreading)
    assert 1.0 < fit["xi"] < 2.0
    assert np.max(np.abs(fit["rel_error"])) < 0.2, (deltas, fit)


def test_dry_state_is_wang_and_liquid_mobility_adds_transport():
    from sintersim._energy import WangEnergy
    from sintersim._mobility import Mobility

    rng = np.random.default_rng(0)
    rho, eta = rng.uniform(0, 1, (2, 50))
    wang = WangEnergy(30.0, 1.0, 10.0, 1.0)
    dry = [jnp.asarray(eta), jnp.zeros(50)]
    assert np.allclose(WET.bulk(jnp.asarray(rho), dry), wang.bulk(jnp.asarray(rho), dry[:1]))
    base = Mobility(0.1, 0.01, 1.0, 0.5)
    mob = LiquidMobility(0.1, 0.01, 1.0, 0.5, M_liq=2.0)
    liq = rng.uniform(0, 1, 50)
    e = jnp.asarray(np.stack([eta, liq]))
    expect = base(jnp.asarray(rho), e[:1]) + 2.0 * rho * liq
    assert np.allclose(mob(jnp.asarray(rho), e), expect)
    assert float(mob.upper_bound()) == pytest.approx(float(base.upper_bound()) + 2.0)
