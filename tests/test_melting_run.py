"""A run with a liquid phase from the config (`[melting]`, issue 8): the temperature sets the
liquid's driving force q = L_v (1 - T/T_m), and a schedule changes it during the run."""

from __future__ import annotations

import csv
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from sintersim.model import Liquid, Stitching
from sintersim.model._rotation import torque
from sintersim.scenario import build
from sintersim.scenario._config import loads_config
from sintersim.scenario._run import simulate
from sintersim.scenario._schema import ConfigError
from sintersim.state import State

CASE = """
[material]
preset = "CdSe"
temperature_C = {T0}
[grid]
shape = [64, 40]
spacing_nm = 0.25
dtype = "float64"
[particles]
radius_nm = 3.0
[time]
end_s = 0.02
n_saves = 4
[melting]
enabled = true
gamma_lv_J_m2 = 0.185
gamma_sl_J_m2 = 0.042
{extra}
"""


def _config(T0=90.0, extra=""):
    return loads_config(CASE.format(T0=T0, extra=extra))


def test_cold_then_hot_schedule_grows_a_liquid_layer(tmp_path):
    """Steps 90 C -> 229 C at 10 ms: below the onset the liquid stays a trace; at 229 C (just
    above this set's onset, ~225 C; the particle melts by 240 C) a premelted layer forms
    (measured liquid share: 3.5e-12 at 10 ms, 0.033 at 15 ms, 0.031 at 20 ms); mass conserved,
    q follows T through `Setup.model_at`. The seed-003 ratios are raised to what this run's Wang
    shape reaches (gamma_lv / gamma_sv 0.49 -> 0.53, gamma_sl / gamma_sv 0.085 -> 0.12).
    """
    cfg = _config(
        90.0,
        '[temperature]\nschedule = "steps"\ntimes_s = [0.0, 0.01]\nvalues_C = [90.0, 229.0]\n',
    )
    setup = build(cfg)
    q90, q200 = (float(setup.model_at(T).find(Liquid).q) for T in (363.15, 473.15))
    assert q90 > q200 > 0  # below T_m* = 550 K both positive; hotter = weaker solid preference
    out = simulate(setup, tmp_path, log=lambda m: None)
    assert out.status == "complete"
    rows = list(csv.DictReader(open(tmp_path / "observables.csv")))
    t = np.array([float(r["time_s"]) for r in rows])
    liq = np.array([float(r["liquid_fraction"]) for r in rows])
    mass = np.array([float(r["mass_nm2"]) for r in rows])
    print("t", t, "liquid fraction", liq)
    assert np.all(liq[t <= 0.01] < 1e-3)
    assert liq[-1] > 0.02
    assert np.max(np.abs(mass / mass[0] - 1)) < 1e-9


@pytest.mark.parametrize(
    "extra, words",
    [
        ('parameters = "material"', "melting.parameters"),  # CdSe's bulk liquid does not wet
        ("gamma_lv_J_m2 = 0.12", "melting.gamma_lv_J_m2"),  # below what the shape reaches
    ],
)
def test_melting_config_errors_name_the_field(extra, words):
    text = CASE.format(T0=200.0, extra=extra)
    text = text.replace("gamma_lv_J_m2 = 0.185\n", "").replace("gamma_sl_J_m2 = 0.042\n", "")
    with pytest.raises(ConfigError, match=words):
        build(loads_config(text))


def test_melting_with_orientations_rotates_the_solids_only(tmp_path):
    """[melting] with [orientation]: the 8-degree pair turns towards alignment before and after
    the layer forms (90 -> 229 C at 10 ms); the liquid's orientation entry is a placeholder
    with zero torque that never stitches; grain count and boundary length are the solids'."""
    cfg = _config(
        90.0,
        '[temperature]\nschedule = "steps"\ntimes_s = [0.0, 0.01]\nvalues_C = [90.0, 229.0]\n'
        "[orientation]\nenabled = true\nmisorientation_deg = 8.0\n"
        "rotational_mobility_m3_Js = 2e-9\n",
    )
    setup = build(cfg)
    assert setup.state0.orientation.shape == (3,)  # two grains + the liquid's placeholder
    out = simulate(setup, tmp_path, log=lambda m: None)
    assert out.status == "complete"
    rows = list(csv.DictReader(open(tmp_path / "observables.csv")))
    col = {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}
    print({k: col[k] for k in ("liquid_fraction", "misorientation_deg", "grain_count")})
    assert col["liquid_fraction"][-1] > 0.02 and col["liquid_fraction"][2] < 1e-3
    assert np.all(np.diff(col["misorientation_deg"]) < 0)  # the solids align, throughout
    assert np.all(col["grain_count"] == 2)  # the liquid is not counted as a grain
    assert np.max(np.abs(col["mass_nm2"] / col["mass_nm2"][0] - 1)) < 1e-9
    end = out.state
    assert float(end.orientation[-1]) == 0.0
    tau = np.asarray(torque(setup.model, end, setup.grid))
    assert tau[-1] == 0.0 and abs(tau[0]) > 0.0
    # stitching: the liquid, aligned with grain 1 and sharing more of it than grain 2 does
    # (so it would be the pair picked if it counted), stays a separate field
    eta = jnp.stack([end.eta[0], 0.5 * end.eta[0], end.eta[0]])
    same = jnp.zeros(3, end.orientation.dtype)
    old = State(end.rho, eta, same)
    stitched = Stitching().update(setup.model, setup.grid, old, old, 0.1)
    eta2 = stitched.eta
    np.testing.assert_array_equal(np.asarray(eta2[-1]), np.asarray(eta[-1]))
    assert float(jnp.sum(eta2[1])) == 0.0  # the two aligned solids did merge


