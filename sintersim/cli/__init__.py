"""Command line: ``sintersim run | sweep | resume | repair | plot | info | demo | fit | materials |
config``.

No input ends in a traceback: every error becomes one line on stderr and an exit code
(`EXIT_CODES`). An unexpected exception is a bug: exit 1 with "internal error" (set
``SINTERSIM_DEBUG=1`` to see its traceback).
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from pathlib import Path

from sintersim._version import __version__
from sintersim.cli._commands import (
    _demo_config_path,
    _figures,
    _fit,
    _info,
    _repair,
    _resume,
    _run,
    _run_dir,
    _sweep,
)
from sintersim.io import RunFileError
from sintersim.scenario._config import example_config, load_config
from sintersim.scenario._schema import ConfigError, ResourceLimitError

EXIT_CODES = {
    0: "success",
    1: "internal error (a bug: please report it)",
    2: "bad input (config, arguments, trace or run files)",
    3: "the run went unstable (the last good state is kept; `resume --dt-s` continues it)",
    4: "resource limit (the run does not fit in memory, or the disk is full)",
    130: "interrupted (Ctrl-C; `resume` continues from the last save)",
    141: "the output pipe was closed (e.g. `sintersim info DIR | head`)",
}


def _count(lowest: int):
    """An argparse type: an integer >= ``lowest``."""

    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if n < lowest:
            raise argparse.ArgumentTypeError(f"{n} must be >= {lowest}")
        return n

    return parse


def _positive(text: str) -> float:
    """An argparse type: a finite number > 0."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < v < float("inf"):
        raise argparse.ArgumentTypeError(f"{v} must be a finite number > 0")
    return v


