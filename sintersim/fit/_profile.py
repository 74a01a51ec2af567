r"""Profile likelihoods: what the data alone say about each fitted parameter.

For parameter i held at a value v, the others are re-optimised against the data (priors left
out: the profile shows what the measurements determine, not what the literature does):

.. math::
    \chi^2_{\rm prof}(v) = \min_{q_{j \ne i}} \sum_{k,j}
        \Big(\frac{x_k(t_{kj}; q) - x_{kj}}{\sigma_{kj}}\Big)^2 \Big|_{q_i = v},
    \qquad \Delta\chi^2(v) = \chi^2_{\rm prof}(v) - \min_v \chi^2_{\rm prof}(v).

The 68 % profile-likelihood interval is where :math:`\Delta\chi^2 \le 1`. A side on which
:math:`\Delta\chi^2` stays below 1 over the whole scanned range is *flat*: the data do not bound
the parameter there, whatever the Gauss-Newton error says (it assumes a parabola).

The re-optimisation is Gauss-Newton with Levenberg damping on the free coordinates, from the
neighbouring point's answer (warm start along each arm). Residuals and Jacobian come from one
forward-mode pass (`jax.jacfwd`) compiled once for every parameter and value, with the steps
frozen at the fit's answer.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from sintersim.fit._problem import FITTABLE, Problem

# Delta chi^2 of a 68 % interval for one parameter.
DCHI2_68 = 1.0


@dataclasses.dataclass
class Profile:
    """The profile of one parameter: scanned physical values, Delta chi^2 (data only), the
    68 % interval where Delta chi^2 crosses 1 (None on a flat side) and the Gauss-Newton
    parabola of the same data (Delta chi^2 = ((q - q_hat) / sd_data)^2) for comparison."""

    name: str
    unit: str
    log: bool
    values: np.ndarray
    delta_chi2: np.ndarray
    parabola: np.ndarray
    interval: tuple[float | None, float | None]
    best: float  # the fit's value (with priors)

    @property
    def flat(self) -> list[str]:
        """The sides ('below', 'above') on which the data leave the parameter unbounded."""
        return [
            side for side, v in zip(("below", "above"), self.interval, strict=True) if v is None
        ]

    def to_json(self) -> dict:
        return {
            "unit": self.unit,
            "values": self.values.tolist(),
            "delta_chi2": self.delta_chi2.tolist(),
            "gauss_newton_delta_chi2": self.parabola.tolist(),
            "interval_68": list(self.interval),
            "flat": self.flat,
        }


def _data_residuals(problem: Problem):
    """q -> the weighted data residuals (the prior terms, which `Problem.residuals` appends
    after the data, left out)."""
    n_prior = sum(s.prior is not None for s in problem.specs)

    def fn(q):
        r = problem.residuals(q)
        return r[: r.size - n_prior] if n_prior else r

    return fn


def _crossing(x: np.ndarray, y: np.ndarray) -> float | None:
    """Where y (increasing away from the first point along x) first reaches DCHI2_68, linearly
    interpolated; None when it never does."""
    for a in range(1, len(x)):
        if y[a] >= DCHI2_68:
            f = (DCHI2_68 - y[a - 1]) / (y[a] - y[a - 1]) if y[a] != y[a - 1] else 0.0
            return float(x[a - 1] + f * (x[a] - x[a - 1]))
    return None


def profile_likelihood(
    result, points: int = 9, span: float = 3.0, iterations: int = 10, progress=None
) -> tuple[dict[str, Profile], list[str]]:
    """Profile likelihoods of every fitted parameter of ``result`` (a `FitResult`).

    points: values per parameter (odd: the fit's value is one of them); span: the scan reaches
        ``span`` Gauss-Newton standard errors (with priors) each side of the fit's value, within
        the parameter's bounds; iterations: most Gauss-Newton steps per value.
    Returns (profiles by name, warnings for flat profiles).
    """
    problem, q_hat, cov = result.problem, np.asarray(result.q), np.asarray(result.covariance)
    if problem is None or q_hat is None or cov is None:
        raise ValueError("profile_likelihood needs a FitResult from sintersim.fit.fit")
    if points < 3:
        raise ValueError(f"points = {points}: allowed >= 3")
    data = _data_residuals(problem)

    def both(q):
        r = data(q)
        return r, r

    rj = jax.jit(jax.jacfwd(both, has_aux=True))

    def evaluate(q):
        J, r = rj(jnp.asarray(q))
        return np.asarray(r), np.asarray(J)

    r0, J0 = evaluate(q_hat)
    # The data's own Gauss-Newton covariance, for the parabola the profile is compared with.
    cov_data = np.linalg.pinv(J0.T @ J0)
    n = len(problem.specs)
    sd = np.sqrt(np.clip(np.diag(cov), 0, None))
    profiles, notes = {}, []
    total = n * (points - 1)
    done = 0
    for i, spec in enumerate(problem.specs):
        lo, hi = (math.log(spec.lo), math.log(spec.hi)) if spec.log else (spec.lo, spec.hi)
        h = span * max(sd[i], 1e-6 * max(1.0, abs(q_hat[i])))
        free = [j for j in range(n) if j != i]
        half = (points - 1) // 2
        # the centre re-optimised against the data too (the fit's answer holds the priors)
        centre, chi2_c = _reoptimise(evaluate, q_hat.copy(), free, iterations)
        grid = {0: (q_hat[i], centre, chi2_c)}
        for sign in (-1, 1):
            end = min(max(q_hat[i] + sign * h, lo), hi)
            q = centre.copy()
            for a in range(1, half + 1):
                v = q_hat[i] + (end - q_hat[i]) * a / half
                q[i] = v
                q, chi2 = _reoptimise(evaluate, q, free, iterations)
                grid[sign * a] = (v, q.copy(), chi2)
                done += 1
                if progress:
                    progress(done, total)
        keys = sorted(grid)
        x = np.array([grid[k][0] for k in keys])
        chi2 = np.array([grid[k][2] for k in keys])
        d = chi2 - chi2.min()
        m = int(np.argmin(d))  # the data's best value on the scan (the fit's holds priors)
        below = _crossing(x[m::-1], d[m::-1])
        above = _crossing(x[m:], d[m:])
        to_phys = (lambda v: math.exp(v)) if spec.log else (lambda v: v)
        sd_data = math.sqrt(max(cov_data[i, i], 1e-300))
        prof = Profile(
            name=spec.name,
            unit=FITTABLE[spec.kind][0],
            log=spec.log,
            values=np.array([to_phys(v) for v in x]),
            delta_chi2=d,
            parabola=((x - q_hat[i]) / sd_data) ** 2,
            interval=(
                None if below is None else to_phys(below),
                None if above is None else to_phys(above),
            ),
            best=to_phys(q_hat[i]),
        )
        profiles[spec.name] = prof
        if prof.flat:
            rng = f"{prof.values[0]:.3g} to {prof.values[-1]:.3g} {prof.unit}"
            notes.append(
                f"flat profile: the data alone do not bound {spec.name} "
                f"{' or '.join(prof.flat)} (Delta chi^2 < 1 over the scanned {rng}, the others "
                "re-optimised); its interval there is the prior's or the bounds'"
            )
    return profiles, notes


def _reoptimise(evaluate, q, free, iterations) -> tuple[np.ndarray, float]:
    """Minimise the data chi^2 over the coordinates ``free`` from ``q`` (Gauss-Newton with
    Levenberg damping); returns (q, chi^2)."""
    r, J = evaluate(q)
    chi2 = float(r @ r)
    if not free:
        return q, chi2
    mu = 1e-3
    for _ in range(iterations):
        Jf = J[:, free]
        A = Jf.T @ Jf
        g = Jf.T @ r
        step = -np.linalg.solve(A + mu * np.diag(np.diag(A) + 1e-12), g)
        trial = q.copy()
        trial[free] += step
        r_t, J_t = evaluate(trial)
        chi2_t = float(r_t @ r_t)
        if np.isfinite(chi2_t) and chi2_t < chi2:
            small = chi2 - chi2_t < 1e-4 * max(chi2, 1.0) and np.max(np.abs(step)) < 1e-4
            q, r, J, chi2 = trial, r_t, J_t, chi2_t
            mu = max(mu / 10, 1e-9)
            if small:
                break
        else:
            mu *= 10
            if mu > 1e8:
                break
    return q, chi2


def plot_profiles(profiles: dict[str, Profile], path):
    """One panel per parameter: the profile's Delta chi^2 (data only), the Gauss-Newton parabola
    of the same data, the 68 % level and the fit's value."""
    from pathlib import Path

    from sintersim.plot import plt

    n = len(profiles)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.6), squeeze=False)
    for ax, prof in zip(axes[0], profiles.values(), strict=True):
        ax.plot(prof.values, prof.delta_chi2, "o-", ms=4, label="profile (data)")
        ax.plot(prof.values, prof.parabola, "--", color="grey", label="Gauss-Newton")
        ax.axhline(DCHI2_68, color="firebrick", lw=0.8, label="68 % (Δχ² = 1)")
        ax.axvline(prof.best, color="k", lw=0.6)
        if prof.log:
            ax.set_xscale("log")
        ax.set_xlabel(f"{prof.name} ({prof.unit})")
        ax.set_ylabel("Δχ²")
        top = max(4.0, float(np.nanmax(np.minimum(prof.delta_chi2, 50))) * 1.1)
        ax.set_ylim(-0.2, top)
        if prof.flat:
            ax.set_title(f"flat {' and '.join(prof.flat)}", color="firebrick", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)
