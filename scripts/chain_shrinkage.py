"""Shrinkage per contact of free 2D chains of N = 2, 4, 8 equal particles with rigid-body motion.

Requirement: the shrinkage per contact of a chain does not depend on its particle count (within
10 %); users of other codes found that it does.

Every chain has the same material (PbSe preset), radius, gap, grid spacing, interface width and
save times; only the box grows with N (along the chain), so that ``end_vapour_cells`` of vapour
separate the chain's ends from their periodic images: the chain is free, not a ring.
(``particles.layout = "chain"`` is a periodic ring: its box is N spacings long, the two ends
touch through the boundary, and the config refuses another grid.shape; so the chain is given as a
``layout = "file"`` CSV of centres, centred in its box.) The packing colouring puts neighbours on
different order parameters (grains of one field stay ``safety`` apart: here three fields, plus a
spare, end and interior grains alike).

Shrinkage per contact, one definition for every N, the dilatometer's:

    s(t) = (L0 - L(t)) / (N - 1),    L = the chain's length: the solid's extent along the chain,

between the outermost crossings of rho = 1/2 (interpolated between cells) of the density profile
(its maximum across the chain). The centres' version, L = distance between the end grains'
centres (a grain's centre being its own field's eta-weighted centroid over the cells within one
particle spacing of it), is kept as ``shrinkage_per_contact_centres_nm``, with the spacing of
every pair of neighbours (where along the chain the shrinkage happens): it mixes in the end
grains' change of shape (surface diffusion moves each end grain's centroid towards its one neck;
interior grains are symmetric), which the per-contact value divides by N - 1.

Default parameters and why:

* ``gb_diffusivity_m2_s = 2.6e-16`` (internal M_gb ~ M_surf; the preset's 5e-20 gives 2e-4):
  boundary diffusion is what shrinks a chain after the pull-in (it carries the boundaries'
  matter to the necks and the grains follow), so the dependence on N shows there; with surface
  diffusion dominating only the first pull-in shrinks it (``--gb-diffusivity 0``);
* ``gb_mobility_m4_Js = 1e-16`` (internal L = 0.0034): with the preset's "boundaries relax fast"
  (L = 1) the end grains eat the interior ones (N = 4: interior grains 14.7 -> 9.7 nm^2 in 0.1 s),
  which moves material by grain growth, not by shrinkage;
* a no-motion baseline of every chain (``--no-baseline`` skips it).

Measured (energy force, fast limit, defaults; 86 s on 2 cores, the slow test), per contact
N = 2, 4, 8: 0.818, 0.766, 0.716 nm at 0.01 s (14.2 %, the pull-in), 1.210, 1.181, 1.079 at
0.05 s (12.1 %), 1.498, 1.503, 1.371 at 0.1 s (9.6 %). The figures below were measured before
the motion's sums covered the grains' tails (docs/physics.md, "The grain's region"; then 0.05 s
and 0.1 s gave 7.5 % and 5.6 %): without motion 0.038, 0.014, 0.006 nm at 0.1 s. With the
grains relaxed one at a time against their own stiffness (the motion's first version, before
the coupled solve): 1.511, 1.434, 1.047 nm at 0.1 s (44 %). Surface diffusion dominating
(``--gb-diffusivity 0``): 0.461, 0.415, 0.401 nm at 0.1 s (15 %; without motion the pair
shrinks 0.030 nm). The centres' version follows every grain since the tracker prefers a
grain's own field (N = 8: 1.413 nm at 0.1 s); before, it was NaN for N = 8: the end grains moved
2.5 nm (10 cells) in the first 0.01 s, mostly into their neighbours' old cells, and matching by
overlap alone gave them new ids.

``--density-stiffness s`` sets ``[motion] density_stiffness`` (`sintersim.model.DensityBounds`):
with 10 the spread was 11.9 % at 0.05 s and 15.6 % at 0.1 s (1.250, 1.295, 1.120 nm); with 100
N = 2, 4 gave 0.918, 0.915 nm at 0.1 s (5 and 8 min) and N = 8 had not reached 0.01 s in 9 min.

Writes into --out: one run directory per N and case (config.toml, particles.csv, run.h5,
observables.csv, grains.csv), chain_shrinkage.json and chain_shrinkage.png.

    python scripts/chain_shrinkage.py --out out/chain_shrinkage
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np

import sintersim as ss

DEFAULTS = {
    "counts": [2, 4, 8],
    "radius_cells": 10.0,
    "spacing_nm": 0.25,
    "width_nm": 1.0,
    "gap_cells": -1.0,
    "end_vapour_cells": 24,
    "across_cells": 40,
    "end_s": 0.1,
    "n_saves": 10,
    "save_spacing": "linear",
    "temperature_K": 423.15,
    "gb_mobility_m4_Js": 1e-16,
    "gb_diffusivity_m2_s": 2.6e-16,
    "force": None,  # None: the config's default
    "density_stiffness": None,  # None: the config's default
    "mobility_m5_Js": None,  # None: the fast limit
    "dt_internal": None,  # set: fixed steps of this size (time.adaptive = false)
}


def chain_box(n: int, p: dict) -> tuple[list[int], np.ndarray]:
    """(grid shape, centres in cells) of a free chain of n particles along axis 0, centred."""
    a = 2 * p["radius_cells"] + p["gap_cells"]
    nx = int(round((n - 1) * a + 2 * p["radius_cells"] + 2 * p["end_vapour_cells"]))
    ny = int(p["across_cells"])
    x0 = nx / 2 - (n - 1) * a / 2
    centres = np.stack([x0 + a * np.arange(n), np.full(n, ny / 2)], axis=1)
    return [nx, ny], centres


def config_text(shape: list[int], p: dict, motion: bool) -> str:
    dx = p["spacing_nm"]
    lines = [
        "[material]",
        'preset = "PbSe"',
        f"temperature_K = {p['temperature_K']}",
    ]
    if p["gb_mobility_m4_Js"]:
        lines.append(f"gb_mobility_m4_Js = {p['gb_mobility_m4_Js']:g}")
    if p["gb_diffusivity_m2_s"]:
        lines.append(f"gb_diffusivity_m2_s = {p['gb_diffusivity_m2_s']:g}")
    lines += [
        "",
        "[model]",
        f"interface_width_nm = {p['width_nm']}",
        "",
        "[grid]",
        f"shape = [{shape[0]}, {shape[1]}]",
        f"spacing_nm = {dx}",
        'dtype = "float32"',
        "",
        "[particles]",
        'layout = "file"',
        'file = "particles.csv"',
        f"radius_nm = {p['radius_cells'] * dx:g}",
        "",
        "[time]",
        f"end_s = {p['end_s']:g}",
        f"n_saves = {p['n_saves']}",
        f'save_spacing = "{p["save_spacing"]}"',
    ]
    if p["dt_internal"]:
        lines += ["adaptive = false", f"dt_internal = {p['dt_internal']:g}"]
    lines += ["", "[motion]", f"enabled = {'true' if motion else 'false'}"]
    if motion and p["force"]:
        lines.append(f'force = "{p["force"]}"')
    if motion and p["mobility_m5_Js"]:
        lines.append(f"translational_mobility_m5_Js = {p['mobility_m5_Js']:g}")
    if motion and p["density_stiffness"] is not None:
        lines.append(f"density_stiffness = {p['density_stiffness']:g}")
    return "\n".join(lines) + "\n"


def write_run_inputs(run: Path, n: int, p: dict, motion: bool = True) -> Path:
    """config.toml and particles.csv of the chain of n particles in ``run``; the config path."""
    run.mkdir(parents=True, exist_ok=True)
    shape, centres = chain_box(n, p)
    dx = p["spacing_nm"]
    with open(run / "particles.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["x_nm", "y_nm", "radius_nm"])
        for c in centres:
            w.writerow([f"{c[0] * dx:.6f}", f"{c[1] * dx:.6f}", f"{p['radius_cells'] * dx:.6f}"])
    (run / "config.toml").write_text(config_text(shape, p, motion))
    return run / "config.toml"


def _grain_table(run: Path) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in ss.io.read_csv(run / "grains.csv").items()}


def frame_measures(
    run: Path, n: int, spacing_cells: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(times s, (frames, n, 2) centres nm, (frames,) chain length nm), one read of each frame.

    Centres of grains 0..n-1: eta of the grain's field weighted over the cells within one
    spacing (along the chain) of its grains.csv centre. Length: `solid_extent` of rho."""
    g = _grain_table(run)
    h5 = run / "run.h5"
    info = ss.io.read_run(h5)
    dx = float(info["attrs"]["dx_nm"])
    frames = int(info["n_frames"])
    times = np.asarray(info["observables"]["time_s"], float)[:frames]
    out = np.full((frames, n, 2), np.nan)
    lengths = np.full(frames, np.nan)
    for i in range(frames):
        rho, eta = ss.io.read_frame(h5, i)
        lengths[i] = solid_extent(np.asarray(rho, float), dx)
        nx, ny = eta.shape[1:]
        x, y = (np.arange(nx) + 0.5) * dx, (np.arange(ny) + 0.5) * dx
        for k in range(n):
            sel = (g["frame"] == i) & (g["grain_id"] == k)
            if not np.any(sel):  # the grain is gone (merged)
                continue
            f, xc = int(g["field"][sel][0]), float(g["x_nm"][sel][0])
            w = (np.abs(x - xc) < spacing_cells * dx)[:, None] * eta[f]
            out[i, k] = [(w.sum(1) * x).sum() / w.sum(), (w.sum(0) * y).sum() / w.sum()]
    return times, out, lengths


