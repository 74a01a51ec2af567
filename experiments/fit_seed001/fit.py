"""Fit the PbSe surface diffusivity to the neck-growth numbers of seed 001.

    python experiments/fit_seed001/fit.py            # full (a few minutes on 2 cores)
    python experiments/fit_seed001/fit.py --quick    # coarser time step, fewer iterations

Data: experiments/data/seed001_pbse_neck.csv (0.9 nm at t = 0, 3.0 nm at 15 s, 2.7 nm at 20 s,
all stated in the paper). Only ``surface_diffusivity`` is fitted: three points, one of which (t = 0)
is fixed by the initial geometry, cannot support more. The contact time is fixed by the initial
gap (initial neck 0.90 nm = the paper's critical nucleus), so no time offset is fitted.

Steps
1. Bracket: starting from the PbSe preset at the assumed 298.15 K, raise D_s by half-decades
   (forward runs of the fit's own model, ``lm_steps=0``) until the neck at 15 s passes the data.
   A forward run costs steps ~ D_s (the internal time unit is set by the config's D_s), hence the
   march from below instead of a wide grid.
2. Levenberg-Marquardt on log D_s with the config's D_s set to the bracket's best value (so the
   internal time step is right for the values tried), bounds a factor 10 either side.
3. Re-centre: if the fit moved D_s by more than 1.5x, set the config to the fitted value and fit
   again (the time step then matches the answer).
4. Check: run the fitted config with ``python -m sintersim run`` (centre distance, neck).

Outputs in experiments/fit_seed001/out/: fit.json, fit.png, results.md, config.fitted.toml,
run_fitted/ (CLI run of the fitted config).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

import sintersim
from sintersim.scenario import load_config

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # experiments/: seedlib
import seedlib  # noqa: E402
from seedlib import qualitative  # noqa: E402

DATA = HERE.parent / "data" / "seed001_pbse_neck.csv"
PARAM = "surface_diffusivity"


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def with_ds(base, ds: float, dt_internal: float | None = None):
    """The base config with material.surface_diffusivity_m2_s (and optionally dt) replaced.
    `RunConfig.replace` keeps what the file gave: a fit's forward model takes adaptive steps only
    when the config asks for them explicitly (`sintersim.fit`'s `_TraceSim.adaptive`), which the
    validated values, with every default filled in, would always do."""
    time_ = {} if dt_internal is None else {"dt_internal": dt_internal}
    return base.replace(material={"surface_diffusivity_m2_s": float(ds)}, time=time_)


def neck_at(result, t_s: float) -> float:
    c = result.curves[0]
    return float(np.interp(t_s, c["time_s"], c["neck_nm"]))


def forward(trace, cfg, ds: float):
    """Loss and curve at D_s = ds (no optimisation), with the fit's own forward model."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # identifiability notes are meaningless at lm_steps=0
        return sintersim.fit.fit([trace], cfg, [PARAM], init={PARAM: ds}, lm_steps=0)


def lm_fit(trace, cfg, ds: float, lm_steps: int, n_dense: int):
    def progress(it, loss):
        log(f"    LM step {it:3d}  loss = {loss:.5g}")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = sintersim.fit.fit(
            [trace],
            cfg,
            [PARAM],
            init={PARAM: ds},
            bounds={PARAM: (ds / 10, ds * 10)},
            lm_steps=lm_steps,
            progress=progress,
            n_dense=n_dense,
        )
    for w in caught:
        log(f"    warning: {w.message}")
    return res


def agreement(sim: float, paper: float, sigma: float) -> str:
    z = (sim - paper) / sigma
    verdict = "within 1 sigma" if abs(z) <= 1 else "within 2 sigma" if abs(z) <= 2 else "off"
    return f"{verdict} ({z:+.2f} sigma)"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="dt_internal 0.5, <= 10 LM steps")
    ap.add_argument(
        "--adaptive",
        action="store_true",
        help="frozen error-controlled steps ([time] adaptive = true) instead of the fixed "
        "dt_internal",
    )
    ap.add_argument("--out", type=Path, default=HERE / "out")
    ap.add_argument("--config", type=Path, default=HERE / "config.toml")
    ap.add_argument("--trace", type=Path, default=DATA)
    args = ap.parse_args(argv)
    t_start = time.time()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)

    trace = sintersim.fit.read_trace(args.trace)
    base_cfg = load_config(args.config)
    base_raw = base_cfg  # replaced per D_s by with_ds
    if args.adaptive:
        base_raw = base_cfg.replace(time={"adaptive": True})
    dt = 0.5 if args.quick else None
    lm_steps = 10 if args.quick else 30
    n_dense = 24 if args.quick else 48
    phys = base_cfg.physical_parameters()
    ds_preset = phys.surface_diffusivity
    t15, t20 = 15.0, 20.0
    log(
        f"data {args.trace.name}: t = {trace.time_s.tolist()} s, neck = {trace.neck_nm.tolist()} nm"
    )
    log(
        f"PbSe preset at the assumed {phys.temperature_K} K: D_s = {ds_preset:.3g} m^2/s "
        f"(a guess, see `sintersim materials PbSe`); mode = {'quick' if args.quick else 'full'}"
    )

    # 1. Bracket from the preset upwards.
    log("step 1: bracket D_s by half-decades from the preset")
    scan = []
    ds = ds_preset
    while True:
        t0 = time.time()
        r = forward(trace, with_ds(base_raw, ds, dt), ds)
        x15 = neck_at(r, t15)
        scan.append({"D_s": ds, "loss": r.loss, "neck_15s_nm": x15, "neck_20s_nm": neck_at(r, t20)})
        secs = time.time() - t0
        log(f"    D_s = {ds:.3g}: neck(15 s) = {x15:.3f} nm, loss = {r.loss:.4g} ({secs:.0f} s)")
        if x15 > trace.neck_nm[1] or len(scan) >= 12:
            break
        ds *= math.sqrt(10)
    if scan[-1]["neck_15s_nm"] <= trace.neck_nm[1]:
        log("ERROR: the neck never reached the data within 10^5.5 x the preset; giving up")
        return 1
    best = min(scan, key=lambda s: s["loss"])
    centre = best["D_s"]
    log(f"    best of the scan: D_s = {centre:.3g} m^2/s (loss {best['loss']:.4g})")

    # 2./3. LM, re-centred until the config's D_s matches the fitted value within 1.5x.
    stages = []
    for stage in range(3):
        log(f"step {2 + stage}: Levenberg-Marquardt, config D_s = {centre:.3g} m^2/s")
        cfg = with_ds(base_raw, centre, dt)
        t0 = time.time()
        res = lm_fit(trace, cfg, centre, lm_steps, n_dense)
        val = res.values[PARAM]
        stages.append({"config_D_s": centre, "fitted_D_s": val, "seconds": time.time() - t0})
        log(f"    D_s = {val:.4g} +- {res.stderr[PARAM]:.2g} m^2/s ({time.time() - t0:.0f} s)")
        if args.quick or abs(math.log(val / centre)) < math.log(1.5):
            break
        centre = val
    ds_fit, ds_err = res.values[PARAM], res.stderr[PARAM]
    x0_sim = float(res.curves[0]["neck_nm"][0])
    x15_sim, x20_sim = neck_at(res, t15), neck_at(res, t20)

    # 4. Check run of the fitted config through the CLI (float64, same grid and time step).
    fitted_cfg = with_ds(base_raw, ds_fit, dt)
    (out / "config.fitted.toml").write_text(
        f"# {args.config.name} with the fitted D_s (fit.py)\n" + fitted_cfg.to_toml()
    )
    run_dir = out / "run_fitted"
    if run_dir.exists():  # our own previous check run; `sintersim run` refuses to overwrite
        shutil.rmtree(run_dir)
    log("step: check run `python -m sintersim run out/config.fitted.toml`")
    cp = subprocess.run(
        [sys.executable, "-m", "sintersim", "run", str(out / "config.fitted.toml")]
        + ["--out", str(run_dir)],
        capture_output=True,
        text=True,
    )
    check = {}
    if cp.returncode == 0:
        obs = np.genfromtxt(run_dir / "observables.csv", delimiter=",", names=True)
        check = {
            "neck_15s_nm": float(np.interp(t15, obs["time_s"], obs["neck_width_nm"])),
            "neck_20s_nm": float(np.interp(t20, obs["time_s"], obs["neck_width_nm"])),
            "centre_distance_0_nm": float(obs["centre_distance_nm"][0]),
            "centre_distance_20s_nm": float(
                np.interp(t20, obs["time_s"], obs["centre_distance_nm"])
            ),
        }
        log(f"    check run: {check}")
    else:
        log(f"    check run failed (exit {cp.returncode}): {cp.stderr[-500:]}")

    wall = time.time() - t_start
    summary = res.to_json()
    summary.update(
        {
            "data": str(args.trace.relative_to(HERE.parent.parent)),
            "mode": "quick" if args.quick else "full",
            "assumed_temperature_K": phys.temperature_K,
            "interface_width_nm": base_cfg["model"]["interface_width_nm"],
            "preset_surface_diffusivity_m2_s": ds_preset,
            "scan": scan,
            "stages": stages,
            "neck_sim_nm": {"0": x0_sim, "15": x15_sim, "20": x20_sim},
            "check_run": check,
            "wall_time_s": wall,
        }
    )
    (out / "fit.json").write_text(json.dumps(summary, indent=2) + "\n")
    make_plot(out / "fit.png", trace, res, scan, ds_preset)
    write_results(out / "results.md", trace, res, ds_preset, phys, base_cfg, check, wall, args)
    log(f"D_s = {ds_fit:.4g} +- {ds_err:.2g} m^2/s; wall time {wall:.0f} s; outputs in {out}")
    return 0


