r"""Fusion of two particles with a premelted or molten surface (issue 8, "Effect on fusion").

    python experiments/surface_melting/fusion.py [--quick] [--out DIR]

Two touching 2D discs (two solid grain fields + the liquid field ``eta[-1]`` of
`sintersim.model.LiquidEnergy`) are sintered at a series of bulk driving forces q (q > 0:
solid stable, q < 0: above the melting point), all with the same mobilities (liquid transport
``M_liq`` 20x the surface mobility, 2000x the lattice one; the dry reference, which has no
liquid, with M_liq = 0: see `model`). For each q it measures the neck width
vs time, the degree of fusion (neck / diameter at fixed times), the liquid amount and layer
thickness, whether a liquid bridge spans the neck, the grain boundary's length and the liquid
inside it, the body's shape (circularity, aspect ratio, number of connected bodies) and the mass
drift. Writes DIR/fusion.png (neck vs time; degree of fusion vs temperature; final fields) and
DIR/fusion.md (the table, all numbers computed here). Default DIR: out/ next to this script.

Parameters. The Wang shape of the tests (A = 30, B = 1, kappa_rho / kappa_eta = 10), stretched
by lambda = sqrt(2) so every interface spans >= 2 cells, with a_l = 20 and c_sl = 0.28:
gamma_lv / gamma_sv = 0.73, spreading Delta gamma = 0.78 > 0 (the melt wets the solid), and
gamma_gb / (2 gamma_sl) = 1.21 > 1 (the melt also wets the grain boundary). Not the tests' WET
(a_l = 30 = A): with a_l = A the liquid has no density double well left
(f0(rho, l = 1) = B (1 - rho)^2 + q g(rho)), and a molten pair stops as a capsule instead of
rounding into a drop; the script runs that case too (row "WET molten") to show it. Two control
sets: a_l = 0 ("dry": gamma_lv = gamma_sv, no wetting, the plain Wang solid) and c_sl = 0.4
(gamma_gb < 2 gamma_sl: the boundary should stay).

Temperature axis. One consistent unit map, not a fit: the grid spacing makes the disc radius
R = 3 nm (seed 003's CdSe), the energy density unit makes the model's dry surface energy
gamma_sv = 0.35 J/m^2 (CDSE_SEED003), and then q = L_v (1 - T / T_m*) with CDSE_SEED003's L_v and
T_m* gives T for each q. The model's interface-energy ratios are not CdSe's (Delta gamma / gamma_sv
0.16 here vs 0.77), so the temperatures where layers appear are not seed 003's; the map only puts
the model's q on a kelvin scale.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import contourpy
import jax
import numpy as np
import scipy.ndimage

from sintersim.calibrate import grain_boundary_profile, interface_energies, minimise_profile
from sintersim.grid import Grid
from sintersim.initial import particles
from sintersim.materials import CDSE_SEED003, CELSIUS_ZERO_K
from sintersim.model import LiquidEnergy, Mobility, SinterModel, WangEnergy
from sintersim.observables import cross_sections, neck_size
from sintersim.solver import advance
from sintersim.state import State

jax.config.update("jax_enable_x64", True)

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # experiments/: seedlib
import seedlib  # noqa: E402

LAM2 = 2.0  # lambda^2: kappa stretch so the dry surface spans ~2.3 cells (as tests/test_melting)
SHAPE = dict(A=30.0, B=1.0, kappa_rho=10.0 * LAM2, kappa_eta=1.0 * LAM2)
A_L, C_SL = 20.0, 0.28  # the main set (see the module docstring)
MOBILITY = dict(M_vol=0.01, M_vap=0.01, M_surf=1.0, M_gb=0.1, M_liq=5.0)
T_FILM = 20.0  # time (nearest frame) at which the table compares the boundaries' liquid
R_NM = 3.0  # physical radius the unit map assigns to the disc (seed 003, CdSe R = 3 nm)


@dataclasses.dataclass(frozen=True)
class Case:
    """One run: label, driving force q, and the liquid coefficients."""

    label: str
    q: float
    a_l: float = A_L
    c_sl: float = C_SL
    m_liq: float | None = None  # None: MOBILITY's M_liq

    @property
    def main(self) -> bool:
        """On the temperature axis (the main parameter set)."""
        return self.a_l == A_L and self.c_sl == C_SL


def energy(case: Case) -> LiquidEnergy:
    return LiquidEnergy(**SHAPE, c_sl=case.c_sl, a_l=case.a_l, q=case.q)


def model(case: Case) -> SinterModel:
    """Same mobilities for every case, so only the energy (q, a_l, c_sl) differs; except that the
    dry reference (no liquid: l ~ 1e-6) runs with M_liq = 0. The term M_liq rho phi(l) is
    inactive there anyway, but M_liq enters the scheme's implicit stabiliser
    (``model.mobility_bound``), whose excess damping at dt = 0.01 slows a dry neck by ~8 % at
    t = 50 (measured: neck / D 0.4175 at dt = 0.01 vs 0.4529 at dt = 0.0025 with M_liq = 20, and
    0.468 with M_liq = 0). M_liq = 5: with M_liq = 20 and dt = 0.01 a molten pair's aspect ratio
    wobbled (1.17, 1.39, 1.27, 1.04, 1.06) instead of relaxing (the explicit part of the split
    mobility); M_liq = 5 relaxes it to 1.002, as M_liq = 20 does at dt = 0.0025."""
    mob = dict(MOBILITY)
    m_liq = mob.pop("M_liq")
    if case.m_liq is not None:
        m_liq = case.m_liq
    return energy(case).model(Mobility(**mob), 1.0, M_liq=m_liq)


def initial_pair(grid: Grid, radius: float, gap: float = 0.0) -> tuple[State, list[float]]:
    """Two discs of ``radius`` on axis 0, surfaces ``gap`` apart (0: touching at a cusp).

    The liquid starts at 1e-6 rho: l = 0 is a stationary point, and the wetting instability of
    the dry surface grows a layer from that round-off-size seed in a few time units.
    Returns the state and the two centres' x.
    """
    cx, cy = grid.lengths[0] / 2, grid.lengths[1] / 2
    xs = [cx - radius - gap / 2, cx + radius + gap / 2]
    s = particles(grid, [(x, cy) for x in xs], [radius] * 2, width=1.5, n_fields=3)
    return State(s.rho, s.eta.at[2].set(1e-6 * s.rho)), xs


# Measurements ------------------------------------------------------------------------------


def perimeter(rho: np.ndarray) -> float:
    """Surface length ``int |grad rho| dA`` (= the length of a 0 -> 1 step), central differences
    on the periodic grid (dx = 1)."""
    gx = 0.5 * (np.roll(rho, -1, 0) - np.roll(rho, 1, 0))
    gy = 0.5 * (np.roll(rho, -1, 1) - np.roll(rho, 1, 1))
    return float(np.sum(np.hypot(gx, gy)))


def shape_of(rho: np.ndarray) -> dict:
    """Shape of the body.

    circularity: 4 pi A / P^2 of the rho = 1/2 contour (the longest closed line; A by the
        shoelace formula, P its length): 1 for a circle, pi/4 ~ 0.79 for two touching discs.
    aspect: sqrt(I_max / I_min) of the rho-weighted second moments (1 for a round body).
    bodies: connected regions of rho > 1/2 (periodic wrap ignored: the bodies sit inside the box).
    """
    x, y = np.meshgrid(*(np.arange(n, dtype=float) for n in rho.shape), indexing="ij")
    w = np.clip(rho, 0.0, None)
    m = w.sum()
    mx, my = (w * x).sum() / m, (w * y).sum() / m
    ixx, iyy = (w * (x - mx) ** 2).sum(), (w * (y - my) ** 2).sum()
    ixy = (w * (x - mx) * (y - my)).sum()
    ev = np.linalg.eigvalsh(np.array([[ixx, ixy], [ixy, iyy]]))
    _, n_bodies = scipy.ndimage.label(rho > 0.5)
    lines = contourpy.contour_generator(z=rho).lines(0.5)
    line = max(lines, key=len)
    seg = np.diff(line, axis=0)
    per = float(np.sum(np.hypot(seg[:, 0], seg[:, 1])))
    area = 0.5 * abs(float(np.sum(line[:-1, 0] * line[1:, 1] - line[1:, 0] * line[:-1, 1])))
    return dict(
        circularity=4 * np.pi * area / per**2,
        aspect=float(np.sqrt(ev[1] / ev[0])),
        bodies=int(n_bodies),
    )


def contact_plane(grid: Grid, xs: list[float]) -> tuple[np.ndarray, float]:
    """Cell-centre x coordinates and the contact plane (midway between the centres; the pair is
    symmetric and stays so)."""
    return np.asarray(grid.coordinates()[0]).ravel(), 0.5 * (xs[0] + xs[1])


def neck_width(state: State, grid: Grid, xs: list[float]) -> float:
    """Neck width (2D) or radius (3D, as `neck_size`): `neck_size` while a boundary exists (the
    cross-section at the boundary), else the cross-section at the contact plane. (`neck_size`
    without a boundary takes the narrowest plane between the initial centres, which for a pair
    fused into one round drop is near its ends, not at the neck.)"""
    e = np.asarray(state.eta)
    if np.sum(e[0] * e[1]) > 1e-3:
        return float(neck_size(state, grid, xs[0], xs[1]))
    x, x_mid = contact_plane(grid, xs)
    a = float(np.interp(x_mid, x, np.asarray(cross_sections(state, grid))))
    return a if grid.ndim <= 2 else float(np.sqrt(a / np.pi))


def neck_liquid(state: State, grid: Grid, xs: list[float], half: float = 2.5) -> dict:
    """The liquid at the neck and in the boundary.

    bridge_fraction: ``int rho l / int rho`` over the band ``|x - x_mid| <= half`` (the neck's
        material that is liquid).
    bridge: a liquid path spans the neck on both surfaces: in every column between the
        particle centres, the largest l in the upper and in the lower half of the box is >= 0.5
        (the layers of the two particles have joined over the neck).
    contact_rows: rows in which both grains reach eta >= 0.9 within 4 cells of the contact
        plane (the solid cores meet there; 0 once liquid has pushed the cores apart; the
        threshold leaves out the junction rows where the surface layer mixes in).
    gb_liquid: median over those rows of the largest l within 1.5 cells of the plane: ~0 for a
        dry boundary, ~1 for a liquid film between the grains (NaN without contact rows).
    """
    rho = np.asarray(state.rho)
    e0, e1, liq = (np.asarray(e) for e in state.eta)
    x, x_mid = contact_plane(grid, xs)
    band = np.abs(x - x_mid) <= half
    frac = float(np.sum(rho[band] * liq[band]) / np.sum(rho[band]))
    ny = rho.shape[1]
    between = (x > xs[0]) & (x < xs[1])
    up, dn = liq[between, ny // 2 :].max(axis=1), liq[between, : ny // 2].max(axis=1)
    near = np.abs(x - x_mid) <= 4.0
    left, right = near & (x < x_mid), near & (x > x_mid)
    rows = (e0[left].max(axis=0) >= 0.9) & (e1[right].max(axis=0) >= 0.9)
    film = liq[np.abs(x - x_mid) <= 1.5].max(axis=0)
    return dict(
        bridge_fraction=frac,
        bridge=bool(np.all(up >= 0.5) and np.all(dn >= 0.5)),
        contact_rows=int(rows.sum()),
        gb_liquid=float(np.median(film[rows])) if rows.any() else float("nan"),
    )


def measure(state: State, grid: Grid, xs: list[float], gb_unit: float) -> dict:
    """All per-frame observables of a state (host side, numpy)."""
    rho = np.asarray(state.rho)
    e0, e1, liq = (np.asarray(e) for e in state.eta)
    mass = float(np.sum(rho))
    return dict(
        neck=neck_width(state, grid, xs),
        mass=mass,
        liquid=float(np.sum(rho * liq)) / mass,
        layer=float(np.sum(rho * liq)) / perimeter(rho),
        liquid_max=float(liq.max()),
        solid=float(np.sum(rho * (e0 + e1))) / mass,
        gb_length=float(np.sum(e0 * e1)) / gb_unit,
        **neck_liquid(state, grid, xs),
        **shape_of(rho),
    )


def gb_unit_integral() -> float:
    """``int eta_0 eta_1 dx`` across a flat relaxed grain boundary of this shape: dividing the
    2D integral of eta_0 eta_1 by it gives the boundary's length in cells."""
    p = grain_boundary_profile(WangEnergy(**SHAPE))
    return float(np.trapezoid(p.eta[0] * p.eta[1], p.x))


