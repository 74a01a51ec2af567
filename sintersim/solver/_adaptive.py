r"""Error-controlled step sizes: a PI controller and the adaptive advance over one interval.

The scheme's ``step_with_error`` gives a step and an estimate ``e`` of its local error. The
error ratio is the largest scaled error over every cell of rho and eta,

.. math::
    r = \max_x \frac{|e(x)|}{a + \epsilon_r \max(|u^n(x)|, |u^{n+1}(x)|)},

a step is accepted when r <= 1, and the next step is (Gustafsson's PI controller, the form
diffrax's ``PIDController`` takes with ``pcoeff = 0.4, icoeff = 0.3``)

.. math::
    h_{n+1} = h_n \cdot \mathrm{clip}\big(s\, r_n^{-\beta_1/k}\, r_{n-1}^{\beta_2/k},
        f_{min}, f_{max}\big),\qquad \beta_1 = 0.7,\ \beta_2 = 0.4,

with k the order of the error estimate (local error ~ h^k); a rejected step retries with the
factor ``max(s, 2 - r) r^{-1/k}`` (at most 1: it tends to 1 as r -> 1, so the solution is
continuous across the accept/reject boundary). Steps never exceed ``dt_max``, the scheme's stability
limit, and land exactly on the interval's end (a save-point or a temperature breakpoint).

Why the max norm: ``a`` is a tolerance on an interface's position divided by its width (the
profile's steepest slope is 1/width), and an interface is a few cells of the grid; an RMS
norm would dilute its error by the bulk.
"""

from __future__ import annotations

import equinox as eqx
import equinox.internal as eqxi
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from sintersim.grid import Grid
from sintersim.state import State

# Memory a reverse-mode adaptive loop may spend on stored states: the more it keeps, the less
# it recomputes (measured, 128^2 ROS2 pair: gradient / forward 5.2x with 64 states, see
# docs/performance.md).
CHECKPOINT_BYTES = 1 << 30


def states_in_budget(state: State) -> int:
    """How many copies of ``state`` fit in CHECKPOINT_BYTES."""
    size = sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(state))
    return CHECKPOINT_BYTES // max(size, 1)


def checkpoints_for(state: State, max_steps: int) -> int:
    """How many states the checkpointed loop keeps: eqxi's default for ``max_steps`` (about
    sqrt(2 max_steps)), at most CHECKPOINT_BYTES of them, at least 16."""
    default = int((2 * max_steps) ** 0.5) + 1
    return max(1, min(max_steps, default, max(16, states_in_budget(state))))


class StepController(eqx.Module):
    """PI step-size controller with absolute and relative tolerances on rho and eta.

    atol: absolute tolerance on the fields' local error per step (a position tolerance over
        the interface width: `atol_for`).
    rtol: relative tolerance (the fields are O(1): atol dominates; 0 by default).
    dt_min, dt_max: bounds on the step (internal units); dt_max is the scheme's stability limit.
        When the error needs a step below dt_min the advance stops short of its end
        (``Progress.reached`` False): a run going unstable fails fast instead of crawling.
    safety, factor_min, factor_max: the usual safety factor and bounds on the change of step.
    beta1, beta2: the PI gains (Gustafsson 1991; beta2 = 0 is the plain I controller).
    """

    atol: float
    rtol: float = 0.0
    dt_min: float = 1e-6
    dt_max: float = 1.0
    safety: float = 0.9
    factor_min: float = 0.2
    factor_max: float = 5.0
    beta1: float = 0.7
    beta2: float = 0.4

    def __check_init__(self):
        if not self.atol > 0 and not self.rtol > 0:
            raise ValueError("StepController: atol or rtol must be > 0")
        if not 0 < self.dt_min <= self.dt_max:
            raise ValueError(
                f"StepController: need 0 < dt_min <= dt_max (got {self.dt_min}, {self.dt_max})"
            )

    def error_ratio(self, err: State, old: State, new: State) -> Float[Array, ""]:
        """The largest scaled error over rho and eta (inf when the step is not finite)."""
        r = jnp.zeros((), old.rho.dtype)
        for e, a, b in ((err.rho, old.rho, new.rho), (err.eta, old.eta, new.eta)):
            scale = self.atol + self.rtol * jnp.maximum(jnp.abs(a), jnp.abs(b))
            r = jnp.maximum(r, jnp.max(jnp.abs(e) / scale))
        return jnp.where(jnp.isfinite(r), r, jnp.inf)

    def factor(self, ratio, ratio_prev, accept, order: int):
        """The factor the next step is the current one times."""
        r = jnp.maximum(ratio, 1e-10)
        pi = self.safety * r ** (-self.beta1 / order) * ratio_prev ** (self.beta2 / order)
        # The retry factor tends to 1 as r -> 1+ (the safety factor phases in over r - 1), so a
        # step rejected by a hair is retried at almost its own length and ends where accepting
        # it would have: the solution stays continuous in the parameters across a rejection.
        margin = jnp.maximum(self.safety, 1.0 - (r - 1.0))
        retry = jnp.minimum(margin * r ** (-1.0 / order), 1.0)
        f = jnp.where(accept, pi, retry)
        return jnp.clip(f, self.factor_min, self.factor_max)


