"""Cubic surface-energy anisotropy (`sintersim._anisotropy`): facets along the crystal axes.

An isolated 2D particle relaxing by surface diffusion takes the Wulff shape of the model's own
surface energy gamma(n), with flattened facets on the crystal's {100} planes, and the facets turn
with the grain's orientation. Only the rho gradient energy is anisotropic, so gamma(n) varies by
``eps_eff = eps gamma_rho / gamma_s`` < eps (module docstring); eps_eff is measured here on
relaxed planar slabs of the model at normal angles 0 and 45 degrees, and the particle is compared
with the Wulff shape of ``1 - eps_eff cos 4 phi``.

Setup (2D): 64^2 cells, particle radius 18, surface width 3 cells, gamma_gb / gamma_s = 0.5,
eps = 1/15 (the largest allowed), surface diffusion only, L = 1, float64. dt = 20: F falls in
every step up to dt = 40 and not at dt = 80; the facet/corner radius ratio is 1.1107 at dt = 10,
1.1098 at dt = 20, 1.1088 at dt = 40 (the stabiliser's transient error). t = 15000 is ~25
relaxation times of the 4-fold mode, ``1 / (B_s 4^2 (4^2 - 1) / R^4) = 590``; the ratio changes by
1e-4 between t = 14000 and 16000.

Finite width: with width / R = 1/6 the particle's anisotropy amplitude (ratio - 1) is 4.7%
(dt = 20) to 5.4% (dt = 10) above the sharp-interface Wulff value; on 128^2 it is 5.0% at the same
width / R (R = 36, width 6: not a resolution effect) and 3.4% at width / R = 1/12 (R = 36,
width 3), so most of the excess is the finite interface width.
"""

from __future__ import annotations

import functools
import itertools
import time

import jax

jax.config.update("jax_enable_x64", True)

import equinox as eqx  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import scipy.ndimage  # noqa: E402

import sintersim as ss  # noqa: E402
from sintersim._anisotropy import SurfaceAnisotropy, max_epsilon  # noqa: E402
from sintersim._rotation import quat_to_matrix  # noqa: E402

N, RADIUS, WIDTH, GB_TO_SURFACE = 64, 18.0, 3.0, 0.5
EPS = max_epsilon(2)
DT, T_END = 20.0, 15000.0
GRID = ss.Grid((N, N))
N_PHI = 360
PHI = 2 * np.pi * np.arange(N_PHI) / N_PHI  # 1-degree rays


def _energy(eps: float, gb_to_surface: float = GB_TO_SURFACE, width: float = WIDTH):
    """Wang energy (gamma_gb/gamma_s, surface width in cells) with cubic anisotropy eps."""
    energy = ss.grid_energy(gb_to_surface, width)
    return eqx.tree_at(
        lambda e: e.anisotropy, energy, SurfaceAnisotropy(eps), is_leaf=lambda x: x is None
    )


def _model(energy, mobility=None, L=1.0):
    return ss.SinterModel(energy, mobility or ss.Mobility(0.0, 0.0, 1.0, 0.0), L=L)


@jax.jit
def _relax(model, state):
    """Run to T_END with steps of DT, saving F after every step."""
    ts = DT * np.arange(1, round(T_END / DT) + 1)
    sol = ss.integrate(
        model,
        GRID,
        state,
        t0=0.0,
        dt=DT,
        saveat=ss.SaveAt(ts, lambda t, s: model.energy.total(s, GRID)),
        differentiable=False,
    )
    return sol.final, sol.ys, sol.ok


@functools.cache
def _relaxed_particle(eps: float, theta_deg: float):
    """A disc of one grain (eta = rho) with orientation theta, relaxed; the rho = 0.5 radius on
    1-degree rays from the centre of mass, and the run's history."""
    p = ss.particle_profile(GRID, [N / 2, N / 2], RADIUS, WIDTH / 2)
    state = ss.State(jnp.asarray(p), jnp.asarray(p[None]), jnp.asarray([np.radians(theta_deg)]))
    start = time.perf_counter()
    final, f_hist, ok = _relax(_model(_energy(eps)), state)
    f_hist = np.asarray(f_hist)
    seconds = time.perf_counter() - start
    rho = np.asarray(final.rho)
    x, y = GRID.coordinates()
    centre = np.array([np.sum(rho * x), np.sum(rho * y)]) / np.sum(rho)
    return {
        "rho": rho,
        "r": _ray_radius(rho, centre, PHI),
        "F0": float(_model(_energy(eps)).energy.total(state, GRID)),
        "F": f_hist,
        "ok": bool(np.all(np.asarray(ok))),
        "mass0": float(np.sum(p)),
        "mass": float(np.sum(rho)),
        "seconds": seconds,
    }


