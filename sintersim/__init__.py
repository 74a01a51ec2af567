"""sintersim: phase-field sintering of nanocrystals in JAX.

State: a conserved density ``rho`` plus grain order parameters ``eta_i`` (with orientations).
Energy first: chemical potentials and torques come from autodiff of the free energy
(`model`); `solver` steps the Cahn-Hilliard / Allen-Cahn equations inside one compiled loop;
`scenario` assembles a model from a TOML config in physical units and runs it; `fit`
calibrates parameters against measured neck-growth traces.

The top level holds the core names; everything else lives in the sub-namespaces:
`model`, `solver`, `calibrate`, `materials`, `observables`, `packing`, `scenario`, `fit`, `io`,
`orientation`, `initial`, `grains`, `constants`.
"""

from sintersim import (
    calibrate,
    constants,
    fit,
    grains,
    initial,
    io,
    materials,
    model,
    observables,
    orientation,
    packing,
    scenario,
    solver,
)
from sintersim._version import __version__
from sintersim.grid import Grid
from sintersim.initial import particles, two_particles
from sintersim.model import Mobility, SinterModel, WangEnergy
from sintersim.scenario import build, load_config, loads_config, simulate
from sintersim.solver import SaveAt, SemiImplicitFourier, Solution, integrate, run_batch
from sintersim.state import State

__all__ = [
    "Grid",
    "Mobility",
    "SaveAt",
    "SemiImplicitFourier",
    "SinterModel",
    "Solution",
    "State",
    "WangEnergy",
    "__version__",
    "build",
    "calibrate",
    "constants",
    "fit",
    "grains",
    "initial",
    "integrate",
    "io",
    "load_config",
    "loads_config",
    "materials",
    "model",
    "observables",
    "orientation",
    "packing",
    "particles",
    "run_batch",
    "scenario",
    "simulate",
    "solver",
    "two_particles",
]
