"""Differentiable calibration against measured neck-growth traces."""

from sintersim.fit._optimise import (
    FitResult,
    fit,
    uncertainty,
)
from sintersim.fit._plot import (
    plot_fit,
)
from sintersim.fit._problem import (
    FITTABLE,
    ParamSpec,
    Problem,
    refuse_unsupported,
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
    "Problem",
    "Trace",
    "fit",
    "plot_fit",
    "read_trace",
    "refuse_unsupported",
    "synthetic_trace",
    "uncertainty",
]
