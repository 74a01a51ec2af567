"""Differentiable calibration (issue 6): gradients, twin experiment, identifiability, CLI."""

from __future__ import annotations

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sintersim.fit as F
from sintersim.cli import main
from sintersim.constants import K_B_EV
from sintersim.scenario._config import loads_config

# Small PbSe pair: growth of the neck from 2.4 nm to ~5 nm within half a second.
TWIN_TOML = """
[material]
preset = "PbSe"
temperature_K = 423.15
[model]
interface_width_nm = 0.75
[grid]
shape = [40, 24]
spacing_nm = 0.25
[particles]
radius_nm = 2.0
gap_nm = 0.0
[time]
end_s = 0.5
dt_internal = 1.0
"""

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


FIXED_STEPS = 'dt_internal = 0.5\nadaptive = false\nscheme = "euler"'

ORIENTED = """
[orientation]
enabled = true
misorientation_deg = 8.0
rotational_mobility_m3_Js = 2e-9
"""


def _dummy(times, name="t"):
    return F.Trace(np.asarray(times), np.ones(len(times)), np.full(len(times), 0.05), name=name)


def _q(problem, values):
    return jnp.array([math.log(values[s.name]) if s.log else values[s.name] for s in problem.specs])


def twin_trace(cfg, params_truth: dict, times, noise=0.02, seed=1, name="twin"):
    return F.synthetic_trace(cfg, params_truth, times, noise=noise, seed=seed, name=name)


def test_grad_matches_central_differences_for_every_parameter():
    """jax.grad of the loss (reverse mode, checkpointed) vs central differences, float64.

    Two oriented traces at 423 and 428 K, so the activation energies (which scale the shared
    diffusivities between temperatures) and the rotational mobility act on the loss too."""
    # fixed first-order steps of 0.5: the checkpointed fixed-step loop (the adaptive one has its
    # own test); at these values a converged run's neck has stopped moving by 1 ms
    base = TINY_TOML.replace("dt_internal = 0.5", FIXED_STEPS)
    cfg = loads_config(base + ORIENTED)
    hot = loads_config(base.replace("423.15", "428.15") + ORIENTED)
    # (the motion's mobilities need [motion]: their gradient is tested in test_motion.py)
    motion = ("translational_mobility", "shape_rotational_mobility")
    names = [n for n in F.FITTABLE if n not in motion]
    # m_r small enough that no pair turns down to the stitching angle inside the window (a
    # stitch is a jump, which finite differences cannot follow).
    init = {
        "vapour_diffusivity": 1e-12,
        "gb_mobility": 1e-20,
        "time_offset": 1e-3,
        "rotational_mobility": 1e-10,
    }
    traces = [
        F.Trace(
            np.array([0.001, 0.003, 0.006, 0.009]),
            np.array([1.5, 1.7, 1.9, 2.0]),
            np.full(4, 0.05),
            name=name,
            misorientation_deg=np.array([7.9, np.nan, 7.5, 7.2]),
            sigma_deg=np.full(4, 0.5),
        )
        for name in ("tiny", "hot")
    ]
    prob = F.Problem(traces, [cfg, hot], names, init=init)
    assert [s.kind for s in prob.specs if s.trace in (None, 0)] == names
    # A point away from the start so the gradient is not trivially aligned with one direction.
    # (+5% on log parameters, +0.1 ms on offsets: the data must stay inside the simulated span.)
    shift = jnp.asarray([0.05 if s.log else 1e-4 for s in prob.specs])
    q0 = _q(prob, {s.name: s.init for s in prob.specs}) + shift
    for k in range(2):  # the neck still changes at the data times (not clamped past the end)
        assert np.ptp(np.asarray(prob.predict(k, q0))) > 0.05
    g = np.asarray(jax.grad(prob.loss)(q0))
    f = jax.jit(prob.loss)
    for i, s in enumerate(prob.specs):
        # FD steps where its noise (kinks of the neck measure, ~1e-7 of the loss) stays below the
        # truncation error: at 1e-4 the gb_activation difference moved by 1e-4 between steps
        h = 3e-4 if s.log else 1e-2 if s.kind == "temperature_offset" else 1e-6
        e = jnp.zeros_like(q0).at[i].set(h)
        fd = (float(f(q0 + e)) - float(f(q0 - e))) / (2 * h)
        scale = max(abs(fd), 1e-8 * float(f(q0)))
        assert abs(g[i] - fd) / scale < 1e-4, (s.name, g[i], fd)
    size = {s.kind: abs(float(gi)) for s, gi in zip(prob.specs, g, strict=True)}
    for kind in ("surface_activation", "gb_activation", "rotational_mobility"):
        assert size[kind] > 1e-6, kind  # they act on the loss (not trivially zero)


