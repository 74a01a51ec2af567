"""Tests for the material presets in sintersim.materials._presets."""

from __future__ import annotations

import dataclasses
import math
import pickle

import numpy as np
import pytest

from sintersim.constants import K_B_EV
from sintersim.materials._presets import MATERIALS, Arrhenius, Material, get_material

EXPECTED = {"PbSe", "CdSe", "CdS", "CsPbBr3"}
NON_DATA = {"name", "structure", "symmetry", "sources", "guesses"}
FIELD_NAMES = {f.name for f in dataclasses.fields(Material)}
PRESETS = sorted(MATERIALS)


def _data_fields(mat: Material):
    """(name, value) of every numeric/Arrhenius field that is set."""
    for f in dataclasses.fields(mat):
        if f.name in NON_DATA:
            continue
        value = getattr(mat, f.name)
        if value is not None:
            yield f.name, value


def test_expected_presets_present():
    assert set(MATERIALS) == EXPECTED
    for key, mat in MATERIALS.items():
        assert mat.name == key


@pytest.mark.parametrize("name", PRESETS)
def test_values_positive_and_finite(name):
    mat = MATERIALS[name]
    for field, value in _data_fields(mat):
        if isinstance(value, Arrhenius):
            assert math.isfinite(value.D0_m2_s) and value.D0_m2_s > 0, field
            assert math.isfinite(value.Q_eV) and value.Q_eV > 0, field
        else:
            assert isinstance(value, (int, float)), field
            assert math.isfinite(value) and value > 0, field


@pytest.mark.parametrize("name", PRESETS)
def test_every_numeric_field_has_a_source(name):
    mat = MATERIALS[name]
    for field, _ in _data_fields(mat):
        assert field in mat.sources, f"{name}.{field} has no source"
        assert mat.sources[field].strip(), f"{name}.{field} has an empty source"


@pytest.mark.parametrize("name", PRESETS)
def test_guesses_are_fields_and_marked(name):
    mat = MATERIALS[name]
    assert isinstance(mat.guesses, frozenset)
    assert mat.guesses <= FIELD_NAMES
    assert set(mat.sources) <= FIELD_NAMES
    for field in mat.guesses:
        assert mat.sources[field].startswith("GUESS:"), field
    for field, src in mat.sources.items():
        if src.startswith("GUESS:"):
            assert field in mat.guesses, field
    # Only basic crystallographic/thermodynamic data are literature values.
    assert "lattice_parameter_nm" not in mat.guesses
    assert "melting_point_K" not in mat.guesses


def test_inconsistent_guesses_rejected():
    mat = MATERIALS["PbSe"]
    with pytest.raises(ValueError, match="guesses"):
        dataclasses.replace(mat, guesses=mat.guesses - {"gb_width_nm"})
    with pytest.raises(ValueError):
        dataclasses.replace(mat, structure="fluorite")
    with pytest.raises(ValueError):
        dataclasses.replace(mat, symmetry="hexagonal")


def test_arrhenius_hand_computed():
    # D0 = 1e-4 m^2/s, Q = 1 eV, T = 1000 K:
    # Q/(k_B T) = 1 / 0.08617333262 = 11.604518..., exp(-11.604518) = 9.1188e-6
    law = Arrhenius(D0_m2_s=1e-4, Q_eV=1.0)
    assert law(1000.0) == pytest.approx(9.1188e-10, rel=1e-4)
    assert law(1000.0) == pytest.approx(1e-4 * math.exp(-1.0 / (K_B_EV * 1000.0)), rel=1e-12)
    # zero activation energy: constant
    assert Arrhenius(2.5e-9, 0.0)(300.0) == pytest.approx(2.5e-9)
    # monotone increasing in T
    assert law(500.0) < law(1000.0) < law(2000.0)


def test_arrhenius_arrays_and_validation():
    law = Arrhenius(D0_m2_s=1e-4, Q_eV=1.0)
    T = np.array([500.0, 1000.0])
    out = law(T)
    np.testing.assert_allclose(out, [law(500.0), law(1000.0)], rtol=1e-12)
    with pytest.raises(ValueError):
        law(0.0)
    with pytest.raises(ValueError):
        Arrhenius(D0_m2_s=-1.0, Q_eV=1.0)
    with pytest.raises(ValueError):
        Arrhenius(D0_m2_s=1.0, Q_eV=-0.1)


