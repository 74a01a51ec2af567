"""A run with a liquid phase from the config (`[melting]`, issue 8): the temperature sets the
liquid's driving force q = L_v (1 - T/T_m), and a schedule changes it during the run."""

from __future__ import annotations

import csv

import jax.numpy as jnp
import numpy as np
import pytest

from sintersim._rotation import torque
from sintersim._run import build, model_at, simulate
from sintersim.config import ConfigError, loads_config

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
    """Steps 90 C -> 200 C at 10 ms: below the onset the liquid stays a trace; at 200 C a
    premelted layer forms (measured: 8.5e-7 at 10 ms, 0.146 at 15 ms); mass conserved, q follows
    T through `model_at`. The seed-003 ratios are raised to what this run's Wang shape reaches
    (gamma_lv / gamma_sv 0.49 -> 0.53, gamma_sl / gamma_sv 0.085 -> 0.12).
    """
    cfg = _config(
        90.0,
        '[temperature]\nschedule = "steps"\ntimes_s = [0.0, 0.01]\nvalues_C = [90.0, 200.0]\n',
    )
    setup = build(cfg)
    q90, q200 = (float(model_at(setup, T).energy.q) for T in (363.15, 473.15))
    assert q90 > q200 > 0  # below T_m* = 538 K both positive; hotter = weaker solid preference
    out = simulate(setup, tmp_path, log=lambda m: None)
    assert out.status == "complete"
    rows = list(csv.DictReader(open(tmp_path / "observables.csv")))
    t = np.array([float(r["time_s"]) for r in rows])
    liq = np.array([float(r["liquid_fraction"]) for r in rows])
    mass = np.array([float(r["mass_nm2"]) for r in rows])
    print("t", t, "liquid fraction", liq)
    assert np.all(liq[t <= 0.01] < 1e-3)
    assert liq[-1] > 0.05
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
    the layer forms (90 -> 200 C at 10 ms); the liquid's orientation entry is a placeholder
    with zero torque that never stitches; grain count and boundary length are the solids'."""
    cfg = _config(
        90.0,
        '[temperature]\nschedule = "steps"\ntimes_s = [0.0, 0.01]\nvalues_C = [90.0, 200.0]\n'
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
    assert col["liquid_fraction"][-1] > 0.05 and col["liquid_fraction"][2] < 1e-3
    assert np.all(np.diff(col["misorientation_deg"]) < 0)  # the solids align, throughout
    assert np.all(col["grain_count"] == 2)  # the liquid is not counted as a grain
    assert np.max(np.abs(col["mass_nm2"] / col["mass_nm2"][0] - 1)) < 1e-9
    end = out.state
    assert float(end.orientation[-1]) == 0.0
    tau = np.asarray(torque(setup.model.energy, end, setup.grid))
    assert tau[-1] == 0.0 and abs(tau[0]) > 0.0
    # stitching: the liquid, aligned with grain 1 and sharing more of it than grain 2 does
    # (so it would be the pair picked if it counted), stays a separate field
    eta = jnp.stack([end.eta[0], 0.5 * end.eta[0], end.eta[0]])
    same = jnp.zeros(3, end.orientation.dtype)
    eta2, o2 = setup.model.energy.stitch(eta, same, setup.grid.cell_volume)
    np.testing.assert_array_equal(np.asarray(eta2[-1]), np.asarray(eta[-1]))
    assert float(jnp.sum(eta2[1])) == 0.0  # the two aligned solids did merge