# ~1.5 min (a full LM fit; scripts/fit_twin.py and docs/regression.md carry its numbers):
# in `make test-slow`
@pytest.mark.slow
def test_twin_experiment_recovers_surface_diffusivity_and_time_offset():
    """Solver trace + 2% noise; start a factor 3 off; recover within 5% and 2 standard errors."""
    cfg = loads_config(TWIN_TOML)
    ds = F.Problem([_dummy([0.1, 0.2])], cfg, ["surface_diffusivity"]).specs[0].init
    truth = {"surface_diffusivity": ds, "time_offset[twin]": 0.05}
    times = np.geomspace(0.0515, 0.5, 40)
    tr = twin_trace(cfg, truth, times)
    init = {"surface_diffusivity": 3 * ds, "time_offset": 0.05 / 3}
    res = F.fit([tr], cfg, ["surface_diffusivity", "time_offset"], init=init, lm_steps=40)
    for name, true in truth.items():
        v, se = res.values[name], res.stderr[name]
        assert abs(v / true - 1) < 0.05, (name, v, true, se)
        assert abs(v - true) < 2 * se, (name, v, true, se)
    assert not res.warnings
    assert res.loss_history[-1] < res.loss_history[0]
    assert 0.3 < res.chi2_reduced < 3.0


@pytest.mark.slow
def test_twin_experiment_recovers_rotational_mobility_from_misorientation():
    """An oriented pair (8 degrees): misorientation (0.5 deg noise) and neck traces made by the
    solver; starting a factor 3 off, the fit recovers m_r within 10% and 2 standard errors."""
    cfg = loads_config(TWIN_TOML.replace("end_s = 0.5", "end_s = 0.2") + ORIENTED)
    truth = {"rotational_mobility": 2e-9}
    tr = twin_trace(cfg, truth, np.linspace(0.01, 0.2, 16))
    print("misorientation:", np.round(tr.misorientation_deg, 2))
    assert tr.misorientation_deg[-1] < 6.0  # it turned (before stitching at 2 degrees)
    res = F.fit([tr], cfg, ["rotational_mobility"], init={"rotational_mobility": 6e-9})
    v, se = res.values["rotational_mobility"], res.stderr["rotational_mobility"]
    print(f"m_r = {v:.3e} +- {se:.2e} (truth 2e-9)")
    assert abs(v / 2e-9 - 1) < 0.1 and abs(v - 2e-9) < 2 * se


def test_rotation_fit_needs_an_oriented_config():
    with pytest.raises(F.FitError, match="orientation"):
        F.Problem([_dummy([0.1, 0.2])], loads_config(TINY_TOML), ["rotational_mobility"])


def test_degenerate_pair_warns():
    """Only D_s * delta_s enters the model: fitting both must say they are not identifiable."""
    cfg = loads_config(TINY_TOML)
    base = F.Problem([_dummy([0.002, 0.004])], cfg, ["surface_diffusivity", "surface_layer_nm"])
    truth = {s.name: s.init for s in base.specs}
    tr = twin_trace(cfg, truth, np.linspace(0.001, 0.01, 8), name="deg")
    init = {"surface_diffusivity": 2 * truth["surface_diffusivity"]}
    with pytest.warns(UserWarning, match="not identifiable"):
        res = F.fit([tr], cfg, ["surface_diffusivity", "surface_layer_nm"], init=init, lm_steps=5)
    assert any("surface_diffusivity" in w and "surface_layer_nm" in w for w in res.warnings)