def make_plot(path, trace, res, scan, ds_preset):
    from sintersim.plot import plt  # headless backend, as for every sintersim figure

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    c = res.curves[0]
    a1.errorbar(
        trace.time_s,
        trace.neck_nm,
        yerr=trace.sigma_nm,
        fmt="o",
        capsize=3,
        color="k",
        label="seed 001 (stated values)",
    )
    a1.plot(
        c["time_s"],
        c["neck_nm"],
        "-",
        color="C0",
        label=f"fit: D_s = {res.values[PARAM]:.3g} ± {res.stderr[PARAM]:.1g} m²/s",
    )
    a1.set_xlabel("time since the 0.9 nm nucleus (s)")
    a1.set_ylabel("neck width (nm; 2D sim vs projected TEM)")
    a1.set_ylim(0, 4)
    a1.grid(alpha=0.3)
    a1.legend(fontsize=8, loc="lower right")
    a1.set_title("PbSe, 2D two-particle, R = 3.1 nm, T = 298 K (assumed)", fontsize=9)
    d = np.array([s["D_s"] for s in scan])
    a2.loglog(d, [s["loss"] for s in scan], "o-", label="bracketing scan")
    a2.axvline(ds_preset, color="gray", ls=":", label="preset at 298 K")
    a2.axvline(res.values[PARAM], color="C0", ls="--", label="fitted")
    a2.set_xlabel("D_s (m²/s)")
    a2.set_ylabel("loss = ½ χ²")
    a2.grid(alpha=0.3, which="both")
    a2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_results(path, trace, res, ds_preset, phys, cfg, check, wall, args):
    ds, err = res.values[PARAM], res.stderr[PARAM]
    c = res.curves[0]
    x0, x15, x20 = float(c["neck_nm"][0]), neck_at(res, 15.0), neck_at(res, 20.0)
    s0, s15, s20 = trace.sigma_nm
    g = cfg["particles"]["gap_nm"]
    rows = [
        (
            "Neck width at t = 0 (nucleus)",
            "0.9 nm (critical size)",
            f"{x0:.2f} nm (set by gap {g} nm)",
            agreement(x0, 0.9, s0),
        ),
        (
            "Neck width at 15 s",
            "3 nm in ~15 s (abstract), sigma 0.4",
            f"{x15:.2f} nm",
            agreement(x15, 3.0, s15),
        ),
        (
            "Neck width at 20 s",
            "~2.7 nm in 20 s (Movie ESM4), sigma 0.5",
            f"{x20:.2f} nm",
            agreement(x20, 2.7, s20),
        ),
        (
            "Surface diffusivity D_s (fitted)",
            "not stated",
            f"{ds:.3g} ± {err:.2g} m^2/s (rel. {err / ds:.0%})",
            "fitted (1 parameter, 3 points)",
        ),
        (
            "D_s, PbSe preset at 298.15 K (start of the scan)",
            "-",
            f"{ds_preset:.3g} m^2/s (guess)",
            f"fit / preset = {ds / ds_preset:.3g}",
        ),
        (
            "chi^2 / dof",
            "-",
            f"{res.chi2_reduced:.2f} (dof = {res.n_data - 1})",
            ("< 1: the sigmas (judgments) are generous" if res.chi2_reduced < 1 else ">= 1")
            + (
                "; 15 s and 20 s pull opposite ways"
                if (x15 - 3.0) * (x20 - 2.7) < 0
                else "; 15 s and 20 s pull the same way"
            ),
        ),
        ("Temperature", "not stated (liquid cell, ambient implied)", "298.15 K assumed", "-"),
    ]
    if check:
        d0, d20 = check["centre_distance_0_nm"], check["centre_distance_20s_nm"]
        rows.append(
            (
                "Centre-to-centre change, 0 -> 20 s",
                'centres "barely change position"',
                f"{d20 - d0:+.2f} nm ({d0:.2f} -> {d20:.2f} nm)",
                qualitative(abs(d20 - d0) < g / 2, f"/change/ < half the gap ({g / 2:g} nm)"),
            )
        )
        off = max(abs(check["neck_15s_nm"] - x15), abs(check["neck_20s_nm"] - x20))
        rows.append(
            (
                "Neck at 15 / 20 s, CLI re-run of the fitted config",
                "3.0 / 2.7 nm",
                f"{check['neck_15s_nm']:.2f} / {check['neck_20s_nm']:.2f} nm",
                qualitative(
                    off <= 0.05, f"the fit's forward model within 0.05 nm (off by {off:.3f} nm)"
                ),
            )
        )
    lines = [
        "# Seed 001 (PbSe necking): surface-diffusivity fit",
        "",
        f"Command: `python experiments/fit_seed001/fit.py{' --quick' if args.quick else ''}` "
        f"(wall time {wall:.0f} s). Data: `experiments/data/seed001_pbse_neck.csv`.",
        "",
        "| quantity | seed value | simulated/fitted value | agreement |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c_} | {d} |" for a, b, c_, d in rows),
        "",
        f"D_s = **{ds:.3g} ± {err:.2g} m^2/s** (Gauss-Newton standard error from the stated-value "
        "sigmas, which are judgments; see the data file)."
        + "".join(
            f" The loss includes the material preset's log-normal prior on {n}: centre "
            f"{c:.3g}, {sg:g} decades (a guess, `sintersim materials PbSe`); the data pull "
            f"{math.log10(ds / c):.2f} decades away from it."
            for n, (c, sg, src) in res.priors.items()
            if src == "preset"
        ),
        "",
        "Caveats:",
        "",
        f"- Valid only for the assumed model: T = {phys.temperature_K} K, surface energy "
        f"{phys.surface_energy} J/m^2, surface layer {phys.surface_layer_nm} nm, interface width "
        f"{cfg['model']['interface_width_nm']} nm, 2D. The data fix D_s * delta_s * gamma_s * "
        "Omega / (k_B T): another temperature scales the fitted D_s by T / 298.15 K.",
        "- The 15 s and 20 s values are two statements of the same growth and disagree if read "
        "literally (3.0 nm at 15 s, 2.7 nm at 20 s); the fit compromises between them.",
        "- The paper's neck bridges a 0.6 nm gap between faceted crystals; here two discs with "
        "diffuse (1 nm) surfaces start from overlapping tails. Paper widths are projected widths.",
        f"- The simulated neck jumps from {x0:.2f} to {neck_at(res, 0.5):.2f} nm in the first "
        "0.5 s (relaxation of the diffuse-tail contact), faster than the paper's gradual "
        "widening; the t = 0 match is by construction, the fit is carried by 15 s and 20 s.",
        "- The preset D_s is itself a guess (no PbSe surface-diffusion data); the ratio fit/preset "
        "measures that guess, not a physical discrepancy.",
    ]
    Path(path).write_text("\n".join(lines) + "\n")
    columns = ("quantity", "seed value", "simulated/fitted value", "agreement")
    seedlib.write_summary(
        path,
        setting="quick" if args.quick else "full",
        tables={"results": seedlib.table_of(columns, rows)},
        notes=[ln for ln in lines[7 + len(rows) :] if ln],
    )


if __name__ == "__main__":
    sys.exit(main())
