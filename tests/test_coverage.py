"""scripts/coverage.py: the coverage study of the fit's reported 68 % intervals on synthetic twins
drawn from the fit's own priors (the full study: ``python scripts/coverage.py --twins 20``)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _study():
    """scripts/coverage.py as the module ``coverage_study`` (not ``coverage``: the name of the
    coverage.py package)."""
    name = "coverage_study"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "coverage.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod  # before exec: its dataclasses look their module up
        spec.loader.exec_module(mod)
    return sys.modules[name]


def test_twins_are_drawn_inside_the_ranges_and_from_the_priors():
    """No simulation: the draws of 10 twins stay inside the study's ranges, cycle through the
    parameter sets and presets, and put each truth where its prior draw says."""
    C = _study()
    rng = np.random.default_rng(3)
    specs = [C.draw_twin(rng, i) for i in range(10)]
    assert [s.params for s in specs[:5]] == list(C.PARAM_SETS)
    assert {s.preset for s in specs} == set(C.PRESETS)
    for s in specs:
        assert abs(s.temperature_K - C.T_USUAL_K) <= C.T_SPREAD_K
        assert C.RADIUS_NM[0] <= s.radius_nm <= C.RADIUS_NM[1]
        assert C.NOISE[0] <= s.noise <= C.NOISE[1]
        assert C.POINTS[0] <= s.n_points <= C.POINTS[1]
        assert set(s.truth) == set(s.params) - {C.TAU}
        priors = C.priors_of(s, s.params)
        for kind, value in s.truth.items():
            centre, sigma, log = priors[kind]
            z = np.log10(value / centre) / sigma if log else (value - centre) / sigma
            assert z == pytest.approx(s.z_prior[kind]) and abs(z) <= C.TRUNCATE


def test_two_quick_twins_run_cover_and_warn(tmp_path, capsys):
    """``--quick --twins 2`` (~1 min): both fits run, every truth lies within 3 reported
    standard errors, the table and the summary carry their fields, and the constructed
    unconstrained parameter (D_gb at its prior's lower 2-sigma edge, where boundary diffusion
    cannot act on an R = 1 nm pair) is unconstrained by the data and warned."""
    from sintersim.fit._optimise import RSE_LIMIT

    C = _study()
    assert C.rse_limit() == RSE_LIMIT
    assert C.main(["--quick", "--twins", "2", "--seed", "0", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.count("| PbSe |") == 2 and "| Ds+tau |" in out and "| Ds+Dgb |" in out
    assert "overall: " in out and "unconstrained by the data: " in out
    doc = json.loads((tmp_path / "coverage.json").read_text())
    assert (tmp_path / "coverage.png").stat().st_size > 5000
    rows, summary = doc["rows"], doc["summary"]
    assert [r["set"] for r in rows] == ["Ds+tau", "Ds+Dgb"]
    for r in rows:
        assert "error" not in r, r.get("error")
        for key in ("preset", "temperature_K", "radius_nm", "noise", "n_points", "warnings"):
            assert key in r
        assert r["fit_s"] > 0 and r["chi2_reduced"] > 0
        for name, p in r["params"].items():
            assert abs(p["z"]) < 3, (name, p)
            assert p["inside"] == (abs(p["z"]) <= 1)
            assert p["stderr"] > 0 and p["sd_data"] > 0
    assert set(rows[0]["params"]) == {"surface_diffusivity", "time_offset[twin]"}
    dgb = rows[1]["params"]["gb_diffusivity"]
    assert dgb["unconstrained"] and dgb["warned"]
    assert any(w.startswith("poorly constrained") for w in rows[1]["warnings"])
    assert not rows[0]["params"]["surface_diffusivity"]["unconstrained"]
    overall = summary["overall"]
    assert overall["n"] == 4 and 0 <= overall["inside"] <= 4
    assert set(summary["per_kind"]) == {"surface_diffusivity", "time_offset", "gb_diffusivity"}
    assert summary["unconstrained"] >= 1
    assert summary["unconstrained_warned"] == summary["unconstrained"]
    assert summary["failed"] == []


# ~5.5 min (six full-size twins, on the 2-core CPU shared with other runs): in `make test-slow`.
# Seed 1 measured: 9/14 = 64 % inside, 6 unconstrained parameters, all warned.
@pytest.mark.slow
def test_coverage_of_six_twins_is_binomially_reasonable():
    """Six twins (one per parameter set, and one more: 14 intervals). With 14 independent
    intervals each holding the truth with probability 0.683, the number inside is binomial:
    fewer than 5 (35 %) happens with probability 0.27 %, all 14 (above 95 %) with 0.48 %, so a
    calibrated fit fails the band 35-95 % less than 1 % of the time (intervals of one twin are
    correlated, which widens the spread a little). Every parameter the data leave unconstrained
    is warned about."""
    C = _study()
    _, summary = C.run_study(6, seed=1)  # prints the table (pytest -s shows it)
    print(C.summary_text(summary))
    assert summary["failed"] == []
    overall = summary["overall"]
    assert overall["n"] == 14
    assert 0.35 <= overall["fraction"] <= 0.95, overall
    assert summary["unconstrained_warned"] == summary["unconstrained"], summary
