"""Temperature input (K or °C) and temperature schedules (ramp, steps) for a run."""

import dataclasses
import json

import numpy as np
import pytest
from test_shell import CASE  # the shell tests' small PbSe pair (same base case)

from sintersim.io import read_run
from sintersim.materials._presets import get_material
from sintersim.scenario import _run, build
from sintersim.scenario._config import example_config, loads_config
from sintersim.scenario._schema import ConfigError


def case(extra="", dtype="float64", end=0.01, n=4):
    return CASE.format(dtype=dtype, end=end, n=n) + extra


def schedule(kind, times, values, unit="K"):
    return (
        f'[temperature]\nschedule = "{kind}"\ntimes_s = {list(times)}\n'
        f"values_{unit} = {list(values)}\n"
    )


def test_celsius_and_kelvin_are_the_same_input():
    a = loads_config(case("[material]\ntemperature_K = 473.15\n"))
    b = loads_config(case("[material]\ntemperature_C = 200.0\n"))
    assert b["material"]["temperature_K"] == pytest.approx(473.15, abs=1e-12)
    assert b["material"]["temperature_C"] is None  # resolved: every temperature once, in K
    pa, pb = a.physical_parameters(), b.physical_parameters()
    for f in dataclasses.fields(pa):
        assert getattr(pb, f.name) == pytest.approx(getattr(pa, f.name), rel=1e-12), f.name
    sa = loads_config(case(schedule("ramp", [0, 0.01], [423.15, 473.15]))).temperature_schedule()
    sb = loads_config(case(schedule("ramp", [0, 0.01], [150, 200], "C"))).temperature_schedule()
    assert np.allclose(sa.values_K, sb.values_K, rtol=1e-12) and sa.times_s == sb.times_s
    # The resolved config (stored in run.h5) reads back to the same schedule.
    assert loads_config(b.to_toml())["material"]["temperature_K"] == b["material"]["temperature_K"]
    c = loads_config(case(schedule("steps", [0, 0.005], [150, 200], "C")))
    assert loads_config(c.to_toml()).temperature_schedule() == c.temperature_schedule()
    ex = example_config()
    for key in ("temperature_C = 150.0", "[temperature]", "times_s = [", "values_C = ["):
        assert key in ex


@pytest.mark.parametrize(
    "extra, words",
    [
        (
            "[material]\ntemperature_K = 400.0\ntemperature_C = 100.0\n",
            ["material.temperature_K and material.temperature_C", "[1, 5000] K", "°C"],
        ),
        ("[material]\ntemperature_C = -300.0\n", ["material.temperature_C", "[-272.15, 4726.85]"]),
        ("[material]\ntemperature_K = 0.5\n", ["material.temperature_K", "[1, 5000] K"]),
        (
            schedule("ramp", [0, 0.01], [423.15, 6000.0]),
            ["temperature.values_K[1] = 6000.0", "[1, 5000] K"],
        ),
        (
            schedule("steps", [0, 0.01], [-280.0, 200.0], "C"),
            ["temperature.values_C[0]", "[-272.15, 4726.85] °C"],
        ),
        (schedule("ramp", [0, 0.006, 0.004], [400, 450, 500]), ["temperature.times_s[2]"]),
        (schedule("ramp", [0, 0.02], [400, 450]), ["temperature.times_s[1]", "[0, 0.01] s"]),
        (schedule("ramp", [0, 0.01], [400, 450, 500]), ["equal lengths"]),
        (schedule("ramp", [0], [400]), ["at least 2"]),
        (schedule("constant", [0], [400]), ["temperature.times_s", "'ramp' or 'steps'"]),
        ('[temperature]\nschedule = "steps"\ntimes_s = [0.0]\n', ["temperature.values_K"]),
        ('[temperature]\nschedule = "warm"\n', ["temperature.schedule", "'ramp'"]),
        (
            '[temperature]\nschedule = "steps"\ntimes_s = [0.0]\nvalues_K = [400.0]\n'
            "values_C = [100.0]\n",
            ["temperature.values_K and temperature.values_C"],
        ),
        (
            "[material]\ntemperature_K = 400.0\n" + schedule("steps", [0], [450.0]),
            ["material.temperature_K = 400", "values_K[0] = 450"],
        ),
    ],
)
def test_bad_temperature_input_names_field_and_range(extra, words):
    with pytest.raises(ConfigError) as e:
        loads_config(case(extra))
    for w in words:
        assert w in str(e.value)


def test_schedule_shapes_and_explicit_diffusivity_follows_arrhenius():
    ramp = loads_config(case(schedule("ramp", [0.002, 0.008], [400, 460]))).temperature_schedule()
    assert ramp(0.0) == 400 and ramp(0.005) == pytest.approx(430) and ramp(0.01) == 460
    # 60 K in chunks of at most 1 K: the points plus 60 even cuts
    assert len(ramp.breakpoints_s()) == 61
    steps = loads_config(case(schedule("steps", [0, 0.004], [400, 460]))).temperature_schedule()
    assert steps(0.0039) == 400 and steps(0.004) == 460 and steps(0.004 * (1 - 1e-12)) == 460
    c = loads_config(case("[material]\nsurface_diffusivity_m2_s = 1e-18\n"))
    law = get_material("PbSe").surface_diffusion
    d = c.physical_parameters(480.0).surface_diffusivity
    assert d == pytest.approx(1e-18 * law(480.0) / law(423.15), rel=1e-12)
    assert c.physical_parameters().surface_diffusivity == 1e-18