# Runs --------------------------------------------------------------------------------------


def _stack(s: State) -> np.ndarray:
    return np.concatenate([np.asarray(s.rho)[None], np.asarray(s.eta)])


def run_pair(
    case: Case,
    *,
    shape=(96, 64),
    radius: float = 14.0,
    t_end: float = 400.0,
    n_frames: int = 20,
    dt: float = 0.01,
    gb_unit: float | None = None,
) -> dict:
    """Sinter the pair to ``t_end``; the observables at ``n_frames`` equally spaced times
    (plus t = 0) as arrays, the final state, and every frame's fields (``fields``)."""
    grid = Grid(shape, 1.0)
    s, xs = initial_pair(grid, radius)
    gb_unit = gb_unit_integral() if gb_unit is None else gb_unit
    steps = int(round(t_end / n_frames / dt))
    go = jax.jit(lambda st: advance(model(case), grid, st, steps, dt))
    frames, fields = [measure(s, grid, xs, gb_unit)], [_stack(s)]
    for _ in range(n_frames):
        s = go(s)
        frames.append(measure(s, grid, xs, gb_unit))
        fields.append(_stack(s))
    out = {k: np.array([f[k] for f in frames]) for k in frames[0]}
    out["t"] = np.arange(n_frames + 1) * steps * dt
    out["state"] = s
    out["fields"] = np.stack(fields)  # (frame, rho / eta_0 / eta_1 / l, x, y)
    out["diameter"] = 2.0 * radius
    out["mass_drift"] = float(np.max(np.abs(out["mass"] / out["mass"][0] - 1.0)))
    return out


