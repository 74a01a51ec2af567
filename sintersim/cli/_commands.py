"""The commands of the CLI (`sintersim.cli` parses the arguments and maps errors to exit codes)."""

from __future__ import annotations

import json
import sys
import time
from importlib import resources
from pathlib import Path

from sintersim._version import __version__
from sintersim.io import RunFileError
from sintersim.scenario._config import load_config
from sintersim.scenario._schema import ConfigError


def _demo_config_path() -> Path:
    return Path(str(resources.files("sintersim") / "data" / "demo.toml"))


class _Progress:
    """tqdm bar over simulated time, updated once per save-point (no per-step host sync)."""

    def __init__(self, t_start: float, t_end: float, quiet: bool):
        self.bar = None
        if not quiet:
            from tqdm import tqdm

            self.bar = tqdm(
                total=t_end,
                initial=t_start,
                desc="simulating",
                unit="t",
                bar_format="{l_bar}{bar}| {n:.4g}/{total:.4g} [{elapsed}<{remaining}]",
            )

    def __call__(self, t: float) -> None:
        if self.bar is not None:
            self.bar.update(t - self.bar.n)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _figures(out: Path, quiet: bool = True) -> list[Path]:
    """(Re)make the PNGs of a run directory from its run.h5."""
    import numpy as np

    from sintersim.io import read_frame, read_grain_ids, read_run
    from sintersim.plot import plot_fields, plot_neck, plot_packing

    info = read_run(out / "run.h5")
    if info["n_frames"] == 0:
        raise RunFileError(f"{out / 'run.h5'} holds no complete frame to plot yet")
    obs = info["observables"]
    rows = [{k: float(v[i]) for k, v in obs.items()} for i in range(info["n_frames"])]
    cfg = info["attrs"]["config"]
    title = _title_from(cfg)
    if "neck_mean_nm" in obs:
        made = [plot_packing(rows, out / "packing.png", title)]
    else:
        made = [plot_neck(rows, out / "neck.png", title)]
    if info["has_fields"] and info["n_frames"] > 0:
        picks = sorted({0, info["n_frames"] // 2, info["n_frames"] - 1})
        for j, i in enumerate(picks):
            rho, eta = read_frame(out / "run.h5", i)
            made.append(
                plot_fields(
                    np.asarray(rho),
                    np.asarray(eta),
                    float(info["attrs"]["dx_nm"]),
                    out / f"fields_{j}.png",
                    f"{title}, t = {rows[i]['time_s']:.3g} s",
                    grain_id=read_grain_ids(out / "run.h5", i),
                )
            )
    elif info["checkpoint"] is not None:
        rho, eta = info["checkpoint"][:2]
        made.append(
            plot_fields(rho, eta, float(info["attrs"]["dx_nm"]), out / "fields_last.png", title)
        )
    return made


def _title_from(cfg_text: str) -> str:
    from sintersim.scenario._config import loads_config

    c = loads_config(cfg_text)
    layout = "" if c.particles.layout == "pair" else f", {c.particles.layout}"
    return f"{c['material']['preset']}, {c['material']['temperature_K']:g} K{layout}"


def _execute(setup, out: Path, quiet: bool, start=None, stop_after=None) -> int:
    from sintersim.scenario._run import simulate

    t_start = 0.0 if start is None else start[1]
    bar = _Progress(t_start, float(setup.schedule[-1]), quiet)
    t0 = time.perf_counter()
    try:
        res = simulate(
            setup,
            out,
            start=start,
            progress=bar,
            stop_after=stop_after,
            retries=setup.config.time.retries,
            log=(lambda m: None) if quiet else (lambda m: print(m, file=sys.stderr)),
        )
    finally:
        bar.close()
    _figures(out)
    rows = res.rows
    if res.status.startswith("failed"):
        print(f"sintersim: run stopped: {res.status[8:]}", file=sys.stderr)
    if not quiet:
        a, b = rows[0], rows[-1]
        if setup.is_pair:
            key = "neck_width_nm" if setup.grid.ndim == 2 else "neck_radius_nm"
            what = f"neck {key.split('_')[1]}: {a[key]:.3f} nm -> {b[key]:.3f} nm"
            figs = "neck.png"
        else:
            what = (
                f"{setup.packing.n} particles: grains {a['grain_count']:g} -> "
                f"{b['grain_count']:g}, mean neck {a['neck_mean_nm']:.3f} nm -> "
                f"{b['neck_mean_nm']:.3f} nm"
            )
            figs = "packing.png"
        steps = (
            f"{b['steps']:.0f} steps ({b['rejected_steps']:.0f} rejected); " if "steps" in b else ""
        )
        print(
            f"{what} at {b['time_s']:.4g} s; shrinkage {b['shrinkage']:.4f}; {steps}"
            f"wall time {time.perf_counter() - t0:.1f} s; status {res.status.split(':')[0]}"
        )
        print(
            f"outputs in {out.resolve()}: run.h5, run.xmf (ParaView, grain_id colours grains), "
            f"observables.csv, grains.csv, {figs}, fields_*.png, mapping.json"
        )
    return 3 if res.status.startswith("failed") else 0


def _load(config_path: Path, sets: list[str] | None):
    """The config file with ``--set SECTION.KEY=VALUE`` overrides (VALUE in TOML syntax: 1e-4,
    "random", [64, 64]; a bare word is a string), validated together."""
    from sintersim.scenario._config import tomllib

    cfg = load_config(config_path)
    changes: dict[str, dict] = {}
    for item in sets or []:
        name, sep, text = item.partition("=")
        section, dot, key = name.strip().partition(".")
        if not sep or not dot or not key:
            raise ConfigError(f"--set {item!r}: expected SECTION.KEY=VALUE, e.g. time.end_s=1e-4")
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            value = text.strip()
        changes.setdefault(section, {})[key] = value
    return cfg.replace(**changes) if changes else cfg


def _sweep(
    config_path: Path, out: Path, quiet: bool, params: list[str] | None, mode, sets=None
) -> int:
    """`sintersim sweep`: the config's [sweep] (and/or --param lists) as one vmapped program."""
    from sintersim.scenario._sweep import param_lists, run_sweep, sweep_members

    cfg = _load(config_path, sets)
    extra = param_lists(params or [])
    if extra or mode:
        sw = dict(cfg["sweep"])
        sw["parameters"] = {**(sw["parameters"] or {}), **extra}
        if mode:
            sw["mode"] = mode
        cfg = cfg.replace(sweep=sw)
    if (out / "summary.csv").exists():
        raise ConfigError(f"{out} already holds a sweep (summary.csv); choose another --out")
    members = sweep_members(cfg)  # every member validated before anything runs
    if not quiet:
        print(f"sintersim {__version__}: sweep of {len(members)} members ({cfg.sweep.mode})")
    t0 = time.perf_counter()
    bar = None
    if not quiet:
        from tqdm import tqdm

        bar = tqdm(desc="sweep", unit="save")

    def progress(done, total):
        if bar is not None:
            bar.total = total
            bar.update(done - bar.n)

    res = run_sweep(cfg, out, progress=progress, log=(lambda m: None) if quiet else print)
    if bar is not None:
        bar.close()
    failed = [m.index for m, st in zip(res.members, res.status, strict=True) if st != "complete"]
    if not quiet:
        print(
            f"{len(res.members)} members in {len(res.groups)} program(s), wall time "
            f"{time.perf_counter() - t0:.1f} s; outputs in {out.resolve()}: summary.csv, "
            "sweep.png, member_NNN/ (run.h5, observables.csv, ...)"
        )
    for i in failed:
        print(f"sintersim: member {i} stopped: {res.status[i][8:]}", file=sys.stderr)
    return 3 if failed else 0


def _run(
    config_path: Path, out: Path, quiet: bool, stop_after: int | None = None, sets=None
) -> int:
    cfg = _load(config_path, sets)
    if cfg.sweep.parameters is not None:
        return _sweep(config_path, out, quiet, None, None, sets)
    # Imported here so that `--help` and config errors answer without loading JAX.
    from sintersim.calibrate._units import check_mapping
    from sintersim.scenario._assemble import build

    if (out / "run.h5").exists():
        raise ConfigError(
            f"{out} already holds a run (run.h5); use `sintersim resume {out}` "
            "or choose another --out"
        )
    out.mkdir(parents=True, exist_ok=True)
    setup = build(cfg)
    sc = setup.nd.scales
    if not quiet:
        print(
            f"sintersim {__version__}: {cfg['material']['preset']} at "
            f"{cfg.temperature_schedule().describe()}, grid {setup.grid.shape}, "
            f"dx = {cfg['grid']['spacing_nm']:g} nm, t_end = {cfg['time']['end_s']:.4g} s "
            f"({setup.schedule[-1]:.4g} internal, dt = {setup.dt:.3g}, {sc.time_s:.3g} s per unit)",
            flush=True,
        )
    # Prove the unit mapping on this run's own grid: relax 1D profiles, measure, compare.
    mapping = check_mapping(setup.nd, cfg.physical_parameters())
    (out / "mapping.json").write_text(
        json.dumps(
            {k: {"requested": a, "measured": float(b)} for k, (a, b) in mapping.items()}, indent=2
        )
    )
    if not quiet:
        print(
            "unit mapping (requested -> measured on this grid): "
            + ", ".join(f"{k} {a:.4g} -> {float(b):.4g}" for k, (a, b) in mapping.items()),
            flush=True,
        )
    return _execute(setup, out, quiet, stop_after=stop_after)


def _resume(out: Path, end_s, dt_s, quiet: bool) -> int:
    from sintersim.scenario._run import load_for_resume

    _run_dir(out)
    for name, v in (("--end-s", end_s), ("--dt-s", dt_s)):
        if v is not None and not 0 < v < float("inf"):
            raise ConfigError(f"{name} = {v} must be a finite number > 0 (seconds)")
    try:
        setup, start = load_for_resume(out, end_s, dt_s)
    except ValueError as e:
        raise ConfigError(str(e)) from e
    if start[0] >= len(setup.schedule):
        if not quiet:
            print(f"{out}: already at its end time; pass --end-s to continue further")
        return 0
    if not quiet:
        t = setup.nd.scales.to_seconds(start[1])
        print(
            f"resuming {out} from frame {start[0]} (t = {t:.4g} s) to "
            f"{setup.nd.scales.to_seconds(setup.schedule[-1]):.4g} s"
        )
    return _execute(setup, out, quiet, start=start)


def _info(out: Path) -> int:
    from sintersim.io import read_run

    h5 = _run_dir(out)
    info = read_run(h5)
    a = info["attrs"]
    cfg = _stored_config(h5, a["config"])
    sched_end = float(info["schedule"][-1]) * a["time_s"]
    t_now = info["t_internal"] * a["time_s"]
    status = a["status"]
    if status == "running":
        status = "running, or killed (no clean exit recorded)"
    print(f"run:        {h5.resolve()}")
    print(f"version:    sintersim {a.get('version', '?')} (created {a.get('created', '?')})")
    print(f"status:     {status}")
    print(
        f"progress:   frame {info['n_frames'] - 1} of {len(info['schedule'])}, "
        f"t = {t_now:.6g} s of {sched_end:.6g} s"
    )
    g, tm, dt_s = cfg.grid, cfg.time, a.get("dt_internal", float("nan")) * a["time_s"]
    steps = f"adaptive {tm.scheme}" if tm.adaptive else f"fixed {tm.scheme}, dt = {dt_s:.4g} s"
    print(f"grid:       {g.shape} x {g.spacing_nm} nm, {g.dtype}, steps: {steps}")
    print(
        f"units:      length {a.get('length_m', 0):.4g} m, energy density "
        f"{a.get('energy_J_m3', 0):.4g} J/m^3, "
        f"time {a['time_s']:.4g} s (at the start temperature)"
    )
    print(f"temperature: {cfg.temperature_schedule().describe()}")
    obs = info["observables"]
    if "neck_mean_nm" in obs:
        n = len(info.get("particles", {}).get("radii_nm", []))
        print(f"particles:  {n} ({cfg.particles.layout}), {info.get('n_fields', '?')} fields")
        if info["n_frames"]:
            print(
                f"grains:     {obs['grain_count'][0]:.0f} -> {obs['grain_count'][-1]:.0f}; mean "
                f"neck {obs['neck_mean_nm'][0]:.4g} nm -> {obs['neck_mean_nm'][-1]:.4g} nm; "
                f"shrinkage {obs['shrinkage'][-1]:.4g}"
            )
    elif info["n_frames"]:
        key = "neck_width_nm" if "neck_width_nm" in obs else "neck_radius_nm"
        print(f"neck:       {obs[key][0]:.4g} nm -> {obs[key][-1]:.4g} nm")
    print("parameters:")
    for line in cfg.to_toml().splitlines():
        print(f"  {line}" if line else "")
    return 0


def _run_dir(out: Path) -> Path:
    """``out/run.h5``, or a `ConfigError` saying why the directory is not a run."""
    if not out.is_dir():
        raise ConfigError(f"{out}: no such run directory")
    h5 = out / "run.h5"
    if not h5.is_file():
        raise ConfigError(f"{out} holds no run.h5 (not a run directory)")
    return h5


def _stored_config(h5: Path, text: str):
    """The run's resolved config as stored in run.h5 (a damaged one is the file's fault)."""
    from sintersim.scenario._config import loads_config

    try:
        return loads_config(text)
    except ConfigError as e:
        raise RunFileError(f"{h5}: its stored config is damaged ({e})") from None


def _repair(out: Path) -> int:
    """`sintersim repair DIR`: clear a killed writer's flag, drop a half-written frame, rewrite
    the CSV/XDMF companions."""
    from sintersim.io import repair_run, rewrite_companions

    r = repair_run(_run_dir(out))
    written = rewrite_companions(out)
    what = "cleared the killed writer's flag; " if r.cleared else ""
    print(
        f"{out / 'run.h5'}: {what}{r.frames} complete frame(s) kept, {r.dropped} partial "
        f"row(s) dropped; status: {r.status}; rewrote " + ", ".join(p.name for p in written)
    )
    return 0


def _pairs(items: list[str] | None, option: str, form: str) -> dict[str, tuple[float, ...]]:
    """Parse repeated ``option`` values of the shape ``form`` (e.g. ``NAME=LO:HI``)."""
    n = form.count(":") + 1
    out = {}
    for item in items or []:
        name, sep, rest = item.partition("=")
        try:
            nums = tuple(float(v) for v in rest.split(":"))
        except ValueError:
            nums = ()
        if not sep or not name.strip() or len(nums) != n:
            raise ConfigError(f"{option} {item!r}: expected {form}")
        out[name.strip()] = nums
    return out


# Warmup iterations of `sintersim fit --posterior` (step-size adaptation only: the Laplace
# covariance is the metric).
WARMUP = 150


def _fit(args) -> int:
    """`sintersim fit`: calibrate parameters against neck traces; writes fit.json and fit.png
    (with ``--posterior N``: posterior draws summarised in fit.json, and posterior.png)."""
    import json

    from sintersim._version import __version__
    from sintersim.fit._corner import plot_corner
    from sintersim.fit._optimise import fit
    from sintersim.fit._plot import plot_fit
    from sintersim.fit._posterior import check_options
    from sintersim.fit._traces import FitError, read_trace

    out = Path(args.out)
    if (out / "fit.json").exists():
        raise ConfigError(f"{out / 'fit.json'} exists; choose a new --out directory")
    configs = [load_config(c) for c in args.config]
    if len(configs) not in (1, len(args.traces)):
        raise ConfigError(
            f"--config given {len(configs)} times for {len(args.traces)} traces; "
            "give one config for all traces or one per trace"
        )
    try:
        if args.posterior:  # refused now, not after the fit
            check_options(args.posterior, WARMUP, args.chains)
        traces = [read_trace(t, default_sigma_nm=args.sigma_nm) for t in args.traces]
        params = [p.strip() for p in args.params.split(",") if p.strip()]
        per_trace = [p.strip() for p in (args.per_trace or "").split(",") if p.strip()]
        bounds = _pairs(args.bounds, "--bounds", "NAME=LO:HI")
        priors = _pairs(args.prior, "--prior", "NAME=CENTRE:SIGMA_LOG10")
        init = {k: v[0] for k, v in _pairs(args.init, "--init", "NAME=VALUE").items()}
        bar = []  # drawn at the first iteration: after the inputs are checked

        def progress(it, loss):
            if args.quiet:
                return
            if not bar:
                from tqdm import tqdm

                bar.append(tqdm(desc="fit", unit="it", dynamic_ncols=True))
            bar[0].update(1)
            bar[0].set_postfix(loss=f"{loss:.4g}")

        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # identifiability notes are printed below instead
            res = fit(
                traces,
                configs if len(configs) > 1 else configs[0],
                params,
                bounds=bounds,
                priors=priors,
                init=init,
                starts=args.starts,
                adam_steps=args.adam_steps,
                lm_steps=args.lm_steps,
                seed=args.seed,
                progress=progress,
                per_trace=per_trace,
                max_steps=args.max_steps,
                preset_priors=not args.no_preset_priors,
                start=args.start,
                projection=args.projection,
            )
        for b in bar:
            b.close()
        profiles = None
        if args.profile:
            from sintersim.fit._profile import profile_likelihood

            if args.profile < 3:
                raise FitError(f"--profile {args.profile}: allowed 0 (off) or >= 3 values")
            profiles, notes = profile_likelihood(res, points=args.profile | 1)
            res.warnings.extend(notes)
        post = None
        if args.posterior:
            post = _sample(res, args)
    except FitError as e:
        raise ConfigError(str(e)) from e
    out.mkdir(parents=True, exist_ok=True)
    doc = res.to_json()
    doc["traces"] = [str(t) for t in args.traces]
    doc["configs"] = [str(c) for c in args.config]
    doc["sintersim_version"] = __version__
    if profiles is not None:
        doc["profiles"] = {n: p.to_json() for n, p in profiles.items()}
    if post is not None:
        doc["posterior"] = post.to_json()
    tmp = out / "fit.json.tmp"
    tmp.write_text(json.dumps(doc, indent=2))
    tmp.replace(out / "fit.json")  # never a half-written fit.json
    plot_fit(res, traces, out / "fit.png")
    if profiles is not None:
        from sintersim.fit._profile import plot_profiles

        plot_profiles(profiles, out / "profile.png")
    if post is not None:
        plot_corner(post, out / "posterior.png")
    if not args.quiet:
        for n, u in zip(res.names, res.units, strict=True):
            print(f"{n:28s} {res.values[n]:.4g} +- {res.stderr[n]:.2g} {u}")
        print(f"loss {res.loss:.4g}, reduced chi^2 {res.chi2_reduced:.3g}, {res.n_data} points")
        for n, (c, sg, src) in res.priors.items():
            origin = "from the material preset" if src == "preset" else "given"
            spec = next(sp for sp in res.problem.specs if sp.name == n)
            shape = f"x/ 10^{sg:g} (log-normal" if spec.log else f"+- {sg:g} (normal"
            print(f"prior {n:22s} {c:.4g} {shape}, {origin})")
        if res.start.get("rule") == "matched" and res.start.get("factor"):
            print(f"start matched to the data's time scale: x {res.start['factor']:.3g}")
    for w in res.warnings:
        print(f"sintersim: warning: {w}", file=sys.stderr)
    if post is not None:
        if not args.quiet:
            _posterior_table(post)
        for w in post.warnings:
            print(f"sintersim: warning: posterior: {w}", file=sys.stderr)
    print(out / "fit.json")
    print(out / "fit.png")
    if profiles is not None:
        print(out / "profile.png")
    if post is not None:
        print(out / "posterior.png")
    return 0


def _sample(res, args):
    """`sintersim fit --posterior N`: NUTS draws from the fit's posterior, with a tqdm bar over
    the iterations (warmup included) unless ``--quiet``."""
    from sintersim.fit._posterior import sample_posterior

    bar = []

    def progress(done, total):
        if args.quiet:
            return
        if not bar:
            from tqdm import tqdm

            bar.append(tqdm(total=total, desc="posterior", unit="it", dynamic_ncols=True))
        bar[0].update(done - bar[0].n)

    try:
        return sample_posterior(
            res,
            draws=args.posterior,
            warmup=WARMUP,
            chains=args.chains,
            seed=args.seed,
            progress=progress,
        )
    finally:
        for b in bar:
            b.close()


def _posterior_table(post) -> None:
    """Median, 68 % credible interval, R-hat and ESS per parameter, and the sampler's figures."""
    print(
        f"posterior: NUTS, {post.chains} chains x {post.draws} draws after {post.warmup} "
        f"warmup, {post.wall_s:.0f} s; step {post.step_size:.2g}, acceptance "
        f"{post.acceptance:.2f}, {post.divergences} divergences"
    )
    head = ("parameter", "median", "68 % credible interval", "R-hat", "ESS")
    print("{:28s} {:>10s}   {:26s} {:>6s} {:>6s}".format(*head))
    for i, (n, u) in enumerate(zip(post.names, post.units, strict=True)):
        lo, hi = post.ci68[i]
        ci = f"[{lo:.4g}, {hi:.4g}]"
        print(
            f"{n:28s} {post.median[i]:10.4g}   {ci:26s} {post.rhat[i]:6.3f} {post.ess[i]:6.0f} {u}"
        )
