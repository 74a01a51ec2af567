"""Host-side driver: config -> model, grid, initial state -> a run with outputs, and resume.

The time loop is one compiled `advance` (a while loop of steps on the device), called once per
save-point; the host syncs only there, to check the state, record observables, write files and
update progress.

A temperature schedule (``[temperature]``) splits each save interval into chunks at the
schedule's steps, and a ramp further into chunks over which T changes by at most
``max_change_K``. Each chunk runs the same compiled `advance` with the model rebuilt at the chunk's
mid-point temperature (`model_at`): a pytree of the same structure with new coefficient values, so
nothing recompiles. The internal time unit stays that of the start temperature throughout.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Callable
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from . import __version__
from ._anisotropy import SurfaceAnisotropy
from ._grid import Grid
from ._initial import two_particle_centres, two_particles
from ._integrate import advance, plan_steps, state_ok
from ._materials import get_material
from ._melting import CDSE_SEED003_PF, LiquidMobility, liquid_fraction, solved_liquid
from ._melting_theory import SurfaceMeltingParameters
from ._model import SinterModel
from ._observables import orientation_observables, two_particle_observables
from ._orientation import axis_angle
from ._rotation import Rotation, make_boundary_law
from ._state import State
from ._stepper import SemiImplicitFourier, ThermalNoise
from ._sublimation import Sublimation
from ._units import K_B, NM, Nondimensional, nondimensionalize
from .config import ConfigError, RunConfig, TemperatureSchedule, loads_config
from .io import RunFile, read_run, write_csv, write_xdmf

H5_NAME = "run.h5"
MAX_DT_INTERNAL = 1.0  # matches the bound on time.dt_internal
# Largest surface displacement by the (explicit) sublimation sink in one step, in cells.
MAX_SUBLIMATION_CELLS = 0.1
# Largest thermal kick of an order parameter in one step, sqrt(2 theta L dt / dV): beyond it the
# noise throws fields out of [0, 1] faster than the potential pulls them back (measured: the
# default PbSe pair runs at 0.58 and blows up at 1.05).
MAX_NOISE_KICK = 0.7
MAX_STEPS = 1e9  # more is a unit mistake, not a run


@dataclasses.dataclass
class Setup:
    """Everything a run needs, built from a config."""

    config: RunConfig
    nd: Nondimensional
    grid: Grid
    state0: State
    centres: list[list[float]]
    dt: float  # internal units
    schedule: np.ndarray  # planned save times, internal units
    stepper: SemiImplicitFourier

    @property
    def model(self) -> SinterModel:
        """The model at the start temperature (`model_at` gives it at another)."""
        return self.nd.model

    @property
    def temperature(self) -> TemperatureSchedule:
        return self.config.temperature_schedule()

    @property
    def dtype(self):
        return jnp.float64 if self.config["grid"]["dtype"] == "float64" else jnp.float32


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


def build(config: RunConfig) -> Setup:
    dtype = jnp.float64 if config["grid"]["dtype"] == "float64" else jnp.float32
    if dtype == jnp.float64:
        jax.config.update("jax_enable_x64", True)
    try:
        nd = nondimensionalize(config.physical_parameters())
    except ValueError as err:  # e.g. no transport at all: no time unit
        raise ConfigError(f"material: {err}") from None
    dx_nm = config["grid"]["spacing_nm"]
    grid = Grid(tuple(config["grid"]["shape"]), 1.0)
    p = config["particles"]
    r1 = p["radius_nm"] / dx_nm
    r2 = (p["radius2_nm"] or p["radius_nm"]) / dx_nm
    gap = p["gap_nm"] / dx_nm
    # tanh(x/w) has w_s = 2w: start from the requested surface width (relaxes in a few steps).
    w = 0.5 * config["model"]["interface_width_nm"] / dx_nm
    try:
        centres = two_particle_centres(grid, r1, r2, gap)
    except ValueError:
        box = [n * dx_nm for n in grid.shape]
        raise ConfigError(
            f"particles.radius_nm = {p['radius_nm']:g}, radius2_nm = {p['radius2_nm']}, gap_nm = "
            f"{p['gap_nm']:g}: the pair does not fit in the box grid.shape x grid.spacing_nm = "
            f"{' x '.join(f'{b:g}' for b in box)} nm; allowed: centre distance (radius + "
            f"radius2 + gap = {(r1 + r2) * dx_nm + p['gap_nm']:g} nm) + 2 x the larger radius "
            f"({2 * max(r1, r2) * dx_nm:g} nm) <= the first length, 2 x the larger radius <= "
            "each other length (the pair is centred)"
        ) from None
    state0 = two_particles(grid, r1, r2, gap, width=w, dtype=dtype)
    if config["orientation"]["enabled"]:
        nd, state0 = _orient(config, nd, state0, grid.ndim)
    if config["melting"]["enabled"]:
        nd, state0 = _melt(config, nd, state0)
    v_nm_s = config["material"]["sublimation_nm_s"]
    if v_nm_s > 0:
        # the run's clock stays t0(T_start) through a schedule, so v in internal units is fixed
        v = v_nm_s * NM * nd.scales.time_s / nd.scales.length_m
        model = eqx.tree_at(
            lambda m: m.sublimation, nd.model, Sublimation(v), is_leaf=lambda x: x is None
        )
        nd = dataclasses.replace(nd, model=model)
    tm = config["time"]
    t_end = float(nd.scales.to_internal_time(tm["end_s"]))
    dt = float(nd.scales.to_internal_time(tm["dt_s"])) if tm["dt_s"] else tm["dt_internal"]
    schedule = save_schedule(t_end, tm["n_saves"], tm["save_spacing"])
    setup = Setup(config, nd, grid, state0, centres, dt, schedule, make_stepper(config, nd))
    # The extremes of a piecewise-linear T(t) are at its points: check the step there.
    temps = sorted({setup.temperature.start_K, *setup.temperature.values_K})
    if tm["dt_s"]:
        for T in temps:
            local = dt * nd.scales.time_s / _time_unit_s(setup, T)
            if local > MAX_DT_INTERNAL:
                raise ConfigError(
                    f"time.dt_s = {tm['dt_s']:g} s is {local:.3g} internal time units at {T:g} K; "
                    f"allowed: <= {MAX_DT_INTERNAL:g} unit = {_time_unit_s(setup, T):.3g} s for "
                    "this material, temperature and grid (the scheme's accuracy limit)"
                )
    if v_nm_s > 0:
        # the sink is explicit: a step may move the surface by a fraction of a cell only
        v = float(setup.model.sublimation.velocity)
        cells = max(v * step_at(setup, T) for T in temps) / grid.spacing
        if cells > MAX_SUBLIMATION_CELLS:
            dt_max = MAX_SUBLIMATION_CELLS * grid.spacing / v
            raise ConfigError(
                f"material.sublimation_nm_s = {v_nm_s:g} nm/s moves the surface {cells:.3g} cells "
                f"per step here (one internal time unit is {nd.scales.time_s:.3g} s); allowed: <= "
                f"{MAX_SUBLIMATION_CELLS:g}: lower material.sublimation_nm_s or set time.dt_s <= "
                f"{nd.scales.to_seconds(dt_max):.3g} s"
            )
    n_total = sum(
        (b - a) / step_at(setup, T) for chunks in plan_chunks(setup) for a, b, T in chunks
    )
    if n_total > MAX_STEPS:
        raise ConfigError(
            f"time.end_s = {tm['end_s']:g} s needs {n_total:.3g} steps of "
            f"{nd.scales.to_seconds(dt):.3g} s (one internal time unit is "
            f"{nd.scales.time_s:.3g} s here); allowed: <= {MAX_STEPS:.0e} steps: shorten "
            "time.end_s or raise time.dt_s"
        )
    if setup.stepper.noise is not None:
        _check_noise(setup, temps)
    return setup


def _check_noise(setup: Setup, temps: list[float]) -> None:
    """Refuse noise that kicks a field by more than MAX_NOISE_KICK per step at any temperature
    of the run (the kick sqrt(2 theta rate dt / dV) grows with T through theta and D(T))."""
    config = setup.config
    kick, T_worst = 0.0, temps[0]
    for T in temps:
        theta = float(stepper_at(setup, T).noise.temperature)
        model = model_at(setup, T)
        rate = max(float(model.L), float(model.mobility.upper_bound()))
        k = (2.0 * theta * rate * step_at(setup, T) / setup.grid.cell_volume) ** 0.5
        if k > kick:
            kick, T_worst = k, T
    if kick > MAX_NOISE_KICK:
        theta = float(stepper_at(setup, T_worst).noise.temperature)
        top = config["noise"]["scale"] * (MAX_NOISE_KICK / kick) ** 2
        raise ConfigError(
            f"noise.scale = {config['noise']['scale']:g}: the thermal energy per cell is "
            f"{theta:.3g} times E0 dx^3, which kicks a field by {kick:.2f} per step"
            + (f" at {T_worst:g} K" if len(temps) > 1 else "")
            + f"; allowed: <= {MAX_NOISE_KICK} per step, i.e. noise.scale <= {top:.3g} at this "
            "grid and step (or a coarser grid.spacing_nm / smaller time step)"
        )


def _nd_at(setup: Setup, T_K: float) -> Nondimensional:
    """The mapping a constant run at ``T_K`` would use (its own time unit)."""
    return nondimensionalize(setup.config.physical_parameters(T_K))


def _time_unit_s(setup: Setup, T_K: float) -> float:
    """Seconds per internal time unit of a constant run at ``T_K`` (t0 = l0^2 / (E0 M_ref(T)))."""
    if T_K == setup.temperature.start_K:
        return setup.nd.scales.time_s
    return _nd_at(setup, T_K).scales.time_s


def model_at(setup: Setup, T_K: float) -> SinterModel:
    """The run's model at temperature ``T_K``, in the run's fixed internal units.

    The internal time unit stays t0(T_start) of ``setup.nd.scales``, so one clock runs through
    the whole schedule; the coefficients change. A constant run at T would have the density
    mobilities ``M_x(T) = D_x(T) ... Omega / (k_B T)`` and the Allen-Cahn L in its own unit
    t0(T); rescaled by t0(T_start) / t0(T) they are the same physics on the run's clock. The
    energy (interface energies have no temperature law here), the orientation physics and the
    rotational mobility do not depend on T and are kept from ``setup.model``.

    The result has the structure of ``setup.model`` with Python-float coefficients, so the
    compiled advance is reused without recompiling. This is the one place where temperature
    enters the model: further T-dependent physics (e.g. a liquid's bulk driving force q(T))
    belongs here.
    """
    if T_K == setup.temperature.start_K:
        return setup.model
    nd_T = _nd_at(setup, T_K)
    r = setup.nd.scales.time_s / nd_T.scales.time_s  # t0(T_start) / t0(T)
    mobility = nd_T.model.mobility
    if setup.config["melting"]["enabled"]:
        mobility = _liquid_mobility(setup.config, mobility)
    mobility = jax.tree.map(lambda m: float(m) * r, mobility)
    model = eqx.tree_at(
        lambda m: (m.mobility, m.L), setup.model, (mobility, float(nd_T.model.L) * r)
    )
    if setup.config["melting"]["enabled"]:  # the liquid's bulk driving force q(T)
        q = liquid_driving_force(setup.config, setup.nd, T_K)
        model = eqx.tree_at(lambda m: m.energy.q, model, q)
    return model


def stepper_at(setup: Setup, T_K: float) -> SemiImplicitFourier:
    """The stepper at ``T_K``: the noise temperature theta follows T (same key, same pytree)."""
    if setup.stepper.noise is None or T_K == setup.temperature.start_K:
        return setup.stepper
    theta = _noise_theta(setup.config, setup.nd, T_K)
    return eqx.tree_at(lambda s: s.noise.temperature, setup.stepper, theta)


def step_at(setup: Setup, T_K: float) -> float:
    """Largest step (internal units) at ``T_K``.

    ``time.dt_internal`` counts in the time unit of the current temperature, so a hotter chunk
    takes the same (physically shorter) steps a constant run at that temperature would; an
    explicit ``time.dt_s`` (or ``resume --dt-s``) is one fixed physical step.
    """
    if setup.config["time"]["dt_s"] or T_K == setup.temperature.start_K:
        return setup.dt
    return setup.dt * _time_unit_s(setup, T_K) / setup.nd.scales.time_s


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


def _orient(config: RunConfig, nd: Nondimensional, state0: State, ndim: int):
    """Add the orientation physics of ``[orientation]`` to the model and the initial state."""
    o = config["orientation"]
    energy = nd.model.energy
    try:
        symmetry = get_material(config["material"]["preset"]).symmetry
        law = make_boundary_law(energy, o["cutoff_deg"], o["stitch_deg"], symmetry=symmetry)
    except ValueError as e:
        raise ConfigError(f"orientation: {e}") from e
    energy = eqx.tree_at(lambda e: e.boundaries, energy, law, is_leaf=lambda x: x is None)
    ratio = o["surface_anisotropy_ratio"]
    if ratio > 1.0:
        if symmetry != "cubic":
            raise ConfigError(
                f"orientation.surface_anisotropy_ratio = {ratio:g}: the anisotropy is cubic; "
                f"material.preset = {config['material']['preset']!r} is {symmetry}; allowed: 1 "
                "(isotropic) for non-cubic materials"
            )
        try:
            # The weights' blur spans the surface (internal lengths are grid cells here).
            width = config["model"]["interface_width_nm"] / config["grid"]["spacing_nm"]
            aniso = SurfaceAnisotropy(ratio, blur=width)
        except ValueError as e:
            raise ConfigError(f"orientation.surface_anisotropy_ratio: {e}") from e
        energy = eqx.tree_at(lambda e: e.anisotropy, energy, aniso, is_leaf=lambda x: x is None)
    rotation = None
    if o["rotational_mobility_m3_Js"] > 0:
        rotation = Rotation(nd.scales.rotational_mobility(o["rotational_mobility_m3_Js"]))
    model = SinterModel(energy, nd.model.mobility, nd.model.L, rotation)
    dtype = state0.rho.dtype
    if ndim == 2:
        orient = jnp.asarray([0.0, np.radians(o["misorientation_deg"])], dtype)
    else:
        q2 = axis_angle(o["axis"], o["misorientation_deg"])
        orient = jnp.asarray(np.stack([[1.0, 0.0, 0.0, 0.0], q2]), dtype)
    return dataclasses.replace(nd, model=model), State(state0.rho, state0.eta, orient)


def melting_parameters(config: RunConfig) -> SurfaceMeltingParameters:
    """The liquid's physical parameters of ``[melting]``: the seed-003 CdSe fit, or the material
    preset's bulk latent heat, melting point and liquid energies (gamma_sv: the run's surface
    energy; xi is not used by runs, the interface width sets the layer's decay length)."""
    m = config["melting"]
    gamma_sv = config.physical_parameters().surface_energy
    if m["parameters"] == "seed003":
        p = CDSE_SEED003_PF
        base = dict(
            latent_heat_J_m3=p.latent_heat_J_m3,
            melting_point_K=p.melting_point_K,
            gamma_sl_J_m2=p.gamma_sl_J_m2 / p.gamma_sv_J_m2 * gamma_sv,  # keep its ratios
            gamma_lv_J_m2=p.gamma_lv_J_m2 / p.gamma_sv_J_m2 * gamma_sv,
        )
    else:
        mat = get_material(config["material"]["preset"])
        base = dict(
            latent_heat_J_m3=mat.latent_heat_J_m3,
            melting_point_K=mat.melting_point_K,
            gamma_sl_J_m2=mat.solid_liquid_energy_J_m2,
            gamma_lv_J_m2=mat.liquid_vapour_energy_J_m2,
        )
    base.update({k: m[k] for k in base if m[k] is not None})  # explicit [melting] values win
    try:
        return SurfaceMeltingParameters(
            gamma_sv_J_m2=gamma_sv, xi_m=config["model"]["interface_width_nm"] * 1e-9, **base
        )
    except ValueError as err:
        raise ConfigError(f"melting: {err}") from None


def liquid_driving_force(config: RunConfig, nd: Nondimensional, T_K: float) -> float:
    """q = L_v (1 - T/T_m) of ``[melting]`` at ``T_K``, in the run's energy unit (the run's
    fixed scales: a schedule keeps them)."""
    return float(melting_parameters(config).q_J_m3(T_K)) / nd.scales.energy_J_m3


def _liquid_mobility(config: RunConfig, mob) -> LiquidMobility:
    """Wang's mobility of the run plus the liquid path ``M_liq = factor * M_surf``."""
    factor = config["melting"]["liquid_mobility_factor"]
    return LiquidMobility(
        mob.M_vol, mob.M_vap, mob.M_surf, mob.M_gb, M_liq=float(factor) * float(mob.M_surf)
    )


def _melt(config: RunConfig, nd: Nondimensional, state0: State):
    """Add the liquid of ``[melting]``: the last order parameter, seeded at 1e-6 rho (with
    ``[orientation]``, its orientation entry is a placeholder, see `LiquidEnergy`).

    The run's Wang shape (A, B, kappas in grid units) gets the pair coefficient c_sl and the
    liquid-surface term a_l that give the parameters' gamma_lv / gamma_sv and gamma_sl / gamma_sv
    (`solve_liquid_coefficients`, cached); q = L_v (1 - T/T_m) / E0 at the start temperature
    (`model_at` follows a schedule).
    """
    params = melting_parameters(config)
    if not params.wets:
        raise ConfigError(
            f"melting.parameters = {config['melting']['parameters']!r}: gamma_sl + gamma_lv = "
            f"{params.gamma_sl_J_m2 + params.gamma_lv_J_m2:.3g} J/m^2 is not below gamma_sv = "
            f"{params.gamma_sv_J_m2:.3g} J/m^2, so no liquid layer wets the surface below T_m; "
            "allowed: a wetting set, e.g. 'seed003'"
        )
    e = nd.model.energy
    key = tuple(float(v) for v in (e.A, e.B, e.kappa_rho, e.kappa_eta))
    lv = params.gamma_lv_J_m2 / params.gamma_sv_J_m2
    sl = params.gamma_sl_J_m2 / params.gamma_sv_J_m2
    try:
        liquid, _ = solved_liquid(key, round(lv, 12), round(sl, 12), ())
    except ValueError as err:
        # the reachable ratios depend on the run's Wang shape (gamma_gb / gamma_s, width)
        field = "gamma_lv_J_m2" if "gamma_lv" in str(err) else "gamma_sl_J_m2"
        raise ConfigError(
            f"melting.{field} = {getattr(params, field):.4g} J/m^2 ({field[:-5]} / gamma_sv "
            f"with gamma_sv = {params.gamma_sv_J_m2:g} J/m^2) cannot be realised on this run's "
            f"model: {err}"
        ) from None
    T0 = config.temperature_schedule().start_K
    q = liquid_driving_force(config, nd, T0)
    liquid = eqx.tree_at(lambda x: x.q, liquid, q)
    # with [orientation] (applied first): the boundary law and the anisotropy act among the
    # solids only (LiquidEnergy masks the liquid), the rotation stays on the model
    liquid = eqx.tree_at(
        lambda x: (x.boundaries, x.anisotropy),
        liquid,
        (e.boundaries, e.anisotropy),
        is_leaf=lambda x: x is None,
    )
    model = eqx.tree_at(
        lambda m: (m.energy, m.mobility),
        nd.model,
        (liquid, _liquid_mobility(config, nd.model.mobility)),
    )
    seed = 1e-6 * state0.rho
    eta = jnp.concatenate([state0.eta, seed[None]], axis=0)
    orient = state0.orientation
    if orient is not None:  # a placeholder for the liquid: it feels no torque, never stitches
        orient = jnp.concatenate([orient, jnp.zeros_like(orient[:1])], axis=0)
        if orient.ndim == 2:  # quaternions: the identity
            orient = orient.at[-1, 0].set(1.0)
    return dataclasses.replace(nd, model=model), State(state0.rho, eta, orient)


def make_stepper(config: RunConfig, nd: Nondimensional) -> SemiImplicitFourier:
    """The stepper, with thermal noise if ``[noise] enabled``.

    theta = scale * k_B T / (E0 l0^3): the thermal energy in internal units. In 2D the cells are
    taken one grid spacing thick (a film of one-cell thickness).
    """
    nz = config["noise"]
    if not nz["enabled"]:
        return SemiImplicitFourier()
    theta = _noise_theta(config, nd, config["material"]["temperature_K"])
    return SemiImplicitFourier(noise=ThermalNoise(theta, jax.random.key(nz["seed"])))


def _noise_theta(config: RunConfig, nd: Nondimensional, T_K: float) -> float:
    sc = nd.scales
    return config["noise"]["scale"] * K_B * T_K / (sc.energy_J_m3 * sc.length_m**3)


def observables_row(setup: Setup, t: float, state: State) -> dict[str, float]:
    """Observables at one save-point, in physical units."""
    obs = _observe(setup.model, setup.grid, state, setup.centres[0][0], setup.centres[1][0])
    obs = jax.device_get(obs)
    L = setup.nd.scales.length_m
    e_unit = setup.nd.scales.energy_J_m3 * L**setup.grid.ndim
    d0 = abs(setup.centres[1][0] - setup.centres[0][0])
    neck_key = "neck_width_nm" if setup.grid.ndim == 2 else "neck_radius_nm"
    vol = "nm2" if setup.grid.ndim == 2 else "nm3"
    t_s = float(setup.nd.scales.to_seconds(t))
    row = {
        "time_s": t_s,
        "temperature_K": setup.temperature(t_s),
        neck_key: float(obs["neck"]) * L / NM,
        "centre_distance_nm": float(obs["centre_distance"]) * L / NM,
        "shrinkage": 1.0 - float(obs["centre_distance"]) / d0,
        "free_energy_J": float(obs["free_energy"]) * e_unit,
        f"mass_{vol}": float(obs["mass"]) * (L / NM) ** setup.grid.ndim,
    }
    # grains = the crystal fields (with [melting] the last field is the liquid)
    k = setup.model.energy.crystal_count(state.eta.shape[0])
    volumes = np.atleast_1d(obs["grain_volume"])[:k]
    if setup.config["melting"]["enabled"]:
        rho, liquid = np.asarray(state.rho), np.asarray(state.eta[-1])
        # liquid volume (dF/dq) over the particles' volume in the same interpolation, int g(rho)
        # (over int rho it exceeds 1 for a small molten particle: g(rho) > rho in the surface)
        body = liquid_fraction(rho, np.ones_like(rho))
        row["liquid_fraction"] = float(np.sum(liquid_fraction(rho, liquid)) / np.sum(body))
    for i, v in enumerate(volumes):
        row[f"grain{i + 1}_volume_{vol}"] = float(v) * (L / NM) ** setup.grid.ndim
    if state.orientation is not None and setup.model.energy.boundaries is not None:
        crystals = State(state.rho, state.eta[:k], state.orientation[:k])
        ori = jax.device_get(_observe_orientation(setup.model, setup.grid, crystals))
        area = "boundary_length_nm" if setup.grid.ndim == 2 else "boundary_area_nm2"
        # NaN once one grain is gone (stitched, or consumed by boundary migration): no pair.
        row["misorientation_deg"] = float(ori["misorientation_deg"][0, 1])
        row["grain_count"] = float(ori["grain_count"])
        row[area] = float(ori["total_boundary_area"]) * (L / NM) ** (setup.grid.ndim - 1)
    return row


@jax.jit
def _observe_orientation(model, grid, state):
    return orientation_observables(state, grid, model)


@jax.jit
def _observe(model, grid, state, x_lo, x_hi):
    return two_particle_observables(state, grid, model, x_lo, x_hi)


@jax.jit
def _advance(model, grid, stepper, state, n, dt, step0):
    s = advance(model, grid, state, n, dt, stepper, step0=step0)
    return s, state_ok(s)


def _advance_interval(
    setup: Setup,
    state: State,
    chunks: list[tuple[float, float, float]],
    step0: int,
    refine: int,
) -> tuple[State, jax.Array, int, float]:
    """Advance over one save interval, chunk by chunk (one compiled call each, dispatched without
    waiting for the device), each with the model of its temperature.

    refine: split every chunk's steps this many times finer (a retry after an instability).
    Returns the state, whether every chunk stayed healthy, the steps taken and the shortest step.
    """
    ok, taken, h_min = jnp.asarray(True), 0, np.inf
    for a, b, T in chunks:
        n, h = plan_steps(a, np.asarray([b]), step_at(setup, T))
        n_c, h_c = int(n[0]) * refine, float(h[0]) / refine
        model, stepper = model_at(setup, T), stepper_at(setup, T)
        state, ok_c = _advance(model, setup.grid, stepper, state, n_c, h_c, step0 + taken)
        ok, taken, h_min = ok & ok_c, taken + n_c, min(h_min, h_c)
    return state, ok, taken, h_min


# Relative rise of F over one isothermal save interval beyond which the step counts as unstable:
# a gradient flow only lowers F, and round-off moves it by ~1e-6. Seen without this check: a
# [melting] run at dt_internal = 0.1 whose rho drifted to -0.27 in the vapour while F grew by
# ~1 % per save, all inside the [-0.5, 1.5] bounds.
ENERGY_RISE_TOL = 1e-3


def _energy_rose(setup: Setup, chunks, before: dict, after: dict) -> bool:
    """True if F rose by more than ``ENERGY_RISE_TOL`` over an interval that is a pure gradient
    flow at one temperature: no thermal noise, no sublimation (mass leaves), no rigid-body
    advection, and the interval's chunks at the temperature of the previous save (after a step
    or on a ramp F is evaluated with another q / other coefficients)."""
    m = setup.model
    if setup.stepper.noise is not None or m.sublimation is not None or m.rigid_body is not None:
        return False
    T0, f0, f1 = (
        before.get("temperature_K"),
        before.get("free_energy_J"),
        after.get("free_energy_J"),
    )
    if T0 is None or f0 is None or f1 is None:  # a file from an older version
        return False
    if not all(np.isclose(T, T0, rtol=1e-9, atol=0.0) for *_, T in chunks):
        return False
    return bool(f1 - f0 > ENERGY_RISE_TOL * max(abs(f0), abs(f1)))


class Unstable(RuntimeError):
    """A step went non-finite or out of bounds; ``state`` is the last good state."""

    def __init__(self, state: State, message: str):
        super().__init__(message)
        self.state = state


@dataclasses.dataclass
class Outcome:
    status: str  # "complete", "stopped", or "failed: ..."
    rows: list[dict[str, float]]
    state: State
    frames: int


def _attrs(setup: Setup) -> dict:
    sc = setup.nd.scales
    return {
        "config": setup.config.to_toml(),
        "version": __version__,
        "dx_nm": setup.config["grid"]["spacing_nm"],
        "length_m": sc.length_m,
        "energy_J_m3": sc.energy_J_m3,
        "time_s": sc.time_s,
        "dt_internal": setup.dt,
        "temperature_K": setup.temperature.start_K,
        "temperature_schedule": setup.temperature.to_json(),
    }


def simulate(
    setup: Setup,
    out: Path,
    *,
    start: tuple[int, float, State, int] | None = None,
    progress: Callable[[float], None] | None = None,
    stop_after: int | None = None,
    retries: int = 0,
    log: Callable[[str], None] = print,
) -> Outcome:
    """Run (or continue) ``setup`` writing run.h5, run.xmf and observables.csv in ``out``.

    start: (frame index, t_internal, state, steps taken) to continue from a checkpoint
        (resume); None starts at frame 0 with the initial state.
    stop_after: stop cleanly after this many new save-points (testing interruption).
    retries: on an unstable interval, halve dt and retry up to this many times.
    A failure never discards what was written: the last good state stays as checkpoint.
    """
    out.mkdir(parents=True, exist_ok=True)
    h5 = out / H5_NAME
    save_fields = bool(setup.config["output"]["fields"])
    dx_nm = setup.config["grid"]["spacing_nm"]
    precision = 8 if setup.dtype == jnp.float64 else 4
    observe = functools.partial(observables_row, setup)
    if start is None:
        index, t, state, steps = 0, 0.0, setup.state0, 0
        rows = [observe(0.0, state)]
        rf = RunFile.create(
            h5,
            shape=setup.grid.shape,
            n_fields=state.n_grains,
            dtype=setup.dtype,
            columns=list(rows[0]),
            attrs=_attrs(setup),
            schedule=setup.schedule,
            save_fields=save_fields,
            orientation_shape=None if state.orientation is None else state.orientation.shape,
        )
        rf.append(0, 0.0, rows[0], np.asarray(state.rho), np.asarray(state.eta), 0, _np(state))
    else:
        index, t, state, steps = start
        prev = read_run(h5)["observables"]
        rows = [{k: float(v[i]) for k, v in prev.items()} for i in range(index + 1)]

        def observe(t, state):  # a file from an older version may lack a column (temperature_K)
            return {k: v for k, v in observables_row(setup, t, state).items() if k in prev}

        rf = RunFile.reopen(h5, index + 1, schedule=setup.schedule, attrs=_attrs(setup))
    times = [r["time_s"] for r in rows]

    def publish():
        write_csv(out / "observables.csv", rows)
        if save_fields:
            write_xdmf(
                out / "run.xmf", H5_NAME, times, setup.grid.shape, state.n_grains, dx_nm, precision
            )

    publish()
    plan = plan_chunks(setup)
    status, done = "complete", 0
    try:
        for i in range(index, len(setup.schedule)):
            if stop_after is not None and done >= stop_after:
                status = "stopped"
                break
            t_new = float(setup.schedule[i])
            attempt, why = 0, None
            while True:
                new, ok, n_i, h_i = _advance_interval(setup, state, plan[i], steps, 2**attempt)
                row = observe(t_new, new) if bool(ok) else None
                if not bool(ok):
                    why = "the fields became non-finite or left [-0.5, 1.5]"
                elif _energy_rose(setup, plan[i], rows[-1], row):
                    why = (
                        f"the free energy rose from {rows[-1]['free_energy_J']:.6g} J to "
                        f"{row['free_energy_J']:.6g} J at constant temperature (a gradient flow "
                        "can only lower it)"
                    )
                else:
                    why = None
                if why is None or attempt >= retries:
                    break
                attempt += 1
                log(
                    f"interval {i + 1}: unstable ({why.split(' (')[0]}), retrying with dt = "
                    f"{setup.nd.scales.to_seconds(h_i / 2):.3g} s"
                )
            if why is not None:
                sc = setup.nd.scales
                raise Unstable(
                    state,
                    f"{why} between t = "
                    f"{sc.to_seconds(t):.4g} s and {sc.to_seconds(t_new):.4g} s "
                    f"(dt = {sc.to_seconds(h_i):.3g} s). The last good state (t = "
                    f"{sc.to_seconds(t):.4g} s) is saved; continue with a smaller step: "
                    f"sintersim resume {out} --dt-s {sc.to_seconds(h_i) / 4:.3g}",
                )
            state, t = new, t_new
            rows.append(row)
            times.append(row["time_s"])
            steps += n_i
            rf.append(
                i + 1, t, row, np.asarray(state.rho), np.asarray(state.eta), steps, _np(state)
            )
            publish()
            done += 1
            if progress:
                progress(t)
    except Unstable as e:
        rf.close(f"failed: {e}")
        return Outcome(f"failed: {e}", rows, e.state, len(rows))
    except KeyboardInterrupt:
        rf.close("interrupted")
        raise
    rf.close(status)
    return Outcome(status, rows, state, len(rows))


def load_for_resume(
    out: Path, end_s: float | None = None, dt_s: float | None = None
) -> tuple[Setup, tuple[int, float, State]]:
    """Rebuild the setup of the run in ``out`` and its checkpoint, optionally with a new end
    time and time step."""
    info = read_run(out / H5_NAME)
    cfg = loads_config(info["attrs"]["config"])
    setup = build(cfg)
    setup.schedule = info["schedule"]
    setup.dt = float(info["attrs"].get("dt_internal", setup.dt))
    if dt_s is not None:
        setup.dt = float(setup.nd.scales.to_internal_time(dt_s))
        if setup.dt > MAX_DT_INTERNAL:
            raise ConfigError(
                f"--dt-s {dt_s:g} s is {setup.dt:.3g} internal units; allowed: <= "
                f"{setup.nd.scales.to_seconds(MAX_DT_INTERNAL):.3g} s"
            )
    if end_s is not None:
        new_end = float(setup.nd.scales.to_internal_time(end_s))
        if new_end <= info["t_internal"]:
            raise ValueError(
                f"--end-s {end_s:g} s is not later than the checkpoint "
                f"({setup.nd.scales.to_seconds(info['t_internal']):.4g} s)"
            )
        setup.schedule = extend_schedule(setup.schedule, new_end, cfg["time"]["save_spacing"])
        setup.config = _with_time(setup.config, end_s=end_s)
    if dt_s is not None:
        setup.config = _with_time(setup.config, dt_s=dt_s)
    if info["checkpoint"] is None:
        raise ValueError(f"{out / H5_NAME} has no checkpoint to resume from")
    rho, eta, orient = info["checkpoint"]
    if orient is not None:
        orient = jnp.asarray(orient)
    state = State(jnp.asarray(rho), jnp.asarray(eta), orient)
    index = info["n_frames"] - 1
    return setup, (index, info["t_internal"], state, info["steps"])


def _np(state: State):
    return None if state.orientation is None else np.asarray(state.orientation)


def _with_time(cfg: RunConfig, **changes) -> RunConfig:
    values = {s: dict(v) for s, v in cfg.values.items()}
    values["time"].update(changes)
    return RunConfig(values)
