"""What can be fitted: parameter names, units, defaults, and the checks of the options."""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from sintersim.fit._traces import FitError
from sintersim.scenario._config import RunConfig

# name -> (unit, config key in [material], log-space?)
FITTABLE: dict[str, tuple[str, str | None, bool]] = {
    "surface_diffusivity": ("m^2/s", "surface_diffusivity_m2_s", True),
    "gb_diffusivity": ("m^2/s", "gb_diffusivity_m2_s", True),
    "volume_diffusivity": ("m^2/s", "volume_diffusivity_m2_s", True),
    "vapour_diffusivity": ("m^2/s", "vapour_diffusivity_m2_s", True),
    "surface_layer_nm": ("nm", "surface_layer_nm", True),
    "surface_energy": ("J/m^2", "surface_energy_J_m2", True),
    "gb_energy": ("J/m^2", "gb_energy_J_m2", True),
    "gb_mobility": ("m^4/(J s)", "gb_mobility_m4_Js", True),
    "rotational_mobility": ("m^3/(J s)", "orientation.rotational_mobility_m3_Js", True),
    # Rigid-body motion of the grains ([motion]): v = m_t F / V, omega = m_r tau / V (shape).
    "translational_mobility": ("m^5/(J s)", "motion.translational_mobility_m5_Js", True),
    "shape_rotational_mobility": ("m^3/(J s)", "motion.rotational_mobility_m3_Js", True),
    "surface_activation": ("eV", None, True),
    "gb_activation": ("eV", None, True),
    "volume_activation": ("eV", None, True),
    "time_offset": ("s", None, False),
    # Nuisance parameters of in-situ TEM (shared by all traces unless named in per_trace):
    "temperature_offset": ("K", None, False),  # beam heating: T_true = T + dT
    "length_scale": ("1", None, True),  # pixel calibration: measured length = s * true length
}

# Defaults of the nuisance parameters: (start, bounds, prior (centre, sigma)). The prior of the
# temperature offset is normal in kelvin (beam heating of tens of degrees, either sign of a
# holder's thermocouple error); that of the length scale log-normal: a TEM's magnification
# calibration is good to a few per cent (sigma_log10 = log10(1.03)).
NUISANCE = {
    "temperature_offset": (0.0, (-100.0, 100.0), (0.0, 30.0)),
    "length_scale": (1.0, (0.8, 1.25), (1.0, math.log10(1.03))),
}


def refuse_unsupported(config: RunConfig, name: str) -> None:
    """Refuse (FitError, exit 2 in the CLI) what the fitted model cannot honour.

    Every other section is honoured: the fit simulates each trace with the run's own model
    (`Setup.model_at`): ``[material]`` (sublimation included), ``[model]``, ``[grid]`` (in
    float64), ``[particles]``, ``[time]`` (its step; the save times are the trace's),
    ``[orientation]``, ``[melting]``, ``[noise]`` (the same noise for every evaluation, from
    ``noise.seed``) and any registered feature; ``[output]`` holds no physics. Refused: a
    temperature schedule, a packing layout (a trace is a pair's neck) and ``[sweep]``.
    """
    layout = config.particles.layout
    if layout != "pair":
        raise FitError(
            f"{name}: particles.layout = {layout!r}: a trace is the neck of one pair; allowed: "
            "'pair' (fit a packing's necks through a pair of its particles' sizes and gap)"
        )
    if config.sweep.parameters is not None:
        raise FitError(
            f"{name}: sweep.parameters is set: a fit runs one model per trace; allowed: no "
            "[sweep] (give one config per trace with --config)"
        )
    sched = config.temperature.schedule
    if sched != "constant":
        raise FitError(
            f"{name}: temperature.schedule = {sched!r}: the fit simulates each trace at one "
            "temperature (material.temperature_K); allowed: 'constant' (fit a ramp as traces "
            "at several temperatures with the *_activation parameters)"
        )


@dataclasses.dataclass(frozen=True)
class ParamSpec:
    """One fitted parameter: the value it starts from, its bounds and optional log-normal prior."""

    name: str  # e.g. "surface_diffusivity" or "time_offset[trace]"
    kind: str  # key of FITTABLE
    init: float
    lo: float
    hi: float
    log: bool
    # log params: (centre, sigma of log10), log-normal; others: (centre, sigma), normal
    prior: tuple[float, float] | None = None
    trace: int | None = None  # per-trace parameter of this trace; None: shared by all traces
    given_bounds: bool = False  # bounds given by the user (kept), not the default around init


def _check_options(specs: list[ParamSpec], bounds, priors, init) -> None:
    """Every bound, prior and start names a fitted parameter and is usable (found by
    tests/test_fuzz_cli.py: a NaN prior width ended in an SVD failure, a negative prior centre
    in a math domain error, an empty name was silently ignored)."""
    known = {s.name for s in specs} | {s.kind for s in specs}
    fitted = ", ".join(s.name for s in specs)
    for option, given in (("--bounds", bounds), ("--prior", priors), ("--init", init)):
        for key in sorted(set(given) - known):
            raise FitError(f"{option} {key!r}: not a fitted parameter; fitted: {fitted}")
    for s in specs:
        if not (np.isfinite(s.lo) and np.isfinite(s.hi) and s.lo < s.hi):
            raise FitError(f"{s.name}: bounds must be finite with lo < hi, got ({s.lo}, {s.hi})")
        if not np.isfinite(s.init):
            raise FitError(f"{s.name}: the starting value {s.init} is not finite")
        if s.prior is not None:
            centre, sigma = s.prior
            if s.log and not (
                np.isfinite(centre) and centre > 0 and np.isfinite(sigma) and sigma > 0
            ):
                raise FitError(
                    f"--prior {s.name}={centre:g}:{sigma:g}: needs CENTRE > 0 and SIGMA_LOG10 > 0 "
                    "(finite; log-normal)"
                )
            if not s.log and not (np.isfinite(centre) and np.isfinite(sigma) and sigma > 0):
                raise FitError(
                    f"--prior {s.name}={centre:g}:{sigma:g}: needs a finite CENTRE and SIGMA > 0 "
                    f"({FITTABLE[s.kind][0]}; normal)"
                )
