"""Differentiable calibration against measured neck-growth traces."""

from sintersim.fit._corner import (
    plot_corner,
)
from sintersim.fit._optimise import (
    FitResult,
    fit,
    uncertainty,
)
from sintersim.fit._plot import (
    plot_fit,
)
from sintersim.fit._posterior import (
    Posterior,
    sample_posterior,
)
from sintersim.fit._problem import (
    FITTABLE,
    ParamSpec,
    Problem,
    refuse_unsupported,
)
from sintersim.fit._profile import (
    Profile,
    plot_profiles,
    profile_likelihood,
)
from sintersim.fit._traces import (
    FitError,
    Trace,
    read_trace,
)
from sintersim.fit._twin import (
    synthetic_trace,
)

__all__ = [
    "FITTABLE",
    "FitError",
    "FitResult",
    "ParamSpec",
    "Posterior",
    "Problem",
    "Profile",
    "Trace",
    "fit",
    "plot_corner",
    "plot_fit",
    "plot_profiles",
    "profile_likelihood",
    "read_trace",
    "refuse_unsupported",
    "sample_posterior",
    "synthetic_trace",
    "uncertainty",
]
