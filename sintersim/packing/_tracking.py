"""Grain identity through a run: ids that survive field re-assignment, stitching and resume.

A grain is a connected core (``eta_f > 1/2``) of one order parameter. Fields are shared by
distant grains and a grain may be moved to another field (`reassign`), so the field is not an
identity. The tracker keeps a map of grain ids on the grid; at every save-point each core takes
the id that covered most of its cells in the previous map. Matching by place, not by field, is
what makes an id survive a re-assignment: the move swaps field values, the cells stay. Between
save-points grains usually move by a small part of their size, so the overlap is unambiguous.
Where it is not (rigid-body motion in its fast limit moved a chain's end grain 10 cells between
two saves, mostly into its neighbour's old cells), a core takes, among the previous grains it
overlaps, one on its own field first: a grain changes field only by re-assignment, and then it
overlaps no grain of its new field (fields keep their grains apart).

* A core that overlaps no earlier grain is a new grain (a new id, ``parent = -1``).
* Two cores that claim one id (a grain split): the larger overlap keeps it, the other gets a new
  id with ``parent`` the old one.
* An id no core claims has ended (consumed by boundary migration, or stitched into a neighbour):
  its ``ended_s`` is set and ``merged_into`` names the grain that now covers most of its cells.

Initial ids are particle indices: the core holding particle k's centre gets id k. The state of
the tracker (id map, next id, table) is part of the checkpoint, so a resumed run continues with
the same ids.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np

from sintersim.observables._labels import periodic_label


@dataclasses.dataclass
class GrainRecord:
    """One grain's history: born (s), ended (s, None while alive), the grain it split from
    (``parent``) and the one it merged into; ``particles``: the particles it started from."""

    born_s: float
    parent: int = -1
    ended_s: float | None = None
    merged_into: int = -1
    particles: list[int] = dataclasses.field(default_factory=list)


def core_code(field: int, label: Any, grid_shape: tuple[int, ...]) -> Any:
    """The code of component ``label`` (a label or an array of them) of order parameter
    ``field`` (see `core_labels`)."""
    return field * (int(np.prod(grid_shape)) + 1) + label


def code_field(code: int, grid_shape: tuple[int, ...]) -> int:
    """The field of a core code (the inverse of `core_code` in its first argument)."""
    return code // (int(np.prod(grid_shape)) + 1)


def _fields_of(code_ids: dict[int, int], grid_shape: tuple[int, ...]) -> dict[int, int]:
    """id -> field from a map core code -> id."""
    return {i: code_field(c, grid_shape) for c, i in code_ids.items()}


def core_labels(eta: np.ndarray, threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """(field, code) maps of the grain cores: ``field`` the largest order parameter per cell,
    ``code`` a unique positive integer per (field, component) where that parameter exceeds
    ``threshold`` (0 elsewhere). Codes are ``f * stride + label``; ``stride`` = cells + 1."""
    eta = np.asarray(eta)
    top = np.argmax(eta, axis=0)
    code = np.zeros(eta.shape[1:], np.int64)
    for f in range(eta.shape[0]):
        labels, n = periodic_label(eta[f] > threshold)
        if n:
            mine = (labels > 0) & (top == f)
            code[mine] = core_code(f, labels[mine], eta.shape[1:])
    return top, code


class GrainTracker:
    """Grain ids on the grid (see the module docstring). ``id_map``: int32, -1 = no grain."""

    def __init__(
        self,
        id_map: np.ndarray,
        table: dict[int, GrainRecord],
        next_id: int,
        extra: dict | None = None,
        code_ids: dict[int, int] | None = None,
        id_fields: dict[int, int] | None = None,
    ):
        self.id_map = np.asarray(id_map, np.int32)
        self.table = table
        self.next_id = int(next_id)
        self.extra = {} if extra is None else extra  # what a driver keeps with the ids
        self.code_ids = {} if code_ids is None else code_ids  # core code -> id, last update
        # id -> its field at the last update (the matching's tie-break; in the checkpoint):
        # given (a resumed run), or read off the core codes
        if id_fields is None:
            id_fields = _fields_of(self.code_ids, self.id_map.shape)
        self.id_fields = id_fields

    # -- creation and persistence ----------------------------------------------------------------
    @classmethod
    def start(cls, eta: np.ndarray, positions: np.ndarray, t_s: float = 0.0) -> GrainTracker:
        """Ids from particle indices: the core at particle k's centre (cells) is grain k; a
        particle whose centre lies in another particle's core (an overlap) joins that grain;
        cores without a particle centre get ids after the particles'."""
        _, code = core_labels(eta)
        n = len(positions)
        idx = np.floor(np.asarray(positions)).astype(int) % np.array(code.shape)
        at = code[tuple(idx.T)]
        id_of: dict[int, int] = {}
        table: dict[int, GrainRecord] = {}
        for k, c in enumerate(at.tolist()):
            if c == 0:
                continue
            if c in id_of:
                table[id_of[c]].particles.append(k)
            else:
                id_of[c] = k
                table[k] = GrainRecord(t_s, particles=[k])
        next_id = n
        for c in np.unique(code[code > 0]).tolist():
            if c not in id_of:
                id_of[c] = next_id
                table[next_id] = GrainRecord(t_s)
                next_id += 1
        return cls(_paint(code, id_of), table, next_id, code_ids=id_of)

    def to_json(self) -> str:
        grains = {k: dataclasses.asdict(v) for k, v in self.table.items()}
        doc = {"next_id": self.next_id, "grains": grains, "extra": self.extra}
        doc["fields"] = {str(k): int(v) for k, v in self.id_fields.items()}
        return json.dumps(doc)

    @classmethod
    def from_json(cls, text: str, id_map: np.ndarray) -> GrainTracker:
        doc = json.loads(text)
        table = {int(k): GrainRecord(**v) for k, v in doc["grains"].items()}
        fields = {int(k): int(v) for k, v in doc.get("fields", {}).items()}
        return cls(id_map, table, doc["next_id"], doc.get("extra", {}), id_fields=fields)

    # -- update -----------------------------------------------------------------------------------
    def update(self, eta: np.ndarray, t_s: float) -> np.ndarray:
        """Match the cores of ``eta`` to the previous ids; returns the new id map."""
        _, code = core_labels(eta)
        prev = self.id_map
        cells = (code > 0) & (prev >= 0)
        # overlap counts of (core code, previous id)
        pairs, counts = np.unique(
            np.stack([code[cells], prev[cells].astype(np.int64)]), axis=1, return_counts=True
        )
        # code -> (id, (on the id's own field, overlap)): own field first, then overlap
        best: dict[int, tuple[int, tuple[bool, int]]] = {}
        for c, i, k in zip(pairs[0].tolist(), pairs[1].tolist(), counts.tolist(), strict=True):
            rank = (self.id_fields.get(i, -1) == code_field(c, code.shape), k)
            if c not in best or rank > best[c][1]:
                best[c] = (i, rank)
        claims: dict[int, list[tuple[int, int]]] = {}
        for c, (i, (_, k)) in best.items():  # cores claiming one id (a split): by overlap
            claims.setdefault(i, []).append((k, c))
        id_of: dict[int, int] = {}
        for i, cl in claims.items():
            cl.sort(reverse=True)
            id_of[cl[0][1]] = i
            for _, c in cl[1:]:  # a split: the smaller part is a new grain
                id_of[c] = self._new(t_s, parent=i)
        for c in np.unique(code[code > 0]).tolist():
            if c not in id_of:
                id_of[c] = self._new(t_s)
        new = _paint(code, id_of)
        alive = set(id_of.values())
        for i, rec in self.table.items():
            if rec.ended_s is None and i not in alive:
                rec.ended_s = float(t_s)
                where = new[prev == i]
                where = where[where >= 0]
                rec.merged_into = int(np.bincount(where).argmax()) if where.size else -1
        self.id_map = new
        self.code_ids = id_of
        self.id_fields = _fields_of(id_of, code.shape)
        return new

    def _new(self, t_s: float, parent: int = -1) -> int:
        i = self.next_id
        self.table[i] = GrainRecord(float(t_s), parent=parent)
        self.next_id += 1
        return i

    # -- per-grain quantities ---------------------------------------------------------------------
    def ids_of(self, grains, grid_shape: tuple[int, ...]) -> list[int]:
        """Ids of grains given as (field, core label) at the last update (-1: none)."""
        return [self.code_ids.get(core_code(f, a, grid_shape), -1) for f, a in grains]

    def alive(self) -> list[int]:
        return sorted(i for i, r in self.table.items() if r.ended_s is None)

    def fields(self, eta: np.ndarray) -> dict[int, int]:
        """The field every live grain is on now (the largest order parameter in its cells)."""
        eta = np.asarray(eta)
        top = np.argmax(eta, axis=0)
        m = self.id_map >= 0
        n_f = eta.shape[0]
        keys, counts = np.unique(self.id_map[m].astype(np.int64) * n_f + top[m], return_counts=True)
        out: dict[int, tuple[int, int]] = {}
        for key, k in zip(keys.tolist(), counts.tolist(), strict=True):
            i, f = divmod(key, n_f)
            if i not in out or k > out[i][1]:
                out[i] = (f, k)
        return {i: f for i, (f, _) in out.items()}


def _paint(code: np.ndarray, id_of: dict[int, int]) -> np.ndarray:
    """The id map: each core code replaced by its id, -1 where there is no core."""
    out = np.full(code.shape, -1, np.int32)
    if id_of:
        keys = np.fromiter(id_of.keys(), np.int64)
        vals = np.fromiter(id_of.values(), np.int64)
        order = np.argsort(keys)
        keys, vals = keys[order], vals[order]
        m = code > 0
        pos = np.searchsorted(keys, code[m])
        out[m] = vals[pos]
    return out


__all__ = ["GrainRecord", "GrainTracker", "core_labels"]
