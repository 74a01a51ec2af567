"""Error-controlled, higher-order time stepping: convergence orders, the controller's accuracy,
gradients through adaptive runs, batches, and the run driver (resume, schedules, noise)."""

import functools
import math
import sys
from pathlib import Path

import h5py
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_shell import CASE  # the shell tests' small PbSe pair

import sintersim as ss
from sintersim.cli import main
from sintersim.io import read_run
from sintersim.observables import neck_size
from sintersim.scenario import build, loads_config
from sintersim.scenario._assemble import DEFAULT_TOLERANCE_WIDTHS
from sintersim.scenario._schema import ConfigError
from sintersim.solver import SemiImplicitFourier, SemiImplicitRosenbrock, StepController

jax.config.update("jax_enable_x64", True)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import bench  # noqa: E402  (scripts/bench.py: the demo model the benchmarks use)


def model(m_surf=None):
    """The demo model in float64 (M_surf replaced if given): scripts/bench.py's."""
    return bench.make_model(jnp.float64, M_surf=m_surf)


def pair(n: int, width: float = 2.0, gap: float = -1.0):
    grid = ss.Grid((n, n))
    r = 0.2 * n if width <= 2 else 0.25 * n
    s0 = ss.two_particles(grid, r, gap=gap, width=width, dtype=jnp.float64)
    x0, x1 = (c[0] for c in ss.initial.two_particle_centres(grid, r, gap=gap))
    return grid, s0, (lambda t, s: neck_size(s, grid, x0, x1))


def weighted_neck_run(ts, stepper, *, differentiable, max_steps, counts=None):
    """``log M_surf -> (Solution, sum of the neck at ts weighted 1, 1/2, 1/4)`` on the 32^2 pair:
    error-controlled (atol 1e-3) or, with ``counts``, frozen steps. The gradient tests' map."""
    grid, s0, fn = pair(32)

    def solve(log_ms):
        sol = ss.integrate(
            model(jnp.exp(log_ms)),
            grid,
            s0,
            t0=0.0,
            dt=0.01,
            saveat=ss.SaveAt(ts=ts, fn=fn),
            stepper=stepper,
            differentiable=differentiable,
            controller=None if counts is not None else StepController(atol=1e-3, dt_max=10.0),
            max_steps=max_steps,
            counts=counts,
        )
        return sol, jnp.sum(sol.ys * jnp.asarray([1.0, 0.5, 0.25]))

    return solve


def fixed(m, grid, stepper, dt, t_end, s):
    n = int(round(t_end / dt))
    return jax.jit(lambda s: ss.solver.advance(m, grid, s, n, dt, stepper))(s)


def test_convergence_order_of_each_scheme():
    """Error vs step on a smooth pair (wide interfaces, 32^2, to t = 0.5), against ROS2 at
    dt = T / 16384. First order: the error halves with the step. ROS2: second order in the
    limit; at these steps its ratio climbs towards 4 (stiff order reduction of W-methods, the
    stabiliser is only a rough Jacobian), and it is far below first order's."""
    m = model()
    grid, s0, _ = pair(32, width=6.0, gap=-2.0)
    t_end = 0.5
    ref = fixed(m, grid, SemiImplicitRosenbrock(), t_end / 16384, t_end, s0)
    dts = [t_end / 128 * 2.0**-k for k in range(5)]
    err = {}
    for name, st in (("euler", SemiImplicitFourier()), ("ros2", SemiImplicitRosenbrock())):
        err[name] = [
            float(jnp.max(jnp.abs(fixed(m, grid, st, dt, t_end, s0).rho - ref.rho))) for dt in dts
        ]
        orders = np.log2(np.asarray(err[name][:-1]) / np.asarray(err[name][1:]))
        print(name, [f"{e:.2e}" for e in err[name]], "orders", np.round(orders, 2))
        err[name + "_orders"] = orders
    assert np.all(np.abs(err["euler_orders"] - 1.0) < 0.05)
    assert np.all(np.diff(err["ros2_orders"]) > 0)  # approaching its order from below
    assert err["ros2_orders"][-1] > 1.85
    assert err["ros2"][-1] < err["euler"][-1] / 30


@functools.lru_cache(maxsize=1)
def _four_decades():
    """The 48^2 pair to t = 300 with save-points over four decades: a converged reference
    (ROS2, atol 1e-6) and the default adaptive runs of both schemes."""
    m = model()
    grid, s0, fn = pair(48)
    ts = np.geomspace(0.03, 300.0, 25)

    def run(scheme, atol, dt=0.01):
        sol = ss.integrate(
            m,
            grid,
            s0,
            t0=0.0,
            dt=dt,
            saveat=ss.SaveAt(ts=ts, fn=fn),
            stepper=scheme,
            differentiable=False,
            controller=StepController(atol=atol, dt_max=10.0),
        )
        return sol

    ref = run(SemiImplicitRosenbrock(), 1e-6)
    atol = DEFAULT_TOLERANCE_WIDTHS  # the config default (tolerance_nm / interface width)
    return ref, {
        "ros2": run(SemiImplicitRosenbrock(), atol),
        "euler": run(SemiImplicitFourier(), atol),
    }


