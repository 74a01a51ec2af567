r"""Crystal orientations in JAX: misorientation-dependent boundaries, grain rotation, stitching.

Orientation of grain field i: an angle ``theta_i`` (radians) in 2D, a unit quaternion
``q_i = (w, x, y, z)`` in 3D (``State.orientation``, shape ``(P,)`` or ``(P, 4)``). Crystals are
cubic: the misorientation is reduced by the 4 rotations of the square (2D) or the 24 proper
rotations of the cube (3D), so 88 degrees about a cube axis counts as 2 degrees.

Boundary energy. The Wang grain potential contains ``3 S_2^2 = 3 sum_i eta_i^4 +
6 sum_{i<j} eta_i^2 eta_j^2``; the cross term is what makes a boundary cost energy. Its
coefficient becomes pair-dependent, ``6 c_ij eta_i^2 eta_j^2`` with ``c_ij = c(theta_ij)``
(c = 1 is the plain Wang model, i.e. the material's high-angle boundary). The boundary energy of
the 1D equilibrium profile, ``gamma_gb(c)``, falls monotonically to 0 as c falls to
``c* = 2^(1/3) - 1`` (there the mixed state eta_i = eta_j = 1/(1 + c*) costs nothing), so
``c(theta)`` is the inverse of the measured ``gamma_gb(c) / gamma_gb(1)`` evaluated at the
Read-Shockley ratio

.. math::
    \gamma_{gb}(\theta)/\gamma_m = x(1 - \ln x)\ \ (x = \theta/\theta_m < 1),
    \qquad 1\ \ (\theta \ge \theta_m).

Rotation (the rigid-body rotation law of Wang, Acta Mater. 54, 953 (2006): angular velocity =
rotational mobility x torque / grain volume):

.. math::
    \frac{d\theta_i}{dt} = \frac{m_r}{V_i}\,\tau_i,\qquad
    \tau_i = -\frac{\partial F}{\partial \theta_i},\qquad V_i = \int\eta_i\,dV,

the torque taken by autodiff of the free energy (in 3D with respect to a small body-frame
rotation vector). For a pair with a boundary of length (area) ``A`` the torque is
``A d gamma/d theta``, so with geometrically similar grains (``A ~ R^{d-1}``, ``V ~ R^d``) the
rotation time grows linearly with the grain size R, in 2D and in 3D.

Stitching: grains whose misorientation is below ``stitch_deg`` and that share a boundary
(``int eta_i eta_j dV`` above ``stitch_contact``) become one crystal: field j is added to field i
(capped at 1) and emptied, so the boundary is gone and cannot come back.
"""

from __future__ import annotations

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize
from jaxtyping import Array, Float

from . import _orientation

C_STAR = 2.0 ** (1.0 / 3.0) - 1.0  # pair coefficient at which the boundary energy vanishes


# ----------------------------------------------------------------------------- orientation math
def quat_mul(p: Array, q: Array) -> Array:
    """Hamilton product of quaternions (..., 4), in JAX."""
    return _orientation.quat_mul(p, q, xp=jnp)


def quat_exp(v: Array) -> Array:
    """Unit quaternion of the rotation vector v (..., 3) (angle |v| about v / |v|)."""
    # sin(a/2)/a written through sinc so the derivative at v = 0 is finite (autodiff torque).
    a = jnp.sqrt(jnp.sum(v**2, axis=-1) + 1e-30)
    half = 0.5 * jnp.sinc(a / (2 * jnp.pi))  # sin(a/2) / a
    return jnp.concatenate([jnp.cos(a / 2)[..., None], half[..., None] * v], axis=-1)