def boundary_film_1d(c_sl: float, q: float, n: int = 512, h: float = 0.5) -> dict:
    """Is a liquid film in a grain boundary the equilibrium at driving force q? (1D, no vapour.)

    A periodic bicrystal (rho = 1, grain 0 in the middle half, grain 1 outside: two boundaries)
    is relaxed twice at fixed q, all fields free (L-BFGS then Newton-Krylov,
    `sintersim.calibrate.minimise_profile`): from the dry boundary, and from a liquid film seeded
    at each boundary. Per boundary: ``dry`` and ``film`` energies (the dry one is gamma_gb; the film
    branch tends to 2 gamma_sl + q x thickness), the film's liquid ``int l dx / 2`` (0 if the
    seed drained back to the dry boundary), and whether the film is the lower minimum.
    """
    x = h * np.arange(n)
    size, w = n * h, 2.0
    g0 = 0.5 * (np.tanh((x - size / 4) / w) - np.tanh((x - 3 * size / 4) / w))
    seed = 0.9 * sum(np.exp(-(((x - c) / (3 * w)) ** 2)) for c in (size / 4, 3 * size / 4))
    en = energy(Case("", q, c_sl=c_sl))
    free = np.ones((4, n), dtype=bool)
    out = {}
    for name, film in (("dry", 0.0 * seed), ("film", seed)):
        fields = np.stack([np.ones(n), g0 * (1 - film), (1 - g0) * (1 - film), film])
        at_q = dataclasses.replace(en, q=q)
        f, u = minimise_profile(at_q, h, fields, free, periodic=True, gtol=1e-9, newton=True)
        out[name], out[name + "_liquid"] = f / 2, float(np.sum(u[3]) * h / 2)
    out["film_wins"] = out["film"] < out["dry"] - 1e-9 and out["film_liquid"] > 0.5
    return out


