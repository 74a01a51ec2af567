"""Figures (matplotlib, Agg backend: works without a display)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _save(fig, path: Path, title: str = "") -> Path:
    """Title, lay out, write at 120 dpi and close a figure."""
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)


def plot_neck(rows: Sequence[dict[str, float]], path: Path, title: str = "") -> Path:
    """Neck size and free energy vs time (physical units)."""
    key = "neck_width_nm" if "neck_width_nm" in rows[0] else "neck_radius_nm"
    t = np.array([r["time_s"] for r in rows])
    x = np.array([r[key] for r in rows])
    e = np.array([r["free_energy_J"] for r in rows])
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    a1.plot(t, x, "o-", ms=3)
    if t[t > 0].size > 1 and t.max() / t[t > 0].min() > 100:
        # Log-spaced save-points: show early necking on a log time axis.
        a1.set_xscale("log")
        a2.set_xscale("log")
    a1.set_xlabel("time (s)")
    a1.set_ylabel(key.replace("_nm", " (nm)").replace("_", " "))
    a1.grid(alpha=0.3)
    a2.plot(t, e, "-")
    a2.set_xlabel("time (s)")
    a2.set_ylabel("free energy (J" + ("/m" if key == "neck_width_nm" else "") + ")")
    a2.grid(alpha=0.3)
    return _save(fig, path, title)


def plot_fields(
    rho: np.ndarray,
    eta: np.ndarray,
    dx_nm: float,
    path: Path,
    title: str = "",
    grain_id: np.ndarray | None = None,
) -> Path:
    """2D density and grain map (a mid-plane slice in 3D); with ``grain_id`` the grains are
    coloured by id (ids survive field re-assignment), else by order parameter."""
    if rho.ndim == 3:
        k = rho.shape[2] // 2
        rho, eta = rho[:, :, k], eta[:, :, :, k]
        grain_id = None if grain_id is None else grain_id[:, :, k]
    ext = [0, rho.shape[0] * dx_nm, 0, rho.shape[1] * dx_nm]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    im = a1.imshow(rho.T, origin="lower", extent=ext, cmap="gray", vmin=0, vmax=1)
    fig.colorbar(im, ax=a1, label="rho")
    if grain_id is None:
        grains = np.argmax(eta, axis=0) + 1.0
        grains = np.where(rho > 0.5, grains, np.nan)
        a2.imshow(grains.T, origin="lower", extent=ext, cmap="tab10", vmin=1, vmax=10)
    else:
        # ids are arbitrary integers: a shuffled cyclic map keeps neighbours apart
        g = np.where(grain_id >= 0, (grain_id * 0.618034) % 1.0, np.nan)
        a2.imshow(g.T, origin="lower", extent=ext, cmap="hsv", vmin=0, vmax=1)
    gb = np.sum(eta, axis=0) ** 2 - np.sum(eta**2, axis=0)
    a2.contour(
        np.linspace(0, ext[1], rho.shape[0]),
        np.linspace(0, ext[3], rho.shape[1]),
        gb.T,
        levels=[0.25],
        colors="k",
        linewidths=0.8,
    )
    for a, t in ((a1, "density"), (a2, "grains (boundary contour)")):
        a.set_xlabel("x (nm)")
        a.set_ylabel("y (nm)")
        a.set_title(t)
    return _save(fig, path, title)


def plot_packing(rows: Sequence[dict[str, float]], path: Path, title: str = "") -> Path:
    """A packing's history: shrinkage, dense fraction and relative density (a free cluster),
    grain count and size, neck sizes (mean and quartile band) and contact misorientation,
    against time."""
    t = np.array([r["time_s"] for r in rows])

    def col(k):
        return np.array([r.get(k, np.nan) for r in rows])

    fig, ax = plt.subplots(2, 2, figsize=(10, 7))
    a = ax[0, 0]
    a.plot(t, col("shrinkage"), "o-", ms=3, label="shrinkage")
    a.plot(
        t,
        col("dense_fraction") - col("dense_fraction")[0],
        "s-",
        ms=3,
        label="dense fraction change",
    )
    rel = col("relative_density")
    if np.isfinite(rel).any():  # a free cluster (NaN for a box-filling packing)
        a.plot(t, rel - rel[0], "^-", ms=3, label="relative density change")
    a.set_ylabel("shrinkage, density changes")
    a.legend(fontsize=8)
    a = ax[0, 1]
    a.plot(t, col("grain_count"), "o-", ms=3, color="C0")
    a.set_ylabel("grain count", color="C0")
    b = a.twinx()
    b.plot(t, col("mean_grain_size_nm"), "s-", ms=3, color="C1")
    b.set_ylabel("mean grain size (nm)", color="C1")
    for a, name, unit in ((ax[1, 0], "neck", "nm"), (ax[1, 1], "misorientation", "deg")):
        a.fill_between(t, col(f"{name}_q25_{unit}"), col(f"{name}_q75_{unit}"), alpha=0.3)
        a.plot(t, col(f"{name}_median_{unit}"), "-", label="median (band: quartiles)")
        a.plot(t, col(f"{name}_mean_{unit}"), "o", ms=3, label="mean")
        a.set_ylabel(f"contact {name} ({unit})")
        a.legend(fontsize=8)
    for a in ax.flat:
        a.set_xlabel("time (s)")
        a.grid(alpha=0.3)
    return _save(fig, path, title)


def plot_sweep(members, rows: Sequence[Sequence[dict[str, float]]], path: Path, neck_nm=()) -> Path:
    """Members of a sweep compared: neck (pair) or mean neck (packing) against time, one line
    per member; right, the final neck against the first swept value."""
    keys = ("neck_width_nm", "neck_radius_nm", "neck_mean_nm")
    key = next(k for k in keys if k in rows[0][0])
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    cmap = plt.get_cmap("viridis")
    n = len(members)
    for j, (m, r) in enumerate(zip(members, rows, strict=True)):
        t = np.array([x["time_s"] for x in r])
        a1.plot(t, [x.get(key, np.nan) for x in r], color=cmap(j / max(n - 1, 1)), label=m.label())
    for target in neck_nm:
        a1.axhline(target, color="k", lw=0.6, ls=":")
    a1.set_xlabel("time (s)")
    a1.set_ylabel(key.replace("_nm", " (nm)").replace("_", " "))
    if n <= 12:
        a1.legend(fontsize=7)
    first = next(iter(members[0].values))
    xs = [m.values[first] for m in members]
    finals = [r[-1].get(key, np.nan) for r in rows]
    others = [", ".join(f"{v}" for k, v in m.values.items() if k != first) for m in members]
    for lab in dict.fromkeys(others):
        sel = [i for i, o in enumerate(others) if o == lab]
        a2.plot([xs[i] for i in sel], [finals[i] for i in sel], "o-", label=lab or None)
    a2.set_xlabel(first)
    a2.set_ylabel("final " + key.replace("_nm", " (nm)").replace("_", " "))
    if any(others) and len(set(others)) <= 12:
        a2.legend(fontsize=7, title=", ".join(k for k in members[0].values if k != first))
    for a in (a1, a2):
        a.grid(alpha=0.3)
    return _save(fig, path)