def _ray_radius(rho, centre, directions, level=0.5):
    """Distance from ``centre`` to the ``level`` contour of rho along each direction (angles in
    2D, unit vectors (k, d) in any dimension): cubic interpolation on rays, last crossing."""
    directions = np.asarray(directions, dtype=float)
    if directions.ndim == 1:
        directions = np.stack([np.cos(directions), np.sin(directions)], axis=-1)
    radii = np.arange(0.0, 0.5 * min(rho.shape) - 1.0, 0.02)
    out = []
    for d in directions:
        pts = np.asarray(centre)[:, None] + radii[None] * d[:, None] - 0.5  # cell centres at +0.5
        v = scipy.ndimage.map_coordinates(rho, pts, order=3, mode="grid-wrap")
        j = np.nonzero((v[:-1] >= level) & (v[1:] < level))[0][-1]
        out.append(radii[j] + (v[j] - level) / (v[j] - v[j + 1]) * (radii[j + 1] - radii[j]))
    return np.asarray(out)


def _facet_corner(r, theta_deg):
    """Mean radius at the 4 facet centres (theta + 90 k) and the 4 corners (theta + 45 + 90 k)."""
    i = int(round(theta_deg)) % 90
    facets = np.mean([r[(i + 90 * k) % N_PHI] for k in range(4)])
    corners = np.mean([r[(i + 45 + 90 * k) % N_PHI] for k in range(4)])
    return facets, corners


def _phase4(r):
    """Facet direction (degrees, in [-45, 45)) from the 4-fold Fourier mode of r(phi).

    ``r = r0 - A cos 4 (phi - theta)`` (smallest radius on the facets) has the coefficient
    ``mean(r exp(-4 i phi)) = -(A/2) exp(-4 i theta)``.
    """
    c4 = np.mean(r * np.exp(-4j * PHI))
    return float(np.degrees(np.angle(-np.conj(c4)) / 4))


