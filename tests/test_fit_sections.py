"""`sintersim fit` honours every config section or refuses it by name (issue 18).

The fit simulates each trace with the run's own model (`Setup.model_at`): for every section the
fitted model at the start values is checked against the model a run of the same config builds
(leaf by leaf), and the parts the section adds are there. What it cannot honour (a temperature
schedule) is refused with the field's name, exit 2 on the CLI.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_fit import TINY_TOML  # the fit tests' tiny pair

import sintersim as ss
from sintersim.cli import main

# test_fit's tiny PbSe pair, with a slot for extra [material] lines
BASE = TINY_TOML.replace("[model]", "{material}\n[model]", 1)


def _cfg(extra: str = "", material: str = "") -> ss.scenario.RunConfig:
    return ss.loads_config(BASE.format(material=material) + extra)


def _trace():
    t = np.linspace(0.001, 0.01, 4)
    return ss.fit.Trace(t, np.ones(4), np.full(4, 0.05), name="t")


def _fitted_model(cfg, params=("surface_diffusivity",)):
    """The model the fit simulates at its start values, and the run's model (float64)."""
    problem = ss.fit.Problem([_trace()], cfg, list(params))
    q = jnp.array([math.log(s.init) if s.log else s.init for s in problem.specs])
    fitted = problem.model(0, problem.values(q))
    run = ss.build(cfg.replace(grid={"dtype": "float64"})).model
    return problem, fitted, run


def _same(a, b):
    la, lb = jax.tree.leaves(a), jax.tree.leaves(b)
    assert jax.tree.structure(a) == jax.tree.structure(b)
    for x, y in zip(la, lb, strict=True):
        if jnp.issubdtype(jnp.asarray(x).dtype, jax.dtypes.prng_key):
            x, y = jax.random.key_data(x), jax.random.key_data(y)
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-12, atol=0)


@pytest.mark.parametrize(
    "section, extra, material, part",
    [
        ("material", "", "", None),
        ("material.sublimation_nm_s", "", "sublimation_nm_s = 0.05", ss.model.Sublimation),
        ("model", "", "", None),
        ("grid", "", "", None),
        ("particles", "", "", None),
        ("time", "", "", None),
        ("output", "[output]\nfields = false\n", "", None),
        (
            "orientation",
            "[orientation]\nenabled = true\nmisorientation_deg = 8.0\n"
            "rotational_mobility_m3_Js = 2e-9\n",
            "",
            ss.model.Rotation,
        ),
        ("noise", "[noise]\nenabled = true\nscale = 0.01\n", "", ss.model.ThermalNoise),
        (
            "melting",
            "[melting]\nenabled = true\ngamma_lv_J_m2 = 0.185\ngamma_sl_J_m2 = 0.042\n",
            'preset = "CdSe"\n',
            ss.model.Liquid,
        ),
    ],
)
def test_fit_simulates_the_runs_model(section, extra, material, part):
    """Every section reaches the fitted model: it is the run's model, leaf for leaf."""
    if section == "melting":  # CdSe with liquid energies this small Wang shape reaches
        cfg = ss.loads_config(
            BASE.format(material="").replace('preset = "PbSe"', 'preset = "CdSe"') + extra
        )
    else:
        cfg = _cfg(extra, material)
    problem, fitted, run = _fitted_model(cfg)
    _same(fitted, run)
    if part is not None:
        assert fitted.find(part) is not None, section
    su = problem.sims[0].setup
    assert su.grid.shape == tuple(cfg.grid.shape) and su.dt == pytest.approx(run_dt(cfg))


def run_dt(cfg):
    return ss.build(cfg.replace(grid={"dtype": "float64"})).dt


def test_fitted_values_enter_the_model():
    """A fitted value changes the simulated model where the unit mapping puts it: twice the
    surface diffusivity doubles M_surf; the rotational mobility reaches the Rotation term."""
    cfg = _cfg("[orientation]\nenabled = true\nmisorientation_deg = 8.0\n"
               "rotational_mobility_m3_Js = 2e-9\n")  # fmt: skip
    problem = ss.fit.Problem([_trace()], cfg, ["surface_diffusivity", "rotational_mobility"])
    q0 = jnp.array([math.log(s.init) for s in problem.specs])
    m0 = problem.model(0, problem.values(q0))
    m1 = problem.model(0, problem.values(q0 + jnp.array([math.log(2.0), math.log(3.0)])))
    assert float(m1.mobility.M_surf) == pytest.approx(2 * float(m0.mobility.M_surf), rel=1e-12)
    r0, r1 = m0.find(ss.model.Rotation), m1.find(ss.model.Rotation)
    assert float(r1.m_r) == pytest.approx(3 * float(r0.m_r), rel=1e-12)


def test_temperature_schedule_is_refused_by_name(tmp_path):
    ramp = '[temperature]\nschedule = "ramp"\ntimes_s = [0.0, 0.01]\nvalues_K = [423.15, 433.15]\n'
    cfg = _cfg(ramp)
    with pytest.raises(ss.fit.FitError, match="temperature.schedule"):
        ss.fit.Problem([_trace()], cfg, ["surface_diffusivity"])
    # the CLI: exit 2 with one line naming the field
    (tmp_path / "c.toml").write_text(BASE.format(material="") + ramp)
    (tmp_path / "t.csv").write_text("time_s,neck_nm\n0.001,1.0\n0.01,1.2\n")
    code = main(
        ["fit", str(tmp_path / "t.csv"), "--config", str(tmp_path / "c.toml"),
         "--params", "surface_diffusivity", "--out", str(tmp_path / "o"), "--quiet"]
    )  # fmt: skip
    assert code == 2


def test_energy_fit_with_unequal_widths_is_refused_by_name():
    cfg = _cfg("", "").replace(model={"gb_width_ratio": 1.3})
    with pytest.raises(ss.fit.FitError, match="model.gb_width_ratio"):
        ss.fit.Problem([_trace()], cfg, ["surface_energy"])