@pytest.mark.parametrize("scheme", ["ros2", "euler"])
def test_adaptive_neck_within_a_tenth_of_a_cell_over_four_decades(scheme):
    """The fast proxy of scripts/bench_adaptive.py: at the default tolerance the neck stays
    within 0.1 cell of a converged reference at every save-point, in fewer than a quarter of
    the steps of dt = 0.05 (on 128^2 to t = 5000 the bench finds dt 0.05 the largest fixed step
    that meets it, and the default 25x fewer steps)."""
    ref, runs = _four_decades()
    sol = runs[scheme]
    assert bool(np.all(sol.ok))
    err = np.abs(np.asarray(sol.ys) - np.asarray(ref.ys))
    print(scheme, "max neck error", err.max(), "steps", int(sol.steps.sum()))
    assert err.max() < 0.1
    assert int(sol.steps.sum()) * 4 < 300.0 / 0.05
    assert int(sol.rejected.sum()) < 0.1 * int(sol.steps.sum())
    # steps grow as the neck slows: the last interval's mean step is far above the first's
    spans = np.diff(np.concatenate([[0.0], np.asarray(sol.ts)]))
    mean_dt = spans / np.asarray(sol.steps)
    assert mean_dt[-1] > 100 * mean_dt[0]


def test_gradient_through_an_adaptive_run_matches_finite_differences():
    """d(neck at three save-points)/d log M_surf, reverse mode through the checkpointed adaptive
    loop (step-size choices included), against central differences of the adaptive run."""
    run = weighted_neck_run(
        (0.5, 5.0, 50.0), SemiImplicitRosenbrock(), differentiable=True, max_steps=4000
    )

    def loss(log_ms):
        return run(log_ms)[1]

    x0 = jnp.asarray(math.log(bench.demo_parameters()["M_surf"]))
    g = float(jax.grad(loss)(x0))
    f = jax.jit(loss)
    h = 1e-4
    fd = (float(f(x0 + h)) - float(f(x0 - h))) / (2 * h)
    print("grad", g, "fd", fd)
    assert abs(g - fd) < 1e-4 * abs(fd)


def test_frozen_steps_of_a_long_adaptive_run_differentiate_like_finite_differences():
    """What fits differentiate: the steps an adaptive first-order run chose to t = 300, frozen
    (`frozen_counts`). The frozen run reproduces the adaptive neck, and its gradient (reverse
    mode, and forward mode as Levenberg-Marquardt takes it) agrees with central differences to
    1e-4 relative over hundreds of steps, where the free adaptive map's integer step counts
    put kinks (its differences scattered by 2.7 % at t = 300 on 128^2)."""
    from sintersim.solver import frozen_counts

    ts, stepper = (0.3, 30.0, 300.0), ss.SemiImplicitFourier()
    x0 = jnp.asarray(math.log(bench.demo_parameters()["M_surf"]))
    free, _ = weighted_neck_run(ts, stepper, differentiable=False, max_steps=20_000)(x0)
    counts = frozen_counts(free, stepper)
    assert counts.sum() == 2 * int(free.steps.sum()) > 400
    frozen = {
        d: weighted_neck_run(ts, stepper, differentiable=d, max_steps=20_000, counts=counts)
        for d in (False, True)
    }
    neck = frozen[False](x0)[0].ys
    print("steps", counts.sum(), "neck adaptive", free.ys, "frozen", neck)
    np.testing.assert_allclose(neck, free.ys, atol=0.05)  # cells

    def loss(log_ms, differentiable=False):
        return frozen[differentiable](log_ms)[1]

    g_rev = float(jax.grad(lambda v: loss(v, True))(x0))
    g_fwd = float(jax.jacfwd(loss)(x0))
    f = jax.jit(loss)
    for h in (1e-3, 1e-4):
        fd = (float(f(x0 + h)) - float(f(x0 - h))) / (2 * h)
        print("h", h, "reverse", g_rev, "forward", g_fwd, "central", fd)
        assert abs(g_rev - fd) < 1e-4 * abs(fd)
        assert abs(g_fwd - fd) < 1e-4 * abs(fd)


def test_frozen_counts_are_checked():
    grid, s0, fn = pair(32)
    with pytest.raises(ValueError, match="counts"):
        ss.integrate(
            model(1.0),
            grid,
            s0,
            t0=0.0,
            dt=0.1,
            saveat=ss.SaveAt(ts=(1.0, 2.0), fn=fn),
            counts=np.asarray([3]),
        )


