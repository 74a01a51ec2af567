"""Time stepping: the semi-implicit Fourier steps (first-order IMEX, second-order ROS2), error-
controlled step sizes, `integrate` (jit/vmap/grad) and batches."""

from sintersim.solver._adaptive import (
    Controlled,
    StepController,
    advance_adaptive,
    atol_for,
)
from sintersim.solver._batch import (
    run_batch,
    stack,
)
from sintersim.solver._integrate import (
    DEFAULT_STEPPER,
    SaveAt,
    Solution,
    advance,
    frozen_counts,
    integrate,
    plan_steps,
    state_ok,
)
from sintersim.solver._memory import (
    FIELD_COPIES,
    DoesNotFit,
    MemoryEstimate,
    check_fits,
    estimate_memory,
    largest_grid,
    memory_limit,
)
from sintersim.solver._stepper import (
    SCHEMES,
    SemiImplicitFourier,
    SemiImplicitRosenbrock,
    Stepper,
)

__all__ = [
    "Controlled",
    "SCHEMES",
    "SemiImplicitRosenbrock",
    "StepController",
    "Stepper",
    "advance_adaptive",
    "atol_for",
    "DEFAULT_STEPPER",
    "DoesNotFit",
    "FIELD_COPIES",
    "MemoryEstimate",
    "SaveAt",
    "SemiImplicitFourier",
    "Solution",
    "advance",
    "check_fits",
    "estimate_memory",
    "frozen_counts",
    "integrate",
    "largest_grid",
    "memory_limit",
    "plan_steps",
    "run_batch",
    "stack",
    "state_ok",
]
