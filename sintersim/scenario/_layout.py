"""``[particles]`` -> the particles of a run: a pair, a chain, a lattice, a random packing or
cluster, or a CSV.

Every layout becomes a `sintersim.packing.Packing` in grid cells (the run's internal length
unit is one cell), so every run, pair or packing, has the same particle table: centres, radii,
orientations, and the order parameter each particle starts on. A particle's index is its grain
id (`sintersim.packing.GrainTracker` keeps it through re-assignment and resume).

The box: a pair and the CSV layout use ``grid.shape``; a chain and the lattices make their own
periodic box (rounded to whole cells), a random packing takes ``grid.shape`` or makes a
square/cubic box of the requested ``packing_fraction``, and a random cluster (a free aggregate,
`sintersim.packing.random_cluster`) makes a box of its extent plus ``margin_nm`` per side, or sits
centred in a larger ``grid.shape``. `layout_shape` gives that box when the
config leaves ``grid.shape`` out (the resolved config then states it).

Orientations: in 2D an angle (radians), in 3D a unit quaternion (w, x, y, z). A field of the
model carries one crystal orientation, so with ``[orientation]`` enabled only particles of equal
orientation may share an order parameter (`assign_fields`).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sintersim.grid import Grid
from sintersim.initial import two_particle_centres
from sintersim.orientation import axis_angle
from sintersim.packing._layouts import (
    Packing,
    PackingError,
    chain,
    colour_graph,
    hex_monolayer,
    orientations,
    random_cluster,
    random_packing,
    square_superlattice,
)
from sintersim.scenario._schema import ConfigError

PAIR_SHAPE = [64, 40]  # grid.shape of a pair when the config gives none


def _need(p: Mapping[str, Any], *keys: str) -> None:
    for k in keys:
        if p[k] is None:
            raise ConfigError(f"particles.{k} is required for particles.layout = {p['layout']!r}")


def _margin_cells(values: Mapping[str, Mapping[str, Any]]) -> float:
    p, dx = values["particles"], values["grid"]["spacing_nm"]
    m = p["margin_nm"]
    return (4.0 * values["model"]["interface_width_nm"] if m is None else m) / dx


def _orientation_mode(p: Mapping[str, Any]) -> str | float:
    o = p["orientation"]
    if isinstance(o, str):
        if o.lower() not in ("aligned", "random"):
            raise ConfigError(
                f"particles.orientation = {o!r}; allowed: 'aligned', 'random' or a spread in "
                "degrees [0, 180]"
            )
        return o.lower()
    if not 0.0 <= o <= 180.0:
        raise ConfigError(f"particles.orientation = {o!r} degrees; allowed: [0, 180]")
    return float(o)


def _lattice_2d(values, spacing: float = 1.0) -> Packing:
    """The 2D lattice or chain of the config, in cells (radii, gaps in cells)."""
    p, dx = values["particles"], values["grid"]["spacing_nm"]
    r, gap, spread = p["radius_nm"] / dx, p["gap_nm"] / dx, p["size_spread_nm"] / dx
    kw = dict(size_spread=spread, orientation="aligned", seed=p["seed"], spacing=spacing)
    if p["layout"] == "chain":
        _need(p, "count")
        return chain(p["count"], r, gap, ndim=2, margin=_margin_cells(values), **kw)
    _need(p, "rows", "cols")
    make = hex_monolayer if p["layout"] == "hex_monolayer" else square_superlattice
    return make(p["rows"], p["cols"], r, gap, **kw)


def _cluster(values, d: int) -> Packing:
    """The random cluster of the config, in its own box (cells)."""
    p, dx = values["particles"], values["grid"]["spacing_nm"]
    _need(p, "count")
    return random_cluster(
        p["count"],
        p["radius_nm"] / dx,
        ndim=d,
        gap=p["gap_nm"] / dx,
        margin=_margin_cells(values),
        size_spread=p["size_spread_nm"] / dx,
        orientation=_orientation_mode(p),
        seed=p["seed"],
    )


def _ndim(values) -> int:
    shape = values["grid"]["shape"]
    return len(shape) if shape is not None else values["particles"]["dimensions"]


def layout_shape(values: Mapping[str, Mapping[str, Any]]) -> list[int]:
    """``grid.shape`` of the layout's own box (the config gave none)."""
    p, dx = values["particles"], values["grid"]["spacing_nm"]
    layout, d = p["layout"], _ndim(values)
    if layout == "pair":
        return list(PAIR_SHAPE)
    if layout == "file":
        raise ConfigError("particles.layout = 'file' needs grid.shape (the box of the centres)")
    if layout == "random_cluster":
        return [round(b) for b in _cluster(values, d).box]
    if layout == "random_packing":
        _need(p, "count")
        if p["packing_fraction"] is None:
            raise ConfigError(
                "particles.layout = 'random_packing' needs grid.shape or particles.packing_fraction"
            )
        r, s = p["radius_nm"] / dx, p["size_spread_nm"] / dx
        ball = math.pi if d == 2 else 4.0 * math.pi / 3.0
        # E[r^d] of the normal radii (the truncation at 2 sigma changes it by < 1 %)
        mean = r**2 + s**2 if d == 2 else r**3 + 3 * r * s**2
        side = (p["count"] * ball * mean / p["packing_fraction"]) ** (1.0 / d)
        return [math.ceil(side - 1e-9)] * d
    try:
        lat = _lattice_2d(values)
    except PackingError as e:
        raise ConfigError(f"particles: {e}") from None
    shape = [round(b) for b in lat.box]
    if d == 3:
        if layout == "chain":
            shape[1:] = [shape[1]] * 2
        else:  # a layer of spheres: vapour above and below
            shape.append(math.ceil(2 * p["radius_nm"] / dx + _margin_cells(values) - 1e-9))
    return shape