def _add_set(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--set",
        action="append",
        metavar="SECTION.KEY=VALUE",
        help="override a config value (repeatable), e.g. --set time.end_s=1e-4",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sintersim",
        description="Phase-field sintering of nanocrystals (JAX). Physical units in; "
        "observables, fields (HDF5 + XDMF for ParaView) and figures out.",
        epilog="Exit codes: " + "; ".join(f"{c} {w}" for c, w in EXIT_CODES.items()) + ".",
    )
    parser.add_argument("--version", action="version", version=f"sintersim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("run", help="run one simulation from a TOML config")
    p.add_argument(
        "config", type=Path, help="TOML configuration (see `sintersim config --example`)"
    )
    p.add_argument("--out", type=Path, required=True, help="output directory (must be new)")
    _add_set(p)
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.add_argument("--stop-after", type=int, default=None, help=argparse.SUPPRESS)

    p = sub.add_parser(
        "sweep",
        help="run many members of one config (lists/ranges of any field) as one vmapped program",
        description="Members: the config's [sweep] parameters and/or --param lists, as a "
        "product or zipped. Writes DIR/summary.csv (one row per member), DIR/sweep.png and "
        "DIR/member_NNN/ (each a full run directory).",
    )
    p.add_argument("config", type=Path, help="TOML configuration")
    p.add_argument("--out", type=Path, required=True, help="output directory (must be new)")
    p.add_argument(
        "--param",
        action="append",
        metavar="SECTION.KEY=V1,V2,...",
        help="swept values (repeatable), e.g. material.temperature_K=373,398",
    )
    p.add_argument("--mode", choices=("product", "zip"), default=None, help="how lists combine")
    _add_set(p)
    p.add_argument("--quiet", action="store_true", help="no progress output")

    p = sub.add_parser("resume", help="continue an interrupted or finished run")
    p.add_argument("dir", type=Path, help="run directory (holds run.h5)")
    p.add_argument("--end-s", type=float, default=None, help="new end time (s)")
    p.add_argument("--dt-s", type=float, default=None, help="new time step (s)")
    p.add_argument("--quiet", action="store_true", help="no progress output")

    p = sub.add_parser(
        "repair",
        help="make a killed run's run.h5 readable by any HDF5 tool (clear the writer's flags, "
        "drop a half-written frame) and rewrite its CSV/XDMF companions",
    )
    p.add_argument("dir", type=Path, help="run directory (holds run.h5)")

    p = sub.add_parser("plot", help="re-make the figures of a run directory")
    p.add_argument("dir", type=Path)

    p = sub.add_parser("info", help="what was run, with which parameters and version, how far")
    p.add_argument("dir", type=Path)

    p = sub.add_parser("demo", help="run the embedded default case (two 6.2 nm PbSe particles, 2D)")
    p.add_argument(
        "--out",
        type=Path,
        default=Path("out/demo"),
        help="output directory (replaced if it holds an earlier demo)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress output")

    from sintersim.fit._problem import FITTABLE

    p = sub.add_parser(
        "fit",
        help="fit diffusivities / interface energies to measured neck-growth traces",
        description="Calibrate model parameters against neck-vs-time traces (CSV with time_s, "
        "neck_nm and optional sigma_nm). Writes DIR/fit.json (values, standard errors, units, "
        "correlations, loss) and DIR/fit.png; with --posterior N also posterior draws (NUTS) "
        "summarised in fit.json and DIR/posterior.png. Fittable: " + ", ".join(FITTABLE) + ".",
    )
    p.add_argument("traces", type=Path, nargs="+", help="trace CSV file(s)")
    p.add_argument(
        "--config",
        type=Path,
        action="append",
        required=True,
        help="base TOML config (once for all traces, or once per trace in order)",
    )
    p.add_argument(
        "--params",
        required=True,
        help="comma-separated names, e.g. surface_diffusivity,time_offset",
    )
    p.add_argument(
        "--per-trace",
        metavar="NAME,NAME",
        help="parameters fitted separately for every trace (as NAME[trace]); others are shared",
    )
    p.add_argument("--out", type=Path, required=True, help="output directory")
    p.add_argument("--bounds", action="append", metavar="NAME=LO:HI", help="physical units")
    p.add_argument("--init", action="append", metavar="NAME=VALUE", help="starting value")
    p.add_argument(
        "--prior", action="append", metavar="NAME=CENTRE:SIGMA_LOG10", help="log-normal prior"
    )
    p.add_argument("--sigma-nm", type=_positive, default=0.1, help="sigma where the CSV has none")
    p.add_argument("--starts", type=_count(1), default=1, help="parallel starts (vmap) for Adam")
    p.add_argument("--adam-steps", type=_count(0), default=0, help="Adam iterations before LM")
    p.add_argument("--lm-steps", type=_count(0), default=40, help="Levenberg-Marquardt iterations")
    p.add_argument(
        "--no-preset-priors",
        action="store_true",
        help="no log-normal priors from the material preset (by default every fitted parameter "
        "without --prior gets the preset's value and uncertainty, see `sintersim materials`)",
    )
    p.add_argument(
        "--max-steps",
        type=_count(1),
        default=2_000_000,
        help="most time steps one evaluation of a trace may take; a fit over it is refused "
        "before it starts, with the estimate (default 2,000,000)",
    )
    p.add_argument(
        "--start",
        choices=("auto", "match", "config"),
        default="auto",
        help="match: scale the fitted diffusivities/mobilities so the model runs on the data's "
        "time scale (one probe run) before fitting; config: start from the config (--init); "
        "auto (default): match when a fitted transport parameter starts from the config more "
        "than 3x off the data's clock, or one evaluation would take > 100,000 steps",
    )
    p.add_argument(
        "--projection",
        choices=("y", "z"),
        help="the traces are neck widths measured on projections (TEM images) of a 3D config, "
        "the beam along this grid axis: compared with the simulated silhouette's neck width",
    )
    p.add_argument(
        "--profile",
        type=_count(0),
        default=0,
        metavar="N",
        help="profile likelihoods after the fit: N values per parameter (odd; the others "
        "re-optimised against the data alone); 'profiles' in fit.json and DIR/profile.png; "
        "warns where the data alone do not bound a parameter. 0: off (default)",
    )
    p.add_argument(
        "--posterior",
        type=_count(0),
        default=0,
        metavar="N",
        help="after the fit, sample the posterior (NUTS, needs blackjax): N draws per chain "
        "after 150 warmup iterations; writes a 'posterior' section in fit.json (medians, "
        "credible intervals, R-hat, ESS) and DIR/posterior.png (corner plot with the "
        "Gauss-Newton ellipses). Each iteration costs 2-4 forward-mode Jacobians of the fit's "
        "simulations. 0: off (default)",
    )
    p.add_argument(
        "--chains",
        type=_count(1),
        default=4,
        metavar="K",
        help="posterior chains, run in parallel (vmap) (default 4)",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the extra starting points and the posterior"
    )
    p.add_argument("--quiet", action="store_true", help="no progress output")

    p = sub.add_parser("materials", help="list material presets with values and sources")
    p.add_argument("name", nargs="?", help="show one preset in full")

    p = sub.add_parser("config", help="print a commented example config, or check one")
    p.add_argument("--example", action="store_true", help="print a commented example config")
    p.add_argument("--check", type=Path, metavar="FILE", help="validate a config file")
    return parser


def _dispatch(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.command == "run":
        return _run(args.config, args.out, args.quiet, args.stop_after, args.set)
    if args.command == "sweep":
        return _sweep(args.config, args.out, args.quiet, args.param, args.mode, args.set)
    if args.command == "resume":
        return _resume(args.dir, args.end_s, args.dt_s, args.quiet)
    if args.command == "plot":
        _run_dir(args.dir)
        for path in _figures(args.dir):
            print(path)
        return 0
    if args.command == "info":
        return _info(args.dir)
    if args.command == "repair":
        return _repair(args.dir)
    if args.command == "demo":
        if not args.quiet:
            print(f"demo config: {_demo_config_path()}")
        if (args.out / "run.h5").exists() and (args.out / "mapping.json").exists():
            import shutil

            shutil.rmtree(args.out)  # an earlier demo: the demo always starts fresh
        return _run(_demo_config_path(), args.out, args.quiet)
    if args.command == "fit":
        return _fit(args)
    if args.command == "materials":
        from sintersim.materials._presets import MATERIALS, get_material

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
    parser.error("choose a COMMAND (`sintersim --help` lists them)")


def _failure(e: BaseException) -> tuple[int, str]:
    """The exit code and the one-line message of an exception that ends a command."""
    if isinstance(e, ResourceLimitError):  # refused before allocating: the estimate says why
        return 4, f"sintersim: error: {e}"
    if isinstance(e, MemoryError):
        return 4, f"sintersim: out of memory {e}".rstrip()
    if isinstance(e, ConfigError | RunFileError):
        return 2, f"sintersim: error: {e}"
    if isinstance(e, OSError):
        code = 4 if e.errno in (errno.ENOSPC, errno.EDQUOT) else 2
        where = f" {e.filename}" if e.filename else ""
        return code, f"sintersim: error:{where}: {e.strerror or e}"
    if isinstance(e, KeyError):  # unknown material preset and the like: the message says which
        return 2, f"sintersim: {e.args[0] if e.args else e}"
    text = str(e)
    if "RESOURCE_EXHAUSTED" in text or "out of memory" in text.lower():  # a device's OOM
        return 4, f"sintersim: out of memory on the device: {text.splitlines()[0]}"
    return 1, (
        f"sintersim: internal error (a bug; please report it with the command): "
        f"{type(e).__name__}: {text.splitlines()[0] if text else ''} "
        "(SINTERSIM_DEBUG=1 shows the traceback)"
    )


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit code (`EXIT_CODES`)."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        code = _dispatch(args, parser)
        sys.stdout.flush()  # here, so that a closed pipe is met inside this handler
        return code
    except KeyboardInterrupt:
        print(
            "sintersim: interrupted; `sintersim resume DIR` continues from the last save",
            file=sys.stderr,
        )
        return 130
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly, and point stdout at /dev/null so the
        # interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as e:
        if os.environ.get("SINTERSIM_DEBUG"):
            raise
        code, message = _failure(e)
        print(message, file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
