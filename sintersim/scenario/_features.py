"""Features: each optional config section says what it adds to the model, in one place.

A `Feature` reads its section of the config and adds its parts (energy terms, mobility paths,
kinetics) to the model that the one unit mapping made at a temperature T
(`sintersim.calibrate.model_coefficients`). The assembly (`build`, `Setup.model_at`) applies
every enabled feature in order; the driver, the fit and the stepper never name one. How a part
changes with temperature is said here, in ``add`` (it receives T and the physical values at T).

Built in: ``[orientation]`` (boundary law, anisotropy, rotation, stitching), ``[melting]`` (the
liquid), ``material.sublimation_nm_s`` (the surface sink), ``[noise]`` (thermal noise), ``[motion]``
(rigid-body motion of the grains). A
package or a user adds one with `register_feature`; its config section (``schema``) joins the
validated config and the generated reference.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from sintersim.calibrate._boundaries import make_boundary_law
from sintersim.calibrate._liquid import solved_liquid
from sintersim.calibrate._units import Reference
from sintersim.constants import K_B, NM
from sintersim.grid import Grid
from sintersim.materials._liquid_presets import CDSE_SEED003_PF
from sintersim.materials._melting import SurfaceMeltingParameters
from sintersim.materials._presets import get_material
from sintersim.model._anisotropy import SurfaceAnisotropy
from sintersim.model._boundaries import Stitching
from sintersim.model._density_bounds import DensityBounds
from sintersim.model._liquid import Liquid, LiquidPath
from sintersim.model._noise import ThermalNoise
from sintersim.model._rigid_body import RigidBody, grain_slots
from sintersim.model._rotation import Rotation
from sintersim.model._sinter import SinterModel
from sintersim.model._sublimation import Sublimation
from sintersim.orientation import axis_angle
from sintersim.scenario._config import RunConfig
from sintersim.scenario._schema import SCHEMA, ConfigError, Field
from sintersim.state import State

# Largest surface displacement by the (explicit) sublimation sink in one step, in cells.
MAX_SUBLIMATION_CELLS = 0.1
# Largest thermal kick of an order parameter in one step, sqrt(2 theta L dt / dV): beyond it the
# noise throws fields out of [0, 1] faster than the potential pulls them back (measured: the
# default PbSe pair runs at 0.58 and blows up at 1.05).
MAX_NOISE_KICK = 0.7


@dataclasses.dataclass(frozen=True)
class Context:
    """What a feature sees when it adds its parts at one temperature.

    config: the run's config. reference: the run's internal units and shape. values: the
    physical parameters at T_K (keys of `PhysicalParameters`, plus any fitted feature value
    such as ``rotational_mobility``); entries may be traced JAX values (the fit). data: what the
    feature's ``prepare`` returned.
    """

    config: RunConfig
    reference: Reference
    values: Mapping[str, Any]
    T_K: float
    grid: Grid
    data: Any


class Feature:
    """One optional config section and the model parts it adds.

    section: the config section it reads. schema: the fields of that section, for a feature
    registered from outside (built-in sections are in `sintersim.scenario.SCHEMA`).
    fit_values: physical values the fit may vary through this feature, name -> unit.
    """

    section: str = ""
    schema: dict[str, Field] = {}
    fit_values: dict[str, str] = {}

    def enabled(self, config: RunConfig) -> bool:
        return bool(config[self.section].get("enabled", False))

    def prepare(self, config: RunConfig, base: SinterModel, state0: State) -> tuple[Any, State]:
        """Host-side set-up, once per run: tables and the initial fields (``base``: the model of
        the unit mapping at the start temperature, without features). Returns (data, state0)."""
        return None, state0

    def add(self, model: SinterModel, ctx: Context) -> SinterModel:
        """The model with this feature's parts at ``ctx.T_K``."""
        return model

    def check(self, setup, temperatures: list[float]) -> None:
        """Refuse (ConfigError) settings this feature cannot run stably at these temperatures."""


def _append(model: SinterModel, terms=(), paths=(), kinetics=()) -> SinterModel:
    return SinterModel(
        model.energy,
        model.mobility,
        model.L,
        (*model.terms, *terms),
        (*model.paths, *paths),
        (*model.kinetics, *kinetics),
    )


