"""Free chains of N equal discs with rigid-body motion: the shrinkage per contact,
``(L0 - L) / (N - 1)`` with L the chain's length (the solid's extent along it), should not
depend on N (scripts/chain_shrinkage.py; the full study: ``python scripts/chain_shrinkage.py
--out DIR``).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _script():
    name = "chain_shrinkage"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


def test_chain_box_is_a_free_chain_with_neighbours_on_different_fields(tmp_path):
    """No run: the box leaves vapour beyond both ends (not a ring), neighbours and next
    neighbours are on different order parameters, and the two end grains of N = 4 share one
    (so the motion must tell grains of one field apart)."""
    cs = _script()
    p = dict(cs.DEFAULTS)
    import sintersim as ss

    for n in (2, 4, 8):
        shape, centres = cs.chain_box(n, p)
        r = p["radius_cells"]
        assert centres[0, 0] - r >= p["end_vapour_cells"] - 0.5
        assert shape[0] - (centres[-1, 0] + r) >= p["end_vapour_cells"] - 0.5
        setup = ss.build(ss.load_config(cs.write_run_inputs(tmp_path / f"N{n}", n, p)))
        f = np.asarray(setup.particle_fields)
        assert np.all(f[1:] != f[:-1]) and np.all(f[2:] != f[:-2])
        if n == 4:
            assert f[0] == f[3]
        assert setup.grid.shape == tuple(shape)


def test_solid_extent_interpolates_the_half_density_crossings():
    """The length a dilatometer sees, to a fraction of a cell: a slab of known ends with linear
    ramps, and a disc (extent = its diameter wherever it lies between cells)."""
    cs = _script()
    x = np.arange(60) + 0.5
    for lo, hi in ((10.3, 41.8), (7.0, 50.5)):
        # ramps 4 cells wide, 1/2 at lo and hi: linear across the cells either side
        prof = np.clip(0.5 + np.minimum(x - lo, hi - x) / 4.0, 0.0, 1.0)
        rho = np.repeat(prof[:, None], 5, axis=1)
        assert abs(cs.solid_extent(rho, 0.25) - (hi - lo) * 0.25) < 1e-9
    y = np.arange(40) + 0.5
    for cx in (30.0, 30.37):
        r = np.hypot(x[:, None] - cx, y[None, :] - 20.0)
        rho = np.clip(0.5 + (12.0 - r) / 4.0, 0.0, 1.0)  # rho = 1/2 on the circle of radius 12
        assert abs(cs.solid_extent(rho, 1.0) - 24.0) < 0.05


def test_short_chains_shrink_by_motion_and_alike_per_contact(tmp_path):
    """N = 2 and 4, 0.02 s, boundary diffusion on (the script's default): every contact shrinks
    by more than two cells with motion, and without motion by less than a fifth of a cell; per
    contact N = 2 and N = 4 agree within 10 % (measured 5.5 % and 4.0 % at 0.01 and 0.02 s).

    A per-field motion (N = 4's end grains share a field, their forces would cancel) or motion
    that only the end grains feel (per contact 1/(N - 1) of the pair's: 3x at N = 4) fails
    this; so did the grains relaxed one at a time against their own stiffness, without the
    contacts' coupling, did not (N = 4 0.745 nm against the pair's 0.821 at 0.01 s: 10 %; 44 %
    at N = 8 by 0.1 s)."""
    cs = _script()
    p = dict(cs.DEFAULTS)
    p.update(end_s=0.02, n_saves=2)
    doc = cs.study(tmp_path, p, [2, 4], baseline=True, log=print)
    runs, base = doc["runs"], doc["no_motion"]
    assert all(r["status"] == "complete" for r in runs + base)
    cell = p["spacing_nm"]
    for r, b in zip(runs, base, strict=True):
        s = np.asarray(r["shrinkage_per_contact_nm"])
        s0 = np.asarray(b["shrinkage_per_contact_nm"])
        print(f"N = {r['n']}: with motion {s}, without {s0} nm")
        assert s[0] == 0.0 and np.all(s[1:] > 2 * cell)
        assert np.all(np.abs(s0[1:]) < 0.2 * cell)
        assert max(r["grain_count"]) == min(r["grain_count"]) == r["n"]
    for i in (1, 2):
        vals = [r["shrinkage_per_contact_nm"][i] for r in runs]
        print(f"t = {doc['time_s'][i]:g} s: spread {cs.spread(vals):.1%}")
        assert cs.spread(vals) < 0.10


@pytest.mark.slow
def test_shrinkage_per_contact_is_independent_of_the_chain_length(tmp_path):
    """The requirement: N = 2, 4, 8, shrinkage per contact within 10 % (max/min - 1) at the
    mid (0.05 s) and final (0.1 s) save-points of the script's default study (measured 7.5 %
    and 5.6 % with the force summed over the component alone; 12.1 % and 9.6 % since it is
    summed over the region that moves: the mid-time bound fails, docs/physics.md)."""
    cs = _script()
    p = dict(cs.DEFAULTS)
    doc = cs.study(tmp_path, p, [2, 4, 8], baseline=False, log=print)
    print(cs.table(doc["runs"], doc["time_s"]))
    assert all(r["status"] == "complete" for r in doc["runs"]), [r["status"] for r in doc["runs"]]
    s = doc["summary"]
    assert all(r["shrinkage_per_contact_nm"][-1] > 4 * p["spacing_nm"] for r in doc["runs"])
    assert s["mid_spread"] <= 0.10, s
    assert s["final_spread"] <= 0.10, s