def make_packing(values: Mapping[str, Mapping[str, Any]], shape: tuple[int, ...]) -> Packing:
    """The particles of ``[particles]`` in the box ``shape`` (cells): centres, radii,
    orientations (all in cells; angles in radians, quaternions (w, x, y, z))."""
    p, dx = values["particles"], values["grid"]["spacing_nm"]
    layout, d = p["layout"], len(shape)
    rng = np.random.default_rng([p["seed"], 7])  # orientations: their own stream
    mode = _orientation_mode(p)
    box = tuple(float(n) for n in shape)
    try:
        if layout == "pair":
            r1 = p["radius_nm"] / dx
            r2 = (p["radius2_nm"] or p["radius_nm"]) / dx
            try:
                c = two_particle_centres(Grid(tuple(shape), 1.0), r1, r2, p["gap_nm"] / dx)
            except ValueError:
                box_nm = " x ".join(f"{n * dx:g}" for n in shape)
                raise ConfigError(
                    f"particles.radius_nm = {p['radius_nm']:g}, radius2_nm = {p['radius2_nm']}, "
                    f"gap_nm = {p['gap_nm']:g}: the pair does not fit in the box grid.shape x "
                    f"grid.spacing_nm = {box_nm} nm; allowed: centre distance (radius + "
                    f"radius2 + gap = {(r1 + r2) * dx + p['gap_nm']:g} nm) + 2 x the larger "
                    f"radius ({2 * max(r1, r2) * dx:g} nm) <= the first length, 2 x the larger "
                    "radius <= each other length (the pair is centred)"
                ) from None
            ori = np.zeros(2) if d == 2 else np.tile([1.0, 0.0, 0.0, 0.0], (2, 1))
            return Packing(np.asarray(c, float), np.asarray([r1, r2]), ori, box)
        if layout == "file":
            return _read_csv(Path(p["file"]), dx, box, mode, rng)
        if layout == "random_cluster":
            pk = _cluster(values, d)
            shift = (np.asarray(box) - np.asarray(pk.box)) / 2
            if np.any(shift < 0):
                raise ConfigError(
                    f"grid.shape = {list(shape)}: the random cluster needs "
                    f"{[round(b) for b in pk.box]} cells (its extent plus margin_nm per side); "
                    "allowed: omit grid.shape or give at least that"
                )
            return Packing(pk.centres + np.floor(shift), pk.radii, pk.orientations, box)
        if layout == "random_packing":
            _need(p, "count")
            return random_packing(
                p["count"],
                box,
                p["radius_nm"] / dx,
                size_spread=p["size_spread_nm"] / dx,
                min_gap=p["min_gap_nm"] / dx,
                orientation=mode,
                seed=p["seed"],
            )
        lat = _lattice_2d(values)
        centres = lat.centres
        if d == 3:
            z = np.full((lat.n, 1), box[2] / 2 if layout != "chain" else box[1] / 2)
            centres = np.concatenate([centres, z], axis=1)
            if layout == "chain":
                centres[:, 1] = box[1] / 2
        return Packing(centres, lat.radii, orientations(lat.n, d, mode, rng), box)
    except PackingError as e:
        raise ConfigError(f"particles: {e}") from None