class OrientationFeature(Feature):
    """``[orientation]``: Read-Shockley boundaries, cubic surface anisotropy, grain rotation and
    stitching; particle 2 turned by ``misorientation_deg``. The boundary table is the start
    shape's (held fixed when a fit varies the energies: it depends on their ratio weakly)."""

    section = "orientation"
    fit_values = {"rotational_mobility": "m^3/(J s)"}

    def prepare(self, config, base, state0):
        o = config.orientation
        try:
            symmetry = get_material(config.material.preset).symmetry
            law = make_boundary_law(base.energy, o.cutoff_deg, o.stitch_deg, symmetry=symmetry)
        except ValueError as e:
            raise ConfigError(f"orientation: {e}") from e
        aniso = None
        ratio = o.surface_anisotropy_ratio
        if ratio > 1.0:
            if symmetry != "cubic":
                raise ConfigError(
                    f"orientation.surface_anisotropy_ratio = {ratio:g}: the anisotropy is cubic; "
                    f"material.preset = {config['material']['preset']!r} is {symmetry}; allowed: "
                    "1 (isotropic) for non-cubic materials"
                )
            try:
                # The weights' blur spans the surface (internal lengths are grid cells here).
                width = config.model.interface_width_nm / config.grid.spacing_nm
                aniso = SurfaceAnisotropy(ratio, blur=width)
            except ValueError as e:
                raise ConfigError(f"orientation.surface_anisotropy_ratio: {e}") from e
        dtype = state0.rho.dtype
        if state0.orientation is not None:  # a packing: its particles' orientations, per field
            return (law, aniso), state0
        if state0.rho.ndim == 2:
            orient = jnp.asarray([0.0, np.radians(o.misorientation_deg)], dtype)
        else:
            q2 = axis_angle(o.axis, o.misorientation_deg)
            orient = jnp.asarray(np.stack([[1.0, 0.0, 0.0, 0.0], q2]), dtype)
        return (law, aniso), State(state0.rho, state0.eta, orient)

    def add(self, model, ctx):
        law, aniso = ctx.data
        energy = eqx.tree_at(lambda e: e.boundaries, model.energy, law, is_leaf=lambda x: x is None)
        model = dataclasses.replace(model, energy=energy)
        m_r = ctx.values.get("rotational_mobility")
        if m_r is None:
            m_r = ctx.config.orientation.rotational_mobility_m3_Js
        kinetics = []
        if not isinstance(m_r, float | int) or m_r > 0:
            kinetics.append(Rotation(ctx.reference.scales.rotational_mobility(m_r)))
        kinetics.append(Stitching())
        return _append(model, terms=() if aniso is None else (aniso,), kinetics=kinetics)


def melting_parameters(config: RunConfig) -> SurfaceMeltingParameters:
    """The liquid's physical parameters of ``[melting]``: the seed-003 CdSe fit, or the material
    preset's bulk latent heat, melting point and liquid energies (gamma_sv: the run's surface
    energy; xi is not used by runs, the interface width sets the layer's decay length)."""
    m = config.melting
    gamma_sv = config.physical_parameters().surface_energy
    if m.parameters == "seed003":
        p = CDSE_SEED003_PF
        base = dict(
            latent_heat_J_m3=p.latent_heat_J_m3,
            melting_point_K=p.melting_point_K,
            gamma_sl_J_m2=p.gamma_sl_J_m2 / p.gamma_sv_J_m2 * gamma_sv,  # keep its ratios
            gamma_lv_J_m2=p.gamma_lv_J_m2 / p.gamma_sv_J_m2 * gamma_sv,
        )
    else:
        mat = get_material(config.material.preset)
        base = dict(
            latent_heat_J_m3=mat.latent_heat_J_m3,
            melting_point_K=mat.melting_point_K,
            gamma_sl_J_m2=mat.solid_liquid_energy_J_m2,
            gamma_lv_J_m2=mat.liquid_vapour_energy_J_m2,
        )
    # explicit [melting] values win
    base.update({k: getattr(m, k) for k in base if getattr(m, k) is not None})
    try:
        return SurfaceMeltingParameters(
            gamma_sv_J_m2=gamma_sv, xi_m=config.model.interface_width_nm * 1e-9, **base
        )
    except ValueError as err:
        raise ConfigError(f"melting: {err}") from None


