"""Command line: ``sintersim run | demo | materials | config``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from importlib import resources
from pathlib import Path

from . import __version__
from .config import ConfigError, example_config, load_config


def _demo_config_path() -> Path:
    return Path(str(resources.files("sintersim") / "data" / "demo.toml"))


def _run(config_path: Path, out: Path, quiet: bool) -> int:
    # Imported here so that `sintersim --help` and config errors answer without loading JAX.
    import numpy as np

    from ._run import Unstable, build, run
    from .io import write_csv
    from .plot import plot_fields, plot_neck

    cfg = load_config(config_path)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.resolved.toml, mapping.json").write_text(cfg.to_toml())
    t0 = time.perf_counter()
    setup = build(cfg)
    sc = setup.nd.scales
    if not quiet:
        print(
            f"sintersim {__version__}: {cfg['material']['preset']} at "
            f"{cfg['material']['temperature_K']:g} K, grid {setup.grid.shape}, "
            f"dx = {cfg['grid']['spacing_nm']:g} nm, t_end = {cfg['time']['end_s']:.4g} s "
            f"({setup.t_end:.4g} internal, dt = {setup.dt:.3g}, {sc.time_s:.3g} s per unit)",
            flush=True,
        )
    # Prove the unit mapping on this run's own grid: relax 1D profiles, measure, compare.
    from ._units import check_mapping

    mapping = check_mapping(setup.nd, cfg.physical_parameters())
    (out / "mapping.json").write_text(
        json.dumps(
            {k: {"requested": a, "measured": float(b)} for k, (a, b) in mapping.items()}, indent=2
        )
    )
    if not quiet:
        print(
            "unit mapping (requested -> measured on this grid): "
            + ", ".join(f"{k} {a:.4g} -> {float(b):.4g}" for k, (a, b) in mapping.items())
        )
    bar = None
    if not quiet:
        from tqdm import tqdm

        bar = tqdm(
            total=setup.t_end,
            unit="t",
            unit_scale=False,
            desc="simulating",
            bar_format="{l_bar}{bar}| {n:.3g}/{total:.3g} [{elapsed}<{remaining}]",
        )

        def progress(t):
            bar.update(t - bar.n)
    else:
        progress = None
    rows_box: list = []

    def on_save(i, t, state, row):
        rows_box.append(row)
        # Rewrite the CSV at every save-point: an interrupted run keeps what it had computed.
        write_csv(out / "observables.csv", rows_box)

    try:
        _, state = run(setup, out, progress=progress, on_save=on_save)
        status = 0
    except Unstable as e:
        print(f"sintersim: run stopped: {e}", file=sys.stderr)
        state, status = e.state, 3
    finally:
        if bar is not None:
            bar.close()
    rows = rows_box
    title = f"{cfg['material']['preset']}, {cfg['material']['temperature_K']:g} K"
    plot_neck(rows, out / "neck.png", title)
    key = "neck_width_nm" if setup.grid.ndim == 2 else "neck_radius_nm"
    if not quiet:
        print(
            f"neck {key.split('_')[1]}: {rows[0][key]:.3f} nm -> {rows[-1][key]:.3f} nm over "
            f"{rows[-1]['time_s']:.4g} s; shrinkage {rows[-1]['shrinkage']:.4f}; "
            f"wall time {time.perf_counter() - t0:.1f} s"
        )
        print(
            f"outputs in {out.resolve()}: observables.csv, neck.png, fields.png, "
            "config.resolved.toml, mapping.json"
        )
    plot_fields(
        np.asarray(state.rho),
        np.asarray(state.eta),
        cfg["grid"]["spacing_nm"],
        out / "fields.png",
        f"{title}, t = {rows[-1]['time_s']:.3g} s",
    )
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="sintersim",
        description="Phase-field sintering of nanocrystals (JAX). Physical units in, "
        "observables, fields and figures out.",
    )
    parser.add_argument("--version", action="version", version=f"sintersim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("run", help="run one simulation from a TOML config")
    p.add_argument(
        "config", type=Path, help="TOML configuration (see `sintersim config --example`)"
    )
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--quiet", action="store_true", help="no progress output")

    p = sub.add_parser("demo", help="run the embedded default case (two 6.2 nm PbSe particles, 2D)")
    p.add_argument("--out", type=Path, default=Path("out/demo"), help="output directory")
    p.add_argument("--quiet", action="store_true", help="no progress output")

    p = sub.add_parser("materials", help="list material presets with values and sources")
    p.add_argument("name", nargs="?", help="show one preset in full")

    p = sub.add_parser("config", help="configuration helpers")
    p.add_argument("--example", action="store_true", help="print a commented example config")
    p.add_argument("--check", type=Path, metavar="FILE", help="validate a config file")

    args = parser.parse_args(argv)
    try:
        if args.command == "run":
            return _run(args.config, args.out, args.quiet)
        if args.command == "demo":
            if not args.quiet:
                print(f"demo config: {_demo_config_path()}")
            return _run(_demo_config_path(), args.out, args.quiet)
        if args.command == "materials":
            from ._materials import MATERIALS, get_material

            if args.name:
                print(get_material(args.name).describe())
            else:
                for m in MATERIALS.values():
                    print(
                        f"{m.name:8s} {m.structure:10s} Tm = {m.melting_point_K:.0f} K, "
                        f"gamma_s = {m.surface_energy_J_m2:g} J/m^2, "
                        f"gamma_gb = {m.gb_energy_J_m2:.3g} J/m^2"
                    )
                print("`sintersim materials NAME` shows values with their sources.")
            return 0
        if args.command == "config":
            if args.check:
                load_config(args.check)
                print(f"{args.check}: valid")
                return 0
            print(example_config())
            return 0
        parser.print_help()
        return 2
    except ConfigError as e:
        print(f"sintersim: config error: {e}", file=sys.stderr)
        return 2
    except KeyError as e:
        print(f"sintersim: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