def solid_extent(rho: np.ndarray, dx: float) -> float:
    """Length (nm) of the solid along axis 0: between the outermost crossings of rho = 1/2 of
    the profile max over the other axes, linearly interpolated between cells (what a
    dilatometer or a micrograph's end-to-end measure sees)."""
    prof = rho.reshape(rho.shape[0], -1).max(axis=1)
    solid = np.flatnonzero(prof >= 0.5)
    if solid.size == 0:
        return float("nan")
    i, j = int(solid[0]), int(solid[-1])
    # crossings at sub-cell resolution: cell centres at (k + 1/2) dx, rho linear between them
    left = i - (prof[i] - 0.5) / (prof[i] - prof[i - 1]) if i > 0 else 0.0
    right = j + (prof[j] - 0.5) / (prof[j] - prof[j + 1]) if j + 1 < prof.size else prof.size
    return float((right - left) * dx)


def core_centres(run: Path, n: int, frames: int) -> np.ndarray:
    """(frames, n, 2) centres nm of grains 0..n-1 from grains.csv (centroids of eta > 1/2)."""
    g = _grain_table(run)
    out = np.full((frames, n, 2), np.nan)
    for i in range(frames):
        for k in range(n):
            s = (g["frame"] == i) & (g["grain_id"] == k)
            if np.any(s):
                out[i, k] = [g["x_nm"][s][0], g["y_nm"][s][0]]
    return out


