"""Seed 003 surface-melting table: seed values, the Kofman model and the phase field side by side.

    python experiments/surface_melting/phase_field_table.py [--quick]

Parameters: `sintersim.materials.CDSE_SEED003_PF` on the Wang shape `CDSE_SEED003_PF_SHAPE`,
mapped to internal units by `physical_liquid` (length unit l0 = xi_m / xi, xi the model's own
range from the flat-slab slope; energy unit from gamma_sv; q = L_v (1 - T/T_m) / E0). The phase
field is the radially symmetric particle (`premelt_sphere`, global minimum of dry, premelted and
molten); delta = the issue's measure, the integrated liquid volume per unit surface area (the
same volume as a uniform shell thickness, the Kofman model's delta, is printed alongside and
used in the figure and the phase field vs Kofman table). Melting points:
`sphere_melting_point` (F of the molten particle crosses F of the one with a solid core). The
Kofman column evaluates `sintersim.materials` with the SAME physical parameters (xi as
mapped).

Writes experiments/surface_melting/out/phase_field_table.md and delta_vs_T_phase_field.png
(delta vs T for R = 1, 3, 5 nm: Kofman lines, phase-field points). --quick: fewer figure points.
A few minutes on one CPU core (the 1D problems run fastest single-threaded, set below).
"""

from __future__ import annotations

import os

# Small 1D problems: thread pools only add overhead (and contend on a shared machine).
for _k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_k, "1")
os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
)

import argparse  # noqa: E402
import pathlib  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import jax  # noqa: E402
import matplotlib  # noqa: E402
import numpy as np  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from sintersim.calibrate import (  # noqa: E402
    CDSE_SEED003_PF_SHAPE,
    default_spacing,
    melting_q_bracket,
    physical_liquid,
    premelt_layer,
    premelt_sphere,
    sphere_melting_point,
    sphere_start_radius,
)
from sintersim.materials import (  # noqa: E402
    CDSE_SEED003,
    CDSE_SEED003_PF,
    CELSIUS_ZERO_K,
    SEED003_TARGETS,
    compare_targets,
    flat_layer_thickness,
    layer_thickness,
    melting_temperature,
    onset_temperature,
)

jax.config.update("jax_enable_x64", True)
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # experiments/: seedlib
import seedlib  # noqa: E402

OUT = pathlib.Path(__file__).parent / "out"
NM = 1e-9
TOL_NM, TOL_K = 0.1, 15.0


class Particle:
    """A particle of physical radius R (rho = 1/2 radius, corrected for the vapour's uptake and
    the diffuse profile: one dry relaxation measures the offset of the start radius)."""

    def __init__(self, pl, R_nm: float):
        self.pl, self.R_nm = pl, R_nm
        self.start_radius = sphere_start_radius(pl.energy, R_nm * NM / pl.scales.length_m)
        self.prev = None

    def at(self, T_K: float):
        """Equilibrium at T (global minimum; warm start from the previous temperature)."""
        s = premelt_sphere(self.pl.at(T_K), float(self.pl.q(T_K)), self.start_radius,
                           start=self.prev)  # fmt: skip
        self.prev = s
        return s

    def melting_K(self) -> tuple[float, bool]:
        q_hi = melting_q_bracket(self.pl.interfaces, self.start_radius)
        m = sphere_melting_point(self.pl.energy, self.start_radius, q_hi, xtol=1e-4)
        return float(self.pl.temperature_K(m.q_melt)), m.spinodal


def nm(pl, x):
    return x * pl.scales.length_m / NM


def kofman_misfit() -> tuple[float, float]:
    """(smallest, largest) |model - seed| / tolerance over the seed table's rows of the Kofman
    model's own fit `CDSE_SEED003` (`compare_targets`)."""
    scaled = [abs(r["scaled"]) for r in compare_targets(CDSE_SEED003, SEED003_TARGETS)]
    return min(scaled), max(scaled)


