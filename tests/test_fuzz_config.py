"""Property-based: random and malformed configs either run or fail validation, nothing else."""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sintersim.scenario._config import validate
from sintersim.scenario._schema import SCHEMA, ConfigError

RAN = {"ran": 0, "rejected": 0}

junk = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.lists(st.integers(-5, 300), max_size=4),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


# Sizes that usually fit the fuzzed boxes (16-40 cells): drawn from the field's whole range,
# almost every "valid" config was refused for a pair larger than its box or a surface narrower
# than 2 cells, and the run test saw 1 run in 15 examples.
SIZES = {
    ("grid", "spacing_nm"): (0.1, 0.5),
    ("particles", "radius_nm"): (0.5, 3.0),
    ("particles", "radius2_nm"): (0.5, 3.0),
    ("particles", "gap_nm"): (-0.5, 1.0),
}


def plausible(section, key, junk_too=True):
    """Values near the field's range (so many configs are valid), or junk."""
    f = SCHEMA[section][key]
    if not junk_too and (section, key) in SIZES:
        return st.floats(*SIZES[section, key])
    if key == "shape":
        good = st.lists(st.sampled_from([16, 24, 32, 40]), min_size=2, max_size=2)
    elif f.choices:
        good = st.sampled_from(list(f.choices) + ["nonsense"])
    elif f.kind is bool:
        good = st.booleans()
    elif f.kind is int:
        good = st.integers(-2, 8)
    else:
        lo = f.lo if f.lo is not None else -10.0
        hi = f.hi if f.hi is not None else 10.0
        good = st.floats(lo - abs(lo) * 0.1 - 1e-3, min(hi, max(lo, 0) * 100 + 10), allow_nan=False)
    return st.one_of(good, good, good, junk) if junk_too else good


@st.composite
def configs(draw, malformed=True):
    """Random configs; with ``malformed`` also junk values, unknown keys and sections.

    (Hypothesis favours small integers, so the rare branches test for 7, not 0.)
    """
    raw = {}
    for section, fields in SCHEMA.items():
        if draw(st.booleans()):
            keys = draw(st.lists(st.sampled_from(list(fields)), max_size=4, unique=True))
            raw[section] = {k: draw(plausible(section, k, malformed)) for k in keys}
            if malformed and draw(st.integers(0, 9)) == 7:
                raw[section][draw(st.text(min_size=1, max_size=6))] = 1
    if malformed and draw(st.integers(0, 19)) == 7:
        raw[draw(st.text(min_size=1, max_size=6))] = {}
    if not malformed:
        # a liquid run starts with a ~1 min coefficient solve per model shape: its runs are
        # tested in tests/test_melting_run.py; validation of [melting] is fuzzed above
        raw.pop("melting", None)
    raw.setdefault("time", {})
    if not malformed or draw(st.integers(0, 3)) != 0:
        raw["time"]["end_s"] = draw(st.floats(1e-6, 1e-2))
    return raw


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(configs())
def test_validation_accepts_or_names_the_problem(raw):
    try:
        cfg = validate(raw)
    except ConfigError as e:
        assert str(e) and "\n" not in str(e)
        return
    assert len(cfg["grid"]["shape"]) in (2, 3)
    assert cfg["time"]["end_s"] > 0


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(configs(malformed=False))
def test_valid_configs_run(tmp_path_factory, raw):
    from sintersim.scenario._assemble import build
    from sintersim.scenario._run import simulate

    try:
        cfg = validate(raw)
        setup = build(cfg)
    except ConfigError:
        RAN["rejected"] += 1
        return
    RAN["ran"] += 1
    # Keep the example cheap: shorten the schedule to at most ~300 steps (a valid run is a run).
    n_max = 300 * setup.dt
    if setup.schedule[-1] > n_max:
        setup.schedule = setup.schedule * (n_max / setup.schedule[-1])
    res = simulate(setup, tmp_path_factory.mktemp("fuzz"), stop_after=2, log=lambda m: None)
    assert res.status in ("complete", "stopped"), res.status
    last = res.rows[-1]
    # Centres, shrinkage and the pair misorientation are undefined (NaN) once a grain is gone.
    undefined = ("centre", "shrinkage", "misorientation")
    assert all(math.isfinite(v) for k, v in last.items() if not any(u in k for u in undefined))
    assert np.isfinite(np.asarray(res.state.rho)).all()


def test_fuzz_ran_some_valid_configs():
    # Guards against a strategy that only ever produces rejected configs (runs after the above).
    print("fuzz runs:", RAN)
    assert RAN["ran"] >= 2, RAN


@pytest.mark.parametrize(
    "material, words",
    [
        # found by test_valid_configs_run: at 19 K nothing diffuses, so the time unit is ~1e259 s
        # and the explicit sublimation sink would move the surface ~1e259 cells per step
        ({"sublimation_nm_s": 1.0, "temperature_K": 19.0}, "material.sublimation_nm_s"),
        # at 17 K every Arrhenius mobility underflows to 0: no time unit (was ZeroDivisionError)
        ({"gb_diffusivity_m2_s": 0.0, "temperature_K": 17.0}, "every density mobility is 0"),
    ],
)
def test_frozen_material_is_refused_by_name(material, words):
    from sintersim.scenario._assemble import build

    raw = {
        "material": {"surface_energy_J_m2": 1.0, "gb_energy_J_m2": 1.0, **material},
        "time": {"end_s": 0.0078125},
    }
    with pytest.raises(ConfigError, match=words):
        build(validate(raw))
