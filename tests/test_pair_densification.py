"""Densification by rigid-body motion: two spheres in 3D (`scripts/neck_exponents.py`, motion on).

The runs relax the touching diffuse spheres first (motion and Allen-Cahn, transport off: the
contact's density deficit closes at once) and then start the clock (`Case.relax`). Fast proxy
here (R = 8); the issue's exponent and shrinkage criteria at R = 12 are slow tests in
`tests/test_neck_growth.py`.
"""

from __future__ import annotations

from test_neck_growth import ne


def _run(mechanism: str, t_end: float):
    case = ne.default_case(mechanism, 8.0)
    case = ne.Case(mechanism, 8.0, t_end, case.dt_max, motion=True, relax=ne.MOTION_RELAX)
    return ne.run_case(case)


def test_boundary_diffusion_densifies_and_surface_diffusion_does_not_small_3d():
    """R = 8 (grid 40x24x24), energy force in the fast limit, after the contact relaxed:
    with boundary diffusion the centres approach (Coble: matter leaves the boundary for the
    neck and the grains follow); with surface diffusion alone they hardly do (it moves matter
    along the surface only; measured at t = 40: approach 0.365 a vs 0.053 a, the latter where
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
