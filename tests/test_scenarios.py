"""Any scenario from a config (issue 19): layouts in 2D/3D, one driver, grain ids, sweeps,
memory refusal."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from sintersim.cli import main
from sintersim.io import read_run
from sintersim.packing import GrainTracker
from sintersim.scenario import (
    ConfigError,
    build,
    load_for_resume,
    loads_config,
    simulate,
    sweep_members,
)

DATA = Path(__file__).parent / "data"

MATERIAL = """
[material]
preset = "PbSe"
temperature_K = 423.15
[model]
interface_width_nm = 1.0
"""

LAYOUTS = {
    "chain_2d": 'layout = "chain"\ncount = 3\nradius_nm = 2.0\ngap_nm = -0.3',
    "chain_3d": 'layout = "chain"\ncount = 2\nradius_nm = 2.0\ngap_nm = -0.3\ndimensions = 3',
    "hex_2d": 'layout = "hex_monolayer"\nrows = 2\ncols = 3\nradius_nm = 2.0\ngap_nm = -0.2\n'
    "size_spread_nm = 0.1",
    "hex_3d": 'layout = "hex_monolayer"\nrows = 2\ncols = 2\nradius_nm = 2.0\ngap_nm = -0.2\n'
    "dimensions = 3",
    "square_2d": 'layout = "square_superlattice"\nrows = 2\ncols = 2\nradius_nm = 2.0\n'
    "gap_nm = -0.2",
    "random_2d": 'layout = "random_packing"\ncount = 6\nradius_nm = 2.0\npacking_fraction = 0.4\n'
    "min_gap_nm = -0.3\nseed = 3",
    "random_3d": 'layout = "random_packing"\ncount = 4\nradius_nm = 2.0\npacking_fraction = 0.3\n'
    "dimensions = 3\nseed = 1",
}


def _config(particles: str, grid: str = "", extra: str = "", end_s: float = 1e-5, saves=2):
    return (
        MATERIAL
        + f"[grid]\nspacing_nm = 0.5\n{grid}\n[particles]\n{particles}\n"
        + f"[time]\nend_s = {end_s}\nn_saves = {saves}\n{extra}"
    )


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_every_layout_builds_from_toml_and_runs(name, tmp_path):
    cfg = loads_config(_config(LAYOUTS[name]))
    setup = build(cfg)
    assert setup.grid.ndim == (3 if name.endswith("3d") else 2)
    n = setup.packing.n
    res = simulate(setup, tmp_path / name, log=lambda m: None)
    assert res.status == "complete"
    rows = res.rows
    assert len(rows) == 3
    # every particle is a grain of its own at the start (touching ones are on different fields)
    assert rows[0]["grain_count"] == n
    assert rows[0]["contacts"] >= (n - 1 if name.startswith("chain") else 1) or name.startswith(
        "random"
    )
    key = "mass_nm3" if setup.grid.ndim == 3 else "mass_nm2"
    assert rows[-1][key] == pytest.approx(rows[0][key], rel=1e-5)
    assert rows[-1]["free_energy_J"] < rows[0]["free_energy_J"]
    # the grain-id map: every particle centre carries its own id
    info = read_run(tmp_path / name / "run.h5")
    ids = info["grain_id"]
    cells = np.floor(setup.packing.centres).astype(int) % np.array(setup.grid.shape)
    np.testing.assert_array_equal(ids[tuple(cells.T)], np.arange(n))
    grains = list(csv.DictReader(open(tmp_path / name / "grains.csv")))
    assert len(grains) == 3 * n and {"grain_id", "field", "x_nm"} <= set(grains[0])
    xmf = (tmp_path / name / "run.xmf").read_text()
    assert 'Name="grain_id"' in xmf and 'NumberType="Int"' in xmf


def test_layout_box_and_refusals():
    c = loads_config(_config(LAYOUTS["hex_2d"]))
    assert tuple(c.grid.shape) == build(c).packing.grid().shape
    with pytest.raises(ConfigError, match="grid.shape = \\[40, 40\\].*makes its own periodic box"):
        loads_config(_config(LAYOUTS["hex_2d"], grid="shape = [40, 40]"))
    with pytest.raises(ConfigError, match="particles.rows is required"):
        loads_config(_config('layout = "square_superlattice"\ncols = 2\nradius_nm = 2.0'))
    with pytest.raises(ConfigError, match="particles.layout = 'hex_monolayr'.*did you mean"):
        loads_config(_config('layout = "hex_monolayr"'))
    with pytest.raises(ConfigError, match="particles.orientation = 'sideways'"):
        loads_config(_config(LAYOUTS["square_2d"] + '\norientation = "sideways"'))
    with pytest.raises(ConfigError, match="needs grid.shape or particles.packing_fraction"):
        loads_config(_config('layout = "random_packing"\ncount = 4\nradius_nm = 2.0'))
    with pytest.raises(ConfigError, match="size_spread_nm"):
        loads_config(_config(LAYOUTS["square_2d"] + "\nsize_spread_nm = 1.5"))
    # too crowded for random sequential addition: refused by name, not a hang
    crowded = 'layout = "random_packing"\ncount = 40\nradius_nm = 2.0\nmin_gap_nm = 0.5'
    with pytest.raises(ConfigError, match="random_packing: placed"):
        build(loads_config(_config(crowded, grid="shape = [40, 40]")))


def test_file_layout_reads_tem_positions(tmp_path):
    csv_path = tmp_path / "dots.csv"
    csv_path.write_text(
        "x_nm,y_nm,radius_nm,angle_deg\n5.0,10.0,2.5,0\n9.6,10.0,2.5,12\n14.4,10.0,2.5,40\n"
    )
    cfg_path = tmp_path / "case.toml"
    cfg_path.write_text(
        _config('layout = "file"\nfile = "dots.csv"', grid="shape = [44, 40]", extra="")
        + "[orientation]\nenabled = true\n"
    )
    out = tmp_path / "out"
    assert main(["run", str(cfg_path), "--out", str(out), "--quiet"]) == 0
    info = read_run(out / "run.h5")
    p = info["particles"]
    np.testing.assert_allclose(p["centres_nm"], [[5, 10], [9.6, 10], [14.4, 10]])
    np.testing.assert_allclose(np.degrees(p["orientations"]), [0, 12, 40])
    rows = list(csv.DictReader(open(out / "observables.csv")))
    # two contacts, 12 and 28 degrees apart (cubic symmetry: 40 - 12)
    assert float(rows[0]["contacts"]) == 2
    assert float(rows[0]["misorientation_mean_deg"]) == pytest.approx(20.0, abs=1e-6)
    # the orientations are per field: the three particles of different crystal use 3 fields
    assert len(set(p["field"].tolist())) == 3


@pytest.mark.parametrize(
    "content, match",
    [
        ("x_nm,radius_nm\n1,2\n", "lacks column\\(s\\) y_nm"),
        ("x_nm,y_nm,radius_nm\n1,2,zero\n", "row 2: radius_nm = 'zero' is not a number"),
        ("x_nm,y_nm,radius_nm\n1,200,2\n", "row 2: centre .* outside the box"),
        ("x_nm,y_nm,radius_nm\n", "no particle rows"),
    ],
)
def test_file_layout_refuses_bad_csv(tmp_path, content, match, capsys):
    (tmp_path / "p.csv").write_text(content)
    cfg = tmp_path / "c.toml"
    cfg.write_text(_config('layout = "file"\nfile = "p.csv"', grid="shape = [40, 40]"))
    assert main(["run", str(cfg), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "particles.file" in err and "Traceback" not in err
    import re

    assert re.search(match, err), err


def test_pair_config_gives_exactly_the_earlier_run(tmp_path):
    """tests/data/pair_reference.csv was written by the version before the scenario layer."""
    out = tmp_path / "pair"
    assert main(["run", str(DATA / "pair_reference.toml"), "--out", str(out), "--quiet"]) == 0
    # the step columns (step_s, steps, rejected_steps) came later, appended at the end
    got = (out / "observables.csv").read_text().splitlines()
    want = (DATA / "pair_reference.csv").read_text().splitlines()
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.startswith(w + ","), (g, w)


def test_packing_killed_and_resumed_equals_uninterrupted(tmp_path):
    cfg = tmp_path / "hex.toml"
    cfg.write_text(_config(LAYOUTS["hex_2d"] + '\norientation = "random"', saves=4, end_s=4e-5))
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["run", str(cfg), "--out", str(a), "--quiet"]) == 0
    assert main(["run", str(cfg), "--out", str(b), "--quiet", "--stop-after", "2"]) == 0
    assert read_run(b / "run.h5")["n_frames"] == 3
    assert main(["resume", str(b), "--quiet"]) == 0
    with h5py.File(a / "run.h5", "r") as fa, h5py.File(b / "run.h5", "r") as fb:
        for k in ("fields/rho", "fields/eta", "fields/grain_id", "grains/history"):
            np.testing.assert_array_equal(fa[k][...], fb[k][...], err_msg=k)
    for name in ("observables.csv", "grains.csv"):
        assert (a / name).read_text() == (b / name).read_text()
    assert main(["info", str(b)]) == 0
    assert main(["plot", str(b)]) == 0
    assert (b / "packing.png").stat().st_size > 1000


def test_ids_and_orientations_survive_a_forced_reassignment(tmp_path):
    """Fields assigned at a short safety distance, then the run asked to keep grains of one field
    farther apart: the first save-point moves grains to other fields; every grain keeps its id,
    its orientation and its place."""
    text = _config(
        'layout = "square_superlattice"\nrows = 4\ncols = 4\nradius_nm = 2.0\ngap_nm = 1.0\n'
        "safety_nm = 1.5\nspare_fields = 3",
        extra="[orientation]\nenabled = true\n",
    )
    setup = build(loads_config(text))
    assert setup.state0.eta.shape[0] == 2 + 3  # a chequerboard, plus the spare fields
    setup.safety = 12.0  # cells: now second neighbours on one field are too close
    res = simulate(setup, tmp_path / "o", log=lambda m: None)
    assert res.status == "complete"
    assert res.rows[1]["fields_moved"] > 0
    hist = list(csv.DictReader(open(tmp_path / "o" / "grains.csv")))
    by = {}
    for r in hist:
        by.setdefault(int(float(r["frame"])), {})[int(float(r["grain_id"]))] = r
    assert set(by[0]) == set(by[1]) == set(range(16))
    moved = [i for i in range(16) if by[0][i]["field"] != by[1][i]["field"]]
    assert moved
    for i in range(16):
        assert float(by[1][i]["angle_deg"]) == float(by[0][i]["angle_deg"])
        for ax in ("x_nm", "y_nm"):
            assert float(by[1][i][ax]) == pytest.approx(float(by[0][i][ax]), abs=0.3)
    # resume continues with the same ids
    setup2, start = load_for_resume(tmp_path / "o", end_s=3e-5)
    assert isinstance(start[4], GrainTracker)
    assert sorted(start[4].alive()) == list(range(16))


def test_tracker_split_merge_and_new_grains():
    eta = np.zeros((2, 20, 20))
    eta[0, 2:6, 2:6] = 1  # grain A
    eta[1, 10:14, 10:14] = 1  # grain B
    tr = GrainTracker.start(eta, np.array([[3.0, 3.0], [11.0, 11.0]]))
    assert tr.alive() == [0, 1]
    # A moves to field 1 (re-assignment), B splits in two, a new grain appears
    e2 = np.zeros_like(eta)
    e2[1, 2:6, 2:6] = 1
    e2[1, 10:14, 10:11] = 1
    e2[0, 10:14, 12:14] = 1
    e2[0, 16:18, 16:18] = 1
    m = tr.update(e2, 1.0)
    # the larger part of B keeps its id, the smaller is a new grain with B as parent
    assert m[3, 3] == 0 and m[11, 13] == 1 and m[11, 10] == 2 and m[17, 17] == 3
    assert tr.table[2].parent == 1 and tr.table[3].parent == -1
    # B's parts and the new grain vanish into A's place: ended, merged into A
    e3 = np.zeros_like(eta)
    e3[1, 2:6, 2:6] = 1
    tr.update(e3, 2.0)
    assert tr.alive() == [0]
    assert tr.table[1].ended_s == 2.0
    rt = GrainTracker.from_json(tr.to_json(), tr.id_map)
    assert rt.alive() == [0] and rt.next_id == tr.next_id


SWEEP = """
[material]
preset = "PbSe"
temperature_K = 423.15
[grid]
shape = [40, 24]
spacing_nm = 0.5
dtype = "float64"
[particles]
radius_nm = 3.0
gap_nm = -0.3
[noise]
enabled = true
scale = 0.5
[time]
end_s = 0.004
n_saves = 3
[sweep]
parameters = { "material.temperature_K" = [413.15, 433.15], "noise.seed" = [0, 1] }
neck_nm = [3.0, 3.5]
"""


def test_sweep_on_four_devices_equals_members_run_one_by_one(tmp_path):
    cfg = tmp_path / "sweep.toml"
    cfg.write_text(SWEEP)
    out = tmp_path / "sweep"
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4")
    code = (
        "import jax, sys; from sintersim.cli import main; assert len(jax.devices()) == 4; "
        f"sys.exit(main(['sweep', {str(cfg)!r}, '--out', {str(out)!r}, '--quiet']))"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600
    )
    assert r.returncode == 0, r.stderr
    summary = list(csv.DictReader(open(out / "summary.csv")))
    assert len(summary) == 4
    assert [float(s["material.temperature_K"]) for s in summary] == [413.15, 413.15, 433.15] + [
        433.15
    ]
    assert [int(float(s["noise.seed"])) for s in summary] == [0, 1, 0, 1]
    assert all(s["status"] == "complete" for s in summary)
    assert "time_to_neck_width_3.5nm_s" in summary[0]
    assert (out / "sweep.png").stat().st_size > 1000
    members = sweep_members(loads_config(SWEEP))
    for m in members:
        solo = simulate(build(m.config), tmp_path / f"solo{m.index}", log=lambda s: None)
        swept = list(csv.DictReader(open(out / m.name / "observables.csv")))
        for a, b in zip(solo.rows, swept, strict=True):
            for k, v in a.items():
                assert float(b[k]) == pytest.approx(v, rel=1e-8, abs=1e-12), (m.index, k)
        fa = read_run(tmp_path / f"solo{m.index}" / "run.h5")["checkpoint"][1]
        fb = read_run(out / m.name / "run.h5")["checkpoint"][1]
        np.testing.assert_allclose(fa, fb, rtol=0, atol=1e-9)
        final = float(summary[m.index]["final_neck_width_nm"])
        assert final == pytest.approx(solo.rows[-1]["neck_width_nm"], rel=1e-8)
    # the noise seeds differ: the members are not copies of each other
    assert summary[0]["final_neck_width_nm"] != summary[1]["final_neck_width_nm"]


def test_sweep_refusals():
    from sintersim.scenario._sweep import param_lists

    assert param_lists(["noise.seed=0,1", " material.temperature_K=400.5,-3"]) == {
        "noise.seed": [0, 1],
        "material.temperature_K": [400.5, -3],
    }
    with pytest.raises(ConfigError, match="--param 'noise.seed'"):
        param_lists(["noise.seed"])
    base = SWEEP.split("[sweep]")[0]
    with pytest.raises(ConfigError, match="unknown config field 'material.temprature_K'"):
        loads_config(base + '[sweep]\nparameters = { "material.temprature_K" = [400] }')
    with pytest.raises(ConfigError, match="zip.*one length"):
        loads_config(
            base
            + '[sweep]\nmode = "zip"\nparameters = { "noise.seed" = [0, 1], '
            + '"material.temperature_K" = [400] }'
        )
    with pytest.raises(ConfigError, match=r"noise.seed\[1\] = -1"):
        loads_config(base + '[sweep]\nparameters = { "noise.seed" = [0, -1] }')
    c = loads_config(
        base + "[sweep]\nparameters.particles.radius_nm = { from = 2.0, to = 30.0, num = 3 }"
    )
    assert c.sweep.parameters["particles.radius_nm"] == [2.0, 16.0, 30.0]
    with pytest.raises(ConfigError, match="sweep member 1 .*particles.radius_nm"):
        sweep_members(c)  # 16 nm does not fit the box


def test_sweep_groups_members_of_different_grids(tmp_path):
    text = SWEEP.split("[noise]")[0] + (
        '[time]\nend_s = 0.002\nn_saves = 2\n[sweep]\nmode = "zip"\n'
        'parameters = { "grid.shape" = [[40, 24], [44, 24]], "particles.gap_nm" = [-0.3, -0.2] }'
    )
    from sintersim.scenario import run_sweep

    res = run_sweep(loads_config(text), tmp_path / "s", log=lambda m: None)
    assert res.groups == [[0], [1]]
    assert all(s == "complete" for s in res.status)


def test_run_that_cannot_fit_is_refused_with_the_estimate(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SINTERSIM_MEMORY_LIMIT", "1GB")
    cfg = tmp_path / "big.toml"
    cfg.write_text(
        _config(
            'layout = "random_packing"\ncount = 20\nradius_nm = 4.0\nseed = 2',
            grid="shape = [256, 256, 256]",
        )
    )
    assert main(["run", str(cfg), "--out", str(tmp_path / "o"), "--quiet"]) == 4  # resources
    err = capsys.readouterr().err
    assert "grid.shape = [256, 256, 256]" in err and "largest grid" in err, err
    assert not (tmp_path / "o" / "run.h5").exists()
    assert len(err.strip().splitlines()) == 1  # one line
    # a sweep whose members fit one by one but not together on one device is refused too
    monkeypatch.setenv("SINTERSIM_MEMORY_LIMIT", "400MB")
    sw = tmp_path / "sw.toml"
    sw.write_text(
        MATERIAL
        + "[grid]\nshape = [256, 256]\n[time]\nend_s = 1e-4\n[sweep]\n"
        + "parameters.material.temperature_K = { from = 400.0, to = 430.0, num = 64 }\n"
    )
    build(sweep_members(loads_config(sw.read_text()))[0].config)  # one member fits
    assert main(["sweep", str(sw), "--out", str(tmp_path / "s"), "--quiet"]) == 4
    err = capsys.readouterr().err
    assert "sweep members 0..63" in err and "largest grid" in err, err


def test_fit_refuses_packings_and_sweeps_by_name():
    from sintersim.fit._problem import refuse_unsupported
    from sintersim.fit._traces import FitError

    with pytest.raises(FitError, match="particles.layout = 'hex_monolayer'"):
        refuse_unsupported(loads_config(_config(LAYOUTS["hex_2d"])), "trace.csv")
    with pytest.raises(FitError, match="sweep.parameters is set"):
        refuse_unsupported(loads_config(SWEEP), "trace.csv")
