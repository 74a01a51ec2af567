"""Physical units in, dimensionless model out (and back).

Internal units: length ``l0`` = the grid spacing, energy density ``E0`` chosen so that B = 1, time
``t0 = l0^2 / (E0 M_ref)`` with ``M_ref`` the largest physical density mobility (so every internal
density mobility is <= 1).

The mapping (all checked by `measure_interfaces`, which relaxes the model's own 1D profiles):

* Shape: with B = 1 and kappa_eta = 1, the ratios ``a = A/B`` and ``k = kappa_rho/kappa_eta`` fix
  the dimensionless ratios gamma_gb/gamma_s and w_s/w_gb. They are solved for numerically from 1D
  equilibrium profiles (`_interfaces`), so the requested energy ratio is met exactly.
* Scale: ``kappa -> lambda^2 kappa`` stretches every width and energy by ``lambda``; lambda is set
  so the surface width ``w_s = 1/max|d rho/dx|`` equals the requested width.
* Mobilities: the sharp-interface limits
  ``int M_surf rho^2(1-rho)^2 dn = D_s delta_s Omega / (k_B T)`` (surface diffusion, Mullins
  coefficient ``B_s = D_s delta_s Omega gamma_s / (k_B T)``),
  ``int M_gb sum eta_i eta_j dn = D_gb delta_gb Omega / (k_B T)`` (grain-boundary diffusion),
  ``M_vol = D_v Omega / (k_B T)``, ``M_vap = D_vap Omega / (k_B T)`` (``D_vap`` an effective
  diffusivity that already carries the equilibrium vapour fraction).
* Allen-Cahn: a grain boundary moves as ``v = L kappa_eta * curvature``, so a physical boundary
  mobility m_gb (``v = m_gb gamma_gb * curvature``) maps to ``L = m_gb gamma_gb / kappa_eta``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize
from jaxtyping import Array

from sintersim.calibrate._profiles import grain_boundary_profile, relax_on_grid, surface_profile
from sintersim.constants import K_B, NM
from sintersim.model._energy import WangEnergy
from sintersim.model._mobility import Mobility
from sintersim.model._sinter import SinterModel


@dataclasses.dataclass(frozen=True)
class PhysicalParameters:
    """What a user knows, in SI units (lengths in nm where named so).

    surface_energy: gamma_s, solid-vapour, J/m^2.
    gb_energy: gamma_gb, grain boundary, J/m^2 (must be < 2 gamma_s for a stable boundary).
    interface_width_nm: surface width w_s = 1/max|d rho/dx| of the diffuse interface.
    grid_spacing_nm: dx; the internal length unit.
    temperature_K: T.
    atomic_volume_m3: Omega, volume per atom (formula unit).
    surface_diffusivity: D_s, m^2/s; surface_layer_nm: delta_s.
    gb_diffusivity: D_gb, m^2/s; gb_width_nm: delta_gb.
    volume_diffusivity: D_v, m^2/s. vapour_diffusivity: effective D_vap, m^2/s.
    gb_mobility: m_gb, m^4/(J s), or None for "boundaries relax fast": internal L = 1.
    gb_width_ratio: model choice, w_gb / w_s (diffuse boundary width relative to the surface).
    """

    surface_energy: float
    gb_energy: float
    interface_width_nm: float
    grid_spacing_nm: float
    temperature_K: float
    atomic_volume_m3: float
    surface_diffusivity: float
    surface_layer_nm: float = 0.3
    gb_diffusivity: float = 0.0
    gb_width_nm: float = 0.5
    volume_diffusivity: float = 0.0
    vapour_diffusivity: float = 0.0
    gb_mobility: float | None = None
    gb_width_ratio: float = 1.0

    def __post_init__(self):
        positive = (
            "surface_energy",
            "gb_energy",
            "interface_width_nm",
            "grid_spacing_nm",
            "temperature_K",
            "atomic_volume_m3",
            "surface_layer_nm",
            "gb_width_nm",
            "gb_width_ratio",
        )
        for name in positive:
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {v!r}")
        for name in (
            "surface_diffusivity",
            "gb_diffusivity",
            "volume_diffusivity",
            "vapour_diffusivity",
        ):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
        if self.gb_mobility is not None and not self.gb_mobility > 0:
            raise ValueError(f"gb_mobility must be > 0 (or omitted), got {self.gb_mobility!r}")
        if not self.gb_energy < 2 * self.surface_energy:
            raise ValueError(
                f"gb_energy ({self.gb_energy} J/m^2) must be below 2 * surface_energy "
                f"({2 * self.surface_energy} J/m^2), otherwise grains would separate"
            )
        if self.interface_width_nm < 2 * self.grid_spacing_nm:
            raise ValueError(
                f"interface_width_nm ({self.interface_width_nm}) must span at least 2 grid "
                f"cells (grid_spacing_nm = {self.grid_spacing_nm}); allowed: >= "
                f"{2 * self.grid_spacing_nm}"
            )
        mobs = (
            self.surface_diffusivity,
            self.gb_diffusivity,
            self.volume_diffusivity,
            self.vapour_diffusivity,
        )
        if max(mobs) <= 0:
            raise ValueError("at least one diffusivity (surface, gb, volume, vapour) must be > 0")


@dataclasses.dataclass(frozen=True)
class Scales:
    """Internal units: x_phys = length_m * x, t_phys = time_s * t, f_phys = energy_J_m3 * f.
    (Traced lengths and energies only inside a fit of the length scale, `Reference.rescaled`.)"""

    length_m: float | Array
    energy_J_m3: float | Array
    time_s: float

    @property
    def interface_energy_J_m2(self) -> float:
        return self.energy_J_m3 * self.length_m

    def to_internal_time(self, t_s):
        return np.asarray(t_s) / self.time_s

    def to_seconds(self, t):
        return np.asarray(t) * self.time_s

    def rotational_mobility(self, m_r_SI):
        """Internal m_r of a physical rotational mobility m_r (m^3 / (J s)); a float or a (traced)
        array, so fitting differentiates through it.

        ``d theta/dt = m_r tau / V`` with tau in J and V in m^3 becomes, in internal units,
        ``m_r E0 t0`` (the l0^3 of the torque and of the volume cancel).
        """
        return m_r_SI * self.energy_J_m3 * self.time_s

    def translational_mobility(self, m_t_SI):
        """Internal m_t of a physical translational mobility m_t (m^5 / (J s)).

        ``v = m_t F / V`` with v in m/s, F in J/m and V in m^3 becomes ``m_t E0 t0 / l0^2``.
        """
        return m_t_SI * self.energy_J_m3 * self.time_s / self.length_m**2


@dataclasses.dataclass(frozen=True)
class Shape:
    """Canonical (B = 1, kappa_eta = 1) model shape and its measured interface quantities."""

    a: float
    k: float
    gamma_s: float
    gamma_gb: float
    width_s: float
    width_gb: float
    surface_integral: float
    gb_integral: float


def _measure_shape(a: float, k: float) -> Shape:
    e = WangEnergy(a, 1.0, k, 1.0)
    s, g = surface_profile(e), grain_boundary_profile(e)
    return Shape(a, k, s.gamma, g.gamma, s.width, g.width, s.surface_integral, g.gb_integral)


@functools.lru_cache(maxsize=64)
def solve_shape(gb_to_surface: float, gb_width_ratio: float = 1.0) -> Shape:
    """Find (a, k) with gamma_gb/gamma_s = ``gb_to_surface`` and w_gb/w_s = ``gb_width_ratio``.

    Raises ValueError if the Wang functional cannot reach the requested ratio.
    """
    target = np.log([gb_to_surface, gb_width_ratio])

    def residual(z):
        sh = _measure_shape(float(np.exp(z[0])), float(np.exp(z[1])))
        return np.log([sh.gamma_gb / sh.gamma_s, sh.width_gb / sh.width_s]) - target

    # Starting point: on the surface path rho = eta the bulk energy is (A + 7B) rho^2 (1-rho)^2
    # with gradient weight kappa_rho + kappa_eta, so k = 2/r - 1, a = 6k - 1 gives equal widths
    # and gamma_gb/gamma_s = r when that path is the minimiser (the solve below checks it).
    if not 0 < gb_to_surface <= 12 / 7:
        raise ValueError(
            f"gb_energy / surface_energy = {gb_to_surface:.3g} is outside what the model reaches; "
            "allowed: 0 < gb_energy / surface_energy <= 12/7 (= 1.71, where A reaches 0)"
        )
    k0 = max(2.0 / gb_to_surface - 1.0, 0.05)
    z0 = np.log([max(6.0 * k0 - 1.0, 0.05), k0])
    if np.max(np.abs(residual(z0))) < 1e-5:
        return _measure_shape(*np.exp(z0))
    lo, hi = np.log([0.02, 0.02]), np.log([5000.0, 200.0])
    res = scipy.optimize.least_squares(
        residual, x0=np.clip(z0, lo + 1e-9, hi - 1e-9), bounds=(lo, hi), diff_step=1e-4
    )
    if np.max(np.abs(res.fun)) > 1e-3:
        sh = _measure_shape(*np.exp(res.x))
        raise ValueError(
            f"gb_energy / surface_energy = {gb_to_surface:.3g} with gb_width_ratio = "
            f"{gb_width_ratio:.3g} is outside what the model reaches (closest: "
            f"{sh.gamma_gb / sh.gamma_s:.3g}, {sh.width_gb / sh.width_s:.3g}); allowed: "
            "0 < gb_energy / surface_energy <= 12/7 (= 1.71, where A reaches 0), "
            "gb_width_ratio near 1"
        )
    return _measure_shape(*np.exp(res.x))


def grid_energy(
    gb_to_surface: float, width_cells: float, gb_width_ratio: float = 1.0
) -> WangEnergy:
    """Wang energy in grid units (dx = 1, B = 1) with gamma_gb/gamma_s = ``gb_to_surface`` and a
    surface width ``w_s = width_cells``: the canonical shape stretched by
    ``lambda = w_s / shape.width_s`` (``kappa -> lambda^2 kappa``)."""
    shape = solve_shape(gb_to_surface, gb_width_ratio)
    return _stretched(shape, width_cells / shape.width_s)


def _stretched(shape: Shape, lam: float) -> WangEnergy:
    return WangEnergy(A=shape.a, B=1.0, kappa_rho=shape.k * lam**2, kappa_eta=lam**2)


@dataclasses.dataclass(frozen=True)
class Reference:
    """The fixed internal units and model shape a physical parameter set is mapped with.

    scales: l0, E0, t0. shape: the canonical (B = 1, kappa_eta = 1) shape, solved for the
    reference ratio ``gb_to_surface``. stretch: lambda, widths and energies of the canonical
    shape times this. surface_energy: the gamma_s the units were made for. mobility: the largest
    physical density mobility there (t0 makes it 1).
    """

    scales: Scales
    shape: Shape
    stretch: float
    gb_to_surface: float
    surface_energy: float  # J/m^2: E0 l0 lambda gamma_s^c of the shape
    mobility: float  # m^5/(J s): the largest density mobility, which set t0

    def rescaled(self, s) -> Reference:
        """The units of the same cells standing for a body 1/s the size (length l0/s, energy
        density E0 s, same clock): the canonical shape's energies E0 l0 are unchanged, and
        every physical mobility maps with its own power of l0. ``s`` may be traced."""
        sc = self.scales
        return dataclasses.replace(
            self, scales=Scales(sc.length_m / s, sc.energy_J_m3 * s, sc.time_s)
        )


def reference_for(p: PhysicalParameters) -> Reference:
    """The units of a constant run with ``p``: l0 the grid spacing, E0 such that B = 1 and
    gamma_s is met, t0 such that the largest density mobility is 1 (host side)."""
    r = p.gb_energy / p.surface_energy
    shape = solve_shape(round(r, 12), round(p.gb_width_ratio, 12))
    l0 = p.grid_spacing_nm * NM
    lam = (p.interface_width_nm / p.grid_spacing_nm) / shape.width_s
    e0 = p.surface_energy / (l0 * lam * shape.gamma_s)
    m = _physical_mobilities(dataclasses.asdict(p), shape, lam, l0)
    m_ref = max(float(v) for v in m)
    if not m_ref > 0:
        raise ValueError(
            f"every density mobility is 0 at {p.temperature_K:g} K (surface_diffusivity, "
            "gb_diffusivity, volume_diffusivity and vapour_diffusivity are 0 or their Arrhenius "
            "laws underflow), so nothing moves and there is no time unit; allowed: at least one "
            "> 0 (raise the temperature or set a diffusivity)"
        )
    t0 = l0**2 / (e0 * m_ref)
    return Reference(Scales(l0, e0, t0), shape, lam, r, p.surface_energy, m_ref)


def _physical_mobilities(p: Mapping, shape: Shape, lam, l0):
    """(M_vol, M_vap, M_surf, M_gb) in m^5/(J s): the sharp-interface limits of the module
    docstring, with the shape's interface integrals stretched by lambda."""
    kt = K_B * p["temperature_K"]
    omega = p["atomic_volume_m3"]
    m_surf = p["surface_diffusivity"] * p["surface_layer_nm"] * NM * omega / kt
    m_surf = m_surf / (lam * shape.surface_integral * l0)
    m_gb = p["gb_diffusivity"] * p["gb_width_nm"] * NM * omega / kt
    m_gb = m_gb / (lam * shape.gb_integral * l0)
    return (
        p["volume_diffusivity"] * omega / kt,
        p["vapour_diffusivity"] * omega / kt,
        m_surf,
        m_gb,
    )


