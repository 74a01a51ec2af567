"""Physical units -> model: the mapping is proved by measuring the model's own interfaces."""

import math

import numpy as np
import pytest

import sintersim as ss
from sintersim.calibrate._units import check_mapping

CASES = [
    # gamma_s, gamma_gb (J/m^2), width (nm), dx (nm)
    (0.2, 0.2 / 3, 1.0, 0.25),  # PbSe-like preset ratio, 4-cell interface
    (0.4, 0.4, 1.0, 0.25),  # gamma_gb = gamma_s
    (1.0, 0.3, 0.9, 0.3),  # 3-cell interface
]


@pytest.mark.parametrize("gs, gb, width, dx", CASES)
def test_measured_interfaces_match_requested(gs, gb, width, dx):
    p = ss.calibrate.PhysicalParameters(gs, gb, width, dx, 400.0, 5e-29, 1e-18)
    nd = ss.calibrate.nondimensionalize(p)
    got = check_mapping(nd, p)
    for key, tol in (
        ("surface_energy_J_m2", 0.03),
        ("gb_energy_J_m2", 0.03),
        ("interface_width_nm", 0.03),  # measured errors < 1 % (printed below)
    ):
        want, meas = got[key]
        print(f"{key}: requested {want:.4g}, measured {float(meas):.4g}, {meas / want - 1:+.2%}")
        assert abs(meas / want - 1) < tol, (key, want, meas)


def test_mullins_coefficient_round_trip():
    """B_s of the dimensionless model, converted back to SI, is D_s delta_s Omega gamma_s/(kT)."""
    p = ss.calibrate.PhysicalParameters(
        0.3, 0.1, 1.0, 0.25, 500.0, 6e-29, 3e-17, surface_layer_nm=0.4, gb_diffusivity=1e-18
    )
    nd = ss.calibrate.nondimensionalize(p)
    e = nd.model.energy
    prof = ss.calibrate.surface_profile(e)
    b_internal = prof.gamma * nd.model.mobility.M_surf * prof.surface_integral
    sc = nd.scales
    b_si = b_internal * sc.length_m**4 / sc.time_s
    assert math.isclose(b_si, ss.calibrate.mullins_coefficient(p), rel_tol=1e-3)
    # The largest density mobility sets the time unit.
    m = nd.model.mobility
    assert math.isclose(max(m.M_surf, m.M_gb, m.M_vol, m.M_vap), 1.0, rel_tol=1e-12)


def test_shape_solution_hits_requested_ratio():
    for r in (0.2, 0.5, 1.0, 1.5):
        sh = ss.calibrate.solve_shape(r)
        assert math.isclose(sh.gamma_gb / sh.gamma_s, r, rel_tol=1e-5)
        assert math.isclose(sh.width_gb / sh.width_s, 1.0, rel_tol=1e-4)


def test_unreachable_ratio_is_a_clear_error():
    with pytest.raises(ValueError, match="gb_energy"):
        ss.calibrate.PhysicalParameters(0.2, 0.5, 1.0, 0.25, 400.0, 5e-29, 1e-18)  # > 2 gamma_s
    with pytest.raises(ValueError, match="outside what the model reaches"):
        ss.calibrate.nondimensionalize(
            ss.calibrate.PhysicalParameters(0.2, 0.38, 1.0, 0.25, 400.0, 5e-29, 1e-18)
        )


@pytest.mark.parametrize(
    "field, value",
    [
        ("surface_energy", -1.0),
        ("interface_width_nm", 0.1),
        ("temperature_K", 0.0),
        ("surface_diffusivity", float("nan")),
    ],
)
def test_bad_physical_parameter_names_field(field, value):
    kw = dict(
        surface_energy=0.2,
        gb_energy=0.1,
        interface_width_nm=1.0,
        grid_spacing_nm=0.25,
        temperature_K=400.0,
        atomic_volume_m3=5e-29,
        surface_diffusivity=1e-18,
    )
    kw[field] = value
    with pytest.raises(ValueError, match=field):
        ss.calibrate.PhysicalParameters(**kw)


def test_scales_round_trip():
    sc = ss.calibrate.Scales(2.5e-10, 1e8, 1e-3)
    assert np.allclose(sc.to_seconds(sc.to_internal_time(np.array([0.5, 2.0]))), [0.5, 2.0])