def _curvature(r, cut=12):
    """Curvature of the curve r(phi), from its Fourier series up to harmonic ``cut`` (the ray
    radii carry interpolation noise at high harmonics):
    ``k = (r^2 + 2 r'^2 - r r'') / (r^2 + r'^2)^(3/2)``."""
    m = np.arange(N_PHI // 2 + 1)
    c = np.fft.rfft(r) * (m <= cut)
    r0, r1, r2 = (np.fft.irfft(c * f, N_PHI) for f in (1.0, 1j * m, -(m**2)))
    return (r0**2 + 2 * r1**2 - r0 * r2) / (r0**2 + r1**2) ** 1.5, r0


def _wulff_radius(eps_eff, theta_deg=0.0):
    """Radius r(phi) (on PHI) of the Wulff shape of ``gamma = 1 - eps_eff cos 4 (psi - theta)``
    (stiffness ``gamma + gamma'' > 0`` for eps_eff < 1/15, so the shape is the curve
    ``x = gamma n + gamma' t`` over the normal angle psi), in units of gamma's scale."""
    psi = np.linspace(0.0, 2 * np.pi, 20001)
    g = 1.0 - eps_eff * np.cos(4 * psi)
    dg = 4 * eps_eff * np.sin(4 * psi)
    x = g * np.cos(psi) - dg * np.sin(psi)
    y = g * np.sin(psi) + dg * np.cos(psi)
    ang = np.unwrap(np.arctan2(y, x))
    return np.interp(np.mod(PHI - np.radians(theta_deg), 2 * np.pi), ang - ang[0], np.hypot(x, y))


# --- effective anisotropy of the surface energy -----------------------------------------------


@jax.jit
def _relax_slab(model, state):
    return ss.advance(model, GRID, state, 400, 1.0)


def _planar_gamma(eps, diagonal):
    """Surface energy of a relaxed periodic slab of crystal with normal along x (0 degrees) or
    along (1, 1) (45 degrees): F / total surface length. Unit mobilities (the equilibrium does not
    depend on them); 400 steps of dt = 1 settle gamma to 1e-8."""
    x, y = GRID.coordinates()
    u = np.mod(x + y if diagonal else x + 0.0 * y, N)  # period N along x, or along x + y
    slab = 0.5 * (np.tanh((u - N / 4) / 1.5) - np.tanh((u - 3 * N / 4) / 1.5))
    state = ss.State(jnp.asarray(slab), jnp.asarray(slab[None]), jnp.asarray([0.0]))
    energy = _energy(eps)
    state = _relax_slab(_model(energy, ss.Mobility(1.0, 1.0, 1.0, 0.0)), state)
    length = 2 * N * (np.sqrt(2.0) if diagonal else 1.0)  # two surfaces across the box
    return float(energy.total(state, GRID)) / length


@functools.cache
def _effective_anisotropy():
    """(eps_eff from planar slabs, first-order eps gamma_rho / gamma_s from the 1D profile,
    isotropic gamma at 0 and 45 degrees)."""
    g0, g45 = _planar_gamma(EPS, False), _planar_gamma(EPS, True)
    iso0, iso45 = _planar_gamma(0.0, False), _planar_gamma(0.0, True)
    base = eqx.tree_at(lambda e: e.anisotropy, _energy(0.0), None)
    prof = ss.surface_profile(base)
    drho = np.gradient(prof.rho, prof.x)
    gamma_rho = float(base.kappa_rho) * np.trapezoid(drho**2, prof.x)
    return (g45 - g0) / (g45 + g0), EPS * gamma_rho / prof.gamma, iso0, iso45


def test_effective_anisotropy_of_planar_surfaces():
    """gamma(45 deg) / gamma(0 deg) of relaxed planar slabs gives eps_eff, which equals the
    first-order prediction eps gamma_rho / gamma_s (2%) and is well below eps.

    Measured: eps_eff = 0.0498 (eps gamma_rho / gamma_s = 0.0499, gamma_rho / gamma_s = 0.748);
    isotropic slabs: gamma(45) / gamma(0) - 1 = 1.5e-4 (lattice).
    """
    eps_eff, first_order, iso0, iso45 = _effective_anisotropy()
    print(
        f"eps_eff = {eps_eff:.5f} (eps gamma_rho/gamma_s = {first_order:.5f}, eps = {EPS:.5f}); "
        f"isotropic gamma(45)/gamma(0) - 1 = {iso45 / iso0 - 1:.2e}"
    )
    assert eps_eff == pytest.approx(first_order, rel=0.02)
    assert 0.5 * EPS < eps_eff < 0.9 * EPS
    assert iso45 / iso0 == pytest.approx(1.0, abs=1e-3)


# --- 2D particle -------------------------------------------------------------------------------


def test_particle_takes_the_wulff_shape_with_facets_on_the_crystal_axes():
    """theta = 0: the facets (smallest radius) sit on the crystal axes; the corner/facet radius
    ratio r(45 deg)/r(0) is the Wulff value (1 + eps_eff)/(1 - eps_eff) within 10% of its
    anisotropy (ratio - 1), the whole r(phi) the Wulff shape (scaled to the same mean radius)
    within 1.5% of R, and F falls in every step.

    Measured: ratio 1.1097 against 1.1049 (anisotropy +4.7%), max |r - r_Wulff| / R = 0.45%;
    with eps instead of eps_eff the Wulff ratio would be 1.143.
    """
    eps_eff = _effective_anisotropy()[0]
    run = _relaxed_particle(EPS, 0.0)
    assert run["ok"]
    r = run["r"]
    facets, corners = _facet_corner(r, 0.0)
    ratio, wulff = corners / facets, (1 + eps_eff) / (1 - eps_eff)
    r_w = _wulff_radius(eps_eff)
    r_w *= np.mean(r) / np.mean(r_w)
    profile_err = np.max(np.abs(r - r_w)) / np.mean(r)
    steps_up = int(np.sum(np.diff(np.concatenate([[run["F0"]], run["F"]])) > 0))
    print(
        f"theta=0: r(45)/r(0) = {ratio:.4f}, Wulff {wulff:.4f} (anisotropy x "
        f"{(ratio - 1) / (wulff - 1):.3f}); max|r - r_W|/R = {profile_err:.4f}; "
        f"F {run['F0']:.3f} -> {run['F'][-1]:.3f}, rises in {steps_up} of {run['F'].size} steps; "
        f"run {run['seconds']:.1f} s"
    )
    assert abs(_phase4(r)) < 0.5  # facets on the crystal axes (and at 90, 180, 270 degrees)
    assert (ratio - 1) == pytest.approx(wulff - 1, rel=0.10)
    assert profile_err < 0.015
    assert steps_up == 0


def test_facets_are_flat():
    """The facet centres are much flatter than the corners and than a circle.

    Curvature from the Fourier series of r(phi) up to harmonic 12 (the same truncation of the
    Wulff shape gives facet/corner 0.16, k r at the facet 0.37; untruncated: 0.14 and 0.54).
    Measured: facet/corner 0.12, k r at the facet 0.29 (a circle: 1 and 1; the eps = 0 control
    below: 1.04 and 1.03).
    """
    run = _relaxed_particle(EPS, 0.0)
    kappa, r = _curvature(run["r"])
    k_facet, k_corner = _facet_corner(kappa, 0.0)
    r_facet, _ = _facet_corner(r, 0.0)
    print(
        f"curvature facet/corner = {k_facet / k_corner:.3f}, k r at the facet = "
        f"{k_facet * r_facet:.3f}"
    )
    assert k_facet / k_corner < 0.25
    assert k_facet * r_facet < 0.5


def test_isotropic_particle_stays_round():
    """Control, eps = 0: r(45)/r(0) = 1 within 1e-2, no 4-fold facets (curvature ratio ~ 1).

    Measured: r(45)/r(0) = 0.9993, 4-fold amplitude 0.006 cells (lattice), curvature ratio 1.04.
    """
    run = _relaxed_particle(0.0, 0.0)
    assert run["ok"]
    r = run["r"]
    facets, corners = _facet_corner(r, 0.0)
    kappa, _ = _curvature(r)
    k0, k45 = _facet_corner(kappa, 0.0)
    amp4 = 2 * abs(np.mean(r * np.exp(-4j * PHI)))
    print(
        f"eps=0: r(45)/r(0) = {corners / facets:.4f}, 4-fold amplitude {amp4:.4f}, "
        f"curvature ratio {k0 / k45:.3f}; run {run['seconds']:.1f} s"
    )
    assert corners / facets == pytest.approx(1.0, abs=1e-2)
    assert amp4 < 0.05
    assert k0 / k45 == pytest.approx(1.0, abs=0.2)


def test_facets_turn_with_the_orientation():
    """theta = 20 degrees: the same shape turned by 20 degrees. The phase of the 4-fold Fourier
    mode of r(phi) is theta within 2 degrees, r_20(phi) = r_0(phi - 20 deg) within 0.1 cell, and
    the mass is conserved to 1e-10.

    Measured: phase 20.16 deg; max |r_20(phi) - r_0(phi - 20)| = 0.03 cell; mass 2e-16 relative.
    """
    turned, upright = _relaxed_particle(EPS, 20.0), _relaxed_particle(EPS, 0.0)
    assert turned["ok"]
    phase = _phase4(turned["r"])
    shift = np.max(np.abs(turned["r"] - np.roll(upright["r"], 20)))
    facets, corners = _facet_corner(turned["r"], 20.0)
    mass_err = abs(turned["mass"] / turned["mass0"] - 1)
    print(
        f"theta=20: phase {phase:.3f} deg, r(65)/r(20) = {corners / facets:.4f}, "
        f"max|r_20 - r_0 rotated| = {shift:.4f}, mass error {mass_err:.1e}; "
        f"run {turned['seconds']:.1f} s"
    )
    assert phase == pytest.approx(20.0, abs=2.0)
    assert shift < 0.1
    assert mass_err < 1e-10
    assert np.all(np.diff(np.concatenate([[turned["F0"]], turned["F"]])) <= 0)


# --- chemical potentials ----------------------------------------------------------------------


def test_stepper_chemical_potentials_are_the_gradient_of_F():
    """With anisotropy, the stepper's chemical potentials are ``jax.grad(F) / dV``.

    Two touching grains with different orientations (so the weights w_i and the eta derivatives
    matter), grid spacing 0.7 (so dV != 1). Constant mobility M = 1 and a tiny step: then
    ``(rho' - rho)/dt = laplacian(mu_rho)`` and ``(eta' - eta)/dt = -L mu_eta`` up to O(dt), with
    mu = `WangEnergy.variational_derivatives` (which is jax.grad of `total`, including the
    anisotropic term). Measured: relative differences 6e-7 (rho) and 5e-6 (eta; round-off of the
    1e-10 step), the anisotropic part being 12% of max |mu_rho|.
    """
    grid = ss.Grid((40, 40), spacing=0.7)
    length = grid.lengths[0]
    p1 = ss.particle_profile(grid, [0.33 * length, 0.5 * length], 0.2 * length, 1.2)
    p2 = ss.particle_profile(grid, [0.67 * length, 0.55 * length], 0.18 * length, 1.2)
    rho = np.maximum(p1, p2)
    eta = np.stack([p1 * (1 - 0.5 * p2), p2 * (1 - 0.5 * p1)])
    state = ss.State(jnp.asarray(rho), jnp.asarray(eta), jnp.asarray([0.1, 0.6]))
    energy = _energy(EPS)
    model = _model(energy, ss.Mobility(1.0, 1.0, 0.0, 0.0), L=1.0)
    dt = 1e-10

    @jax.jit
    def compare(model, state):
        new = ss.SemiImplicitFourier().step(model, grid, state, jnp.asarray(dt))
        mu = model.energy.variational_derivatives(state, grid)
        lap_mu = grid.irfft(-jnp.asarray(grid.k2()) * grid.rfft(mu.rho))
        aniso = jax.grad(
            lambda r: model.energy.anisotropic_energy(
                ss.State(r, state.eta, state.orientation), grid
            )
        )(state.rho)
        return (new.rho - state.rho) / dt, (new.eta - state.eta) / dt, lap_mu, mu.rho, mu.eta, aniso

    out = compare(model, state)
    d_rho, d_eta, lap_mu, mu_rho, mu_eta, aniso = (np.asarray(a) for a in out)
    err_rho = np.max(np.abs(d_rho - lap_mu)) / np.max(np.abs(lap_mu))
    err_eta = np.max(np.abs(d_eta + mu_eta)) / np.max(np.abs(mu_eta))
    # the anisotropic part is not negligible in what is compared
    share = np.max(np.abs(aniso / grid.cell_volume)) / np.max(np.abs(mu_rho))
    print(
        f"stepper vs grad F: rho {err_rho:.1e}, eta {err_eta:.1e}; anisotropic share of "
        f"mu_rho {share:.2f}"
    )
    assert share > 0.05
    assert err_rho < 1e-4
    assert err_eta < 1e-4


# --- 3D ----------------------------------------------------------------------------------------


def test_3d_particle_smoke():
    """32^3, radius 10, one grain turned 30 degrees about (1, 2, 3); 200 steps of dt = 10 (~50
    relaxation times of the l = 4 mode). Stays finite, mass conserved, F falls at every save,
    and the radius along the crystal's <100> axes is smaller than along <111>, with
    r<111>/r<100> the Wulff value (1 + eps_eff)/(1 - eps_eff) within 30% of the anisotropy.

    Measured: r<100> = 8.69, r<111> = 9.72 (ratio 1.119 against 1.105); run ~5 s.
    """
    n, radius, dt, steps = 32, 10.0, 10.0, 200
    grid = ss.Grid((n, n, n))
    p = ss.particle_profile(grid, [n / 2] * 3, radius, WIDTH / 2)
    axis = np.array([1.0, 2.0, 3.0]) / np.sqrt(14.0)
    half = np.radians(30.0) / 2
    q = np.concatenate([[np.cos(half)], np.sin(half) * axis])
    state = ss.State(jnp.asarray(p), jnp.asarray(p[None]), jnp.asarray(q[None]))
    model = _model(_energy(EPS))
    ts = dt * np.arange(10, steps + 1, 10)
    start = time.perf_counter()
    sol = jax.jit(
        lambda m, s: ss.integrate(
            m,
            grid,
            s,
            t0=0.0,
            dt=dt,
            saveat=ss.SaveAt(ts, lambda t, s: m.energy.total(s, grid)),
            differentiable=False,
        )
    )(model, state)
    f_hist = np.concatenate([[float(model.energy.total(state, grid))], np.asarray(sol.ys)])
    seconds = time.perf_counter() - start
    assert bool(jnp.all(sol.ok))
    assert float(jnp.sum(sol.final.rho)) == pytest.approx(float(np.sum(p)), rel=1e-10)
    assert np.all(np.diff(f_hist) < 0)

    rho = np.asarray(sol.final.rho)
    axes = np.asarray(quat_to_matrix(jnp.asarray(q)))  # columns: crystal axes in the lab frame
    centre = np.full(3, n / 2)
    r100 = _ray_radius(rho, centre, [s * axes[:, a] for a in range(3) for s in (1, -1)])
    r111 = _ray_radius(
        rho, centre, [axes @ np.array(s) / np.sqrt(3) for s in itertools.product((1, -1), repeat=3)]
    )
    eps_eff = _effective_anisotropy()[0]
    ratio, wulff = np.mean(r111) / np.mean(r100), (1 + eps_eff) / (1 - eps_eff)
    print(
        f"3D: r<100> = {np.mean(r100):.3f}, r<111> = {np.mean(r111):.3f}, ratio {ratio:.4f} "
        f"(Wulff {wulff:.4f}); F {f_hist[0]:.1f} -> {f_hist[-1]:.1f}; run {seconds:.1f} s"
    )
    assert np.max(r100) < np.min(r111)
    assert (ratio - 1) == pytest.approx(wulff - 1, rel=0.3)