def unit_map(radius: float) -> dict:
    """The q -> T map (see the module docstring): dx = R_NM / radius, energy density unit
    e0 = gamma_sv(CdSe) / (gamma_sv(model) dx), L = L_v / e0, T = T_m* (1 - q / L)."""
    g = interface_energies(energy(Case("", 0.0)))
    dx = R_NM * 1e-9 / radius
    e0 = CDSE_SEED003.gamma_sv_J_m2 / (g.sv * dx)
    return dict(
        dx_nm=dx * 1e9,
        e0=e0,
        L=CDSE_SEED003.latent_heat_J_m3 / e0,
        Tm=CDSE_SEED003.melting_point_K,
        gammas=g,
    )


def temperature_C(q: float, umap: dict) -> float:
    return umap["Tm"] * (1.0 - q / umap["L"]) - CELSIUS_ZERO_K


def cases(quick: bool) -> list[Case]:
    """The main q series (no layer -> thin -> thick -> molten) and the controls."""
    qs = [4.0, 0.3, 0.1, 0.09, -0.3]
    if not quick:
        qs = [4.0, 2.0, 1.0, 0.5, 0.3, 0.2, 0.1, 0.09, -0.1, -0.3]
    out = [Case(f"q = {q:g}", q) for q in qs]
    out.append(Case("dry (a_l = 0)", 0.3, a_l=0.0, m_liq=0.0))
    out.append(Case("c_sl = 0.4 (gb < 2 sl)", 0.09, c_sl=0.4))
    out.append(Case("WET molten (a_l = A)", -0.1, a_l=30.0, c_sl=0.3))
    return out


