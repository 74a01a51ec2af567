"""Seed 002: two 15.4 nm CdSe/CdS particles sintering under the beam; gap scan, neck, curvature.

    python experiments/seed002_cdse_cds/run.py --smoke   # 2 gaps, 300 s (test)
    python experiments/seed002_cdse_cds/run.py           # 7 gaps, 1500 s (reduced)
    python experiments/seed002_cdse_cds/run.py --full    # 0.25 nm grid, 1 nm surface, 10 gaps (GPU)

The base case is config.toml (CdS surface, 25 °C, beam-enhanced surface diffusivity, 1.5 nm
diffuse surface, 1 nm gap). One `ss.run_batch` integrates the pair at several gaps (the members
differ only in their initial state) and saves rho at log-spaced times. From the rho = 0.5 contour:
  contact        first save with a bridge: the column at the box centre has rho > 0.5 on the
                 axis (the pair is symmetric, so the neck plane is the centre column);
  neck width     the length of that column with rho > 0.5 (linear interpolation), nm;
  neck curvature 1/R: the contour's upper branch y(x) near the neck plane, fitted with a parabola
                 over +-NECK_FIT_NM; 1/R = y'' / (1 + y'^2)^1.5, positive while the neck is concave
                 (a saddle), negative once the surface there is convex (the dimer has rounded);
  r1             half the chord of particle 1 across its initial centre (the paper's particle
                 radius, "r1 and r2 decrease, then increase slightly");
  fast stage     t_half, the time after contact by which the neck has done half of its growth
                 from contact to 22 min (the paper: "a neck formed rapidly over the next 2 min");
  slow rate      linear fit of the neck over the second half of the 22 min window.
Time zero of the neck curve: the base gap's contact. A sublimation run anneals the dimer at
280 °C with a surface recession velocity (`[material] sublimation_nm_s`, chosen: the paper gives
no rate) and measures the mass it loses.
Writes out/results.md, out/neck_curvature.png, out/shapes.png.
"""

from __future__ import annotations

import sys
from pathlib import Path

import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import seedlib  # noqa: E402

import sintersim as ss  # noqa: E402
from sintersim import observables as obs  # noqa: E402

SEED_FILE = "002_dd04da2fb17de1eb.txt"
DATA = HERE.parent / "data" / "seed002_cdse_cds_neck.csv"
NECK_FIT_NM = 1.5
FAST_S, WINDOW_S = 120.0, 1320.0  # the paper's 2 min fast stage and 2 + 20 min window
# size -> (gaps nm, end s, saves, grid overrides)
SIZES = {
    "smoke": ([1.0, 3.0], 300.0, 30, {}),
    "reduced": ([0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0], 1500.0, 60, {}),
    "full": (
        [0.5, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0],
        3000.0,
        120,
        {"grid__shape": [144, 80], "grid__spacing_nm": 0.25, "model__interface_width_nm": 1.0},
    ),
}


def setup_with(**over):
    """The CLI's setup of config.toml with ``section__key=value`` overrides."""
    raw = {s: dict(v) for s, v in ss.load_config(HERE / "config.toml").values.items()}
    for k, v in over.items():
        sec, key = k.split("__")
        raw[sec][key] = v
        if key == "temperature_K":  # the validated config holds both; give one
            raw[sec].pop("temperature_C", None)
    return ss.build(ss.scenario.validate(raw))


def crossings(col: np.ndarray, thr: float = 0.5) -> np.ndarray:
    """Positions (cells) where a 1D profile crosses thr, linearly interpolated (non-periodic)."""
    a, b = col[:-1], col[1:]
    i = np.nonzero((a > thr) != (b > thr))[0]
    return i + (a[i] - thr) / (a[i] - b[i])


def chord(col: np.ndarray, thr: float = 0.5) -> float:
    """Length (cells) of the rho > thr part of a column that contains its middle."""
    mid = len(col) // 2
    if col[mid] <= thr:
        return 0.0
    x = crossings(col, thr)
    above, below = x[x > mid], x[x < mid]
    if not len(above) or not len(below):
        return float(len(col))
    return float(above.min() - below.max())


def upper_contour(rho: np.ndarray, thr: float = 0.5) -> np.ndarray:
    """y (cells) of the rho = thr contour above the axis, per column (NaN where none)."""
    mid = rho.shape[1] // 2
    y = np.full(rho.shape[0], np.nan)
    for i, col in enumerate(rho):
        if col[mid] > thr:
            x = crossings(col[mid:], thr)
            if len(x):
                y[i] = mid + x.min()
    return y


