"""Kofman-type surface melting of a sphere (sintersim.materials), issue 8's analytic part."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from sintersim.materials._melting import (
    CDSE_SEED003,
    SEED003_TARGETS,
    MeltingTargets,
    SurfaceMeltingParameters,
    compare_targets,
    delta_G,
    fit_melting_parameters,
    flat_layer_thickness,
    layer_thickness,
    melting_temperature,
    onset_temperature,
    to_kelvin,
)

NM = 1e-9
P = CDSE_SEED003


def _naive_delta_G(d, T, R, p):
    """The textbook form, term by term (the module evaluates a cancellation-free rewrite)."""
    q = p.latent_heat_J_m3 * (1 - T / p.melting_point_K)
    dg = p.gamma_sv_J_m2 - p.gamma_sl_J_m2 - p.gamma_lv_J_m2
    return (
        q * 4 * math.pi / 3 * (R**3 - (R - d) ** 3)
        + 4 * math.pi * (R - d) ** 2 * (p.gamma_sl_J_m2 + dg * math.exp(-d / p.xi_m))
        + 4 * math.pi * R**2 * (p.gamma_lv_J_m2 - p.gamma_sv_J_m2)
    )


def _non_wetting(delta_gamma):
    return SurfaceMeltingParameters.from_spreading(
        latent_heat_J_m3=P.latent_heat_J_m3,
        melting_point_K=P.melting_point_K,
        gamma_sv_J_m2=P.gamma_sv_J_m2,
        gamma_sl_J_m2=0.1,
        delta_gamma_J_m2=delta_gamma,
        xi_m=P.xi_m,
    )


# Free energy ----------------------------------------------------------------------------------


def test_delta_G_zero_without_layer_and_matches_textbook_form():
    for T in (300.0, 413.15, 600.0):
        for R in (1 * NM, 3 * NM, 1e-6):
            assert delta_G(0.0, T, R, P) == 0.0
            for f in (0.01, 0.2, 0.7, 1.0):
                want = _naive_delta_G(f * R, T, R, P)
                assert math.isclose(delta_G(f * R, T, R, P), want, rel_tol=1e-9, abs_tol=1e-30)
    # fully molten: 4 pi R^2 (q R / 3 - (gamma_sv - gamma_lv))
    R, T = 3 * NM, 450.0
    want = 4 * math.pi * R**2 * (P.q_J_m3(T) * R / 3 - (P.gamma_sv_J_m2 - P.gamma_lv_J_m2))
    assert math.isclose(delta_G(R, T, R, P), want, rel_tol=1e-12)


def test_layer_is_global_minimum_of_delta_G():
    R = 3 * NM
    grid = np.linspace(0, R, 20001)
    for T in to_kelvin(np.array([60.0, 120.0, 140.0, 210.0, 255.0, 270.0]), celsius=True):
        d = layer_thickness(T, R, P)
        assert delta_G(d, T, R, P) <= delta_G(grid, T, R, P).min() + 1e-30


def test_vectorised_over_T_and_broadcast_with_R():
    T = to_kelvin(np.array([100.0, 140.0, 210.0, 260.0]), celsius=True)
    vec = layer_thickness(T, 3 * NM, P)
    assert vec.shape == (4,)
    assert np.allclose(vec, [layer_thickness(t, 3 * NM, P) for t in T], rtol=1e-9, atol=0)
    grid = layer_thickness(T[:, None], np.array([1, 3, 5]) * NM, P)
    assert grid.shape == (4, 3)
    assert np.allclose(grid[:, 1], vec, rtol=1e-9, atol=0)
    assert isinstance(layer_thickness(413.15, 3 * NM, P), float)


# Physics --------------------------------------------------------------------------------------


@pytest.mark.parametrize("R_nm", [1.0, 3.0, 5.0, 20.0])
def test_thickness_increases_monotonically_with_T_below_melting(R_nm):
    R = R_nm * NM
    T_melt = melting_temperature(R, P)
    T_on = onset_temperature(R, P)
    T = np.linspace(200.0, T_melt - 0.05, 300)
    d = layer_thickness(T, R, P)
    assert np.all(np.diff(d) >= -1e-15)
    assert np.all(d < R)
    above = T > T_on + 0.5
    if np.any(above):  # a layer grows strictly once it exists
        assert np.all(np.diff(d[above]) > 0)
    assert np.all(d[T < T_on - 0.5] == 0.0)


@pytest.mark.parametrize("delta_gamma", [0.0, -0.05])
def test_no_layer_when_wetting_condition_fails(delta_gamma):
    p = _non_wetting(delta_gamma)
    assert not p.wets
    for R in (1 * NM, 3 * NM, 10 * NM, 1e-6):
        T_melt = melting_temperature(R, p)
        T = np.linspace(100.0, T_melt - 0.01, 200)
        assert np.all(layer_thickness(T, R, p) == 0.0)
        assert layer_thickness(T_melt + 0.01, R, p) == R  # melts as a whole
        assert math.isclose(onset_temperature(R, p), T_melt, rel_tol=1e-9)
        # no premelting: the transition is Pawlow's homogeneous melting
        pawlow = p.melting_point_K * (
            1 - 3 * (p.gamma_sv_J_m2 - p.gamma_lv_J_m2) / (p.latent_heat_J_m3 * R)
        )
        assert math.isclose(T_melt, pawlow, rel_tol=1e-9)
    assert np.all(flat_layer_thickness(np.array([300.0, 500.0, 551.0]), p) == 0.0)


def test_small_particles_melt_at_lower_temperature():
    R = np.geomspace(0.8, 1000.0, 40) * NM
    T_melt = melting_temperature(R, P)
    assert np.all(np.diff(T_melt) > 0)
    assert np.all(T_melt < P.melting_point_K)
    assert T_melt[-1] > P.melting_point_K - 0.5
    T_on = onset_temperature(R, P)
    assert np.all(T_on <= T_melt + 1e-9)
    assert np.all(np.diff(T_on) >= 0)  # curvature also helps the onset


@pytest.mark.parametrize("R_nm", [1.0, 3.0, 5.0])
def test_transition_temperatures_bracket_the_thickness_jumps(R_nm):
    """melting/onset (one minimisation each) agree with layer_thickness found by brute force."""
    R = R_nm * NM
    T_melt, T_on = melting_temperature(R, P), onset_temperature(R, P)
    for dT in (1e-4, 0.1):
        assert layer_thickness(T_melt - dT, R, P) < R
        assert layer_thickness(T_melt + dT, R, P) == R
        assert layer_thickness(T_on - dT, R, P) == 0.0
        assert layer_thickness(T_on + dT, R, P) > 0.0


def test_flat_surface_limit():
    T = to_kelvin(np.array([200.0, 230.0, 250.0, 270.0]), celsius=True)
    flat = flat_layer_thickness(T, P)
    assert np.all(flat > 0.1 * NM)
    # direct: the minimiser of q delta + Delta gamma (exp(-delta/xi) - 1) per area
    q, dg, xi = P.q_J_m3(T), P.delta_gamma_J_m2, P.xi_m
    assert np.allclose(q, dg / xi * np.exp(-flat / xi), rtol=1e-12)
    errs = []
    for R in (100 * NM, 1e-6):
        sphere = layer_thickness(T, R, P)
        assert np.all(sphere >= flat)  # curvature of the core favours the liquid
        errs.append(np.max(sphere / flat - 1))
    assert errs[1] < 0.005 and errs[0] < 0.03
    assert errs[1] < errs[0]
    assert flat_layer_thickness(P.melting_point_K + 1, P) == math.inf
    assert flat_layer_thickness(300.0, P) == 0.0


# The seed 003 preset --------------------------------------------------------------------------


def test_preset_meets_seed003_table():
    C = 273.15
    R3, R1 = 3 * NM, 1 * NM
    assert abs(layer_thickness(140 + C, R3, P) - 0.30 * NM) <= 0.1 * NM
    assert abs(layer_thickness(210 + C, R3, P) - 0.54 * NM) <= 0.1 * NM
    assert abs(melting_temperature(R3, P) - (250 + C)) <= 15
    assert layer_thickness(250 + C + 15, R3, P) == R3
    assert abs(melting_temperature(R1, P) - (90 + C)) <= 15
    assert layer_thickness(90 + C + 15, R1, P) == R1
    # "no molten layer at 90 C": the onset is within 15 K of 90 C, and the layer at 90 C is
    # within 0.1 nm of none
    assert onset_temperature(R3, P) >= 90 + C - 15
    assert layer_thickness(90 + C - 15, R3, P) == 0.0
    assert layer_thickness(90 + C, R3, P) < 0.1 * NM
    rows = compare_targets(P, SEED003_TARGETS)
    assert len(rows) == 5 and all(r["ok"] for r in rows)
    assert max(abs(r["scaled"]) for r in rows) < 0.9


def test_preset_fields_are_what_the_comment_says():
    assert math.isclose(P.delta_gamma_J_m2, 0.2684, rel_tol=1e-9)
    assert P.wets
    from sintersim.materials._presets import get_material

    cdse = get_material("CdSe")
    assert math.isclose(P.latent_heat_J_m3, cdse.latent_heat_J_m3, rel_tol=1e-3)
    assert P.gamma_sv_J_m2 == cdse.surface_energy_J_m2
    assert P.melting_point_K < cdse.melting_point_K  # an effective T_m*, see the comment


def test_fit_recovers_synthetic_parameters():
    """Targets made by known parameters are reproduced from a perturbed start."""
    true = dataclasses.replace(P, melting_point_K=600.0, xi_m=0.4 * NM)
    C = 273.15
    targets = MeltingTargets(
        thickness=tuple((3 * NM, T, layer_thickness(T, 3 * NM, true)) for T in (430.0, 480.0)),
        melting=(
            (3 * NM, melting_temperature(3 * NM, true)),
            (1 * NM, melting_temperature(NM, true)),
        ),
        no_layer=((3 * NM, 50 + C),),  # the onset is at 55 C
    )
    start = dataclasses.replace(true, melting_point_K=650.0, xi_m=0.3 * NM)
    fit = fit_melting_parameters(targets, start, free=("melting_point_K", "xi_m"), starts=2)
    assert fit.worst < 0.01
    assert math.isclose(fit.params.melting_point_K, 600.0, rel_tol=1e-3)
    assert math.isclose(fit.params.xi_m, 0.4 * NM, rel_tol=1e-2)


def test_fit_reproduces_the_preset_quality():
    base = SurfaceMeltingParameters.from_spreading(
        latent_heat_J_m3=1.896e9,
        melting_point_K=600.0,
        gamma_sv_J_m2=0.35,
        gamma_sl_J_m2=0.15,
        delta_gamma_J_m2=0.1,
        xi_m=0.3 * NM,
    )
    fit = fit_melting_parameters(SEED003_TARGETS, base)
    assert fit.worst < 0.87
    assert math.isclose(fit.params.melting_point_K, P.melting_point_K, rel_tol=2e-3)
    assert math.isclose(fit.params.xi_m, P.xi_m, rel_tol=1e-2)


# Input handling -------------------------------------------------------------------------------


def test_to_kelvin():
    assert to_kelvin("140 C") == pytest.approx(413.15)
    assert to_kelvin("140 °C") == pytest.approx(413.15)
    assert to_kelvin("140degC") == pytest.approx(413.15)
    assert to_kelvin("413.15 K") == pytest.approx(413.15)
    assert to_kelvin("413.15") == pytest.approx(413.15)
    assert to_kelvin("140", celsius=True) == pytest.approx(413.15)
    assert to_kelvin(140, celsius=True) == pytest.approx(413.15)
    assert to_kelvin(413.15) == 413.15
    assert np.allclose(to_kelvin([90, 250], celsius=True), [363.15, 523.15])
    for bad in ("hot", "140 F", "-300 C", "0 K"):
        with pytest.raises(ValueError):
            to_kelvin(bad)


@pytest.mark.parametrize(
    "field, value",
    [
        ("latent_heat_J_m3", -1.0),
        ("latent_heat_J_m3", float("nan")),
        ("melting_point_K", 0.0),
        ("gamma_sl_J_m2", 0.0),
        ("gamma_sv_J_m2", float("inf")),
        ("xi_m", -0.3e-9),
        ("xi_m", "0.3 nm"),
    ],
)
def test_bad_parameters_name_the_field(field, value):
    with pytest.raises(ValueError, match=rf"{field} must be a finite number in \(0, inf\)"):
        dataclasses.replace(P, **{field: value})


def test_bad_parameter_combinations_and_arguments():
    with pytest.raises(ValueError, match=r"gamma_lv_J_m2 must be in \(0, gamma_sv_J_m2"):
        dataclasses.replace(P, gamma_lv_J_m2=P.gamma_sv_J_m2)
    with pytest.raises(ValueError, match="delta_gamma_J_m2 must be in"):
        SurfaceMeltingParameters.from_spreading(
            latent_heat_J_m3=1e9,
            melting_point_K=500.0,
            gamma_sv_J_m2=0.3,
            gamma_sl_J_m2=0.1,
            delta_gamma_J_m2=0.25,
            xi_m=0.3e-9,
        )
    with pytest.raises(ValueError, match="R must be a positive"):
        layer_thickness(400.0, -1 * NM, P)
    with pytest.raises(ValueError, match="T must be in kelvin"):
        layer_thickness(-10.0, 3 * NM, P)
    with pytest.raises(ValueError, match=r"delta must lie in \[0, R\]"):
        delta_G(4 * NM, 400.0, 3 * NM, P)
    with pytest.raises(ValueError, match="free must name"):
        fit_melting_parameters(SEED003_TARGETS, P, free=("gamma_xx",))
    with pytest.raises(ValueError, match="not both"):
        fit_melting_parameters(SEED003_TARGETS, P, free=("delta_gamma_J_m2", "gamma_lv_J_m2"))
    with pytest.raises(ValueError, match="objective"):
        fit_melting_parameters(SEED003_TARGETS, P, objective="l1")