def main(argv=None) -> dict:
    """Run the table and the figure; returns ``rows`` (quantity, seed, Kofman, phase field,
    agreement), ``scaled`` (each row's |phase field - seed| / tolerance; the 90 C row: layer /
    0.1 nm), ``melt_C`` (phase-field melting points by radius) and ``kofman_misfit`` for
    experiments/seed003_cdse_melting."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer phase-field points in the figure")
    ap.add_argument("--out", type=pathlib.Path, default=OUT, help="output folder")
    ap.add_argument("--table-only", action="store_true", help="the table rows; no figure, no notes")
    args = ap.parse_args(argv)
    t0 = time.time()
    p = CDSE_SEED003_PF
    pl = physical_liquid(p, 140.0 + CELSIUS_ZERO_K, shape=CDSE_SEED003_PF_SHAPE)
    gj = pl.interface_energies_J_m2()
    head = [
        "Parameters (`CDSE_SEED003_PF`): "
        f"L_v = {p.latent_heat_J_m3:.4g} J/m^3, T_m* = {p.melting_point_K:.1f} K, "
        f"gamma_sv = {p.gamma_sv_J_m2:.4g}, gamma_sl = {p.gamma_sl_J_m2:.4g}, "
        f"gamma_lv = {p.gamma_lv_J_m2:.4g}, Delta gamma = {p.delta_gamma_J_m2:.4g} J/m^2, "
        f"xi = {p.xi_m / NM:.4g} nm",
        f"Phase field: shape A = {float(CDSE_SEED003_PF_SHAPE.A):g}, kappa_rho / kappa_eta = "
        f"{float(CDSE_SEED003_PF_SHAPE.kappa_rho):g}, solved c_sl = {float(pl.energy.c_sl):.5g}, "
        f"a_l = {float(pl.energy.a_l):.5g}; xi (flat-slab slope) = {pl.xi:.4f} internal -> "
        f"l0 = {pl.scales.length_m / NM:.4f} nm, E0 = {pl.scales.energy_J_m3:.4g} J/m^3; "
        f"dry surface width {nm(pl, pl.interfaces.width_sv):.3f} nm, liquid-vapour "
        f"{nm(pl, pl.interfaces.width_lv):.3f} nm",
        "Measured on the model (J/m^2): "
        + ", ".join(f"gamma_{k} = {v:.4g}" for k, v in gj.items()),
    ]
    for line in head:
        print(line)

    rows = []  # (quantity, seed, kofman, pf, agreement)
    p3 = Particle(pl, 3.0)
    pf = {}
    for T_C in (90.0, 140.0, 210.0):
        s = p3.at(T_C + CELSIUS_ZERO_K)
        pf[T_C] = s
        print(f"  R = 3 nm, {T_C:.0f} C: delta = {nm(pl, s.delta):.3f} nm "
              f"(volume / area {nm(pl, s.delta_area):.3f} nm), molten {s.molten}, "
              f"R = {nm(pl, s.radius):.3f} nm  [{time.time() - t0:.0f} s]", flush=True)  # fmt: skip
    T90 = 90.0 + CELSIUS_ZERO_K
    k90 = layer_thickness(T90, 3 * NM, p) / NM
    on3 = onset_temperature(3 * NM, p) - CELSIUS_ZERO_K
    d90 = nm(pl, pf[90.0].delta_area)  # the measure: liquid volume per unit area
    verdict = "yes" if d90 <= TOL_NM else "no"
    scaled = [d90 / TOL_NM]
    rows.append(
        (
            "R = 3 nm, 90 C: molten layer",
            "none",
            f"{k90:.3f} nm (onset {on3:.0f} C)",
            f"{d90:.3f} nm ({nm(pl, pf[90.0].delta):.3f})",
            f"{verdict} (layer {d90:.3f} nm; allowed <= {TOL_NM} nm)",
        )
    )
    for T_C, target in ((140.0, 0.30), (210.0, 0.54)):
        k = layer_thickness(T_C + CELSIUS_ZERO_K, 3 * NM, p) / NM
        d = nm(pl, pf[T_C].delta_area)
        err = d - target
        scaled.append(abs(err) / TOL_NM)
        rows.append(
            (
                f"R = 3 nm, {T_C:.0f} C: delta",
                f"{target:.2f} nm",
                f"{k:.3f} nm",
                f"{d:.3f} nm ({nm(pl, pf[T_C].delta):.3f})",
                f"{'yes' if abs(err) <= TOL_NM else 'no'} ({err:+.3f} nm)",
            )
        )
    melt = {}
    for R_nm, target_C in ((3.0, 250.0), (1.0, 90.0)):
        tm_pf, spin = Particle(pl, R_nm).melting_K()
        melt[R_nm] = tm_pf
        tm_k = melting_temperature(R_nm * NM, p)
        err = tm_pf - (target_C + CELSIUS_ZERO_K)
        scaled.append(abs(err) / TOL_K)
        note = ", spinodal" if spin else ""
        tm_pf_C, tm_k_C = tm_pf - CELSIUS_ZERO_K, tm_k - CELSIUS_ZERO_K
        print(f"  R = {R_nm:g} nm melts at {tm_pf_C:.1f} C (Kofman {tm_k_C:.1f} C){note}  "
              f"[{time.time() - t0:.0f} s]", flush=True)  # fmt: skip
        rows.append(
            (
                f"R = {R_nm:g} nm: whole particle molten",
                f"{'above ~' if R_nm == 1 else ''}{target_C:.0f} C",
                f"above {tm_k_C:.1f} C",
                f"above {tm_pf_C:.1f} C{note}",
                f"{'yes' if abs(err) <= TOL_K else 'no'} ({err:+.1f} K)",
            )
        )

    k_lo, k_hi = kofman_misfit()
    out = {
        "rows": rows,
        "scaled": scaled,
        "melt_C": {R: T - CELSIUS_ZERO_K for R, T in melt.items()},
        "kofman_misfit": (k_lo, k_hi),
    }
    if args.table_only:
        return out
    # delta vs T for R = 1, 3, 5 nm: Kofman lines, phase-field points
    T_fig = np.arange(40.0, 300.0, 40.0 if args.quick else 20.0) + CELSIUS_ZERO_K
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    cmp_rows = []
    for R_nm, c in ((1.0, "C0"), (3.0, "C1"), (5.0, "C2")):
        T_line = np.linspace(T_fig[0], T_fig[-1], 400)
        ax.plot(T_line - CELSIUS_ZERO_K, layer_thickness(T_line, R_nm * NM, p) / NM, c,
                label=f"Kofman R = {R_nm:g} nm")  # fmt: skip
        part = Particle(pl, R_nm)
        d_pf = []
        for T in T_fig:
            s = part.at(float(T))
            d_pf.append(R_nm if s.molten else nm(pl, s.delta))
            k = layer_thickness(T, R_nm * NM, p) / NM
            if not s.molten and 0.0 < k < R_nm:
                cmp_rows.append((R_nm, T - CELSIUS_ZERO_K, d_pf[-1], k))
        ax.plot(T_fig - CELSIUS_ZERO_K, d_pf, "o", color=c, mfc="none",
                label=f"phase field R = {R_nm:g} nm")  # fmt: skip
        print(f"  figure R = {R_nm:g} nm done [{time.time() - t0:.0f} s]", flush=True)
    seed_T = [90, 140, 210, 250]
    ax.plot(seed_T, [0.0, 0.30, 0.54, 3.0], "k*", ms=10, label="seed 003 (R = 3 nm)")
    ax.set_yscale("symlog", linthresh=0.1)
    ax.set_xlabel("T (C)")
    ax.set_ylabel("molten layer delta (nm); = R when molten")
    ax.legend(fontsize=7, ncol=2)
    ax.set_title("CdSe surface melting: Kofman (lines) vs phase field (points)")
    fig.tight_layout()
    args.out.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out / "delta_vs_T_phase_field.png", dpi=150)

    table = ["| quantity | seed value | Kofman model | phase field: V / A (shell) | agreement |",
             "|---|---|---|---|---|"]  # fmt: skip
    table += ["| " + " | ".join(r) + " |" for r in rows]
    cmp = ["| R (nm) | T (C) | phase field delta (nm) | Kofman delta (nm) | PF / Kofman - 1 |",
           "|---|---|---|---|---|"]  # fmt: skip
    cmp += [
        f"| {R:g} | {T:.0f} | {d:.3f} | {k:.3f} | {d / k - 1:+.2f} |" for R, T, d, k in cmp_rows
    ]
    # the flat surface at the table's temperatures: the 1D slab vs the flat Kofman law
    flat, prev = [], None
    for T_C in (90.0, 140.0, 210.0):
        T = T_C + CELSIUS_ZERO_K
        prev = premelt_layer(pl.at(T), float(pl.q(T)), n=2048, h=default_spacing(pl.energy),
                             start=prev)  # fmt: skip
        flat.append((T_C, nm(pl, prev.delta), flat_layer_thickness(T, p) / NM))
    print(f"  flat slabs done [{time.time() - t0:.0f} s]", flush=True)
    misses = [r[0] for r in rows if r[-1].startswith("no")]
    trace_nm = nm(pl, Particle(pl, 3.0).at(40.0 + CELSIUS_ZERO_K).delta_area)
    rel = np.array([d / k - 1 for R, T, d, k in cmp_rows if R >= 3])
    xi_nm = nm(pl, pl.xi)
    fit = pl.xi_fit or {}
    notes = [
        "## Notes",
        "",
        f"- Rows that miss: {'; '.join(misses) if misses else 'none'}. The parameters are a "
        "minimax fit over all five rows (experiments/surface_melting/fit_phase_field.py, see "
        "the comment at `CDSE_SEED003_PF`), so the misfit is spread over the rows. The "
        "liquid share g(rho) g(l) makes the surface dry below a sharp onset (R = 3 nm, 40 C: "
        f"{trace_nm:.3f} nm of liquid); the layer then thickens convexly with T, where the "
        "seed's R = 3 nm particle holds 0.54 nm for 40 K before it melts, which is what is left "
        f"of the misfit: worst row {max(scaled):.2f} tolerances. The Kofman model's own best fit "
        f"(`CDSE_SEED003`) misses its rows by {k_lo:.2f}-{k_hi:.2f} tolerances.",
        f"- R = 1 nm is {1.0 / nm(pl, pl.interfaces.width_lv):.1f} liquid-vapour interface "
        f"widths across ({1.0 / nm(pl, 1.0):.2f} internal units): there the diffuse particle is "
        "least like the sharp Kofman sphere, which melts it "
        f"{melt[1.0] - melting_temperature(1 * NM, p):.0f} K lower; at R = 3 nm the two melting "
        f"points differ by {melt[3.0] - melting_temperature(3 * NM, p):+.1f} K.",
        f"- Phase field vs Kofman at R = 3 and 5 nm: PF / Kofman - 1 from {rel.min():+.2f} to "
        f"{rel.max():+.2f} (table below). xi is the thick-layer slope of the flat slab "
        f"(`measure_xi`: {pl.xi:.4f} internal, Dgamma_eff / Dgamma = "
        f"{fit.get('spreading_eff', np.nan) / fit.get('spreading', np.nan):.2f}), where the flat "
        "layer follows the Kofman law closely; at the table's temperatures the layers are only "
        f"{min(d for _, d, _ in flat) / xi_nm:.1f}-{max(d for _, d, _ in flat) / xi_nm:.1f} xi "
        "thick and the flat slab already departs from the flat law ("
        + ", ".join(f"{T:.0f} C: {d:.3f} vs {k:.3f} nm" for T, d, k in flat)
        + "). On the spheres the phase-field layer is thinner than the Kofman layer of the "
        "same parameters where the layers are a few tenths of a nm (and absent below its "
        "onset); not diagnosed further. For thick layers on large particles the two are "
        "compared by tests/test_melting.py::test_sphere_agrees_with_kofman_reference.",
        "",
    ]
    print("\n".join(table))
    print("\n".join(notes))
    print("\nPhase field vs Kofman (same parameters) where both have a layer:")
    print("\n".join(cmp))
    text = [
        "# Seed 003 surface melting: seed table, Kofman model and phase field",
        "",
        "Made by `python experiments/surface_melting/phase_field_table.py"
        + (" --quick`" if args.quick else "`")
        + f" ({time.time() - t0:.0f} s).",
        "",
        *[h + "\n" for h in head],
        f"Tolerances: {TOL_NM} nm, {TOL_K:g} K. Phase-field delta: the issue's measure, the "
        "integrated liquid volume per unit particle surface area (in brackets: the same volume "
        "as a uniform shell, the Kofman model's delta); R is where rho = 1/2.",
        "",
        *table,
        "",
        *notes,
        "## Phase field vs Kofman (same physical parameters), where the Kofman particle has a "
        "layer and is not molten",
        "",
        *cmp,
        "",
    ]
    md = args.out / "phase_field_table.md"
    md.write_text("\n".join(text))
    seedlib.write_summary(
        md,
        setting="quick" if args.quick else "default",
        tables={
            "seed table": seedlib.table_of(
                [c.strip() for c in table[0].strip("|").split("|")], rows
            ),
            "phase field vs Kofman": seedlib.table_of(
                [c.strip() for c in cmp[0].strip("|").split("|")],
                [[c.strip() for c in line.strip("|").split("|")] for line in cmp[2:]],
            ),
        },
        notes=[*head, *notes[2:-1]],
    )  # fmt: skip
    print(f"wrote {md} and delta_vs_T_phase_field.png ({time.time() - t0:.0f} s)")
    return out


if __name__ == "__main__":
    main()
