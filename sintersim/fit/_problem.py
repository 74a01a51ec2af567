r"""Differentiable calibration: fit physical parameters to measured neck-growth traces.

The forward model is the full simulation. Parameters enter in log space (time offsets linearly),
pass through a bounded transform, become model coefficients by a JAX-differentiable version of
the unit mapping, and the neck size at the measured times comes from interpolating a dense set
of save-points (so a time offset is differentiable too). Gradients flow through `integrate` in
reverse mode with a checkpointed loop (memory ~ sqrt(steps)).

Loss (per trace k, measurement j, prior i):

.. math::
    \mathcal L = \tfrac12\sum_{k,j}\Big(\frac{x_k(t_{kj}+\tau_k;\,p) - x_{kj}}{\sigma_{kj}}\Big)^2
        + \tfrac12\sum_i\Big(\frac{\log p_i - \log\bar p_i}{s_i}\Big)^2

Optimisers: Adam (optax) from several starts at once (``jax.vmap``), then Levenberg-Marquardt
(optimistix) from the best. Uncertainties come from the Gauss-Newton Hessian ``J^T J`` at the
optimum; near-singular directions raise an identifiability warning naming the combination.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from sintersim.constants import K_B_EV, NM
from sintersim.fit._params import (  # noqa: F401  (re-exported)
    FITTABLE,
    NUISANCE,
    ParamSpec,
    _check_options,
    refuse_unsupported,
)
from sintersim.fit._priors import _ARRHENIUS, preset_prior
from sintersim.fit._traces import FitError, Trace
from sintersim.grains import grain_volumes
from sintersim.materials._presets import get_material
from sintersim.model._sinter import SinterModel
from sintersim.observables._fields import neck_size, projected_neck_width
from sintersim.orientation import misorientation_matrix
from sintersim.scenario._assemble import Setup, build
from sintersim.solver._integrate import SaveAt, frozen_counts, integrate
from sintersim.state import State


# ----------------------------------------------------------------------------------------------
# Differentiable unit mapping (width ratio 1 family: closed form, exact in the continuum)
# ----------------------------------------------------------------------------------------------
@dataclasses.dataclass(eq=False)
class _TraceSim:
    trace: Trace
    setup: Setup  # the trace's run, built by the one assembly path
    base: dict[str, float]  # physical values from the config
    dense: np.ndarray  # internal save times (t = 0 prepended on use)
    offset_key: str | None
    decades: bool = False  # the trace spans decades: log-spaced save-points

    @property
    def adaptive(self) -> bool:
        """Whether the fit freezes error-controlled steps for this trace (`Problem.freeze_steps`)
        or takes fixed steps of ``dt_internal``. An explicit ``[time] adaptive`` decides;
        otherwise a trace that spans decades (log-spaced save-points) takes frozen steps and
        others fixed ones, as measured (docs/performance.md#fits-and-time-steps): over 2.6
        decades (scripts/bench_fit.py) frozen steps were 3.7x fewer than fixed dt = 0.1 and the
        fit 2.6x faster, same answer; over the linear spans of scripts/fit_twin.py and the seed
        001 fit they were more than the configs' coarse dt (4.7x for the twin, also 4x more
        accurate) and the fits slower."""
        if self.setup.controller is None:  # fixed steps resolved (thermal noise, adaptive=false)
            return False
        given = (self.setup.config.raw or {}).get("time", {}).get("adaptive")
        return given if isinstance(given, bool) else self.decades

    @property
    def temperature_K(self) -> float:
        return self.setup.temperature.start_K


class Problem:
    """Traces, their base configs, and the parameters to fit (shared or per trace).

    traces: measured curves. configs: one `RunConfig` per trace (or one for all).
    params: names from `FITTABLE`; "time_offset" is always per trace, the others are shared
        unless named in ``per_trace``.
    per_trace: names (from params) fitted separately for every trace, as ``name[trace]``.

    Traces at different temperatures: a shared diffusivity is its value at the first trace's
    temperature T_ref and scales to trace k as ``exp(-Q/k_B (1/T_k - 1/T_ref))``, with Q the
    fitted ``*_activation`` (eV) or else the material preset's activation energy.
    bounds: name -> (lo, hi) in physical units; default a factor 100 around the start (log
        parameters) or +-(time span) for offsets.
    priors: name -> (centre, sigma_log10) log-normal priors.
    preset_priors: every positive parameter without a given prior gets the material preset's
        value (at its trace's temperature) as a log-normal prior, with the preset's uncertainty
        (`Material.prior_sigma_log10`: a guessed diffusivity 1.5 decades, a guessed energy 0.3),
        so a parameter the data barely constrain stays near the literature instead of wandering
        off (`preset_prior`).
    n_dense: save-points per simulation used to interpolate the neck at the data times.
    projection: None: a trace is the neck the config's dimension defines (width in 2D, radius
        in 3D); "y" or "z": the traces are neck widths measured on projections (TEM images) of a
        3D config, the beam along that grid axis, compared with the simulated silhouette's neck
        width (`sintersim.observables.projected_neck_width`), not with a 3D neck radius.
    """

    def __init__(
        self,
        traces: Sequence[Trace],
        configs,
        params: Sequence[str],
        bounds: Mapping[str, tuple[float, float]] | None = None,
        priors: Mapping[str, tuple[float, float]] | None = None,
        init: Mapping[str, float] | None = None,
        n_dense: int = 48,
        per_trace: Sequence[str] = (),
        preset_priors: bool = True,
        projection: str | None = None,
    ):
        if projection not in (None, "y", "z"):
            raise FitError(f"projection = {projection!r}: allowed: 'y', 'z' (the beam's axis)")
        self.projection = projection
        if not traces:
            raise FitError("no traces given")
        if not isinstance(configs, Sequence):
            configs = [configs] * len(traces)
        if len(configs) != len(traces):
            raise FitError("give one config per trace, or one for all")
        unknown = [p for p in params if p not in FITTABLE]
        if unknown:
            import difflib

            hints = [difflib.get_close_matches(u, FITTABLE, n=1) for u in unknown]
            raise FitError(
                f"unknown parameter(s) {unknown}"
                + "".join(f" (did you mean {h[0]}?)" for h in hints if h)
                + f"; fittable: {', '.join(FITTABLE)}"
            )
        if not params:
            raise FitError("no parameters to fit")
        bad = [n for n in per_trace if n not in params or n == "time_offset"]
        if bad:
            raise FitError(f"per_trace names must be fitted parameters (not time_offset): {bad}")
        for q_name, d_name in _ARRHENIUS.items():
            if q_name in params and (d_name not in params or d_name in per_trace):
                raise FitError(
                    f"{q_name} scales a shared {d_name} between temperatures: fit {d_name} too "
                    "(shared, not per trace)"
                )
        bounds, priors, init = dict(bounds or {}), dict(priors or {}), dict(init or {})
        jax.config.update("jax_enable_x64", True)  # fits run in float64: accurate gradients
        self.sims: list[_TraceSim] = []
        for i, (tr, cfg) in enumerate(zip(traces, configs, strict=True)):
            refuse_unsupported(cfg, tr.name or str(i))
            cfg = cfg.replace(grid={"dtype": "float64"})  # fits run in float64
            setup = build(cfg)
            phys = cfg.physical_parameters()
            nd = setup.nd
            if projection and setup.grid.ndim != 3:
                raise FitError(
                    f"{tr.name or i}: a projected neck width (projection = {projection!r}) needs "
                    f"a 3D config (grid.shape of 3 numbers), got {setup.grid.ndim}D"
                )
            energies = {"surface_energy", "gb_energy"} & set(params)
            if energies and abs(phys.gb_width_ratio - 1.0) > 1e-12:
                raise FitError(
                    f"model.gb_width_ratio = {phys.gb_width_ratio:g}: fitting "
                    f"{', '.join(sorted(energies))} needs model.gb_width_ratio = 1 (the unit "
                    "mapping's closed-form shape family); allowed: 1"
                )
            base = dataclasses.asdict(phys)  # the physical values the fit starts from
            mat = get_material(cfg.material.preset)
            base["surface_activation"] = mat.surface_diffusion.Q_eV
            base["gb_activation"] = mat.gb_diffusion.Q_eV
            base["volume_activation"] = mat.volume_diffusion.Q_eV
            orient = cfg.orientation
            base["rotational_mobility"] = (
                orient.rotational_mobility_m3_Js if orient.enabled else None
            )
            wants_rotation = "rotational_mobility" in params or tr.misorientation_deg is not None
            if wants_rotation and not orient.enabled:
                raise FitError(
                    f"{tr.name}: fitting rotation (rotational_mobility or a misorientation trace) "
                    "needs [orientation] enabled = true in its config"
                )
            motion = cfg.motion
            base["translational_mobility"] = (
                motion.translational_mobility_m5_Js if motion.enabled else None
            )
            base["shape_rotational_mobility"] = (
                motion.rotational_mobility_m3_Js if motion.enabled else None
            )
            wants_motion = {"translational_mobility", "shape_rotational_mobility"} & set(params)
            if wants_motion and not motion.enabled:
                raise FitError(
                    f"{tr.name or i}: fitting {', '.join(sorted(wants_motion))} needs [motion] "
                    "enabled = true in its config"
                )
            if "translational_mobility" in params and "translational_mobility" not in (init or {}):
                if motion.translational_mobility_m5_Js is None:
                    raise FitError(
                        f"{tr.name or i}: fitting translational_mobility needs a start: set "
                        "motion.translational_mobility_m5_Js in the config (unset is the fast "
                        "limit, which has no value to fit) or give --init translational_mobility="
                    )
            off_name = f"time_offset[{tr.name or i}]" if "time_offset" in params else None
            span = tr.time_s[-1] - min(tr.time_s[0], 0.0)
            if off_name:
                lo, hi = bounds.get(off_name, bounds.get("time_offset", (-tr.time_s[0], span)))
                t_hi = tr.time_s[-1] + hi
            else:
                t_hi = tr.time_s[-1]
            if tr.time_s[0] < 0 and not off_name:
                raise FitError(f"{tr.name}: negative times need a fitted time_offset")
            t_hi_int = float(nd.scales.to_internal_time(t_hi))
            t_lo = tr.time_s[0] + (lo if off_name else 0.0)
            if t_lo > 0 and t_hi / t_lo > 30:
                # Data spanning decades: log-spaced save-points keep early times resolved.
                t_lo_int = float(nd.scales.to_internal_time(t_lo)) / 2
                dense = np.geomspace(t_lo_int, t_hi_int, n_dense)
            else:
                dense = np.linspace(t_hi_int / n_dense, t_hi_int, n_dense)
            decades = bool(t_lo > 0 and t_hi / t_lo > 30)
            self.sims.append(_TraceSim(tr, setup, base, dense, off_name, decades))
        # Parameter specs.
        specs = []
        self.preset_prior_names: list[str] = []  # priors taken from the material preset
        for name in params:
            unit, _, log = FITTABLE[name]
            if name == "time_offset":
                for k, s in enumerate(self.sims):
                    t = s.trace.time_s
                    lo, hi = bounds.get(
                        s.offset_key, bounds.get("time_offset", (-t[0], t[-1] - min(t[0], 0)))
                    )
                    x0 = init.get(s.offset_key, init.get("time_offset", 0.0))
                    specs.append(ParamSpec(s.offset_key, name, x0, lo, hi, False, None, k))
                continue
            owners = list(enumerate(self.sims)) if name in per_trace else [(None, self.sims[0])]
            if name in NUISANCE:
                x0_def, wide, prior_def = NUISANCE[name]
                for k, sim in owners:
                    key = name if k is None else f"{name}[{sim.trace.name or k}]"
                    x0 = init.get(key, init.get(name, x0_def))
                    lo, hi = bounds.get(key, bounds.get(name, wide))
                    if not (lo < hi and (not log or lo > 0)) or not lo <= x0 <= hi:
                        raise FitError(
                            f"{key}: needs {'0 < ' if log else ''}lo < hi and the start {x0:g} "
                            f"inside, got ({lo:g}, {hi:g})"
                        )
                    prior = priors.get(key, priors.get(name))
                    if prior is None and preset_priors:
                        prior = prior_def
                        self.preset_prior_names.append(key)
                    specs.append(ParamSpec(key, name, x0, lo, hi, log, prior, k))
                continue
            for k, sim in owners:
                key = name if k is None else f"{name}[{sim.trace.name or k}]"
                x0 = init.get(key, init.get(name, sim.base[name]))
                if x0 is None or not x0 > 0:
                    raise FitError(f"{key}: needs a positive starting value (init), got {x0}")
                wide = (x0 / 3.0, x0 * 3.0) if name in _ARRHENIUS else (x0 / 100.0, x0 * 100.0)
                lo, hi = bounds.get(key, bounds.get(name, wide))
                if not 0 < lo < hi:
                    raise FitError(f"{key}: bounds must satisfy 0 < lo < hi, got ({lo}, {hi})")
                if not lo <= x0 <= hi:
                    raise FitError(f"{key}: start {x0:g} outside its bounds ({lo:g}, {hi:g})")
                prior = priors.get(key, priors.get(name))
                if prior is None and preset_priors:
                    prior = preset_prior(sim.setup.config, name, sim.temperature_K)
                    self.preset_prior_names.append(key)
                given = key in bounds or name in bounds
                specs.append(ParamSpec(key, name, x0, lo, hi, True, prior, k, given))
        self.specs = specs
        _check_options(specs, bounds, priors, init)
        if any(s.kind == "gb_energy" for s in specs) or any(
            s.kind == "surface_energy" for s in specs
        ):
            for s in self.sims:
                r = s.base["gb_energy"] / s.base["surface_energy"]
                if not 0 < r <= 12 / 7:
                    raise FitError("gb_energy / surface_energy must start within (0, 12/7]")

        # Per trace: the frozen step plan of an adaptive config (None: not made yet, or fixed
        # steps of the config's dt).
        self.counts: list[np.ndarray | None] = [None] * len(self.sims)

    # -- step plan ----------------------------------------------------------------------------
    def estimate_steps(self) -> list[int]:
        """Steps one evaluation takes per trace, known before any run: exact for fixed steps
        (the save span over ``dt_internal``), a lower bound for adaptive ones (over the largest
        step ``dt_max_internal``)."""
        out = []
        for sim in self.sims:
            longest = sim.setup.controller.dt_max if sim.adaptive else sim.setup.dt
            out.append(int(np.ceil(sim.dense[-1] / longest - 1e-9)))
        return out

    def check_budget(self, steps: Sequence[int], budget: int | None, what: str) -> None:
        """Refuse (FitError) an evaluation over ``budget`` steps before it starts, with the
        estimate and what to change (a start far from the data's time scale can cost 10^8
        steps per evaluation: the calibration issue's CsPbBr3 fit ran 29 minutes unwarned)."""
        if budget is None:
            return
        for sim, n in zip(self.sims, steps, strict=True):
            if n <= budget:
                continue
            su = sim.setup
            t_end = float(sim.dense[-1] * su.nd.scales.time_s)
            raise FitError(
                f"{sim.trace.name or 'trace'}: one evaluation would take {n:.3g} steps ({what}): "
                f"the trace's {t_end:.3g} s are {sim.dense[-1]:.3g} model time units "
                f"(1 unit = {su.nd.scales.time_s:.3g} s at the config's values); allowed: "
                f"<= {budget:.3g} steps per evaluation (--max-steps). The config's "
                "values set the time unit: put a diffusivity nearer the data's time scale in "
                "the config (the start and the steps follow it), take adaptive steps ([time] "
                "adaptive = true), or raise --max-steps"
            )

    def start_point(self) -> jax.Array:
        """Natural coordinates of the starting values."""
        return jnp.asarray([math.log(s.init) if s.log else s.init for s in self.specs])

    def freeze_steps(self, q: jax.Array | None = None) -> list[int]:
        """Freeze the time steps of every trace that takes adaptive steps (`_TraceSim.adaptive`):
        one error-controlled forward run at the natural coordinates ``q`` (default: the start)
        chooses the steps, and every evaluation then takes that many equal steps in each save
        interval (`sintersim.solver.frozen_counts`).

        Why: the free adaptive loop's step counts are integers that jump as the parameters
        move, so its loss has kinks and its finite differences scatter (2.7 % on a 566-step
        run); Levenberg-Marquardt needs the smooth map. The frozen map has the adaptive run's
        accuracy at the parameters it was frozen at; `fit` re-freezes at every round's start and
        at the answer. Other traces keep fixed steps of ``dt_internal`` (`_TraceSim.adaptive`).
        Returns the steps per evaluation of each trace."""
        q = self.start_point() if q is None else jnp.asarray(q)
        totals = self.estimate_steps()  # exact for the fixed-step traces
        for k, sim in enumerate(self.sims):
            su = sim.setup
            if not sim.adaptive:
                self.counts[k] = None
                continue
            sol = _pilot(self, k, q)
            if not bool(np.all(np.asarray(sol.ok))):
                bad = float(sim.dense[int(np.argmin(np.asarray(sol.ok)))])
                raise FitError(
                    f"{sim.trace.name}: the error-controlled run that chooses the steps failed "
                    f"by {bad * su.nd.scales.time_s:.3g} s (unstable, or the step fell below "
                    "dt_min): start nearer the answer, or set [time] adaptive = false"
                )
            self.counts[k] = frozen_counts(sol, su.stepper)
            totals[k] = int(self.counts[k].sum())
        return totals

    # -- transforms ---------------------------------------------------------------------------
    def to_unbounded(self, values: Mapping[str, float]) -> np.ndarray:
        z = []
        for s in self.specs:
            v = values[s.name]
            u = (
                (math.log(v) - math.log(s.lo)) / (math.log(s.hi) - math.log(s.lo))
                if s.log
                else (v - s.lo) / (s.hi - s.lo)
            )
            u = min(max(u, 1e-9), 1 - 1e-9)
            z.append(math.log(u / (1 - u)))
        return np.asarray(z)

    def natural(self, z: jax.Array) -> jax.Array:
        """Unbounded z -> log p (log params) or p (offsets), bounded by a logistic map."""
        u = jax.nn.sigmoid(z)
        out = []
        for i, s in enumerate(self.specs):
            if s.log:
                out.append(math.log(s.lo) + (math.log(s.hi) - math.log(s.lo)) * u[i])
            else:
                out.append(s.lo + (s.hi - s.lo) * u[i])
        return jnp.stack(out)

    def values(self, q: jax.Array) -> dict[str, jax.Array]:
        """Natural coordinates q (log p / p) -> physical values by name."""
        return {s.name: (jnp.exp(q[i]) if s.log else q[i]) for i, s in enumerate(self.specs)}

    # -- forward model ------------------------------------------------------------------------
    def model(self, k: int, vals: Mapping[str, jax.Array]) -> SinterModel:
        """The model trace k is simulated with: the run's own model (every config section
        through the one assembly, `Setup.model_at`) at the trace's temperature, with the fitted
        physical values ``vals`` (by parameter name) in place of the config's."""
        sim = self.sims[k]
        p = {}
        for s in self.specs:
            if s.kind != "time_offset" and s.trace in (None, k):
                p[s.kind] = vals[s.name]
        d_t = {j: self._nuisance(j, vals, "temperature_offset", 0.0) for j in (0, k)}
        scale = p.pop("length_scale", 1.0)
        p.pop("temperature_offset", None)
        # A shared diffusivity is the value at the first trace's (true) temperature T_ref; other
        # temperatures scale it (Arrhenius). With a temperature offset dT every trace is at
        # T + dT: the config's (unfitted) diffusivities move there by their activation energies,
        # and the 1/(k_B T) of the mobilities with them.
        t_ref, t_k = self.sims[0].temperature_K + d_t[0], sim.temperature_K + d_t[k]
        for q_name, d_name in _ARRHENIUS.items():
            q = p.get(q_name, sim.base[q_name])
            shared = any(s.kind == d_name and s.trace is None for s in self.specs)
            if shared and k:  # (trace 0 is at T_ref: factor 1)
                p[d_name] = p[d_name] * jnp.exp(-q / K_B_EV * (1 / t_k - 1 / t_ref))
            elif d_name not in p and sim.base[d_name] and self.has("temperature_offset"):
                t_nom = sim.temperature_K
                p[d_name] = sim.base[d_name] * jnp.exp(-q / K_B_EV * (1 / t_k - 1 / t_nom))
        for q_name in _ARRHENIUS:
            p.pop(q_name, None)
        if self.has("temperature_offset"):
            p["temperature_K"] = t_k
        return sim.setup.model_at(sim.temperature_K, p, length_scale=scale)

    def has(self, kind: str) -> bool:
        """Whether parameter ``kind`` (a key of `FITTABLE`) is fitted."""
        return any(s.kind == kind for s in self.specs)

    def _nuisance(self, k: int, vals, kind: str, default: float):
        """The value of nuisance parameter ``kind`` for trace k (``default`` when not fitted)."""
        for s in self.specs:
            if s.kind == kind and s.trace in (None, k):
                return vals[s.name]
        return default

    def neck_nm(self, k: int, state: State) -> jax.Array:
        """The measured quantity of trace k in ``state``, in nm: the neck (width in 2D, radius in
        3D), or the projected neck width when the traces are projections (``projection``)."""
        su = self.sims[k].setup
        x_lo, x_hi = su.centres[0][0], su.centres[1][0]
        scale = su.nd.scales.length_m / NM
        if self.projection:
            beam = {"y": 1, "z": 2}[self.projection]
            return projected_neck_width(state, su.grid, x_lo, x_hi, beam) * scale
        return neck_size(state, su.grid, x_lo, x_hi) * scale

    def _predict_dense(self, k: int, vals: Mapping[str, jax.Array], reverse: bool) -> jax.Array:
        sim, su = self.sims[k], self.sims[k].setup
        model = self.model(k, vals)

        def fn(t, state):
            neck = self.neck_nm(k, state)
            if state.orientation is None:
                return neck
            sym = su.model.energy.boundaries.symmetry
            return jnp.stack([neck, _pair_misorientation(state, su.grid, sym)])

        if sim.adaptive and self.counts[k] is None:
            with jax.ensure_compile_time_eval():  # run now, even while a jit traces us
                self.freeze_steps()  # at the starting values
        sol = integrate(
            model,
            su.grid,
            su.state0,
            t0=0.0,
            dt=su.dt,
            saveat=SaveAt(ts=sim.dense, fn=fn),
            stepper=su.stepper,
            differentiable=reverse,
            counts=self.counts[k],
        )
        x0 = fn(0.0, su.state0)
        return jnp.concatenate([x0[None], sol.ys])

    def predict(
        self,
        k: int,
        q: jax.Array,
        times_s=None,
        reverse: bool = False,
        misorientation: bool = False,
    ) -> jax.Array | tuple[jax.Array, jax.Array]:
        """Neck (nm) of trace k at ``times_s`` (default: its measurement times).

        reverse: differentiate in reverse mode (checkpointed loop, for gradients); otherwise the
        plain loop, which forward mode (Jacobians for Gauss-Newton) differentiates.
        misorientation: return ``(neck, misorientation_deg)`` (oriented configs only).
        """
        sim = self.sims[k]
        vals = self.values(q)
        dense = self._predict_dense(k, vals, reverse)
        t_grid = (
            jnp.concatenate([jnp.zeros(1), jnp.asarray(sim.dense)]) * sim.setup.nd.scales.time_s
        )
        t = jnp.asarray(sim.trace.time_s if times_s is None else times_s)
        if sim.offset_key:
            t = t + vals[sim.offset_key]
        if dense.ndim == 1:
            if misorientation:
                raise FitError(f"{sim.trace.name}: its config has no orientations")
            return jnp.interp(t, t_grid, dense)
        neck = jnp.interp(t, t_grid, dense[:, 0])
        if not misorientation:
            return neck
        return neck, jnp.interp(t, t_grid, dense[:, 1])

    def residuals(self, q: jax.Array, reverse: bool = False) -> jax.Array:
        """Weighted residuals (data and priors), as a function of natural coordinates."""
        res = []
        for k, sim in enumerate(self.sims):
            tr = sim.trace
            if tr.misorientation_deg is None:
                res.append((self.predict(k, q, reverse=reverse) - tr.neck_nm) / tr.sigma_nm)
                continue
            neck, mis = self.predict(k, q, reverse=reverse, misorientation=True)
            res.append((neck - tr.neck_nm) / tr.sigma_nm)
            seen = np.isfinite(tr.misorientation_deg)
            res.append((mis[seen] - tr.misorientation_deg[seen]) / tr.sigma_deg[seen])
        for i, s in enumerate(self.specs):
            if s.prior is not None:
                centre, sig = s.prior
                if s.log:
                    res.append(jnp.atleast_1d((q[i] - math.log(centre)) / (sig * math.log(10))))
                else:
                    res.append(jnp.atleast_1d((q[i] - centre) / sig))
        return jnp.concatenate(res)

    def loss(self, q: jax.Array) -> jax.Array:
        """Half the sum of squared residuals; reverse-mode differentiable (checkpointed)."""
        r = self.residuals(q, reverse=True)
        return 0.5 * jnp.sum(r**2)


@eqx.filter_jit
def _pilot(problem: Problem, k: int, q: jax.Array):
    """The error-controlled forward run of trace k at ``q`` (steps per save interval, ok)."""
    su = problem.sims[k].setup
    return integrate(
        problem.model(k, problem.values(q)),
        su.grid,
        su.state0,
        t0=0.0,
        dt=su.dt,
        saveat=SaveAt(ts=problem.sims[k].dense, fn=lambda t, s: jnp.zeros((), s.rho.dtype)),
        stepper=su.stepper,
        differentiable=False,
        controller=su.controller,
    )


def _pair_misorientation(state: State, grid, symmetry: str) -> jax.Array:
    """Misorientation (degrees) of grains 0 and 1, or 0 once one of them is gone (stitched)."""
    theta = jnp.degrees(misorientation_matrix(state.orientation, symmetry)[0, 1])
    vol = grain_volumes(state.eta[:2], grid.cell_volume)
    return jnp.where(jnp.min(vol) > 1.0, theta, 0.0)
