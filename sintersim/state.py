"""The solver state: conserved density plus grain order parameters."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float


class State(eqx.Module):
    """Fields on the grid.

    rho: conserved density, 1 in a crystal and 0 in vapour, shape ``grid.shape``.
    eta: non-conserved grain order parameters, shape ``(P, *grid.shape)``; eta_i = 1 inside grain i.
    orientation: crystal orientation of each grain field, or None (orientation-blind model): an
        angle in radians, shape ``(P,)``, in 2D; a unit quaternion (w, x, y, z), shape ``(P, 4)``,
        in 3D.
    """

    # JAX arrays in the solver; numpy arrays in host-side work (re-assignment, packings, files)
    rho: Float[Array, "*grid"] | Float[np.ndarray, "*grid"]
    eta: Float[Array, "P *grid"] | Float[np.ndarray, "P *grid"]
    orientation: (
        Float[Array, " P"]
        | Float[Array, "P 4"]
        | Float[np.ndarray, " P"]
        | Float[np.ndarray, "P 4"]
        | None
    ) = None

    @property
    def n_grains(self) -> int:
        return self.eta.shape[0]

    def astype(self, dtype) -> State:
        o = None if self.orientation is None else self.orientation.astype(dtype)
        return State(self.rho.astype(dtype), self.eta.astype(dtype), o)

    def is_finite(self) -> Array:
        return jnp.isfinite(self.rho).all() & jnp.isfinite(self.eta).all()
