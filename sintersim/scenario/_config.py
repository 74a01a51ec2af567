"""Run configuration: TOML in physical units, validated field by field.

Every field has a type, a unit, an allowed range and a one-line description (`SCHEMA`). Loading
checks them all and raises `ConfigError` naming the field, the value and the allowed range; an
unknown key gets a "did you mean" suggestion. `example_config()` prints the schema as a commented
TOML file.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import itertools
import json
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sintersim.scenario._schema import (
    SCHEMA,
    ZERO_C_K,
    ConfigError,
    _check_value,
    _range_text,
    load_plugins,
)
from sintersim.scenario._sweep_schema import resolve_sweep

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from sintersim.calibrate._units import PhysicalParameters
from sintersim.materials._presets import get_material


@dataclasses.dataclass(frozen=True)
class TemperatureSchedule:
    """Temperature T(t) of a run, in kelvin, t in seconds from the start of the run.

    kind: "constant" (``values_K[0]`` throughout), "ramp" (linear between the points) or
        "steps" (``values_K[i]`` from ``times_s[i]`` until the next point).
    times_s, values_K: the points; before the first the first value holds, after the last the
        last (so a resumed run continued past the schedule keeps its final temperature).
    max_change_K: a ramp is followed in chunks over which T changes by at most this much.
    """

    kind: str
    times_s: tuple[float, ...]
    values_K: tuple[float, ...]
    max_change_K: float = 1.0

    @property
    def start_K(self) -> float:
        return float(self.values_K[0])

    def __call__(self, t_s: float) -> float:
        """T at time ``t_s``; a step takes effect at its own time (right-continuous). A time
        within round-off (1e-9 relative) of a point counts as that point, so T at a save-point
        that coincides with a step does not depend on the last bit of a unit conversion."""
        times, values = np.asarray(self.times_s), np.asarray(self.values_K)
        if self.kind == "ramp":
            return float(np.interp(t_s, times, values))
        if self.kind == "steps":
            tol = 1e-9 * max(abs(t_s), times[-1], 1e-300)
            i = int(np.searchsorted(times, t_s + tol, side="right")) - 1
            return float(values[max(i, 0)])
        return self.start_K

    def breakpoints_s(self) -> np.ndarray:
        """Times (s) at which the model must be rebuilt: every step, and for a ramp its points
        plus an even subdivision of each segment into changes of at most ``max_change_K``."""
        if self.kind == "constant":
            return np.zeros(0)
        if self.kind == "steps":
            return np.asarray(self.times_s, float)
        pts = [np.asarray(self.times_s[:1], float)]
        for (ta, Ta), (tb, Tb) in itertools.pairwise(zip(self.times_s, self.values_K, strict=True)):
            n = max(1, math.ceil(abs(Tb - Ta) / self.max_change_K - 1e-9))
            pts.append(ta + (tb - ta) * np.arange(1, n + 1) / n)
        return np.concatenate(pts)

    def describe(self) -> str:
        """One line for the run banner and `sintersim info`."""
        if self.kind == "constant":
            return f"{self.start_K:g} K"
        pts = ", ".join(
            f"{T:g} K at {t:g} s" for t, T in zip(self.times_s, self.values_K, strict=True)
        )
        return f"{self.start_K:g} K ({self.kind}: {pts})"

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))


@functools.cache
def section_type(section: str) -> type:
    """The frozen dataclass of one config section, one field per `SCHEMA` entry (typed)."""
    fields = [
        (key, f.kind if isinstance(f.kind, type) else Any) for key, f in SCHEMA[section].items()
    ]
    name = "".join(w.title() for w in section.split("_")) + "Section"
    return dataclasses.make_dataclass(name, fields, frozen=True)


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """A validated configuration, defaults filled in.

    Typed sections: ``cfg.material.temperature_K`` (a frozen dataclass per section, see
    `section_type`); ``cfg["material"]["temperature_K"]`` reads the same value. A changed config
    is made with `replace`, which validates it again.
    """

    values: Mapping[str, Mapping[str, Any]]
    # what was given (before defaults and derived values): `replace` starts from it, so a value
    # derived from others (a layout's grid.shape) follows a change of them
    raw: Mapping[str, Any] | None = dataclasses.field(default=None, compare=False, repr=False)

    def __getitem__(self, section: str) -> Mapping[str, Any]:
        return self.values[section]

    def __getattr__(self, section: str):
        # only called for names that are not attributes: the sections
        values = self.__dict__.get("values", {})
        if section in values and section in SCHEMA:
            return section_type(section)(**values[section])
        raise AttributeError(f"{type(self).__name__} has no section or attribute {section!r}")

    def replace(self, **sections: Mapping[str, Any]) -> RunConfig:
        """A new config with the given keys of the given sections changed, validated again
        (ConfigError naming the field): ``cfg.replace(time={"end_s": 2.0})``. Values the
        config derived (a layout's box) are derived again; a kelvin value replaces a Celsius
        one given before, and the reverse."""
        base = self.raw if self.raw is not None else self.values
        raw = {s: dict(v) if isinstance(v, Mapping) else v for s, v in base.items()}
        twins = {
            "material": {"temperature_K": "temperature_C", "temperature_C": "temperature_K"},
            "temperature": {"values_K": "values_C", "values_C": "values_K"},
        }
        for section, changes in sections.items():
            if section not in SCHEMA:
                raise ConfigError(f"unknown section [{section}]; sections: {', '.join(SCHEMA)}")
            target = raw.setdefault(section, {})
            for key in changes:
                other = twins.get(section, {}).get(key)
                if other is not None:
                    target.pop(other, None)
            target.update(changes)
        return validate(raw)

    @property
    def ndim(self) -> int:
        return len(self["grid"]["shape"])

    def physical_parameters(self, temperature_K: float | None = None) -> PhysicalParameters:
        """Material preset at a temperature, overridden by explicit fields.

        temperature_K: default the run's (start) temperature ``material.temperature_K``. At
            another temperature the preset's diffusivities follow their Arrhenius laws; an
            explicit diffusivity is its value at the start temperature and scales by the same
            law, ``D(T) = D(T0) exp(-Q/k_B (1/T - 1/T0))`` with the preset's Q (the convention
            `sintersim fit` uses between traces at different temperatures). The vapour
            diffusivity, the energies and the grain-boundary mobility have no temperature law
            here and stay fixed.
        """
        m, mat = self["material"], get_material(self["material"]["preset"])
        T0 = m["temperature_K"]
        T = T0 if temperature_K is None else float(temperature_K)

        def pick(key, preset_value):
            return preset_value if m[key] is None else m[key]

        def diffusivity(key, law):
            if m[key] is None:
                return law(T)
            return m[key] if T == T0 else m[key] * (law(T) / law(T0))

        return PhysicalParameters(
            surface_energy=pick("surface_energy_J_m2", mat.surface_energy_J_m2),
            gb_energy=pick("gb_energy_J_m2", mat.gb_energy_J_m2),
            interface_width_nm=self["model"]["interface_width_nm"],
            grid_spacing_nm=self["grid"]["spacing_nm"],
            temperature_K=T,
            atomic_volume_m3=pick("atomic_volume_m3", mat.atomic_volume_m3),
            surface_diffusivity=diffusivity("surface_diffusivity_m2_s", mat.surface_diffusion),
            surface_layer_nm=pick("surface_layer_nm", mat.surface_layer_nm),
            gb_diffusivity=diffusivity("gb_diffusivity_m2_s", mat.gb_diffusion),
            gb_width_nm=pick("gb_width_nm", mat.gb_width_nm),
            volume_diffusivity=diffusivity("volume_diffusivity_m2_s", mat.volume_diffusion),
            vapour_diffusivity=m["vapour_diffusivity_m2_s"],
            gb_mobility=m["gb_mobility_m4_Js"],
            gb_width_ratio=self["model"]["gb_width_ratio"],
        )

    def temperature_schedule(self) -> TemperatureSchedule:
        """The run's temperature history T(t) (``[temperature]``, or the constant
        ``material.temperature_K``)."""
        t = self["temperature"]
        if t["schedule"] == "constant":
            return TemperatureSchedule("constant", (0.0,), (self["material"]["temperature_K"],))
        return TemperatureSchedule(
            t["schedule"], tuple(t["times_s"]), tuple(t["values_K"]), t["max_change_K"]
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
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(x)}" for k, x in v.items()) + " }"
    return repr(v)


def validate(raw: Mapping[str, Any], base_dir: Path | None = None) -> RunConfig:
    """Check a parsed TOML mapping against `SCHEMA`; fill defaults; cross-check fields.

    base_dir: the config file's folder; a relative ``particles.file`` is taken from there (the
    resolved config states the absolute path)."""
    if not isinstance(raw, Mapping):
        raise ConfigError("config: expected a table of sections")
    load_plugins()  # their features add config sections
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
    _resolve_temperatures(raw, out)
    f = out["particles"]["file"]
    if f is not None and base_dir is not None and not Path(f).is_absolute():
        out["particles"]["file"] = str((Path(base_dir) / f).resolve())
    resolve_sweep(out)
    _cross_check(out)
    _resolve_time(raw, out)
    given = {k: dict(v) if isinstance(v, Mapping) else v for k, v in raw.items()}
    if "particles" in given and out["particles"]["file"] is not None:
        given["particles"]["file"] = out["particles"]["file"]  # absolute from here on
    cfg = RunConfig(out, given)
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


def _one_of(section: str, key_k: str, key_c: str, given: Mapping[str, Any], vals: dict) -> None:
    """Exactly one of a kelvin and a Celsius field: the Celsius one becomes kelvin (and is
    dropped, so the resolved config states every temperature once, in kelvin)."""
    if given.get(key_k) is not None and given.get(key_c) is not None:
        fk, fc = SCHEMA[section][key_k], SCHEMA[section][key_c]
        raise ConfigError(
            f"{section}.{key_k} and {section}.{key_c} are both set; give one: {key_k} in "
            f"{_range_text(fk)} or {key_c} in {_range_text(fc)}"
        )
    if vals[key_c] is not None:
        c = vals[key_c]
        vals[key_k] = [x + ZERO_C_K for x in c] if isinstance(c, list) else c + ZERO_C_K
        vals[key_c] = None


def _resolve_temperatures(raw: Mapping[str, Any], c: dict[str, dict[str, Any]]) -> None:
    """°C -> K, and the ``[temperature]`` schedule checked against the run.

    With a schedule the start temperature is the schedule's (at t = 0); ``material.temperature_K``
    (or ``_C``), if given, must agree with it, and is set to it.
    """
    m, t = c["material"], c["temperature"]
    mat_given, t_given = raw.get("material", {}), raw.get("temperature", {})
    _one_of("material", "temperature_K", "temperature_C", mat_given, m)
    points = ("times_s", "values_K", "values_C")
    if t["schedule"] == "constant":
        extra = [k for k in points if t[k] is not None]
        if extra:
            raise ConfigError(
                f"temperature.{extra[0]} is set but temperature.schedule = 'constant' (which uses "
                "material.temperature_K); allowed: schedule = 'ramp' or 'steps' with points"
            )
        return
    for key in points:
        v = t[key]
        if v is None:
            continue
        f = dataclasses.replace(SCHEMA["temperature"][key], kind=float)
        t[key] = [_check_value(f"temperature.{key}[{i}]", f, x) for i, x in enumerate(v)]
    _one_of("temperature", "values_K", "values_C", t_given, t)
    times, values = t["times_s"], t["values_K"]
    kind = t["schedule"]
    need = 2 if kind == "ramp" else 1
    if times is None or values is None:
        missing = "times_s" if times is None else "values_K (or values_C)"
        raise ConfigError(
            f"temperature.schedule = {kind!r} needs temperature.{missing}: at least {need} points"
        )
    if len(times) != len(values) or len(times) < need:
        raise ConfigError(
            f"temperature.times_s has {len(times)} points and temperature.values_K "
            f"{len(values)}; allowed: equal lengths, at least {need} for a {kind} schedule"
        )
    for i in range(1, len(times)):
        if not times[i] > times[i - 1]:
            raise ConfigError(
                f"temperature.times_s[{i}] = {times[i]:g} s is not after times_s[{i - 1}] = "
                f"{times[i - 1]:g} s; allowed: strictly increasing times"
            )
    end = c["time"]["end_s"]
    if times[-1] > end * (1 + 1e-12):
        raise ConfigError(
            f"temperature.times_s[{len(times) - 1}] = {times[-1]:g} s is after the end of the "
            f"run; allowed: [0, {end:g}] s (time.end_s)"
        )
    start = values[0]
    given_T = mat_given.get("temperature_K", mat_given.get("temperature_C"))
    if given_T is not None and abs(m["temperature_K"] - start) > 1e-9 * start:
        key = "temperature_K" if "temperature_K" in mat_given else "temperature_C"
        raise ConfigError(
            f"material.{key} = {given_T:g} differs from the schedule's start temperature "
            f"(temperature.values_K[0] = {start:g} K); allowed: omit material.{key} with a "
            "schedule, or give the same temperature"
        )
    m["temperature_K"] = start


def _resolve_time(raw: Mapping[str, Any], c: dict[str, dict[str, Any]]) -> None:
    """Thermal noise takes fixed steps of the first-order scheme (its increments are drawn per
    step with variance 2 theta / dt: an error estimate would read them as error, a rejected step
    would redraw them, a Runge-Kutta stage would reuse them). The resolved config says so."""
    if not c["noise"]["enabled"]:
        return
    given = raw.get("time", {}) if isinstance(raw.get("time"), Mapping) else {}
    if given.get("scheme", "euler") != "euler" or given.get("adaptive", False) is not False:
        raise ConfigError(
            f"time.scheme = {c['time']['scheme']!r}, time.adaptive = {c['time']['adaptive']} with "
            "[noise] enabled; allowed: scheme 'euler' with adaptive = false (thermal noise takes "
            "fixed steps of the first-order scheme: omit both)"
        )
    c["time"]["scheme"], c["time"]["adaptive"] = "euler", False


def _cross_check(c: dict[str, dict[str, Any]]) -> None:
    from sintersim.scenario._layout import layout_shape

    if c["particles"]["layout"] != "pair":
        _check_particle_values(c)
    if c["grid"]["shape"] is None:
        c["grid"]["shape"] = layout_shape(c)
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
    if c["particles"]["layout"] == "pair":
        _check_pair(c, shape, dx, width)
    else:
        _check_packing(c, shape, dx, width)


def _check_pair(c, shape, dx, width) -> None:
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


def _check_particle_values(c) -> None:
    """A packing's parameters: the radius resolved, the spread below half the radius, an overlap
    below the radius, a known orientation mode."""
    from sintersim.scenario._layout import _orientation_mode

    p = c["particles"]
    r = p["radius_nm"]
    width = c["model"]["interface_width_nm"]
    if r < width:
        raise ConfigError(
            f"particles.radius_nm = {r:g}: below the interface width ({width:g} nm); allowed: >= "
            "model.interface_width_nm"
        )
    if not p["size_spread_nm"] < r / 2:
        raise ConfigError(
            f"particles.size_spread_nm = {p['size_spread_nm']:g}; allowed: < radius_nm / 2 = "
            f"{r / 2:g} nm"
        )
    for key in ("gap_nm", "min_gap_nm"):
        if p[key] <= -r:
            raise ConfigError(f"particles.{key} = {p[key]:g}; allowed: > -radius_nm = {-r:g} nm")
    _orientation_mode(p)
    if p["layout"] == "hex_monolayer" and p["rows"] is not None and p["rows"] % 2:
        raise ConfigError(
            f"particles.rows = {p['rows']}; allowed: an even number for hex_monolayer (the "
            "rows alternate, so an odd count is not periodic)"
        )


def _check_packing(c, shape, dx, width) -> None:
    """The layout's own box equals grid.shape (a lattice is periodic only in its own box); the
    largest particle fits the box."""
    from sintersim.scenario._layout import layout_shape

    p = c["particles"]
    r = p["radius_nm"]
    if p["layout"] in ("chain", "hex_monolayer", "square_superlattice"):
        own = layout_shape(c)
        if list(shape) != own:
            raise ConfigError(
                f"grid.shape = {list(shape)}: particles.layout = {p['layout']!r} makes its own "
                f"periodic box, {own} cells at grid.spacing_nm = {dx:g}; allowed: omit grid.shape "
                f"or give {own}"
            )
    if p["layout"] == "file" and p["file"] is None:
        raise ConfigError("particles.layout = 'file' needs particles.file (a CSV path)")
    if 2 * (r + 2 * p["size_spread_nm"]) > min(shape) * dx:
        raise ConfigError(
            f"particles.radius_nm = {r:g}: the largest particle does not fit the box "
            f"({min(shape) * dx:g} nm); enlarge grid.shape"
        )


def load_config(path) -> RunConfig:
    """Read and validate a TOML file; every problem becomes one `ConfigError`."""
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError as e:
        raise ConfigError(f"config file not found: {path}") from e
    except UnicodeDecodeError as e:  # tomllib decodes UTF-8 itself: raw bytes end up here
        raise ConfigError(
            f"{path}: not a text (UTF-8) TOML file: {e.reason} at byte {e.start}"
        ) from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from e
    except OSError as e:  # a directory, no permission, ...
        raise ConfigError(f"config file {path}: cannot read it: {e.strerror or e}") from e
    return validate(raw, Path(path).parent)


def loads_config(text: str) -> RunConfig:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"not valid TOML: {e}") from e
    return validate(raw)


def example_config() -> str:
    """A commented TOML listing every field, its unit, range and default; it runs as printed
    (every required field is set to its example)."""
    lines = ["# sintersim run configuration (all fields optional unless marked required)", ""]
    for section, fields in SCHEMA.items():
        lines.append(f"[{section}]")
        for key, f in fields.items():
            unit = f" [{f.unit}]" if f.unit else ""
            req = " (required)" if f.required else ""
            lines.append(f"# {f.doc}{unit}; allowed: {_range_text(f)}{req}")
            if f.required:  # set, so that the example runs as printed
                lines.append(f"{key} = {_toml_value(f.example)}")
            elif f.default is None:
                example = "" if f.example is None else f" {_toml_value(f.example)}"
                lines.append(f"# {key} ={example}")
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
