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
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from ._energy import WangEnergy
from ._integrate import SaveAt, integrate
from ._mobility import Mobility
from ._model import SinterModel
from ._observables import neck_size
from ._rotation import Rotation, grain_volumes, misorientation_matrix
from ._state import State
from ._units import K_B, NM, Scales

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
    "surface_activation": ("eV", None, True),
    "gb_activation": ("eV", None, True),
    "volume_activation": ("eV", None, True),
    "time_offset": ("s", None, False),
}
# Activation energy -> the diffusivity it scales between temperatures (Arrhenius).
_ARRHENIUS = {
    "surface_activation": "surface_diffusivity",
    "gb_activation": "gb_diffusivity",
    "volume_activation": "volume_diffusivity",
}
K_B_EV = 8.617333262e-5  # eV/K
_PHYS_FIELD = {
    "surface_diffusivity": "surface_diffusivity",
    "gb_diffusivity": "gb_diffusivity",
    "volume_diffusivity": "volume_diffusivity",
    "vapour_diffusivity": "vapour_diffusivity",
    "surface_layer_nm": "surface_layer_nm",
    "surface_energy": "surface_energy",
    "gb_energy": "gb_energy",
    "gb_mobility": "gb_mobility",
}


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
    rows = list(csv.DictReader(lines))
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
            mis = [_cell(r.get("misorientation_deg"), np.nan) for r in rows]
            sig = [_cell(r.get("sigma_deg"), default_sigma_deg) for r in rows]
    except ValueError as e:
        raise FitError(f"{path}: {e}") from e
    return Trace(np.array(t), np.array(x), np.array(s), path.stem, mis, sig)


def _cell(v, default: float) -> float:
    return float(v) if v not in (None, "") else default


# ----------------------------------------------------------------------------------------------
# Differentiable unit mapping (width ratio 1 family: closed form, exact in the continuum)
# ----------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Reference:
    """Fixed internal units and geometry of one trace's simulation (from its base config)."""

    length_m: float
    energy_J_m3: float
    time_s: float
    stretch: float  # lambda
    surface_integral: float  # canonical int rho^2(1-rho)^2 dn
    gb_integral: float  # canonical int sum eta_i eta_j dn
    temperature_K: float
    atomic_volume_m3: float
    boundaries: object = None  # GrainBoundaryLaw of the base config, or None
    anisotropy: object = None  # SurfaceAnisotropy of the base config, or None


def model_from_physical(p: Mapping[str, jax.Array], ref: Reference) -> SinterModel:
    """Model coefficients from physical values, differentiable in every value.

    With gb_width_ratio = 1 the shape solution is closed form: r = gamma_gb/gamma_s,
    k = 2/r - 1, a = 6k - 1, canonical gamma_s = (k+1)/sqrt(3) (see `_units.solve_shape`, which
    finds the same numbers numerically). Energies are scaled by
    c = gamma_s / (E0 l0 lambda gamma_s_canonical) at the fixed reference units.
    """
    lam, l0, e0, t0 = ref.stretch, ref.length_m, ref.energy_J_m3, ref.time_s
    r = p["gb_energy"] / p["surface_energy"]
    k = 2.0 / r - 1.0
    a = 6.0 * k - 1.0
    gamma_c = (k + 1.0) / jnp.sqrt(3.0)
    c = p["surface_energy"] / (e0 * l0 * lam * gamma_c)
    # The Read-Shockley table is the base config's: it depends on gamma_gb/gamma_s only weakly
    # (ratios agree within 1% between 1/3 and 1/2), so it is held fixed while energies are fitted.
    energy = WangEnergy(
        A=a * c,
        B=c,
        kappa_rho=k * lam**2 * c,
        kappa_eta=lam**2 * c,
        boundaries=ref.boundaries,
        anisotropy=ref.anisotropy,
    )
    kt = K_B * ref.temperature_K
    om = ref.atomic_volume_m3
    to_internal = e0 * t0 / l0**2
    m_surf = p["surface_diffusivity"] * p["surface_layer_nm"] * NM * om / kt
    m_surf = m_surf / (lam * ref.surface_integral * l0)
    m_gb = p["gb_diffusivity"] * p["gb_width_nm"] * NM * om / kt / (lam * ref.gb_integral * l0)
    mob = Mobility(
        M_vol=p["volume_diffusivity"] * om / kt * to_internal,
        M_vap=p["vapour_diffusivity"] * om / kt * to_internal,
        M_surf=m_surf * to_internal,
        M_gb=m_gb * to_internal,
    )
    if "gb_mobility" in p and p["gb_mobility"] is not None:
        L = p["gb_mobility"] * p["gb_energy"] * t0 / (lam**2 * c * l0**2)
    else:
        L = jnp.asarray(1.0)
    rotation = None
    if p.get("rotational_mobility") is not None and ref.boundaries is not None:
        scales = Scales(l0, e0, t0)
        rotation = Rotation(scales.rotational_mobility(p["rotational_mobility"]))
    return SinterModel(energy, mob, L, rotation)