def classify(r: dict) -> str:
    """Layer state at the end: molten (solid < 1 %), none / thin / thick by the layer thickness
    (liquid per surface length, cells) against the dry surface width (~2.3 cells)."""
    if r["solid"][-1] < 0.01:
        return "molten"
    d = r["layer"][-1]
    return "none" if d < 0.3 else ("thin" if d < 2.0 else "thick")


def boundary_fate(r: dict) -> str:
    """What happened to the grain boundary while solid was left (> 5 % of the material):
    dissolved (from some frame on, to the last such frame, the liquid fills the boundary,
    ``gb_liquid > 0.5``, or has pushed the cores apart), kept, or melted with the grains.
    Lengths from int eta_0 eta_1 (cells): the run's largest -> the final value."""
    solid, rows, film = r["solid"], r["contact_rows"], r["gb_liquid"]
    gmax, gend = float(np.max(r["gb_length"])), float(r["gb_length"][-1])
    frames = np.flatnonzero(solid > 0.05)
    frames = frames[frames > 0]
    if frames.size == 0:
        return "melted with the grains"
    wet = (rows[frames] == 0) | (np.nan_to_num(film[frames]) > 0.5)
    if not wet[-1]:
        k = frames[-1]
        out = f"kept (film l = {film[k]:.2f} at t = {r['t'][k]:g}, length {gmax:.1f} -> {gend:.1f})"
        return out + (", then melted with the grains" if solid[-1] < 0.01 else "")
    # the first frame from which the boundary stays wet
    first = 0 if wet.all() else len(wet) - int(np.argmin(wet[::-1]))
    k = frames[first]
    how = "cores apart" if rows[k] == 0 else f"film l = {film[k]:.2f}"
    out = f"dissolved by t = {r['t'][k]:g} ({how}, solid {solid[k]:.2f})"
    out += f", length {gmax:.1f} -> {gend:.1f}"
    return out + (", then the grains melted" if solid[-1] < 0.01 else "")


def _row(cells) -> str:
    return "| " + " | ".join(cells) + " |"


def _markdown(head: list[str], rows: list[list[str]]) -> str:
    return "\n".join([_row(head), "|" + "---|" * len(head), *(_row(r) for r in rows)])


def table(results: list[tuple[Case, dict]], umap: dict, t_fix: list[float]) -> str:
    return _markdown(*table_cells(results, umap, t_fix))


def table_cells(results, umap: dict, t_fix: list[float]) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the fusion table, cells as printed."""
    head = ["case", "q", "T (C)", "layer", "layer (cells)", "max l", "liquid fraction"]
    head += [f"neck/D t = {t:g}" for t in t_fix]
    head += ["bridge", "neck liquid fraction", f"boundary film l at t = {T_FILM:g}"]
    head += ["grain boundary", "circularity", "aspect"]
    head += ["bodies", "mass drift"]
    lines = []
    for c, r in results:
        nd = r["neck"] / r["diameter"]
        T = f"{temperature_C(c.q, umap):.0f}" if c.main else "-"
        row = [c.label, f"{c.q:g}", T, classify(r), f"{r['layer'][-1]:.2f}"]
        row += [f"{r['liquid_max'][-1]:.3f}", f"{r['liquid'][-1]:.3f}"]
        row += [f"{np.interp(t, r['t'], nd):.3f}" for t in t_fix]
        row += ["yes" if r["bridge"][-1] else "no", f"{r['bridge_fraction'][-1]:.3f}"]
        k = int(np.argmin(np.abs(r["t"] - T_FILM)))
        film = "cores apart" if r["contact_rows"][k] == 0 else f"{r['gb_liquid'][k]:.2f}"
        row += [film, boundary_fate(r), f"{r['circularity'][-1]:.3f}", f"{r['aspect'][-1]:.3f}"]
        row += [f"{r['bodies'][-1]}", f"{r['mass_drift']:.1e}"]
        lines.append(row)
    return head, lines


def film_table(films: dict, gb: float, sl: dict) -> str:
    return _markdown(*film_cells(films, gb, sl))


def film_cells(films: dict, gb: float, sl: dict) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the 1D boundary-film table, cells as printed."""
    head = ["c_sl", "gamma_gb / (2 gamma_sl)", "q", "dry boundary energy", "film branch energy"]
    head += ["film liquid (cells)", "equilibrium"]
    lines = []
    for (c, q), f in films.items():
        eq = "liquid film" if f["film_wins"] else "dry boundary"
        row = [f"{c:g}", f"{gb / (2 * sl[c]):.3f}", f"{q:g}", f"{f['dry']:.4f}"]
        row += [f"{f['film']:.4f}", f"{f['film_liquid']:.2f}", eq]
        lines.append(row)
    return head, lines


