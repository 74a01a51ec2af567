"""Material parameter presets for nanocrystal sintering (PbSe, CdSe, CdS, CsPbBr3).

Units
-----
Every numeric field carries its SI (or explicitly named) unit in its name:

* ``*_nm``      -- nanometres (lattice parameters, surface-layer and grain-boundary widths)
* ``*_m3``      -- cubic metres; ``atomic_volume_m3`` is the volume per *formula unit*
  (unit-cell volume / formula units per cell), e.g. one PbSe or one CsPbBr3.
* ``*_K``       -- kelvin
* ``*_J_m2``    -- J/m^2 (interfacial energies)
* ``*_J_m3``    -- J/m^3 (latent heat of melting per unit volume of solid)
* ``*_m4_Js``   -- m^4/(J s) (grain-boundary mobility M in v = M * gamma * curvature)
* Diffusivities are :class:`Arrhenius` laws ``D(T) = D0 exp(-Q / (k_B T))`` with ``D0`` in m^2/s
  and ``Q`` in eV (``k_B = 8.617333262e-5 eV/K``).

Guess convention
----------------
Each :class:`Material` has ``sources: field name -> provenance``.  A provenance is either a
literature/handbook citation (authors or handbook, journal/publisher, year) or a string that starts
with ``"GUESS:"`` followed by the reasoning used to estimate the number.  The names of all
estimated fields are also collected in ``Material.guesses``; the constructor checks that the two
agree.  No citation in this file is meant to be more specific than the authors' recollection
allows: where a literature number could not be quoted with confidence the value is marked as a
guess, even if relevant literature exists.

Most transport and interfacial data for these compounds (let alone for ligand-stripped
nanocrystals) are not available, so the presets estimate them with the classic homologous-
temperature rules of thumb (written out in the helper functions below):

* lattice diffusion:         D_v(T_m)  ~ 1e-12 m^2/s,  Q_v  ~ 18 k_B T_m
* grain-boundary diffusion:  D_gb(T_m) ~ 1e-9  m^2/s,  Q_gb ~ 0.6 Q_v
* surface diffusion:         D_s(T_m)  ~ 1e-8  m^2/s,  Q_s  ~ 0.5 Q_v
* grain-boundary mobility:   Turnbull estimate M ~ D_gb Omega / (k_B T delta_gb) at T_ref
* latent heat:               entropy of fusion per atom times T_m (Richards-type rule)
* solid-liquid energy:       Turnbull's correlation gamma_sl ~ alpha L_V (Omega/n_atoms)^(1/3)
* liquid-vapour energy:      gamma_lv ~ gamma_sv / 1.15

These give the right orders of magnitude and the right ordering D_s > D_gb >> D_v, but each can
easily be off by one or more orders of magnitude; treat them as starting points for calibration.
The sign of the surface-premelting spreading coefficient gamma_sv - gamma_sl - gamma_lv is *not*
validated by these estimates.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import textwrap
from collections.abc import Mapping
from typing import Any

from sintersim.constants import K_B, K_B_EV, N_A

__all__ = [
    "K_B_EV",
    "K_B",
    "N_A",
    "Arrhenius",
    "Material",
    "MATERIALS",
    "get_material",
]


_STRUCTURES = {
    # structure: (symmetry, formula units per conventional cell, atoms per formula unit)
    "rocksalt": ("cubic", 4, 2),
    "zincblende": ("cubic", 4, 2),
    "wurtzite": ("hexagonal", 2, 2),
    "perovskite": ("cubic", 1, 5),
}


@dataclasses.dataclass(frozen=True)
class Arrhenius:
    """Thermally activated law ``D(T) = D0_m2_s * exp(-Q_eV / (k_B T))``.

    ``D0_m2_s`` in m^2/s, ``Q_eV`` in eV, ``T_K`` in kelvin.  Calling with a Python/NumPy scalar
    returns a float; calling with an array (NumPy or JAX) evaluates elementwise.
    """

    D0_m2_s: float
    Q_eV: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.D0_m2_s) and self.D0_m2_s > 0.0):
            raise ValueError(f"D0_m2_s must be positive and finite, got {self.D0_m2_s!r}")
        if not (math.isfinite(self.Q_eV) and self.Q_eV >= 0.0):
            raise ValueError(f"Q_eV must be non-negative and finite, got {self.Q_eV!r}")

    def __call__(self, T_K: Any) -> Any:
        try:
            T = float(T_K)
        except TypeError:  # array-like: stay generic (works for numpy and traced jax arrays)
            return self.D0_m2_s * math.e ** (-self.Q_eV / (K_B_EV * T_K))
        if not T > 0.0:
            raise ValueError(f"temperature must be positive (kelvin), got {T_K!r}")
        return self.D0_m2_s * math.exp(-self.Q_eV / (K_B_EV * T))

    def __str__(self) -> str:
        return f"D0={self.D0_m2_s:.3g} m^2/s, Q={self.Q_eV:.3f} eV"


_UNITS = {
    "lattice_parameter_nm": "nm",
    "c_nm": "nm",
    "atomic_volume_m3": "m^3/f.u.",
    "melting_point_K": "K",
    "surface_energy_J_m2": "J/m^2",
    "gb_energy_J_m2": "J/m^2",
    "surface_diffusion": "Arrhenius",
    "surface_layer_nm": "nm",
    "gb_diffusion": "Arrhenius",
    "gb_width_nm": "nm",
    "volume_diffusion": "Arrhenius",
    "gb_mobility_m4_Js": "m^4/(J s)",
    "latent_heat_J_m3": "J/m^3",
    "solid_liquid_energy_J_m2": "J/m^2",
    "liquid_vapour_energy_J_m2": "J/m^2",
    "gb_mobility_T_ref_K": "K",
}

_NON_DATA_FIELDS = ("name", "structure", "symmetry", "sources", "guesses")

# Uncertainty of preset values, one standard deviation of log10: (cited value, 'GUESS:').
# Transport from homologous-temperature rules "can easily be off by one or more orders of
# magnitude" (module docstring): 1.5 decades as a guess; half a decade where a measurement is
# cited (nanocrystal surfaces differ from the bulk it was measured on). Energies, widths and
# the latent heat from rules of thumb: a factor 2 (0.3); cited, 25 % (0.1). Activation
# energies: 25 % as a guess (0.1), 12 % cited (0.05).
_TRANSPORT, _ENERGY, _ACTIVATION = (0.5, 1.5), (0.1, 0.3), (0.05, 0.1)
PRIOR_SIGMA_LOG10: dict[str, tuple[float, float]] = {
    "surface_diffusion": _TRANSPORT,
    "gb_diffusion": _TRANSPORT,
    "volume_diffusion": _TRANSPORT,
    "gb_mobility_m4_Js": _TRANSPORT,
    "surface_energy_J_m2": _ENERGY,
    "gb_energy_J_m2": _ENERGY,
    "surface_layer_nm": _ENERGY,
    "gb_width_nm": _ENERGY,
    "latent_heat_J_m3": _ENERGY,
    "solid_liquid_energy_J_m2": _ENERGY,
    "liquid_vapour_energy_J_m2": _ENERGY,
    "surface_diffusion.Q": _ACTIVATION,
    "gb_diffusion.Q": _ACTIVATION,
    "volume_diffusion.Q": _ACTIVATION,
}


@dataclasses.dataclass(frozen=True)
class Material:
    """Physical parameters of one material (see the module docstring for units and conventions).

    ``gb_mobility_m4_Js`` is the mobility at ``gb_mobility_T_ref_K`` (an extra, optional field
    placed last so that it may be omitted).
    """

    name: str
    structure: str
    symmetry: str
    lattice_parameter_nm: float
    c_nm: float | None
    atomic_volume_m3: float
    melting_point_K: float
    surface_energy_J_m2: float
    gb_energy_J_m2: float
    surface_diffusion: Arrhenius
    surface_layer_nm: float
    gb_diffusion: Arrhenius
    gb_width_nm: float
    volume_diffusion: Arrhenius
    gb_mobility_m4_Js: float
    latent_heat_J_m3: float
    solid_liquid_energy_J_m2: float
    liquid_vapour_energy_J_m2: float
    sources: Mapping[str, str] = dataclasses.field(hash=False, repr=False)
    guesses: frozenset[str] = dataclasses.field(repr=False)
    gb_mobility_T_ref_K: float | None = None

    def __post_init__(self) -> None:
        if self.structure not in _STRUCTURES:
            raise ValueError(
                f"{self.name}: unknown structure {self.structure!r}; "
                f"expected one of {sorted(_STRUCTURES)}"
            )
        expected_symmetry = _STRUCTURES[self.structure][0]
        if self.symmetry != expected_symmetry:
            raise ValueError(
                f"{self.name}: structure {self.structure!r} implies symmetry "
                f"{expected_symmetry!r}, got {self.symmetry!r}"
            )
        if (self.symmetry == "hexagonal") != (self.c_nm is not None):
            raise ValueError(f"{self.name}: c_nm must be given iff the symmetry is hexagonal")
        object.__setattr__(self, "sources", dict(self.sources))
        object.__setattr__(self, "guesses", frozenset(self.guesses))
        names = {f.name for f in dataclasses.fields(self)}
        if not set(self.sources) <= names:
            raise ValueError(f"{self.name}: sources for unknown fields {set(self.sources) - names}")
        if not self.guesses <= names:
            raise ValueError(f"{self.name}: guesses name unknown fields {self.guesses - names}")
        marked = {k for k, v in self.sources.items() if v.startswith("GUESS:")}
        if marked != self.guesses:
            raise ValueError(
                f"{self.name}: 'guesses' and 'GUESS:' sources disagree: "
                f"only in guesses {sorted(self.guesses - marked)}, "
                f"only marked in sources {sorted(marked - self.guesses)}"
            )

    # -- derived quantities -------------------------------------------------------------------
    @property
    def formula_units_per_cell(self) -> int:
        return _STRUCTURES[self.structure][1]

    @property
    def atoms_per_formula_unit(self) -> int:
        return _STRUCTURES[self.structure][2]

    @property
    def unit_cell_volume_m3(self) -> float:
        """Conventional unit-cell volume from the lattice parameters."""
        return _cell_volume_m3(self.structure, self.lattice_parameter_nm, self.c_nm)

    def is_guess(self, field: str) -> bool:
        return field in self.guesses

    def prior_sigma_log10(self, field: str) -> float | None:
        """The uncertainty of a preset value as the standard deviation of its log10, which
        `sintersim.fit` takes as a log-normal prior: narrow for a cited value, wide for a
        'GUESS:' (`PRIOR_SIGMA_LOG10`). ``field`` is a field name, or ``"<law>.Q"`` for the
        activation energy of an Arrhenius law. None for fields without one (structure, lattice)."""
        widths = PRIOR_SIGMA_LOG10.get(field)
        if widths is None:
            return None
        cited, guess = widths
        return guess if self.is_guess(field.split(".")[0]) else cited

    # -- reporting ----------------------------------------------------------------------------
    def describe(self) -> str:
        """Multi-line table: field, value, unit, guess mark, source."""
        header = f"{self.name} ({self.structure}, {self.symmetry})"
        w_field, w_value, w_unit, w_mark = 26, 30, 10, 8
        indent = w_field + w_value + w_unit + w_mark + 4
        lines = [
            header,
            "=" * len(header),
            f"{'field':<{w_field}} {'value':<{w_value}} {'unit':<{w_unit}} {'':<{w_mark}} source",
            "-" * (indent + 40),
        ]
        for f in dataclasses.fields(self):
            if f.name in _NON_DATA_FIELDS:
                continue
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, Arrhenius):
                text = str(value)
            else:
                text = f"{value:.4g}"
            mark = "(guess)" if f.name in self.guesses else ""
            sigma = self.prior_sigma_log10(f.name)
            if isinstance(value, Arrhenius) and sigma is not None:
                q_sigma = self.prior_sigma_log10(f"{f.name}.Q")
                text += f" (D ±{sigma:g} dec, Q ±{q_sigma:g} dec)"
            elif sigma is not None:
                text += f" ±{sigma:g} dec"
            source = self.sources.get(f.name, "(no source given)")
            wrapped = textwrap.wrap(source, width=max(40, 130 - indent)) or [""]
            lines.append(
                f"{f.name:<{w_field}} {text:<{w_value}} {_UNITS.get(f.name, ''):<{w_unit}} "
                f"{mark:<{w_mark}} {wrapped[0]}"
            )
            lines.extend(" " * indent + extra for extra in wrapped[1:])
        n = len(self.guesses)
        lines.append(f"{n} of {len(self.sources)} documented fields are estimates ('GUESS:').")
        lines.append(
            "±N dec: the value's uncertainty, one standard deviation of its log10 (a factor 10^N); "
            "`sintersim fit` uses it as a log-normal prior (cited values narrow, guesses wide)."
        )
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Estimation helpers (the rules of thumb named in the module docstring)
# ---------------------------------------------------------------------------------------------


def _cell_volume_m3(structure: str, a_nm: float, c_nm: float | None) -> float:
    a = a_nm * 1e-9
    if _STRUCTURES[structure][0] == "hexagonal":
        assert c_nm is not None
        return math.sqrt(3.0) / 2.0 * a * a * (c_nm * 1e-9)
    return a**3


def _omega_m3(structure: str, a_nm: float, c_nm: float | None = None) -> float:
    """Volume per formula unit = cell volume / formula units per conventional cell."""
    return _cell_volume_m3(structure, a_nm, c_nm) / _STRUCTURES[structure][1]


# Homologous-temperature diffusion scaling: (Q / (k_B T_m), D(T_m) in m^2/s)
_Q_V_OVER_KTM = 18.0
_VOLUME_SCALING = (_Q_V_OVER_KTM, 1e-12)
_GB_SCALING = (0.6 * _Q_V_OVER_KTM, 1e-9)
_SURFACE_SCALING = (0.5 * _Q_V_OVER_KTM, 1e-8)


def _scaled_arrhenius(T_m: float, scaling: tuple[float, float]) -> Arrhenius:
    """Arrhenius law with Q = q k_B T_m and D(T_m) = D_at_Tm, i.e. D0 = D_at_Tm * exp(q)."""
    q, D_at_Tm = scaling
    return Arrhenius(D0_m2_s=D_at_Tm * math.exp(q), Q_eV=q * K_B_EV * T_m)


def _turnbull_mobility(D_gb: Arrhenius, omega_m3: float, delta_gb_nm: float, T: float) -> float:
    """Turnbull (1951) upper-bound estimate of grain-boundary mobility, M = D_gb Omega/(k T d)."""
    return D_gb(T) * omega_m3 / (K_B * T * delta_gb_nm * 1e-9)


def _latent_heat_J_m3(T_m: float, omega_m3: float, n_atoms: int, dS_per_atom_kB: float) -> float:
    """L_V = n_atoms * dS_atom * T_m / Omega  (dS in units of k_B per atom)."""
    return n_atoms * dS_per_atom_kB * K_B * T_m / omega_m3


_TURNBULL_ALPHA = 0.35


def _turnbull_gamma_sl(L_V: float, omega_m3: float, n_atoms: int) -> float:
    """Turnbull's correlation gamma_sl = alpha * L_V * (volume per atom)^(1/3)."""
    return _TURNBULL_ALPHA * L_V * (omega_m3 / n_atoms) ** (1.0 / 3.0)


