"""Crystal orientations and symmetry-reduced misorientation (cubic and hexagonal crystals).

2D: an orientation is an angle (radians); the square lattice's 4-fold symmetry makes two angles
that differ by 90 degrees the same crystal, so the misorientation is ``|d| mod 90`` folded into
[0, 45] degrees.

3D: a unit quaternion ``(w, x, y, z)``. The misorientation angle is the smallest rotation angle
of ``q_a^-1 q_b s`` over the 24 proper rotations ``s`` of the cube (and the sign of the
quaternion): ``theta = 2 arccos max_s |<q_a, q_b s>|``. So 88 degrees about a cube axis counts as
2 degrees; the largest cubic misorientation is 62.8 degrees.

The numpy functions serve host-side set-up and observables; `quat_exp`, `quat_to_matrix`,
`rotate` and `misorientation_matrix` are the JAX versions used inside the compiled step (all
2D/3D dispatch on the shape of an orientation lives here).
"""

from __future__ import annotations

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float


def quat_mul(p, q, xp=None):
    """Hamilton product of quaternions (..., 4): numpy for numpy inputs, jax.numpy when either is
    a JAX array (or pass ``xp``)."""
    if xp is None:
        xp = jnp if isinstance(p, jax.Array) or isinstance(q, jax.Array) else np
    w1, x1, y1, z1 = xp.moveaxis(p, -1, 0)
    w2, x2, y2, z2 = xp.moveaxis(q, -1, 0)
    return xp.stack(
        [
            w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
            w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
            w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
            w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
        ],
        axis=-1,
    )


def cubic_symmetry() -> np.ndarray:
    """The 24 proper rotations of the cube as unit quaternions, (24, 4)."""
    h = 0.5
    s = 1.0 / np.sqrt(2.0)
    quats = [(1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0), (0, 0, 0, 1)]  # identity, 180 about axes
    # 90 and 270 degrees about the three cube axes.
    for ax in range(3):
        for sign in (1, -1):
            v = [0.0, 0.0, 0.0]
            v[ax] = sign * s
            quats.append((s, *v))
    # 120 and 240 degrees about the four body diagonals.
    for signs in itertools.product((1, -1), repeat=3):
        quats.append((h, *(h * np.array(signs))))
    # 180 degrees about the six face diagonals.
    for a, b in ((0, 1), (0, 2), (1, 2)):
        for sign in (1, -1):
            v = [0.0, 0.0, 0.0]
            v[a], v[b] = s, sign * s
            quats.append((0.0, *v))
    out = np.asarray(quats, float)
    assert out.shape == (24, 4)
    return out


def hexagonal_symmetry() -> np.ndarray:
    """The 12 proper rotations of a hexagonal (622) crystal, c axis along z, (12, 4)."""
    k = np.arange(6) * np.pi / 6  # half of multiples of 60 degrees
    about_c = np.stack([np.cos(k), 0 * k, 0 * k, np.sin(k)], axis=-1)
    in_plane = np.stack([0 * k, np.cos(k), np.sin(k), 0 * k], axis=-1)  # 180 deg, axes 30 deg apart
    return np.concatenate([about_c, in_plane])


SYMMETRIES = ("cubic", "hexagonal")


def symmetry_operations(symmetry: str = "cubic") -> np.ndarray:
    """Proper rotations (unit quaternions) of ``symmetry``: "cubic" (24) or "hexagonal" (12)."""
    if symmetry == "cubic":
        return cubic_symmetry()
    if symmetry == "hexagonal":
        return hexagonal_symmetry()
    raise ValueError(f"symmetry = {symmetry!r} is not known; allowed: {', '.join(SYMMETRIES)}")


def fold_angle_deg(symmetry: str = "cubic") -> float:
    """Rotation about the out-of-plane axis that maps the 2D crystal onto itself (degrees)."""
    symmetry_operations(symmetry)  # validates the name
    return 90.0 if symmetry == "cubic" else 60.0


def misorientation_2d(a, b, symmetry: str = "cubic") -> np.ndarray | float:
    """Misorientation (degrees, in [0, fold/2]) of 2D crystals at angles a, b (radians)."""
    fold = fold_angle_deg(symmetry)
    d = np.degrees(np.abs(np.asarray(a) - np.asarray(b))) % fold
    return np.minimum(d, fold - d)


def misorientation_3d(qa, qb, symmetry: str = "cubic") -> np.ndarray | float:
    """Misorientation angle (degrees) of crystals with unit quaternions qa, qb (..., 4)."""
    qa, qb = np.asarray(qa, float), np.asarray(qb, float)
    inv = qa * np.array([1.0, -1.0, -1.0, -1.0])
    d = quat_mul(inv, qb)  # rotation taking a to b
    cand = quat_mul(d[..., None, :], symmetry_operations(symmetry))  # (..., n_ops, 4)
    w = np.max(np.abs(cand[..., 0]), axis=-1)
    return np.degrees(2.0 * np.arccos(np.clip(w, -1.0, 1.0)))


def misorientation(a, b, symmetry: str = "cubic") -> np.ndarray | float:
    """2D angles (scalars) or 3D quaternions (last axis 4): the symmetry-reduced angle, degrees."""
    a = np.asarray(a, float)
    if a.ndim >= 1 and a.shape[-1] == 4:
        return misorientation_3d(a, b, symmetry)
    return misorientation_2d(a, b, symmetry)


def axis_angle(axis, degrees: float | int) -> np.ndarray:
    """Unit quaternion of a rotation by ``degrees`` about ``axis``."""
    axis = np.asarray(axis, float)
    axis = axis / np.linalg.norm(axis)
    half = np.radians(degrees) / 2
    return np.concatenate([[np.cos(half)], np.sin(half) * axis])


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
    return symmetry_operations(symmetry)


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
        fold = np.radians(fold_angle_deg(symmetry))
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
