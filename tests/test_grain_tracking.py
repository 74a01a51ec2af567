"""Grain ids across save-points when grains move far (rigid-body motion's fast limit)."""

from __future__ import annotations

import numpy as np

from sintersim.packing._tracking import GrainTracker


def _discs(shape, centres, fields, radius, n_fields=2):
    eta = np.zeros((n_fields, *shape))
    yy, xx = np.meshgrid(np.arange(shape[0]) + 0.5, np.arange(shape[1]) + 0.5, indexing="ij")
    for (cy, cx), f in zip(centres, fields, strict=True):
        eta[f] = np.maximum(eta[f], ((yy - cy) ** 2 + (xx - cx) ** 2 < radius**2).astype(float))
    return eta


def test_a_grain_that_moves_into_its_neighbours_old_cells_keeps_its_id():
    """Disc A (field 0) jumps 9 cells towards disc B (field 1), which moves 2: A's new core
    covers more of B's old cells (29) than of its own (21). Matching by overlap alone gave A
    B's id and made B a 'split'; the own-field preference keeps both ids."""
    shape = (24, 48)
    before = _discs(shape, [(12, 10), (12, 21)], [0, 1], 5)
    tr = GrainTracker.start(before, np.array([[12, 10], [12, 21]]))
    after = _discs(shape, [(12, 19), (12, 29)], [0, 1], 5)
    # the cores: A overlaps its old cells less than B's old cells
    old = tr.id_map
    a_new = after[0] > 0.5
    assert np.sum(old[a_new] == 1) > np.sum(old[a_new] == 0) > 0
    new = tr.update(after, 1.0)
    assert new[12, 19] == 0 and new[12, 29] == 1
    assert tr.alive() == [0, 1] and tr.next_id == 2
    # and the preference survives a checkpoint
    again = GrainTracker.from_json(tr.to_json(), new)
    assert again.id_fields == tr.id_fields


def test_a_reassigned_grain_keeps_its_id_by_place():
    """A grain moved to another field (re-assignment) overlaps no grain of its new field: it
    keeps its id by overlap, as before."""
    shape = (24, 48)
    before = _discs(shape, [(12, 10), (12, 34)], [0, 1], 5)
    tr = GrainTracker.start(before, np.array([[12, 10], [12, 34]]))
    after = _discs(shape, [(12, 10), (12, 34)], [1, 0], 5)  # the two swap fields
    new = tr.update(after, 1.0)
    assert new[12, 10] == 0 and new[12, 34] == 1 and tr.next_id == 2