_GAMMA_SV_OVER_LV = 1.15
_GB_OVER_SURFACE = 1.0 / 3.0
_GB_WIDTH_NM = 0.5

# Shared provenance strings for the estimated fields -------------------------------------------
_SRC_DV = (
    "GUESS: no reliable self-diffusion data recalled for this compound; homologous-temperature "
    "rule of thumb D_v(T_m) ~ 1e-12 m^2/s and Q_v ~ 18 k_B T_m (empirical for close-packed "
    "metals, cf. Brown & Ashby, Acta Metall. 1980, 'Correlations for diffusion constants'). "
    "Represents the slower (rate-limiting) species."
)
_SRC_DGB = (
    "GUESS: no grain-boundary diffusion data recalled; rule of thumb Q_gb ~ 0.6 Q_v and "
    "D_gb(T_m) ~ 1e-9 m^2/s (i.e. delta_gb*D_gb(T_m) ~ 5e-19 m^3/s with delta_gb = 0.5 nm)."
)
_SRC_DS = (
    "GUESS: no surface self-diffusion data recalled (nanocrystal surfaces with/without ligands "
    "are uncharacterised); rule of thumb Q_s ~ 0.5 Q_v and D_s(T_m) ~ 1e-8 m^2/s, the order "
    "of metal surface self-diffusivities near T_m."
)
_SRC_DELTA_S = (
    "GUESS: one molecular layer, delta_s ~ Omega^(1/3) (cube root of the volume per formula "
    "unit), rounded; conventional choice in sintering models."
)
_SRC_DELTA_GB = (
    "GUESS: conventional grain-boundary width of ~0.5 nm (about two atomic spacings) used in "
    "sintering/creep models; only the product delta_gb*D_gb matters for GB transport."
)
_SRC_M = (
    "GUESS: Turnbull estimate M = D_gb(T_ref) Omega / (k_B T_ref delta_gb) from the guessed "
    "D_gb; an upper bound (real boundaries with solute/ligand drag are slower), evaluated at "
    "T_ref = gb_mobility_T_ref_K."
)
_SRC_TREF = "GUESS: reference temperature chosen as ~0.5 T_m (typical homologous sintering range)."
_SRC_GB = (
    "GUESS: gamma_gb ~ gamma_sv / 3, the typical ratio for high-angle boundaries in metals "
    "and ceramics (dihedral angle ~160 deg); no measurement recalled for this compound."
)
_SRC_GSL = (
    "GUESS: Turnbull's correlation (Turnbull, J. Appl. Phys. 1950) gamma_sl = alpha L_V "
    "(Omega/n_atoms)^(1/3) with alpha = 0.35 (between ~0.45 for metals and ~0.32 for "
    "semiconductors), using the guessed latent heat."
)
_SRC_GLV = (
    "GUESS: no melt surface-tension data recalled; gamma_lv ~ gamma_sv / 1.15 (solid surface "
    "energies of metals exceed the liquid surface tension at T_m by roughly 10-20 %)."
)
_SRC_OMEGA = (
    "Derived from the lattice parameters: unit-cell volume / formula units per conventional cell."
)


