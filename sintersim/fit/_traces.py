"""Measured neck-growth traces: reading them (CSV) and making synthetic ones (twin tests)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np


class FitError(ValueError):
    """Bad fit input (unknown parameter, bad trace, bounds)."""


# ----------------------------------------------------------------------------------------------
# Traces
# ----------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Trace:
    """One measured neck-growth curve.

    time_s: measurement times (s, any origin; a fitted time_offset shifts them).
    neck_nm: neck width (2D) / neck radius (3D) in nm.
    sigma_nm: one-sigma uncertainty of each value (nm).
    name: label used in reports and per-trace parameters.
    misorientation_deg, sigma_deg: optional measured misorientation of the pair (degrees) and
        its uncertainty at the same times (NaN where not measured); fitted together with the
        neck when the config has ``[orientation] enabled``.
    """

    time_s: np.ndarray
    neck_nm: np.ndarray
    sigma_nm: np.ndarray
    name: str = "trace"
    misorientation_deg: np.ndarray | None = None
    sigma_deg: np.ndarray | None = None

    def __post_init__(self):
        t, x, s = (np.asarray(v, float) for v in (self.time_s, self.neck_nm, self.sigma_nm))
        if not (t.ndim == x.ndim == s.ndim == 1 and t.size == x.size == s.size and t.size >= 2):
            raise FitError(f"{self.name}: time_s, neck_nm, sigma_nm need equal lengths >= 2")
        if not (np.all(np.isfinite(t)) and np.all(np.isfinite(x)) and np.all(np.isfinite(s))):
            raise FitError(f"{self.name}: non-finite values in the trace")
        if np.any(np.diff(t) <= 0):
            raise FitError(f"{self.name}: time_s must increase strictly")
        if np.any(s <= 0):
            raise FitError(f"{self.name}: sigma_nm must be > 0")
        object.__setattr__(self, "time_s", t)
        object.__setattr__(self, "neck_nm", x)
        object.__setattr__(self, "sigma_nm", s)
        if self.misorientation_deg is not None:
            m = np.asarray(self.misorientation_deg, float)
            sd = np.asarray(
                self.sigma_deg if self.sigma_deg is not None else np.full(m.shape, 0.5), float
            )
            if m.shape != t.shape or sd.shape != t.shape:
                raise FitError(f"{self.name}: misorientation_deg needs one value per time")
            ok = np.isfinite(m)
            if not ok.any() or np.any(sd[ok] <= 0):
                raise FitError(f"{self.name}: misorientation_deg all NaN, or sigma_deg <= 0")
            object.__setattr__(self, "misorientation_deg", m)
            object.__setattr__(self, "sigma_deg", sd)


def read_trace(path, default_sigma_nm: float = 0.1, default_sigma_deg: float = 0.5) -> Trace:
    """Read a CSV with columns ``time_s, neck_nm[, sigma_nm][, misorientation_deg[, sigma_deg]]``;
    ``#`` lines are comments; an empty misorientation cell means "not measured"."""
    import csv

    path = Path(path)
    try:
        lines = [
            ln for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")
        ]
    except FileNotFoundError as e:
        raise FitError(f"trace file not found: {path}") from e
    except UnicodeDecodeError as e:
        raise FitError(f"{path}: not a text (UTF-8) CSV file: {e.reason} at byte {e.start}") from e
    except OSError as e:  # a directory, no permission, ...
        raise FitError(f"trace file {path}: cannot read it: {e.strerror or e}") from e
    try:
        rows = list(csv.DictReader(lines))
    except csv.Error as e:
        raise FitError(f"{path}: not a valid CSV file: {e}") from e
    if not rows or not {"time_s", "neck_nm"} <= set(rows[0]):
        raise FitError(f"{path}: needs a header with time_s and neck_nm (and optional sigma_nm)")
    try:
        t = [float(r["time_s"]) for r in rows]
        x = [float(r["neck_nm"]) for r in rows]
        s = [
            float(r["sigma_nm"]) if r.get("sigma_nm") not in (None, "") else default_sigma_nm
            for r in rows
        ]
        mis = sig = None
        if "misorientation_deg" in rows[0]:
            mis = np.array([_cell(r.get("misorientation_deg"), np.nan) for r in rows])
            sig = np.array([_cell(r.get("sigma_deg"), default_sigma_deg) for r in rows])
    except (ValueError, TypeError) as e:  # TypeError: a row with fewer cells than the header
        raise FitError(f"{path}: every row needs a number in each column ({e})") from e
    return Trace(np.array(t), np.array(x), np.array(s), path.stem, mis, sig)


def _cell(v, default: float) -> float:
    return float(v) if v not in (None, "") else default
