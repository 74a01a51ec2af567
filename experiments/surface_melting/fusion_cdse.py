r"""Fusion of two CdSe nanocrystals vs temperature with the calibrated liquid (issue 8, seed 003).

    python experiments/surface_melting/fusion_cdse.py [--radius-nm 1.0] [--temps-C 60 90 ...]
                                                       [--quick] [--out DIR]

`fusion.py` puts its model's q on a kelvin scale by a unit map only. Here the pair runs with
the calibrated CdSe liquid `CDSE_SEED003_PF` (the parameters of the seed-003 table,
`phase_field_table.py`), so the temperature axis is the one the table is fitted on:

* energy: `physical_liquid(CDSE_SEED003_PF, T)`, the A = 30 shape, length unit
  ``l0 = xi_m / xi_int`` (0.23 nm), ``q = L_v (1 - T / T_m*) / E0``;
* grid: cells of ``l0 / lam`` (``lam = 2``: kappa_rho, kappa_eta x lam^2, so the dry surface,
  1.6 l0 wide, spans 3.2 cells; f0, q and the energy unit are unchanged);
* 3D: two spheres of radius R touching at a point on the x axis (R = 1 nm by default: the
  "small CdSe" of seed 003, whose fusion jumps from isolated particles to nearly coalesced
  dimers between 120 and 140 C, which the paper ties to the whole-particle melting of
  R = 1 nm above ~90 C); liquid seeded at 1e-6 rho, it grows by the wetting instability above
  the onset temperature (below it the surface stays dry);
* kinetics in model time units with `fusion.py`'s mobilities (M_liq = 5 M_surf): the time axis
  is not calibrated (seed 003 gives no rates), only its ordering across temperatures means
  something.

Measured per temperature and frame: neck / D (the 3D neck radius over the particle radius: the
cross-section at the grain boundary, or at the contact plane once no boundary is left; one
round drop of the pair's volume gives 2^(1/3) = 1.26), the solid, liquid and vapour shares of
the material (``int rho (eta_0 + eta_1)``, ``int rho l``, the rest: the box's equilibrium
vapour and the diffuse surface, where eta_0 + eta_1 + l < 1), the aspect ratio from rho's
second moments, and the mass drift. The
static reference: the equilibrium melting temperature (`sphere_melting_point`) of one particle of
radius R and of one sphere of the pair's volume (2^(1/3) R), which a fully fused pair must pass
to melt. Writes DIR/fusion_cdse.md and DIR/fusion_cdse.png (default DIR: out/ beside this script).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import jax
import numpy as np

from sintersim.calibrate import (
    interface_energies,
    melting_q_bracket,
    physical_liquid,
    sphere_melting_point,
    sphere_start_radius,
)
from sintersim.grid import Grid
from sintersim.initial import particles
from sintersim.materials import CDSE_SEED003_PF, CELSIUS_ZERO_K
from sintersim.model import LiquidEnergy, Mobility
from sintersim.solver import advance
from sintersim.state import State

jax.config.update("jax_enable_x64", True)

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # experiments/: seedlib
import seedlib  # noqa: E402

# fusion.py's mobilities and neck measure (same module name as the seed experiment and tests)
fusion = seedlib.load_script(HERE / "fusion.py", "surface_melting_fusion")
MOBILITY = fusion.MOBILITY
DT = 0.01
TIMES = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 40.0)
TEMPS_C = (60.0, 90.0, 100.0, 110.0, 120.0, 130.0, 140.0, 160.0)
SEED_BAND_C = (120.0, 140.0)  # seed 003: isolated -> nearly coalesced small CdSe dimers


def stretched(energy: LiquidEnergy, lam: float, q: float) -> LiquidEnergy:
    """``energy`` on cells of ``l0 / lam``: gradient coefficients x lam^2 (every width x lam,
    every interface energy per cell area x lam, so ratios and q are unchanged)."""
    return LiquidEnergy(
        A=energy.A, B=energy.B, kappa_rho=energy.kappa_rho * lam**2,
        kappa_eta=energy.kappa_eta * lam**2, c_sl=energy.c_sl, a_l=energy.a_l, q=q,
    )  # fmt: skip


def pair(radius: float) -> tuple[Grid, State, list[float]]:
    """Two touching spheres of ``radius`` cells on the x axis, 6 cells of vapour around them
    (a small box: the vapour takes up a share of the material that grows with its volume);
    the liquid at 1e-6 rho. Returns the grid, the state and the centres' x."""
    n, m = int(np.ceil(4 * radius + 12)), int(np.ceil(2 * radius + 12))
    n, m = n + n % 2, m + m % 2
    grid = Grid((n, m, m), 1.0)
    cx, cy = n / 2, m / 2
    xs = [cx - radius, cx + radius]
    s = particles(grid, [(x, cy, cy) for x in xs], [radius] * 2, width=1.5, n_fields=3)
    return grid, State(s.rho, s.eta.at[2].set(1e-6 * s.rho)), xs


