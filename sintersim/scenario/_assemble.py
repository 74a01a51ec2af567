"""Config -> model, grid, initial state and stepper: the one assembly path.

`build` maps a config through the one unit mapping (`sintersim.calibrate.model_coefficients`) at
fixed internal units and applies every enabled feature (`sintersim.scenario.FEATURES`). Runs,
resume, batches, the fit and the experiments all build here. Temperature enters in one place,
`Setup.model_at`: the model at T is the mapping of the physical values at T plus each
feature's parts at T, a pytree of the same structure with new coefficient values, so nothing
recompiles. The internal time unit stays that of the start temperature throughout a schedule.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from sintersim.calibrate._units import (
    Nondimensional,
    Reference,
    model_coefficients,
    reference_for,
)
from sintersim.grid import Grid
from sintersim.initial import particles
from sintersim.model._sinter import SinterModel
from sintersim.packing._layouts import Packing
from sintersim.scenario._config import RunConfig, TemperatureSchedule
from sintersim.scenario._features import FEATURES, Context, Feature
from sintersim.scenario._layout import assign_fields, make_packing
from sintersim.scenario._schema import ConfigError, ResourceLimitError
from sintersim.solver._adaptive import StepController, atol_for
from sintersim.solver._memory import DoesNotFit, check_fits
from sintersim.solver._stepper import SCHEMES, SemiImplicitFourier, Stepper
from sintersim.state import State

MAX_DT_INTERNAL = 1.0  # matches the bound on time.dt_internal
MAX_STEPS = 1e9  # more is a unit mistake, not a run


@dataclasses.dataclass
class Setup:
    """Everything a run needs, built from a config (`build`).

    nd: the model at the start temperature and the run's internal units (`reference`).
    features: the enabled features, in order; data: what each one's ``prepare`` returned.
    """

    config: RunConfig
    nd: Nondimensional
    grid: Grid
    state0: State
    centres: list[list[float]]
    dt: float  # internal units
    schedule: np.ndarray  # planned save times, internal units
    stepper: Stepper
    features: list[Feature] = dataclasses.field(default_factory=list)
    data: list[Any] = dataclasses.field(default_factory=list)
    packing: Packing | None = None  # the particles (cells); index = grain id
    particle_fields: np.ndarray | None = None  # the order parameter each particle starts on
    safety: float = np.inf  # grains of one field are kept this far apart (cells)
    controller: StepController | None = None  # None: fixed steps of dt

    def controller_at(self, T_K: float, refine: int = 1) -> StepController:
        """The step controller of a chunk at ``T_K``: its step bounds in the run's time unit
        scale like `step_at` (a hotter chunk has a shorter stability limit in the run's units);
        ``refine`` (a retry) divides the steps by it and the tolerance by its square."""
        c = self.controller
        scale = self.step_at(T_K) / self.dt / refine
        return dataclasses.replace(
            c, atol=c.atol / refine**2, dt_min=c.dt_min * scale, dt_max=c.dt_max * scale
        )

    @property
    def is_pair(self) -> bool:
        return self.config.particles.layout == "pair"

    @property
    def gb_integral(self) -> float:
        """``int sum eta_i eta_j dn`` of a flat boundary, in cells (packing neck sizes)."""
        return float(self.nd.reference.shape.gb_integral * self.nd.reference.stretch)

    @property
    def model(self) -> SinterModel:
        """The model at the start temperature (`model_at` gives it at another)."""
        return self.nd.model

    @property
    def reference(self) -> Reference:
        return self.nd.reference

    @property
    def temperature(self) -> TemperatureSchedule:
        return self.config.temperature_schedule()

    @property
    def dtype(self):
        return jnp.float64 if self.config.grid.dtype == "float64" else jnp.float32

    def model_at(
        self, T_K: float, values: Mapping[str, Any] | None = None, length_scale=1.0
    ) -> SinterModel:
        """The model at temperature ``T_K`` in the run's fixed internal units, with physical
        ``values`` (e.g. traced fit parameters) replacing the config's.

        The one place where temperature enters: the physical values at T go through the unit
        mapping at the run's reference units (a constant run at T would have its own time unit
        t0(T); the coefficients here are the same physics on the run's clock t0(T_start)), then
        every feature adds its parts at T.

        length_scale: s, the config's lengths (radius, spacing: measured on images) are s times
        the true ones (a pixel calibration error). The same cells then stand for a body 1/s
        the size: the units map with l0/s and E0 s (`Reference.rescaled`), so each transport
        speeds up by s to its length power (surface and boundary diffusion s^4, volume s^3,
        boundary motion s^2) while lengths read off the grid stay in the measured units.
        """
        unscaled = not isinstance(length_scale, jax.Array) and length_scale == 1.0
        if values is None and T_K == self.temperature.start_K and unscaled:
            return self.nd.model
        ref = self.reference if unscaled else self.reference.rescaled(length_scale)
        return _model(self.config, ref, self.grid, self.features, self.data, T_K, values)

    def time_unit_s(self, T_K: float) -> float:
        """Seconds per internal time unit of a constant run at ``T_K`` (t0 = l0^2/(E0 M_ref(T)))."""
        if T_K == self.temperature.start_K:
            return self.nd.scales.time_s
        return reference_for(self.config.physical_parameters(T_K)).scales.time_s

    def step_at(self, T_K: float) -> float:
        """Largest step (internal units) at ``T_K``.

        ``time.dt_internal`` counts in the time unit of the current temperature, so a hotter chunk
        takes the same (physically shorter) steps a constant run at that temperature would; an
        explicit ``time.dt_s`` (or ``resume --dt-s``) is one fixed physical step.
        """
        if self.config.time.dt_s or T_K == self.temperature.start_K:
            return self.dt
        return self.dt * self.time_unit_s(T_K) / self.nd.scales.time_s


def _model(config, reference, grid, features, data, T_K, values=None) -> SinterModel:
    p = dataclasses.asdict(config.physical_parameters(T_K))
    p.update(values or {})
    energy, mobility, L = model_coefficients(p, reference)
    model = SinterModel(energy, mobility, L)
    for feature, d in zip(features, data, strict=True):
        model = feature.add(model, Context(config, reference, p, T_K, grid, d))
    return model


def save_schedule(t_end: float, n: int, spacing: str) -> np.ndarray:
    """n save times ending at t_end: evenly spaced, or log-spaced from t_end / 1000."""
    if spacing == "log":
        return np.geomspace(t_end * 1e-3, t_end, n)
    return t_end * np.arange(1, n + 1) / n


def extend_schedule(schedule: np.ndarray, new_end: float, spacing: str) -> np.ndarray:
    """Continue a schedule to ``new_end`` with its own step (linear) or ratio (log)."""
    ts = list(schedule)
    if new_end <= ts[-1]:
        return np.asarray([t for t in ts if t < new_end] + [new_end])
    if spacing == "log" and len(ts) > 1:
        ratio = ts[-1] / ts[-2]
        while ts[-1] * ratio < new_end * (1 - 1e-9):
            ts.append(ts[-1] * ratio)
    else:
        step = ts[-1] - ts[-2] if len(ts) > 1 else ts[-1]
        while ts[-1] + step < new_end * (1 - 1e-9):
            ts.append(ts[-1] + step)
    ts.append(new_end)
    return np.asarray(ts)


def build(config: RunConfig, packing: Packing | None = None) -> Setup:
    """The setup of a config: units, grid, particles, initial state (with each feature's
    fields), the model at the start temperature, the save schedule; refuses settings that cannot
    run, and a grid that would not fit in memory, before allocating any field.

    packing: the particles (cells) instead of the config's layout (resume: the stored ones)."""
    dtype = jnp.float64 if config.grid.dtype == "float64" else jnp.float32
    if dtype == jnp.float64:
        jax.config.update("jax_enable_x64", True)
    try:
        phys = config.physical_parameters()
        ref = reference_for(phys)
    except ValueError as err:  # e.g. no transport at all: no time unit
        raise ConfigError(f"material: {err}") from None
    dx_nm = config.grid.spacing_nm
    grid = Grid(tuple(config.grid.shape), 1.0)
    p = config.particles
    # tanh(x/w) has w_s = 2w: start from the requested surface width (relaxes in a few steps).
    w = 0.5 * config.model.interface_width_nm / dx_nm
    # the least this grid needs (two fields), before placing and colouring particles
    check_memory(config, grid, 2, dtype)
    if packing is None:
        packing = make_packing(config.values, grid.shape)
    oriented = config.orientation.enabled
    if p.layout == "pair":
        fields = np.arange(2)
        n_fields = 2
        safety = np.inf  # two particles on two fields never share one
    else:
        safety = (
            p.safety_nm / dx_nm
            if p.safety_nm
            else 4 * config.model.interface_width_nm / dx_nm + float(np.max(packing.radii))
        )
        fields = assign_fields(packing, safety, by_orientation=oriented)
        n_fields = int(fields.max()) + 1 + p.spare_fields
    check_memory(config, grid, n_fields, dtype)
    state0 = particles(grid, packing.centres, packing.radii, w, fields, n_fields, dtype=dtype)
    if oriented and p.layout != "pair":
        # a field carries the orientation of its particles (equal by the assignment); spare
        # fields the identity until a grain moves onto one
        ori = np.zeros(n_fields) if grid.ndim == 2 else np.tile([1.0, 0, 0, 0], (n_fields, 1))
        ori[fields] = packing.orientations
        state0 = State(state0.rho, state0.eta, jnp.asarray(ori, dtype))
    centres = packing.centres.tolist()
    base = SinterModel(*model_coefficients(dataclasses.asdict(phys), ref))
    features = [f for f in FEATURES if f.enabled(config)]
    data = []
    for f in features:
        d, state0 = f.prepare(config, base, state0)
        data.append(d)
    T0 = config.temperature_schedule().start_K
    model = _model(config, ref, grid, features, data, T0)
    nd = Nondimensional(model, ref)
    tm = config.time
    t_end = float(nd.scales.to_internal_time(tm.end_s))
    dt = float(nd.scales.to_internal_time(tm.dt_s)) if tm.dt_s else tm.dt_internal
    schedule = save_schedule(t_end, tm.n_saves, tm.save_spacing)
    stepper, controller = _time_scheme(config, model)
    setup = Setup(
        config,
        nd,
        grid,
        state0,
        centres,
        dt,
        schedule,
        stepper,
        features,
        data,
        packing=packing,
        particle_fields=fields,
        safety=safety,
        controller=controller,
    )
    # The extremes of a piecewise-linear T(t) are at its points: check the step there.
    temps = sorted({setup.temperature.start_K, *setup.temperature.values_K})
    if tm.dt_s:
        for T in temps:
            local = dt * nd.scales.time_s / setup.time_unit_s(T)
            if local > MAX_DT_INTERNAL:
                raise ConfigError(
                    f"time.dt_s = {tm.dt_s:g} s is {local:.3g} internal time units at {T:g} K; "
                    f"allowed: <= {MAX_DT_INTERNAL:g} unit = {setup.time_unit_s(T):.3g} s for "
                    "this material, temperature and grid (the scheme's accuracy limit)"
                )
    for f in features:
        f.check(setup, temps)
    # adaptive: at least the steps of the longest step allowed
    longest = dt if controller is None else controller.dt_max
    n_total = sum(
        (b - a) / (setup.step_at(T) * longest / dt)
        for chunks in plan_chunks(setup)
        for a, b, T in chunks
    )
    if n_total > MAX_STEPS:
        raise ConfigError(
            f"time.end_s = {tm.end_s:g} s needs {n_total:.3g} steps of at least "
            f"{nd.scales.to_seconds(longest):.3g} s (one internal time unit is "
            f"{nd.scales.time_s:.3g} s here); allowed: <= {MAX_STEPS:.0e} steps: shorten "
            "time.end_s or raise time.dt_s"
        )
    return setup


# time.tolerance_nm default, in interface widths: the largest of 1e-3, 3e-4, 1e-4 that kept the
# neck within 0.1 cell over four decades on 128^2 (scripts/bench_adaptive.py, first-order scheme)
DEFAULT_TOLERANCE_WIDTHS = 3e-4


def _time_scheme(config: RunConfig, model: SinterModel):
    """(stepper, controller or None) of ``[time]``. A model that draws random numbers takes
    fixed steps of the first-order scheme (the config resolves to that with [noise] on)."""
    tm = config.time
    if not model.deterministic:
        return SemiImplicitFourier(), None
    stepper = SCHEMES[tm.scheme]()
    if not tm.adaptive:
        return stepper, None
    width = config.model.interface_width_nm
    tol = tm.tolerance_nm if tm.tolerance_nm else DEFAULT_TOLERANCE_WIDTHS * width
    return stepper, StepController(atol=atol_for(tol, width), dt_max=tm.dt_max_internal)


def check_memory(
    config: RunConfig,
    grid: Grid,
    n_fields: int,
    dtype,
    *,
    batch: int = 1,
    what: str = "grid.shape",
) -> None:
    """Refuse (ConfigError) a run whose estimated peak memory exceeds the device's.

    n_fields: the crystals' order parameters (a liquid's is added here); batch: members held
    together on one device (a sweep group)."""
    extra = 1 if config.melting.enabled else 0  # the liquid's order parameter
    try:
        check_fits(
            tuple(grid.shape),
            n_fields + extra,
            dtype,
            orientation=config.orientation.enabled,
            noise=config.noise.enabled,
            batch=batch,
            what=what,
        )
    except DoesNotFit as e:
        raise ResourceLimitError(str(e)) from None


def plan_chunks(setup: Setup) -> list[list[tuple[float, float, float]]]:
    """Per save interval, its chunks ``(t_a, t_b, T_K)`` (internal times): the interval cut at
    the schedule's breakpoints, each chunk at the temperature of its mid-point (for a ramp the
    mean over the chunk; for steps the value in force). A breakpoint within round-off of a
    save-point is that save-point (no sliver chunk)."""
    sc, temp = setup.nd.scales, setup.temperature
    edges = np.concatenate([[0.0], setup.schedule])
    cuts = np.asarray(sc.to_internal_time(temp.breakpoints_s()), float)
    tol = 1e-9 * float(edges[-1])
    plan = []
    for a, b in itertools.pairwise(edges):
        pts = [a, *cuts[(cuts > a + tol) & (cuts < b - tol)], b]
        plan.append(
            [
                (float(x), float(y), temp(float(sc.to_seconds(0.5 * (x + y)))))
                for x, y in itertools.pairwise(pts)
            ]
        )
    return plan
