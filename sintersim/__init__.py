"""sintersim: phase-field sintering of nanocrystals in JAX.

State: a conserved density ``rho`` plus grain order parameters ``eta_i``. Energy first: chemical
potentials come from autodiff of `WangEnergy`; `SemiImplicitFourier` steps the Cahn-Hilliard /
Allen-Cahn equations; `integrate` runs them inside one compiled scan. Physical units go in through
`PhysicalParameters` / `nondimensionalize` (or a TOML config, see `sintersim.config`).
"""

from ._advection import RigidBody
from ._anisotropy import SurfaceAnisotropy
from ._batch import run_batch
from ._energy import WangEnergy
from ._fit import FitError, FitResult, Trace, fit, read_trace
from ._grid import Grid
from ._initial import particle_profile, particles, two_particle_centres, two_particles
from ._integrate import SaveAt, Solution, advance, integrate, plan_steps, state_ok
from ._interfaces import InterfaceProfile, grain_boundary_profile, surface_profile
from ._materials import MATERIALS, Arrhenius, Material, get_material
from ._melting import (
    CDSE_SEED003_PF,
    LiquidEnergy,
    LiquidMobility,
    PhysicalLiquid,
    liquid_fraction,
    physical_liquid,
    premelt_layer,
    premelt_sphere,
    sphere_melting_point,
)
from ._melting_theory import (
    CDSE_SEED003,
    SurfaceMeltingParameters,
    fit_melting_parameters,
    flat_layer_thickness,
    layer_thickness,
    melting_temperature,
    onset_temperature,
    to_kelvin,
)
from ._mobility import Mobility
from ._model import SinterModel
from ._observables import orientation_observables
from ._orientation import axis_angle, misorientation
from ._packing import (
    Packing,
    PackingError,
    chain,
    hex_monolayer,
    random_packing,
    square_superlattice,
)
from ._packing_obs import PackingObservables, packing_observables
from ._packing_run import PackingHistory, run_packing
from ._reassign import ReassignError, reassign
from ._rotation import GrainBoundaryLaw, Rotation, make_boundary_law, misorientation_matrix
from ._state import State
from ._stepper import SemiImplicitFourier, ThermalNoise
from ._sublimation import Sublimation, hertz_knudsen_velocity
from ._units import (
    K_B,
    Nondimensional,
    PhysicalParameters,
    Scales,
    grid_energy,
    mullins_coefficient,
    nondimensionalize,
    solve_shape,
)

__version__ = "0.1.0"

__all__ = [
    "CDSE_SEED003",
    "CDSE_SEED003_PF",
    "LiquidEnergy",
    "LiquidMobility",
    "PhysicalLiquid",
    "liquid_fraction",
    "physical_liquid",
    "premelt_layer",
    "premelt_sphere",
    "sphere_melting_point",
    "Sublimation",
    "hertz_knudsen_velocity",
    "SurfaceMeltingParameters",
    "fit_melting_parameters",
    "flat_layer_thickness",
    "layer_thickness",
    "melting_temperature",
    "onset_temperature",
    "to_kelvin",
    "K_B",
    "MATERIALS",
    "Arrhenius",
    "FitError",
    "FitResult",
    "GrainBoundaryLaw",
    "Grid",
    "InterfaceProfile",
    "Material",
    "Mobility",
    "Nondimensional",
    "Packing",
    "PackingError",
    "PackingHistory",
    "PackingObservables",
    "PhysicalParameters",
    "ReassignError",
    "RigidBody",
    "Rotation",
    "SaveAt",
    "Scales",
    "SemiImplicitFourier",
    "SinterModel",
    "Solution",
    "State",
    "SurfaceAnisotropy",
    "Trace",
    "ThermalNoise",
    "WangEnergy",
    "advance",
    "axis_angle",
    "chain",
    "fit",
    "get_material",
    "grain_boundary_profile",
    "grid_energy",
    "hex_monolayer",
    "integrate",
    "mullins_coefficient",
    "make_boundary_law",
    "misorientation",
    "misorientation_matrix",
    "orientation_observables",
    "nondimensionalize",
    "particle_profile",
    "particles",
    "plan_steps",
    "packing_observables",
    "random_packing",
    "reassign",
    "run_batch",
    "run_packing",
    "read_trace",
    "solve_shape",
    "square_superlattice",
    "state_ok",
    "surface_profile",
    "two_particle_centres",
    "two_particles",
]