def measure(state: State, grid: Grid, xs: list[float], radius: float) -> dict:
    """Per-frame observables (host side)."""
    rho = np.asarray(state.rho)
    e0, e1, liq = (np.asarray(e) for e in state.eta)
    mass = float(rho.sum())
    neck = fusion.neck_width(state, grid, xs)
    w = np.clip(rho, 0.0, None) * (rho > 0.5)  # the body, not the vapour
    coords = np.meshgrid(*(np.arange(k, dtype=float) for k in rho.shape), indexing="ij")
    c = [np.sum(w * x) / w.sum() for x in coords]
    cov = np.array([[np.sum(w * (xi - ci) * (xj - cj)) for xj, cj in zip(coords, c, strict=True)]
                    for xi, ci in zip(coords, c, strict=True)])  # fmt: skip
    ev = np.linalg.eigvalsh(cov)
    solid = float(np.sum(rho * (e0 + e1))) / mass
    liquid = float(np.sum(rho * np.clip(liq, 0.0, None))) / mass
    return dict(
        neck=neck / radius, solid=solid, liquid=liquid, vapour=1.0 - solid - liquid,
        aspect=float(np.sqrt(ev[-1] / ev[0])), mass=mass,
    )  # fmt: skip


def run(T_C: float, radius_nm: float, lam: float, times=TIMES) -> dict:
    """The pair at ``T_C``; frames at ``times`` (model units)."""
    pl = physical_liquid(CDSE_SEED003_PF, T_C + CELSIUS_ZERO_K)
    cell_nm = pl.scales.length_m * 1e9 / lam
    radius = radius_nm / cell_nm
    grid, s, xs = pair(radius)
    mob = dict(MOBILITY)
    m_liq = mob.pop("M_liq")
    model = stretched(pl.energy, lam, float(pl.energy.q)).model(Mobility(**mob), 1.0, M_liq=m_liq)
    go = jax.jit(lambda st, k: advance(model, grid, st, k, DT))
    frames, t_now = [measure(s, grid, xs, radius)], 0.0
    for t in times:
        s = go(s, int(round((t - t_now) / DT)))
        t_now = t
        frames.append(measure(s, grid, xs, radius))
    out = {k: np.array([f[k] for f in frames]) for k in frames[0]}
    out.update(
        t=np.array([0.0, *times]), T_C=T_C, q=float(pl.energy.q), cell_nm=cell_nm,
        radius=radius, shape=grid.shape, fields=np.asarray(s.rho), eta=np.asarray(s.eta),
        mass_drift=float(np.max(np.abs(out["mass"] / out["mass"][0] - 1.0))),
    )  # fmt: skip
    return out


def static_melting_C(radius_nm: float) -> float:
    """Equilibrium melting temperature (C) of one sphere of ``radius_nm`` (`sphere_melting_point`
    on the preset's own shape and l0, radius corrected as in phase_field_table.py)."""
    pl = physical_liquid(CDSE_SEED003_PF, 400.0)
    g = interface_energies(pl.energy)
    r0 = sphere_start_radius(pl.energy, radius_nm * 1e-9 / pl.scales.length_m)
    qm = sphere_melting_point(pl.energy, r0, melting_q_bracket(g, r0), xtol=1e-4).q_melt
    return float(pl.temperature_K(qm)) - CELSIUS_ZERO_K


def state_of(r: dict) -> str:
    """molten (< 1 % solid at the end), fused (no grain boundary left: neck at the contact
    plane, 1 body with a solid core) or a dimer with a neck."""
    if r["solid"][-1] < 0.01:
        return "molten"
    e0, e1 = r["eta"][0], r["eta"][1]
    return "dimer (boundary kept)" if np.sum(e0 * e1) > 1e-3 else "one grain (boundary gone)"


def transition(results: list[dict]) -> tuple[float, float] | None:
    """(hottest T that keeps a solid core, coldest T that ends molten), if both exist and
    the first is below the second."""
    solid = [r["T_C"] for r in results if r["solid"][-1] >= 0.01]
    molten = [r["T_C"] for r in results if r["solid"][-1] < 0.01]
    if not solid or not molten:
        return None
    lo, hi = max(solid), min(molten)
    return (lo, hi) if lo < hi else None


