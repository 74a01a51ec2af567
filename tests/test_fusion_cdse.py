"""Fusion of a CdSe pair with the calibrated liquid (experiments/surface_melting/fusion_cdse.py):
the stretched energy keeps the interface-energy ratios, a hot pair loses its solid where a cold
one keeps it, mass is conserved, and the transition bracket is read correctly."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from _scripts import load_experiment

from sintersim.calibrate._liquid import interface_energies
from sintersim.model._liquid import LiquidEnergy

fc = load_experiment("surface_melting", "fusion_cdse")


@pytest.fixture(autouse=True)
def _x64():
    with jax.enable_x64(True):
        yield


def test_stretched_energy_scales_every_interface_alike():
    # any wetting set will do (the calibrated one costs a ~20 s coefficient solve)
    e = LiquidEnergy(A=30.0, B=1.0, kappa_rho=10.0, kappa_eta=1.0, c_sl=0.3, a_l=20.0)
    g1 = interface_energies(e)
    g2 = interface_energies(fc.stretched(e, 2.0, 0.0))
    for name in ("sv", "lv", "sl"):  # energy per cell area x lam, width in cells x lam
        assert getattr(g2, name) == pytest.approx(2.0 * getattr(g1, name), rel=2e-3), name
    assert g2.width_sv == pytest.approx(2.0 * g1.width_sv, rel=2e-2)


# ~30 s, most of it the calibrated liquid's coefficient solve: in `make test-slow`
@pytest.mark.slow
def test_hot_pair_melts_cold_pair_keeps_its_core_mass_conserved():
    cold = fc.run(60.0, 1.0, 2.0, times=(1.0, 5.0))
    hot = fc.run(300.0, 1.0, 2.0, times=(1.0, 5.0))
    # 300 C is above the calibrated melting point of R = 1 nm (101 C) and of the pair's
    # volume as one sphere (134 C): the solid goes; at 60 C most of the material stays solid
    assert cold["solid"][-1] > 0.4
    assert hot["solid"][-1] < 0.5 * cold["solid"][-1]
    assert hot["liquid"][-1] > cold["liquid"][-1]
    # both necks grow from the touching start
    for r in (cold, hot):
        assert r["neck"][-1] > r["neck"][0] + 0.1
        assert r["mass_drift"] < 1e-9
    assert fc.state_of(cold) == "dimer (boundary kept)"


def test_transition_bracket():
    def fake(T, solid):
        return {"T_C": T, "solid": np.array([0.7, solid])}

    rs = [fake(100, 0.4), fake(120, 0.3), fake(140, 0.0), fake(160, 0.0)]
    assert fc.transition(rs) == (120, 140)
    assert fc.transition(rs[:2]) is None  # nothing melts
    assert fc.transition([fake(100, 0.0), fake(120, 0.3)]) is None  # not a bracket
