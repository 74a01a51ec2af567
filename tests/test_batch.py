"""Batches over parameters and initial states, sharded over (forced host) devices (issue 9)."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np

CHILD = textwrap.dedent(
    """
    import json, jax, numpy as np
    jax.config.update("jax_enable_x64", True)
    import sintersim as ss
    from sintersim.solver._batch import run_batch
    from sintersim.observables._fields import neck_size

    grid = ss.Grid((40, 24))
    energy = ss.WangEnergy(A=5.0, B=1.0, kappa_rho=3.0, kappa_eta=3.0)
    models = [ss.SinterModel(energy, ss.Mobility(0.0, 0.0, m, 0.1), 1.0)
              for m in (0.5, 1.0, 1.5, 2.0, 2.5)]
    states = [ss.two_particles(grid, r, gap=-1.0, width=1.5) for r in (7.0, 7.5, 8.0, 8.5, 9.0)]
    x0, x1 = 12.0, 28.0
    save = ss.SaveAt(ts=(5.0, 10.0, 20.0), fn=lambda t, s: neck_size(s, grid, x0, x1))
    sharded = run_batch(models, grid, states, t0=0.0, dt=0.1, saveat=save)
    plain = run_batch(models, grid, states, t0=0.0, dt=0.1, saveat=save,
                      devices=jax.devices()[:1])
    one_by_one = [ss.integrate(m, grid, s, t0=0.0, dt=0.1, saveat=save, differentiable=False).ys
                  for m, s in zip(models, states)]
    shards = sorted({d.id for d in sharded.ys.sharding.device_set})
    print("RESULT " + json.dumps({
        "n_devices": len(jax.devices()),
        "shards": shards,
        "sharded": np.asarray(sharded.ys).tolist(),
        "plain": np.asarray(plain.ys).tolist(),
        "one_by_one": np.asarray(one_by_one).tolist(),
    }))
    """
)


def test_sharded_batch_matches_unsharded_and_one_by_one(tmp_path):
    env = dict(
        os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu"
    )
    p = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, env=env, timeout=600
    )
    assert p.returncode == 0, p.stderr[-3000:]
    line = next(ln for ln in p.stdout.splitlines() if ln.startswith("RESULT "))
    r = json.loads(line[len("RESULT ") :])
    assert r["n_devices"] == 4 and len(r["shards"]) == 4
    sharded, plain, ref = (np.array(r[k]) for k in ("sharded", "plain", "one_by_one"))
    assert sharded.shape == (5, 3)
    np.testing.assert_allclose(sharded, plain, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(sharded, ref, rtol=1e-12, atol=1e-12)
    assert np.all(np.diff(sharded, axis=1) > 0)  # necks grow
    assert len(set(np.round(sharded[:, -1], 6))) == 5  # members differ
