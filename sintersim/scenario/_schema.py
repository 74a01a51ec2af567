"""The config schema: every field's type, unit, allowed range and description (`SCHEMA`), and the
check of one value against it. One source for validation, `sintersim config --example` and the
generated config reference (docs/config.md).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from typing import Any

from sintersim.constants import ZERO_C_K
from sintersim.materials._presets import MATERIALS


class ConfigError(ValueError):
    """A configuration value is missing, of the wrong type, or out of range."""


class ResourceLimitError(ConfigError, MemoryError):
    """A valid configuration whose run does not fit this machine (memory): refused before
    anything is allocated (the CLI's exit code 4)."""


@dataclasses.dataclass(frozen=True)
class Field:
    kind: type | tuple[type, ...]
    default: Any
    unit: str
    doc: str
    lo: float | int | None = None  # inclusive lower bound
    hi: float | int | None = None  # inclusive upper bound
    lo_open: bool = False  # lower bound exclusive
    choices: tuple[str, ...] | None = None
    required: bool = False
    # Shown by example_config when there is no default: commented out, or set for a required
    # field (the example config runs as printed).
    example: Any = None


_R = "required"


T_MIN_K, T_MAX_K = 1.0, 5000.0  # allowed temperatures (kelvin)


SCHEDULES = ("constant", "ramp", "steps")


_LATTICES = ("hex_monolayer", "square_superlattice")
LAYOUTS = ("pair", "chain", *_LATTICES, "random_packing", "random_cluster", "file")


_POS = {"lo": 0.0, "lo_open": True}


_NONNEG = {"lo": 0.0}


SCHEMA: dict[str, dict[str, Field]] = {
    "material": {
        "preset": Field(
            str, "PbSe", "", "material preset (sintersim materials)", choices=tuple(MATERIALS)
        ),
        "temperature_K": Field(
            float,
            423.15,
            "K",
            "temperature (or give temperature_C, not both); with a [temperature] schedule, the "
            "start temperature",
            lo=T_MIN_K,
            hi=T_MAX_K,
        ),
        "temperature_C": Field(
            float,
            None,
            "°C",
            "temperature in degrees Celsius, instead of temperature_K",
            lo=T_MIN_K - ZERO_C_K,
            hi=T_MAX_K - ZERO_C_K,
            example=150.0,
        ),
        "surface_energy_J_m2": Field(
            float, None, "J/m^2", "solid-vapour energy (preset if unset)", lo=1e-3, hi=20.0
        ),
        "gb_energy_J_m2": Field(
            float, None, "J/m^2", "grain-boundary energy (preset if unset)", lo=1e-4, hi=20.0
        ),
        "atomic_volume_m3": Field(
            float, None, "m^3", "volume per formula unit (preset if unset)", lo=1e-31, hi=1e-26
        ),
        "surface_diffusivity_m2_s": Field(
            float, None, "m^2/s", "D_s (preset Arrhenius if unset)", lo=0.0, hi=1.0
        ),
        "surface_layer_nm": Field(
            float, None, "nm", "surface diffusion layer delta_s", lo=0.01, hi=10.0
        ),
        "gb_diffusivity_m2_s": Field(
            float, None, "m^2/s", "D_gb (preset Arrhenius if unset)", lo=0.0, hi=1.0
        ),
        "gb_width_nm": Field(
            float, None, "nm", "grain-boundary diffusion width delta_gb", lo=0.01, hi=10.0
        ),
        "volume_diffusivity_m2_s": Field(
            float, None, "m^2/s", "D_v (preset Arrhenius if unset)", lo=0.0, hi=1.0
        ),
        "vapour_diffusivity_m2_s": Field(
            float,
            0.0,
            "m^2/s",
            "effective vapour-phase diffusivity (0: no evaporation-condensation)",
            lo=0.0,
            hi=1.0,
        ),
        "sublimation_nm_s": Field(
            float,
            0.0,
            "nm/s",
            "surface recession velocity by sublimation, mass lost to the vapour (0: none; "
            "Hertz-Knudsen: Omega p_v / sqrt(2 pi m k_B T))",
            lo=0.0,
            hi=1e6,
        ),
        "gb_mobility_m4_Js": Field(
            float,
            None,
            "m^4/(J s)",
            "grain-boundary mobility (unset: boundaries relax fast)",
            lo=0.0,
            lo_open=True,
            hi=1e-3,
        ),
    },
    "model": {
        "interface_width_nm": Field(
            float, 1.0, "nm", "diffuse surface width 1/max|grad rho|", **_POS, hi=100.0
        ),
        "gb_width_ratio": Field(
            float, 1.0, "", "grain-boundary width / surface width", lo=0.3, hi=3.0
        ),
    },
    "grid": {
        "shape": Field(
            list,
            None,
            "cells",
            "cells per axis (2 or 3 axes); default: [64, 40] for a pair, the layout's box for a "
            "packing",
            example=[64, 40],
        ),
        "spacing_nm": Field(float, 0.25, "nm", "grid spacing dx", **_POS, hi=100.0),
        "dtype": Field(
            str, "float32", "", "floating-point precision", choices=("float32", "float64")
        ),
    },
    "particles": {
        "layout": Field(
            str,
            "pair",
            "",
            "the start: a pair on axis 0; a chain along axis 0; a hexagonal monolayer or square "
            "superlattice (discs in 2D, a layer of spheres in 3D); a random packing; a free "
            "random cluster (vapour around it); or a CSV file of centres and radii",
            choices=LAYOUTS,
        ),
        "radius_nm": Field(float, 3.1, "nm", "radius (mean radius of a packing)", **_POS, hi=1e4),
        "radius2_nm": Field(
            float, None, "nm", "pair: radius of particle 2 (default: radius_nm)", **_POS, hi=1e4
        ),
        "gap_nm": Field(
            float,
            -0.25,
            "nm",
            "pair, chain, lattices, random_cluster: surface-to-surface gap of mean-size "
            "neighbours (negative: initial overlap)",
            lo=-1e4,
            hi=1e4,
        ),
        "size_spread_nm": Field(
            float,
            0.0,
            "nm",
            "packings: standard deviation of the radii (normal, truncated at 2 sigma)",
            lo=0.0,
            hi=1e4,
        ),
        "count": Field(
            int, None, "", "chain, random packing or cluster: particles", lo=1, hi=100000, example=8
        ),
        "rows": Field(int, None, "", "lattices: rows (even for hex_monolayer)", lo=1, hi=10000),
        "cols": Field(int, None, "", "lattices: particles per row", lo=1, hi=10000),
        "packing_fraction": Field(
            float,
            None,
            "",
            "random_packing without grid.shape: solid fraction that sets the (square/cubic) box",
            **_POS,
            hi=0.6,
        ),
        "min_gap_nm": Field(
            float,
            0.0,
            "nm",
            "random_packing: smallest surface-to-surface gap (negative: largest overlap)",
            lo=-1e4,
            hi=1e4,
        ),
        "margin_nm": Field(
            float,
            None,
            "nm",
            "chain, 3D lattices: vapour across the particles; random_cluster: vapour around "
            "the cluster, per side (default: 4 interface widths)",
            lo=0.0,
            hi=1e4,
        ),
        "dimensions": Field(
            int, 2, "", "packings without grid.shape: 2 (discs) or 3 (spheres)", lo=2, hi=3
        ),
        "file": Field(
            str,
            None,
            "",
            "layout 'file': CSV with columns x_nm, y_nm[, z_nm], radius_nm and optionally "
            "angle_deg (2D), qw, qx, qy, qz or axis_x, axis_y, axis_z, angle_deg (3D); path "
            "relative to the config file",
            example="particles.csv",
        ),
        "orientation": Field(
            (str, float),
            "aligned",
            "",
            "packings: crystal orientations, 'aligned', 'random' or a spread in degrees (the "
            "pair uses orientation.misorientation_deg)",
        ),
        "seed": Field(int, 0, "", "random seed of sizes, positions and orientations", lo=0),
        "spare_fields": Field(
            int,
            1,
            "",
            "packings: order parameters beyond the colouring's, free for re-assignment",
            lo=0,
            hi=64,
        ),
        "safety_nm": Field(
            float,
            None,
            "nm",
            "packings: grains of one order parameter are kept this far apart, surface to surface "
            "(default: 4 interface widths + the largest radius)",
            **_POS,
        ),
    },
    "time": {
        "end_s": Field(float, None, "s", "simulated time", **_POS, required=True, example=0.01),
        "dt_s": Field(
            float,
            None,
            "s",
            "fixed time step, or the first step if adaptive (default: from time.dt_internal)",
            **_POS,
        ),
        "dt_internal": Field(
            float,
            0.1,
            "",
            "time step in internal units if dt_s is unset: the fixed step, or the first step if "
            "adaptive (fixed first-order steps: beyond 1 the transient error grows past a cell)",
            **_POS,
            hi=1.0,
        ),
        "adaptive": Field(
            bool,
            True,
            "",
            "error-controlled step sizes (thermal noise always takes fixed steps of the "
            "first-order scheme)",
        ),
        "scheme": Field(
            str,
            "euler",
            "",
            "time scheme: euler (first order; step doubling when adaptive) or ros2 (second "
            "order, embedded error estimate)",
            choices=("euler", "ros2"),
        ),
        "tolerance_nm": Field(
            float,
            None,
            "nm",
            "adaptive: how far one step may move an interface by its local error (default: "
            "0.0003 interface widths)",
            **_POS,
        ),
        "dt_max_internal": Field(
            float,
            10.0,
            "",
            "adaptive: the longest step, in internal units (the stability bound; stable to 100 "
            "in tests of the plain model, explicit terms such as anisotropy need <= 1)",
            **_POS,
            hi=100.0,
        ),
        "n_saves": Field(int, 50, "", "number of save-points", lo=1, hi=100000),
        "save_spacing": Field(str, "linear", "", "save-point spacing", choices=("linear", "log")),
        "retries": Field(
            int, 0, "", "on instability, halve dt and retry this many times", lo=0, hi=10
        ),
    },
    "noise": {
        "enabled": Field(bool, False, "", "thermal noise (Cahn-Hilliard-Cook on rho, on eta)"),
        "seed": Field(
            int, 0, "", "random seed of the noise (runs are reproducible)", lo=0, hi=2**31 - 1
        ),
        "scale": Field(float, 1.0, "", "noise strength as a multiple of k_B T", lo=0.0, hi=100.0),
    },
    "motion": {
        "enabled": Field(
            bool,
            False,
            "",
            "rigid-body motion of every grain (densification: grains approach as their "
            "boundaries lose matter to the necks)",
        ),
        "force": Field(
            str,
            "energy",
            "",
            "driving force: 'energy' (minus the free-energy change of a rigid displacement: a "
            "gradient flow of F, zero for a lone grain; surface diffusion alone does not "
            "densify) or 'wang' (Wang 2006: a boundary below motion.reference_density pulls; it "
            "also pulls on the neck's surface and densifies without a boundary path)",
            choices=("energy", "wang"),
        ),
        "translational_mobility_m5_Js": Field(
            float,
            None,
            "m^5/(J s)",
            "m_t in v = m_t F / V (force F in J/m, volume V in m^3); unset: the fast limit, where "
            "the grains follow their force balance within each step and boundary diffusion "
            "alone sets the rate (Coble); before contact there is no balance and that limit's "
            "approach speed depends on the step: set m_t where it matters",
            lo=0.0,
        ),
        "rotational_mobility_m3_Js": Field(
            float,
            0.0,
            "m^3/(J s)",
            "m_r in omega = m_r torque / V of a grain's shape (0: shapes do not turn; the "
            "lattice's rotation is orientation.rotational_mobility_m3_Js)",
            lo=0.0,
        ),
        "density_stiffness": Field(
            float,
            0.0,
            "",
            "s of sintersim.model.DensityBounds: the density's modulus outside [0, 1] as (1 + s) "
            "times the well's own (zero on [0, 1]: equilibrium profiles and energies unchanged), "
            "and the motion's contact stiffness with it. 0: off. A box-filling film with motion "
            "needs 100 (seed 004's film then completes, rho <= 1.18; with 0 or 10 it compresses "
            "to rho 1.5 and stops); the cost is much smaller steps, and with 10 a free chain's "
            "shrinkage per contact depends more on its length (spread 16 % for N = 2..8, 6 % "
            "with 0)",
            lo=0.0,
            hi=100.0,
        ),
        "reference_density": Field(
            float,
            0.998,
            "",
            "rho_0 of force = 'wang': a boundary below it pulls, above it pushes (Wang 2006: "
            "0.998; a flat boundary of this functional is at 1)",
            lo=0.9,
            hi=1.0,
        ),
    },
    "orientation": {
        "enabled": Field(
            bool, False, "", "crystal orientations: Read-Shockley boundaries, rotation, stitching"
        ),
        "misorientation_deg": Field(
            float, 0.0, "deg", "rotation of particle 2 relative to particle 1", lo=0.0, hi=180.0
        ),
        "axis": Field(list, [0.0, 0.0, 1.0], "", "rotation axis of that misorientation (3D)"),
        "cutoff_deg": Field(
            float, 15.0, "deg", "Read-Shockley cut-off angle theta_m", lo=0.5, hi=60.0
        ),
        "stitch_deg": Field(
            float,
            2.0,
            "deg",
            "touching grains closer than this stitch into one crystal (>= the model's floor, "
            "about 1.8 deg at cutoff 15)",
            lo=0.0,
            hi=60.0,
        ),
        "rotational_mobility_m3_Js": Field(
            float,
            0.0,
            "m^3/(J s)",
            "m_r in d theta/dt = m_r torque / volume (0: grains do not rotate)",
            lo=0.0,
        ),
        "surface_anisotropy_ratio": Field(
            float,
            1.0,
            "",
            "cubic surface anisotropy: <110>/<100> ratio of the density-gradient gauge (1: "
            "isotropic; 1.3486: cubes; gamma varies by ~0.75 of it)",
            lo=1.0,
            hi=1.3486,
        ),
    },
    "melting": {
        "enabled": Field(
            bool, False, "", "a liquid phase (surface melting): an extra order parameter"
        ),
        "parameters": Field(
            str,
            "seed003",
            "",
            "latent heat, T_m and liquid energies: 'seed003' (CdSe fitted to seed 003, "
            "CDSE_SEED003_PF) or 'material' (the preset's bulk values)",
            choices=("seed003", "material"),
        ),
        "liquid_mobility_factor": Field(
            float, 5.0, "", "liquid transport M_liq / M_surf", lo=0.0, hi=1000.0
        ),
        "latent_heat_J_m3": Field(
            float, None, "J/m^3", "L_v (unset: from melting.parameters)", lo=1e6, hi=1e11
        ),
        "melting_point_K": Field(
            float, None, "K", "T_m where q = 0 (unset: from melting.parameters)", lo=1.0, hi=5000.0
        ),
        "gamma_sl_J_m2": Field(
            float,
            None,
            "J/m^2",
            "solid-liquid energy (unset: from melting.parameters)",
            lo=1e-4,
            hi=20.0,
        ),
        "gamma_lv_J_m2": Field(
            float,
            None,
            "J/m^2",
            "liquid-vapour energy (unset: from melting.parameters)",
            lo=1e-4,
            hi=20.0,
        ),
    },
    "temperature": {
        "schedule": Field(
            str,
            "constant",
            "",
            "temperature history of the run: constant (material.temperature_K), ramp (piecewise "
            "linear between the points), steps (values[i] from times_s[i] until the next point)",
            choices=SCHEDULES,
        ),
        "times_s": Field(
            list,
            None,
            "s",
            "schedule points, strictly increasing, within [0, time.end_s]; the first value holds "
            "before the first point, the last after the last",
            lo=0.0,
            example=[0.0, 0.005, 0.01],
        ),
        "values_K": Field(
            list,
            None,
            "K",
            "temperature at each point (or give values_C, not both)",
            lo=T_MIN_K,
            hi=T_MAX_K,
            example=[423.15, 473.15, 473.15],
        ),
        "values_C": Field(
            list,
            None,
            "°C",
            "temperature at each point in degrees Celsius, instead of values_K",
            lo=T_MIN_K - ZERO_C_K,
            hi=T_MAX_K - ZERO_C_K,
            example=[150.0, 200.0, 200.0],
        ),
        "max_change_K": Field(
            float,
            1.0,
            "K",
            "ramp: the largest temperature change inside one compiled chunk (the model is "
            "rebuilt at each chunk's mid-point temperature)",
            **_POS,
            hi=1000.0,
        ),
    },
    "output": {
        "fields": Field(bool, True, "", "write the fields at every save-point to run.h5"),
    },
    "sweep": {
        "parameters": Field(
            dict,
            None,
            "",
            "swept config values: 'section.key' = a list, or a range { from, to, num, "
            "spacing = 'linear' | 'log' }; members run as one vmapped program (sintersim sweep)",
            example={"material.temperature_K": [373.15, 398.15], "noise.seed": [0, 1]},
        ),
        "mode": Field(
            str,
            "product",
            "",
            "members: every combination of the lists (product) or the i-th of each (zip)",
            choices=("product", "zip"),
        ),
        "neck_nm": Field(
            list,
            None,
            "nm",
            "neck sizes whose first-reaching times the summary reports (pair: the neck; "
            "packings: the mean neck)",
            **_POS,
            example=[1.0, 2.0],
        ),
    },
}


def _type_name(kind) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(
        {
            float: "number",
            int: "integer",
            str: "string",
            bool: "true/false",
            list: "list",
            dict: "table",
        }[k]
        for k in kinds
    )


def _range_text(f: Field) -> str:
    if f.choices:
        return "one of " + ", ".join(repr(c) for c in f.choices)
    lo = "-inf" if f.lo is None else f"{f.lo:g}"
    hi = "inf" if f.hi is None else f"{f.hi:g}"
    return f"{'(' if f.lo_open else '['}{lo}, {hi}]" + (f" {f.unit}" if f.unit else "")


def _check_value(path: str, f: Field, v: Any) -> Any:
    kinds = f.kind if isinstance(f.kind, tuple) else (f.kind,)
    if float in kinds and int not in kinds and isinstance(v, int) and not isinstance(v, bool):
        v = float(v)
    if isinstance(v, bool) and f.kind is not bool:
        raise ConfigError(f"{path}: expected a {_type_name(f.kind)}, got {v!r}")
    if not isinstance(v, f.kind):
        raise ConfigError(f"{path}: expected a {_type_name(f.kind)}, got {v!r}")
    if isinstance(v, str) and f.choices:
        match = {c.lower(): c for c in f.choices}.get(v.lower())
        if match is None:
            hint = difflib.get_close_matches(v, f.choices, n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise ConfigError(f"{path} = {v!r} is not allowed; {_range_text(f)}{extra}")
        return match
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        bad = not math.isfinite(v)
        bad |= f.lo is not None and (v <= f.lo if f.lo_open else v < f.lo)
        bad |= f.hi is not None and v > f.hi
        if bad:
            raise ConfigError(f"{path} = {v!r} is out of range; allowed: {_range_text(f)}")
    return v


_PLUGINS_LOADED: set[str] = set()


def load_plugins() -> None:
    """Import the plugin modules that register features (and so config sections): those named
    in the environment variable ``SINTERSIM_PLUGINS`` (comma-separated module names) and the
    ``sintersim.plugins`` entry points of installed packages. Each is imported once."""
    import importlib
    import importlib.metadata
    import os

    names = [n.strip() for n in os.environ.get("SINTERSIM_PLUGINS", "").split(",") if n.strip()]
    names += [ep.value for ep in importlib.metadata.entry_points(group="sintersim.plugins")]
    for name in names:
        if name in _PLUGINS_LOADED:
            continue
        try:
            importlib.import_module(name)
        except ImportError as e:
            raise ConfigError(f"plugin {name!r} (SINTERSIM_PLUGINS) cannot be imported: {e}") from e
        _PLUGINS_LOADED.add(name)
