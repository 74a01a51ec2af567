"""Many-particle initial configurations and field assignment (issue 9, static part)."""

import numpy as np
import pytest

from sintersim.packing._layouts import (
    PackingError,
    chain,
    colour_graph,
    hex_monolayer,
    random_packing,
    square_superlattice,
)


def test_lattices_are_periodic_and_reproducible():
    a = hex_monolayer(10, 20, 5.0, 2.0, size_spread=0.5, orientation="random", seed=7)
    b = hex_monolayer(10, 20, 5.0, 2.0, size_spread=0.5, orientation="random", seed=7)
    c = hex_monolayer(10, 20, 5.0, 2.0, size_spread=0.5, orientation="random", seed=8)
    assert a.n == 200
    np.testing.assert_array_equal(a.radii, b.radii)
    np.testing.assert_array_equal(a.orientations, b.orientations)
    assert not np.array_equal(a.radii, c.radii)
    # Mean-size spheres on the hexagonal lattice: six nearest neighbours at the stated gap.
    h = hex_monolayer(8, 8, 5.0, 2.0)
    d = h.surface_distances()
    assert np.allclose(np.sort(d, axis=1)[:, :6], 2.0, atol=0.5)
    assert np.all(h.coordination(2.6) == 6)
    s = square_superlattice(6, 6, 4.0, 2.0)
    assert np.all(s.coordination(2.1) == 4) and s.box == (60.0, 60.0)
    ch = chain(5, 4.0, -1.0, ndim=3)
    assert np.all(ch.coordination() == 2) and len(ch.box) == 3


def test_colouring_separates_neighbours_and_bounds_fields():
    p = hex_monolayer(10, 20, 5.0, 2.0, size_spread=0.5, seed=1)
    for safety in (3.0, 10.0, 16.0):
        f = p.assign_fields(safety)
        assert all(f[i] != f[j] for i, j in p.neighbours(safety))
    assert p.assign_fields(10.0).max() + 1 <= 12
    with pytest.raises(PackingError, match="max_fields = 2"):
        p.assign_fields(3.0, max_fields=2)
    # Bipartite graph (an even ring): two colours.
    ring = [(i, (i + 1) % 10) for i in range(10)]
    assert colour_graph(10, ring).max() == 1


def test_state_of_a_200_particle_monolayer_uses_few_fields():
    p = hex_monolayer(10, 20, 5.0, 2.0, size_spread=0.5, orientation=5.0, seed=2)
    grid = p.grid()
    state, fields = p.to_state(grid, width=1.0, max_fields=12)
    assert state.eta.shape[0] == fields.max() + 1 <= 12
    area = np.pi * np.sum(p.radii**2)
    assert float(state.rho.sum()) == pytest.approx(area, rel=0.02)
    # Every particle's centre carries eta = 1 on its own field.
    for k in range(0, p.n, 17):
        i, j = (int(v) for v in np.floor(p.centres[k]))
        assert float(state.eta[fields[k], i, j]) > 0.99


def test_random_packing_3d_with_size_distribution():
    p = random_packing(24, (64.0, 64.0, 64.0), 8.1, size_spread=1.2, min_gap=0.5, seed=4)
    assert p.n == 24 and p.orientations.shape == (24, 4)
    np.testing.assert_allclose(np.linalg.norm(p.orientations, axis=1), 1.0)
    assert p.surface_distances().min() >= 0.5
    assert 6.0 < p.radii.mean() < 10.0 and p.radii.std() > 0.5
    with pytest.raises(PackingError, match="enlarge the box"):
        random_packing(200, (32.0, 32.0, 32.0), 6.0, max_tries=2000)
    with pytest.raises(PackingError, match="orientation"):
        random_packing(2, (32.0, 32.0), 3.0, orientation="sideways")