def model_coefficients(
    p: Mapping[str, Array | float | None], ref: Reference
) -> tuple[WangEnergy, Mobility, Array | float]:
    """The one unit mapping: physical values -> (energy, mobility, L) in the units of ``ref``.

    Differentiable in every value of ``p`` (the keys of `PhysicalParameters`; ``gb_mobility``
    may be None: boundaries relax fast, L = 1 in the time unit of the fastest density
    mobility). The shape follows the energy ratio
    ``r = gamma_gb / gamma_s`` along the equal-width family ``k = 2/r - 1``, ``a = 6k - 1``,
    ``gamma_s^c ~ k + 1`` (closed form, exact in the continuum), anchored at the reference
    shape: at the reference ratio the coefficients are exactly the measured shape's, and away
    from it they move with the closed form's derivatives. Energies scale by
    ``c = gamma_s / (E0 l0 lambda gamma_s^c)`` (1 at the reference).
    """
    sh, lam = ref.shape, ref.stretch
    l0, e0, t0 = ref.scales.length_m, ref.scales.energy_J_m3, ref.scales.time_s
    r = p["gb_energy"] / p["surface_energy"]
    dk = (2.0 / r - 1.0) - (2.0 / ref.gb_to_surface - 1.0)
    k, a = sh.k + dk, sh.a + 6.0 * dk
    # c = gamma_s / (E0 l0 lambda gamma_s^c), written relative to the reference (exactly 1 there)
    c = (p["surface_energy"] / ref.surface_energy) / (1.0 + dk / (sh.k + 1.0))
    energy = WangEnergy(A=a * c, B=c, kappa_rho=k * lam**2 * c, kappa_eta=lam**2 * c)
    to_internal = e0 * t0 / l0**2
    m_vol, m_vap, m_surf, m_gb = _physical_mobilities(p, sh, lam, l0)
    mobility = Mobility(
        M_vol=m_vol * to_internal,
        M_vap=m_vap * to_internal,
        M_surf=m_surf * to_internal,
        M_gb=m_gb * to_internal,
    )
    if p.get("gb_mobility") is None:
        # "Boundaries relax fast": L = 1 in the time unit of the fastest density transport, so
        # L follows that transport's temperature law (exactly 1 at the reference).
        ms = (m_vol, m_vap, m_surf, m_gb)
        traced = any(isinstance(m, jax.Array) for m in ms)  # (host numbers stay floats)
        fastest = functools.reduce(jnp.maximum, ms) if traced else max(ms)
        L = fastest / ref.mobility
    else:
        L = p["gb_mobility"] * p["gb_energy"] * t0 / (energy.kappa_eta * l0**2)
    return energy, mobility, L