def table(results: list[dict], times) -> str:
    head, rows = table_cells(results, times)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def table_cells(results: list[dict], times) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the table, cells as printed."""
    head = ["T (C)", "q", "state at t_end"] + [f"neck/D t = {t:g}" for t in times]
    picks = sorted({times[2], times[len(times) // 2], times[-1]})
    head += [f"solid t = {t:g}" for t in picks]
    head += ["liquid t_end", "vapour t_end", "aspect t_end", "mass drift"]
    lines = []
    for r in results:
        k = {t: i + 1 for i, t in enumerate(times)}
        row = [f"{r['T_C']:g}", f"{r['q']:.3f}", state_of(r)]
        row += [f"{r['neck'][k[t]]:.3f}" for t in times]
        row += [f"{r['solid'][k[t]]:.3f}" for t in picks]
        row += [f"{r['liquid'][-1]:.3f}", f"{r['vapour'][-1]:.3f}", f"{r['aspect'][-1]:.3f}"]
        row += [f"{r['mass_drift']:.1e}"]
        lines.append(row)
    return head, lines


def plot(results, melt_C: dict, radius_nm: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axs = plt.subplots(1, 3, figsize=(16, 4.8))
    cmap = plt.get_cmap("coolwarm")
    n = max(1, len(results) - 1)
    for k, r in enumerate(results):
        axs[0].plot(r["t"][1:], r["neck"][1:], "o-", ms=3, color=cmap(k / n),
                    label=f"{r['T_C']:g} C ({state_of(r)})")  # fmt: skip
    axs[0].axhline(2 ** (1 / 3), color="grey", lw=0.6)
    axs[0].text(2.0, 2 ** (1 / 3), "one round drop of the pair's volume", fontsize=7, va="top")
    axs[0].set_xscale("log")
    axs[0].set_xlabel("time (model units: mobilities of fusion.py)")
    axs[0].set_ylabel("degree of fusion: neck / particle diameter")
    axs[0].set_title(f"CdSe pair, R = {radius_nm:g} nm, 3D, CDSE_SEED003_PF", fontsize=10)
    axs[0].legend(fontsize=7)
    T = np.array([r["T_C"] for r in results])
    for j, (name, ax, ylab) in enumerate(
        (("neck", axs[1], "neck / D"), ("solid", axs[2], "solid share of the material"))
    ):
        for i in (3, 5, len(results[0]["t"]) - 1):
            ax.plot(T, [r[name][i] for r in results], "o-", label=f"t = {results[0]['t'][i]:g}")
        ax.axvspan(*SEED_BAND_C, color="orange", alpha=0.2, label="seed: 120 -> 140 C jump")
        for lab, v in melt_C.items():
            ax.axvline(v, color="k", ls="--" if "pair" in lab else ":", lw=0.9)
            ax.text(v, ax.get_ylim()[1], f" {lab}", fontsize=7, va="top", rotation=90)
        ax.set_xlabel("T (C), calibrated (CDSE_SEED003_PF)")
        ax.set_ylabel(ylab)
        ax.legend(fontsize=7, loc="lower left" if j else "upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--radius-nm", type=float, default=1.0, help="particle radius, nm (> 0)")
    ap.add_argument("--temps-C", type=float, nargs="+", default=list(TEMPS_C),
                    help="temperatures, C (above -273.15)")  # fmt: skip
    ap.add_argument("--lam", type=float, default=2.0, help="cells per length unit l0 (>= 1)")
    ap.add_argument("--t-end", type=float, default=TIMES[-1],
                    help=f"last frame, model time (> {TIMES[0]:g})")  # fmt: skip
    ap.add_argument("--quick", action="store_true", help="90 and 160 C to t = 10 (~1 min)")
    ap.add_argument("--out", type=Path, default=HERE / "out")
    args = ap.parse_args(argv)
    if not args.radius_nm > 0:
        ap.error(f"--radius-nm must be > 0, got {args.radius_nm}")
    if not args.lam >= 1:
        ap.error(f"--lam must be >= 1 (cells per l0), got {args.lam}")
    if min(args.temps_C) <= -CELSIUS_ZERO_K:
        ap.error(f"--temps-C must be above -273.15, got {min(args.temps_C)}")
    if not args.t_end > TIMES[0]:
        ap.error(f"--t-end must be > {TIMES[0]:g}, got {args.t_end}")
    temps = [90.0, 160.0] if args.quick else sorted(args.temps_C)
    t_end = 10.0 if args.quick else args.t_end
    times = tuple(t for t in TIMES if t < t_end) + (t_end,)
    t0 = time.time()
    melt_C = {
        f"R = {args.radius_nm:g} nm melts": static_melting_C(args.radius_nm),
        "pair volume (2^1/3 R) melts": static_melting_C(args.radius_nm * 2 ** (1 / 3)),
    }
    print("static melting points: " + ", ".join(f"{k} {v:.1f} C" for k, v in melt_C.items()),
          flush=True)  # fmt: skip
    results = []
    for T in temps:
        tc = time.time()
        r = run(T, args.radius_nm, args.lam, times)
        results.append(r)
        print(f"{T:6.1f} C (q = {r['q']:.3f}): neck/D " + " ".join(f"{v:.2f}" for v in r["neck"])
              + f"; solid {r['solid'][-1]:.3f}; {state_of(r)}; mass drift {r['mass_drift']:.1e}"
              + f" ({time.time() - tc:.0f} s)", flush=True)  # fmt: skip
    tr = transition(results)
    r0 = results[0]
    tab = table(results, times)
    wall = time.time() - t0
    cmd = "python experiments/surface_melting/fusion_cdse.py" + (" --quick" if args.quick else "")
    if not args.quick:
        cmd += f" --radius-nm {args.radius_nm:g} --temps-C " + " ".join(f"{t:g}" for t in temps)
        cmd += f" --t-end {t_end:g}"
    lo, hi = SEED_BAND_C
    verdict = (
        f"The pair keeps a solid core up to {tr[0]:g} C and ends molten (one drop) from "
        f"{tr[1]:g} C on: its melting transition lies between them (seed 003: small CdSe "
        f"jumps from isolated particles to nearly coalesced dimers between {lo:g} and {hi:g} C)."
        if tr
        else "No melting transition inside the temperatures run."
    )
    k10 = min(range(len(times)), key=lambda i: abs(times[i] - 10.0))
    first, last = results[0], results[-1]
    necks = (
        f"neck/D at t = {times[k10]:g} rises with T, from {first['neck'][k10 + 1]:.3f} at "
        f"{first['T_C']:g} C to {last['neck'][k10 + 1]:.3f} at {last['T_C']:g} C (frame 0 is "
        f"t = 0); the liquid share at the end is {first['liquid'][-1]:.3f} at {first['T_C']:g} C "
        "(the seed's Kofman model "
        "gives R = 1 nm no surface-melting minimum, it melts whole above ~90 C)."
    )
    text = f"""# Fusion of a CdSe pair vs temperature, calibrated liquid (CDSE_SEED003_PF)

