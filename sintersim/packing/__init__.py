"""Many-particle starts (chains, lattices, random packings, free clusters), field re-assignment,
run loop."""

from sintersim.packing._layouts import (
    Packing,
    PackingError,
    chain,
    colour_graph,
    hex_monolayer,
    orientations,
    random_cluster,
    random_packing,
    random_quaternions,
    square_superlattice,
)
from sintersim.packing._reassign import (
    Move,
    ReassignError,
    close_pairs,
    fields_at,
    reassign,
    touching_pairs_share_field,
)
from sintersim.packing._run import (
    PackingHistory,
    PackingRunError,
    run_packing,
)
from sintersim.packing._tracking import GrainRecord, GrainTracker, core_labels

__all__ = [
    "GrainRecord",
    "GrainTracker",
    "Move",
    "Packing",
    "PackingError",
    "PackingHistory",
    "PackingRunError",
    "ReassignError",
    "chain",
    "close_pairs",
    "colour_graph",
    "core_labels",
    "fields_at",
    "hex_monolayer",
    "orientations",
    "random_cluster",
    "random_packing",
    "random_quaternions",
    "reassign",
    "run_packing",
    "square_superlattice",
    "touching_pairs_share_field",
]
