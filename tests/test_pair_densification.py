"""Densification by rigid-body motion: two spheres in 3D (`scripts/neck_exponents.py`, motion on).

The runs relax the touching diffuse spheres first (motion and Allen-Cahn, transport off: the
contact's density deficit closes at once) and then start the clock (`Case.relax`). Fast proxy
here (R = 8); the issue's exponent and shrinkage criteria at R = 12 are slow tests in
`tests/test_neck_growth.py`.
"""

from __future__ import annotations

from test_neck_growth import ne


def _run(mechanism: str, t_end: float, m_t: float | None = None, dt: float | None = None):
    """R = 8 with motion (fast limit unless m_t), the contact relaxed; dt: the mechanism's."""
    dt = ne.default_case(mechanism, 8.0).dt_max if dt is None else dt
    case = ne.Case(mechanism, 8.0, t_end, dt, motion=True, relax=ne.MOTION_RELAX, m_t=m_t)
    return ne.run_case(case)


def test_boundary_diffusion_densifies_and_surface_diffusion_does_not_small_3d():
    """R = 8 (grid 40x24x24), energy force in the fast limit, after the contact relaxed:
    with boundary diffusion the centres approach (Coble: matter leaves the boundary for the
    neck and the grains follow); with surface diffusion alone they hardly do (it moves matter
    along the surface only; measured at t = 40: approach 0.388 a vs 0.038 a, the latter where
    the surface path reaches into the boundary's edge, a sizeable part of a boundary 3 cells
    wide at R = 8), while the neck grows in both."""
    gb, surf = _run("gb", 40.0), _run("surface", 40.0)
    for r in (gb, surf):
        assert r.ok
        assert r.x_over_a[-1] > r.x0_over_a + 0.03
    h_gb = (gb.length0 - gb.axial_length[-1]) / 8.0
    h_surf = (surf.length0 - surf.axial_length[-1]) / 8.0
    print(f"approach / a: boundary {h_gb:.4f}, surface {h_surf:.4f}")
    assert h_gb > 0.1
    assert abs(h_surf) < 0.2 * h_gb


def _approach(r) -> float:
    return (r.length0 - r.axial_length[-1]) / 8.0


def test_finite_translational_mobility_converges_in_the_step_small_3d():
    """A finite m_t (here 1, internal units) moves a grain by ``m_t F dt / (V + dt m_t K)`` in
    a step, which falls with the step, unlike the fast limit's ``F / K``: the run converges as
    dt falls. R = 8, boundary diffusion to t = 40: approach and neck at dt = 1/4 and 1/16
    (measured: approach/a 0.319 vs 0.324, x/a 0.939 vs 0.945)."""
    coarse, fine = _run("gb", 40.0, 1.0, 0.25), _run("gb", 40.0, 1.0, 1.0 / 16.0)
    assert coarse.ok and fine.ok
    h_c, h_f = _approach(coarse), _approach(fine)
    print(f"approach / a: dt 1/4 {h_c:.4f}, dt 1/16 {h_f:.4f}")
    print(f"x / a: dt 1/4 {coarse.x_over_a[-1]:.4f}, dt 1/16 {fine.x_over_a[-1]:.4f}")
    assert h_f > 0.1
    assert abs(h_c - h_f) < 0.1 * h_f
    assert abs(coarse.x_over_a[-1] - fine.x_over_a[-1]) < 0.02


def test_slower_motion_densifies_less_small_3d():
    """The crossover from motion-limited to diffusion-limited densification: with boundary
    diffusion and the same relaxed contact, the approach by t = 40 grows with m_t towards
    the fast limit (measured at R = 8: m_t 0.1 -> 0.086 a, 1 -> 0.319 a, fast limit 0.388 a;
    docs/physics.md)."""
    slow, mid, fast = _run("gb", 40.0, 0.1), _run("gb", 40.0, 1.0), _run("gb", 40.0)
    h = [_approach(r) for r in (slow, mid, fast)]
    print("approach / a at m_t 0.1, 1, fast:", [f"{v:.4f}" for v in h])
    assert all(r.ok for r in (slow, mid, fast))
    assert 0.0 < h[0] < 0.5 * h[1]
    assert h[1] < h[2]