Made by `{cmd}` (wall time {wall:.0f} s); every number is computed by that run.

Setup: 3D, two spheres of R = {args.radius_nm:g} nm ({r0["radius"]:.2f} cells of \
{r0["cell_nm"]:.4f} nm = l0 / {args.lam:g}) touching at t = 0 on a {r0["shape"]} grid, liquid \
seeded at 1e-6 rho; dt = {DT:g} to t = {times[-1]:g} (model time; mobilities {MOBILITY}, \
L = 1). Energy: `physical_liquid(CDSE_SEED003_PF, T)` with gradient coefficients x \
{args.lam:g}^2 (the cells are l0 / {args.lam:g}).

Static equilibrium melting temperatures of the same model (`sphere_melting_point`): \
{", ".join(f"{k}: {v:.1f} C" for k, v in melt_C.items())}.

{verdict}

Columns: neck/D = neck radius / particle radius (the cross-section at the grain boundary, or \
at the contact plane once none is left; one round drop of the pair's volume: 1.26); solid, \
liquid = int rho (eta_0 + eta_1) and int rho l over the material; vapour = the rest (the box's \
equilibrium vapour, which the small particles' Laplace pressure raises, and the diffuse surface, \
where eta_0 + eta_1 + l < 1); aspect from the body's \
second moments (rho > 1/2); mass drift = max |M(t) / M(0) - 1|.

{tab}

Notes: the time axis is in model units (seed 003 gives no rates); only the ordering across \
temperatures means something. {necks}
"""
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fusion_cdse.md").write_text(text)
    seedlib.write_summary(
        args.out / "fusion_cdse.md",
        setting="quick" if args.quick else cmd.split("fusion_cdse.py")[1].strip(),
        tables={"pair vs T": seedlib.table_of(*table_cells(results, times))},
        notes=[
            "static melting: " + ", ".join(f"{k}: {v:.1f} C" for k, v in melt_C.items()),
            verdict,
            necks,
        ],
    )
    plot(results, melt_C, args.radius_nm, args.out / "fusion_cdse.png")
    print(tab)
    print(verdict)
    print(f"wrote {args.out / 'fusion_cdse.md'} and fusion_cdse.png ({time.time() - t0:.0f} s)")
    return {"results": results, "melt_C": melt_C, "transition": tr, "seconds": wall}


if __name__ == "__main__":
    main()