class MeltingFeature(Feature):
    """``[melting]``: the liquid as the last order parameter (seeded at 1e-6 rho), its energy
    term with q = L_v (1 - T/T_m) at the temperature, and the liquid mobility path
    ``M_liq = liquid_mobility_factor * M_surf``.

    The run's Wang shape gets the pair coefficient c_sl and the liquid-surface term a_l that
    give the parameters' gamma_lv / gamma_sv and gamma_sl / gamma_sv
    (`sintersim.calibrate.solve_liquid_coefficients`, cached).
    """

    section = "melting"

    def prepare(self, config, base, state0):
        params = melting_parameters(config)
        if not params.wets:
            raise ConfigError(
                f"melting.parameters = {config['melting']['parameters']!r}: gamma_sl + gamma_lv "
                f"= {params.gamma_sl_J_m2 + params.gamma_lv_J_m2:.3g} J/m^2 is not below "
                f"gamma_sv = {params.gamma_sv_J_m2:.3g} J/m^2, so no liquid layer wets the "
                "surface below T_m; allowed: a wetting set, e.g. 'seed003'"
            )
        e = base.energy
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
                f"with gamma_sv = {params.gamma_sv_J_m2:g} J/m^2) cannot be realised on this "
                f"run's model: {err}"
            ) from None
        eta = jnp.concatenate([state0.eta, 1e-6 * state0.rho[None]], axis=0)
        orient = state0.orientation
        if orient is not None:  # a placeholder for the liquid: it feels no torque, never stitches
            orient = jnp.concatenate([orient, jnp.zeros_like(orient[:1])], axis=0)
            if orient.ndim == 2:  # quaternions: the identity
                orient = orient.at[-1, 0].set(1.0)
        data = (params, float(liquid.c_sl), float(liquid.a_l))
        return data, State(state0.rho, eta, orient)

    def add(self, model, ctx):
        params, c_sl, a_l = ctx.data
        q = float(params.q_J_m3(ctx.T_K)) / ctx.reference.scales.energy_J_m3
        factor = ctx.config.melting.liquid_mobility_factor
        path = LiquidPath(M_liq=factor * model.mobility.M_surf)
        return _append(model, terms=(Liquid(c_sl, a_l, q),), paths=(path,))


class SublimationFeature(Feature):
    """``material.sublimation_nm_s > 0``: the surface sink, v in the run's fixed units."""

    section = "material"

    def enabled(self, config):
        return config.material.sublimation_nm_s > 0

    def add(self, model, ctx):
        sc = ctx.reference.scales
        v = ctx.config.material.sublimation_nm_s * NM * sc.time_s / sc.length_m
        return _append(model, kinetics=(Sublimation(v),))

    def check(self, setup, temperatures):
        # the sink is explicit: a step may move the surface by a fraction of a cell only
        v_nm_s = setup.config.material.sublimation_nm_s
        v = float(setup.model.find(Sublimation).velocity)
        cells = max(v * setup.step_at(T) for T in temperatures) / setup.grid.spacing
        if cells > MAX_SUBLIMATION_CELLS:
            sc = setup.nd.scales
            dt_max = MAX_SUBLIMATION_CELLS * setup.grid.spacing / v
            raise ConfigError(
                f"material.sublimation_nm_s = {v_nm_s:g} nm/s moves the surface {cells:.3g} cells "
                f"per step here (one internal time unit is {sc.time_s:.3g} s); allowed: <= "
                f"{MAX_SUBLIMATION_CELLS:g}: lower material.sublimation_nm_s or set time.dt_s <= "
                f"{sc.to_seconds(dt_max):.3g} s"
            )


