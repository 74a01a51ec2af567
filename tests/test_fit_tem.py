"""Calibration a microscopist can trust (issue 23): the nuisance parameters of in-situ TEM, a
start on the data's time scale, identifiability from the data alone, profile likelihoods."""

from __future__ import annotations

import json
import math

import jax.numpy as jnp
import numpy as np
import pytest
from test_fit import TINY_TOML, _dummy

import sintersim.fit as F
from sintersim.constants import K_B_EV
from sintersim.scenario._config import loads_config

CSPBBR3 = """
[material]
preset = "CsPbBr3"
[grid]
shape = [24, 16]
spacing_nm = 0.25
[particles]
radius_nm = 1.0
[time]
end_s = 0.05
dt_internal = 0.5
"""


def test_length_scale_speeds_each_transport_by_its_length_power():
    """A pixel calibration error s (measured = s * true lengths): the same cells stand for a
    body 1/s the size, so surface and boundary diffusion speed up by s^4, volume diffusion by
    s^3 and boundary motion by s^2; the energies do not change."""
    cfg = loads_config(TINY_TOML.replace("[material]\n", "[material]\ngb_mobility_m4_Js = 1e-16\n"))
    prob = F.Problem([_dummy([0.002, 0.004])], cfg, ["surface_diffusivity", "length_scale"])
    su = prob.sims[0].setup
    a = su.model_at(su.temperature.start_K, {})
    s = 1.07
    b = su.model_at(su.temperature.start_K, {}, length_scale=jnp.asarray(s))
    for name, power in (("M_surf", 4), ("M_gb", 4), ("M_vol", 3)):
        ma, mb = float(getattr(a.mobility, name)), float(getattr(b.mobility, name))
        assert mb == pytest.approx(ma * s**power, rel=1e-12), name
    assert float(b.L) == pytest.approx(float(a.L) * s**2, rel=1e-12)
    assert float(b.energy.A) == pytest.approx(float(a.energy.A), rel=1e-12)
    # defaults: start 1, bounds (0.8, 1.25), log-normal prior 3 % (sigma_log10 = log10 1.03)
    spec = prob.specs[1]
    assert (spec.init, spec.lo, spec.hi, spec.log) == (1.0, 0.8, 1.25, True)
    assert spec.prior == pytest.approx((1.0, math.log10(1.03)))


def test_temperature_offset_moves_the_config_diffusivities_by_their_activation():
    """Beam heating dT: every trace at T + dT; an unfitted diffusivity follows its Arrhenius
    law there and the mobilities' 1/(k_B T) with it; the prior is normal, 30 K by default."""
    cfg = loads_config(TINY_TOML)
    prob = F.Problem([_dummy([0.002, 0.004])], cfg, ["temperature_offset"])
    spec = prob.specs[0]
    assert (spec.init, spec.lo, spec.hi, spec.log, spec.prior) == (
        0.0,
        -100.0,
        100.0,
        False,
        (0.0, 30.0),
    )
    t = prob.sims[0].temperature_K
    q_surf = prob.sims[0].base["surface_activation"]
    m0 = prob.model(0, prob.values(jnp.asarray([0.0])))
    m1 = prob.model(0, prob.values(jnp.asarray([25.0])))
    expect = math.exp(-q_surf / K_B_EV * (1 / (t + 25) - 1 / t)) * t / (t + 25)
    assert float(m1.mobility.M_surf / m0.mobility.M_surf) == pytest.approx(expect, rel=1e-10)
    assert expect > 2  # tens of kelvin matter: the reason to fit it
    r = np.asarray(prob.residuals(jnp.asarray([45.0])))
    assert r[-1] == pytest.approx(45.0 / 30.0)  # (dT - centre) / sigma
    with pytest.raises(F.FitError, match="SIGMA > 0"):
        F.Problem(
            [_dummy([0.002, 0.004])],
            cfg,
            ["temperature_offset"],
            priors={"temperature_offset": (0.0, -1.0)},
        )


def test_a_fitted_diffusivity_is_its_value_at_the_true_temperature():
    """With D_s fitted and a temperature offset, D_s is the value at T + dT (only the unfitted
    mechanisms and 1/(k_B T) move): the surface mobility changes by T / (T + dT) alone."""
    prob = F.Problem(
        [_dummy([0.002, 0.004])],
        loads_config(TINY_TOML),
        ["surface_diffusivity", "temperature_offset"],
    )
    t = prob.sims[0].temperature_K
    q = prob.start_point()
    m0 = prob.model(0, prob.values(q))
    m1 = prob.model(0, prob.values(q.at[1].set(20.0)))
    assert float(m1.mobility.M_surf / m0.mobility.M_surf) == pytest.approx(t / (t + 20), rel=1e-10)


