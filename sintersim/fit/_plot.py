"""The fit's figure: data with error bars and the fitted curves."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sintersim.fit._optimise import FitResult
from sintersim.fit._traces import Trace


def _data_and_fit(ax, traces, curves, key: str, sigma: str, label: str) -> None:
    """Measured ``key`` with error bars ``sigma`` (where finite) and the fitted curve."""
    for tr, cv in zip(traces, curves, strict=True):
        y = getattr(tr, key)
        if y is None:
            continue
        seen = np.isfinite(y)
        ax.errorbar(
            tr.time_s[seen],
            y[seen],
            yerr=getattr(tr, sigma)[seen],
            fmt="o",
            ms=3,
            capsize=2,
            label=f"{tr.name} (data)",
        )
        ax.plot(cv["time_s"], cv[key], "-", label=f"{tr.name} (fit)")
    ax.set_xlabel("time (s)")
    ax.set_ylabel(label)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)


def plot_fit(result: FitResult, traces: Sequence[Trace], path) -> Path:
    """Data with error bars vs fitted curves (neck; misorientation where measured), and the loss
    history."""
    from sintersim.plot import plt

    oriented = any(tr.misorientation_deg is not None for tr in traces)
    fig, axes = plt.subplots(1, 3 if oriented else 2, figsize=(16 if oriented else 11, 4))
    a1, a2 = axes[0], axes[-1]
    _data_and_fit(a1, traces, result.curves, "neck_nm", "sigma_nm", "neck (nm)")
    if oriented:
        mis = ("misorientation_deg", "sigma_deg", "misorientation (deg)")
        _data_and_fit(axes[1], traces, result.curves, *mis)
    txt = "\n".join(
        f"{n} = {result.values[n]:.3g} ± {result.stderr[n]:.2g} {u}"
        for n, u in zip(result.names, result.units, strict=True)
    )
    a1.text(
        0.02,
        0.98,
        txt,
        transform=a1.transAxes,
        va="top",
        fontsize=8,
        bbox={"fc": "white", "alpha": 0.8},
    )
    a2.semilogy(np.arange(len(result.loss_history)), result.loss_history, "o-", ms=3)
    a2.set_xlabel("iteration")
    a2.set_ylabel("loss")
    a2.grid(alpha=0.3)
    fig.tight_layout()
    if result.warnings:  # on the figure too: a reader of the plot alone must not miss them
        import textwrap

        lines = [
            "\n".join(textwrap.wrap(f"warning: {w}", 160, subsequent_indent="    "))
            for w in result.warnings
        ]
        text = "\n".join(lines)
        n = text.count("\n") + 1
        fig.subplots_adjust(bottom=min(0.6, 0.12 + 0.045 * n))
        fig.text(0.01, 0.01, text, color="firebrick", fontsize=7, va="bottom", ha="left")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)
