"""Observables of a state: mass, grains, necks, orientations, packings, cluster density."""

from sintersim.observables._envelope import (
    envelope_density,
    envelope_points,
    envelope_volume,
)
from sintersim.observables._fields import (
    centre_distance,
    cross_sections,
    free_energy,
    grain_centres,
    grain_volumes,
    mass,
    neck_size,
    orientation_observables,
    projected_neck_width,
    two_particle_observables,
)
from sintersim.observables._labels import (
    nearest_label,
    periodic_centroid,
    periodic_distance,
    periodic_label,
)
from sintersim.observables._packing import (
    PackingObservables,
    packing_observables,
)

__all__ = [
    "PackingObservables",
    "centre_distance",
    "cross_sections",
    "envelope_density",
    "envelope_points",
    "envelope_volume",
    "free_energy",
    "grain_centres",
    "grain_volumes",
    "mass",
    "nearest_label",
    "neck_size",
    "orientation_observables",
    "packing_observables",
    "periodic_centroid",
    "periodic_distance",
    "periodic_label",
    "projected_neck_width",
    "two_particle_observables",
]
