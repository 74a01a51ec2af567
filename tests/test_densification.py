"""Densification of a free cluster: the envelope density on known shapes, the random cluster
layout, and a small 2D cluster that densifies with [motion] (more than without), conserves mass
and survives a field re-assignment."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from sintersim.grid import Grid
from sintersim.observables import envelope_density, envelope_volume
from sintersim.packing import random_cluster
from sintersim.scenario import build, loads_config, simulate


def _discs(grid: Grid, centres, radius: float, w: float = 1.0) -> np.ndarray:
    """max of tanh discs (periodic), cells."""
    x = [np.asarray(c) / grid.spacing - 0.5 for c in grid.coordinates()]
    out = np.zeros(grid.shape)
    for c in centres:
        d = [(xa - ca + n / 2) % n - n / 2 for xa, ca, n in zip(x, c, grid.shape, strict=True)]
        r = np.sqrt(sum(a**2 for a in d))
        out = np.maximum(out, 0.5 * (1 - np.tanh((r - radius) / w)))
    return out


def test_envelope_density_of_discs_and_spheres():
    """A disc reads 1 up to the diffuse surface's excess pi^2 w^2 / (12 R^2) wherever it sits
    (also across the periodic boundary); two overlapping discs read the analytic
    (2 pi R^2 - lens) / (pi R^2 + 2 R d) of their hull; a sphere reads 1 + pi^2 w^2 / (4 R^2);
    a solid spanning the box has no envelope."""
    grid = Grid((96, 80), 0.5)
    R, w = 20.0, 1.0
    excess = np.pi**2 * w**2 / (12 * R**2)
    for c in ((48.0, 40.0), (2.0, 3.0), (95.5, 79.5)):  # centred, straddling, at a corner
        rho = _discs(grid, [c], R, w)
        assert envelope_density(rho, grid) == pytest.approx(1 + excess, abs=1e-3)
        assert envelope_volume(rho, grid) == pytest.approx(np.pi * (R * 0.5) ** 2, rel=2e-3)
    R, d = 15.0, 26.0
    rho = _discs(grid, [(48 - d / 2, 40.0), (48 + d / 2, 40.0)], R, w)
    lens = 2 * R**2 * np.arccos(d / (2 * R)) - d / 2 * np.sqrt(4 * R**2 - d**2)
    exact = (2 * np.pi * R**2 - lens) / (np.pi * R**2 + 2 * R * d)
    assert envelope_density(rho, grid) == pytest.approx(exact, rel=2e-3)
    # the same pair split by the periodic boundary
    shifted = np.roll(rho, 40, axis=0)
    assert envelope_density(shifted, grid) == pytest.approx(envelope_density(rho, grid), 1e-12)
    stripe = np.zeros(grid.shape)
    stripe[40:50, :] = 1.0
    assert np.isnan(envelope_density(stripe, grid))
    assert np.isnan(envelope_density(np.zeros(grid.shape), grid))
    g3 = Grid((40, 40, 40), 1.0)
    R = 12.0
    sphere = _discs(g3, [(20.0, 20.0, 20.0)], R, w)
    assert envelope_density(sphere, g3) == pytest.approx(1 + np.pi**2 / (4 * R**2), abs=6e-3)


def test_random_cluster_is_free_connected_and_reproducible():
    for ndim, n in ((2, 40), (3, 12)):
        p = random_cluster(n, 5.0, ndim=ndim, gap=-1.0, margin=4.0, size_spread=0.5, seed=3)
        assert p.n == n and p.ndim == ndim
        q = random_cluster(n, 5.0, ndim=ndim, gap=-1.0, margin=4.0, size_spread=0.5, seed=3)
        np.testing.assert_array_equal(p.centres, q.centres)
        assert p.surface_distances().min() >= -1.0 - 1e-9  # no overlap beyond |gap|
        # vapour of at least `margin` on every side, inside the (whole-cell) box
        lo = np.min(p.centres - p.radii[:, None], axis=0)
        hi = np.max(p.centres + p.radii[:, None], axis=0)
        assert np.all(lo >= 4.0 - 1e-9) and np.all(np.asarray(p.box) - hi >= 4.0 - 1e-9)
        assert all(float(b).is_integer() for b in p.box)
        # connected: every particle reaches particle 0 through contacts
        reach, edges = {0}, p.contacts(1e-6)
        for _ in range(n):
            reach |= {j for i, j in edges if i in reach} | {i for i, j in edges if j in reach}
        assert reach == set(range(n))


CLUSTER = """
[material]
preset = "PbSe"
temperature_K = 423.15
[model]
interface_width_nm = 1.0
[grid]
spacing_nm = 0.5
dtype = "float64"
[particles]
layout = "random_cluster"
count = 6
radius_nm = 2.0
gap_nm = -0.4
margin_nm = 2.0
seed = 2
safety_nm = 2.0
spare_fields = 3
[motion]
enabled = {motion}
[output]
fields = false
[time]
end_s = 0.004
n_saves = 2
"""


def test_motion_densifies_a_free_cluster_through_a_reassignment(tmp_path):
    """Six touching discs: with [motion] the envelope density rises several times more than by
    diffusion alone; int rho is conserved to round-off (float64); the fields are assigned at a
    short safety distance and the run then asks for the default one, so the first save-point
    moves grains to other fields: the run goes on with every grain and its id."""
    rows = {}
    for motion in ("true", "false"):
        setup = build(loads_config(CLUSTER.format(motion=motion)))
        setup.safety = 12.0  # cells: grains of one field are now too close, and get moved
        res = simulate(setup, tmp_path / motion, log=lambda m: None)
        assert res.status == "complete"
        assert np.all(np.isfinite(np.asarray(res.state.rho)))
        rows[motion] = list(csv.DictReader(open(tmp_path / motion / "observables.csv")))
    on, off = rows["true"], rows["false"]
    rel = {k: [float(r["relative_density"]) for r in v] for k, v in rows.items()}
    assert rel["true"][0] == rel["false"][0]
    gain_on, gain_off = rel["true"][-1] - rel["true"][0], rel["false"][-1] - rel["false"][0]
    print(f"relative density {rel['true'][0]:.4f} -> motion {rel['true'][-1]:.4f}, "
          f"diffusion {rel['false'][-1]:.4f}")  # fmt: skip
    assert gain_on > 0.02 and gain_on > 3 * max(gain_off, 0.0)
    for r in (on, off):
        m = [float(x["mass_nm2"]) for x in r]
        assert max(abs(v / m[0] - 1) for v in m) < 1e-10
    assert float(on[1]["fields_moved"]) > 0
    assert all(float(r["grain_count"]) >= 1 for r in on)
    hist = list(csv.DictReader(open(tmp_path / "true" / "grains.csv")))
    assert {int(float(r["grain_id"])) for r in hist if r["frame"] == "1"} <= set(range(6))


def test_random_cluster_layout_in_a_config():
    """Its own box by default (the cluster plus margin_nm per side); centred in a larger
    grid.shape; a smaller one is refused naming the size it needs."""
    from sintersim.scenario import ConfigError

    text = CLUSTER.format(motion="false")
    own = build(loads_config(text))
    shape = list(own.grid.shape)
    lo = np.min(own.packing.centres - own.packing.radii[:, None], axis=0)
    assert np.all(lo >= 4.0 - 1e-9)  # margin_nm = 2 nm = 4 cells
    big = build(loads_config(text.replace("[grid]", f"[grid]\nshape = {[n + 10 for n in shape]}")))
    np.testing.assert_allclose(big.packing.centres, own.packing.centres + 5.0)
    # the same particles (the tanh tails reach a little further in the larger box)
    assert float(np.sum(big.state0.rho)) == pytest.approx(float(np.sum(own.state0.rho)), 1e-4)
    with pytest.raises(ConfigError, match="random cluster needs"):
        build(loads_config(text.replace("[grid]", f"[grid]\nshape = {[n - 2 for n in shape]}")))