def _rgb(fields: np.ndarray) -> np.ndarray:
    """Grain 0 red, liquid green, grain 1 blue, dimmed by rho; (y, x, 3) for imshow."""
    rho, e0, e1, liq = (np.clip(f, 0.0, 1.0) for f in fields)
    img = np.transpose(np.stack([e0, liq, e1], -1) * rho[..., None], (1, 0, 2))
    return img[8:-8, 12:-12]  # crop the empty vapour margin


def plot(results, umap, t_fix, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    main = [(c, r) for c, r in results if c.main]
    other = {c.label: (c, r) for c, r in results if not c.main}
    fig = plt.figure(figsize=(16, 8.2))
    gs = fig.add_gridspec(2, 6, height_ratios=[1.7, 1])
    ax = fig.add_subplot(gs[0, :3])
    cmap = plt.get_cmap("coolwarm")
    for k, (c, r) in enumerate(main):
        lab = f"q = {c.q:g} ({temperature_C(c.q, umap):.0f} C, {classify(r)})"
        ax.plot(r["t"], r["neck"] / r["diameter"], color=cmap(k / max(1, len(main) - 1)), label=lab)
    styles = {"dry (a_l = 0)": "k--", "c_sl = 0.4 (gb < 2 sl)": "g:", "WET molten (a_l = A)": "m:"}
    for label, (c, r) in other.items():
        ax.plot(
            r["t"],
            r["neck"] / r["diameter"],
            styles.get(label, "k:"),
            label=f"{label}, q = {c.q:g}",
        )
    ax.axhline(np.sqrt(2.0), color="grey", lw=0.6)
    ax.text(0, np.sqrt(2.0), " one round drop of the same area", fontsize=7, va="bottom")
    ax.set_xlabel("time (model units)")
    ax.set_ylabel("neck width / particle diameter")
    m = MOBILITY
    ax.set_title(
        f"neck growth, same mobilities (M_liq = {m['M_liq'] / m['M_surf']:g} M_surf = "
        f"{m['M_liq'] / m['M_vol']:g} M_vol)",
        fontsize=10,
    )
    ax.legend(fontsize=7, ncol=2)

    ax = fig.add_subplot(gs[0, 3:])
    T = np.array([temperature_C(c.q, umap) for c, _ in main])
    for t in t_fix:
        nd = [np.interp(t, r["t"], r["neck"] / r["diameter"]) for _, r in main]
        ax.plot(T, nd, "o-", label=f"t = {t:g}")
    if "dry (a_l = 0)" in other:
        r = other["dry (a_l = 0)"][1]
        ax.axhline(r["neck"][-1] / r["diameter"], color="k", ls="--", lw=0.8)
        ax.text(T.min(), r["neck"][-1] / r["diameter"], f" dry, t = {r['t'][-1]:g}", fontsize=7)
    ax.axvline(umap["Tm"] - CELSIUS_ZERO_K, color="grey", lw=0.8)
    ax.text(umap["Tm"] - CELSIUS_ZERO_K, ax.get_ylim()[0], " T_m*", fontsize=7, va="bottom")
    ax.set_xlabel("T (C): unit map R = 3 nm, gamma_sv = 0.35 J/m^2, CdSe L_v and T_m*", fontsize=9)
    ax.set_ylabel("degree of fusion: neck / diameter")
    sec = ax.secondary_xaxis(
        "top",
        functions=(
            lambda t: umap["L"] * (1 - (t + CELSIUS_ZERO_K) / umap["Tm"]),
            lambda q: umap["Tm"] * (1 - q / umap["L"]) - CELSIUS_ZERO_K,
        ),
    )
    sec.set_xlabel("q (model units)", fontsize=9)
    ax.legend(fontsize=8)

    # Snapshots: dry-ish, thick layer with its boundary, the boundary dissolving (gamma_gb >
    # 2 gamma_sl) next to the control that keeps it (same q, same time), the drop, the capsule.
    by_q = {c.q: r for c, r in main}
    panels = [(f"q = {main[0][0].q:g}", main[0][1], -1)]
    layered = [(c, r) for c, r in main if classify(r) in ("thick", "thin")]
    if layered:  # the thickest layer on a solid core
        c, r = layered[-1]
        panels.append((f"q = {c.q:g} ({classify(r)} layer)", r, -1))
    if 0.09 in by_q and "c_sl = 0.4 (gb < 2 sl)" in other:
        r = by_q[0.09]
        k = int(np.argmin(np.abs(r["t"] - T_FILM)))
        panels.append(("q = 0.09, c_sl = 0.28", r, k))
        panels.append(("q = 0.09, c_sl = 0.4", other["c_sl = 0.4 (gb < 2 sl)"][1], k))
    panels.append((f"q = {main[-1][0].q:g} (molten)", main[-1][1], -1))
    if "WET molten (a_l = A)" in other:
        panels.append(("WET molten (a_l = A)", other["WET molten (a_l = A)"][1], -1))
    for j, (title, r, k) in enumerate(panels[:6]):
        a = fig.add_subplot(gs[1, j])
        a.imshow(_rgb(r["fields"][k]), origin="lower")
        a.set_title(f"{title}\nt = {r['t'][k]:g}", fontsize=8)
        a.set_xticks([])
        a.set_yticks([])
    fig.text(
        0.5, 0.01, "fields: grain 0 red, grain 1 blue, liquid green (dimmed by rho)", ha="center"
    )
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> dict:
    """Run the cases, write fusion.md and fusion.png; returns the results (for
    experiments/seed003_cdse_melting)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer q, shorter runs (< ~3 min)")
    ap.add_argument("--out", type=Path, default=HERE / "out")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    t_end = 300.0 if args.quick else 400.0
    t_fix = [25.0, 300.0] if args.quick else [25.0, 100.0, 400.0]
    radius = 14.0
    t0 = time.time()
    umap = unit_map(radius)
    g = umap["gammas"]
    gb = grain_boundary_profile(WangEnergy(**SHAPE)).gamma
    sl = {C_SL: g.sl, 0.4: interface_energies(energy(Case("", 0.0, c_sl=0.4))).sl}
    gb_unit = gb_unit_integral()
    print(
        f"main set: a_l = {A_L:g}, c_sl = {C_SL:g}; gamma_sv = {g.sv:.3f}, gamma_lv = {g.lv:.3f}, "
        f"gamma_sl = {g.sl:.3f}, Delta gamma = {g.spreading:.3f}, gamma_gb = {gb:.3f}; unit map: "
        f"dx = {umap['dx_nm']:.4f} nm, e0 = {umap['e0']:.3e} J/m^3, L = {umap['L']:.3f}",
        flush=True,
    )
    results = []
    for c in cases(args.quick):
        tc = time.time()
        r = run_pair(c, radius=radius, t_end=t_end, gb_unit=gb_unit)
        results.append((c, r))
        print(
            f"{c.label:>24}: neck/D {r['neck'][0] / r['diameter']:.3f} -> "
            f"{r['neck'][-1] / r['diameter']:.3f}, layer {classify(r)} "
            f"({r['layer'][-1]:.2f}), bridge {r['bridge'][-1]}, boundary {boundary_fate(r)}, "
            f"aspect {r['aspect'][-1]:.3f}, mass drift {r['mass_drift']:.1e} "
            f"({time.time() - tc:.1f} s)",
            flush=True,
        )
    film_q = [0.02, 0.05] if args.quick else [0.01, 0.02, 0.03, 0.05, 0.1]
    films = {(c, q): boundary_film_1d(c, q) for c in (C_SL, 0.4) for q in film_q}
    tab, ftab = table(results, umap, t_fix), film_table(films, gb, sl)
    wall = time.time() - t0
    text = f"""# Fusion of a particle pair with a premelted / molten surface

Made by `python experiments/surface_melting/fusion.py{" --quick" if args.quick else ""}` \
(wall time {wall:.0f} s); every number below is computed by that run.

Setup: grid 96 x 64, dx = 1, two discs of radius {radius:g} cells (diameter D = {2 * radius:g}) \
touching at t = 0, liquid seeded at 1e-6 rho; dt = 0.01 to t = {t_end:g}. Mobilities \
{MOBILITY}, L = 1, the same for every case except the dry reference (M_liq = 0: it has \
no liquid, and M_liq would only add stabiliser damping, see `model`). Energy A = 30, B = 1, \
kappa_rho = 20, kappa_eta = 2; main set a_l = {A_L:g}, c_sl = {C_SL:g}: gamma_sv = {g.sv:.3f}, \
gamma_lv = {g.lv:.3f}, gamma_sl = {g.sl:.3f}, Delta gamma = {g.spreading:.3f} (wets), \
gamma_gb = {gb:.3f}, gamma_gb / (2 gamma_sl) = {gb / (2 * g.sl):.3f} (c_sl = 0.4: \
{gb / (2 * sl[0.4]):.3f}).

Temperature: dx = {umap["dx_nm"]:.4f} nm (R = 3 nm), energy density unit {umap["e0"]:.3e} J/m^3 \
(gamma_sv = 0.35 J/m^2), so CdSe's L_v is {umap["L"]:.3f} model units and \
T = {umap["Tm"]:.1f} K x (1 - q / {umap["L"]:.3f}) (CDSE_SEED003's L_v and T_m*). A unit map, \
not a fit: the model's Delta gamma / gamma_sv = {g.spreading / g.sv:.2f} is not CdSe's 0.77, so \
where layers appear on this T axis is not seed 003's. T only for the main set.