def test_batch_members_take_their_own_steps():
    """Under vmap each member of an adaptive batch steps as it would alone."""
    grid, s0, fn = pair(32)
    saveat = ss.SaveAt(ts=(1.0, 20.0), fn=fn)
    ctl = StepController(atol=1e-3, dt_max=10.0)
    ms = bench.demo_parameters()["M_surf"]
    models = [model(0.5 * ms), model(2.0 * ms)]
    kw = dict(t0=0.0, dt=0.01, saveat=saveat, stepper=SemiImplicitRosenbrock(), controller=ctl)
    batch = ss.run_batch(models, grid, s0, devices=jax.devices()[:1], **kw)
    assert int(batch.steps[0].sum()) != int(batch.steps[1].sum())
    for i, m in enumerate(models):
        solo = ss.integrate(m, grid, s0, differentiable=False, **kw)
        np.testing.assert_array_equal(np.asarray(batch.steps[i]), np.asarray(solo.steps))
        np.testing.assert_allclose(np.asarray(batch.ys[i]), np.asarray(solo.ys), rtol=1e-12)


def _case(dtype="float32", extra="", end=0.01, n=4):
    return CASE.format(dtype=dtype, end=end, n=n) + extra


SCHEDULE = (
    '[temperature]\nschedule = "steps"\ntimes_s = [0.0, 0.004]\nvalues_K = [423.15, 453.15]\n'
)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_adaptive_resume_is_bit_identical_with_a_schedule(tmp_path, dtype):
    """Stopped after two save-points and resumed, an adaptive run with a temperature step
    equals the uninterrupted run bit for bit: the controller's state is in the checkpoint."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(_case(dtype, SCHEDULE))
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["run", str(cfg), "--out", str(a), "--quiet"]) == 0
    assert main(["run", str(cfg), "--out", str(b), "--quiet", "--stop-after", "2"]) == 0
    assert main(["resume", str(b), "--quiet"]) == 0
    with h5py.File(a / "run.h5", "r") as fa, h5py.File(b / "run.h5", "r") as fb:
        for k in ("fields/rho", "fields/eta"):
            np.testing.assert_array_equal(fa[k][...], fb[k][...], err_msg=k)
    ra, rb = read_run(a / "run.h5"), read_run(b / "run.h5")
    np.testing.assert_array_equal(ra["controller"], rb["controller"])
    assert (a / "observables.csv").read_text() == (b / "observables.csv").read_text()
    obs = read_run(a / "run.h5")["observables"]
    assert np.all(np.diff(obs["steps"]) > 0) and obs["step_s"][-1] > 0
    assert obs["rejected_steps"][-1] >= 0


def test_adaptive_run_agrees_with_small_fixed_steps_through_a_temperature_step(tmp_path):
    """Steps land on the schedule's breakpoint; the neck agrees with fixed steps of 0.02 (a
    converged fixed run) within 0.02 nm (0.08 cell) at every save-point, in fewer steps."""
    text = _case("float64", SCHEDULE, n=5)
    ad = build(loads_config(text))
    fx = build(loads_config(text.replace("[time]\n", "[time]\nadaptive = false\n", 1)))
    fx.dt = 0.02
    from sintersim.scenario import _run

    oa = _run.simulate(ad, tmp_path / "a")
    of = _run.simulate(fx, tmp_path / "f")
    na = np.asarray([r["neck_width_nm"] for r in oa.rows])
    nf = np.asarray([r["neck_width_nm"] for r in of.rows])
    print("neck adaptive", na, "fixed", nf)
    assert np.abs(na - nf).max() < 0.02
    assert oa.rows[-1]["steps"] < of.rows[-1]["steps"]


def test_noise_takes_fixed_first_order_steps():
    noisy = loads_config(_case(extra="[noise]\nenabled = true\nscale = 0.1\n"))
    assert noisy.time.scheme == "euler" and noisy.time.adaptive is False
    setup = build(noisy)
    assert setup.controller is None and isinstance(setup.stepper, SemiImplicitFourier)
    # the resolved config (as stored in run.h5) reads back the same
    assert loads_config(noisy.to_toml()).time.adaptive is False
    for bad in ('scheme = "ros2"', "adaptive = true"):
        text = _case(extra="[noise]\nenabled = true\n").replace("[time]\n", f"[time]\n{bad}\n")
        with pytest.raises(ConfigError, match="noise"):
            loads_config(text)


def test_ros2_refuses_stochastic_kinetics():
    grid, s0, _ = pair(16)
    noise = ss.model.ThermalNoise(1e-3, jax.random.PRNGKey(0))
    m = ss.SinterModel(model().energy, model().mobility, 10.0, kinetics=(noise,))
    with pytest.raises(ValueError, match="stochastic"):
        SemiImplicitRosenbrock().step(m, grid, s0, 0.1)


def test_controller_refuses_bad_bounds():
    with pytest.raises(ValueError, match="atol or rtol"):
        StepController(atol=0.0)
    with pytest.raises(ValueError, match="dt_min"):
        StepController(atol=1e-3, dt_min=2.0, dt_max=1.0)


def test_bad_time_settings_name_the_field():
    for bad, field in (
        ('scheme = "rk4"', "time.scheme"),
        ("tolerance_nm = -1.0", "time.tolerance_nm"),
        ("dt_max_internal = 1000.0", "time.dt_max_internal"),
    ):
        with pytest.raises(ConfigError, match=field):
            loads_config(_case().replace("[time]\n", f"[time]\n{bad}\n"))