# ----------------------------------------------------------------------------------------------
# Problem: traces + their simulations + parameter transform
# ----------------------------------------------------------------------------------------------
@dataclasses.dataclass(eq=False)
class _TraceSim:
    trace: Trace
    setup: object  # _run.Setup
    ref: Reference
    base: dict[str, float]  # physical values from the config
    dense: np.ndarray  # internal save times (t = 0 prepended on use)
    offset_key: str | None


@dataclasses.dataclass(frozen=True)
class ParamSpec:
    """One fitted parameter: the value it starts from, its bounds and optional log-normal prior."""

    name: str  # e.g. "surface_diffusivity" or "time_offset[trace]"
    kind: str  # key of FITTABLE
    init: float
    lo: float
    hi: float
    log: bool
    prior: tuple[float, float] | None = None  # (centre, sigma of log10) for log params
    trace: int | None = None  # per-trace parameter of this trace; None: shared by all traces


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
    n_dense: save-points per simulation used to interpolate the neck at the data times.
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
    ):
        from ._materials import get_material
        from ._run import build

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
            values = {s: dict(v) for s, v in cfg.values.items()}
            values["grid"]["dtype"] = "float64"
            from .config import RunConfig

            cfg = RunConfig(values)
            setup = build(cfg)
            phys = cfg.physical_parameters()
            nd = setup.nd
            sh = nd.shape
            if abs(phys.gb_width_ratio - 1.0) > 1e-12:
                raise FitError("fitting supports model.gb_width_ratio = 1 only")
            ref = Reference(
                nd.scales.length_m,
                nd.scales.energy_J_m3,
                nd.scales.time_s,
                nd.stretch,
                sh.surface_integral,
                sh.gb_integral,
                phys.temperature_K,
                phys.atomic_volume_m3,
                setup.model.energy.boundaries,
                setup.model.energy.anisotropy,
            )
            base = {k: getattr(phys, f) for k, f in _PHYS_FIELD.items()}
            base["gb_width_nm"] = phys.gb_width_nm
            mat = get_material(cfg["material"]["preset"])
            base["surface_activation"] = mat.surface_diffusion.Q_eV
            base["gb_activation"] = mat.gb_diffusion.Q_eV
            base["volume_activation"] = mat.volume_diffusion.Q_eV
            orient = cfg["orientation"]
            base["rotational_mobility"] = (
                orient["rotational_mobility_m3_Js"] if orient["enabled"] else None
            )
            wants_rotation = "rotational_mobility" in params or tr.misorientation_deg is not None
            if wants_rotation and not orient["enabled"]:
                raise FitError(
                    f"{tr.name}: fitting rotation (rotational_mobility or a misorientation trace) "
                    "needs [orientation] enabled = true in its config"
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
            self.sims.append(_TraceSim(tr, setup, ref, base, dense, off_name))
        # Parameter specs.
        specs = []
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
                specs.append(ParamSpec(key, name, x0, lo, hi, True, prior, k))
        self.specs = specs
        if any(s.kind == "gb_energy" for s in specs) or any(
            s.kind == "surface_energy" for s in specs
        ):
            for s in self.sims:
                r = s.base["gb_energy"] / s.base["surface_energy"]
                if not 0 < r <= 12 / 7:
                    raise FitError("gb_energy / surface_energy must start within (0, 12/7]")

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
    def _predict_dense(self, k: int, vals: Mapping[str, jax.Array], reverse: bool) -> jax.Array:
        sim = self.sims[k]
        p = {key: jnp.asarray(v if v is not None else 0.0) for key, v in sim.base.items()}
        if sim.base["gb_mobility"] is None:
            p["gb_mobility"] = None
        for s in self.specs:
            if s.kind != "time_offset" and s.trace in (None, k):
                p[s.kind] = vals[s.name]
        # A shared diffusivity is the value at T_ref; other temperatures scale it (Arrhenius).
        t_ref, t_k = self.sims[0].ref.temperature_K, sim.ref.temperature_K
        if t_k != t_ref:
            for q_name, d_name in _ARRHENIUS.items():
                shared = any(s.kind == d_name and s.trace is None for s in self.specs)
                if shared:
                    p[d_name] = p[d_name] * jnp.exp(-p[q_name] / K_B_EV * (1 / t_k - 1 / t_ref))
        model = model_from_physical(p, sim.ref)
        su = sim.setup
        x_lo, x_hi = su.centres[0][0], su.centres[1][0]
        scale = sim.ref.length_m / NM

        def fn(t, state):
            neck = neck_size(state, su.grid, x_lo, x_hi) * scale
            if state.orientation is None:
                return neck
            sym = sim.ref.boundaries.symmetry
            return jnp.stack([neck, _pair_misorientation(state, su.grid, sym)])

        sol = integrate(
            model,
            su.grid,
            su.state0,
            t0=0.0,
            dt=su.dt,
            saveat=SaveAt(ts=sim.dense, fn=fn),
            differentiable=reverse,
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
    ) -> jax.Array:
        """Neck (nm) of trace k at ``times_s`` (default: its measurement times).

        reverse: differentiate in reverse mode (checkpointed loop, for gradients); otherwise the
        plain loop, which forward mode (Jacobians for Gauss-Newton) differentiates.
        misorientation: return ``(neck, misorientation_deg)`` (oriented configs only).
        """
        sim = self.sims[k]
        vals = self.values(q)
        dense = self._predict_dense(k, vals, reverse)
        t_grid = jnp.concatenate([jnp.zeros(1), jnp.asarray(sim.dense)]) * sim.ref.time_s
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
                res.append(jnp.atleast_1d((q[i] - math.log(centre)) / (sig * math.log(10))))
        return jnp.concatenate(res)

    def loss(self, q: jax.Array) -> jax.Array:
        """Half the sum of squared residuals; reverse-mode differentiable (checkpointed)."""
        r = self.residuals(q, reverse=True)
        return 0.5 * jnp.sum(r**2)


def _pair_misorientation(state: State, grid, symmetry: str) -> jax.Array:
    """Misorientation (degrees) of grains 0 and 1, or 0 once one of them is gone (stitched)."""
    theta = jnp.degrees(misorientation_matrix(state.orientation, symmetry)[0, 1])
    vol = grain_volumes(state.eta[:2], grid.cell_volume)
    return jnp.where(jnp.min(vol) > 1.0, theta, 0.0)


def synthetic_trace(
    config,
    values: Mapping[str, float],
    times_s,
    noise: float = 0.02,
    seed: int = 1,
    name: str = "twin",
) -> Trace:
    """A trace made by the solver (for twin experiments): the neck at physical ``times_s`` with
    the parameters ``values`` (names as `FitResult.values`, e.g. ``time_offset[twin]``), plus
    Gaussian noise of relative size ``noise``; sigma_nm = noise * neck. A time offset tau shifts
    the returned times to ``times_s - tau``."""
    times_s = np.asarray(times_s, float)
    tau = values.get(f"time_offset[{name}]", 0.0)
    names = [n for n in values if not n.startswith("time_offset")]
    if tau:
        names.append("time_offset")
    n = times_s.size
    dummy = Trace(times_s - tau, np.ones(n), np.ones(n), name=name)
    prob = Problem([dummy], config, names, init=values)
    q = jnp.array([math.log(values[s.name]) if s.log else values[s.name] for s in prob.specs])
    rng = np.random.default_rng(seed)
    if prob.sims[0].ref.boundaries is not None:
        x, m = (np.asarray(v) for v in prob.predict(0, q, misorientation=True))
        sig, sig_m = noise * x, np.full(n, 0.5)
        return Trace(
            times_s - tau,
            x + sig * rng.standard_normal(n),
            sig,
            name,
            m + sig_m * rng.standard_normal(n),
            sig_m,
        )
    x = np.asarray(prob.predict(0, q))
    sig = noise * x
    return Trace(times_s - tau, x + sig * rng.standard_normal(n), sig, name=name)


# ----------------------------------------------------------------------------------------------
# Fitting
# ----------------------------------------------------------------------------------------------
@dataclasses.dataclass
class FitResult:
    """Fitted values (physical units), standard errors, correlations and diagnostics."""

    names: list[str]
    units: list[str]
    values: dict[str, float]
    stderr: dict[str, float]
    correlation: np.ndarray
    loss: float
    chi2_reduced: float
    n_data: int
    n_evaluations: int
    loss_history: list[float]
    curves: list[dict[str, np.ndarray]]
    warnings: list[str]

    def to_json(self) -> dict:
        return {
            "parameters": {
                n: {"value": self.values[n], "stderr": self.stderr[n], "unit": u}
                for n, u in zip(self.names, self.units, strict=True)
            },
            "correlation": self.correlation.tolist(),
            "loss": self.loss,
            "chi2_reduced": self.chi2_reduced,
            "n_data": self.n_data,
            "n_evaluations": self.n_evaluations,
            "loss_history": self.loss_history,
            "warnings": self.warnings,
        }


def uncertainty(problem: Problem, q: np.ndarray, cond_limit: float = 1e8, corr_limit: float = 0.99):
    """Gauss-Newton covariance of the natural coordinates at ``q`` and identifiability checks.

    Returns (covariance, correlation, warnings). A parameter combination is reported as not
    identifiable when J^T J is nearly singular (condition number above ``cond_limit``) or two
    parameters correlate beyond ``corr_limit``.
    """
    J = np.asarray(jax.jacfwd(problem.residuals)(jnp.asarray(q)))
    H = J.T @ J
    notes = []
    w, V = np.linalg.eigh(H)
    cond = w[-1] / max(w[0], 1e-300)
    names = [s.name for s in problem.specs]
    if w[0] <= 0 or cond > cond_limit:
        v = V[:, 0]
        combo = " ".join(
            f"{'+' if c > 0 else '-'}{abs(c):.2f}*log({n})"
            if problem.specs[i].log
            else f"{'+' if c > 0 else '-'}{abs(c):.2f}*{n}"
            for i, (n, c) in enumerate(zip(names, v, strict=True))
            if abs(c) > 0.05
        )
        notes.append(
            f"not identifiable: the data constrain almost nothing along {combo.lstrip('+')} "
            f"(condition number of J^T J = {cond:.2g}); only the orthogonal combination is "
            "determined - fix one of these parameters or add data that separate them"
        )
    cov = np.linalg.pinv(H)
    sd = np.sqrt(np.clip(np.diag(cov), 0, None))
    corr = cov / np.outer(np.where(sd > 0, sd, 1), np.where(sd > 0, sd, 1))
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            if abs(corr[i, j]) > corr_limit and not notes:
                notes.append(
                    f"not identifiable: {names[i]} and {names[j]} are correlated at "
                    f"{corr[i, j]:+.3f}; the data constrain mainly a combination of the two"
                )
    return cov, corr, notes


def _levenberg_marquardt(problem, z0, lm_steps, history, progress) -> tuple[jax.Array, int]:
    """Polish ``z0`` with optimistix LM; appends losses to ``history``.

    Returns (the polished point, the number of model evaluations it took)."""
    import optimistix as optx

    if lm_steps <= 0:
        return z0, 0

    def resid(z, _):
        return problem.residuals(problem.natural(z))

    def record(step, loss):
        if int(step) == 0:  # optimistix reports a placeholder loss before the first step
            return
        history.append(float(loss))
        if progress:
            progress(len(history), history[-1])

    def verbose(**kw):
        # optimistix hands (label, traced value) pairs; report the loss of every LM step.
        step = kw.get("num_steps", (None, 0))[1]
        loss = kw.get("loss_last_accepted_step", (None, jnp.nan))[1]
        jax.debug.callback(record, step, loss)

    history.append(float(0.5 * jnp.sum(resid(z0, None) ** 2)))
    solver = optx.LevenbergMarquardt(rtol=1e-6, atol=1e-8, verbose=verbose)
    sol = optx.least_squares(resid, solver, z0, max_steps=lm_steps, throw=False)
    return sol.value, int(sol.stats.get("num_steps", lm_steps)) * (len(problem.specs) + 1)


def _widen(spec: ParamSpec, value: float) -> tuple[float, float]:
    """Bounds kept as given, but never excluding the value a re-centred problem starts from."""
    return min(spec.lo, value / 1.01), max(spec.hi, value * 1.01)


def _recentred(configs, values: Mapping[str, float], problem: Problem):
    """The base configs with the fitted physical values written into ``[material]``."""
    from .config import RunConfig

    out = []
    for k, sim in enumerate(problem.sims):
        cfg = sim.setup.config
        v = {sec: dict(d) for sec, d in cfg.values.items()}
        for s in problem.specs:
            key = FITTABLE[s.kind][1]
            if key is not None and s.trace in (None, k):
                section, _, name = key.rpartition(".")
                v[section or "material"][name] = float(values[s.name])
        out.append(RunConfig(v))
    return out


def fit(
    traces: Sequence[Trace],
    configs,
    params: Sequence[str],
    *,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    priors: Mapping[str, tuple[float, float]] | None = None,
    init: Mapping[str, float] | None = None,
    starts: int = 1,
    adam_steps: int = 0,
    adam_lr: float = 0.1,
    lm_steps: int = 30,
    seed: int = 0,
    progress: Callable[[int, float], None] | None = None,
    n_dense: int = 48,
    recentre: int = 3,
    per_trace: Sequence[str] = (),
) -> FitResult:
    """Fit ``params`` to ``traces`` (see `Problem` for the arguments).

    starts: number of starting points optimised in parallel (vmap) by ``adam_steps`` Adam steps
        (the first is the given start; the others log-uniform within a factor 3 of it, inside
        the bounds). The best is then polished by Levenberg-Marquardt (``lm_steps``).
    recentre: the simulation's time unit and step come from the base config's values; when the
        fit moves a parameter by more than 1.5x, the configs are re-centred on the fitted values
        (same number of cells, step re-chosen) and Levenberg-Marquardt runs again, at most
        ``recentre`` times. Otherwise a fitted diffusivity 100x the base one would be integrated
        with an effective step 100x too long.
    Returns a `FitResult`; warns (and records) when parameters are not identifiable.
    """
    import optax

    problem = Problem(traces, configs, params, bounds, priors, init, n_dense, per_trace)
    start_vals = {s.name: s.init for s in problem.specs}
    z0 = problem.to_unbounded(start_vals)
    history: list[float] = []
    n_eval = 0
    rng = np.random.default_rng(seed)
    zs = [z0]
    for _ in range(starts - 1):
        v = {}
        for s in problem.specs:
            if s.log:
                v[s.name] = float(np.clip(s.init * 3.0 ** rng.uniform(-1, 1), s.lo, s.hi))
            else:
                v[s.name] = float(
                    np.clip(s.init + rng.uniform(-0.2, 0.2) * (s.hi - s.lo), s.lo, s.hi)
                )
        zs.append(problem.to_unbounded(v))
    Z = jnp.asarray(np.stack(zs))

    def loss_z(z):
        return problem.loss(problem.natural(z))

    if adam_steps > 0:
        opt = optax.adam(adam_lr)
        state = jax.vmap(opt.init)(Z)
        vg = jax.jit(jax.vmap(jax.value_and_grad(loss_z)))

        @jax.jit
        def update(Z, state, g):
            upd, state = jax.vmap(opt.update)(g, state)
            return optax.apply_updates(Z, upd), state

        for it in range(adam_steps):
            L, g = vg(Z)
            n_eval += len(zs)
            history.append(float(jnp.min(L)))
            if progress:
                progress(it, history[-1])
            Z, state = update(Z, state, g)
        L = jax.jit(jax.vmap(loss_z))(Z)
        z_best = Z[int(jnp.argmin(L))]
    else:
        z_best = Z[0]

    z_best, n = _levenberg_marquardt(problem, z_best, lm_steps, history, progress)
    n_eval += n
    for _ in range(recentre if lm_steps > 0 else 0):
        vals = {
            k: float(v) for k, v in problem.values(problem.natural(jnp.asarray(z_best))).items()
        }
        moved = [
            s
            for s in problem.specs
            if s.log
            and FITTABLE[s.kind][1] is not None  # only values the configs carry re-centre
            and abs(math.log(vals[s.name] / problem.sims[s.trace or 0].base[s.kind]))
            > math.log(1.5)
        ]
        if not moved:
            break
        configs = _recentred(configs, vals, problem)
        b = {s.name: _widen(s, vals[s.name]) for s in problem.specs if s.log}
        b.update({s.name: (s.lo, s.hi) for s in problem.specs if not s.log})
        problem = Problem(traces, configs, params, b, priors, vals, n_dense, per_trace)
        z_best = jnp.asarray(problem.to_unbounded(vals))
        z_best, n = _levenberg_marquardt(problem, z_best, lm_steps, history, progress)
        n_eval += n
    q = problem.natural(jnp.asarray(z_best))
    final = float(0.5 * jnp.sum(problem.residuals(q) ** 2))
    history.append(final)
    if progress:
        progress(len(history), final)
    cov, corr, notes = uncertainty(problem, np.asarray(q))
    for note in notes:
        warnings.warn(note, stacklevel=2)
    n_data = sum(s.trace.time_s.size for s in problem.sims)
    dof = max(n_data - len(problem.specs), 1)
    vals = problem.values(q)
    sd = np.sqrt(np.clip(np.diag(cov), 0, None))
    values, stderr = {}, {}
    for i, s in enumerate(problem.specs):
        v = float(vals[s.name])
        values[s.name] = v
        stderr[s.name] = float(v * sd[i]) if s.log else float(sd[i])
    curves = []
    for k, sim in enumerate(problem.sims):
        t = np.linspace(sim.trace.time_s[0], sim.trace.time_s[-1], 200)
        if sim.trace.misorientation_deg is None:
            curves.append({"time_s": t, "neck_nm": np.asarray(problem.predict(k, q, t))})
        else:
            neck, mis = problem.predict(k, q, t, misorientation=True)
            curves.append(
                {"time_s": t, "neck_nm": np.asarray(neck), "misorientation_deg": np.asarray(mis)}
            )
    return FitResult(
        names=[s.name for s in problem.specs],
        units=[FITTABLE[s.kind][0] for s in problem.specs],
        values=values,
        stderr=stderr,
        correlation=corr,
        loss=final,
        chi2_reduced=2 * final / dof,
        n_data=n_data,
        n_evaluations=n_eval,
        loss_history=history,
        curves=curves,
        warnings=notes,
    )


def _data_and_fit(ax, traces, curves, key: str, sigma: str, label: str) -> None:
    """Measured ``key`` with error bars ``sigma`` (where finite) and the fitted curve."""
    for tr, cv in zip(traces, curves, strict=True):
        y = getattr(tr, key)
        if y is None:
            continue
        seen = np.isfinite(y)
        ax.errorbar(
            tr.time_s[seen],
            y[seen],
            yerr=getattr(tr, sigma)[seen],
            fmt="o",
            ms=3,
            capsize=2,
            label=f"{tr.name} (data)",
        )
        ax.plot(cv["time_s"], cv[key], "-", label=f"{tr.name} (fit)")
    ax.set_xlabel("time (s)")
    ax.set_ylabel(label)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


def plot_fit(result: FitResult, traces: Sequence[Trace], path) -> Path:
    """Data with error bars vs fitted curves (neck; misorientation where measured), and the loss
    history."""
    from .plot import plt

    oriented = any(tr.misorientation_deg is not None for tr in traces)
    fig, axes = plt.subplots(1, 3 if oriented else 2, figsize=(16 if oriented else 11, 4))
    a1, a2 = axes[0], axes[-1]
    _data_and_fit(a1, traces, result.curves, "neck_nm", "sigma_nm", "neck (nm)")
    if oriented:
        mis = ("misorientation_deg", "sigma_deg", "misorientation (deg)")
        _data_and_fit(axes[1], traces, result.curves, *mis)
    txt = "\n".join(
        f"{n} = {result.values[n]:.3g} ± {result.stderr[n]:.2g} {u}"
        for n, u in zip(result.names, result.units, strict=True)
    )
    a1.text(
        0.02,
        0.98,
        txt,
        transform=a1.transAxes,
        va="top",
        fontsize=8,
        bbox={"fc": "white", "alpha": 0.8},
    )
    a2.semilogy(np.arange(len(result.loss_history)), result.loss_history, "o-", ms=3)
    a2.set_xlabel("iteration")
    a2.set_ylabel("loss")
    a2.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


__all__ = [
    "FITTABLE",
    "FitError",
    "FitResult",
    "Problem",
    "Trace",
    "fit",
    "model_from_physical",
    "plot_fit",
    "read_trace",
    "synthetic_trace",
    "uncertainty",
]