def _build(
    *,
    name: str,
    structure: str,
    a_nm: float,
    c_nm: float | None,
    T_m: float,
    gamma_sv: float,
    dS_per_atom_kB: float,
    literature: Mapping[str, str],
    own_guesses: Mapping[str, str],
) -> Material:
    """Assemble a preset; everything not passed explicitly is estimated by the rules above."""
    symmetry, _, n_atoms = _STRUCTURES[structure]
    omega = _omega_m3(structure, a_nm, c_nm)
    D_v = _scaled_arrhenius(T_m, _VOLUME_SCALING)
    D_gb = _scaled_arrhenius(T_m, _GB_SCALING)
    D_s = _scaled_arrhenius(T_m, _SURFACE_SCALING)
    T_ref = float(round(0.5 * T_m))
    L_V = _latent_heat_J_m3(T_m, omega, n_atoms, dS_per_atom_kB)
    sources = {
        "atomic_volume_m3": _SRC_OMEGA,
        "gb_energy_J_m2": _SRC_GB,
        "surface_diffusion": _SRC_DS,
        "surface_layer_nm": _SRC_DELTA_S,
        "gb_diffusion": _SRC_DGB,
        "gb_width_nm": _SRC_DELTA_GB,
        "volume_diffusion": _SRC_DV,
        "gb_mobility_m4_Js": _SRC_M,
        "gb_mobility_T_ref_K": _SRC_TREF,
        "solid_liquid_energy_J_m2": _SRC_GSL,
        "liquid_vapour_energy_J_m2": _SRC_GLV,
    }
    sources.update(literature)
    sources.update(own_guesses)
    return Material(
        name=name,
        structure=structure,
        symmetry=symmetry,
        lattice_parameter_nm=a_nm,
        c_nm=c_nm,
        atomic_volume_m3=omega,
        melting_point_K=T_m,
        surface_energy_J_m2=gamma_sv,
        gb_energy_J_m2=_GB_OVER_SURFACE * gamma_sv,
        surface_diffusion=D_s,
        surface_layer_nm=round(omega ** (1.0 / 3.0) * 1e9, 2),
        gb_diffusion=D_gb,
        gb_width_nm=_GB_WIDTH_NM,
        volume_diffusion=D_v,
        gb_mobility_m4_Js=_turnbull_mobility(D_gb, omega, _GB_WIDTH_NM, T_ref),
        latent_heat_J_m3=L_V,
        solid_liquid_energy_J_m2=_turnbull_gamma_sl(L_V, omega, n_atoms),
        liquid_vapour_energy_J_m2=gamma_sv / _GAMMA_SV_OVER_LV,
        sources=sources,
        guesses=frozenset(k for k, v in sources.items() if v.startswith("GUESS:")),
        gb_mobility_T_ref_K=T_ref,
    )