def per_contact(length: np.ndarray, n: int) -> np.ndarray:
    """(L0 - L(t)) / (N - 1) from the (frames,) lengths L."""
    return (length[0] - length) / (n - 1)


def end_distance(centres: np.ndarray) -> np.ndarray:
    """(frames,) distance between the end grains' centres of (frames, n, 2) centres."""
    return np.linalg.norm(centres[:, -1] - centres[:, 0], axis=-1)


def run_chain(run: Path, n: int, p: dict, motion: bool = True) -> dict:
    """Run one chain; its shrinkage per contact and what explains it."""
    setup = ss.build(ss.load_config(write_run_inputs(run, n, p, motion)))
    fields = np.asarray(setup.particle_fields)
    if np.any(fields[2:] == fields[:-2]) or np.any(fields[1:] == fields[:-1]):
        # a grain's centre is its field's centroid within one spacing: needs k +- 1, 2 elsewhere
        raise ValueError(f"N = {n}: grains within two spacings share a field: {fields}")
    kin = [type(k).__name__ + repr_fields(k) for k in setup.model.kinetics]
    t0 = time.perf_counter()
    outcome = ss.simulate(setup, run, log=lambda m: None)
    wall = time.perf_counter() - t0
    a = 2 * p["radius_cells"] + p["gap_cells"]
    times, smooth, lengths = frame_measures(run, n, a)
    core = core_centres(run, n, len(times))
    spacing = np.linalg.norm(np.diff(smooth, axis=1), axis=-1)  # (frames, n - 1)
    rows = outcome.rows
    return {
        "n": n,
        "motion": motion,
        "status": outcome.status,
        "kinetics": kin,
        "grid_shape": list(setup.grid.shape),
        "fields": fields.tolist(),
        "steps": int(rows[-1]["steps"]),
        "wall_s": wall,
        "time_s": times.tolist(),
        "shrinkage_per_contact_nm": per_contact(lengths, n).tolist(),
        "length_nm": lengths.tolist(),
        "shrinkage_per_contact_centres_nm": per_contact(end_distance(smooth), n).tolist(),
        "shrinkage_per_contact_core_nm": per_contact(end_distance(core), n).tolist(),
        "neighbour_spacing_nm": spacing.tolist(),
        "grain_count": [r["grain_count"] for r in rows],
        "neck_mean_nm": [r["neck_mean_nm"] for r in rows],
    }


