"""Batches across processes: two local processes joined by jax.distributed (2 CPU devices each)
give the same result as the batch run in one process."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

WORKER = textwrap.dedent(
    """
    import os, sys
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
    import jax
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    if len(sys.argv) > 2:
        jax.distributed.initialize(
            coordinator_address=sys.argv[2], num_processes=2, process_id=int(sys.argv[1])
        )
    jax.config.update("jax_enable_x64", True)
    import numpy as np
    import sintersim as ss

    energy = ss.calibrate.grid_energy(1 / 3, 3.0)
    grid = ss.Grid((32, 24))
    state = ss.two_particles(grid, 6.0, 6.0, -1.0, width=1.5)
    models = [ss.SinterModel(energy, ss.Mobility(0.0, 0.0, m, 0.0), L=1.0) for m in (0.5, 1, 1.5)]
    saveat = ss.SaveAt(ts=np.array([5.0, 10.0]))
    sol = ss.run_batch(models, grid, state, t0=0.0, dt=0.5, saveat=saveat, gather=True)
    print("DEVICES", len(jax.devices()), "PROCESSES", jax.process_count())
    np.save(sys.argv[-1], np.asarray(sol.final.rho))
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def test_batch_across_two_processes_matches_one_process(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    addr = f"localhost:{_free_port()}"
    outs = [tmp_path / f"rank{i}.npy" for i in range(2)]
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(i), addr, str(outs[i])],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
    logs = [p.communicate(timeout=600)[0] for p in procs]
    if any(
        "gloo" in log.lower() and "not" in log.lower() and p.returncode
        for p, log in zip(procs, logs, strict=True)
    ):
        pytest.skip("this jaxlib has no gloo CPU collectives")
    for p, log in zip(procs, logs, strict=True):
        assert p.returncode == 0, log[-3000:]
        assert "DEVICES 4 PROCESSES 2" in log
    single = tmp_path / "single.npy"
    r = subprocess.run(
        [sys.executable, str(script), str(single)], capture_output=True, text=True, timeout=600
    )
    assert r.returncode == 0, r.stderr[-3000:]
    ref = np.load(single)
    for o in outs:
        got = np.load(o)
        assert got.shape == ref.shape == (3, 32, 24)
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)
