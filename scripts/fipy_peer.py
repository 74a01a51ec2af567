"""FiPy peer of sintersim's two-particle model, for `scripts/bench.py`.

The same physics as `sintersim.SinterModel` with `WangEnergy` and `Mobility`, discretised the
FiPy way: cell-centred finite volumes on a periodic grid, fully implicit (linearised) time steps.

- Cahn-Hilliard for rho, split into two second-order equations as in FiPy's Cahn-Hilliard
  examples and solved as one coupled system with the chemical potential mu:

      d rho/dt = div(M(rho, eta) grad mu)
      mu = f0_rho(rho, eta) - kappa_rho lap rho

  with f0_rho linearised about the previous sweep,
  ``f0_rho(r) ~ f0_rho(r*) + f0_rhorho(r*) (r - r*)``.
  M is the `Mobility` formula (rho and eta clipped to [0, 1]), taken at faces as the arithmetic
  mean of the two cells.
- Allen-Cahn for each eta_i, gradient term implicit, bulk term linearised the same way (only the
  positive part of f0_eta_i_eta_i implicit, the rest explicit, to keep the matrix an M-matrix):

      d eta_i/dt = -L (f0_eta_i - kappa_eta lap eta_i)

All equations are coupled and solved together at every sweep. FiPy is optional: import this
module only after checking ``fipy_available()``.
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass

import numpy as np


def fipy_available() -> bool:
    return importlib.util.find_spec("fipy") is not None


@dataclass
class FipyResult:
    rho: np.ndarray  # (nx, ny), sintersim's axis order
    eta: np.ndarray  # (P, nx, ny)
    steps: int
    sweeps: int
    wall_s: float  # time spent in the time loop (building the equations excluded)
    setup_s: float  # mesh, variables and first equation build


def _to_fipy(a: np.ndarray) -> np.ndarray:
    """sintersim field (nx, ny) -> FiPy cell order (x fastest)."""
    return np.asarray(a, dtype=np.float64).T.ravel()


def _from_fipy(v: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    nx, ny = shape
    return np.asarray(v, dtype=np.float64).reshape(ny, nx).T


def run_fipy(
    rho0: np.ndarray,
    eta0: np.ndarray,
    *,
    A: float,
    B: float,
    kappa_rho: float,
    kappa_eta: float,
    M_vol: float,
    M_vap: float,
    M_surf: float,
    M_gb: float,
    L: float,
    spacing: float = 1.0,
    t_end: float,
    dt: float,
    sweeps: int = 1,
    solver: str = "lu",
) -> FipyResult:
    """Integrate the two-particle (or P-grain) Wang model with FiPy from ``(rho0, eta0)`` to
    ``t_end`` in equal steps of at most ``dt``; returns the final fields in sintersim's layout.

    rho0: (nx, ny); eta0: (P, nx, ny). sweeps: linearisation sweeps per step (1 = linearly
    implicit, like one Newton step). solver: "lu" (direct, robust) or "gmres".
    """
    from fipy import (
        CellVariable,
        DiffusionTerm,
        ImplicitSourceTerm,
        PeriodicGrid2D,
        TransientTerm,
    )
    from fipy.solvers import LinearGMRESSolver, LinearLUSolver

    t_start = time.perf_counter()
    shape = tuple(int(n) for n in rho0.shape)
    if len(shape) != 2:
        raise ValueError("the FiPy peer is 2D only")
    mesh = PeriodicGrid2D(nx=shape[0], ny=shape[1], dx=spacing, dy=spacing)
    rho = CellVariable(mesh=mesh, name="rho", value=_to_fipy(rho0), hasOld=True)
    mu = CellVariable(mesh=mesh, name="mu", value=0.0, hasOld=True)
    etas = [
        CellVariable(mesh=mesh, name=f"eta{i}", value=_to_fipy(e), hasOld=True)
        for i, e in enumerate(eta0)
    ]

    s2 = sum(e**2 for e in etas)
    s3 = sum(e**3 for e in etas)
    # f0 = A r^2 (1-r)^2 + B [r^2 + 6 (1-r) S2 - 4 (2-r) S3 + 3 S2^2]
    df_drho = 2 * A * rho * (1 - rho) * (1 - 2 * rho) + B * (2 * rho - 6 * s2 + 4 * s3)
    d2f_drho2 = 2 * A * (1 - 6 * rho + 6 * rho**2) + 2 * B

    def clip01(v):  # lazy FiPy expression (numerix.clip would evaluate it once)
        v = (v > 0) * v
        return v - (v > 1) * (v - 1)

    r = clip01(rho)
    ec = [clip01(e) for e in etas]
    phi = r**3 * (10 - 15 * r + 6 * r**2)
    s1c = sum(ec)
    pairs = s1c**2 - sum(e**2 for e in ec)
    mob = M_vol * phi + M_vap * (1 - phi) + M_surf * r**2 * (1 - r) ** 2 + M_gb * pairs

    eq_rho = TransientTerm(var=rho) == DiffusionTerm(coeff=mob.faceValue, var=mu)
    eq_mu = ImplicitSourceTerm(coeff=1.0, var=mu) == (
        ImplicitSourceTerm(coeff=d2f_drho2, var=rho)
        - d2f_drho2 * rho
        + df_drho
        - DiffusionTerm(coeff=kappa_rho, var=rho)
    )
    eq = eq_rho & eq_mu
    for e in etas:
        df_de = B * (12 * (1 - rho) * e - 12 * (2 - rho) * e**2 + 12 * s2 * e)
        d2f_de2 = B * (12 * (1 - rho) - 24 * (2 - rho) * e + 12 * s2 + 24 * e**2)
        pos = (d2f_de2 > 0) * d2f_de2
        eq_e = TransientTerm(var=e) == (
            DiffusionTerm(coeff=L * kappa_eta, var=e)
            - L * df_de
            - ImplicitSourceTerm(coeff=L * pos, var=e)
            + L * pos * e
        )
        eq = eq & eq_e

    lin = LinearLUSolver() if solver == "lu" else LinearGMRESSolver(tolerance=1e-10)
    n_steps = max(1, int(np.ceil(t_end / dt - 1e-9)))
    h = t_end / n_steps
    variables = [rho, mu, *etas]
    setup_s = time.perf_counter() - t_start

    t0 = time.perf_counter()
    for _ in range(n_steps):
        for v in variables:
            v.updateOld()
        for _ in range(sweeps):
            eq.sweep(dt=h, solver=lin)
    wall = time.perf_counter() - t0

    rho_out = _from_fipy(rho.value, shape)
    eta_out = np.stack([_from_fipy(e.value, shape) for e in etas])
    return FipyResult(rho_out, eta_out, n_steps, sweeps, wall, setup_s)


def neck_width(rho: np.ndarray, x_lo: float, x_hi: float, spacing: float = 1.0) -> float:
    """Narrowest material cross-section between the planes x_lo < x < x_hi (as
    `sintersim.observables.neck_size` in 2D)."""
    a = rho.sum(axis=1) * spacing
    x = (np.arange(rho.shape[0]) + 0.5) * spacing
    inside = (x > x_lo) & (x < x_hi)
    return float(a[inside].min())


def run_from_setup(setup, *, t_end: float, dt: float, sweeps: int = 1, solver: str = "lu"):
    """`run_fipy` on a `sintersim.scenario.Setup` (model, grid, state0); returns (result, neck)."""
    m = setup.model
    en, mo = m.energy, m.mobility
    res = run_fipy(
        np.asarray(setup.state0.rho),
        np.asarray(setup.state0.eta),
        A=float(en.A),
        B=float(en.B),
        kappa_rho=float(en.kappa_rho),
        kappa_eta=float(en.kappa_eta),
        M_vol=float(mo.M_vol),
        M_vap=float(mo.M_vap),
        M_surf=float(mo.M_surf),
        M_gb=float(mo.M_gb),
        L=float(m.L),
        spacing=float(setup.grid.spacing),
        t_end=t_end,
        dt=dt,
        sweeps=sweeps,
        solver=solver,
    )
    neck = neck_width(res.rho, setup.centres[0][0], setup.centres[1][0], setup.grid.spacing)
    return res, neck


if __name__ == "__main__":
    import argparse
    import importlib.resources

    from sintersim.scenario import build, load_config

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--t-end", type=float, default=10.0)
    ap.add_argument("--dt", type=float, default=0.5)
    ap.add_argument("--sweeps", type=int, default=1)
    ap.add_argument("--solver", default="lu", choices=["lu", "gmres"])
    a = ap.parse_args()
    setup = build(load_config(importlib.resources.files("sintersim") / "data" / "demo.toml"))
    res, neck = run_from_setup(setup, t_end=a.t_end, dt=a.dt, sweeps=a.sweeps, solver=a.solver)
    print(
        f"FiPy: t = {a.t_end:g}, dt = {a.dt:g}, {res.steps} steps x {res.sweeps} sweeps in "
        f"{res.wall_s:.2f} s (+{res.setup_s:.2f} s setup): neck = {neck:.3f} cells, "
        f"mass = {res.rho.sum():.3f}"
    )
