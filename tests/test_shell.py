"""The product shell: run.h5 / run.xmf outputs, resume, info, plot, safe failure, kill safety."""

import dataclasses
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

import h5py
import numpy as np
import pytest

from sintersim.io import read_run

CASE = """
[grid]
shape = [48, 32]
spacing_nm = 0.25
dtype = "{dtype}"
[particles]
radius_nm = 2.0
[time]
end_s = {end}
n_saves = {n}
"""


def cli(*args, check=True, timeout=300, env=None):
    """The CLI in a fresh process, as a user runs it (``env``: extra environment variables)."""
    r = subprocess.run(
        [sys.executable, "-m", "sintersim", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    if check:
        assert r.returncode == 0, r.stderr
    return r


def write_case(tmp_path, name="case.toml", dtype="float64", end=0.01, n=6, extra=""):
    p = tmp_path / name
    p.write_text(CASE.format(dtype=dtype, end=end, n=n) + extra)
    return p


def test_resume_is_bit_identical_in_float64(tmp_path):
    cfg = write_case(tmp_path)
    cli("run", cfg, "--out", tmp_path / "a", "--quiet")
    cli("run", cfg, "--out", tmp_path / "b", "--quiet", "--stop-after", "2")
    with h5py.File(tmp_path / "b" / "run.h5", "r") as f:
        assert f.attrs["status"] == "stopped"
        assert f["checkpoint/info"][0] == 2
    cli("resume", tmp_path / "b", "--quiet")
    with h5py.File(tmp_path / "a" / "run.h5", "r") as a, h5py.File(tmp_path / "b" / "run.h5") as b:
        assert a["fields/rho"].shape == b["fields/rho"].shape == (7, 48, 32)
        assert np.array_equal(a["fields/rho"][...], b["fields/rho"][...])
        assert np.array_equal(a["fields/eta"][...], b["fields/eta"][...])
        assert b.attrs["status"] == "complete"
    # Continue the finished run to a new end time: frames are appended, time keeps increasing.
    cli("resume", tmp_path / "b", "--end-s", "0.02", "--quiet")
    info = read_run(tmp_path / "b" / "run.h5")
    t = info["observables"]["time_s"]
    assert info["n_frames"] == 13 and np.all(np.diff(t) > 0) and abs(t[-1] - 0.02) < 1e-12


def test_outputs_info_plot_and_xdmf(tmp_path):
    cfg = write_case(tmp_path, dtype="float32", n=4)
    out = tmp_path / "run"
    cli("run", cfg, "--out", out, "--quiet")
    for name in (
        "run.h5",
        "run.xmf",
        "observables.csv",
        "neck.png",
        "fields_0.png",
        "mapping.json",
    ):
        assert (out / name).stat().st_size > 0, name
    r = cli("info", out)
    assert "status:     complete" in r.stdout and "sintersim 0.1.0" in r.stdout
    assert "frame 4 of 4" in r.stdout and "[grid]" in r.stdout
    (out / "neck.png").unlink()
    cli("plot", out)
    assert (out / "neck.png").exists()
    check_xdmf(out)


def check_xdmf(out):
    """Parse run.xmf; every HDF5 path it names exists with the shape it declares, every
    hyperslab selects one frame inside it, and the times match the observables."""
    root = ET.parse(out / "run.xmf").getroot()
    frames = root.findall("./Domain/Grid/Grid")
    with h5py.File(out / "run.h5", "r") as f:
        n_t = f["fields/rho"].shape[0]
        assert len(frames) == n_t
        times = [float(g.find("Time").get("Value")) for g in frames]
        assert np.allclose(times, f["observables/time_s"][:n_t])
        for g in frames:
            topo = [int(x) for x in g.find("Topology").get("Dimensions").split()]
            assert tuple(topo) == f["fields/rho"].shape[1:]
            for att in g.findall("Attribute"):
                slab = att.find("DataItem")
                sel, src = slab.findall("DataItem")
                fname, dpath = src.text.strip().split(":")
                assert fname == "run.h5"
                ds = f[dpath]
                assert tuple(int(x) for x in src.get("Dimensions").split()) == ds.shape
                start, stride, count = np.array(sel.text.split(), int).reshape(3, -1)
                assert np.all(start + count <= np.array(ds.shape))
                assert np.prod(count) == np.prod(topo)


def test_killed_run_leaves_readable_file(tmp_path):
    cfg = write_case(tmp_path, dtype="float32", end=0.5, n=400)
    out = tmp_path / "k"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sintersim", "run", str(cfg), "--out", str(out), "--quiet"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 240
        done = 0
        while time.time() < deadline:
            time.sleep(0.3)
            if (out / "run.h5").exists():
                try:
                    done = read_run(out / "run.h5")["n_frames"]
                except Exception:
                    continue
            if done >= 5:
                break
        assert done >= 5, "the run did not reach 5 save-points"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    info = read_run(out / "run.h5")
    n = info["n_frames"]
    assert n >= done
    assert info["attrs"]["status"] == "running"  # killed: no clean exit recorded
    with h5py.File(out / "run.h5", "r", swmr=True) as f:
        rho = f["fields/rho"][:n]
        assert np.isfinite(rho).all() and rho[:n].max() > 0.9  # every completed frame holds data
    assert np.all(np.diff(info["observables"]["time_s"]) > 0)
    r = cli("info", out)
    assert "killed" in r.stdout
    cli("resume", out, "--end-s", str(info["observables"]["time_s"][-1] + 0.002), "--quiet")
    assert read_run(out / "run.h5")["attrs"]["status"] == "complete"
    with h5py.File(out / "run.h5", "r") as f:  # resume cleared the killed writer's flag
        assert f.attrs["status"] == "complete"


def test_unstable_run_stops_and_keeps_last_good_state(tmp_path):
    import equinox as eqx

    from sintersim.scenario._assemble import build
    from sintersim.scenario._config import load_config
    from sintersim.scenario._run import simulate

    setup = build(load_config(write_case(tmp_path, dtype="float32", n=5)))
    # A negative surface mobility (backward diffusion) blows the run up in the first interval.
    bad = eqx.tree_at(lambda m: m.mobility.M_surf, setup.model, -5.0)
    setup.nd = dataclasses.replace(setup.nd, model=bad)
    logs = []
    res = simulate(setup, tmp_path / "u", retries=2, log=logs.append)
    assert res.status.startswith("failed") and "resume" in res.status and "--dt-s" in res.status
    assert len(logs) == 2 and "retrying" in logs[0]  # two retries, each with a halved step
    info = read_run(tmp_path / "u" / "run.h5")
    assert info["attrs"]["status"].startswith("failed")
    rho, eta = info["checkpoint"][:2]
    assert np.isfinite(rho).all() and np.isfinite(eta).all()
    # The CLI resumes it (from the config's healthy model) with a smaller step.
    r = cli("resume", tmp_path / "u", "--dt-s", "1e-6", "--quiet")
    assert read_run(tmp_path / "u" / "run.h5")["attrs"]["status"] == "complete", r.stderr


@pytest.mark.parametrize(
    "args, words",
    [
        (["run", "missing.toml", "--out", "x"], ["not found"]),
        (["resume", "nowhere"], ["no such run directory"]),
        (["info", "nowhere"], ["no such run directory"]),
    ],
)
def test_cli_errors_are_one_line(tmp_path, args, words):
    r = cli(*args, check=False)
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    for w in words:
        assert w in r.stderr


def test_run_refuses_to_overwrite(tmp_path):
    cfg = write_case(tmp_path, dtype="float32", n=2)
    cli("run", cfg, "--out", tmp_path / "o", "--quiet")
    r = cli("run", cfg, "--out", tmp_path / "o", "--quiet", check=False)
    assert r.returncode == 2 and "already holds a run" in r.stderr


ORIENTED = """
[orientation]
enabled = true
misorientation_deg = 8.0
rotational_mobility_m3_Js = 2e-9
"""


def test_oriented_run_rotates_stitches_and_resumes_bit_identically(tmp_path):
    """[orientation] from the CLI: the pair turns towards alignment, the CSV records the
    misorientation, grain count and boundary length, and resume restores the orientations."""
    cfg = write_case(tmp_path, end=0.5, n=5, extra=ORIENTED)
    cli("run", cfg, "--out", tmp_path / "a", "--quiet")
    cli("run", cfg, "--out", tmp_path / "b", "--quiet", "--stop-after", "2")
    cli("resume", tmp_path / "b", "--quiet")
    a, b = read_run(tmp_path / "a" / "run.h5"), read_run(tmp_path / "b" / "run.h5")
    obs = a["observables"]
    theta = obs["misorientation_deg"]
    print("misorientation:", theta, "grains:", obs["grain_count"])
    assert theta[0] == pytest.approx(8.0)
    live = theta[np.isfinite(theta)]
    assert np.all(np.diff(live) < 0) and len(live) >= 2
    assert obs["boundary_length_nm"][0] > 0.5
    for k in ("misorientation_deg", "grain_count", "boundary_length_nm"):
        np.testing.assert_array_equal(obs[k], b["observables"][k])
    np.testing.assert_array_equal(a["checkpoint"][2], b["checkpoint"][2])


@pytest.mark.parametrize(
    "extra, words",
    [
        ("[orientation]\naxis = [0, 0, 0]\n", "orientation.axis"),
        ("[orientation]\nstitch_deg = 20.0\n", "orientation.stitch_deg"),
        ("[orientation]\nsurface_anisotropy_ratio = 1.5\n", "orientation.surface_anisotropy_ratio"),
    ],
)
def test_orientation_config_errors_name_the_field(tmp_path, extra, words):
    r = cli("run", write_case(tmp_path, extra=extra), "--out", tmp_path / "o", check=False)
    assert r.returncode != 0 and words in r.stderr
