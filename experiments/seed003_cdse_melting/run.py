"""Seed 003 (CdSe surface melting and fusion): the molten-layer table and the degree of fusion.

    python experiments/seed003_cdse_melting/run.py            # reduced (make experiments, 229 s)
    python experiments/seed003_cdse_melting/run.py --smoke    # smallest setting (tests)
    python experiments/seed003_cdse_melting/run.py --full     # all temperatures and cases

Two parts, both computed here (the scripts of experiments/surface_melting do the work):

A. The molten layer of a CdSe sphere (R = 3 nm at 90, 140, 210 C; full melting of R = 3 nm and
   R = 1 nm) from the phase-field liquid (`ss.calibrate.premelt_sphere`, radially
   symmetric, parameters `CDSE_SEED003_PF` mapped by `physical_liquid`) next to the seed values
   and the analytic Kofman sphere with the same parameters (phase_field_table.py).
B. Two touching 2D particles (two grains + the liquid) over a range of driving forces q: neck
   growth, liquid bridge, grain-boundary fate, coalescence of a molten pair, and the degree of
   fusion (neck / diameter at a fixed time) vs temperature (fusion.py). Its temperature axis is a
   unit map of q, not the CdSe fit of part A (see the notes in results.md).
C. Two touching 3D CdSe spheres of R = 1 nm with the calibrated liquid of part A at a series of
   temperatures (fusion_cdse.py): where the fused pair loses its solid core, against the seed's
   jump of small CdSe from isolated particles to nearly coalesced dimers between 120 and 140 C.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# The 1D sphere problems are small: XLA's thread pools only slow them down (5-20x measured on a
# shared 2-core machine). Set before jax is imported.
for _k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_k, "1")
os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
)

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import seedlib  # noqa: E402
from seedlib import Clock, Row, at_most, parse_args, qualitative, write_results  # noqa: E402

SEED_FILE = "003_8293ae7ab8048ff3.txt"


def _load(name: str):
    """Import a script of experiments/surface_melting as a module."""
    return seedlib.load_script(
        HERE.parent / "surface_melting" / f"{name}.py", f"surface_melting_{name}"
    )


def fusion_smoke(fusion) -> dict:
    """The smallest fusion set: dry, layered and molten pairs on 64 x 48 (as tests/test_fusion)."""
    cases = [
        fusion.Case("q = 4", 4.0),
        fusion.Case("q = 0.3", 0.3),
        fusion.Case("q = -0.3", -0.3),
        fusion.Case("dry (a_l = 0)", 0.3, a_l=0.0, m_liq=0.0),
    ]
    results = [
        (c, fusion.run_pair(c, shape=(64, 48), radius=10.0, t_end=60.0, n_frames=6, gb_unit=1.0))
        for c in cases
    ]
    return {"results": results, "umap": fusion.unit_map(10.0), "t_fix": [20.0, 60.0]}


def fusion_rows(fusion, out: dict) -> tuple[list[Row], list[str]]:
    """Rows for the degree of fusion: ordered by T for the main (liquid) set."""
    umap, t_fix = out["umap"], out["t_fix"]
    main = [(c, r) for c, r in out["results"] if c.main]
    main.sort(key=lambda cr: -cr[0].q)  # cold -> hot
    t_mid = t_fix[0]
    T = np.array([fusion.temperature_C(c.q, umap) for c, _ in main])
    deg = np.array([np.interp(t_mid, r["t"], r["neck"] / r["diameter"]) for _, r in main])
    final = np.array([r["neck"][-1] / r["diameter"] for _, r in main])
    layer = [fusion.classify(r) for _, r in main]
    dry = [r for c, r in out["results"] if "dry" in c.label]
    rows = []
    steps = np.diff(deg)
    k = int(np.argmax(steps))
    rows.append(
        Row(
            f"degree of fusion (neck / diameter at t = {t_mid:g}) vs T",
            "rises with T; sharp change between 120 and 140 C (small CdSe)",
            ", ".join(f"{t:.0f} C: {d:.2f}" for t, d in zip(T, deg, strict=True)),
            qualitative(
                bool(np.all(steps > 0)),
                f"monotone; largest step {T[k]:.0f} -> {T[k + 1]:.0f} C (unit-mapped T)",
            ),
        )
    )
    rows.append(
        Row(
            "final neck-to-diameter ratio rises with temperature",
            "higher T, higher degree of fusion",
            ", ".join(f"{t:.0f} C: {d:.2f}" for t, d in zip(T, final, strict=True)),
            qualitative(bool(np.all(np.diff(final) >= -0.01)), "non-decreasing within 0.01"),
        )
    )
    if dry:
        wet = [r for (c, r), lay in zip(main, layer, strict=True) if lay != "molten"]
        d_dry = np.interp(t_mid, dry[0]["t"], dry[0]["neck"] / dry[0]["diameter"])
        d_wet = np.interp(t_mid, wet[-1]["t"], wet[-1]["neck"] / wet[-1]["diameter"]) if wet else 0
        rows.append(
            Row(
                f"neck with a molten layer vs dry (neck / D at t = {t_mid:g})",
                "molten surface layers let the crystals fuse (faster necking)",
                f"layered {d_wet:.2f} vs dry {d_dry:.2f}",
                qualitative(d_wet > d_dry, "faster with the layer"),
            )
        )
    hot = main[-1][1]
    rows.append(
        Row(
            "fully molten pair (hottest case)",
            "coalesces into one drop",
            f"{hot['bodies'][-1]} body, aspect {hot['aspect'][-1]:.3f}, circularity "
            f"{hot['circularity'][-1]:.3f}",
            qualitative(hot["bodies"][-1] == 1 and hot["aspect"][-1] < 1.1, "one round drop"),
        )
    )
    bridged = [f"{fusion.temperature_C(c.q, umap):.0f} C" for c, r in main if r["bridge"][-1]]
    rows.append(
        Row(
            "liquid bridge between the particles",
            "molten layers join (the neck is liquid)",
            "bridge at " + (", ".join(bridged) if bridged else "none"),
            qualitative(bool(bridged), "a bridge forms once layers touch"),
        )
    )
    drift = max(r["mass_drift"] for _, r in out["results"])
    rows.append(Row("mass conservation", "-", f"max drift {drift:.1e}", at_most(drift, 1e-8)))
    notes = [
        f"Fusion temperature axis: T = T_m* (1 - q / L) with the unit map of fusion.py "
        f"(dx = {umap['dx_nm']:.4f} nm, L = {umap['L']:.3f} model units): the 2D model's "
        f"Delta gamma / gamma_sv differs from CdSe's, so where layers appear on this axis is not "
        "seed 003's (part A is the calibrated one).",
        "Layer classes (cold -> hot): "
        + ", ".join(f"{t:.0f} C {lay}" for t, lay in zip(T, layer, strict=True)),
    ]
    return rows, notes


def cdse_row(cdse, out: dict) -> Row:
    """The calibrated pair's melting bracket against the seed's 120 -> 140 C jump."""
    res, tr = out["results"], out["transition"]
    lo, hi = cdse.SEED_BAND_C
    states = ", ".join(f"{r['T_C']:g} C: {cdse.state_of(r)}" for r in res)
    if tr is None:
        sim, agree = f"no melting bracket ({states})", "no (no transition in the range run)"
    else:
        sim = f"solid core kept up to {tr[0]:g} C, molten drop from {tr[1]:g} C ({states})"
        overlap = tr[0] < hi and tr[1] > lo
        agree = (f"yes (bracket {tr[0]:g}-{tr[1]:g} C overlaps {lo:g}-{hi:g} C)" if overlap
                 else f"no (bracket {tr[0]:g}-{tr[1]:g} C)")  # fmt: skip
    return Row(
        "small CdSe pair (R = 1 nm, 3D, calibrated liquid): fusion jump",
        f"isolated -> nearly coalesced dimers between {lo:g} and {hi:g} C",
        sim,
        agree,
    )


def main(argv=None) -> int:
    args = parse_args(__doc__, HERE, argv)
    clock = Clock()
    table = _load("phase_field_table")
    fusion = _load("fusion")

    # A. the molten-layer table (phase field vs seed, Kofman alongside)
    opts = ["--out", str(args.out)]
    if args.size == "smoke":
        opts.append("--table-only")
    elif args.size == "reduced":
        opts.append("--quick")
    clock.log("A: phase-field sphere table")
    tab = table.main(opts)
    rows = [Row(q, seed, f"{pf} (Kofman {kof})", agree) for q, seed, kof, pf, agree in tab["rows"]]

    # B. fusion of a pair vs temperature
    clock.log("B: fusion of a pair vs q")
    if args.size == "smoke":
        out = fusion_smoke(fusion)
        figures = []
    else:
        out = fusion.main((["--quick"] if args.size == "reduced" else []) + opts[:2])
        figures = ["fusion.png", "delta_vs_T_phase_field.png"]
    f_rows, f_notes = fusion_rows(fusion, out)

    # C. calibrated small-CdSe pair (3D) vs temperature
    clock.log("C: calibrated R = 1 nm pair vs T")
    cdse = _load("fusion_cdse")
    c_opts = ["--out", str(args.out)]
    if args.size == "smoke":
        c_opts += ["--temps-C", "100", "200", "--t-end", "20"]
    elif args.size == "reduced":
        c_opts += ["--temps-C", "100", "120", "130", "140", "160"]
    c_out = cdse.main(c_opts)
    if args.size != "smoke":
        figures.append("fusion_cdse.png")
    f_rows.append(cdse_row(cdse, c_out))
    misses = [r.quantity for r in rows if r.agreement.startswith("no")]
    scaled = np.asarray(tab["scaled"])
    worst = float(scaled.max())
    at_worst = [r.quantity for r, x in zip(rows, scaled, strict=True) if x >= worst - 0.01]
    k_lo, k_hi = tab["kofman_misfit"]
    t3 = tab["melt_C"][3.0]
    notes = [
        "Part A: delta is the issue's measure, the integrated liquid volume per unit particle "
        "surface area (the same volume as a uniform shell in brackets in phase_field_table.md); "
        f"tolerances {table.TOL_NM:g} nm and {table.TOL_K:g} K. Parameters: `CDSE_SEED003_PF`, a "
        "minimax fit of l0, L_v and T_m* on the A = 30 shape "
        "(experiments/surface_melting/fit_phase_field.py).",
        "Rows of part A not reproduced: " + ("; ".join(misses) if misses else "none") + ". "
        f"The worst row is {worst:.2f} tolerances (|phase field - seed| / tolerance; the 90 C "
        f"row: layer / {table.TOL_NM:g} nm), reached within 0.01 by: "
        + "; ".join(at_worst)
        + f". The R = 3 nm particle melts at {t3:.1f} C, {t3 - 210:.0f} K after the 210 C row, "
        "while the seed's layer is held at 0.54 nm from 210 C to its melting at 250 C. The "
        "liquid share g(rho) g(l) (dF/dq) keeps the surface dry below a sharp onset (the former "
        "coupling q phi(rho) phi(l): see the comment at CDSE_SEED003_PF). The Kofman model's own "
        f"best fit (`CDSE_SEED003`) misses its rows by {k_lo:.2f}-{k_hi:.2f} tolerances.",
        *f_notes,
    ]
    write_results(
        args.out,
        "Seed 003: surface melting of CdSe nanocrystals and its effect on fusion",
        SEED_FILE,
        rows + f_rows,
        size=args.size,
        seconds=clock.seconds,
        notes=notes,
        figures=figures,
    )
    clock.log(f"wrote {args.out / 'results.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
