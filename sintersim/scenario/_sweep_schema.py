"""``[sweep]`` in the config: the swept names checked against the schema, every value checked by
its field, ranges made lists, zipped lists of one length. The members themselves are made in
`sintersim.scenario._sweep` (each a validated config)."""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from sintersim.scenario._schema import SCHEMA, ConfigError, _check_value


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in table.items():
        name = f"{prefix}{k}"
        if isinstance(v, Mapping) and not ({"from", "to"} & set(v)):
            out.update(_flatten(v, name + "."))
        else:
            out[name] = v
    return out


def _sweep_values(name: str, v: Any) -> list:
    """A list as given, or a range table ``{from, to, num, spacing}`` made a list."""
    if isinstance(v, Mapping):
        unknown = set(v) - {"from", "to", "num", "spacing"}
        if unknown or not {"from", "to", "num"} <= set(v):
            raise ConfigError(
                f"sweep.parameters.{name} = {dict(v)!r}: a range needs from, to, num (and "
                "optionally spacing = 'linear' or 'log')"
            )
        lo, hi, num, spacing = v["from"], v["to"], v["num"], v.get("spacing", "linear")
        if not (isinstance(num, int) and 1 <= num <= 10000) or spacing not in ("linear", "log"):
            raise ConfigError(
                f"sweep.parameters.{name}: num = {num!r} (allowed: integer in [1, 10000]), "
                f"spacing = {spacing!r} (allowed: 'linear', 'log')"
            )
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (lo, hi)):
            raise ConfigError(f"sweep.parameters.{name}: from and to must be numbers")
        if spacing == "log" and not (lo > 0 and hi > 0):
            raise ConfigError(f"sweep.parameters.{name}: a log range needs from, to > 0")
        vals = np.geomspace(lo, hi, num) if spacing == "log" else np.linspace(lo, hi, num)
        if isinstance(lo, int) and isinstance(hi, int) and spacing == "linear":
            return sorted({int(round(x)) for x in vals})
        return [float(x) for x in vals]
    if not isinstance(v, list) or not v:
        raise ConfigError(f"sweep.parameters.{name} = {v!r}: give a non-empty list or a range")
    return list(v)


def resolve_sweep(c: dict[str, dict[str, Any]]) -> None:
    """``[sweep]``: every swept name is a real config field, every value passes that field's
    check, zipped lists have one length; ranges become lists (the resolved config states them)."""
    sw = c["sweep"]
    if sw["parameters"] is None:
        if sw["neck_nm"] is not None:
            raise ConfigError("sweep.neck_nm is set but sweep.parameters is not")
        return
    params = {}
    for name, v in _flatten(sw["parameters"]).items():
        section, _, key = name.partition(".")
        if section not in SCHEMA or key not in SCHEMA[section] or section == "sweep":
            hint = difflib.get_close_matches(
                name, [f"{s}.{k}" for s in SCHEMA if s != "sweep" for k in SCHEMA[s]], n=1
            )
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise ConfigError(f"sweep.parameters: unknown config field {name!r}{extra}")
        f = SCHEMA[section][key]
        values = _sweep_values(name, v)
        if f.kind is not list:
            values = [
                _check_value(f"sweep.parameters.{name}[{i}]", f, x) for i, x in enumerate(values)
            ]
        params[name] = values
    if not params:
        raise ConfigError("sweep.parameters is empty; give at least one 'section.key' = [values]")
    if sw["mode"] == "zip" and len({len(v) for v in params.values()}) > 1:
        lengths = ", ".join(f"{k}: {len(v)}" for k, v in params.items())
        raise ConfigError(f"sweep.mode = 'zip' needs lists of one length; got {lengths}")
    n = (
        len(next(iter(params.values())))
        if sw["mode"] == "zip"
        else math.prod(len(v) for v in params.values())
    )
    if n > 100000:
        raise ConfigError(f"sweep: {n} members; allowed: <= 100000")
    sw["parameters"] = params
    for i, x in enumerate(sw["neck_nm"] or []):
        _check_value(
            f"sweep.neck_nm[{i}]", dataclasses.replace(SCHEMA["sweep"]["neck_nm"], kind=float), x
        )