class NoiseFeature(Feature):
    """``[noise]``: thermal noise with theta = scale k_B T / (E0 l0^3) at the temperature (in 2D
    the cells are taken one grid spacing thick), keyed by ``noise.seed``."""

    section = "noise"

    def add(self, model, ctx):
        sc = ctx.reference.scales
        nz = ctx.config.noise
        theta = nz.scale * K_B * ctx.T_K / (sc.energy_J_m3 * sc.length_m**3)
        return _append(model, kinetics=(ThermalNoise(theta, jax.random.key(nz.seed)),))

    def check(self, setup, temperatures):
        """Refuse noise that kicks a field by more than MAX_NOISE_KICK per step at any
        temperature of the run (the kick sqrt(2 theta rate dt / dV) grows with T)."""
        kick, T_worst, theta_worst = 0.0, temperatures[0], 0.0
        for T in temperatures:
            model = setup.model_at(T)
            theta = float(model.find(ThermalNoise).temperature)
            rate = max(float(model.L), float(model.mobility_bound()))
            k = (2.0 * theta * rate * setup.step_at(T) / setup.grid.cell_volume) ** 0.5
            if k > kick:
                kick, T_worst, theta_worst = k, T, theta
        if kick > MAX_NOISE_KICK:
            scale = setup.config.noise.scale
            top = scale * (MAX_NOISE_KICK / kick) ** 2
            raise ConfigError(
                f"noise.scale = {scale:g}: the thermal energy per cell is "
                f"{theta_worst:.3g} times E0 dx^3, which kicks a field by {kick:.2f} per step"
                + (f" at {T_worst:g} K" if len(temperatures) > 1 else "")
                + f"; allowed: <= {MAX_NOISE_KICK} per step, i.e. noise.scale <= {top:.3g} at "
                "this grid and step (or a coarser grid.spacing_nm / smaller time step)"
            )


class MotionFeature(Feature):
    """``[motion]``: rigid-body translation (and shape rotation) of every grain, the
    densification mechanism (`sintersim.model.RigidBody`). The mobilities are fittable
    (``translational_mobility``, ``shape_rotational_mobility``); unset m_t is the fast limit."""

    section = "motion"
    fit_values = {
        "translational_mobility": "m^5/(J s)",
        "shape_rotational_mobility": "m^3/(J s)",
    }

    def prepare(self, config, base, state0):
        """The grain slots the coupled solve needs (`grain_slots` of the start's grains)."""
        return grain_slots(state0.eta[: base.n_crystals(state0.eta.shape[0])]), state0

    def add(self, model, ctx):
        mo = ctx.config.motion
        sc = ctx.reference.scales
        m_t = ctx.values.get("translational_mobility", mo.translational_mobility_m5_Js)
        m_r = ctx.values.get("shape_rotational_mobility", mo.rotational_mobility_m3_Js)
        body = RigidBody(
            None if m_t is None else sc.translational_mobility(m_t),
            sc.rotational_mobility(m_r),
            force=mo.force,
            rho0=mo.reference_density,
            max_grains=ctx.data,
        )
        # the grains press their boundaries: a soft density would compress instead of moving
        # matter to the necks (DensityBounds is zero on [0, 1], so it changes nothing else)
        terms = (DensityBounds(mo.density_stiffness),) if mo.density_stiffness > 0 else ()
        return _append(model, terms=terms, kinetics=(body,))


FEATURES: list[Feature] = [
    OrientationFeature(),
    MeltingFeature(),
    SublimationFeature(),
    NoiseFeature(),
    MotionFeature(),
]


def register_feature(feature: Feature) -> Feature:
    """Add a feature (applied after the built-in ones); its ``schema`` becomes the config section
    ``[feature.section]``, validated like the built-in ones and listed in the reference. Call it
    from a plugin module (see `sintersim.scenario.load_plugins`). Returns the feature."""
    if feature.schema:
        if feature.section in SCHEMA:
            raise ValueError(f"config section [{feature.section}] already exists")
        SCHEMA[feature.section] = dict(feature.schema)
    FEATURES.append(feature)
    return feature


def unregister_feature(feature: Feature) -> None:
    """Remove a registered feature and its config section (tests, interactive sessions)."""
    FEATURES.remove(feature)
    if feature.schema:
        SCHEMA.pop(feature.section, None)
