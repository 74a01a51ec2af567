"""Many-particle sintering: a hexagonal PbSe monolayer and a square PbSe superlattice (2D).

    python experiments/packings/run.py [--quick] [--out DIR]

A. Seed 000, figure 1 scenario: 10 nm PbSe dots in a hexagonal monolayer (size spread 0.5 nm)
   annealed at 150 C (423 K), necking into a connected film. Orientations and grain rotation are
   not modelled yet (issue 7), so the dots neck but do not unify into single crystals.
B. Seed 001 scenario: 6.2 nm PbSe in a square superlattice, gap 0.55 nm, at 298 K with the
   surface diffusivity fitted to the seed 001 neck trace (experiments/fit_seed001/out/fit.json):
   necks develop between every neighbour pair.

Writes DIR/packings.png (density and grain maps at start and end of each run, neck histograms)
and DIR/results.md (grain count, coordination, neck sizes, fields used, moves, mass drift).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import jax
import numpy as np

import sintersim as ss
from sintersim.packing import run_packing
from sintersim.scenario import material_parameters

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # experiments/: seedlib
import seedlib  # noqa: E402

FIT = HERE.parent / "fit_seed001" / "out" / "fit.json"


def physics(temperature_k: float, spacing_nm: float, width_nm: float, **material):
    """Model and scales from the PbSe preset (``material`` overrides preset fields)."""
    return ss.calibrate.nondimensionalize(
        material_parameters("PbSe", temperature_k, width_nm, spacing_nm, **material)
    )


def scenario(name, packing, nd, spacing_nm, width_nm, t_end_s, n_saves, max_fields):
    grid = packing.grid()
    w = 0.5 * width_nm / spacing_nm  # tanh(x / w) profile of surface width 2w
    state, fields = packing.to_state(grid, width=w, safety=2 * width_nm / spacing_nm + 4)
    i_gb = nd.shape.gb_integral * nd.stretch  # cells
    t_end = float(nd.scales.to_internal_time(t_end_s))
    t0 = time.perf_counter()
    print(
        f"{name}: {packing.n} particles on {grid.shape}, {state.eta.shape[0]} fields, "
        f"t_end = {t_end_s:g} s = {t_end:.3g} internal units",
        flush=True,
    )
    hist = run_packing(
        nd.model,
        grid,
        state,
        packing,
        t_end=t_end,
        dt=0.25,
        n_saves=n_saves,
        safety=2 * width_nm / spacing_nm + 4,
        gb_integral=i_gb,
        max_fields=max_fields,
        progress=lambda k, n: print(f"  save {k}/{n}", flush=True) if k % 5 == 0 else None,
    )
    wall = time.perf_counter() - t0
    return grid, state, hist, wall


def summary(name, packing, hist, nd, spacing_nm, wall, extra_rows=(), cells=None):
    """The markdown section of one scenario; its rows (without the wall time) go to ``cells``
    (name -> table) for the summary file."""
    o0, o1 = hist.observables[0], hist.observables[-1]
    necks = o1.necks * spacing_nm
    d0, d1 = o0.mean_contact_distance(), o1.mean_contact_distance()
    rows = [
        ("particles", packing.n),
        ("grains at start / end", f"{o0.grain_count} / {o1.grain_count}"),
        ("mean coordination at end", f"{o1.coordination.mean():.2f}"),
        ("contacts at end", len(o1.contacts)),
        (
            "neck width at end, mean +- sd (nm)",
            f"{necks.mean():.2f} +- {necks.std():.2f}" if necks.size else "-",
        ),
        (
            "contact misorientation at end, mean (deg, static until issue 7)",
            f"{np.nanmean(o1.misorientations):.1f}"
            if np.isfinite(o1.misorientations).any()
            else "-",
        ),
        ("order parameters used (max)", max(hist.n_fields)),
        ("field moves (total)", sum(hist.moves)),
        ("touching grains sharing a field (any save)", max(hist.shared_touching)),
        ("relative mass drift", f"{abs(hist.mass[-1] / hist.mass[0] - 1):.1e}"),
        (
            "mean centre distance of touching grains, relative change (grows as grains coarsen)",
            f"{(d1 / d0 - 1) if np.isfinite(d0) and np.isfinite(d1) else float('nan'):+.4f}",
        ),
        ("simulated time (s)", f"{nd.scales.to_seconds(hist.times[-1]):.3g}"),
        *extra_rows,
    ]
    if cells is not None:
        cells[name] = seedlib.table_of(("quantity", "value"), rows)
    rows.append(("wall time (s)", f"{wall:.0f}"))
    lines = [f"### {name}", "", "| quantity | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small arrays (about a minute)")
    ap.add_argument("--out", type=Path, default=HERE / "out")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"jax {jax.__version__} on {jax.devices()}")

    # A. hexagonal monolayer of 10 nm dots at 150 C.
    sp_a, w_a = 0.5, 1.5
    nd_a = physics(423.15, sp_a, w_a)
    rows_a, cols_a = (4, 4) if args.quick else (6, 8)
    pk_a = ss.packing.hex_monolayer(
        rows_a, cols_a, 5.0 / sp_a, 0.5 / sp_a, size_spread=0.5 / sp_a, orientation="random", seed=0
    )
    t_a = 0.3 * nd_a.scales.to_seconds(1.0) * (5.0 / sp_a) ** 4  # a few neck times
    grid_a, s0_a, h_a, wall_a = scenario("A", pk_a, nd_a, sp_a, w_a, t_a, 20, 12)

    # B. square superlattice of 6.2 nm dots, fitted D_s at 298 K.
    sp_b, w_b = 0.25, 1.0
    ds = (
        json.loads(FIT.read_text())["parameters"]["surface_diffusivity"]["value"]
        if FIT.exists()
        else None
    )
    extra = {"surface_diffusivity_m2_s": ds} if ds else {}
    nd_b = physics(298.15, sp_b, w_b, **extra)
    n_b = 4
    pk_b = ss.packing.square_superlattice(n_b, n_b, 3.1 / sp_b, 0.55 / sp_b)
    grid_b, s0_b, h_b, wall_b = scenario("B", pk_b, nd_b, sp_b, w_b, 20.0, 20, 8)

    fig_path = args.out / "packings.png"
    plot(
        fig_path,
        [
            (grid_a, s0_a, h_a, sp_a, "A: hexagonal PbSe monolayer, 423 K"),
            (grid_b, s0_b, h_b, sp_b, "B: square PbSe superlattice, 298 K"),
        ],
    )
    necks_b = h_b.observables[-1].necks * sp_b
    cells = {}
    text = [
        "# Many-particle sintering (issue 9 scenarios)",
        "",
        f"Command: `python experiments/packings/run.py{' --quick' if args.quick else ''}`. "
        "Figure: `packings.png`.",
        "",
        summary(
            "A. Hexagonal 10 nm PbSe monolayer at 150 C (seed 000, figure 1 scenario)",
            pk_a,
            h_a,
            nd_a,
            sp_a,
            wall_a,
            cells=cells,
        ),
        summary(
            "B. Square 6.2 nm PbSe superlattice at 298 K (seed 001 scenario)",
            pk_b,
            h_b,
            nd_b,
            sp_b,
            wall_b,
            extra_rows=[
                ("D_s used (m^2/s)", f"{ds:.3g} (fit to seed 001)" if ds else "preset"),
                ("seed 001: neck width after 15-20 s", "2.7-3.0 nm"),
                (
                    "simulated neck width at 20 s (mean)",
                    f"{necks_b.mean():.2f} nm" if necks_b.size else "-",
                ),
                (
                    "simulated vs seed 001 at 20 s",
                    seedlib.within(
                        float(necks_b.mean()) if necks_b.size else np.nan, 2.7, 3.0, " nm"
                    ),
                ),
            ],
            cells=cells,
        ),
        "Not modelled yet: crystal orientation, rotation and seamless stitching (issue 7), so the "
        "monolayer necks into a polycrystalline film instead of unifying into single crystals; no "
        "rigid-body motion, so the lattice does not shrink.",
    ]
    (args.out / "results.md").write_text("\n".join(text) + "\n")
    seedlib.write_summary(
        args.out / "results.md",
        setting="quick" if args.quick else "default",
        tables=cells,
        notes=text[-1:],
    )
    print((args.out / "results.md").read_text())
    print(f"wrote {fig_path}")
    return 0


def plot(path, runs):
    from sintersim.plot import plt

    fig, axes = plt.subplots(len(runs), 3, figsize=(13, 4.2 * len(runs)))
    for row, (grid, s0, hist, sp, title) in zip(axes, runs, strict=True):
        ext = [0, grid.lengths[1] * sp, 0, grid.lengths[0] * sp]
        row[0].imshow(np.asarray(s0.rho), cmap="gray", origin="lower", extent=ext)
        row[0].set_title(f"{title}\nstart: density")
        fin = hist.final
        eta = np.asarray(fin.eta)
        lab = np.where(eta.max(0) > 0.5, eta.argmax(0), -1).astype(float)
        lab[lab < 0] = np.nan
        row[1].imshow(np.asarray(fin.rho), cmap="gray", origin="lower", extent=ext)
        row[1].imshow(lab, cmap="tab20", alpha=0.45, origin="lower", extent=ext)
        row[1].set_title("end: density, grains coloured by order parameter")
        for r in row[:2]:
            r.set_xlabel("y (nm)")
            r.set_ylabel("x (nm)")
        necks = hist.observables[-1].necks * sp
        if necks.size:
            row[2].hist(necks, bins=12, color="tab:blue")
        row[2].set_xlabel("neck width at end (nm)")
        row[2].set_ylabel("contacts")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    raise SystemExit(main())