def neck_curvature(rho: np.ndarray, dx: float) -> float:
    """1/R (1/nm) of the upper contour at the box centre (the neck plane), parabola fit."""
    y = upper_contour(rho) * dx
    x = (np.arange(rho.shape[0]) + 0.0) * dx
    xc = rho.shape[0] // 2 * dx
    sel = (np.abs(x - xc) <= NECK_FIT_NM) & np.isfinite(y)
    if sel.sum() < 5:
        return np.nan
    c2, c1, _ = np.polyfit(x[sel] - xc, y[sel], 2)
    return 2 * c2 / (1 + c1**2) ** 1.5


SUBLIMATION_NM_S = 0.05  # recession velocity at 280 C: chosen (the paper gives no rate or time)


def sublimation_check(size: str, clock) -> dict:
    """The dimer at 280 °C with sublimation on (`[material] sublimation_nm_s`: a surface sink
    removing v x area per time): mass, and whether the grains stay crystalline (each particle
    keeps its own order parameter, no liquid in this model unless [melting] is enabled)."""
    end = 20.0 if size == "smoke" else 120.0
    s = setup_with(
        material__temperature_K=280.0 + 273.15,
        material__sublimation_nm_s=SUBLIMATION_NM_S,
        particles__gap_nm=-1.0,
        time__end_s=end,
    )
    ts = np.asarray(s.nd.scales.to_internal_time(np.linspace(end / 10, end, 10)))
    fn = lambda t, st: obs.mass(st, s.grid)  # noqa: E731
    sol = ss.run_batch(
        s.model, s.grid, s.state0, t0=0.0, dt=s.dt, saveat=ss.SaveAt(ts, fn=fn), devices=None
    )
    m0 = float(obs.mass(s.state0, s.grid))
    m = np.asarray(sol.ys)[0]
    clock.log(
        f"sublimation (280 °C, v = {SUBLIMATION_NM_S} nm/s, {end:g} s): mass {m[-1] / m0:.4f}"
    )
    return {"end_s": end, "rel_change": float(m[-1] / m0 - 1.0)}