def test_the_start_is_matched_to_the_data_time_scale():
    """The calibration issue's CsPbBr3 case: the preset's D_s is ~15,000x the value behind the
    trace, one evaluation would take ~10^7 steps. start='config' refuses with the estimate; the
    probe finds the factor within a factor 1.5 from one run in the model's own time (a start:
    2 % noise on a neck ~ t^(1/7) is 14 % in time per point, and the twin was made with fixed
    steps of 0.5, the probe with error-controlled ones)."""
    from sintersim.fit._start import time_scale_factor

    cfg = loads_config(CSPBBR3)
    ds = F.Problem([_dummy([0.01, 0.05])], cfg, ["surface_diffusivity"]).specs[0].init
    truth = ds / 15000
    slow = loads_config(
        CSPBBR3.replace('CsPbBr3"\n', f'CsPbBr3"\nsurface_diffusivity_m2_s = {truth}\n')
    )
    tr = F.synthetic_trace(slow, {"surface_diffusivity": truth}, np.linspace(5e-4, 0.012, 10))
    with pytest.raises(F.FitError, match="one evaluation would take"):
        F.fit([tr], cfg, ["surface_diffusivity"], start="config")
    prob = F.Problem([tr], cfg, ["surface_diffusivity"])
    assert prob.estimate_steps()[0] > 10**6
    c, why = time_scale_factor(prob)
    print("factor", c, "truth", 1 / 15000)
    assert why == "matched" and abs(math.log(c * 15000)) < math.log(1.5)
    with pytest.raises(F.FitError, match="start = 'fast'"):
        F.fit([tr], cfg, ["surface_diffusivity"], start="fast")


@pytest.mark.slow
def test_a_fit_from_a_start_15000x_off_recovers_the_truth():
    """start='auto' matches the time scale (the estimate exceeded MATCH_ABOVE) and the fit
    recovers D_s within 2 standard errors."""
    cfg = loads_config(CSPBBR3)
    ds = F.Problem([_dummy([0.01, 0.05])], cfg, ["surface_diffusivity"]).specs[0].init
    truth = ds / 15000
    slow = loads_config(
        CSPBBR3.replace('CsPbBr3"\n', f'CsPbBr3"\nsurface_diffusivity_m2_s = {truth}\n')
    )
    tr = F.synthetic_trace(slow, {"surface_diffusivity": truth}, np.linspace(5e-4, 0.012, 10))
    res = F.fit([tr], cfg, ["surface_diffusivity"])
    assert res.start["rule"] == "matched"
    v, se = res.values["surface_diffusivity"], res.stderr["surface_diffusivity"]
    assert abs(v - truth) < 2 * se and se < 0.2 * v


def test_the_data_alone_decide_poorly_constrained():
    """A parameter whose interval is its prior's (the data alone know it only within a factor
    above e) warns, although the prior keeps its posterior error small."""
    from sintersim.fit._optimise import uncertainty

    prob = F.Problem(
        [_dummy([0.002, 0.004])], loads_config(TINY_TOML), ["surface_diffusivity", "gb_energy"]
    )
    assert all(s.prior is not None for s in prob.specs)  # preset priors
    # data rows (2), then the prior rows (1 / (sigma ln 10) on their own coordinate)
    p1, p2 = (1 / (s.prior[1] * math.log(10)) for s in prob.specs)
    jac = np.array([[20.0, 0.0], [0.0, 0.3], [p1, 0.0], [0.0, p2]])
    _, _, notes = uncertainty(prob, np.zeros(2), jacobian=jac)
    assert len(notes) == 1 and notes[0].startswith("poorly constrained by the data: gb_energy")
    assert "rests on the priors" in notes[0]
    jac[1, 1] = 5.0
    assert uncertainty(prob, np.zeros(2), jacobian=jac)[2] == []


@pytest.fixture(scope="module")
def tiny_fit():
    """A fit of D_s (well determined) and D_gb (hardly acting in a 2D pair of this size)."""
    cfg = loads_config(TINY_TOML)
    base = F.Problem([_dummy([0.002, 0.004])], cfg, ["surface_diffusivity", "gb_diffusivity"])
    truth = {s.name: s.init for s in base.specs}
    tr = F.synthetic_trace(cfg, truth, np.linspace(0.0005, 0.006, 8), noise=0.02, name="tiny")
    res = F.fit([tr], cfg, ["surface_diffusivity", "gb_diffusivity"], lm_steps=10)
    return res, truth


