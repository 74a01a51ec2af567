"""The neck a TEM sees: `projected_neck_width`, the silhouette width of a 3D pair in projection.

Small float64 3D grids. The boxes have an odd number of cells along the pair axis so that the
grain-boundary plane of a symmetric pair falls on a cell centre (the cusp of a freshly overlapped
pair is then sampled, not interpolated across).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sintersim as ss
from sintersim.initial import two_particle_centres
from sintersim.observables import neck_size, projected_neck_width
from sintersim.state import State

jax.config.update("jax_enable_x64", True)


def _pair(grid: ss.Grid, radius, d, width=0.5, offset=(0.0, 0.0), stretch_y=1.0):
    """Two spheres (ellipsoids with semi-axis ``radius * stretch_y`` along y) of ``radius`` on
    axis 0, centres ``d`` apart, the second shifted by ``offset`` in (y, z) and the first by minus
    it; rho is the tanh profile of the union (max of the two), eta_i each particle's profile, as
    `ss.particles` builds them. Pure JAX in ``radius`` (for jax.grad)."""
    x, y, z = (jnp.asarray(c) for c in grid.coordinates())
    mid = [length / 2 for length in grid.lengths]
    profiles = []
    for sign in (-1.0, 1.0):
        r = jnp.sqrt(
            (x - mid[0] - sign * d / 2) ** 2
            + ((y - mid[1] - sign * offset[0]) / stretch_y) ** 2
            + (z - mid[2] - sign * offset[1]) ** 2
        )
        profiles.append(0.5 * (1.0 - jnp.tanh((r - radius) / width)))
    eta = jnp.stack(profiles)
    return State(jnp.max(eta, axis=0), eta), mid[0] - d / 2, mid[0] + d / 2


def test_axisymmetric_pair_silhouette_is_twice_the_neck_radius():
    """A body of revolution seen side-on has the silhouette width 2 r(x): at the neck
    2 sqrt(R^2 - (d/2)^2), and twice the 3D neck radius `neck_size` reads."""
    grid = ss.Grid((47, 32, 32))
    radius, gap = 8.0, -4.0
    state = ss.two_particles(grid, radius, gap=gap, width=0.5)
    c = two_particle_centres(grid, radius, gap=gap)
    x_lo, x_hi = c[0][0], c[1][0]
    d = x_hi - x_lo
    exact = 2 * np.sqrt(radius**2 - (d / 2) ** 2)  # 10.583
    w = float(projected_neck_width(state, grid, x_lo, x_hi))  # 11.630
    r3 = float(neck_size(state, grid, x_lo, x_hi))  # 5.310
    # The silhouette is a little wider than the rho = 1/2 surface: the diffuse tail projects to
    # a thickness above t_c just outside it (see the docstring); within about one spacing.
    assert exact < w < exact + 1.1 * grid.spacing
    assert w == pytest.approx(2 * r3, abs=1.1 * grid.spacing)
    # The same from the package's own builder and from _pair.
    state2, lo2, hi2 = _pair(grid, radius, d)
    assert float(projected_neck_width(state2, grid, lo2, hi2)) == pytest.approx(w, abs=1e-9)
    # Without a boundary (one grain field) it is the narrowest silhouette between the centres,
    # here the same plane.
    one = State(state.rho, jnp.max(state.eta, axis=0, keepdims=True))
    assert float(projected_neck_width(one, grid, x_lo, x_hi)) == pytest.approx(w, abs=1e-9)
    # A thicker threshold trims the diffuse tail: narrower, still above the sharp width here.
    w3 = float(projected_neck_width(state, grid, x_lo, x_hi, threshold=3.0))
    assert exact < w3 < w


def test_silhouette_converges_to_the_sharp_width():
    """Spacing, interface width and threshold (two spacings) shrink together at a fixed
    geometry: the excess over 2 sqrt(R^2 - (d/2)^2) shrinks with them (grid length units)."""
    radius, d = 6.0, 8.0
    exact = 2 * np.sqrt(radius**2 - (d / 2) ** 2)  # 8.944
    errors = []
    for h, shape in ((1.0, (39, 24, 24)), (0.5, (77, 48, 48))):
        grid = ss.Grid(shape, spacing=h)
        state, x_lo, x_hi = _pair(grid, radius, d, width=0.5 * h)
        errors.append(float(projected_neck_width(state, grid, x_lo, x_hi)) - exact)
    # 0.990 -> 0.443
    assert 0 < errors[1] < 0.6 * errors[0]
    assert errors[0] < 1.0


def test_beam_axis_does_not_matter_for_an_axisymmetric_pair():
    grid = ss.Grid((47, 32, 30))
    state = ss.two_particles(grid, 7.0, gap=-3.0, width=0.5)
    c = two_particle_centres(grid, 7.0, gap=-3.0)
    w1 = projected_neck_width(state, grid, c[0][0], c[1][0], beam_axis=1)  # 9.705
    w2 = projected_neck_width(state, grid, c[0][0], c[1][0], beam_axis=2)
    assert float(w1) == pytest.approx(float(w2), rel=1e-12)


def test_non_axisymmetric_neck_depends_on_the_beam():
    """An elliptical neck (ellipsoids stretched along y) is wider seen along z (the silhouette
    spans y) than along y; a pair offset along z looks thicker seen along y by the offset."""
    grid = ss.Grid((47, 40, 32))
    radius, d, e = 7.0, 10.0, 1.3
    state, x_lo, x_hi = _pair(grid, radius, d, stretch_y=e)
    a = np.sqrt(radius**2 - (d / 2) ** 2)  # neck semi-axes: e * a along y, a along z
    along_z = float(projected_neck_width(state, grid, x_lo, x_hi, beam_axis=2))  # 13.991
    along_y = float(projected_neck_width(state, grid, x_lo, x_hi, beam_axis=1))  # 10.749
    assert along_z == pytest.approx(2 * e * a, abs=1.2 * e)
    assert along_y == pytest.approx(2 * a, abs=1.2)
    assert along_z / along_y == pytest.approx(e, rel=0.05)  # 1.302
    # The 3D neck radius sees neither: sqrt(area / pi) is the geometric mean of the semi-axes.
    assert 2 * float(neck_size(state, grid, x_lo, x_hi)) == pytest.approx(
        2 * np.sqrt(e) * a, abs=0.5
    )  # 11.220 against 11.171

    # Centres offset by +-delta along z: the neck plane cuts two discs offset by 2 delta in z.
    delta = 1.5
    state, x_lo, x_hi = _pair(grid, radius, d, offset=(0.0, delta))
    along_z = float(projected_neck_width(state, grid, x_lo, x_hi, beam_axis=2))  # 10.987
    along_y = float(projected_neck_width(state, grid, x_lo, x_hi, beam_axis=1))  # 13.841
    # Seen along z the silhouette is one disc's width (2a = 9.798) plus the diffuse-tail excess,
    # a little larger than for the aligned pair (10.749): the chords through the tail are longer.
    assert along_z == pytest.approx(2 * a, abs=1.4)
    assert along_y - along_z == pytest.approx(2 * delta, abs=0.25)  # 2.854


def test_gradient_with_respect_to_the_radius_matches_finite_differences():
    grid = ss.Grid((39, 24, 24))
    d = 8.0

    def width(radius):
        state, x_lo, x_hi = _pair(grid, radius, d)
        return projected_neck_width(state, grid, x_lo, x_hi, beam_axis=2)

    radius, eps = 6.3, 1e-5
    g = float(jax.grad(width)(radius))
    fd = float((width(radius + eps) - width(radius - eps)) / (2 * eps))
    assert np.isfinite(g)
    assert g == pytest.approx(fd, rel=1e-6, abs=1e-8)
    # Over a few cells' change the slope is d(2a)/dR for the neck a = sqrt(R^2 - (d/2)^2); the
    # local slope swings around it as the silhouette edge crosses cells (here g = 1.567 against
    # 2R/a = 2.589), so compare secants over R = 5.5 .. 7.5 (2.588 against 2.570).
    two_a = [2 * np.sqrt(r**2 - (d / 2) ** 2) for r in (5.5, 7.5)]
    secant = float(width(7.5) - width(5.5)) / 2.0
    assert secant == pytest.approx((two_a[1] - two_a[0]) / 2.0, rel=0.03)
    # And under jit, with traced plane bounds.
    jitted = jax.jit(lambda r, lo: projected_neck_width(_pair(grid, r, d)[0], grid, lo, lo + d))
    lo = grid.lengths[0] / 2 - d / 2
    assert float(jitted(radius, lo)) == pytest.approx(float(width(radius)), rel=1e-12)


@pytest.mark.parametrize("beam_axis", [0, 3, -1, True])
def test_bad_beam_axis_is_refused(beam_axis):
    grid = ss.Grid((16, 12, 12))
    state = ss.two_particles(grid, 3.0, gap=-1.0, width=0.5)
    with pytest.raises(ValueError, match=r"beam_axis must be 1 or 2"):
        projected_neck_width(state, grid, 4.0, 12.0, beam_axis=beam_axis)


def test_2d_state_and_bad_threshold_are_refused():
    grid = ss.Grid((32, 24))
    state = ss.two_particles(grid, 6.0, gap=-2.0, width=0.5)
    with pytest.raises(ValueError, match=r"needs a 3D state"):
        projected_neck_width(state, grid, 10.0, 22.0)
    grid3 = ss.Grid((16, 12, 12))
    state3 = ss.two_particles(grid3, 3.0, gap=-1.0, width=0.5)
    with pytest.raises(ValueError, match=r"threshold must be > 0"):
        projected_neck_width(state3, grid3, 4.0, 12.0, threshold=0.0)