def _expected_omega_m3(mat: Material) -> float:
    a = mat.lattice_parameter_nm * 1e-9
    if mat.structure in ("rocksalt", "zincblende"):
        return a**3 / 4
    if mat.structure == "wurtzite":
        c = mat.c_nm * 1e-9
        return math.sqrt(3) / 2 * a**2 * c / 2
    if mat.structure == "perovskite":
        return a**3
    raise AssertionError(mat.structure)


@pytest.mark.parametrize("name", PRESETS)
def test_atomic_volume_consistent_with_lattice(name):
    mat = MATERIALS[name]
    assert mat.atomic_volume_m3 == pytest.approx(_expected_omega_m3(mat), rel=0.05)


@pytest.mark.parametrize("name", PRESETS)
def test_structure_symmetry_consistent(name):
    mat = MATERIALS[name]
    assert mat.structure in {"rocksalt", "wurtzite", "zincblende", "perovskite"}
    assert mat.symmetry in {"cubic", "hexagonal"}
    assert (mat.symmetry == "hexagonal") == (mat.c_nm is not None)
    if mat.structure == "wurtzite":
        # ideal c/a = sqrt(8/3) = 1.633
        assert mat.c_nm / mat.lattice_parameter_nm == pytest.approx(1.633, rel=0.03)


def test_literature_anchors():
    assert get_material("PbSe").lattice_parameter_nm == pytest.approx(0.6128, rel=2e-3)
    assert get_material("PbSe").melting_point_K == pytest.approx(1352, abs=5)
    assert get_material("CdSe").lattice_parameter_nm == pytest.approx(0.430, rel=5e-3)
    assert get_material("CdSe").c_nm == pytest.approx(0.701, rel=5e-3)
    assert get_material("CdS").lattice_parameter_nm == pytest.approx(0.4136, rel=5e-3)
    assert get_material("CdS").c_nm == pytest.approx(0.6714, rel=5e-3)
    assert get_material("CsPbBr3").lattice_parameter_nm == pytest.approx(0.587, rel=5e-3)
    assert get_material("CsPbBr3").melting_point_K == pytest.approx(840, abs=5)


@pytest.mark.parametrize("name", PRESETS)
def test_physical_orderings(name):
    mat = MATERIALS[name]
    T = 0.5 * mat.melting_point_K
    # fast paths are faster: surface > grain boundary > lattice
    assert mat.surface_diffusion(T) > mat.gb_diffusion(T) > mat.volume_diffusion(T)
    assert mat.gb_energy_J_m2 < mat.surface_energy_J_m2
    assert mat.solid_liquid_energy_J_m2 < mat.surface_energy_J_m2
    # a grain boundary is stable against splitting into two free surfaces
    assert mat.gb_energy_J_m2 < 2 * mat.surface_energy_J_m2


@pytest.mark.parametrize("name", PRESETS)
def test_describe_lists_fields_and_guess_marks(name):
    mat = MATERIALS[name]
    text = mat.describe()
    assert mat.name in text
    assert len(text.splitlines()) > 10
    for field, _ in _data_fields(mat):
        assert field in text
    if mat.guesses:
        assert "(guess)" in text
    line = next(ln for ln in text.splitlines() if ln.startswith("lattice_parameter_nm"))
    assert "(guess)" not in line


def test_presets_hashable_and_picklable():
    mat = MATERIALS["CdSe"]
    assert hash(mat) == hash(dataclasses.replace(mat))
    assert pickle.loads(pickle.dumps(mat)) == mat
    with pytest.raises(dataclasses.FrozenInstanceError):
        mat.melting_point_K = 1.0


@pytest.mark.parametrize("query", ["pbse", "PBSE", "PbSe", "cspbbr3", "CSPBBR3", "cds", "cdSE"])
def test_get_material_case_insensitive(query):
    mat = get_material(query)
    assert mat.name.lower() == query.lower()
    assert mat is MATERIALS[mat.name]


def test_get_material_unknown_lists_available():
    with pytest.raises(KeyError) as excinfo:
        get_material("unobtainium")
    message = str(excinfo.value)
    for name in EXPECTED:
        assert name in message


def test_get_material_did_you_mean():
    with pytest.raises(KeyError, match="Did you mean 'CdSe'"):
        get_material("CdSee")
