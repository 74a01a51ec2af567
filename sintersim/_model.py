"""The model: energy, mobilities and the Allen-Cahn coefficient, as one pytree."""

from __future__ import annotations

import equinox as eqx
from jaxtyping import Array, Float

from ._advection import RigidBody
from ._energy import WangEnergy
from ._mobility import Mobility
from ._rotation import Rotation
from ._sublimation import Sublimation


class SinterModel(eqx.Module):
    r"""Cahn-Hilliard / Allen-Cahn sintering model (dimensionless).

    .. math::
        \partial_t\rho = \nabla\cdot\big(M(\rho,\eta)\nabla\,\delta F/\delta\rho\big),\qquad
        \partial_t\eta_i = -L\,\delta F/\delta\eta_i

    energy: the free-energy functional F.
    mobility: the density mobility M(rho, eta).
    L: Allen-Cahn (grain-boundary) mobility.
    rotation: optional grain rotation, ``d theta_i/dt = m_r tau_i / V_i`` (`sintersim._rotation`);
        needs orientations in the state. Without it orientations stay fixed.
    rigid_body: optional Wang rigid-body motion of the grain fields (`sintersim._advection`):
        translation under the boundary force, and the grain shapes turning with their lattices.
    sublimation: optional loss of material from the surface to the vapour
        (`sintersim._sublimation`); without it mass is conserved.
    """

    energy: WangEnergy
    mobility: Mobility
    L: Float[Array, ""] | float
    rotation: Rotation | None = None
    rigid_body: RigidBody | None = None
    sublimation: Sublimation | None = None