def test_packing_observables_of_a_square_superlattice():
    """4 x 4 periodic square array of overlapping discs: after the boundaries relax, 16 grains,
    4 contacts each, necks close to the chord of the overlap, density conserved."""
    import sintersim as ss
    from sintersim.calibrate._profiles import grain_boundary_profile
    from sintersim.observables._packing import packing_observables

    energy = ss.WangEnergy(A=5.0, B=1.0, kappa_rho=3.0, kappa_eta=3.0)
    i_gb = grain_boundary_profile(energy).gb_integral
    p = square_superlattice(4, 4, 8.0, -2.0)
    grid = p.grid()
    state, fields = p.to_state(grid, width=1.0, safety=2.0)
    assert state.eta.shape[0] == 2  # a chequerboard
    model = ss.SinterModel(energy, ss.Mobility(0.0, 0.0, 1.0, 0.1), 1.0)
    state = ss.solver.advance(model, grid, state, 200, 0.05)
    o = packing_observables(state, grid, i_gb)
    assert o.grain_count == 16 and len(o.contacts) == 32
    assert np.all(o.coordination == 4)
    # All 32 necks alike (symmetry), wider than the sharp overlap's chord (the diffuse neck has
    # filled in by surface diffusion).
    chord = 2 * np.sqrt(8.0**2 - 7.0**2)
    np.testing.assert_allclose(o.necks, o.necks.mean(), rtol=1e-4)
    assert chord < o.necks.mean() < 1.5 * chord
    assert o.mean_contact_distance() == pytest.approx(14.0, abs=0.05)
    assert o.box_fraction == pytest.approx(float(state.rho.sum()) / grid.size)
    assert np.isnan(o.relative_density)  # a box-filling lattice has no envelope
    counts, _ = o.neck_histogram(bins=4)
    assert counts.sum() == 32


def test_contact_neck_is_the_two_particle_neck():
    """For a single pair, the packing neck reads the same as `neck_size` (same definition)."""
    import sintersim as ss
    from sintersim.calibrate._profiles import grain_boundary_profile
    from sintersim.observables._fields import neck_size
    from sintersim.observables._packing import packing_observables

    energy = ss.WangEnergy(A=5.0, B=1.0, kappa_rho=3.0, kappa_eta=3.0)
    grid = ss.Grid((48, 32))
    state = ss.two_particles(grid, 8.0, gap=-2.0, width=1.0)
    model = ss.SinterModel(energy, ss.Mobility(0.0, 0.0, 1.0, 0.1), 1.0)
    state = ss.solver.advance(model, grid, state, 200, 0.05)
    c = ss.initial.two_particle_centres(grid, 8.0, gap=-2.0)
    o = packing_observables(state, grid, grain_boundary_profile(energy).gb_integral)
    assert len(o.necks) == 1
    assert o.necks[0] == pytest.approx(float(neck_size(state, grid, c[0][0], c[1][0])), rel=0.01)


def test_misorientation_is_reduced_by_cubic_symmetry():
    from sintersim.orientation import axis_angle, cubic_symmetry, misorientation

    assert cubic_symmetry().shape == (24, 4)
    # 88 degrees between cubic crystals counts as 2 degrees, in 2D and in 3D.
    assert misorientation(0.0, np.radians(88.0)) == pytest.approx(2.0)
    q0, q88 = axis_angle([0, 0, 1], 0.0), axis_angle([0, 0, 1], 88.0)
    assert misorientation(q0, q88) == pytest.approx(2.0)
    assert misorientation(axis_angle([1, 1, 1], 10), axis_angle([1, 1, 1], 130)) < 1e-6
    from sintersim.packing._layouts import random_quaternions

    q = random_quaternions(4000, np.random.default_rng(0))
    m = misorientation(q[:2000], q[2000:])
    assert m.max() <= 62.81 and m.min() >= 0.0


def test_contacts_carry_particle_misorientations():
    import sintersim as ss
    from sintersim.calibrate._profiles import grain_boundary_profile
    from sintersim.observables._packing import packing_observables

    energy = ss.WangEnergy(A=5.0, B=1.0, kappa_rho=3.0, kappa_eta=3.0)
    p = square_superlattice(2, 4, 8.0, -2.0, orientation=10.0, seed=3)
    grid = p.grid()
    state, _ = p.to_state(grid, width=1.0, safety=2.0)
    model = ss.SinterModel(energy, ss.Mobility(0.0, 0.0, 1.0, 0.1), 1.0)
    state = ss.solver.advance(model, grid, state, 100, 0.05)
    o = packing_observables(
        state,
        grid,
        grain_boundary_profile(energy).gb_integral,
        positions=p.centres,
        orientations=p.orientations,
    )
    assert [len(g) for g in o.grain_particles] == [1] * 8
    for (a, b), m in zip(o.contacts, o.misorientations, strict=True):
        i, j = o.grain_particles[a][0], o.grain_particles[b][0]
        d = abs(np.degrees(p.orientations[i] - p.orientations[j])) % 90
        assert m == pytest.approx(min(d, 90 - d))
