"""A new free-energy term from outside the package (docs/howto-energy-term.md, done for real).

tests/plugins/external_potential.py adds an external potential (the term and its config feature,
public API only); this file checks it through the API and through a TOML config on the CLI:
two files, nothing in sintersim/ touched.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import sintersim as ss

jax.config.update("jax_enable_x64", True)

PLUGINS = Path(__file__).parent / "plugins"


@pytest.fixture
def plugin():
    """Import the plugin (it registers its feature) and take the feature away afterwards."""
    sys.path.insert(0, str(PLUGINS))
    try:
        import external_potential

        yield external_potential
    finally:
        ss.scenario.unregister_feature(external_potential.FEATURE)
        sys.modules.pop("external_potential", None)
        sys.path.remove(str(PLUGINS))


def _slab_state(grid):
    x, y = grid.coordinates()
    u = 0.5 * (np.tanh((x + 0 * y - 8.0) / 1.5) - np.tanh((x + 0 * y - 24.0) / 1.5))
    return ss.State(jnp.asarray(u), jnp.asarray(u[None]))


def test_term_adds_its_potential_to_the_chemical_potential(plugin):
    """mu_rho(with term) - mu_rho(without) = V(x) exactly; mu_eta unchanged."""
    grid = ss.Grid((48, 16), spacing=0.8)
    state = _slab_state(grid)
    base = ss.SinterModel(ss.WangEnergy(10.0, 1.0, 4.0, 2.0), ss.Mobility(0, 0, 1.0, 0), 1.0)
    term = plugin.ExternalPotential(0.3, periods=2)
    with_term = dataclasses.replace(base, terms=(term,))
    d0, d1 = (
        base.variational_derivatives(state, grid),
        with_term.variational_derivatives(state, grid),
    )
    np.testing.assert_allclose(d1.rho - d0.rho, term.potential(grid), atol=1e-12)
    np.testing.assert_allclose(d1.eta, d0.eta, atol=1e-12)
    assert float(term.energy(with_term, state, grid)) != 0.0


def test_term_drives_material_down_the_potential_and_keeps_the_flow_a_gradient_flow(plugin):
    """A slab on the slope of the potential drifts towards its minimum (x = 0) relative to the
    same run without the term (measured: 0.42 cells by t = 400); mass is conserved and F falls
    at every save."""
    grid = ss.Grid((64, 16))
    state = _slab_state(grid)
    x = grid.coordinates()[0] + 0 * grid.coordinates()[1]
    ts = np.linspace(20.0, 400.0, 20)
    out = {}
    for v0 in (0.0, 0.3):
        model = ss.SinterModel(
            ss.WangEnergy(10.0, 1.0, 4.0, 2.0),
            ss.Mobility(1.0, 0.0, 1.0, 0.0),  # volume diffusion: a slab moves through its bulk
            1.0,
            terms=(plugin.ExternalPotential(v0, periods=1),),
        )
        save = ss.SaveAt(ts, lambda t, s, m=model: (m.free_energy(s, grid), s.rho))
        sol = ss.integrate(model, grid, state, t0=0.0, dt=0.2, saveat=save, differentiable=False)
        f, rho = np.asarray(sol.ys[0]), np.asarray(sol.ys[1])
        out[v0] = np.sum(rho[-1] * x) / np.sum(rho[-1])
        assert np.all(np.diff(f) < 0)
        assert np.sum(rho[-1]) == pytest.approx(float(np.sum(np.asarray(state.rho))), rel=1e-12)
    assert out[0.3] < out[0.0] - 0.2  # towards x = 0, where V is lowest


def test_config_section_reaches_the_model(plugin):
    """[external_potential] in a config: validated like a built-in section, and the assembled
    model carries the term with V_0 = amplitude / E0."""
    text = Path(ss.__file__).parent.joinpath("data", "demo.toml").read_text()
    cfg = ss.loads_config(text + "\n[external_potential]\nenabled = true\namplitude_J_m3 = 2e6\n")
    setup = ss.build(cfg)
    term = setup.model.find(plugin.ExternalPotential)
    assert term is not None
    assert term.amplitude == pytest.approx(2e6 / setup.nd.scales.energy_J_m3)
    with pytest.raises(ss.scenario.ConfigError, match="external_potential.periods"):
        ss.loads_config(text + "\n[external_potential]\nperiods = 0\n")


def test_cli_runs_the_plugin_section(tmp_path):
    """The CLI with SINTERSIM_PLUGINS=external_potential runs a config with the new section. The
    pair sits at the potential's maximum (the box centre), so the term pushes the two particles
    apart: their centre distance ends larger than without it; mass is conserved and F falls."""
    base = Path(ss.__file__).parent.joinpath("data", "demo.toml").read_text()
    base = base.replace("end_s = 1.0", "end_s = 0.05")
    env = dict(os.environ, SINTERSIM_PLUGINS="external_potential", JAX_PLATFORMS="cpu")
    env["PYTHONPATH"] = os.pathsep.join([str(PLUGINS), env.get("PYTHONPATH", "")])
    rows = {}
    for name, extra in (
        ("off", ""),
        ("on", "\n[external_potential]\nenabled = true\namplitude_J_m3 = 3e7\n"),
    ):
        cfg = tmp_path / f"{name}.toml"
        cfg.write_text(base + extra)
        out = tmp_path / name
        r = subprocess.run(
            [sys.executable, "-m", "sintersim", "run", str(cfg), "--out", str(out), "--quiet"],
            env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        rows[name] = list(csv.DictReader(open(out / "observables.csv")))
    on = {k: np.array([float(r[k]) for r in rows["on"]]) for k in rows["on"][0]}
    off = {k: np.array([float(r[k]) for r in rows["off"]]) for k in rows["off"][0]}
    assert np.max(np.abs(on["mass_nm2"] / on["mass_nm2"][0] - 1)) < 1e-5
    assert np.all(np.diff(on["free_energy_J"]) < 0)
    assert on["free_energy_J"][0] != off["free_energy_J"][0]  # the term is part of the run's F
    assert on["centre_distance_nm"][-1] > off["centre_distance_nm"][-1] + 0.01