_MADELUNG = "Madelung, 'Semiconductors: Data Handbook', 3rd ed., Springer, 2004"
_CRC = "CRC Handbook of Chemistry and Physics (Physical Constants of Inorganic Compounds)"

# ---------------------------------------------------------------------------------------------
# PbSe -- rocksalt (clausthalite), Fm-3m.
# Sources: lattice parameter and melting point are standard handbook values (Madelung,
# Semiconductors: Data Handbook, Springer 2004; CRC Handbook).  Everything else is estimated.
# ---------------------------------------------------------------------------------------------
_PBSE = _build(
    name="PbSe",
    structure="rocksalt",
    a_nm=0.6128,
    c_nm=None,
    T_m=1352.0,
    gamma_sv=0.20,
    dS_per_atom_kB=1.5,
    literature={
        "lattice_parameter_nm": f"Room-temperature value; {_MADELUNG}. Reported values "
        "span ~0.6124-0.6128 nm.",
        "melting_point_K": f"1079 C (congruent); {_CRC}; {_MADELUNG}.",
    },
    own_guesses={
        "surface_energy_J_m2": "GUESS: ~0.2 J/m^2, the order of DFT slab energies reported for "
        "the dominant, non-polar {100} facet of rocksalt lead chalcogenides; {111} is higher. "
        "Not a quoted literature number.",
        "latent_heat_J_m3": "GUESS: entropy of fusion ~1.5 k_B per atom (typical of ionic "
        "rocksalt crystals such as the alkali halides) times T_m, per volume of solid.",
    },
)

