r"""Misorientation-dependent grain-boundary energy (Read-Shockley), inside the compiled model.

The Wang grain potential contains ``3 S_2^2 = 3 sum_i eta_i^4 + 6 sum_{i<j} eta_i^2 eta_j^2``;
the cross term is what makes a boundary cost energy. Its coefficient becomes pair-dependent,
``6 c_ij eta_i^2 eta_j^2`` with ``c_ij = c(theta_ij)`` (c = 1 is the plain Wang model, i.e. the
material's high-angle boundary). The boundary energy of the 1D equilibrium profile,
``gamma_gb(c)``, falls monotonically to 0 as c falls to ``c* = 2^(1/3) - 1`` (there the mixed
state eta_i = eta_j = 1/(1 + c*) costs nothing), so ``c(theta)`` is the inverse of the measured
``gamma_gb(c) / gamma_gb(1)`` (`sintersim.calibrate.boundary_table`) evaluated at the
Read-Shockley ratio

.. math::
    \gamma_{gb}(\theta)/\gamma_m = x(1 - \ln x)\ \ (x = \theta/\theta_m < 1),
    \qquad 1\ \ (\theta \ge \theta_m).

Stitching: grains whose misorientation is below ``stitch_deg`` and that share a boundary
(``int eta_i eta_j dV`` above ``stitch_contact``) become one crystal: field j is added to field i
(capped at 1) and emptied, so the boundary is gone and cannot come back.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from sintersim.grains import grain_volumes
from sintersim.model._base import AbstractKinetics
from sintersim.orientation import misorientation_matrix
from sintersim.state import State

C_STAR = 2.0 ** (1.0 / 3.0) - 1.0  # pair coefficient at which the boundary energy vanishes


def read_shockley(theta: ArrayLike, theta_max: Array | float) -> Array:
    """gamma_gb(theta) / gamma_m: Read-Shockley below theta_max, 1 above, 0 at theta = 0."""
    x = jnp.clip(theta / theta_max, 0.0, 1.0)
    safe = jnp.where(x > 0, x, 1.0)  # log(0) guarded so the derivative stays finite elsewhere
    return jnp.where(x > 0, x * (1.0 - jnp.log(safe)), 0.0)


class GrainBoundaryLaw(eqx.Module):
    """Misorientation-dependent boundary energy, realised through the pair coefficients c_ij.

    theta_max: Read-Shockley cut-off angle (radians); above it gamma_gb = gamma_m, the
        material's boundary energy.
    overlap_nodes: ``int eta_i eta_j dx`` across a flat boundary at each node (internal units),
        which turns the overlap integral of a pair into its boundary area.
    ratio_nodes, c_nodes: the measured ``gamma_gb(c)/gamma_m`` table (`boundary_table`), inverted
        by linear interpolation; ratios below the first node (the representable floor) map to
        its c, so ``c_ij`` never reaches the wetting coefficient.
    stitch_angle: misorientation (radians) below which touching grains merge into one crystal.
    stitch_contact: ``int eta_i eta_j dV`` (internal volume units) a pair must share to merge.
    symmetry: crystal symmetry used for misorientations, "cubic" or "hexagonal".
    """

    theta_max: float
    ratio_nodes: Float[Array, " n"]
    c_nodes: Float[Array, " n"]
    overlap_nodes: Float[Array, " n"]
    stitch_angle: float
    stitch_contact: float
    symmetry: str = eqx.field(static=True, default="cubic")

    def ratio(self, theta: Array) -> Array:
        return read_shockley(theta, self.theta_max)

    def coefficient(self, theta: Array) -> Array:
        """c(theta): the pair coefficient whose 1D boundary has energy gamma_m * ratio(theta)."""
        r = self.ratio(theta)
        return jnp.interp(r, self.ratio_nodes.astype(r.dtype), self.c_nodes.astype(r.dtype))

    def pair_excess(self, orientation: Array) -> Float[Array, "P P"]:
        """``c_ij - 1`` for every pair (diagonal unused): what the pair term adds to Wang's."""
        theta = misorientation_matrix(orientation, self.symmetry)
        return self.coefficient(theta) - 1.0

    def boundary_areas(self, eta: Array, orientation: Array, cell_volume: float) -> Array:
        """Area (3D) or length (2D) of the boundary of every pair, internal units, (P, P).

        ``int eta_i eta_j dV`` divided by the same integral across a flat boundary of the pair's
        misorientation (the 1D profiles of `boundary_table`); diagonal zero.
        """
        theta = misorientation_matrix(orientation, self.symmetry)
        per_area = jnp.interp(
            self.ratio(theta),
            self.ratio_nodes.astype(eta.dtype),
            self.overlap_nodes.astype(eta.dtype),
        )
        overlap = jnp.einsum("i...,j...->ij", eta, eta) * cell_volume
        return jnp.where(jnp.eye(eta.shape[0], dtype=bool), 0.0, overlap / per_area)

    def stitch(self, eta: Array, orientation: Array, cell_volume: float) -> tuple[Array, Array]:
        """Merge the one touching, aligned pair with the largest shared boundary (if any).

        Field j is added into field i (capped at 1) and emptied; the merged crystal takes the
        orientation of the larger of the two grains. Runs inside the compiled step (fixed shapes,
        no host sync); one merge per step is enough because steps are far shorter than the time
        between two stitching events. Returns (eta, orientation).
        """
        p = eta.shape[0]
        if p < 2:
            return eta, orientation
        theta = misorientation_matrix(jax.lax.stop_gradient(orientation), self.symmetry)
        contact = jnp.einsum("i...,j...->ij", eta, eta) * cell_volume
        upper = jnp.triu(jnp.ones((p, p), bool), k=1)
        ok = upper & (theta < self.stitch_angle) & (contact > self.stitch_contact)
        score = jnp.where(ok, contact, -1.0).ravel()
        best = jnp.argmax(score)
        i, j = best // p, best % p
        merged = jnp.minimum(eta[i] + eta[j], 1.0)
        out = eta.at[i].set(merged).at[j].set(jnp.zeros_like(eta[j]))
        vol = grain_volumes(eta, cell_volume)
        o_new = orientation.at[i].set(jnp.where(vol[j] > vol[i], orientation[j], orientation[i]))
        do = score[best] > 0
        return jnp.where(do, out, eta), jnp.where(do, o_new, orientation)


class Stitching(AbstractKinetics):
    """Touching, aligned crystals merge into one (`GrainBoundaryLaw.stitch` of the model's
    boundary law), once per step at most. Acts among the crystal fields; a model without a
    boundary law or a state without orientations is left unchanged."""

    def update(self, model, grid, old: State, new: State, dt) -> State:
        law = model.energy.boundaries
        if law is None or new.orientation is None:
            return new
        k = model.n_crystals(new.eta.shape[0])
        eta, orient = law.stitch(new.eta[:k], new.orientation[:k], grid.cell_volume)
        if k < new.eta.shape[0]:
            eta = jnp.concatenate([eta, new.eta[k:]], axis=0)
            orient = jnp.concatenate([orient, new.orientation[k:]], axis=0)
        return State(new.rho, eta, orient)
