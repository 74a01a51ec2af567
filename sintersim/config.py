"""Run configuration: TOML in physical units, validated field by field.

Every field has a type, a unit, an allowed range and a one-line description (`SCHEMA`). Loading
checks them all and raises `ConfigError` naming the field, the value and the allowed range; an
unknown key gets a "did you mean" suggestion. `example_config()` prints the schema as a commented
TOML file.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import sys
from collections.abc import Mapping
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from ._materials import MATERIALS, get_material
from ._units import PhysicalParameters


class ConfigError(ValueError):
    """A configuration value is missing, of the wrong type, or out of range."""


@dataclasses.dataclass(frozen=True)
class Field:
    kind: type | tuple[type, ...]
    default: Any
    unit: str
    doc: str
    lo: float | None = None  # inclusive lower bound
    hi: float | None = None  # inclusive upper bound
    lo_open: bool = False  # lower bound exclusive
    choices: tuple[str, ...] | None = None
    required: bool = False


_R = "required"
_POS = {"lo": 0.0, "lo_open": True}
_NONNEG = {"lo": 0.0}

SCHEMA: dict[str, dict[str, Field]] = {
    "material": {
        "preset": Field(
            str, "PbSe", "", "material preset (sintersim materials)", choices=tuple(MATERIALS)
        ),
        "temperature_K": Field(float, 423.15, "K", "temperature", lo=1.0, hi=5000.0),
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
        "shape": Field(list, [64, 40], "cells", "cells per axis (2 or 3 axes)"),
        "spacing_nm": Field(float, 0.25, "nm", "grid spacing dx", **_POS, hi=100.0),
        "dtype": Field(
            str, "float32", "", "floating-point precision", choices=("float32", "float64")
        ),
    },
    "particles": {
        "radius_nm": Field(float, 3.1, "nm", "radius of particle 1", **_POS, hi=1e4),
        "radius2_nm": Field(
            float, None, "nm", "radius of particle 2 (default: radius_nm)", **_POS, hi=1e4
        ),
        "gap_nm": Field(
            float,
            -0.25,
            "nm",
            "surface-to-surface gap (negative: initial overlap)",
            lo=-1e4,
            hi=1e4,
        ),
    },
    "time": {
        "end_s": Field(float, None, "s", "simulated time", **_POS, required=True),
        "dt_s": Field(float, None, "s", "time step (default: from time.dt_internal)", **_POS),
        "dt_internal": Field(
            float,
            0.1,
            "",
            "time step in internal units if dt_s is unset (first-order scheme: beyond 1 the "
            "transient error grows past a cell)",
            **_POS,
            hi=1.0,
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
        "surface_anisotropy": Field(
            float,
            0.0,
            "",
            "cubic anisotropy epsilon of the surface gradient energy ({100} facets)",
            lo=0.0,
            hi=1.0 / 15.0,
        ),
    },
    "output": {
        "fields": Field(bool, True, "", "write the fields at every save-point to run.h5"),
    },
}


def _type_name(kind) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(
        {float: "number", int: "integer", str: "string", bool: "true/false", list: "list"}[k]
        for k in kinds
    )


def _range_text(f: Field) -> str:
    if f.choices:
        return "one of " + ", ".join(repr(c) for c in f.choices)
    lo = "-inf" if f.lo is None else f"{f.lo:g}"
    hi = "inf" if f.hi is None else f"{f.hi:g}"
    return f"{'(' if f.lo_open else '['}{lo}, {hi}]" + (f" {f.unit}" if f.unit else "")


def _check_value(path: str, f: Field, v: Any) -> Any:
    if f.kind is float and isinstance(v, int) and not isinstance(v, bool):
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


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """A validated configuration: ``values[section][key]`` with defaults filled in."""

    values: Mapping[str, Mapping[str, Any]]

    def __getitem__(self, section: str) -> Mapping[str, Any]:
        return self.values[section]

    @property
    def ndim(self) -> int:
        return len(self["grid"]["shape"])

    def physical_parameters(self) -> PhysicalParameters:
        """Material preset at the temperature, overridden by explicit fields."""
        m, mat = self["material"], get_material(self["material"]["preset"])
        T = m["temperature_K"]

        def pick(key, preset_value):
            return preset_value if m[key] is None else m[key]

        return PhysicalParameters(
            surface_energy=pick("surface_energy_J_m2", mat.surface_energy_J_m2),
            gb_energy=pick("gb_energy_J_m2", mat.gb_energy_J_m2),
            interface_width_nm=self["model"]["interface_width_nm"],
            grid_spacing_nm=self["grid"]["spacing_nm"],
            temperature_K=T,
            atomic_volume_m3=pick("atomic_volume_m3", mat.atomic_volume_m3),
            surface_diffusivity=pick("surface_diffusivity_m2_s", mat.surface_diffusion(T)),
            surface_layer_nm=pick("surface_layer_nm", mat.surface_layer_nm),
            gb_diffusivity=pick("gb_diffusivity_m2_s", mat.gb_diffusion(T)),
            gb_width_nm=pick("gb_width_nm", mat.gb_width_nm),
            volume_diffusivity=pick("volume_diffusivity_m2_s", mat.volume_diffusion(T)),
            vapour_diffusivity=m["vapour_diffusivity_m2_s"],
            gb_mobility=m["gb_mobility_m4_Js"],
            gb_width_ratio=self["model"]["gb_width_ratio"],
        )

    def to_toml(self) -> str:
        lines = []
        for section, fields in self.values.items():
            lines.append(f"[{section}]")
            for key, v in fields.items():
                if v is not None:
                    lines.append(f"{key} = {_toml_value(v)}")
            lines.append("")
        return "\n".join(lines)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return repr(v)


def validate(raw: Mapping[str, Any]) -> RunConfig:
    """Check a parsed TOML mapping against `SCHEMA`; fill defaults; cross-check fields."""
    if not isinstance(raw, Mapping):
        raise ConfigError("config: expected a table of sections")
    out: dict[str, dict[str, Any]] = {}
    for section in raw:
        if section not in SCHEMA:
            hint = difflib.get_close_matches(section, SCHEMA, n=1)
            extra = f" (did you mean [{hint[0]}]?)" if hint else ""
            name = section if str(section).isprintable() else repr(section)  # one-line errors
            raise ConfigError(f"unknown section [{name}]{extra}; sections: {', '.join(SCHEMA)}")
        if not isinstance(raw[section], Mapping):
            raise ConfigError(f"[{section}] must be a table, got {raw[section]!r}")
    for section, fields in SCHEMA.items():
        given = dict(raw.get(section, {}))
        for key in given:
            if key not in fields:
                hint = difflib.get_close_matches(key, fields, n=1)
                extra = f" (did you mean {section}.{hint[0]}?)" if hint else ""
                name = key if str(key).isprintable() else repr(key)
                raise ConfigError(f"unknown key {section}.{name}{extra}")
        vals = {}
        for key, f in fields.items():
            path = f"{section}.{key}"
            if key in given and given[key] is not None:
                vals[key] = _check_value(path, f, given[key])
            elif f.required:
                raise ConfigError(f"{path} is required ({f.doc}, {_range_text(f)})")
            else:
                vals[key] = f.default
        out[section] = vals
    _cross_check(out)
    cfg = RunConfig(out)
    try:
        # Material values (explicit or from the preset at this temperature) must make a model.
        p = cfg.physical_parameters()
    except ValueError as e:
        raise ConfigError(f"material: {e}") from e
    if p.gb_energy / p.surface_energy > 12 / 7:
        raise ConfigError(
            f"material.gb_energy_J_m2 = {p.gb_energy:g} is {p.gb_energy / p.surface_energy:.3g} "
            f"times the surface energy; allowed: <= 12/7 * surface_energy = "
            f"{12 / 7 * p.surface_energy:.4g} J/m^2 (the Wang functional's reach)"
        )
    return cfg


def _cross_check(c: dict[str, dict[str, Any]]) -> None:
    shape = c["grid"]["shape"]
    if not (2 <= len(shape) <= 3) or not all(
        isinstance(n, int) and not isinstance(n, bool) and 8 <= n <= 4096 for n in shape
    ):
        raise ConfigError(f"grid.shape = {shape!r}: need 2 or 3 integers, each in [8, 4096] cells")
    o = c["orientation"]
    axis = o["axis"]
    if not (
        len(axis) == 3
        and all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in axis)
        and sum(a * a for a in axis) > 0
    ):
        raise ConfigError(f"orientation.axis = {axis!r}: need 3 numbers, not all zero")
    if o["stitch_deg"] >= o["cutoff_deg"]:
        raise ConfigError(
            f"orientation.stitch_deg = {o['stitch_deg']:g} must be below orientation.cutoff_deg "
            f"= {o['cutoff_deg']:g}"
        )
    dx = c["grid"]["spacing_nm"]
    width = c["model"]["interface_width_nm"]
    if width < 2 * dx:
        raise ConfigError(
            f"model.interface_width_nm = {width:g} resolves to {width / dx:.2f} cells; allowed: "
            f">= 2 cells (>= {2 * dx:g} nm at grid.spacing_nm = {dx:g})"
        )
    p = c["particles"]
    r1 = p["radius_nm"]
    r2 = p["radius2_nm"] if p["radius2_nm"] is not None else r1
    lengths = [n * dx for n in shape]
    # The pair spans 2 r1 + 2 r2 + gap; on the periodic box it must stay at least two interface
    # widths from its own image, or it fuses with it into a band.
    need_x = 2 * (r1 + r2) + p["gap_nm"] + 2 * width
    if 2 * max(r1, r2) + 2 * width > min(lengths[1:]):
        raise ConfigError(
            f"particles.radius_nm = {max(r1, r2):g}: a particle (plus interface) does not fit "
            f"across the box ({min(lengths[1:]):g} nm); allowed: radius <= "
            f"{(min(lengths[1:]) - 2 * width) / 2:g} nm, or enlarge grid.shape"
        )
    if need_x > lengths[0]:
        raise ConfigError(
            f"particles: the pair spans {need_x - 2 * width:g} nm plus {2 * width:g} nm of margin "
            f"from its periodic image, but the box is {lengths[0]:g} nm along x; allowed: "
            f"grid.shape[0] >= {math.ceil(need_x / dx - 1e-9)}"
        )
    if p["gap_nm"] < -min(r1, r2):
        raise ConfigError(
            f"particles.gap_nm = {p['gap_nm']:g}: the overlap exceeds the smaller radius; allowed: "
            f">= {-min(r1, r2):g} nm"
        )


def load_config(path) -> RunConfig:
    """Read and validate a TOML file; every problem becomes one `ConfigError`."""
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError as e:
        raise ConfigError(f"config file not found: {path}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from e
    return validate(raw)


def loads_config(text: str) -> RunConfig:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"not valid TOML: {e}") from e
    return validate(raw)


def example_config() -> str:
    """A commented TOML listing every field, its unit, range and default."""
    lines = ["# sintersim run configuration (all fields optional unless marked required)", ""]
    for section, fields in SCHEMA.items():
        lines.append(f"[{section}]")
        for key, f in fields.items():
            unit = f" [{f.unit}]" if f.unit else ""
            req = " (required)" if f.required else ""
            lines.append(f"# {f.doc}{unit}; allowed: {_range_text(f)}{req}")
            if f.default is None:
                lines.append(f"# {key} =")
            else:
                lines.append(f"{key} = {_toml_value(f.default)}")
        lines.append("")
    return "\n".join(lines)


def material_parameters(
    preset: str,
    temperature_K: float,
    interface_width_nm: float,
    spacing_nm: float,
    **material: Any,
) -> PhysicalParameters:
    """Physical parameters of a material preset at a temperature, validated like a run config.

    For scripts that build their own geometry (packings, experiments) and only need the material
    and the resolution; ``material`` overrides ``[material]`` fields (e.g.
    ``surface_diffusivity_m2_s=1e-18``).
    """
    raw = {
        "material": {"preset": preset, "temperature_K": float(temperature_K), **material},
        "model": {"interface_width_nm": float(interface_width_nm)},
        "grid": {"shape": [64, 64], "spacing_nm": float(spacing_nm)},
        "particles": {"radius_nm": 1.0},
        "time": {"end_s": 1.0},
    }
    return validate(raw).physical_parameters()
