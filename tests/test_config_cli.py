"""Config validation and the command line."""

import csv
import subprocess
import sys

import pytest

from sintersim.cli import main
from sintersim.scenario._config import loads_config
from sintersim.scenario._schema import ConfigError

BASE = """
[grid]
shape = [48, 32]
spacing_nm = 0.25
[particles]
radius_nm = 2.0
[time]
end_s = 0.01
n_saves = 3
"""


def test_defaults_fill_in():
    c = loads_config(BASE)
    assert c["material"]["preset"] == "PbSe"
    assert c["time"]["n_saves"] == 3
    p = c.physical_parameters()
    assert p.surface_energy > 0 and p.surface_diffusivity > 0


@pytest.mark.parametrize(
    "extra, words",
    [
        ("[grid]\nspacing_nm = -1", ["grid.spacing_nm", "out of range"]),
        ("[particles]\nradius_nm = 50.0", ["radius"]),
        ("[material]\ntemprature_K = 300", ["unknown key", "did you mean material.temperature_K"]),
        ('[material]\npreset = "PbSee"', ["material.preset", "PbSe"]),
        ("[time]\nn_saves = 2.5", ["time.n_saves", "integer"]),
        ("[grdi]\nshape = [8, 8]", ["unknown section", "did you mean [grid]"]),
        ("[model]\ninterface_width_nm = 0.3", ["interface_width_nm", "cells"]),
        # the pair would touch its own periodic image and fuse into a band
        ("[grid]\nshape = [36, 32]", ["periodic image", "grid.shape[0] >= 39"]),
    ],
)
def test_bad_input_names_field(extra, words):
    with pytest.raises(ConfigError) as e:
        loads_config(_merge(BASE, extra))
    for w in words:
        assert w in str(e.value)


def _merge(base, extra):
    """BASE with the keys of ``extra`` overriding (TOML forbids repeating a section header)."""
    import tomllib

    a, b = tomllib.loads(base), tomllib.loads(extra)
    for k, v in b.items():
        a.setdefault(k, {}).update(v)
    lines = []
    for sec, vals in a.items():
        lines.append(f"[{sec}]")
        for k, v in vals.items():
            lines.append(f"{k} = {v!r}".replace("'", '"'))
    return "\n".join(lines)


def test_example_config_runs_as_printed(tmp_path):
    """`sintersim config --example > case.toml && sintersim run case.toml` works, as a user
    types it (the required time.end_s used to be commented out)."""
    import subprocess
    import sys

    sh = (
        f"{sys.executable} -m sintersim config --example > case.toml && "
        f"{sys.executable} -m sintersim run case.toml --out out --quiet"
    )
    r = subprocess.run(sh, shell=True, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert loads_config((tmp_path / "case.toml").read_text())["time"]["end_s"] > 0
    rows = (tmp_path / "out" / "observables.csv").read_text().splitlines()
    assert len(rows) > 2 and "Traceback" not in r.stderr


def test_cli_config_error_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(_merge(BASE, "[grid]\nspacing_nm = -1"))
    assert main(["run", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "grid.spacing_nm" in err and "Traceback" not in err


def test_pair_that_does_not_fit_is_a_config_error(tmp_path, capsys):
    """Found by the fuzz test: a pair longer than the box raised a bare ValueError in build."""
    bad = tmp_path / "big.toml"
    bad.write_text(_merge(BASE, "[particles]\nradius2_nm = 3.625\ngap_nm = 3.75"))
    assert main(["run", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "particles.radius_nm" in err and "does not fit" in err and "Traceback" not in err


def test_cli_run_writes_outputs(tmp_path):
    cfg = tmp_path / "case.toml"
    cfg.write_text(BASE)
    out = tmp_path / "out"
    r = subprocess.run(
        [sys.executable, "-m", "sintersim", "run", str(cfg), "--out", str(out), "--quiet"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(open(out / "observables.csv")))
    assert len(rows) == 4  # t = 0 plus 3 save-points
    assert {"time_s", "neck_width_nm", "shrinkage", "free_energy_J"} <= set(rows[0])
    t = [float(r["time_s"]) for r in rows]
    assert t[0] == 0 and abs(t[-1] - 0.01) < 1e-9
    neck = [float(r["neck_width_nm"]) for r in rows]
    assert neck[-1] > neck[0] > 0  # the neck grows
    energy = [float(r["free_energy_J"]) for r in rows]
    assert energy[-1] < energy[0]
    assert (out / "neck.png").stat().st_size > 1000
    assert (out / "fields_0.png").stat().st_size > 1000
    assert (out / "run.h5").exists() and (out / "run.xmf").exists()


def test_cli_materials(capsys):
    assert main(["materials"]) == 0
    out = capsys.readouterr().out
    for name in ("PbSe", "CdSe", "CdS", "CsPbBr3"):
        assert name in out
    assert main(["materials", "cdse"]) == 0
    assert "source" in capsys.readouterr().out.lower()
    assert main(["materials", "unobtainium"]) == 2