def test_trace_reader_and_errors(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("# measured\ntime_s,neck_nm,sigma_nm\n0.5,1.0,0.1\n1.0,1.5,\n")
    tr = F.read_trace(p, default_sigma_nm=0.2)
    assert tr.name == "a" and list(tr.sigma_nm) == [0.1, 0.2]
    bad = tmp_path / "b.csv"
    bad.write_text("t,neck\n1,2\n")
    with pytest.raises(F.FitError, match="time_s and neck_nm"):
        F.read_trace(bad)
    with pytest.raises(F.FitError, match="increase"):
        F.Trace(np.array([1.0, 0.5]), np.ones(2), np.ones(2))
    cfg = loads_config(TINY_TOML)
    with pytest.raises(F.FitError, match="did you mean surface_diffusivity"):
        F.Problem([tr], cfg, ["surface_difusivity"])
    with pytest.raises(F.FitError, match="bounds"):
        F.Problem([tr], cfg, ["gb_energy"], bounds={"gb_energy": (1.0, 0.1)})


def test_cli_fit_writes_json_and_png(tmp_path, capsys):
    cfg_path = tmp_path / "c.toml"
    cfg_path.write_text(TINY_TOML)
    cfg = loads_config(TINY_TOML)
    base = F.Problem([_dummy([0.002, 0.004])], cfg, ["surface_diffusivity"])
    truth = {"surface_diffusivity": base.specs[0].init}
    tr = twin_trace(cfg, truth, np.linspace(0.001, 0.01, 8), name="cli")
    csv = tmp_path / "cli.csv"
    rows = "".join(f"{t},{x},{s}\n" for t, x, s in zip(tr.time_s, tr.neck_nm, tr.sigma_nm))
    csv.write_text("time_s,neck_nm,sigma_nm\n" + rows)
    out = tmp_path / "fit"
    args = [str(csv), "--config", str(cfg_path), "--params", "surface_diffusivity"]
    args += ["--out", str(out), "--init", f"surface_diffusivity={2 * truth['surface_diffusivity']}"]
    assert main(["fit", *args, "--quiet", "--lm-steps", "15"]) == 0
    doc = json.loads((out / "fit.json").read_text())
    p = doc["parameters"]["surface_diffusivity"]
    assert p["unit"] == "m^2/s" and p["stderr"] > 0
    assert abs(p["value"] / truth["surface_diffusivity"] - 1) < 0.1
    assert doc["n_evaluations"] > 0 and doc["loss"] >= 0
    prior = doc["priors"]["surface_diffusivity"]  # the preset's value and uncertainty
    assert prior["from"] == "preset" and prior["sigma_log10"] == 1.5
    assert prior["centre"] == pytest.approx(truth["surface_diffusivity"], rel=1e-9)
    assert (out / "fit.png").stat().st_size > 1000
    # A second fit into the same directory is refused (nothing already written is lost).
    assert main(["fit", *args, "--quiet"]) == 2
    assert (
        main(
            [
                "fit",
                str(csv),
                "--config",
                str(cfg_path),
                "--params",
                "nope",
                "--out",
                str(tmp_path / "x"),
                "--quiet",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "unknown parameter" in err


def test_multistart_adam_in_parallel_then_lm():
    """Several starts optimised at once (vmap'd Adam), the best polished by LM."""
    cfg = loads_config(TINY_TOML)
    base = F.Problem([_dummy([0.002, 0.004])], cfg, ["surface_diffusivity"])
    truth = {"surface_diffusivity": base.specs[0].init}
    tr = twin_trace(cfg, truth, np.linspace(0.001, 0.01, 8), noise=0.01, name="ms")
    init = {"surface_diffusivity": 3 * truth["surface_diffusivity"]}
    res = F.fit(
        [tr],
        cfg,
        ["surface_diffusivity"],
        init=init,
        starts=3,
        adam_steps=15,
        adam_lr=0.2,
        lm_steps=20,
    )
    assert res.n_evaluations >= 3 * 15
    assert res.loss_history[14] < res.loss_history[0]  # Adam alone made progress
    assert abs(res.values["surface_diffusivity"] / truth["surface_diffusivity"] - 1) < 0.05


def test_adaptive_config_fits_with_steps_frozen_per_round():
    """``[time] adaptive = true``: the fit freezes the steps an error-controlled run chose (at
    the start, and again at the answer, where faster kinetics need more of them); the trace,
    made with steps frozen at the truth, is recovered from a start 3x off."""
    cfg = loads_config(TINY_TOML.replace("[time]\n", "[time]\nadaptive = true\n"))
    ds = F.Problem([_dummy([0.002, 0.004])], cfg, ["surface_diffusivity"]).specs[0].init
    truth = {"surface_diffusivity": ds}
    tr = twin_trace(cfg, truth, np.geomspace(0.0005, 0.01, 10), noise=0.01, name="ad")
    slow = F.Problem([tr], cfg, ["surface_diffusivity"], init={"surface_diffusivity": ds / 3})
    fast = F.Problem([tr], cfg, ["surface_diffusivity"], init={"surface_diffusivity": 3 * ds})
    n_slow, n_fast = slow.freeze_steps()[0], fast.freeze_steps()[0]
    print("frozen steps at ds/3, 3 ds:", n_slow, n_fast)
    assert n_fast > 1.5 * n_slow  # the plan follows the kinetics it was frozen at
    assert slow.counts[0].shape == (slow.sims[0].dense.size,)
    res = F.fit([tr], cfg, ["surface_diffusivity"], init={"surface_diffusivity": ds / 3})
    v, se = res.values["surface_diffusivity"], res.stderr["surface_diffusivity"]
    print(f"D_s = {v:.4g} +- {se:.2g} (truth {ds:.4g}), reduced chi2 {res.chi2_reduced:.2f}")
    assert abs(v / ds - 1) < 0.05 and abs(v - ds) < 3 * se
    assert 0.2 < res.chi2_reduced < 3.0


def test_fits_take_frozen_adaptive_steps_over_decades_and_fixed_steps_otherwise():
    """The default follows the measurement (docs/performance.md): a trace spanning decades
    takes frozen error-controlled steps, a linear span fixed steps of dt_internal; an explicit
    ``[time] adaptive`` decides; thermal noise always takes fixed steps."""
    cfg = loads_config(TINY_TOML)
    decades, linear = np.geomspace(1e-5, 0.01, 6), np.linspace(0.002, 0.01, 6)

    def adaptive(config, times):
        return F.Problem([_dummy(times)], config, ["surface_diffusivity"]).sims[0].adaptive

    assert adaptive(cfg, decades) and not adaptive(cfg, linear)
    off = loads_config(TINY_TOML.replace("[time]\n", "[time]\nadaptive = false\n"))
    on = loads_config(TINY_TOML.replace("[time]\n", "[time]\nadaptive = true\n"))
    assert not adaptive(off, decades) and adaptive(on, linear)
    noisy = loads_config(TINY_TOML + "[noise]\nenabled = true\nscale = 0.1\n")
    assert not adaptive(noisy, decades)
    prob = F.Problem([_dummy(decades)], cfg, ["surface_diffusivity"])
    assert prob.freeze_steps()[0] == prob.counts[0].sum() > 0


def test_joint_fit_of_two_traces_shares_parameters():
    """Two particle sizes, one shared D_s, a contact time per trace."""
    cfg_a = loads_config(TINY_TOML)
    cfg_b = loads_config(TINY_TOML.replace("radius_nm = 1.0", "radius_nm = 0.9"))
    base = F.Problem([_dummy([0.002, 0.004])], cfg_a, ["surface_diffusivity"])
    ds = base.specs[0].init
    times = np.linspace(0.0015, 0.01, 10)
    ta = twin_trace(
        cfg_a, {"surface_diffusivity": ds, "time_offset[a]": 5e-4}, times, noise=0.01, name="a"
    )
    tb = twin_trace(
        cfg_b,
        {"surface_diffusivity": ds, "time_offset[b]": 1e-3},
        times,
        noise=0.01,
        seed=2,
        name="b",
    )
    res = F.fit(
        [ta, tb],
        [cfg_a, cfg_b],
        ["surface_diffusivity", "time_offset"],
        init={"surface_diffusivity": 2 * ds, "time_offset": 7e-4},
        bounds={"time_offset": (0.0, 2e-3)},
        lm_steps=30,
    )
    assert res.names == ["surface_diffusivity", "time_offset[a]", "time_offset[b]"]
    assert len(res.curves) == 2
    assert abs(res.values["surface_diffusivity"] / ds - 1) < 0.1, res.values
    assert abs(res.values["surface_diffusivity"] - ds) < 3 * res.stderr["surface_diffusivity"]


@pytest.mark.slow
def test_traces_at_two_temperatures_recover_the_activation_energy():
    """Twin traces at 423 and 443 K from one Arrhenius law: a joint fit of the shared D_s (at the
    first trace's temperature) and its activation energy Q recovers both (5%, 2 sigma)."""
    c1 = loads_config(TWIN_TOML)
    c2 = loads_config(TWIN_TOML.replace("423.15", "443.15"))
    probe = F.Problem([_dummy([0.1, 0.2])], c1, ["surface_diffusivity", "surface_activation"])
    ds, q = (s.init for s in probe.specs)
    ds2 = ds * math.exp(-q / K_B_EV * (1 / 443.15 - 1 / 423.15))
    tr1 = twin_trace(c1, {"surface_diffusivity": ds}, np.geomspace(0.01, 0.5, 20), name="a")
    times2 = np.geomspace(0.01, 0.5, 20) * ds / ds2  # the same stages of growth, sooner
    tr2 = twin_trace(c2, {"surface_diffusivity": ds2}, times2, seed=2, name="b")
    init = {"surface_diffusivity": 2 * ds, "surface_activation": 0.8 * q}
    res = F.fit([tr1, tr2], [c1, c2], ["surface_diffusivity", "surface_activation"], init=init)
    for name, true in (("surface_diffusivity", ds), ("surface_activation", q)):
        v, se = res.values[name], res.stderr[name]
        print(f"{name}: {v:.4g} +- {se:.2g} (truth {true:.4g})")
        assert abs(v / true - 1) < 0.05 and abs(v - true) < 2 * se


def test_per_trace_parameters_are_fitted_separately():
    cfg = loads_config(TINY_TOML)
    traces = [_dummy([0.001, 0.005], name="a"), _dummy([0.001, 0.005], name="b")]
    prob = F.Problem(traces, cfg, ["surface_diffusivity", "gb_energy"], per_trace=["gb_energy"])
    assert [s.name for s in prob.specs] == ["surface_diffusivity", "gb_energy[a]", "gb_energy[b]"]
    assert [s.trace for s in prob.specs] == [None, 0, 1]
    q0 = _q(prob, {s.name: s.init for s in prob.specs})
    g = np.asarray(jax.jacfwd(lambda q: prob.predict(0, q))(q0))  # trace "a" only
    assert np.all(g[:, 2] == 0) and np.any(g[:, 1] != 0)
    with pytest.raises(F.FitError, match="per_trace"):
        F.Problem(traces, cfg, ["surface_diffusivity"], per_trace=["gb_energy"])
    with pytest.raises(F.FitError, match="surface_activation"):
        F.Problem(traces, cfg, ["surface_activation"])


def test_fit_plot_shows_misorientation_panel(tmp_path):
    t = np.array([0.1, 0.2, 0.3])
    tr = F.Trace(t, np.array([1.0, 1.5, 1.8]), np.full(3, 0.1), "p", np.array([8, np.nan, 6.0]))
    tt = np.linspace(0.1, 0.3, 20)
    res = F.FitResult(
        names=["rotational_mobility"],
        units=["m^3/(J s)"],
        values={"rotational_mobility": 2e-9},
        stderr={"rotational_mobility": 2e-10},
        correlation=np.eye(1),
        loss=1.0,
        chi2_reduced=1.0,
        n_data=5,
        n_evaluations=3,
        loss_history=[3.0, 1.0],
        curves=[{"time_s": tt, "neck_nm": 1 + 3 * tt, "misorientation_deg": 9 - 10 * tt}],
        warnings=[],
    )
    path = F.plot_fit(res, [tr], tmp_path / "fit.png")
    import matplotlib.image

    img = matplotlib.image.imread(path)
    assert img.shape[1] > 3.5 * img.shape[0]  # three panels (16 x 4 in), not two (11 x 4)


def test_poor_fit_warns_from_the_chi2_tail():
    """A reduced chi^2 improbable for its degrees of freedom is reported (the spurious minimum
    of the twin with frozen steps ended at 28 over 38 without a word); a good one is not."""
    from sintersim.fit._optimise import goodness_of_fit

    assert goodness_of_fit(38.0, 38) == []
    assert goodness_of_fit(0.58, 2) == []  # the seed 001 fit
    (note,) = goodness_of_fit(28 * 38.0, 38)
    assert "poor fit: reduced chi^2 = 28 over 38 degrees of freedom" in note
    assert goodness_of_fit(1.9 * 38, 38) and not goodness_of_fit(1.5 * 38, 38)


def test_a_fit_at_the_wrong_time_scale_is_refused_before_it_starts():
    """The calibration issue's CsPbBr3 case: at the preset, a 0.05 s trace is ~10^7 model time
    units, ~10^8 fixed steps per evaluation (it ran 29 minutes unwarned). Now refused at once
    with the estimate, for fixed and for adaptive steps (their lower bound, over dt_max)."""
    text = """
[material]
preset = "CsPbBr3"
[grid]
shape = [24, 16]
spacing_nm = 0.25
[particles]
radius_nm = 1.0
[time]
end_s = 0.05
"""
    tr = F.Trace(np.linspace(0.005, 0.05, 10), np.linspace(2, 4, 10), np.full(10, 0.1), name="cs")
    for extra in ("", "adaptive = true\n"):
        cfg = loads_config(text.replace("[time]\n", "[time]\n" + extra))
        with pytest.raises(F.FitError, match=r"one evaluation would take [0-9.e+]+ steps") as e:
            F.fit([tr], cfg, ["surface_diffusivity"], start="config")
        assert "--max-steps" in str(e.value)
    # the same trace at a config diffusivity 1e-4 of the preset fits within the budget
    ok = F.Problem([tr], loads_config(text), ["surface_diffusivity"])
    assert ok.estimate_steps()[0] > 2_000_000
    ds = ok.sims[0].base["surface_diffusivity"]
    slow = loads_config(
        text.replace('CsPbBr3"\n', f'CsPbBr3"\nsurface_diffusivity_m2_s = {ds * 1e-4}\n')
    )
    assert F.Problem([tr], slow, ["surface_diffusivity"]).estimate_steps()[0] < 2_000_000


def test_a_parameter_the_data_hardly_determine_is_reported():
    """Standard error of ln p above RSE_LIMIT (1: a factor e) warns, naming the parameter and
    the factor; a well-determined one does not (the Jacobian is given, no simulation)."""
    from sintersim.fit._optimise import uncertainty

    prob = F.Problem(
        [_dummy([0.002, 0.004])],
        loads_config(TINY_TOML),
        ["surface_diffusivity", "gb_energy"],
        preset_priors=False,
    )
    q = np.zeros(2)
    jac = np.array([[0.25, 0.0], [0.0, 10.0], [0.0, 0.0]])  # sd of ln p: 4 and 0.1
    _, _, notes = uncertainty(prob, q, jacobian=jac)
    assert len(notes) == 1 and notes[0].startswith("poorly constrained: surface_diffusivity")
    assert "within a factor 54.6" in notes[0]
    _, _, notes = uncertainty(prob, q, jacobian=np.diag([2.0, 10.0]))
    assert notes == []


def test_preset_priors_keep_a_barely_constrained_parameter_near_the_literature():
    """Every fitted positive parameter without --prior gets the preset's value at its trace's
    temperature as a log-normal prior with the preset's uncertainty (a guessed diffusivity 1.5
    decades, a guessed energy 0.3, an activation energy 0.1); given priors win; they can be
    switched off. The prior's residual is (ln p - ln centre) / (sigma ln 10)."""
    from sintersim.materials import get_material

    extra = "[material]\ngb_energy_J_m2 = 0.2\nsurface_diffusivity_m2_s = 1e-18\n"
    cfg = loads_config(TINY_TOML.replace("[material]\n", extra))
    names = ["surface_diffusivity", "gb_energy", "surface_activation", "time_offset"]
    prob = F.Problem([_dummy([0.002, 0.004])], cfg, names, priors={"gb_energy": (0.05, 0.2)})
    got = {s.name: s.prior for s in prob.specs}
    mat = get_material("PbSe")
    assert got["surface_diffusivity"][1] == mat.prior_sigma_log10("surface_diffusion") == 1.5
    # the centre is the preset's own value, not the config's (the start)
    preset_ds = F.Problem([_dummy([1e-3, 2e-3])], loads_config(TINY_TOML), ["surface_diffusivity"])
    centre = preset_ds.specs[0].init
    assert got["surface_diffusivity"][0] == pytest.approx(centre, rel=1e-9)
    assert prob.specs[0].init == 1e-18 and abs(1e-18 / centre - 1) > 0.5
    assert got["gb_energy"] == (0.05, 0.2)  # given
    assert got["surface_activation"] == (mat.surface_diffusion.Q_eV, 0.1)
    assert got["time_offset[t]"] is None
    assert prob.preset_prior_names == ["surface_diffusivity", "surface_activation"]
    q = jnp.asarray([math.log(10 * centre), math.log(0.2), 0.0, 0.0])
    q = q.at[2].set(math.log(prob.specs[2].init))
    r = np.asarray(prob.residuals(q))
    assert r[-3] == pytest.approx(1 / 1.5)  # ten times the preset: one decade, sigma 1.5
    assert r[-2] == pytest.approx(math.log(4) / (0.2 * math.log(10)))
    off = F.Problem([_dummy([0.002, 0.004])], cfg, names, preset_priors=False)
    assert all(s.prior is None for s in off.specs)
