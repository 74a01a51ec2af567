"""The model: free-energy terms, mobility paths and kinetics in a `SinterModel` (pytrees)."""

from sintersim.model._anisotropy import (
    SurfaceAnisotropy,
    exponent_for_ratio,
    gauge,
    max_ratio,
    ratio_for_exponent,
)
from sintersim.model._base import (
    AbstractEnergyTerm,
    AbstractKinetics,
    AbstractLocalTerm,
    AbstractMobilityPath,
)
from sintersim.model._boundaries import (
    C_STAR,
    GrainBoundaryLaw,
    Stitching,
    read_shockley,
)
from sintersim.model._density_bounds import (
    FILM_FACTOR,
    DensityBounds,
)
from sintersim.model._energy import (
    WangEnergy,
)
from sintersim.model._labels import (
    dilate_labels,
    label_components,
)
from sintersim.model._liquid import (
    C_SL_MIN,
    Liquid,
    LiquidEnergy,
    LiquidPath,
    liquid_density,
    liquid_fraction,
)
from sintersim.model._mobility import (
    Mobility,
)
from sintersim.model._noise import (
    ThermalNoise,
)
from sintersim.model._rigid_body import (
    RigidBody,
    advect,
    grain_slots,
    velocities,
)
from sintersim.model._rotation import (
    Rotation,
    angular_velocity,
    torque,
)
from sintersim.model._sinter import (
    SinterModel,
)
from sintersim.model._sublimation import (
    Sublimation,
    hertz_knudsen_velocity,
)

__all__ = [
    "AbstractEnergyTerm",
    "AbstractKinetics",
    "AbstractLocalTerm",
    "AbstractMobilityPath",
    "C_SL_MIN",
    "DensityBounds",
    "FILM_FACTOR",
    "C_STAR",
    "GrainBoundaryLaw",
    "Liquid",
    "LiquidEnergy",
    "LiquidPath",
    "Mobility",
    "RigidBody",
    "Rotation",
    "SinterModel",
    "Stitching",
    "Sublimation",
    "SurfaceAnisotropy",
    "ThermalNoise",
    "WangEnergy",
    "advect",
    "dilate_labels",
    "label_components",
    "angular_velocity",
    "exponent_for_ratio",
    "gauge",
    "grain_slots",
    "hertz_knudsen_velocity",
    "liquid_density",
    "liquid_fraction",
    "max_ratio",
    "ratio_for_exponent",
    "read_shockley",
    "torque",
    "velocities",
]
