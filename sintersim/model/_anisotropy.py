r"""Cubic surface-energy anisotropy tied to each grain's crystal orientation.

The density gradient energy ``kappa_rho |grad rho|^2 / 2`` becomes ``kappa_rho H(grad rho)^2 / 2``
with a convex, positively homogeneous gauge H of the gradient, so the rho part of the surface
energy of a plane with normal n scales like ``H(n)`` (the planar profile along n sees the
coefficient ``kappa_rho H(n)^2``):

.. math::
    H(p)^2 = \Big(1 - \sum_i w_i\Big)|p|^2 + \sum_i w_i\,h(R_i^T p)^2,\qquad
    h(p) = \frac{1}{c}\Big(\sum_{k=1}^d a_k^m\Big)^{1/m},\quad
    a_k = \sqrt{p_k^2 + \delta^2|p|^2},

with c chosen so that ``h = 1`` on a cube axis: the {100} planes keep the isotropic surface
energy and every other plane costs more. ``R_i`` is grain i's rotation (columns: crystal axes in
the lab frame), so the facets are the crystal's {100} planes and turn with the grain.

Why a norm: each a_k is a Euclidean norm of a linear map of p and the l_m norm (m >= 1) of
non-negative convex functions is convex, so ``h`` and ``H^2`` are convex in p for every strength.
The gradient flow is then well posed however strong the anisotropy (a smooth cubic harmonic
``1 + epsilon cos 4 phi`` loses convexity at epsilon = 1/15, before facets become flat). m sets the
shape: m = 2 is isotropic, m -> 1 tends to ``|p_x| + |p_y| (+ |p_z|)``, whose Wulff shape is a
cube; ``delta`` rounds the facet edges (it bounds the stiffness, see `stiffness_bound`). The user
gives the strength as the ratio ``h(<110>) / h(<100>)`` (``ratio``: 1 isotropic, at most 1.3486
at m = 1), from which m is solved (`exponent_for_ratio`).

Weights: ``w_i = s_i / (sum_j s_j + f)`` with ``s_i = G_sigma * eta_i^2``, eta_i^2 blurred by a
Gaussian of width sigma (spectral). On an isolated grain w ~ 1 across the whole surface, where
the rho gradient lives; at a boundary the weights cross over smoothly. Unblurred weights
``eta_i^2 / (sum eta^2 + f)`` jump from 0 to 1 at eta ~ sqrt(f), inside the vapour-side tail of
the surface where |grad rho| is still large: their eta derivatives made the energy rise in about
half the steps at any dt (measured at ratio 1.23); the blurred weights do not.

Effective anisotropy: only the rho gradient is anisotropic, so the surface energy is, to first
order (envelope theorem, ``d gamma_s / d kappa_rho = int rho'^2 / 2 dx``),

.. math::
    \gamma(n) = \gamma_{100}\,[1 + s\,(h(n) - 1)],\qquad s = \gamma_\rho / \gamma_s

(s = 0.75 for gamma_gb / gamma_s = 0.5, measured on planar slabs in tests/test_anisotropy.py),
whose Wulff shape is a cube with rounded edges (the isotropic share 1 - s).

Time step: the anisotropic chemical potential is explicit; the stepper's implicit stabiliser is
``max(1, stiffness_bound / 2) kappa_rho`` (energy stability of the linearised step). With the
mobility split (variable mobility explicit) the energy still rose at large steps: at ratio 1.23,
surface mobility 1, dx = 1, it falls in every step at dt <= 1 and rises in a few at dt = 2
(tests/test_anisotropy.py uses dt = 1; runs use dt ~ 0.1).
"""

from __future__ import annotations

import functools
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize
from jaxtyping import Array, Float

from sintersim.grid import Grid
from sintersim.model._base import AbstractEnergyTerm
from sintersim.orientation import quat_to_matrix
from sintersim.state import State

DELTA = 0.05  # edge rounding delta of the gauge
MIN_EXPONENT = 1.0  # m = 1: the sum of the a_k, the strongest gauge that is still a norm