class Controlled(eqx.Module):
    """What the controller carries from one interval to the next (and a checkpoint keeps).

    dt: the next step to try (internal units); ratio: the last accepted error ratio (the PI
    controller's memory).
    """

    dt: Float[Array, ""]
    ratio: Float[Array, ""]

    @classmethod
    def start(cls, dt, dtype=jnp.float32) -> Controlled:
        return cls(jnp.asarray(dt, dtype), jnp.asarray(1.0, dtype))


class Progress(eqx.Module):
    """Accepted and rejected steps of one adaptive advance, and whether it reached its end."""

    accepted: Array
    rejected: Array
    reached: Array
    dt_last: Array


def advance_adaptive(
    model,
    grid: Grid,
    state: State,
    span,
    ctrl: Controlled,
    stepper,
    controller: StepController,
    *,
    max_steps: int = 10_000_000,
    checkpointed: bool = False,
    step0=0,
) -> tuple[State, Controlled, Progress]:
    """Advance ``state`` by the (internal) time ``span`` with error-controlled steps.

    ``span`` may be traced; the loop counts the *remaining* time, so a float32 run keeps its
    precision relative to the interval, not to the run's absolute time. ``max_steps`` bounds
    the attempts (static; with ``checkpointed`` the loop is reverse-mode differentiable with
    checkpointing). Under vmap each member takes its own steps (the loop runs until the last
    member is done; finished members stay put). The gradient is that of the whole discrete
    map, step-size choices included (as diffrax does): between rejected steps the chosen steps
    are smooth functions of the parameters, so it agrees with finite differences.
    """
    real = state.rho.dtype
    span = jnp.asarray(span, real)
    dt_max = jnp.asarray(controller.dt_max, real)
    dt_min = jnp.asarray(controller.dt_min, real)
    k = stepper.error_order

    def cond(carry):
        i, remaining, h, *_ = carry
        # a step the controller wants below dt_min ends the advance short of its end
        return (remaining > 0) & (i < max_steps) & (h >= dt_min)

    def body(carry):
        i, remaining, h, ratio_prev, s, n_acc, n_rej, h_last = carry
        h = jnp.minimum(h, dt_max)
        last = h >= remaining * (1 - 1e-6)
        h_try = jnp.where(last, remaining, h)
        new, err = stepper.step_with_error(model, grid, s, h_try, step0 + n_acc)
        ratio = controller.error_ratio(err, s, new)
        ok = jnp.isfinite(ratio) & new.is_finite()
        accept = ok & (ratio <= 1.0)
        safe_ratio = jnp.where(ok, ratio, 1e3)  # keeps a failed step's gradient finite
        factor = controller.factor(safe_ratio, ratio_prev, accept, k)
        # A step shortened to land on the interval's end informs the controller in proportion
        # to its length theta = h_try / h: a full step as usual, a sliver not at all. So the
        # steps, and the solution, are continuous in the model's parameters (between rejected
        # steps), and finite differences of an adaptive run agree with its gradient.
        theta = jnp.where(accept, h_try / h, 1.0)
        h_next = h * (theta * factor + (1.0 - theta))
        # not clipped from below: a rejected step at dt_min proposes less, which ends the loop
        h_next = jnp.minimum(h_next, dt_max)
        s = jax.tree.map(lambda a, b: jnp.where(accept, a, b), new, s)
        remaining = jnp.where(accept, jnp.where(last, 0.0, remaining - h_try), remaining)
        ratio_prev = jnp.where(
            accept, theta * jnp.maximum(safe_ratio, 1e-4) + (1.0 - theta) * ratio_prev, ratio_prev
        )
        h_last = jnp.where(accept, h_try, h_last)
        return (
            i + 1,
            remaining.astype(real),
            h_next.astype(real),
            ratio_prev.astype(real),
            s,
            n_acc + accept.astype(jnp.int32),
            n_rej + (~accept).astype(jnp.int32),
            h_last.astype(real),
        )

    zero = jnp.asarray(0, jnp.int32)
    init = (
        zero,
        span,
        jnp.asarray(ctrl.dt, real),
        jnp.asarray(ctrl.ratio, real),
        state,
        zero,
        zero,
        jnp.zeros((), real),
    )
    if checkpointed:
        out = eqxi.while_loop(
            cond,
            body,
            init,
            max_steps=int(max_steps),
            kind="checkpointed",
            checkpoints=checkpoints_for(state, int(max_steps)),
        )
    else:
        out = jax.lax.while_loop(cond, body, init)
    _, remaining, h, ratio, s, n_acc, n_rej, h_last = out
    return s, Controlled(h, ratio), Progress(n_acc, n_rej, remaining <= 0, h_last)


def atol_for(tolerance_nm: float, interface_width_nm: float) -> float:
    """The field tolerance that moves an interface of width ``w`` by ``tolerance_nm``: the
    profile's steepest slope is 1/w, so a field error a shifts it by a w."""
    return tolerance_nm / interface_width_nm


__all__ = ["Controlled", "Progress", "StepController", "advance_adaptive", "atol_for"]