def test_profile_likelihoods_show_what_the_data_bound(tiny_fit, tmp_path):
    """The profile of D_s (data only, D_gb re-optimised) bounds it on both sides around the
    truth; that of D_gb, which the data hardly see, is flat and says so. Fitted alone, D_s's
    profile (no other parameter to re-optimise) crosses Delta chi^2 = 1 where the Gauss-Newton
    parabola does, within 15 %."""
    from sintersim.fit._profile import plot_profiles, profile_likelihood

    res, truth = tiny_fit
    profiles, notes = profile_likelihood(res, points=7)
    ds = profiles["surface_diffusivity"]
    lo, hi = ds.interval
    print("D_s profile interval", lo, hi, "truth", truth["surface_diffusivity"])
    assert lo is not None and hi is not None and lo < ds.best < hi
    assert lo / 1.5 < truth["surface_diffusivity"] < hi * 1.5
    gb = profiles["gb_diffusivity"]
    print("D_gb delta chi2", np.round(gb.delta_chi2, 3))
    assert gb.flat == ["below", "above"]
    assert any(n.startswith("flat profile: the data alone do not bound gb_diff") for n in notes)
    assert plot_profiles(profiles, tmp_path / "profile.png").stat().st_size > 10_000
    doc = ds.to_json()
    assert set(doc) >= {"values", "delta_chi2", "interval_68", "flat"}
    tr = res.problem.sims[0].trace
    one = F.fit([tr], loads_config(TINY_TOML), ["surface_diffusivity"], lm_steps=10)
    p1 = profile_likelihood(one, points=7)[0]["surface_diffusivity"]
    width = math.log(p1.interval[1] / p1.interval[0]) / 2
    x = np.log(p1.values)
    half = len(x) // 2
    par = np.interp(1.0, p1.parabola[half:], x[half:]) - math.log(p1.best)
    print("one-parameter profile half-width", width, "parabola", par)
    assert abs(width / par - 1) < 0.15, (width, par)


def test_a_projected_neck_needs_a_3d_config():
    with pytest.raises(F.FitError, match="needs a 3D config"):
        F.Problem(
            [_dummy([0.002, 0.004])],
            loads_config(TINY_TOML),
            ["surface_diffusivity"],
            projection="z",
        )
    with pytest.raises(F.FitError, match="allowed: 'y', 'z'"):
        F.Problem(
            [_dummy([0.002, 0.004])],
            loads_config(TINY_TOML),
            ["surface_diffusivity"],
            projection="x",
        )


def test_a_3d_trace_compares_the_projected_width_not_the_radius():
    """A projected neck width (TEM) of an axisymmetric 3D pair is about twice its neck radius
    (a body of revolution seen side-on), and the same for a beam along y or z."""
    text = TINY_TOML.replace("shape = [24, 16]", "shape = [23, 14, 14]")
    cfg = loads_config(text)
    tr = _dummy([0.002, 0.004])
    radius = F.Problem([tr], cfg, ["surface_diffusivity"])
    q = radius.start_point()
    r = np.asarray(radius.predict(0, q))
    widths = [
        np.asarray(F.Problem([tr], cfg, ["surface_diffusivity"], projection=b).predict(0, q))
        for b in ("y", "z")
    ]
    print("radius", r, "projected", widths)
    np.testing.assert_allclose(widths[0], widths[1], rtol=1e-9)
    spacing = 0.25
    assert np.all(np.abs(widths[0] - 2 * r) < 2.5 * spacing)
    assert np.all(widths[0] > 1.5 * r)


def test_cli_fit_with_a_nuisance_parameter_a_matched_start_and_profiles(tmp_path, capsys):
    """`sintersim fit ... --params surface_diffusivity,length_scale --start match --profile 5`:
    fit.json holds the start, the normal/log-normal priors and the profiles; profile.png is
    written; the length scale (the data cannot tell it from D_s) is warned about."""
    from sintersim.cli import main

    cfg_path = tmp_path / "c.toml"
    cfg_path.write_text(TINY_TOML)
    cfg = loads_config(TINY_TOML)
    ds = F.Problem([_dummy([0.002, 0.004])], cfg, ["surface_diffusivity"]).specs[0].init
    tr = F.synthetic_trace(cfg, {"surface_diffusivity": ds}, np.linspace(0.001, 0.01, 8))
    csv = tmp_path / "cli.csv"
    rows = "".join(f"{t},{x},{s}\n" for t, x, s in zip(tr.time_s, tr.neck_nm, tr.sigma_nm))
    csv.write_text("time_s,neck_nm,sigma_nm\n" + rows)
    out = tmp_path / "fit"
    args = [str(csv), "--config", str(cfg_path), "--params", "surface_diffusivity,length_scale"]
    args += ["--out", str(out), "--start", "match", "--profile", "5", "--lm-steps", "10"]
    assert main(["fit", *args]) == 0
    cap = capsys.readouterr()
    assert "prior length_scale" in cap.out and "(log-normal, from the material preset)" in cap.out
    doc = json.loads((out / "fit.json").read_text())
    assert doc["start"]["rule"] == "matched" and 0.5 < doc["start"]["factor"] < 2.0
    assert set(doc["profiles"]) == {"surface_diffusivity", "length_scale"}
    assert doc["profiles"]["length_scale"]["flat"]  # D_s makes up for any length scale
    assert any(
        w.startswith("poorly constrained by the data: length_scale") for w in doc["warnings"]
    )
    assert "sintersim: warning: flat profile" in cap.err
    assert (out / "profile.png").stat().st_size > 10_000
    v = doc["parameters"]["surface_diffusivity"]["value"]
    assert abs(math.log(v / ds)) < 0.3