def _gauge(p: Array, exponent, delta: float) -> Array:
    """Unnormalised ``(sum_k a_k^m)^(1/m)``, ``a_k = sqrt(p_k^2 + delta^2 |p|^2)``, p: (d, ...)."""
    p2 = jnp.sum(p**2, axis=0)
    a2 = p**2 + delta**2 * p2
    return jnp.sum(a2 ** (0.5 * exponent), axis=0) ** (1.0 / exponent)


def _axis_value(d: int, exponent, delta: float):
    """The unnormalised gauge on a cube axis in d dimensions (the normalisation c)."""
    return ((1.0 + delta**2) ** (0.5 * exponent) + (d - 1) * delta**exponent) ** (1.0 / exponent)


def gauge(p: Array, exponent, delta: float = DELTA) -> Array:
    """``h(p)``: the normalised gauge (1 on a cube axis, any |p| scaling linearly).

    Safe at p = 0 (value and gradient 0): the power ``a^(m/2)`` has an infinite derivative there.
    """
    d = p.shape[0]
    p2 = jnp.sum(p**2, axis=0)
    ok = p2 > 0.0
    safe = jnp.where(ok, p, 1.0)
    return jnp.where(ok, _gauge(safe, exponent, delta), 0.0) / _axis_value(d, exponent, delta)


def ratio_for_exponent(exponent: float, delta: float = DELTA, ndim: int = 2) -> float:
    """``h(<110>) / h(<100>)`` of the gauge with exponent m."""
    n = np.zeros(ndim)
    n[:2] = 1.0 / np.sqrt(2.0)
    with jax.ensure_compile_time_eval():  # a host number even when first asked inside a trace
        return float(gauge(jnp.asarray(n), exponent, delta))


def max_ratio(delta: float = DELTA) -> float:
    """Largest allowed ``ratio`` (2D <110>/<100>): the one at m = `MIN_EXPONENT`."""
    return ratio_for_exponent(MIN_EXPONENT, delta)


@functools.lru_cache(maxsize=64)
def exponent_for_ratio(ratio: float, delta: float = DELTA) -> float:
    """m with ``h(<110>) / h(<100>) = ratio`` in 2D (1 <= ratio <= `max_ratio`)."""
    if ratio == 1.0:
        return 2.0
    return float(
        scipy.optimize.brentq(
            lambda m: ratio_for_exponent(m, delta) - ratio, MIN_EXPONENT, 2.0, xtol=1e-12
        )
    )


@functools.lru_cache(maxsize=64)
def _stiffness(exponent: float, delta: float, ndim: int) -> float:
    """Largest eigenvalue of the Hessian of ``h(p)^2 / 2`` over unit p (it is homogeneous of
    degree 0, so the unit sphere covers every p): 2D on 4001 angles of a quarter circle, 3D on a
    Fibonacci sample of 20000 points (the cubic symmetry repeats the rest)."""
    if ndim == 2:
        t = np.linspace(0.0, 0.5 * np.pi, 4001)
        pts = np.stack([np.cos(t), np.sin(t)], axis=1)
    else:
        i = np.arange(20000) + 0.5
        z = 1.0 - 2.0 * i / i.size
        phi = np.pi * (1.0 + 5**0.5) * i
        r = np.sqrt(1.0 - z**2)
        pts = np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)
    hess = jax.vmap(jax.hessian(lambda p: 0.5 * gauge(p, exponent, delta) ** 2))
    with jax.ensure_compile_time_eval():
        h = np.asarray(hess(jnp.asarray(pts)), np.float64)
    return float(np.linalg.eigvalsh(h).max())