def main(argv=None) -> int:
    args = seedlib.parse_args(__doc__, HERE, argv)
    clock = seedlib.Clock()
    gaps, t_end, n_saves, over = SIZES[args.size]
    base = setup_with(time__end_s=t_end, **over)
    cfg = base.config
    dx = cfg["grid"]["spacing_nm"]
    g = base.grid
    r = cfg["particles"]["radius_nm"] / dx
    w = 0.5 * cfg["model"]["interface_width_nm"] / dx  # as ss.build
    states = [ss.two_particles(g, r, r, gap / dx, width=w, dtype=jnp.float32) for gap in gaps]
    t_save = np.concatenate([np.geomspace(1.0, t_end, n_saves)])
    ts = np.asarray(base.nd.scales.to_internal_time(t_save))
    clock.log(
        f"{args.size}: gaps {gaps} nm, {t_end:g} s, grid {cfg['grid']['shape']} x {dx} nm, "
        f"D_s {cfg['material']['surface_diffusivity_m2_s']:.2g} m^2/s"
    )
    sol = ss.run_batch(
        base.model,
        g,
        states,
        t0=0.0,
        dt=base.dt,
        saveat=ss.SaveAt(ts, fn=lambda t, s: {"rho": s.rho, "mass": obs.mass(s, g)}),
    )
    rho = np.asarray(sol.ys["rho"])  # (gaps, saves, nx, ny)
    mass = np.asarray(sol.ys["mass"])
    ok = bool(np.asarray(sol.ok).all())
    clock.log(f"gap scan done (all saves in bounds: {ok})")
    t = np.concatenate([[0.0], t_save])
    rho = np.concatenate([np.stack([np.asarray(s.rho) for s in states])[:, None], rho], axis=1)
    nx = g.shape[0]
    neck = np.array([[chord(f[nx // 2]) * dx for f in member] for member in rho])
    contact = np.array([t[np.argmax(n > 0)] if (n > 0).any() else np.inf for n in neck])

    # The base gap: its neck, curvature and particle radius from its contact on.
    b = gaps.index(cfg["particles"]["gap_nm"])
    t_c = contact[b]
    after = t >= t_c
    tb = t[after] - t_c
    nb = neck[b][after]
    curv = np.array([neck_curvature(f, dx) for f in rho[b][after]])
    c1 = int(round(base.centres[0][0]))
    r1 = np.array([chord(f[c1]) * dx / 2 for f in rho[b][after]])
    win = tb <= WINDOW_S
    n2 = float(np.interp(FAST_S, tb, nb)) if tb[-1] >= FAST_S else np.nan
    n22 = float(np.interp(WINDOW_S, tb, nb)) if tb[-1] >= WINDOW_S else np.nan
    rate_fast = (n2 - nb[0]) / FAST_S  # from the width at the contact save
    rate_slow = (n22 - n2) / (WINDOW_S - FAST_S)
    # Late (slow) rate: linear fit over the second half of the window. Fast stage: the time by
    # which half of the neck growth from contact to 22 min is done.
    late = win & (tb >= WINDOW_S / 2)
    slope = np.polyfit(tb[late], nb[late], 1)[0] if late.sum() >= 3 else np.nan
    if np.isfinite(n22):
        t_half = float(np.interp(0.5 * (nb[0] + n22), nb[win], tb[win]))
    else:
        t_half = np.nan
    cw = curv[win]
    i_min = int(np.nanargmin(np.abs(cw))) if np.isfinite(cw).any() else 0
    falls = bool(np.isfinite(cw).any() and cw[0] > np.nanmin(np.abs(cw)))
    rises_abs = bool(i_min < len(cw) - 1 and np.abs(cw[-1]) > np.abs(cw[i_min]) + 0.005)
    r1w = r1[win]
    r1_min = float(np.min(r1w))
    r1_dips = bool(r1w[0] - r1_min > 0.05 and r1w[-1] - r1_min > 0.05)
    mass_drift = float(np.max(np.abs(mass / mass[:, :1] - 1)))
    sub = sublimation_check(args.size, clock)

    rigid = any(isinstance(k, ss.model.RigidBody) for k in base.model.kinetics)

    # ---- table ---------------------------------------------------------------------------
    closes = [gp for gp, tc in zip(gaps, contact, strict=True) if np.isfinite(tc)]
    opens = [gp for gp, tc in zip(gaps, contact, strict=True) if not np.isfinite(tc)]
    largest = max(closes) if closes else np.nan
    scan_txt = "; ".join(
        f"{gp:g} nm: {tc:.0f} s" if np.isfinite(tc) else f"{gp:g} nm: none"
        for gp, tc in zip(gaps, contact, strict=True)
    )

    def fmt(x, unit, p=2):
        return f"{x:.{p}f} {unit}" if np.isfinite(x) else "not reached"

    rows = [
        seedlib.Row(
            f"largest gap that bridges within {t_end:g} s",
            "~1-2 nm (sintering only for gaps of ~1-2 nm)",
            f"{fmt(largest, 'nm', 1)} (contact times: {scan_txt})",
            seedlib.within(largest, 1.0, 2.0, " nm")
            + ("" if opens else "; every scanned gap closed"),
        ),
        seedlib.Row(
            "translational motion before contact",
            "none significant",
            "none (rigid-body motion off; only surface diffusion)"
            if not rigid
            else "rigid-body motion on",
            seedlib.qualitative(not rigid, "by construction: no rigid-body kinetics in the model"),
        ),
        seedlib.Row(
            "neck width 2 min after contact (gap 1 nm)",
            "not stated (Fig. 3g only)",
            fmt(n2, "nm"),
            "- (no number to compare)",
        ),
        seedlib.Row(
            "neck width 22 min after contact",
            "not stated (Fig. 3g only)",
            fmt(n22, "nm"),
            "- (no number to compare)",
        ),
        seedlib.Row(
            "growth rate 0-2 min / 2-22 min",
            "fast for ~2 min, then slower",
            f"{rate_fast:.3g} / {rate_slow:.3g} nm/s (ratio {rate_fast / rate_slow:.0f})"
            if np.isfinite(rate_slow)
            else "not reached",
            seedlib.qualitative(
                bool(np.isfinite(rate_slow) and rate_fast > 3 * rate_slow), "fast/slow > 3"
            ),
        ),
        seedlib.Row(
            "time to half the neck growth of 0-22 min",
            "fast stage ~2 min (most growth in it)",
            fmt(t_half, "s", 0),
            seedlib.within(t_half, 60.0, 180.0, " s"),
        ),
        seedlib.Row(
            "late growth 11-22 min",
            "slow, roughly linear",
            f"{slope:.3g} nm/s" if np.isfinite(slope) else "not reached",
            seedlib.qualitative(bool(np.isfinite(slope) and slope > 0), "still growing"),
        ),
        seedlib.Row(
            "neck curvature 1/R at contact -> minimum of /1/R/ -> 22 min",
            "falls rapidly, then rises gradually",
            f"{cw[0]:.3f} -> {cw[i_min]:.3f} (at {tb[win][i_min]:.0f} s) -> {cw[-1]:.3f} 1/nm",
            seedlib.qualitative(
                falls and rises_abs,
                "/1/R/ falls then rises" if falls and rises_abs else "no rise within 22 min",
            ),
        ),
        seedlib.Row(
            "particle radius r1 (half chord at its centre): start -> min -> 22 min",
            "decreases, then increases slightly",
            f"{r1w[0]:.2f} -> {r1_min:.2f} -> {r1w[-1]:.2f} nm",
            seedlib.qualitative(r1_dips, "dips then recovers" if r1_dips else "no dip/recovery"),
        ),
        seedlib.Row(
            "total volume (mass of rho), all gaps",
            "no significant change",
            f"max relative drift {mass_drift:.1e}",
            seedlib.at_most(mass_drift, 1e-4),
        ),
        seedlib.Row(
            "sublimation at 280 °C (mass loss)",
            "dimer sublimes and nearly disappears",
            f"mass change {sub['rel_change']:+.1%} after {sub['end_s']:g} s at 280 °C "
            f"(recession {SUBLIMATION_NM_S} nm/s, chosen)",
            seedlib.qualitative(
                sub["rel_change"] < -0.5,
                "more than half the mass sublimes; the rate is an input, not predicted",
            ),
        ),
    ]
    notes = [
        "2D model: discs; widths are 2D chords, the paper's r is a projected neck size (the text "
        "calls it both radius and diameter) and its values are only plotted (Fig. 3g).",
        "The beam is represented only by an enhanced surface diffusivity (config.toml, "
        f"{cfg['material']['surface_diffusivity_m2_s']:.2g} m^2/s, chosen, not measured); no "
        "knock-on, carbon shell or CdSe/CdS alloying. The contact criterion (which gaps bridge) "
        f"is set by the diffuse surface width ({cfg['model']['interface_width_nm']:g} nm): "
        "the diffuse tails of the two surfaces overlap and pull together, so the largest gap "
        "that closes scales with it.",
        "Sublimation: `[material] sublimation_nm_s` removes v x surface area per time "
        f"(sintersim.model.Sublimation); v = {SUBLIMATION_NM_S} nm/s is chosen (the paper gives no "
        "rate or duration), so the row shows that the dimer sublimes, not when.",
        f"Neck-curve time zero: contact of the {cfg['particles']['gap_nm']:g} nm gap at "
        f"{t_c:.0f} s; saves are log-spaced, so rates are coarse.",
        f"seed data file {DATA.name} holds no numbers (only the bound 0-15 nm); not compared.",
        f"All saves in bounds: {ok}.",
    ]

    # ---- figures -------------------------------------------------------------------------
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.6))
    for k, gp in enumerate(gaps):
        ax[0].plot(t[1:], neck[k][1:], label=f"gap {gp:g} nm")
    ax[0].set(xscale="log", xlabel="time (s)", ylabel="neck width (nm)", title="gap scan")
    ax[0].legend(fontsize=7)
    ax[1].plot(tb / 60, nb, "o-", ms=3, color="C1", label=f"gap {gaps[b]:g} nm")
    ax[1].axvline(FAST_S / 60, color="grey", ls="--", lw=0.8, label="seed: end of fast stage")
    ax[1].axvspan(FAST_S / 60, WINDOW_S / 60, color="grey", alpha=0.1, label="seed: slow stage")
    ax[1].set(xlabel="time since contact (min)", ylabel="neck width (nm)", title="neck growth")
    ax[1].legend(fontsize=7)
    ax[2].plot(tb[win] / 60, cw, "o-", ms=3, label="1/R at the neck (1/nm)")
    ax2 = ax[2].twinx()
    ax2.plot(tb[win] / 60, r1w, "s-", ms=3, color="C2", label="r1 (nm)")
    ax2.set_ylabel("r1 (nm)", color="C2")
    ax[2].axhline(0, color="k", lw=0.5)
    ax[2].set(xlabel="time since contact (min)", ylabel="1/R (1/nm)", title="neck curvature")
    ax[2].legend(fontsize=7, loc="upper center")
    fig.tight_layout()
    fig.savefig(args.out / "neck_curvature.png", dpi=90)
    plt.close(fig)

    pick = [0] + [int(np.argmin(np.abs(tb - x))) for x in (FAST_S, WINDOW_S) if x <= tb[-1]]
    fig, ax = plt.subplots(figsize=(6, 2.6))
    xg = np.arange(nx) * dx
    for j, i in enumerate(pick):
        y = upper_contour(rho[b][after][i]) * dx
        ax.plot(xg, y, color=f"C{j}", label=f"{tb[i] / 60:.1f} min after contact")
        ax.plot(xg, g.shape[1] * dx - y, color=f"C{j}")
    ax.set(xlabel="x (nm)", ylabel="y (nm)", aspect="equal", title="rho = 0.5 contour")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.tight_layout()
    fig.savefig(args.out / "shapes.png", dpi=90)
    plt.close(fig)

    seedlib.write_results(
        args.out,
        "Seed 002: CdSe/CdS pair sintering under the electron beam",
        SEED_FILE,
        rows,
        size=args.size,
        seconds=clock.seconds,
        notes=notes,
        figures=["neck_curvature.png", "shapes.png"],
    )
    print((args.out / "results.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
