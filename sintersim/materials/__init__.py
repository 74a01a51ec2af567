"""Material presets with literature sources; analytic sintering and surface-melting theory."""

from sintersim.materials._liquid_presets import (
    CDSE_SEED003_PF,
)
from sintersim.materials._melting import (
    CDSE_SEED003,
    CELSIUS_ZERO_K,
    SEED003_TARGETS,
    MeltingFit,
    MeltingTargets,
    SurfaceMeltingParameters,
    compare_targets,
    delta_G,
    fit_melting_parameters,
    flat_layer_thickness,
    layer_thickness,
    melting_temperature,
    onset_temperature,
    to_kelvin,
)
from sintersim.materials._presets import (
    MATERIALS,
    Arrhenius,
    Material,
    get_material,
)
from sintersim.materials._theory import (
    curvature_flow_radius2,
    dihedral_angle,
    herring_exponent,
    mullins_rate,
    neck_exponent_classic,
)

__all__ = [
    "Arrhenius",
    "CDSE_SEED003",
    "CDSE_SEED003_PF",
    "CELSIUS_ZERO_K",
    "MATERIALS",
    "Material",
    "MeltingFit",
    "MeltingTargets",
    "SEED003_TARGETS",
    "SurfaceMeltingParameters",
    "compare_targets",
    "curvature_flow_radius2",
    "delta_G",
    "dihedral_angle",
    "fit_melting_parameters",
    "flat_layer_thickness",
    "get_material",
    "herring_exponent",
    "layer_thickness",
    "melting_temperature",
    "mullins_rate",
    "neck_exponent_classic",
    "onset_temperature",
    "to_kelvin",
]