class SurfaceAnisotropy(AbstractEnergyTerm):
    """Cubic anisotropy of the surface energy (see the module docstring), an energy term of the
    crystals (owned fields such as a liquid have no crystal frame and do not weight it).

    ratio: ``h(<110>) / h(<100>)`` of the gradient gauge, 1 (isotropic) to `max_ratio`;
        the {100} facets keep the isotropic energy (max_ratio = 1.3486). The surface energy
        varies by the smaller ``1 + s (ratio - 1)`` (module docstring; s ~ 0.75).
    blur: sigma of the Gaussian that spreads eta_i^2 into the weights (internal length units;
        about the surface width, so an isolated grain's weight covers its whole surface).
    delta: edge rounding of the gauge.
    floor: f in the weights (vapour far from every grain).
    exponent: m, solved from ``ratio``.
    """

    orientation_dependent: ClassVar[bool] = True

    ratio: float = eqx.field(static=True)
    blur: float = eqx.field(static=True, default=3.0)
    delta: float = eqx.field(static=True, default=DELTA)
    floor: float = eqx.field(static=True, default=1e-6)

    def __check_init__(self):
        top = max_ratio(self.delta)
        if not 1.0 <= float(self.ratio) <= top + 1e-12:
            raise ValueError(
                f"surface anisotropy ratio gamma<110>/gamma<100> = {self.ratio} is out of range; "
                f"allowed: 1 (isotropic) to {top:.4f}"
            )
        if not float(self.blur) > 0.0:
            raise ValueError(f"surface anisotropy blur = {self.blur}: allowed > 0 (length units)")

    @property
    def exponent(self) -> float:
        return exponent_for_ratio(float(self.ratio), self.delta)

    def stiffness(self, model, state: State, ndim: int) -> float:
        """`stiffness_bound` when the state has orientations (the term is 0 without them)."""
        return 0.0 if state.orientation is None else self.stiffness_bound(ndim)

    def energy(self, model, state: State, grid: Grid) -> Float[Array, ""]:
        """The term for the crystals of ``model`` with its ``kappa_rho`` (0 without
        orientations)."""
        if state.orientation is None:
            return jnp.zeros((), state.rho.dtype)
        k = model.n_crystals(state.eta.shape[0])
        o = state.orientation[:k]
        return self.excess(state.rho, state.eta[:k], o, grid, model.energy.kappa_rho)

    def stiffness_bound(self, ndim: int = 2) -> float:
        """Largest eigenvalue of the Hessian of ``h(p)^2 / 2`` (in units of kappa_rho): 1 when
        isotropic, 10.7 at ratio 1.23, 19 at the maximum ratio (2D; 24 in 3D)."""
        return _stiffness(self.exponent, self.delta, ndim)

    def weights(self, eta: Float[Array, "P *grid"], grid: Grid) -> Float[Array, "P *grid"]:
        """``w_i = s_i / (sum_j s_j + f)``, ``s_i``: eta_i^2 blurred by a Gaussian of width blur."""
        k2 = jnp.asarray(grid.k2(), eta.dtype)
        s = grid.irfft(grid.rfft(eta**2) * jnp.exp(-0.5 * self.blur**2 * k2))
        s = jnp.maximum(s, 0.0)  # the blur of a non-negative field, up to FFT round-off
        return s / (jnp.sum(s, axis=0) + self.floor)

    def local_gradients(self, g: Array, orientation: Array) -> Array:
        """``R_i^T p`` for every grain i: (d, P, *grid) from the lab-frame gradient g (d, *grid)."""
        if orientation.ndim == 1:  # 2D: rotate by -theta_i
            c = jnp.cos(orientation).reshape((-1,) + (1,) * (g.ndim - 1))
            s = jnp.sin(orientation).reshape((-1,) + (1,) * (g.ndim - 1))
            return jnp.stack([c * g[0] + s * g[1], -s * g[0] + c * g[1]])

        rot = quat_to_matrix(orientation)  # (P, 3, 3); columns are crystal axes in the lab frame
        return jnp.einsum("pab,a...->bp...", rot, g)

    def excess(
        self,
        rho: Float[Array, "*grid"],
        eta: Float[Array, "P *grid"],
        orientation: Array,
        grid: Grid,
        kappa_rho: Array | float,
    ) -> Float[Array, ""]:
        """``int kappa_rho sum_i w_i (h(R_i^T grad rho)^2 - |grad rho|^2) / 2 dV``: the excess of
        ``kappa_rho H^2 / 2`` over the isotropic term (spectral gradient)."""
        g = jnp.stack(grid.gradient(rho))
        g2 = jnp.sum(g**2, axis=0)
        h2 = gauge(self.local_gradients(g, orientation), self.exponent, self.delta) ** 2
        w = self.weights(eta, grid)
        return 0.5 * kappa_rho * jnp.sum(w * (h2 - g2)) * grid.cell_volume