def _read_csv(path: Path, dx: float, box, mode, rng) -> Packing:
    """Centres (nm), radii (nm) and optional orientations from a CSV exported from images."""
    d = len(box)
    axes = ["x_nm", "y_nm", "z_nm"][:d]
    try:
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as e:
        raise ConfigError(f"particles.file = {str(path)!r} cannot be read: {e.strerror}") from None
    if not rows:
        raise ConfigError(f"particles.file = {str(path)!r} has no particle rows")
    cols = set(rows[0])
    missing = [c for c in (*axes, "radius_nm") if c not in cols]
    if missing:
        raise ConfigError(
            f"particles.file = {str(path)!r} lacks column(s) {', '.join(missing)}; needs "
            f"{', '.join(axes)}, radius_nm (and optionally orientation columns)"
        )

    def num(i, row, key):
        try:
            v = float(row[key])
        except (TypeError, ValueError):
            raise ConfigError(
                f"particles.file {path.name}, row {i + 2}: {key} = {row[key]!r} is not a number"
            ) from None
        if not math.isfinite(v):
            raise ConfigError(f"particles.file {path.name}, row {i + 2}: {key} = {v} not finite")
        return v

    centres = np.asarray([[num(i, r, a) / dx for a in axes] for i, r in enumerate(rows)])
    radii = np.asarray([num(i, r, "radius_nm") / dx for i, r in enumerate(rows)])
    if np.any(radii <= 0):
        i = int(np.argmax(radii <= 0))
        raise ConfigError(f"particles.file {path.name}, row {i + 2}: radius_nm must be > 0")
    lengths = np.asarray(box)
    outside = np.nonzero(np.any((centres < 0) | (centres >= lengths), axis=1))[0]
    if len(outside):
        i = int(outside[0])
        raise ConfigError(
            f"particles.file {path.name}, row {i + 2}: centre "
            f"{tuple(np.round(centres[i] * dx, 4))} nm lies outside the box [0, "
            f"{tuple(lengths * dx)}) nm (grid.shape x grid.spacing_nm)"
        )
    n = len(rows)
    if d == 2 and "angle_deg" in cols:
        ori = np.radians([num(i, r, "angle_deg") for i, r in enumerate(rows)])
    elif d == 3 and {"qw", "qx", "qy", "qz"} <= cols:
        q = np.asarray(
            [[num(i, r, k) for k in ("qw", "qx", "qy", "qz")] for i, r in enumerate(rows)]
        )
        norm = np.linalg.norm(q, axis=1)
        if np.any(norm < 1e-12):
            raise ConfigError(f"particles.file {path.name}: a quaternion (qw, qx, qy, qz) is zero")
        ori = q / norm[:, None]
    elif d == 3 and {"axis_x", "axis_y", "axis_z", "angle_deg"} <= cols:
        ori = np.stack(
            [
                axis_angle(
                    [num(i, r, k) for k in ("axis_x", "axis_y", "axis_z")], num(i, r, "angle_deg")
                )
                for i, r in enumerate(rows)
            ]
        )
    else:
        ori = orientations(n, d, mode, rng)
    return Packing(centres, radii, np.asarray(ori, float), tuple(box))


def assign_fields(
    packing: Packing, safety: float, by_orientation: bool, max_fields: int | None = None
) -> np.ndarray:
    """Order parameter of every particle: no two particles closer than ``safety`` (surface to
    surface, cells) share one, and with ``by_orientation`` only particles of equal orientation
    do (each group of equal orientations is coloured on its own fields)."""
    if not by_orientation:
        return packing.assign_fields(safety, max_fields)
    ori = np.asarray(packing.orientations).reshape(packing.n, -1)
    _, group = np.unique(np.round(ori, 12), axis=0, return_inverse=True)
    group = np.asarray(group).reshape(-1)
    edges = packing.neighbours(safety)
    fields = np.zeros(packing.n, int)
    offset = 0
    for g in range(int(group.max()) + 1):
        members = np.nonzero(group == g)[0]
        index = {int(k): i for i, k in enumerate(members)}
        sub = [(index[i], index[j]) for i, j in edges if i in index and j in index]
        colours = colour_graph(len(members), sub)
        fields[members] = colours + offset
        offset += int(colours.max()) + 1
    if max_fields is not None and offset > max_fields:
        raise PackingError(f"the orientations need {offset} order parameters; max {max_fields}")
    return fields
