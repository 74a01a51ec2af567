"""Cubic surface-energy anisotropy tied to each grain's crystal orientation.

The density gradient energy ``kappa_rho |grad rho|^2 / 2`` becomes
``kappa_rho a^2 |grad rho|^2 / 2``, so the rho part of the surface energy scales like ``a(n)``
(sharp-interface limit, e.g. Kobayashi, Physica D 63, 410 (1993); Eggleston, McFadden &
Voorhees, Physica D 150, 91 (2001)):

.. math::
    a = 1 - \\epsilon\\,\\sum_i w_i\\,h(R_i^T n),\\qquad
    w_i = \\frac{\\eta_i^2}{\\sum_j \\eta_j^2 + f},\\qquad
    n = \\frac{\\nabla\\rho}{\\sqrt{|\\nabla\\rho|^2 + \\delta^2}},

with the cubic harmonic ``h = 4 (n_x^4 + n_y^4) - 3 |n|^4`` in 2D (``= |n|^4 cos 4 phi``) and
``h = 3 (n_x^4 + n_y^4 + n_z^4) - 2 |n|^4`` in 3D: on a surface (``|grad rho| >> delta``,
``|n| = 1``) both are 1 along a cube axis and -1 at the most distant direction (45 degrees; <111>).
``R_i`` is grain i's rotation, so the low-energy facets are the crystal's {100} planes and turn
with the grain. The term enters `WangEnergy.total` as the excess
``kappa_rho (a^2 - 1) |grad rho|^2 / 2``; its chemical potential, its eta derivative and its
torque all come from autodiff.

Regularisation: h is homogeneous of degree 4 in n, so where ``|grad rho| << delta`` (bulk,
vapour, the far tails of a surface) ``h -> 0`` and the term switches off smoothly. The constant
form ``4 (n_x^4 + n_y^4) - 3`` kept ``a = 1 + 3 epsilon`` in the tails, where the weights w_i are
steep in eta (eta ~ sqrt(f)); their explicit eta derivative then made the energy of a relaxing
particle rise in ~40% of the steps (dt = 1 to 10), and delta = 1e-3 still did so with the
homogeneous form. With the homogeneous form and delta = 1e-2 the energy falls in every step up to
dt = 40 (tests/test_anisotropy.py).

Effective anisotropy: only the rho gradient is anisotropic. By the envelope theorem
``d gamma_s / d kappa_rho = int rho'^2 / 2 dx`` on the planar profile, so to first order the
surface energy is

.. math::
    \\gamma(n) = \\gamma_s\\,[1 - \\epsilon_{eff}\\,h(n)],\\qquad
    \\epsilon_{eff} = \\epsilon\\,\\frac{\\gamma_\\rho}{\\gamma_s},\\qquad
    \\gamma_\\rho = \\int\\kappa_\\rho\\,\\rho'^2\\,dx

(gamma_rho / gamma_s = 0.75 for gamma_gb / gamma_s = 0.5, 0.50 for 1; measured on planar slabs
of the model: epsilon_eff = 0.0498 at epsilon = 1/15, gamma_gb / gamma_s = 0.5). In 2D the
Wulff shape then has ``r(theta + 45 deg) / r(theta) = (1 + eps_eff) / (1 - eps_eff)`` and facet
centres curved by ``(1 - 15 eps_eff) / (1 + 15 eps_eff)`` times the corners (curvature
``1 / (gamma + gamma'')``): strongly flattened, but strictly flat only at eps_eff = 1/15, which
epsilon <= 1/15 cannot reach.

Strength: ``kappa_rho a^2 |grad rho|^2 / 2`` is convex in grad rho (the gradient flow is well
posed) only while ``a(n) |grad rho|`` is, i.e. while ``a + a'' >= 0``: epsilon <= 1/15 in 2D;
in 3D numerically epsilon <= 2/23 = 0.087 (it fails first at <110>). Both are limited to
[0, 1/15] (`max_epsilon`).
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._grid import Grid


def max_epsilon(ndim: int) -> float:
    """Largest allowed epsilon: 1/15, where ``a(n) |grad rho|`` stops being convex in 2D.

    2D: ``a + a'' = 1 + 15 epsilon cos 4 phi >= 0`` for epsilon <= 1/15. 3D: convex up to
    epsilon = 2/23 (numerical, the Hessian at <110>); the 2D bound is used there too.
    """
    return 1.0 / 15.0


class SurfaceAnisotropy(eqx.Module):
    """Cubic anisotropy of the surface energy (see the module docstring).

    epsilon: strength of ``a``; facets (the {100} planes) have ``a = 1 - epsilon``, the most distant
        orientations ``1 + epsilon``. The surface energy itself varies by the smaller
        epsilon_eff (module docstring).
    delta: regularisation of ``|grad rho|`` (internal units, 1/length); the anisotropy fades out
        where the gradient is below it (a surface of width w has ``|grad rho| ~ 1/w``).
    floor: f in the weights w_i, which vanish where ``sum_j eta_j^2 << f`` (vapour).
    """

    epsilon: Float[Array, ""] | float
    delta: float = 1e-2
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
        """``1 + 15 epsilon``, a bound on the largest eigenvalue of the Hessian of ``a^2 |p|^2 / 2``
        in p = grad rho (the stiffness of the gradient energy in units of kappa_rho).

        2D: the eigenvalues are ``a^2`` (along n) and ``a (a + a'') + a'^2`` (across), largest
        ``(1 - epsilon)(1 + 15 epsilon)`` with n on a cube axis; 3D: 1.62 at epsilon = 1/15
        (numerical). The stepper's implicit coefficient must be at least half of it (explicit,
        stabilised gradient step), which ``kappa_rho`` already is for epsilon <= 1/15.
        """
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
        g = jnp.stack(grid.gradient(rho))
        g2 = jnp.sum(g**2, axis=0)
        n = g / jnp.sqrt(g2 + self.delta**2)
        e2 = eta**2
        w = e2 / (jnp.sum(e2, axis=0) + self.floor)
        h = jnp.sum(w * self.harmonic(n, orientation), axis=0)
        a = 1.0 - self.epsilon * h
        return 0.5 * kappa_rho * jnp.sum((a**2 - 1.0) * g2) * grid.cell_volume