Columns: layer = final state, none / thin / thick by the layer thickness \
int rho l / int |grad rho| (cells), molten when < 1 % of the material is solid; max l = largest \
liquid field anywhere; liquid fraction = int rho l / int rho; neck/D = neck width (cross-section \
at the boundary, or at the contact plane once no boundary is left) over the initial diameter \
(one round drop of the same area: sqrt 2 = 1.414); bridge = liquid >= 0.5 on both surfaces over \
every column between the centres; neck liquid fraction = int rho l / int rho in the 5-cell band \
at the contact plane; boundary film l = median liquid at the contact plane over the rows where \
both solid cores reach eta >= 0.9 within 4 cells (~0: dry boundary, ~1: liquid film); grain \
boundary = dissolved when, with > 5 % solid left, the film l > 0.5 or the liquid pushed the \
cores apart, to the last such frame; boundary length = int eta_0 eta_1 / (its flat-boundary \
value), cells; circularity = 4 pi A / P^2 of the rho = 1/2 contour; aspect = from rho's \
second moments; bodies = connected rho > 1/2 regions; mass drift = max |M(t) / M(0) - 1|.

{tab}

Grain boundary with a liquid film, 1D (a periodic bicrystal at rho = 1, no vapour, relaxed from \
the dry boundary and from a seeded film; energies per boundary, model units):

