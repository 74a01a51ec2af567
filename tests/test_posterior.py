"""Posterior sampling of a fit (`sintersim fit --posterior`): NUTS on the fit's log density,
its custom reverse-mode gradient, the Laplace comparison and its warnings, the corner plot, the
CLI."""

from __future__ import annotations

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sintersim.fit as F
from sintersim.cli import main
from sintersim.fit._posterior import check_options, log_density, natural_bounds
from sintersim.scenario._config import loads_config

pytest.importorskip("blackjax")

# A small PbSe pair (the fit tests' TINY config): 85 fixed steps per evaluation.
TINY_TOML = """
[material]
preset = "PbSe"
temperature_K = 423.15
[model]
interface_width_nm = 0.5
[grid]
shape = [24, 16]
spacing_nm = 0.25
[particles]
radius_nm = 1.0
gap_nm = 0.0
[time]
end_s = 0.01
dt_internal = 0.5
"""


def _truth(cfg) -> float:
    """The config's surface diffusivity (the preset's, at its temperature)."""
    return cfg.physical_parameters().surface_diffusivity


@pytest.fixture(scope="module")
def twin():
    """A twin fit of surface_diffusivity and the contact time: 10 points, 2 % noise (the twin
    of scripts/fit_twin.py, smaller)."""
    cfg = loads_config(TINY_TOML)
    ds = _truth(cfg)
    truth = {"surface_diffusivity": ds, "time_offset[twin]": 0.001}
    tr = F.synthetic_trace(cfg, truth, np.linspace(0.0015, 0.01, 10))
    init = {"surface_diffusivity": 2 * ds, "time_offset": 0.0005}
    return F.fit([tr], cfg, ["surface_diffusivity", "time_offset"], init=init, lm_steps=15)


def test_custom_gradient_matches_central_differences(twin):
    """The custom_vjp (forward-mode Jacobian inside) gives reverse mode the gradient of
    -1/2 sum r^2: compared with central differences of the density itself."""
    logp = log_density(twin.problem)
    q = jnp.asarray(twin.q) + jnp.asarray([0.05, 1e-4])  # off the optimum: a real slope
    value, grad = jax.jit(jax.value_and_grad(logp))(q)
    f = jax.jit(logp)
    assert float(value) == pytest.approx(float(f(q)), rel=1e-12)
    assert float(value) == pytest.approx(-0.5 * float(jnp.sum(twin.problem.residuals(q) ** 2)))
    for i, h in enumerate((1e-4, 1e-7)):  # log D, offset (s): relative steps of ~1e-4
        e = jnp.zeros(2).at[i].set(h)
        fd = (float(f(q + e)) - float(f(q - e))) / (2 * h)
        assert float(grad[i]) == pytest.approx(fd, rel=1e-5), i
    # Outside the bounds: no density, no slope (the simulation runs at the clipped point).
    lo, _ = natural_bounds(twin.problem)
    out = jnp.asarray([lo[0] - 1.0, float(q[1])])
    v, g = jax.value_and_grad(logp)(out)
    assert v == -jnp.inf and np.all(np.asarray(g) == 0)


def test_a_well_constrained_posterior_agrees_with_the_laplace_interval(twin, tmp_path):
    calls = []
    post = F.sample_posterior(
        twin, draws=80, warmup=40, chains=2, progress=lambda d, t: calls.append((d, t))
    )
    assert calls == [(0, 120), (25, 120), (50, 120), (75, 120), (100, 120), (120, 120)]
    assert post.samples_q.shape == (2, 80, 2) and post.chains == 2 and post.draws == 80
    sd = np.sqrt(np.diag(twin.covariance))
    x = post.samples_q.reshape(-1, 2)
    for i, name in enumerate(post.names):
        assert abs(np.median(x[:, i]) - twin.q[i]) < 0.3 * sd[i], name
        lo, hi = np.percentile(x[:, i], [16, 84])
        assert abs((hi - lo) / (2 * sd[i]) - 1) < 0.3, name
        assert post.rhat[i] < 1.05 and np.isfinite(post.ess[i]) and post.ess[i] > 20, name
    # Physical summaries: log parameter through exp, offset as is; Laplace as the fit reports.
    ds, tau = twin.values["surface_diffusivity"], twin.values["time_offset[twin]"]
    assert post.ci68[0, 0] < ds < post.ci68[0, 1] and post.ci95[0, 0] < post.ci68[0, 0]
    se = twin.stderr["surface_diffusivity"] / ds
    assert post.laplace68[0] == pytest.approx([ds * math.exp(-se), ds * math.exp(se)])
    s_tau = twin.stderr["time_offset[twin]"]
    assert post.laplace68[1] == pytest.approx([tau - s_tau, tau + s_tau])
    assert post.divergences == 0 and 0.6 < post.acceptance <= 1 and post.step_size > 0.3
    assert not [w for w in post.warnings if "not to be trusted" in w or "divergent" in w]
    doc = json.loads(json.dumps(post.to_json()))
    p = doc["parameters"]["surface_diffusivity"]
    assert p["unit"] == "m^2/s" and p["ci68"][0] < p["median"] < p["ci68"][1]
    assert doc["chains"] == 2 and doc["draws"] == 80 and doc["gradient_evaluations"] > 240
    path = F.plot_corner(post, tmp_path / "posterior.png")
    assert path.stat().st_size > 10_000