def quat_to_matrix(q: Array) -> Array:
    """Rotation matrix (..., 3, 3) of unit quaternions (..., 4); columns are the crystal axes."""
    w, x, y, z = jnp.moveaxis(q, -1, 0)
    return jnp.stack(
        [
            jnp.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            jnp.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            jnp.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        axis=-2,
    )


@functools.lru_cache(maxsize=4)
def _ops(symmetry: str) -> np.ndarray:
    return _orientation.symmetry_operations(symmetry)


def rotate(orientation: Array, v: Array) -> Array:
    """Turn each grain by the (body-frame) rotation v: angles add in 2D; ``q exp(v)`` in 3D."""
    if orientation.ndim == 1:
        return orientation + v
    q = quat_mul(orientation, quat_exp(v))
    return q / jnp.linalg.norm(q, axis=-1, keepdims=True)


def misorientation_matrix(orientation: Array, symmetry: str = "cubic") -> Float[Array, "P P"]:
    """Symmetry-reduced misorientation (radians) of every pair of grain fields, (P, P).

    2D: ``|d|`` folded by the crystal's in-plane rotation (90 degrees cubic, 60 hexagonal) into
    [0, fold/2]. 3D: the smallest rotation angle ``2 atan2(|v|, |w|)`` of ``q_i^-1 q_j s`` over the
    proper rotations s of the crystal (24 cubic, 12 hexagonal; atan2 rather than arccos keeps
    the derivative finite near alignment).
    """
    if orientation.ndim == 1:
        d = orientation[:, None] - orientation[None, :]
        fold = np.radians(_orientation.fold_angle_deg(symmetry))
        d = jnp.mod(d + fold / 2, fold) - fold / 2
        return jnp.abs(d)
    inv = orientation * jnp.asarray([1.0, -1.0, -1.0, -1.0], orientation.dtype)
    rel = quat_mul(inv[:, None, :], orientation[None, :, :])  # (P, P, 4)
    ops = jnp.asarray(_ops(symmetry), orientation.dtype)
    cand = quat_mul(rel[:, :, None, :], ops)  # (P, P, n_ops, 4)
    w = jnp.abs(cand[..., 0])
    v = jnp.sqrt(jnp.sum(cand[..., 1:] ** 2, axis=-1) + 1e-30)
    angles = 2.0 * jnp.arctan2(v, w)
    return jnp.min(angles, axis=-1)


def read_shockley(theta: Array, theta_max: Array | float) -> Array:
    """gamma_gb(theta) / gamma_m: Read-Shockley below theta_max, 1 above, 0 at theta = 0."""
    x = jnp.clip(theta / theta_max, 0.0, 1.0)
    safe = jnp.where(x > 0, x, 1.0)  # log(0) guarded so the derivative stays finite elsewhere
    return jnp.where(x > 0, x * (1.0 - jnp.log(safe)), 0.0)


# ----------------------------------------------------------------------- boundary energy table
def wetting_coefficient(a: float, k: float) -> float:
    """c_w: below it the uniform mixed state eta_i = eta_j (rho free) is cheaper than a crystal.

    For c < c_w a boundary would spread into a layer of mixed phase without bound; for
    c_w < c < 1/3 the mixed phase is metastable and the boundary energy stays finite (about a
    third of gamma_m for the usual shapes) as c approaches c_w. So boundary energies below that
    floor cannot be represented; `make_boundary_law` stitches such pairs instead.
    """
    from ._energy import WangEnergy

    energy = WangEnergy(a, 1.0, k, 1.0)

    def mixed_minimum(c: float) -> float:
        def f(z):
            return float(energy.bulk(np.float64(z[0]), np.array([z[1], z[1]]), c - 1.0))

        best = scipy.optimize.minimize(
            f,
            x0=[1.0, 1.0 / (1.0 + c)],
            method="Nelder-Mead",
            options={"xatol": 1e-12, "fatol": 1e-15},
        )
        return float(best.fun)

    return float(scipy.optimize.brentq(mixed_minimum, C_STAR - 0.1, 1.0 / 3.0, xtol=1e-10))


@functools.lru_cache(maxsize=32)
def boundary_table(a: float, k: float, n: int = 14) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(gamma_gb(c)/gamma_gb(1), c, I(c)) for the canonical shape A/B = a, kappa_rho/kappa_eta = k.

    I(c) = ``int eta_1 eta_2 dx`` across the boundary, per unit area in units of the canonical
    width (multiply by the stretch lambda); it converts ``int eta_i eta_j dV`` to a boundary area.

    Each entry is the excess energy of a relaxed 1D boundary profile of the full model (rho
    free). Widths and energies scale together under kappa -> lambda^2 kappa, so the ratio
    depends only on (a, k). The nodes run from just above the wetting coefficient c_w
    (`wetting_coefficient`) to 1, crowded towards c_w where gamma_gb(c) is steep.
    """
    from ._energy import WangEnergy
    from ._interfaces import grain_boundary_profile

    energy = WangEnergy(a, 1.0, k, 1.0)
    c_lo = wetting_coefficient(a, k) + 0.004
    cs = c_lo + (1.0 - c_lo) * np.linspace(0.0, 1.0, n) ** 2
    # The high-angle reference on the same line as each node (same discretisation error).
    ref = {span: grain_boundary_profile(energy, n=1601, span=span).gamma for span in (60.0, 160.0)}
    ratios, integrals = [], []
    for c in cs:
        # Low-angle boundaries are wide: a longer line keeps both ends in the bulk.
        span = 60.0 if c > 0.4 else 160.0
        prof = grain_boundary_profile(energy, n=1601, span=span, pair=c)
        ratios.append(prof.gamma / ref[span])
        integrals.append(prof.gb_integral / 2.0)  # gb_integral sums both orders (i, j), (j, i)
    ratios = np.asarray(ratios)
    if not (np.all(np.diff(ratios) > 0) and ratios[0] > 0):
        raise RuntimeError(f"boundary energy table is not monotone in c: {ratios}")
    return ratios, cs, np.asarray(integrals)


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


def floor_angle(ratio_floor: float, cutoff_deg: float) -> float:
    """The misorientation (degrees) whose Read-Shockley ratio equals ``ratio_floor``."""
    f = lambda x: x * (1.0 - np.log(x)) - ratio_floor  # noqa: E731
    return float(scipy.optimize.brentq(f, 1e-9, 1.0) * cutoff_deg)


def make_boundary_law(
    energy,
    cutoff_deg: float = 15.0,
    stitch_deg: float = 2.0,
    stitch_contact: float = 1.0,
    symmetry: str = "cubic",
) -> GrainBoundaryLaw:
    """Build the Read-Shockley law for a `WangEnergy` (its table computed once per shape).

    cutoff_deg: theta_m; stitch_deg: merge threshold, at least the angle below which the model
    cannot represent the Read-Shockley energy (`floor_angle` of the table's lowest ratio, about
    1.5 degrees at theta_m = 15); stitch_contact: shared ``int eta_i eta_j dV`` needed to merge;
    symmetry: "cubic" or "hexagonal" (wurtzite).
    """
    _orientation.symmetry_operations(symmetry)  # a clear error for an unknown name
    if not 0.5 <= cutoff_deg <= 60.0:
        raise ValueError(f"cutoff_deg = {cutoff_deg} is out of range; allowed: 0.5 to 60 degrees")
    if stitch_contact < 0:
        raise ValueError(f"stitch_contact = {stitch_contact} must be >= 0")
    b, kap = float(energy.B), float(energy.kappa_eta)
    a = round(float(energy.A) / b, 10)
    k = round(float(energy.kappa_rho) / kap, 10)
    ratios, cs, overlaps = boundary_table(a, k)
    lo = floor_angle(float(ratios[0]), cutoff_deg)
    if not lo <= stitch_deg < cutoff_deg:
        raise ValueError(
            f"stitch_deg = {stitch_deg} is out of range; allowed: {lo:.3g} <= stitch_deg < "
            f"cutoff_deg = {cutoff_deg} (below {lo:.3g} degrees the boundary energy would be "
            f"under the model's floor of {ratios[0]:.3f} gamma_m, so such pairs must stitch)"
        )
    return GrainBoundaryLaw(
        theta_max=float(np.radians(cutoff_deg)),
        ratio_nodes=jnp.asarray(ratios),
        c_nodes=jnp.asarray(cs),
        overlap_nodes=jnp.asarray(overlaps * np.sqrt(kap / b)),  # widths scale as sqrt(kappa/B)
        stitch_angle=float(np.radians(stitch_deg)),
        stitch_contact=float(stitch_contact),
        symmetry=symmetry,
    )


# ------------------------------------------------------------------------------------- kinetics
class Rotation(eqx.Module):
    """Rigid rotation of each grain's crystal lattice under the free-energy torque.

    m_r: rotational mobility (internal units: angle per time per torque, times volume), the
        Wang (2006) ``m_r`` in ``d theta_i / dt = m_r tau_i / V_i``.
    min_volume: floor on V_i, so an emptied field (after stitching) does not divide by zero.
    """

    m_r: Float[Array, ""] | float
    min_volume: float = 1.0


def grain_volumes(eta: Array, cell_volume: float) -> Float[Array, " P"]:
    """V_i = int eta_i dV."""
    return jnp.sum(eta, axis=tuple(range(1, eta.ndim))) * cell_volume


def _n_rotation(orientation: Array) -> tuple[int, ...]:
    return orientation.shape if orientation.ndim == 1 else (*orientation.shape[:-1], 3)


def torque(energy, state, grid) -> Array:
    """tau_i = -dF/d(rotation of grain i), by autodiff of the orientation-dependent energy.

    Shape ``(P,)`` in 2D (about the out-of-plane axis), ``(P, 3)`` in 3D (body frame).
    """
    o = state.orientation
    v0 = jnp.zeros(_n_rotation(o), o.dtype)
    g = jax.grad(lambda v: energy.orientation_energy(state, grid, rotate(o, v)))(v0)
    return -g


def angular_velocity(model, grid, state) -> Array:
    """``m_r tau_i / V_i``: (P,) in 2D, (P, 3) body-frame rotation vectors in 3D."""
    rot = model.rotation
    vol = jnp.maximum(grain_volumes(state.eta, grid.cell_volume), rot.min_volume)
    tau = torque(model.energy, state, grid)
    scale = rot.m_r / vol
    return tau * (scale if tau.ndim == 1 else scale[:, None])


__all__ = [
    "C_STAR",
    "GrainBoundaryLaw",
    "Rotation",
    "boundary_table",
    "grain_volumes",
    "make_boundary_law",
    "misorientation_matrix",
    "quat_exp",
    "quat_mul",
    "quat_to_matrix",
    "read_shockley",
    "rotate",
    "angular_velocity",
    "torque",
]
