"""Log-normal priors a fit takes from the material preset: its value and its uncertainty."""

from __future__ import annotations

from sintersim.materials._presets import get_material
from sintersim.scenario._config import RunConfig

# Activation energy -> the diffusivity it scales between temperatures (Arrhenius).
_ARRHENIUS = {
    "surface_activation": "surface_diffusivity",
    "gb_activation": "gb_diffusivity",
    "volume_activation": "volume_diffusivity",
}

# Fitted parameter -> (PhysicalParameters field, Material field that carries its uncertainty)
_PRESET_FIELDS = {
    "surface_diffusivity": ("surface_diffusivity", "surface_diffusion"),
    "gb_diffusivity": ("gb_diffusivity", "gb_diffusion"),
    "volume_diffusivity": ("volume_diffusivity", "volume_diffusion"),
    "surface_layer_nm": ("surface_layer_nm", "surface_layer_nm"),
    "surface_energy": ("surface_energy", "surface_energy_J_m2"),
    "gb_energy": ("gb_energy", "gb_energy_J_m2"),
    "gb_mobility": ("gb_mobility", "gb_mobility_m4_Js"),
}


def preset_prior(config: RunConfig, kind: str, temperature_K: float):
    """(centre, sigma_log10) of the log-normal prior the material preset gives parameter
    ``kind`` at ``temperature_K``: the preset's own value (not the config's override: the
    literature knowledge, not the fit's start) and its uncertainty. None when the preset has no
    value for it (rotational mobility, vapour transport, a time offset)."""
    from sintersim.scenario._config import material_parameters

    mat = get_material(config.material.preset)
    if kind in _ARRHENIUS:
        law_field = _PRESET_FIELDS[_ARRHENIUS[kind]][1]
        law = getattr(mat, law_field)
        return (law.Q_eV, mat.prior_sigma_log10(f"{law_field}.Q"))
    if kind not in _PRESET_FIELDS:
        return None
    phys_field, mat_field = _PRESET_FIELDS[kind]
    try:
        phys = material_parameters(config.material.preset, temperature_K, 1.0, 0.25)
    except ValueError:  # a preset the plain validation cannot build alone: no prior from it
        return None
    centre = getattr(phys, phys_field)
    sigma = mat.prior_sigma_log10(mat_field)
    if centre is None or not centre > 0 or sigma is None:
        return None
    return (float(centre), float(sigma))