@dataclasses.dataclass(frozen=True)
class Nondimensional:
    """The result of mapping physical parameters: the model, its units, and the shape used."""

    model: SinterModel
    reference: Reference

    @property
    def scales(self) -> Scales:
        return self.reference.scales

    @property
    def shape(self) -> Shape:
        return self.reference.shape

    @property
    def stretch(self) -> float:
        """lambda: widths and energies of the canonical shape times this."""
        return self.reference.stretch


def nondimensionalize(p: PhysicalParameters) -> Nondimensional:
    """Map `PhysicalParameters` to a dimensionless `SinterModel` and its `Scales`
    (`reference_for` then `model_coefficients`)."""
    ref = reference_for(p)
    energy, mobility, L = model_coefficients(dataclasses.asdict(p), ref)
    model = SinterModel(energy=energy, mobility=mobility, L=L)
    return Nondimensional(model, ref)


def mullins_coefficient(p: PhysicalParameters) -> float:
    """Surface-diffusion coefficient B_s = D_s delta_s Omega gamma_s / (k_B T), m^4/s."""
    return (
        p.surface_diffusivity
        * p.surface_layer_nm
        * NM
        * p.atomic_volume_m3
        * p.surface_energy
        / (K_B * p.temperature_K)
    )


def check_mapping(nd: Nondimensional, p: PhysicalParameters) -> dict[str, tuple[float, float]]:
    """Measure the model's own interface energies and width on its grid (1D, spectral, relaxed
    with the solver's stepper) and return ``{name: (requested, measured)}`` in SI / nm units."""
    # the crystals' own energy (Wang's): terms such as a liquid are not part of the mapping
    model = SinterModel(nd.model.energy, nd.model.mobility, nd.model.L)
    gs, ws, *_ = relax_on_grid(model, kind="surface")
    gg, _, *_ = relax_on_grid(model, kind="grain_boundary")
    unit = nd.scales.interface_energy_J_m2
    return {
        "surface_energy_J_m2": (p.surface_energy, gs * unit),
        "gb_energy_J_m2": (p.gb_energy, gg * unit),
        "interface_width_nm": (p.interface_width_nm, ws * p.grid_spacing_nm),
    }
