"""Killed runs: a deterministic kill inside a frame write, `sintersim repair`, and resume that is
bit-identical in float32 as in float64, with thermal noise and with a temperature schedule."""

import contextlib
import io
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

# Runs that step go through a fresh process (test_shell.cli): in one process a float64 run
# switches JAX's x64 mode on for good, and a later float32 run there is not bitwise the same.
from test_shell import CASE as PAIR
from test_shell import cli as sintersim

from sintersim.cli import main
from sintersim.io import read_run

# The pair of tests/test_shell.py through a temperature step at 0.004 s.
CASE = (
    PAIR.format(dtype="{dtype}", end=0.01, n=6)
    + """
[temperature]
schedule = "steps"
times_s = [0.0, 0.004]
values_K = [423.15, 473.15]
"""
)
NOISE = """
[noise]
enabled = true
seed = 7
scale = 0.3
"""


def cli(*args, check=True):
    """The CLI in this process: for commands that do not step (info, repair)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in args])
    r = subprocess.CompletedProcess(args, rc, out.getvalue(), err.getvalue())
    if check:
        assert rc == 0, r.stderr
    return r


def killed_run(cfg, out, frame: int):
    """`sintersim run`, SIGKILLed inside the write of ``frame``."""
    r = sintersim(
        "run",
        cfg,
        "--out",
        out,
        "--quiet",
        check=False,
        timeout=600,
        env={"SINTERSIM_TEST_KILL_IN_FRAME": str(frame)},
    )
    assert r.returncode == -9, (r.returncode, r.stderr)


def plain_open_ok(path) -> bool:
    """Whether a plain HDF5 reader (no SWMR) opens the file, as h5dump or ParaView would."""
    try:
        with h5py.File(path, "r"):
            return True
    except OSError:
        return False


def assert_same_run(a, b):
    """Two run directories hold the same frames, bit for bit, and the same observables."""
    with h5py.File(a / "run.h5", "r") as fa, h5py.File(b / "run.h5", "r") as fb:
        for name in ("fields/rho", "fields/eta", "fields/time_s"):
            assert fa[name].dtype == fb[name].dtype
            assert np.array_equal(fa[name][...], fb[name][...]), name
        cols = fa["observables"].attrs["columns"].split(",")
        for c in cols:
            assert np.array_equal(fa["observables"][c][...], fb["observables"][c][...]), c
    ra, rb = read_run(a / "run.h5"), read_run(b / "run.h5")
    for x, y in zip(ra["checkpoint"][:2], rb["checkpoint"][:2], strict=True):
        assert np.array_equal(x, y)
    assert np.array_equal(ra["controller"], rb["controller"], equal_nan=True)
    assert (a / "observables.csv").read_text() == (b / "observables.csv").read_text()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """Uninterrupted runs of each variant, made once."""
    root = tmp_path_factory.mktemp("ref")
    made = {}

    def get(dtype, noise):
        key = (dtype, noise)
        if key not in made:
            d = root / f"{dtype}_{noise}"
            d.mkdir()
            cfg = d / "case.toml"
            cfg.write_text(CASE.format(dtype=dtype) + (NOISE if noise else ""))
            sintersim("run", cfg, "--out", d / "a", "--quiet")
            made[key] = (cfg, d / "a")
        return made[key]

    return get


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_resume_after_clean_stop_is_bit_identical_with_noise_and_schedule(
    tmp_path, reference, dtype
):
    """float32 (the default) as float64, with thermal noise (fixed steps) through a
    temperature step at 0.004 s. (Error-controlled steps through a schedule, float32 and
    float64: tests/test_adaptive.py.)"""
    cfg, a = reference(dtype, True)
    b = tmp_path / "b"
    sintersim("run", cfg, "--out", b, "--quiet", "--stop-after", "2")
    assert read_run(b / "run.h5")["n_frames"] == 3
    sintersim("resume", b, "--quiet")
    assert read_run(b / "run.h5")["attrs"]["status"] == "complete"
    assert_same_run(a, b)


@pytest.mark.parametrize("noise", [False, True], ids=["adaptive", "noise"])
def test_kill_inside_a_frame_write_then_repair_and_resume(tmp_path, reference, noise):
    """SIGKILL inside the write of frame 3 (its fields flushed, the checkpoint still naming
    frame 2): plain HDF5 readers refuse the file until `sintersim repair`, which drops the
    half-written frame; resume then reproduces the uninterrupted float32 run bit for bit."""
    cfg, a = reference("float32", noise)
    k = tmp_path / "k"
    killed_run(cfg, k, 3)
    h5 = k / "run.h5"
    assert not plain_open_ok(h5)  # the killed writer's flag is set
    with h5py.File(h5, "r", swmr=True) as f:  # frame 3's rows exist, the checkpoint names 2
        assert f["fields/rho"].shape[0] == 4 and f["checkpoint/info"][0] == 2
    info = cli("info", k)
    assert "killed" in info.stdout and "frame 2 of 6" in info.stdout

    rep = cli("repair", k)
    assert "cleared" in rep.stdout and "3 complete frame(s)" in rep.stdout
    assert "1 partial row(s) dropped" in rep.stdout
    assert plain_open_ok(h5)
    with h5py.File(h5, "r") as f:
        assert f["fields/rho"].shape[0] == 3
        assert f.attrs["status"].startswith("interrupted")
    assert len((k / "observables.csv").read_text().splitlines()) == 1 + 3
    # `info DIR | head`: a reader that has gone away stops it quietly (it printed a
    # BrokenPipeError traceback). The pipe is closed before the child writes anything.
    proc = subprocess.Popen(
        [sys.executable, "-m", "sintersim", "info", str(k)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=300) == 141 and err == "", err
    again = cli("repair", k)  # idempotent: an intact file is left as it is
    assert "cleared" not in again.stdout and "0 partial row(s)" in again.stdout

    sintersim("resume", k, "--quiet")
    assert plain_open_ok(h5)
    assert read_run(h5)["attrs"]["status"] == "complete"
    assert_same_run(a, k)


def test_repair_refuses_what_is_not_a_run(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "run.h5").write_bytes(os.urandom(4096))
    r = cli("repair", tmp_path / "d", check=False)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "cannot be read" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = cli("repair", tmp_path / "nowhere", check=False)
    assert r.returncode == 2 and "no such run directory" in r.stderr