def repr_fields(k) -> str:
    """The kinetics' settings that matter here (force, mobilities)."""
    keys = ("force", "m_t", "m_r", "rho0", "stabiliser")
    return "(" + ", ".join(f"{a}={getattr(k, a)!r}" for a in keys if hasattr(k, a)) + ")"


def spread(values) -> float:
    """max / min - 1 (NaN unless every value is a positive number)."""
    v = np.asarray(values, float)
    if v.size == 0 or not np.all(np.isfinite(v)) or v.min() <= 0:
        return float("nan")
    return float(v.max() / v.min() - 1.0)


def _at(r: dict, i: int) -> float:
    s = r["shrinkage_per_contact_nm"]
    return s[i] if i < len(s) else float("nan")


def summarise(results: list[dict], n_saves: int) -> dict:
    """Spread across N at the final and the mid save-point (index n_saves // 2)."""
    mid, last = n_saves // 2, n_saves
    return {
        "mid_index": mid,
        "final_index": last,
        "mid_spread": spread([_at(r, mid) for r in results]),
        "final_spread": spread([_at(r, last) for r in results]),
    }


def table(results: list[dict], times: list[float]) -> str:
    head = "t (s)     " + "".join(f"  N={r['n']:<2d}(nm)" for r in results) + "   spread"
    lines = [head]
    for i, t in enumerate(times):
        vals = [_at(r, i) for r in results]
        sp = f"{spread(vals):7.1%}" if i else "       "
        lines.append(f"{t:<10.4g}" + "".join(f"  {v:9.4f}" for v in vals) + f"  {sp}")
    return "\n".join(lines)


