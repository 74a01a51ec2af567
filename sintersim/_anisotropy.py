"""Cubic surface-energy anisotropy tied to each grain's crystal orientation.

The density gradient energy ``kappa_rho |grad rho|^2 / 2`` becomes
``kappa_rho a(n)^2 |grad rho|^2 / 2`` with ``n = grad rho / |grad rho|`` the surface normal, so the
rho part of the surface energy scales like ``a(n)`` (sharp-interface limit, e.g. Kobayashi,
Physica D 63, 410 (1993); Eggleston, McFadden & Voorhees, Physica D 150, 91 (2001)):

.. math::
    a(n) = 1 - \\epsilon\\,\\sum_i w_i\\,h(R_i^T n),\\qquad w_i = \\frac{\\eta_i^2}{\\sum_j \\eta_j^2},

with the cubic harmonic ``h = 4 (n_x^4 + n_y^4) - 3`` in 2D (``= cos 4 phi``) and
``h = 3 (n_x^4 + n_y^4 + n_z^4) - 2`` in 3D, both 1 along a cube axis and -1 at the most
distant direction. ``R_i`` is grain i's rotation, so the low-energy facets are the crystal's
{100} planes and turn with the grain. The term enters `WangEnergy.total` as the excess
``kappa_rho (a^2 - 1) |grad rho|^2 / 2``; its chemical potential, its eta derivative and its
torque all come from autodiff.

Strength: the 2D Wulff shape of ``1 - epsilon cos 4 phi`` stays convex up to epsilon = 1/15, where
its curvature at the facet centres reaches zero (flat facets); beyond that, missing orientations
make the gradient formulation ill-posed, so epsilon is limited to [0, 1/15] (`max_epsilon`).
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._grid import Grid


def max_epsilon(ndim: int) -> float:
    """Largest epsilon for which the Wulff shape of ``1 - epsilon h(n)`` stays convex.

    2D: the stiffness ``gamma + gamma'' = 1 + 15 epsilon cos 4 phi`` stays positive for
    epsilon <= 1/15. The same bound is used in 3D (not derived separately for the 3D harmonic).
    """
    return 1.0 / 15.0


class SurfaceAnisotropy(eqx.Module):
    """Cubic anisotropy of the surface energy (see the module docstring).

    epsilon: strength; facets (the {100} planes) have ``gamma ~ 1 - epsilon``, the most distant
        orientations ``1 + epsilon``.
    delta: regularisation of ``|grad rho|`` (internal units, 1/cell) where there is no surface.
    """

    epsilon: Float[Array, ""] | float
    delta: float = 1e-3
    floor: float = 1e-6

    def __check_init__(self):
        if not isinstance(self.epsilon, (int, float)):
            return  # traced (vmap / grad): checked where the concrete value was built
        eps = float(self.epsilon)
        if not 0.0 <= eps <= max_epsilon(2) + 1e-12:
            raise ValueError(
                f"surface anisotropy epsilon = {eps} is out of range; allowed: 0 to 1/15 = 0.0667 "
                "(stronger anisotropy makes the gradient model ill-posed)"
            )

    def stiffness_bound(self) -> Array:
        """max of the surface stiffness factor ``1 + 15 epsilon`` (sets the implicit stabiliser)."""
        return 1.0 + 15.0 * self.epsilon

    def harmonic(self, n: Array, orientation: Array) -> Float[Array, "P *grid"]:
        """h(R_i^T n) for every grain i; n is (d, *grid)."""
        if orientation.ndim == 1:  # 2D: rotate the normal by -theta_i
            c = jnp.cos(orientation).reshape((-1,) + (1,) * (n.ndim - 1))
            s = jnp.sin(orientation).reshape((-1,) + (1,) * (n.ndim - 1))
            nx = c * n[0] + s * n[1]
            ny = -s * n[0] + c * n[1]
            return 4.0 * (nx**4 + ny**4) - 3.0 * (nx**2 + ny**2) ** 2
        from ._rotation import quat_to_matrix

        rot = quat_to_matrix(orientation)  # (P, 3, 3); columns are crystal axes in the lab frame
        local = jnp.einsum("pab,a...->pb...", rot, n)  # R^T n
        return 3.0 * jnp.sum(local**4, axis=1) - 2.0 * jnp.sum(local**2, axis=1) ** 2

    def energy(
        self,
        rho: Float[Array, "*grid"],
        eta: Float[Array, "P *grid"],
        orientation: Array,
        grid: Grid,
        kappa_rho: Array | float,
    ) -> Float[Array, ""]:
        """``int kappa_rho (a(n)^2 - 1) |grad rho|^2 / 2 dV`` (spectral gradient)."""
        rho_hat = grid.rfft(rho)
        ks = [jnp.asarray(k, rho.dtype) for k in grid.wavevectors()]
        g = jnp.stack([grid.irfft(1j * k * rho_hat) for k in ks])
        g2 = jnp.sum(g**2, axis=0)
        n = g / jnp.sqrt(g2 + self.delta**2)
        e2 = eta**2
        w = e2 / (jnp.sum(e2, axis=0) + self.floor)
        h = jnp.sum(w * self.harmonic(n, orientation), axis=0)
        a = 1.0 - self.epsilon * h
        return 0.5 * kappa_rho * jnp.sum((a**2 - 1.0) * g2) * grid.cell_volume