# ---------------------------------------------------------------------------------------------
# CdSe -- wurtzite, P6_3mc (nanocrystals are also made in the zincblende polytype).
# Sources: lattice parameters and melting point are standard handbook values (Madelung 2004;
# CRC Handbook).  Surface energy is an estimate informed by DFT work on wurtzite CdSe facets
# (e.g. Manna, Wang, Cingolani & Alivisatos, J. Phys. Chem. B 2005) but is not quoted from it.
# ---------------------------------------------------------------------------------------------
_CDSE = _build(
    name="CdSe",
    structure="wurtzite",
    a_nm=0.4299,
    c_nm=0.7010,
    T_m=1541.0,
    gamma_sv=0.35,
    dS_per_atom_kB=2.5,
    literature={
        "lattice_parameter_nm": f"Room-temperature wurtzite a; {_MADELUNG}.",
        "c_nm": f"Room-temperature wurtzite c; {_MADELUNG}.",
        "melting_point_K": f"~1268 C, widely tabulated (e.g. {_MADELUNG}; {_CRC}); "
        "reported values span ~1510-1541 K.",
    },
    own_guesses={
        "surface_energy_J_m2": "GUESS: ~0.35 J/m^2 as an average over the non-polar "
        "{10-10}/{11-20} and polar (0001) facets; order of DFT slab values for bare wurtzite "
        "CdSe facets (cf. Manna et al., J. Phys. Chem. B 2005), not a quoted number.",
        "latent_heat_J_m3": "GUESS: entropy of fusion ~2.5 k_B per atom, between ionic crystals "
        "(~1.5 k_B) and covalent Si/Ge (~3.6-3.7 k_B), times T_m, per volume of solid.",
    },
)

