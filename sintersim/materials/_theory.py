"""Small analytic laws the solver is verified against (sharp-interface limits, classic sintering).

Every function is plain NumPy / Python on the model's own (dimensionless) quantities, so tests and
experiments can compare measured rates, radii and angles with theory without re-deriving it.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "curvature_flow_radius2",
    "dihedral_angle",
    "herring_exponent",
    "mullins_rate",
    "neck_exponent_classic",
]


def mullins_rate(B_s, k):
    r"""Decay rate of a surface perturbation of wavenumber ``k`` under surface diffusion.

    .. math::
        h(x, t) = h_0 e^{-\omega t}\cos kx,\qquad \omega = B_s k^4

    (Mullins, J. Appl. Phys. 28, 333 (1957); J. Appl. Phys. 30, 77 (1959)): the small-slope
    surface-diffusion law :math:`\partial_t h = -B_s\,\partial_x^4 h`, with
    :math:`B_s = D_s\delta_s\Omega\gamma_s/(k_BT)`.

    For a phase-field Cahn-Hilliard model whose mobility is confined to the interface (a surface
    mobility), the matched-asymptotics limit is the same law with

    .. math::
        B_s = \frac{\gamma_s \int M\,dn}{(\Delta\rho)^2}

    (Cahn, Elliott & Novick-Cohen, Eur. J. Appl. Math. 7, 287 (1996)): ``int M dn`` is the
    mobility integrated across the interface (``M_surf * int rho^2 (1-rho)^2 dn`` here),
    ``Delta rho = 1`` the density jump and ``gamma_s`` the surface energy.
    """
    return B_s * np.asarray(k) ** 4


def curvature_flow_radius2(R0, M_gamma, t, dim: int = 2):
    r"""Squared radius of a shrinking spherical grain under curvature-driven boundary motion.

    .. math::
        v = -M\gamma\,(d-1)/R \;\Rightarrow\; R^2(t) = R_0^2 - 2(d-1)\,M\gamma\,t

    (Allen & Cahn, Acta Metall. 27, 1085 (1979); Burke & Turnbull, Prog. Met. Phys. 3, 220
    (1952)). For the Allen-Cahn equation ``d eta/dt = -L dF/deta`` with gradient coefficient
    ``kappa_eta`` the sharp-interface velocity is ``v = L kappa_eta * curvature``, i.e.
    ``M_gamma = L * kappa_eta`` (``M = L kappa_eta / gamma_gb``), independent of the bulk potential.

    R0: initial radius. M_gamma: the product (boundary mobility) x (boundary energy).
    t: time (scalar or array). dim: spatial dimension (2: circle, 3: sphere).
    """
    if dim not in (1, 2, 3):
        raise ValueError(f"dim must be 1, 2 or 3, got {dim}")
    return np.asarray(R0) ** 2 - 2.0 * (dim - 1) * np.asarray(M_gamma) * np.asarray(t)


def dihedral_angle(gamma_gb, gamma_s):
    r"""Equilibrium dihedral angle (degrees) where a grain boundary meets the free surface.

    .. math::
        \gamma_{gb} = 2\gamma_s\cos(\psi/2),\qquad
        \psi = 2\arccos\frac{\gamma_{gb}}{2\gamma_s}

    (Young's force balance at the groove root; Herring, in *The Physics of Powder Metallurgy*,
    McGraw-Hill (1951); Mullins, J. Appl. Phys. 28, 333 (1957)). psi is measured through the solid:
    180 degrees for gamma_gb = 0, 0 degrees when gamma_gb reaches 2 gamma_s (grains separate).
    """
    ratio = np.asarray(gamma_gb, dtype=float) / (2.0 * np.asarray(gamma_s, dtype=float))
    if np.any(ratio < 0) or np.any(ratio > 1):
        raise ValueError("need 0 <= gamma_gb <= 2 gamma_s for a grain boundary to exist")
    return np.degrees(2.0 * np.arccos(ratio))


_NECK_EXPONENTS = {
    "surface": 7,
    "grain_boundary": 6,
    "volume": 5,
    "evaporation_condensation": 3,
}

_HERRING_EXPONENTS = {
    "surface": 4,
    "grain_boundary": 4,
    "volume": 3,
    "evaporation_condensation": 2,
}


def _lookup(table: dict[str, int], mechanism: str, what: str) -> int:
    key = mechanism.strip().lower().replace("-", "_").replace(" ", "_")
    if key not in table:
        raise ValueError(f"unknown {what} mechanism {mechanism!r}; known: {sorted(table)}")
    return table[key]


def neck_exponent_classic(mechanism: str) -> int:
    r"""Exponent n of the classic two-sphere neck-growth law :math:`(x/R)^n = C\,t/R^m`.

    surface diffusion 7, grain-boundary diffusion 6, volume (lattice) diffusion 5,
    evaporation-condensation 3.

    Sources: Kuczynski, Trans. AIME 185, 169 (1949) (surface 7, volume 5, evaporation-condensation
    3); Coble, J. Am. Ceram. Soc. 41, 55 (1958) (grain-boundary 6); collected in German,
    *Sintering Theory and Practice*, Wiley (1996), ch. 4. These are initial-stage, sphere (3D)
    results derived with circular-neck geometry; they are the reference scaling, not an exact law
    for a diffuse-interface or 2D simulation.
    """
    return _lookup(_NECK_EXPONENTS, mechanism, "neck-growth")


def herring_exponent(mechanism: str) -> int:
    r"""Herring scaling exponent m: the time to reach a given geometry scales as :math:`R^m`.

    .. math::
        t_2/t_1 = (R_2/R_1)^m

    surface diffusion 4, grain-boundary diffusion 4, volume diffusion 3, evaporation-condensation 2
    (Herring, J. Appl. Phys. 21, 301 (1950); German, *Sintering Theory and Practice* (1996)).
    """
    return _lookup(_HERRING_EXPONENTS, mechanism, "Herring")