def _final(out):
    info = read_run(out / "run.h5")
    return info, info["checkpoint"][0]


def fixed(text: str) -> str:
    """The config with fixed time steps."""
    return text.replace("[time]\n", "[time]\nadaptive = false\n", 1)


def test_step_schedule_equals_two_constant_runs_chained(tmp_path):
    """423.15 K for 5 ms, then 453.15 K for 5 ms == a run at 423.15 K whose final state starts a
    run at 453.15 K: the same (fixed) steps on the same physics, in other time units
    (round-off)."""
    T1, T2 = 423.15, 453.15
    sched = build(loads_config(fixed(case(schedule("steps", [0, 0.005], [T1, T2]), end=0.01))))
    _run.simulate(sched, tmp_path / "s")
    first = build(loads_config(fixed(case(f"[material]\ntemperature_K = {T1}\n", end=0.005, n=2))))
    o1 = _run.simulate(first, tmp_path / "c1")
    second = build(loads_config(fixed(case(f"[material]\ntemperature_K = {T2}\n", end=0.005, n=2))))
    second.state0 = o1.state
    _run.simulate(second, tmp_path / "c2")
    info_s, rho_s = _final(tmp_path / "s")
    info_2, rho_2 = _final(tmp_path / "c2")
    assert info_s["steps"] == read_run(tmp_path / "c1" / "run.h5")["steps"] + info_2["steps"]
    print("max |rho_schedule - rho_chained| =", np.abs(rho_s - rho_2).max())
    np.testing.assert_allclose(rho_s, rho_2, rtol=0, atol=1e-10)
    obs_s, obs_1, obs_2 = (
        read_run(tmp_path / d / "run.h5")["observables"] for d in ("s", "c1", "c2")
    )
    neck = np.concatenate([obs_1["neck_width_nm"], obs_2["neck_width_nm"][1:]])
    np.testing.assert_allclose(obs_s["neck_width_nm"], neck, rtol=1e-9)
    np.testing.assert_allclose(obs_s["temperature_K"], [T1, T1, T2, T2, T2])


def test_ramp_grows_the_neck_between_the_constant_runs(tmp_path):
    """A ramp 423 -> 473 K sinters faster than 423 K throughout and slower than 473 K
    throughout; every chunk reuses the one compiled advance."""
    lo, hi = 423.15, 473.15
    necks = {}
    cfgs = {
        "low": f"[material]\ntemperature_K = {lo}\n",
        "ramp": schedule("ramp", [0, 0.01], [lo, hi]),
        "high": f"[material]\ntemperature_K = {hi}\n",
    }
    compiled = []
    for name, extra in cfgs.items():
        setup = build(loads_config(case(extra, dtype="float32", n=2)))
        out = _run.simulate(setup, tmp_path / name)
        necks[name] = out.rows[-1]["neck_width_nm"]
        compiled.append(_run._advance._cache_size())
    print("neck at 10 ms (nm):", necks)
    assert necks["low"] < necks["ramp"] < necks["high"]
    assert compiled[0] == compiled[1] == compiled[2]  # no recompilation for new temperatures
    info = read_run(tmp_path / "ramp" / "run.h5")
    sched = json.loads(info["attrs"]["temperature_schedule"])
    assert sched["kind"] == "ramp" and sched["values_K"] == [lo, hi]
    assert info["attrs"]["temperature_K"] == lo
    np.testing.assert_allclose(info["observables"]["temperature_K"], [lo, 448.15, hi])


def test_resume_mid_schedule_is_bit_identical(tmp_path):
    """Stopped after 2 of 4 save-points (mid-ramp, with thermal noise so the global step index
    matters), then resumed: fields, orientations-free checkpoint and CSV equal the run without
    interruption, bit for bit."""
    extra = schedule("ramp", [0, 0.006, 0.01], [423.15, 463.15, 443.15])
    extra += "[noise]\nenabled = true\nseed = 3\nscale = 0.1\n"
    cfg = loads_config(case(extra))
    _run.simulate(build(cfg), tmp_path / "a")
    stopped = _run.simulate(build(cfg), tmp_path / "b", stop_after=2)
    assert stopped.status == "stopped"
    setup, start = _run.load_for_resume(tmp_path / "b")
    assert start[0] == 2
    assert _run.simulate(setup, tmp_path / "b", start=start).status == "complete"
    a, b = read_run(tmp_path / "a" / "run.h5"), read_run(tmp_path / "b" / "run.h5")
    assert a["steps"] == b["steps"] and a["n_frames"] == b["n_frames"] == 5
    for x, y in zip(a["checkpoint"][:2], b["checkpoint"][:2], strict=True):
        np.testing.assert_array_equal(x, y)
    for k in a["observables"]:
        np.testing.assert_array_equal(a["observables"][k], b["observables"][k])
    assert (tmp_path / "a" / "observables.csv").read_text() == (
        tmp_path / "b" / "observables.csv"
    ).read_text()
    print("temperature_K:", a["observables"]["temperature_K"])