def plot(results: list[dict], baseline: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.2))
    for j, r in enumerate(results):
        c = f"C{j}"
        ax.plot(r["time_s"], r["shrinkage_per_contact_nm"], "o-", color=c, label=f"N = {r['n']}")
    for j, r in enumerate(baseline):
        c = f"C{j}"
        ax.plot(
            r["time_s"],
            r["shrinkage_per_contact_nm"],
            "--",
            color=c,
            label=f"N = {r['n']}, no motion",
        )
    ax.set_xlabel("time (s)")
    ax.set_ylabel("shrinkage per contact (L0 - L) / (N - 1) (nm)")
    ax.set_title("free 2D chains, L = length of the chain")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def study(out: Path, p: dict, counts, baseline: bool = True, log=print) -> dict:
    """Run every chain (and its no-motion baseline); the document chain_shrinkage.json holds."""
    results, base = [], []
    for motion in (True, False) if baseline else (True,):
        for n in counts:
            name = f"N{n}" if motion else f"N{n}_no_motion"
            r = run_chain(out / name, n, p, motion)
            log(
                f"{name}: grid {r['grid_shape']}, fields {r['fields']}, {r['steps']} steps, "
                f"{r['wall_s']:.1f} s, {r['status']}; {', '.join(r['kinetics']) or 'no motion'}"
            )
            (results if motion else base).append(r)
    times = max((r["time_s"] for r in results), key=len)
    doc = {
        "parameters": p,
        "definition": "(L0 - L(t)) / (N - 1), L = the solid's extent along the chain "
        "(outermost rho = 1/2 crossings of the density profile's maximum across the chain)",
        "time_s": times,
        "runs": results,
        "no_motion": base,
        "summary": summarise(results, p["n_saves"]),
    }
    if base:
        doc["summary_no_motion"] = summarise(base, p["n_saves"])
    return doc


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--counts", type=int, nargs="+", default=DEFAULTS["counts"])
    ap.add_argument("--radius-cells", type=float, default=DEFAULTS["radius_cells"])
    ap.add_argument("--end-s", type=float, default=DEFAULTS["end_s"])
    ap.add_argument("--n-saves", type=int, default=DEFAULTS["n_saves"])
    ap.add_argument("--spacing", choices=("linear", "log"), default=DEFAULTS["save_spacing"])
    ap.add_argument(
        "--gb-mobility",
        type=float,
        default=DEFAULTS["gb_mobility_m4_Js"],
        help="m^4/(J s); 0: the preset's (boundaries relax fast)",
    )
    ap.add_argument(
        "--gb-diffusivity",
        type=float,
        default=DEFAULTS["gb_diffusivity_m2_s"],
        help="D_gb, m^2/s (0: the preset's, 5e-20 at this temperature: surface diffusion "
        "dominates and only the pull-in shrinks the chain)",
    )
    ap.add_argument("--force", choices=("wang", "energy"), default=None)
    ap.add_argument("--mobility", type=float, default=None, help="m_t, m^5/(J s); default fast")
    ap.add_argument(
        "--density-stiffness", type=float, default=None, help="motion.density_stiffness (s)"
    )
    ap.add_argument("--dt-internal", type=float, default=None, help="fixed steps of this size")
    ap.add_argument("--no-baseline", action="store_true", help="skip the no-motion runs")
    args = ap.parse_args(argv)
    p = dict(DEFAULTS)
    p.update(
        counts=args.counts,
        radius_cells=args.radius_cells,
        end_s=args.end_s,
        n_saves=args.n_saves,
        save_spacing=args.spacing,
        gb_mobility_m4_Js=args.gb_mobility or None,
        gb_diffusivity_m2_s=args.gb_diffusivity or None,
        force=args.force,
        mobility_m5_Js=args.mobility,
        density_stiffness=args.density_stiffness,
        dt_internal=args.dt_internal,
    )
    t0 = time.perf_counter()
    doc = study(args.out, p, args.counts, baseline=not args.no_baseline)
    print("\nshrinkage per contact (L0 - L) / (N - 1), with motion:")
    print(table(doc["runs"], doc["time_s"]))
    if doc["no_motion"]:
        print("\nwithout motion:")
        print(table(doc["no_motion"], doc["time_s"]))
    s = doc["summary"]
    t = doc["time_s"]
    mid_t = t[s["mid_index"]] if s["mid_index"] < len(t) else float("nan")
    end_t = t[s["final_index"]] if s["final_index"] < len(t) else float("nan")
    print(
        f"\nspread across N (max/min - 1): mid t = {mid_t:g} s: {s['mid_spread']:.1%}, "
        f"final t = {end_t:g} s: {s['final_spread']:.1%} (requirement: <= 10 %)"
    )
    failed = [r for r in doc["runs"] if r["status"] != "complete"]
    for r in failed:
        print(f"N = {r['n']}: {r['status']}")
    doc["wall_s"] = time.perf_counter() - t0
    (args.out / "chain_shrinkage.json").write_text(json.dumps(doc, indent=1))
    plot(doc["runs"], doc["no_motion"], args.out / "chain_shrinkage.png")
    print(f"wrote {args.out / 'chain_shrinkage.json'}, chain_shrinkage.png ({doc['wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