# ---------------------------------------------------------------------------------------------
# CdS -- wurtzite (greenockite), P6_3mc.
# Sources: lattice parameters and melting point from standard handbooks (Madelung 2004; CRC).
# The 1750 C melting point is under inert-gas overpressure; at 1 atm CdS sublimes well below it,
# so vapour transport may dominate at high T.  Everything else is estimated.
# ---------------------------------------------------------------------------------------------
_CDS = _build(
    name="CdS",
    structure="wurtzite",
    a_nm=0.4136,
    c_nm=0.6714,
    T_m=2023.0,
    gamma_sv=0.40,
    dS_per_atom_kB=2.5,
    literature={
        "lattice_parameter_nm": f"Room-temperature wurtzite a; {_MADELUNG}.",
        "c_nm": f"Room-temperature wurtzite c; {_MADELUNG}.",
        "melting_point_K": f"1750 C under overpressure (sublimes at 1 atm); {_CRC}; {_MADELUNG}.",
    },
    own_guesses={
        "surface_energy_J_m2": "GUESS: ~0.4 J/m^2, slightly above the CdSe estimate because of "
        "the larger cohesive energy and smaller lattice of CdS; not a quoted literature number.",
        "latent_heat_J_m3": "GUESS: entropy of fusion ~2.5 k_B per atom (as for CdSe) times T_m, "
        "per volume of solid.",
    },
)