def test_mapping_check_measures_the_dry_crystal():
    """The unit-mapping check relaxes the crystal without its liquid: a one-field slab read by
    `LiquidEnergy` would be pure liquid (measured before the fix: gamma_s 1.78 J/m^2 requested
    0.35, gamma_gb ~0)."""
    from sintersim.calibrate._units import check_mapping

    cfg = _config()
    got = check_mapping(build(cfg).nd, cfg.physical_parameters())
    for name, (want, measured) in got.items():
        assert float(measured) == pytest.approx(want, rel=0.05), name


def test_energy_rise_rule():
    """An isothermal, noise-free interval whose F rose beyond the tolerance is unstable; a fall,
    a temperature change or thermal noise is not judged."""
    from sintersim.model._noise import ThermalNoise
    from sintersim.scenario._run import ENERGY_RISE_TOL, _energy_rose

    setup = build(_config())
    T = 363.15
    chunks = [(0.0, 1.0, T), (1.0, 2.0, T)]
    before = {"temperature_K": T, "free_energy_J": 2.0e-18}
    rose = {"free_energy_J": 2.0e-18 * (1 + 3 * ENERGY_RISE_TOL)}
    fell = {"free_energy_J": 1.5e-18}
    assert _energy_rose(setup, chunks, before, rose)
    assert not _energy_rose(setup, chunks, before, fell)
    assert not _energy_rose(setup, chunks, before, {"free_energy_J": 2.0e-18 * (1 + 1e-5)})
    assert not _energy_rose(setup, [(0.0, 2.0, T + 10.0)], before, rose)  # after a T step
    noise = ThermalNoise(1.0, jax.random.PRNGKey(0))
    model = dataclasses.replace(setup.model, kinetics=(*setup.model.kinetics, noise))
    noisy = dataclasses.replace(setup, nd=dataclasses.replace(setup.nd, model=model))
    assert not _energy_rose(noisy, chunks, before, rose)


CALIBRATED = "experiments/surface_melting/configs/cdse_seed003_pair.toml"


# ~1 min (two coefficient solves and two short 3D runs): in `make test-slow`
@pytest.mark.slow
def test_calibrated_pair_config_is_the_table_model_and_stops_when_unstable(tmp_path):
    """The example config's run has the fitted liquid (same c_sl, a_l; q at 140 C within 0.5 %),
    and at dt_internal = 0.1 it stops on the energy rise with its last good state saved."""
    from pathlib import Path

    from sintersim.calibrate._liquid import physical_liquid
    from sintersim.materials._liquid_presets import CDSE_SEED003_PF
    from sintersim.scenario._config import load_config

    root = Path(__file__).resolve().parents[1]
    cfg = load_config(root / CALIBRATED)
    setup = build(cfg)
    e, liq = setup.model.energy, setup.model.find(Liquid)
    ref = physical_liquid(CDSE_SEED003_PF, 413.15).energy
    assert float(liq.c_sl) == pytest.approx(float(ref.c_sl), rel=1e-3)
    assert float(liq.a_l) == pytest.approx(float(ref.a_l), rel=1e-3)
    assert float(liq.q) == pytest.approx(float(ref.q), rel=5e-3)
    assert float(e.kappa_rho) == pytest.approx(4.0 * float(ref.kappa_rho), rel=1e-3)  # l0 / 2
    text = cfg.to_toml().replace("dt_internal = 0.01", "dt_internal = 0.1")
    unstable = build(loads_config(text))
    out = simulate(unstable, tmp_path, log=lambda m: None)
    assert out.status.startswith("failed: the free energy rose"), out.status
    F = [r["free_energy_J"] for r in out.rows]
    assert all(b <= a for a, b in zip(F, F[1:], strict=False))  # the kept rows all descend
    assert float(jnp.min(out.state.rho)) > -0.05  # the last good state, before the drift
