"""The posterior's corner plot: marginals and pair scatter against the Gauss-Newton ellipses."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from sintersim.fit._posterior import Posterior

# ----------------------------------------------------------------------------------------------
# Corner plot
# ----------------------------------------------------------------------------------------------
# Text on the corner plot: 7 pt characters are about 1/19 inch wide, lines 0.12 inch apart.
_CHARS_PER_INCH = 19
_LINE_INCH = 0.12


def plot_corner(posterior: Posterior, path) -> Path:
    """Corner plot of the draws: histograms on the diagonal with the 68 % credible interval
    (dashed) and the Laplace Gaussian with its 68 % interval (red, dotted); the draws of every
    pair below it with the Laplace 1- and 2-sigma ellipses (Mahalanobis distance 1 and 2, red)
    on top, so that a posterior the Gaussian misrepresents shows as draws outside them. Axes:
    log10 of the physical value for positive parameters, the value itself for offsets. The
    summaries above, the warnings in red at the bottom."""
    import textwrap

    from sintersim.plot import plt

    post = posterior
    n = len(post.names)
    # Plotted coordinates y = D q: log10 p = q / ln 10 for positive parameters, p for offsets.
    D = np.where(post.log, 1 / math.log(10), 1.0)
    y = (post.samples_q * D).reshape(-1, n)
    y_fit = post.q_fit * D
    C = post.covariance * np.outer(D, D)
    sd = np.sqrt(np.clip(np.diag(C), 0, None))
    ci = np.percentile(y, [16, 84], axis=0).T
    labels = [
        f"log10 {name} ({u})" if lg else f"{name} ({u})"
        for name, u, lg in zip(post.names, post.units, post.log, strict=True)
    ]
    size = 4.0 + 2.6 * (n - 1)
    fig, axes = plt.subplots(n, n, figsize=(size, size), squeeze=False)
    for i in range(n):
        for j in range(n):
            ax = axes[i, j]
            if j > i:
                ax.axis("off")
                continue
            if i == j:
                ax.hist(y[:, i], bins=40, density=True, color="0.7", label="posterior draws")
                for k, v in enumerate(ci[i]):
                    ax.axvline(v, color="k", ls="--", lw=1, label=None if k else "68 % credible")
                if sd[i] > 0:
                    x = y_fit[i] + sd[i] * np.linspace(-4, 4, 200)
                    g = np.exp(-0.5 * ((x - y_fit[i]) / sd[i]) ** 2) / (
                        sd[i] * math.sqrt(2 * math.pi)
                    )
                    ax.plot(x, g, color="tab:red", lw=1.2, label="Laplace (Gauss-Newton)")
                    for k, v in enumerate((y_fit[i] - sd[i], y_fit[i] + sd[i])):
                        ax.axvline(
                            v, color="tab:red", ls=":", lw=1, label=None if k else "Laplace 68 %"
                        )
                ax.set_yticks([])
                ax.set_title(
                    f"R-hat {post.rhat[i]:.3f}, ESS {post.ess[i]:.0f}", fontsize=8, loc="right"
                )
            else:
                ax.plot(y[:, j], y[:, i], ".", ms=2, alpha=0.3, color="0.3")
                _ellipses(ax, y_fit[[j, i]], C[np.ix_([j, i], [j, i])])
            if i == n - 1:
                ax.set_xlabel(labels[j], fontsize=8)
            if j == 0 and i > 0:
                ax.set_ylabel(labels[i], fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
    handles, names = axes[0, 0].get_legend_handles_labels()
    if n > 1:
        more = axes[1, 0].get_legend_handles_labels()
        handles, names = handles + more[0], names + more[1]
    lines = ["median [68 % credible interval] (Gauss-Newton 68 % interval):"]
    lines += [
        f"{name} = {post.median[i]:.4g} [{post.ci68[i, 0]:.3g}, {post.ci68[i, 1]:.3g}] "
        f"({post.laplace68[i, 0]:.3g}, {post.laplace68[i, 1]:.3g}) {u}"
        for i, (name, u) in enumerate(zip(post.names, post.units, strict=True))
    ]
    lines.append(
        f"NUTS: {post.chains} chains x {post.draws} draws after {post.warmup} warmup, step "
        f"{post.step_size:.2g}, acceptance {post.acceptance:.2f}, {post.divergences} divergences"
    )
    # Above the panels for one parameter; in the empty upper triangle for more.
    room = size if n == 1 else size * (n - 1) / n
    summary = [
        "\n".join(textwrap.wrap(t, int(_CHARS_PER_INCH * room), subsequent_indent="    "))
        for t in lines
    ]
    summary_text = "\n".join(summary)
    warn_text = "\n".join(
        "\n".join(
            textwrap.wrap(f"warning: {w}", int(_CHARS_PER_INCH * size), subsequent_indent="    ")
        )
        for w in post.warnings
    )
    if n > 1:
        corner = axes[0, n - 1]
        corner.legend(handles, names, fontsize=7, loc="lower right")
    else:
        axes[0, 0].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    if n > 1:  # after the layout: the text spans the empty panels, not a panel to make room for
        corner.text(
            1, 1, summary_text, transform=corner.transAxes, fontsize=7, va="top", ha="right"
        )
    # Grow the figure (panels keep their size) for the text above and below them.
    top_in = (summary_text.count("\n") + 1.5) * _LINE_INCH if n == 1 else 0.0
    bottom_in = (warn_text.count("\n") + 1.5) * _LINE_INCH if post.warnings else 0.0
    if top_in or bottom_in:
        sp = fig.subplotpars
        height = size + top_in + bottom_in
        fig.set_size_inches(size, height)
        fig.subplots_adjust(
            top=(sp.top * size + bottom_in) / height, bottom=(sp.bottom * size + bottom_in) / height
        )
    h = fig.get_size_inches()[1]
    if n == 1:
        fig.text(0.01, 1 - 0.5 * _LINE_INCH / h, summary_text, fontsize=7, va="top", ha="left")
    if post.warnings:  # on the figure too: a reader of the plot alone must not miss them
        fig.text(0.01, 0.5 * _LINE_INCH / h, warn_text, color="firebrick", fontsize=7, va="bottom")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def _ellipses(ax, centre, cov2) -> None:
    """The Laplace 1- and 2-sigma ellipses (Mahalanobis distance 1 and 2) of a 2x2 block."""
    w, V = np.linalg.eigh(0.5 * (cov2 + cov2.T))
    if not np.all(np.isfinite(w)) or w.max() <= 0:
        return
    t = np.linspace(0, 2 * np.pi, 200)
    unit = V @ (np.sqrt(np.clip(w, 0, None))[:, None] * np.stack([np.cos(t), np.sin(t)]))
    for k, ls in ((1, "-"), (2, "--")):
        ax.plot(
            centre[0] + k * unit[0],
            centre[1] + k * unit[1],
            color="tab:red",
            ls=ls,
            lw=1,
            label=f"Laplace {k} sigma",
        )