# ---------------------------------------------------------------------------------------------
# CsPbBr3 -- perovskite; cubic Pm-3m above ~130 C, orthorhombic Pnma at room temperature (the
# volume per formula unit differs by only ~1-2 %, so the cubic cell is used throughout).
# Sources: cubic lattice parameter from Moller, Nature 1958 ("Crystal structure and
# photoconductivity of caesium plumbohalides"); melting point 567 C from Stoumpos et al.,
# Cryst. Growth Des. 2013 (bulk CsPbBr3 crystal growth).  Everything else is estimated; note
# that Br^- migration is fast (low barrier) while Pb/Cs are slow, and the guessed Arrhenius laws
# describe the slow, sintering-limiting species.
# ---------------------------------------------------------------------------------------------
_CSPBBR3 = _build(
    name="CsPbBr3",
    structure="perovskite",
    a_nm=0.5874,
    c_nm=None,
    T_m=840.0,
    gamma_sv=0.15,
    dS_per_atom_kB=1.2,
    literature={
        "lattice_parameter_nm": "Cubic high-temperature phase; C. K. Moller, Nature, 1958 "
        "(caesium plumbohalides).",
        "melting_point_K": "567 C; C. C. Stoumpos et al., Cryst. Growth Des., 2013.",
    },
    own_guesses={
        "surface_energy_J_m2": "GUESS: ~0.15 J/m^2; lead-halide perovskites are soft, low-"
        "cohesion ionic solids and DFT slab energies of their CsBr-/PbBr2-terminated {100} "
        "facets are of order 0.1-0.2 J/m^2; not a quoted number.",
        "latent_heat_J_m3": "GUESS: entropy of fusion ~1.2 k_B per atom (ionic halides, "
        "~1-1.5 k_B per atom) times T_m, per volume of solid.",
    },
)

MATERIALS: dict[str, Material] = {m.name: m for m in (_PBSE, _CDSE, _CDS, _CSPBBR3)}


def get_material(name: str) -> Material:
    """Return the preset called ``name`` (case-insensitive).

    Raises ``KeyError`` listing the available names (plus a did-you-mean suggestion).
    """
    by_lower = {k.lower(): v for k, v in MATERIALS.items()}
    key = str(name).strip().lower()
    if key in by_lower:
        return by_lower[key]
    close = difflib.get_close_matches(key, list(by_lower), n=3, cutoff=0.5)
    hint = ""
    if close:
        hint = " Did you mean " + " or ".join(repr(by_lower[c].name) for c in close) + "?"
    raise KeyError(
        f"Unknown material {name!r}. Available materials: {', '.join(sorted(MATERIALS))}.{hint}"
    )
