"""Grain labelling on the periodic grid (host side, numpy): connected components, distances,
centroids. Used by the packing observables and by field re-assignment.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def periodic_label(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Connected components of ``mask`` on a periodic grid (face connectivity).

    Labels 1..n (0 = background); components that continue across a periodic face are merged.
    """
    labels, n = ndimage.label(mask)
    if n == 0:
        return labels, 0
    parent = list(range(n + 1))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for ax in range(mask.ndim):
        lo = np.take(labels, 0, axis=ax)
        hi = np.take(labels, -1, axis=ax)
        both = (lo > 0) & (hi > 0)
        for a, b in zip(lo[both].tolist(), hi[both].tolist(), strict=True):
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    roots = np.array([find(a) for a in range(n + 1)])
    uniq = np.unique(roots[1:])
    relabel = np.zeros(n + 1, int)
    relabel[uniq] = np.arange(1, len(uniq) + 1)
    return relabel[roots][labels], len(uniq)


def periodic_distance(target: np.ndarray, reach: float) -> np.ndarray:
    """Euclidean distance (cells) from every cell to the nearest True cell of ``target`` on the
    periodic grid, exact up to ``reach`` (larger distances are reported as >= reach)."""
    if not target.any():
        return np.full(target.shape, np.inf)
    pad = [(min(int(np.ceil(reach)) + 1, n), min(int(np.ceil(reach)) + 1, n)) for n in target.shape]
    padded = np.pad(target, pad, mode="wrap")
    d = ndimage.distance_transform_edt(~padded)
    crop = tuple(slice(p, p + n) for (p, _), n in zip(pad, target.shape, strict=True))
    return d[crop]


def periodic_centroid(mask: np.ndarray) -> tuple[float, ...]:
    """Centroid on the periodic grid (circular mean per axis), in cells."""
    out = []
    idx = np.nonzero(mask)
    for ax, n in enumerate(mask.shape):
        ang = 2 * np.pi * idx[ax] / n
        a = np.arctan2(np.mean(np.sin(ang)), np.mean(np.cos(ang)))
        out.append(float((a % (2 * np.pi)) * n / (2 * np.pi)))
    return tuple(out)


def nearest_label(labels: np.ndarray) -> np.ndarray:
    """For every cell, the label of the nearest labelled cell on the periodic grid."""
    pad = [(n // 2, n // 2) for n in labels.shape]
    padded = np.pad(labels, pad, mode="wrap")
    _, idx = ndimage.distance_transform_edt(padded == 0, return_indices=True)
    nearest = padded[tuple(idx)]
    crop = tuple(slice(p, p + n) for (p, _), n in zip(pad, labels.shape, strict=True))
    return nearest[crop]
