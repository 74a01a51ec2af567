"""A free-energy term added from outside the package: an external potential acting on the density.

This file is the worked example of docs/howto-energy-term.md: the term, and the feature that
makes it reachable from a TOML config, written against the public API only. Importing it
registers the feature (``SINTERSIM_PLUGINS=external_potential`` does so for the CLI).

.. math::
    F_{ext} = \\int V(x)\\,\\rho\\,dV,\\qquad V(x) = -V_0\\cos(2\\pi n x_a / L_a)

so the density's chemical potential gains V(x) and material gathers where V is low (x_a = 0,
L_a, ...). The cosine has n whole periods across the box (periodic, so the spectral solver sees
no jump).
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np

import sintersim as ss
from sintersim.scenario import Feature, Field, register_feature


class ExternalPotential(ss.model.AbstractEnergyTerm):
    """``int V(x) rho dV`` with ``V = -amplitude cos(2 pi periods x_axis / L_axis)``.

    amplitude: V_0 in internal energy-density units. periods: whole periods across the box.
    axis: the axis along which V varies. The model's ``terms`` hold it; the stepper adds its
    chemical potential V(x) by autodiff of ``energy`` (no stiffness: V multiplies rho only).
    """

    amplitude: float  # a pytree leaf: it may be traced (vmap over it, fit it)
    # Static: they shape the computation (a traced value cannot pick an axis).
    periods: int = eqx.field(static=True, default=1)
    axis: int = eqx.field(static=True, default=0)

    def potential(self, grid: ss.Grid, dtype=jnp.float64):
        """V(x) on the grid: the cosine is a host constant, the amplitude may be traced."""
        x = grid.coordinates()[self.axis]
        shape = np.cos(2 * np.pi * self.periods * x / grid.lengths[self.axis])
        return -self.amplitude * jnp.asarray(np.broadcast_to(shape, grid.shape), dtype)

    def energy(self, model, state, grid):
        v = self.potential(grid, state.rho.dtype)
        return jnp.sum(v * state.rho) * grid.cell_volume


class ExternalPotentialFeature(Feature):
    """``[external_potential]``: the term above, amplitude given in J/m^3."""

    section = "external_potential"
    schema = {
        "enabled": Field(bool, False, "", "apply the external potential"),
        "amplitude_J_m3": Field(float, 0.0, "J/m^3", "V_0, depth of the potential", lo=0.0),
        "periods": Field(int, 1, "", "whole periods of the cosine across the box", lo=1, hi=64),
        "axis": Field(int, 0, "", "axis along which V varies", lo=0, hi=2),
    }

    def add(self, model, ctx):
        sec = ctx.config["external_potential"]
        v0 = sec["amplitude_J_m3"] / ctx.reference.scales.energy_J_m3
        term = ExternalPotential(v0, sec["periods"], sec["axis"])
        return ss.SinterModel(
            model.energy, model.mobility, model.L, (*model.terms, term), model.paths, model.kinetics
        )


FEATURE = register_feature(ExternalPotentialFeature())
