"""Premelted layer of the phase-field liquid (sintersim.model.Liquid) vs the flat Kofman law.

    python experiments/surface_melting/phase_field_premelt.py [--seed003] [--fine]

Prints the three interface energies (1D relaxed profiles, q = 0), the layer thickness
delta = int rho l dx / 2 of a periodic 1D slab at several q (L-BFGS + Newton-Krylov), xi from the
slope of delta vs ln q (q <= 0.03) and the flat Kofman law xi ln(Dgamma / (xi q)) with the
measured Dgamma. Default shape: A = 30, kappa_rho = 10, c_sl = 0.3, a_l = 30 (the tests' WET).
--seed003: A = 300, kappa_rho = 10 with (c_sl, a_l) solved for gamma_lv / gamma_sv = 0.199,
gamma_sl / gamma_sv = 0.035 (CDSE_SEED003's ratios). --fine: half the grid spacing.
"""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np

from sintersim.calibrate import (
    interface_energies,
    kofman_fit,
    premelt_layer,
    solve_liquid_coefficients,
)
from sintersim.model import LiquidEnergy, WangEnergy

jax.config.update("jax_enable_x64", True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed003", action="store_true")
    ap.add_argument("--fine", action="store_true")
    args = ap.parse_args()
    if args.seed003:
        kw = dict(n=2001, span=60.0)
        energy, g = solve_liquid_coefficients(WangEnergy(300.0, 1.0, 10.0, 1.0), 0.199, 0.035, **kw)
        h, n = 0.1, 2048
    else:
        energy = LiquidEnergy(A=30.0, B=1.0, kappa_rho=10.0, kappa_eta=1.0, c_sl=0.3, a_l=30.0)
        g = interface_energies(energy)
        h, n = np.sqrt(10.0) / 8, 1536
    if args.fine:
        h, n = h / 2, 2 * n
    print(f"c_sl = {float(energy.c_sl):.5g}, a_l = {float(energy.a_l):.5g}")
    print(
        f"gamma_sv = {g.sv:.4f}, gamma_lv = {g.lv:.4f}, gamma_sl = {g.sl:.4f}, "
        f"Dgamma = {g.spreading:.4f}; lv/sv = {g.lv / g.sv:.4f}, sl/sv = {g.sl / g.sv:.4f}; "
        f"widths sv {g.width_sv:.3f}, lv {g.width_lv:.3f}, sl {g.width_sl:.3f}"
    )
    qs = np.array([3.0, 1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001])
    deltas, prev = [], None
    for q in qs:
        t = time.time()
        prev = premelt_layer(energy, float(q), n=n, h=h, start=prev)
        deltas.append(prev.delta)
        print(f"  q = {q:7.3g}: delta = {prev.delta:8.4f}  ({time.time() - t:.1f} s)", flush=True)
    deltas = np.array(deltas)
    sel = qs <= 0.03
    fit = kofman_fit(qs[sel], deltas[sel], g.spreading)
    xi = fit["xi"]
    law = np.maximum(xi * np.log(g.spreading / (xi * qs)), 0.0)
    print(f"xi (slope, q <= 0.03) = {xi:.4f}; offset fitted {fit['offset']:.4f}, "
          f"Kofman {fit['offset_law']:.4f}")  # fmt: skip
    print("      q    delta_pf   Kofman   rel.err")
    for q, d, k in zip(qs, deltas, law, strict=True):
        err = (d - k) / k if k > 0 else float("nan")
        print(f"{q:7.3g}  {d:9.4f}  {k:8.4f}  {err:+8.3f}")


if __name__ == "__main__":
    main()
