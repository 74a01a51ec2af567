"""The seed-003 table fit (experiments/surface_melting/fit_phase_field.py): the temperature map
q = a (1 - T / T_m) and its minimax fit, on a synthetic curve whose exact answer is known (no
phase-field solve: the sphere relaxations are covered by tests/test_melting.py)."""

from __future__ import annotations

import numpy as np
import pytest
from _scripts import load_experiment

fit = load_experiment("surface_melting", "fit_phase_field")

K0 = 273.15


def _q(T_C, a, Tm):
    return a * (1.0 - (T_C + K0) / Tm)


def _exact_curve(a=2.0, Tm=600.0):
    """A layer curve that meets every seed row exactly for q = a (1 - T / T_m): no liquid at
    90 C, 0.30 nm at 140 C, 0.54 nm at 210 C, R = 3 nm melts at 250 C, R = 1 nm at 90 C."""
    qs = np.array([_q(T, a, Tm) for T in (210.0, 140.0, 90.0)])
    q = np.union1d(np.linspace(0.05, 2.0, 400), qs)  # the corners on the grid
    d = np.interp(q, qs, [0.54, 0.30, 0.0])  # ascending qs; flat 0.0 beyond q(90 C)
    return fit.Curve(0.2, q, d, d * 1.05, _q(250.0, a, Tm), _q(90.0, a, Tm))


def test_residuals_are_zero_at_the_exact_map_and_signed_off_it():
    c = _exact_curve()
    assert np.max(np.abs(fit.residuals(c, 2.0, 600.0))) < 1e-9
    # a hotter T_m shifts every temperature up: layers thinner, melting points higher
    r = fit.residuals(c, 2.0, 610.0)
    assert r[1] < 0 and r[2] < 0 and r[3] > 0 and r[4] > 0
    # melting points: 15 K is one tolerance; 90 C with a 0.1 nm layer is one tolerance
    c_late = fit.Curve(0.2, c.q, c.delta_area, c.delta_shell, _q(265.0, 2.0, 600.0), c.q_melt1)
    assert fit.residuals(c_late, 2.0, 600.0)[3] == pytest.approx(1.0, abs=1e-9)


def test_a_particle_molten_at_a_layer_row_counts_as_a_miss():
    c = _exact_curve()
    early = fit.Curve(0.2, c.q, c.delta_area, c.delta_shell, _q(200.0, 2.0, 600.0), c.q_melt1)
    r = fit.residuals(early, 2.0, 600.0)
    assert r[2] == pytest.approx((3.0 - 0.54) / 0.1)  # molten at 210 C: delta = R = 3 nm


def test_minimax_finds_the_exact_map():
    a, Tm, res = fit.fit_temperature_map(_exact_curve(2.0, 600.0))
    assert np.max(np.abs(res)) < 0.05, (a, Tm, res)
    assert a == pytest.approx(2.0, rel=0.05) and Tm == pytest.approx(600.0, rel=0.02)
