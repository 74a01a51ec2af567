"""Fusion of a particle pair with a premelted or molten surface (issue 8, "Effect on fusion").

Runs the helpers of experiments/surface_melting/fusion.py on a small grid (float64): a dry pair
(a_l = 0, no wetting), a premelted pair (q = 0.2: a layer on a solid core) and a molten pair
(q = -0.3), all with the same mobilities (the dry pair has no liquid and runs with M_liq = 0,
which only removes stabiliser damping; see fusion.model).
"""

from __future__ import annotations

import jax
import numpy as np
import pytest
from _scripts import load_experiment

jax.config.update("jax_enable_x64", True)

SHAPE, RADIUS, T_END = (64, 48), 10.0, 60.0


fusion = load_experiment("surface_melting", "fusion")


@pytest.fixture(scope="module")
def runs():
    cases = {
        "dry": fusion.Case("dry", 0.3, a_l=0.0, m_liq=0.0),
        "premelted": fusion.Case("premelted", 0.2),
        "molten": fusion.Case("molten", -0.3),
    }
    # gb_unit = 1: the boundary length is not checked here, skip its 1D relaxation
    # the molten pair runs twice as long: it is round (aspect 1.003) by t = 110, 1.10 at t = 60
    return {
        k: fusion.run_pair(
            c,
            shape=SHAPE,
            radius=RADIUS,
            t_end=T_END * (2 if k == "molten" else 1),
            n_frames=6 * (2 if k == "molten" else 1),
            gb_unit=1.0,
        )
        for k, c in cases.items()
    }


def test_mass_conserved(runs):
    for name, r in runs.items():
        assert r["mass_drift"] < 1e-10, (name, r["mass_drift"])


def test_neck_grows_faster_with_a_molten_layer(runs):
    dry, wet, hot = (runs[k]["neck"] for k in ("dry", "premelted", "molten"))
    # the same start, then at every later time: dry < premelted layer < molten
    assert dry[0] == pytest.approx(wet[0]) and dry[0] == pytest.approx(hot[0])
    # (measured: 1.20x at the first frame, while the layer grows from its 1e-6 seed, 1.96x at the
    # last)
    assert np.all(wet[1:] > 1.15 * dry[1:]), (dry, wet)
    assert wet[-1] > 1.6 * dry[-1], (dry, wet)
    assert np.all(hot[1:3] > wet[1:3]), (wet, hot)


def test_premelted_pair_has_a_liquid_bridge(runs):
    wet, dry = runs["premelted"], runs["dry"]
    # a solid core is left (premelting, not melting), and the two layers join over the neck
    assert wet["solid"][-1] > 0.5
    assert wet["bridge"][-1] and not dry["bridge"][-1]
    assert wet["bridge_fraction"][-1] > 0.1 and dry["bridge_fraction"][-1] < 1e-3
    # the boundary between the solid cores is kept (dry) at this q
    assert wet["contact_rows"][-1] > 5 and wet["gb_liquid"][-1] < 0.1


def test_molten_pair_becomes_one_round_drop(runs):
    r = runs["molten"]
    assert r["solid"][-1] < 0.01 and r["liquid"][-1] > 0.95
    assert r["bodies"][-1] == 1
    assert r["aspect"][-1] < 1.05, r["aspect"]
    assert r["circularity"][-1] > 0.98, r["circularity"]
    # the dry pair is still two discs joined by a neck
    assert runs["dry"]["aspect"][-1] > 1.5
