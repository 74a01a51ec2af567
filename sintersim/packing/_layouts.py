"""Many-particle initial configurations and the assignment of particles to few grain fields.

A packing is a list of particles (centre, radius, crystal orientation) in a periodic box, in grid
length units (a free cluster, `random_cluster`: with vapour around it in that box). Particles
that never touch may share one order parameter: the assignment colours the graph whose edges
join particles closer (surface to surface) than a safety distance, so no two particles within
that distance share a field.

Orientations: 2D an angle (radians, reduced to the square lattice's [0, pi/2)); 3D a unit
quaternion ``(w, x, y, z)``. "aligned" gives all zero rotation, "random" a uniform draw (Shoemake's
method for quaternions), a number a normal spread of that many degrees about alignment.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
from collections.abc import Sequence

import numpy as np

from sintersim.grid import Grid
from sintersim.initial import particles
from sintersim.state import State


class PackingError(ValueError):
    """A packing that cannot be built as asked (names the argument and what to change)."""


@dataclasses.dataclass(frozen=True)
class Packing:
    """Particles in a periodic box (grid length units).

    centres: (N, d) particle centres. radii: (N,). orientations: (N,) angles in 2D or (N, 4) unit
    quaternions in 3D. box: the periodic box lengths (d,).
    """

    centres: np.ndarray
    radii: np.ndarray
    orientations: np.ndarray
    box: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.radii)

    @property
    def ndim(self) -> int:
        return len(self.box)

    def grid(self, spacing: float = 1.0) -> Grid:
        """The periodic grid that exactly holds the box (each length a whole number of cells)."""
        shape = tuple(int(round(b / spacing)) for b in self.box)
        for b, n in zip(self.box, shape, strict=True):
            if abs(n * spacing - b) > 1e-6 * b:
                raise PackingError(f"box length {b} is not a whole number of cells of {spacing}")
        return Grid(shape, spacing)

    def surface_distances(self) -> np.ndarray:
        """(N, N) surface-to-surface distances along the minimum periodic image (inf on the
        diagonal)."""
        d = self.centres[:, None, :] - self.centres[None, :, :]
        box = np.asarray(self.box)
        d = d - box * np.round(d / box)
        dist = np.sqrt(np.sum(d**2, axis=-1)) - self.radii[:, None] - self.radii[None, :]
        np.fill_diagonal(dist, np.inf)
        return dist

    def neighbours(self, safety: float) -> list[tuple[int, int]]:
        """Pairs (i < j) whose surfaces are closer than ``safety``, in (i, j) order.

        Candidates from a periodic k-d tree (centres within ``safety`` + twice the largest
        radius), so a packing of 10^5 particles never builds an N x N matrix."""
        from scipy.spatial import cKDTree

        if self.n < 2:
            return []
        box = np.asarray(self.box, float)
        reach = safety + 2.0 * float(np.max(self.radii))
        if reach >= 0.5 * float(box.min()):  # the tree's periodic images need reach < box / 2
            i, j = np.nonzero(np.triu(self.surface_distances() < safety, k=1))
            return list(zip(i.tolist(), j.tolist(), strict=True))
        tree = cKDTree(np.mod(self.centres, box), boxsize=box)
        pairs = tree.query_pairs(reach, output_type="ndarray")
        if len(pairs) == 0:
            return []
        d = self.centres[pairs[:, 0]] - self.centres[pairs[:, 1]]
        d = d - box * np.round(d / box)
        gap = np.sqrt(np.sum(d**2, axis=1)) - self.radii[pairs[:, 0]] - self.radii[pairs[:, 1]]
        keep = np.sort(pairs[gap < safety], axis=1)
        keep = keep[np.lexsort((keep[:, 1], keep[:, 0]))]
        return [(int(a), int(b)) for a, b in keep]

    def contacts(self, tolerance: float = 0.0) -> list[tuple[int, int]]:
        """Pairs that touch or overlap (surface distance <= tolerance)."""
        return self.neighbours(tolerance + 1e-12)

    def coordination(self, tolerance: float = 0.0) -> np.ndarray:
        """Number of touching neighbours of every particle."""
        z = np.zeros(self.n, int)
        for i, j in self.contacts(tolerance):
            z[i] += 1
            z[j] += 1
        return z

    def assign_fields(self, safety: float, max_fields: int | None = None) -> np.ndarray:
        """Field index of every particle: a colouring of the neighbour graph at ``safety``."""
        return colour_graph(self.n, self.neighbours(safety), max_fields)

    def to_state(
        self,
        grid: Grid,
        width: float = 1.0,
        safety: float | None = None,
        max_fields: int | None = None,
        dtype=None,
    ) -> tuple[State, np.ndarray]:
        """(state, field_of_particle). Particles closer than ``safety`` (default: 4 widths plus
        the largest radius, room for necks to grow) get different order parameters."""
        if tuple(grid.lengths) != tuple(self.box):
            raise PackingError(
                f"grid lengths {grid.lengths} differ from the packing box {self.box}"
            )
        safety = 4.0 * width + float(np.max(self.radii)) if safety is None else safety
        fields = self.assign_fields(safety, max_fields)
        state = particles(
            grid,
            self.centres,
            self.radii,
            width,
            grain_of=fields,
            n_fields=int(fields.max()) + 1,
            dtype=dtype,
        )
        return state, fields


def colour_graph(n: int, edges: Sequence[tuple[int, int]], max_colours: int | None = None):
    """Colour ``n`` nodes so that no edge joins equal colours (DSatur greedy).

    DSatur colours next the node with the most distinct colours among its neighbours (ties: most
    neighbours); it is optimal for bipartite graphs and near-optimal for the planar contact graphs
    of packings (hexagonal: 3-4 colours at short safety distances).
    Raises `PackingError` naming ``max_colours`` when more colours are needed.
    """
    adj: list[set[int]] = [set() for _ in range(n)]
    for i, j in edges:
        adj[i].add(j)
        adj[j].add(i)
    colour = np.full(n, -1)
    sat: list[set[int]] = [set() for _ in range(n)]
    # a heap of (-saturation, -degree, node) with lazy updates: the same choice as a scan for the
    # maximum, in O((n + edges) log n)
    heap = [(0, -len(adj[k]), k) for k in range(n)]
    heapq.heapify(heap)
    while heap:
        s_neg, _, best = heapq.heappop(heap)
        if colour[best] >= 0 or -s_neg != len(sat[best]):
            continue  # coloured already, or a stale entry
        c = 0
        while c in sat[best]:
            c += 1
        if max_colours is not None and c >= max_colours:
            raise PackingError(
                f"max_fields = {max_colours} is too few: particle {best} has neighbours on "
                f"{len(sat[best])} fields within the safety distance; raise max_fields or lower "
                "the safety distance"
            )
        colour[best] = c
        for k in adj[best]:
            if colour[k] < 0 and c not in sat[k]:
                sat[k].add(c)
                heapq.heappush(heap, (-len(sat[k]), -len(adj[k]), k))
    return colour


# ----------------------------------------------------------------------------------------------
# Orientations and sizes
# ----------------------------------------------------------------------------------------------
def random_quaternions(n: int, rng: np.random.Generator) -> np.ndarray:
    """Uniformly distributed unit quaternions (Shoemake 1992, Graphics Gems III)."""
    u1, u2, u3 = rng.random((3, n))
    a, b = np.sqrt(1 - u1), np.sqrt(u1)
    return np.stack(
        [
            a * np.sin(2 * np.pi * u2),
            a * np.cos(2 * np.pi * u2),
            b * np.sin(2 * np.pi * u3),
            b * np.cos(2 * np.pi * u3),
        ],
        axis=-1,
    )


def orientations(n: int, ndim: int, mode: str | float, rng: np.random.Generator) -> np.ndarray:
    """``mode``: "aligned", "random", or a spread in degrees (normal about alignment)."""
    if mode == "aligned":
        return np.zeros(n) if ndim == 2 else np.tile([1.0, 0.0, 0.0, 0.0], (n, 1))
    if mode == "random":
        if ndim == 2:
            return rng.uniform(0.0, np.pi / 2, n)
        return random_quaternions(n, rng)
    try:
        spread = math.radians(float(mode))
    except (TypeError, ValueError):
        raise PackingError(
            f"orientation = {mode!r}; allowed: 'aligned', 'random' or a spread in degrees"
        ) from None
    if not spread >= 0:
        raise PackingError(f"orientation spread = {mode} degrees; allowed: >= 0")
    if ndim == 2:
        return rng.normal(0.0, spread, n)
    # Small rotations about random axes: q = (cos(a/2), sin(a/2) u).
    axis = rng.normal(size=(n, 3))
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    ang = rng.normal(0.0, spread, n)
    return np.concatenate([np.cos(ang / 2)[:, None], np.sin(ang / 2)[:, None] * axis], axis=1)


def _radii(n: int, radius: float, spread: float, rng: np.random.Generator) -> np.ndarray:
    if not radius > 0:
        raise PackingError(f"radius = {radius}; allowed: > 0")
    if not 0 <= spread < radius / 2:
        raise PackingError(f"size spread = {spread}; allowed: 0 <= spread < radius / 2")
    if spread == 0:
        return np.full(n, float(radius))
    # Normal sizes truncated at +-2 sigma (a sample never has negative or huge particles).
    r = rng.normal(radius, spread, n)
    return np.clip(r, radius - 2 * spread, radius + 2 * spread)


# ----------------------------------------------------------------------------------------------
# Lattices, chains, random packings
# ----------------------------------------------------------------------------------------------
def _lattice(points, box, radius, spread, orientation, seed, ndim=2) -> Packing:
    rng = np.random.default_rng(seed)
    pts = np.asarray(points, float)
    return Packing(
        pts,
        _radii(len(pts), radius, spread, rng),
        orientations(len(pts), ndim, orientation, rng),
        tuple(float(b) for b in box),
    )


def square_superlattice(
    n_rows: int,
    n_cols: int,
    radius: float,
    gap: float,
    *,
    size_spread: float = 0.0,
    orientation: str | float = "aligned",
    seed: int = 0,
    spacing: float = 1.0,
) -> Packing:
    """A periodic square array of discs, nearest surfaces ``gap`` apart (mean size).

    The lattice constant is rounded up to whole cells of ``spacing`` so the array is periodic.
    """
    _check_counts(n_rows, n_cols)
    a = _whole(2 * radius + gap, spacing, "2 * radius + gap")
    pts = [((j + 0.5) * a, (i + 0.5) * a) for i in range(n_rows) for j in range(n_cols)]
    return _lattice(pts, (n_cols * a, n_rows * a), radius, size_spread, orientation, seed)


def hex_monolayer(
    n_rows: int,
    n_cols: int,
    radius: float,
    gap: float,
    *,
    size_spread: float = 0.0,
    orientation: str | float = "aligned",
    seed: int = 0,
    spacing: float = 1.0,
) -> Packing:
    """A periodic hexagonal (triangular) monolayer, nearest surfaces ``gap`` apart.

    Rows alternate by half a lattice constant; ``n_rows`` must be even for periodicity. The box is
    rounded to whole cells, which strains the lattice by under half a cell per box length.
    """
    _check_counts(n_rows, n_cols)
    if n_rows % 2:
        raise PackingError(f"n_rows = {n_rows}; allowed: an even number (periodic hexagonal rows)")
    a = 2 * radius + gap
    if not a > 0:
        raise PackingError(f"gap = {gap}; allowed: > -2 * radius")
    lx = _whole(n_cols * a, spacing, "n_cols * (2 radius + gap)")
    ly = _whole(n_rows * a * math.sqrt(3) / 2, spacing, "row height")
    ax, ay = lx / n_cols, ly / n_rows
    pts = [
        ((j + 0.25 + 0.5 * (i % 2)) * ax, (i + 0.5) * ay)
        for i in range(n_rows)
        for j in range(n_cols)
    ]
    return _lattice(pts, (lx, ly), radius, size_spread, orientation, seed)


def chain(
    n: int,
    radius: float,
    gap: float,
    *,
    ndim: int = 2,
    margin: float = 8.0,
    size_spread: float = 0.0,
    orientation: str | float = "aligned",
    seed: int = 0,
    spacing: float = 1.0,
) -> Packing:
    """``n`` particles in a straight periodic chain along axis 0 (``margin`` of vapour across)."""
    _check_counts(n, 1)
    a = _whole(2 * radius + gap, spacing, "2 * radius + gap")
    across = _whole(2 * radius + margin, spacing, "2 * radius + margin")
    pts = [((k + 0.5) * a,) + (across / 2,) * (ndim - 1) for k in range(n)]
    box = (n * a,) + (across,) * (ndim - 1)
    return _lattice(pts, box, radius, size_spread, orientation, seed, ndim)


def random_packing(
    n: int,
    box: Sequence[float],
    radius: float,
    *,
    size_spread: float = 0.0,
    min_gap: float = 0.0,
    orientation: str | float = "random",
    seed: int = 0,
    max_tries: int = 200_000,
) -> Packing:
    """Random sequential addition of ``n`` particles (2D or 3D) in a periodic box.

    Larger particles are placed first; each new particle keeps at least ``min_gap`` (negative:
    at most that overlap) from every placed one. Raises `PackingError` when the box is too
    crowded for ``n`` (random sequential addition jams near 55% (2D) / 38% (3D) filling).
    """
    rng = np.random.default_rng(seed)
    box = np.asarray(box, float)
    d = len(box)
    if d not in (2, 3):
        raise PackingError(f"box = {tuple(box)}; allowed: 2 or 3 lengths")
    radii = np.sort(_radii(n, radius, size_spread, rng))[::-1]
    centres = np.zeros((n, d))
    placed, tries = 0, 0
    while placed < n:
        tries += 1
        if tries > max_tries:
            vol = (np.pi if d == 2 else 4 * np.pi / 3) * np.sum(radii[:placed] ** d)
            raise PackingError(
                f"random_packing: placed {placed} of {n} particles after {max_tries} tries "
                f"(filling {vol / np.prod(box):.0%}); enlarge the box, lower n or min_gap"
            )
        c = rng.random(d) * box
        if placed:
            diff = centres[:placed] - c
            diff -= box * np.round(diff / box)
            dist = np.sqrt(np.sum(diff**2, axis=1)) - radii[:placed] - radii[placed]
            if np.any(dist < min_gap):
                continue
        centres[placed] = c
        placed += 1
    return Packing(centres, radii, orientations(n, d, orientation, rng), tuple(map(float, box)))


def random_cluster(
    n: int,
    radius: float,
    *,
    ndim: int = 2,
    gap: float = 0.0,
    margin: float = 8.0,
    size_spread: float = 0.0,
    orientation: str | float = "random",
    seed: int = 0,
    candidates: int = 64,
) -> Packing:
    """A free random cluster of ``n`` touching particles (2D or 3D) with ``margin`` of vapour on
    every side: a compact random aggregate, whose densification `envelope_density` measures.

    Particles are added one at a time: each is put against a random placed particle (surface
    distance ``gap``, negative: an overlap) in ``candidates`` random directions, and the
    candidate nearest the cluster's centroid that keeps ``gap`` from every placed particle is
    taken (larger particles first). Every particle touches at least one earlier one, so the
    cluster is connected; choosing the innermost site keeps it compact (about 0.7 solid in 2D,
    0.5 in 3D). The box holds the cluster plus ``margin`` per side, rounded up to whole cells.
    """
    _check_counts(n)
    if ndim not in (2, 3):
        raise PackingError(f"ndim = {ndim}; allowed: 2 or 3")
    if not margin >= 0:
        raise PackingError(f"margin = {margin}; allowed: >= 0")
    rng = np.random.default_rng([seed, 11])
    radii = np.sort(_radii(n, radius, size_spread, rng))[::-1]
    if not 2 * radius + gap > 0:
        raise PackingError(f"gap = {gap}; allowed: > -2 * radius")
    centres = np.zeros((n, ndim))
    for i in range(1, n):
        anchor = rng.integers(0, i, candidates)
        u = rng.normal(size=(candidates, ndim))
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        trial = centres[anchor] + (radii[anchor] + radii[i] + gap)[:, None] * u
        dist = np.linalg.norm(trial[:, None, :] - centres[None, :i, :], axis=-1)
        ok = np.all(dist - radii[None, :i] - radii[i] >= gap - 1e-9 * radius, axis=1)
        if not ok.any():  # every try blocked: more directions around every particle
            anchor = np.repeat(np.arange(i), 32)
            u = rng.normal(size=(len(anchor), ndim))
            u /= np.linalg.norm(u, axis=1, keepdims=True)
            trial = centres[anchor] + (radii[anchor] + radii[i] + gap)[:, None] * u
            dist = np.linalg.norm(trial[:, None, :] - centres[None, :i, :], axis=-1)
            ok = np.all(dist - radii[None, :i] - radii[i] >= gap - 1e-9 * radius, axis=1)
        centroid = np.average(centres[:i], axis=0, weights=radii[:i] ** ndim)
        d2 = np.where(ok, np.sum((trial - centroid) ** 2, axis=1), np.inf)
        centres[i] = trial[int(np.argmin(d2))]
    lo = np.min(centres - radii[:, None], axis=0)
    hi = np.max(centres + radii[:, None], axis=0)
    box = np.ceil(hi - lo + 2 * margin - 1e-9)
    centres += (box - (hi - lo)) / 2 - lo  # centred: at least ``margin`` on every side
    return Packing(
        centres, radii, orientations(n, ndim, orientation, rng), tuple(float(b) for b in box)
    )


def _check_counts(*counts: int) -> None:
    for c in counts:
        if not (isinstance(c, int | np.integer) and c >= 1):
            raise PackingError(f"particle count {c!r}; allowed: an integer >= 1")


def _whole(length: float, spacing: float, what: str) -> float:
    if not length > 0:
        raise PackingError(f"{what} = {length}; allowed: > 0")
    return math.ceil(length / spacing - 1e-9) * spacing


__all__ = [
    "Packing",
    "PackingError",
    "chain",
    "colour_graph",
    "hex_monolayer",
    "orientations",
    "random_cluster",
    "random_packing",
    "random_quaternions",
    "square_superlattice",
]