# ------------------------------------------------------------------------- closed-form densities
class _Analytic(F.Problem):
    """A Problem whose residuals are a formula (no simulation): the sampler in seconds."""

    def __init__(self, residuals, specs):
        self.specs = specs
        self._r = residuals

    def residuals(self, q, reverse=False):
        return self._r(q)


def _spec(name, kind, lo, hi, log):
    return F.ParamSpec(name, kind, 0.5 * (lo + hi), float(lo), float(hi), log)


def _result(problem, q, cov) -> F.FitResult:
    """What `fit` would return at ``q`` with Gauss-Newton covariance ``cov``."""
    n = len(problem.specs)
    return F.FitResult(
        names=[s.name for s in problem.specs],
        units=[F.FITTABLE[s.kind][0] for s in problem.specs],
        values={s.name: 0.0 for s in problem.specs},
        stderr={s.name: 0.0 for s in problem.specs},
        correlation=np.eye(n),
        loss=0.0,
        chi2_reduced=1.0,
        n_data=n,
        n_evaluations=0,
        loss_history=[],
        curves=[],
        warnings=[],
        problem=problem,
        q=np.asarray(q, float),
        covariance=np.asarray(cov, float),
    )


def test_a_gaussian_posterior_is_the_laplace_one():
    """Residuals linear in q: the posterior is exactly the Laplace Gaussian (correlated, one
    log parameter): medians, intervals and diagnostics must say so, without warnings."""
    jax.config.update("jax_enable_x64", True)
    mu = np.array([math.log(2e-17), 0.01])
    cov = np.array([[0.04, -0.8 * 0.2 * 0.003], [-0.8 * 0.2 * 0.003, 0.003**2]])
    Linv = jnp.asarray(np.linalg.inv(np.linalg.cholesky(cov)))
    specs = [
        _spec("surface_diffusivity", "surface_diffusivity", 1e-19, 1e-15, True),
        _spec("time_offset[a]", "time_offset", -0.05, 0.05, False),
    ]
    problem = _Analytic(lambda q: Linv @ (q - jnp.asarray(mu)), specs)
    post = F.sample_posterior(_result(problem, mu, cov), draws=300, chains=4, seed=1)
    sd = np.sqrt(np.diag(cov))
    x = post.samples_q.reshape(-1, 2)
    assert np.all(np.abs(np.median(x, axis=0) - mu) < 0.1 * sd)
    assert np.allclose(np.std(x, axis=0) / sd, 1, atol=0.1)
    assert np.corrcoef(x.T)[0, 1] == pytest.approx(-0.8, abs=0.05)
    assert np.all(post.rhat < 1.01) and np.all(post.ess > 500)
    assert post.warnings == [] and post.divergences == 0
    assert post.median[0] == pytest.approx(2e-17, rel=0.03)


def test_a_banana_posterior_warns_that_the_laplace_interval_misleads(tmp_path):
    """r = (a / 0.5, (b - a^2) / 0.25): at the mode the Gauss-Newton sd of b is 0.25, but the
    posterior of b is a^2 + noise: median 0.184, 68 % interval [-0.122, 0.595] (10^7 direct
    draws). The warning names b, not a (whose marginal is the Laplace one), and the corner plot
    draws it. (NUTS meets divergences in the banana's neck: said too.)"""
    jax.config.update("jax_enable_x64", True)
    specs = [
        _spec("time_offset[a]", "time_offset", -3.0, 3.0, False),
        _spec("time_offset[b]", "time_offset", -3.0, 3.0, False),
    ]
    problem = _Analytic(lambda q: jnp.stack([q[0] / 0.5, (q[1] - q[0] ** 2) / 0.25]), specs)
    res = _result(problem, [0.0, 0.0], np.diag([0.25, 0.25**2]))
    post = F.sample_posterior(res, draws=200, warmup=100, chains=4)
    assert post.median[1] == pytest.approx(0.184, abs=0.05)
    assert post.ci68[1] == pytest.approx([-0.122, 0.595], abs=0.12)  # Laplace: [-0.25, 0.25]
    assert post.ci68[0] == pytest.approx([-0.5, 0.5], abs=0.12)
    trust = [w for w in post.warnings if "not to be trusted" in w]
    assert len(trust) == 1 and trust[0].startswith("time_offset[b]: the posterior 68 %")
    assert not [w for w in post.warnings if "reaches its bound" in w]
    path = F.plot_corner(post, tmp_path / "banana.png")
    assert path.stat().st_size > 10_000