{ftab}
"""
    (args.out / "fusion.md").write_text(text)
    seedlib.write_summary(
        args.out / "fusion.md",
        setting="quick" if args.quick else "default",
        tables={
            "fusion": seedlib.table_of(*table_cells(results, umap, t_fix)),
            "boundary film 1D": seedlib.table_of(*film_cells(films, gb, sl)),
        },
        notes=[
            f"gamma_sv = {g.sv:.3f}, gamma_lv = {g.lv:.3f}, gamma_sl = {g.sl:.3f}, "
            f"Delta gamma = {g.spreading:.3f}, gamma_gb = {gb:.3f}, gamma_gb / (2 gamma_sl) = "
            f"{gb / (2 * g.sl):.3f} (c_sl = 0.4: {gb / (2 * sl[0.4]):.3f})",
            f"unit map: dx = {umap['dx_nm']:.4f} nm, e0 = {umap['e0']:.3e} J/m^3, "
            f"L = {umap['L']:.3f}, T_m* = {umap['Tm']:.1f} K",
        ],
    )
    plot(results, umap, t_fix, args.out / "fusion.png")
    print(tab)
    print(ftab)
    print(
        f"wrote {args.out / 'fusion.md'} and {args.out / 'fusion.png'} ({time.time() - t0:.0f} s)"
    )
    return {"results": results, "umap": umap, "t_fix": t_fix, "t_end": t_end, "seconds": wall}


if __name__ == "__main__":
    main()