def test_a_posterior_cut_by_a_bound_is_reported():
    """r = q / 0.01 inside bounds (0, 0.05): a half-normal posterior piled against 0 s."""
    jax.config.update("jax_enable_x64", True)
    problem = _Analytic(
        lambda q: q / 0.01, [_spec("time_offset[a]", "time_offset", 0, 0.05, False)]
    )
    post = F.sample_posterior(_result(problem, [0.0], [[1e-4]]), draws=100, warmup=50, chains=2)
    assert np.all(post.samples_q >= 0) and post.median[0] == pytest.approx(0.00674, rel=0.25)
    (bound,) = [w for w in post.warnings if "reaches its bound" in w]
    assert bound.startswith("time_offset[a]: the posterior reaches its bound +0 s")
    assert [w for w in post.warnings if "not to be trusted" in w]


def test_bad_sampling_options_are_refused():
    with pytest.raises(F.FitError, match="--posterior 2: needs at least 4"):
        check_options(2, 150, 4)
    with pytest.raises(F.FitError, match="--chains 0"):
        check_options(300, 150, 0)
    with pytest.raises(F.FitError, match="warmup"):
        check_options(300, -1, 4)
    res = _result(_Analytic(lambda q: q, [_spec("x", "time_offset", -1, 1, False)]), [0], [[1]])
    res.problem = None
    with pytest.raises(F.FitError, match="FitResult of `fit`"):
        F.sample_posterior(res)


# ------------------------------------------------------------------------------------------ CLI
def test_cli_fit_with_posterior_writes_json_section_and_corner_plot(tmp_path, capsys):
    cfg_path = tmp_path / "c.toml"
    cfg_path.write_text(TINY_TOML)
    cfg = loads_config(TINY_TOML)
    ds = _truth(cfg)
    tr = F.synthetic_trace(cfg, {"surface_diffusivity": ds}, np.linspace(0.001, 0.01, 8))
    csv = tmp_path / "cli.csv"
    rows = "".join(f"{t},{x},{s}\n" for t, x, s in zip(tr.time_s, tr.neck_nm, tr.sigma_nm))
    csv.write_text("time_s,neck_nm,sigma_nm\n" + rows)
    out = tmp_path / "fit"
    args = [str(csv), "--config", str(cfg_path), "--params", "surface_diffusivity"]
    args += ["--out", str(out), "--init", f"surface_diffusivity={2 * ds}", "--lm-steps", "15"]
    # Options out of range are refused before the fit runs.
    assert main(["fit", *args, "--quiet", "--posterior", "3"]) == 2
    assert "--posterior 3: needs at least 4" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["fit", *args, "--quiet", "--posterior", "20", "--chains", "0"])
    assert not out.exists()
    assert main(["fit", *args, "--posterior", "20", "--chains", "2"]) == 0
    doc = json.loads((out / "fit.json").read_text())
    post = doc["posterior"]
    assert post["chains"] == 2 and post["draws"] == 20 and post["warmup"] == 150
    p = post["parameters"]["surface_diffusivity"]
    value = doc["parameters"]["surface_diffusivity"]["value"]
    assert p["ci95"][0] < p["ci68"][0] < value < p["ci68"][1] < p["ci95"][1]
    assert p["unit"] == "m^2/s" and p["rhat"] > 0.9 and p["ess"] > 0
    assert (out / "posterior.png").stat().st_size > 10_000 and (out / "fit.png").exists()
    assert not (out / "fit.json.tmp").exists()
    captured = capsys.readouterr()
    assert "R-hat" in captured.out and str(out / "posterior.png") in captured.out
    # 40 draws of a 1D NUTS chain pair: too few independent draws, said on stderr.
    assert "sintersim: warning: posterior: few independent draws" in captured.err
