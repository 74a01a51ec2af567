"""The boundary-energy table behind `GrainBoundaryLaw`: gamma_gb(c) / gamma_gb(1) measured on
relaxed 1D boundary profiles of the full model (host side, float64), and `make_boundary_law`,
which builds the law for a given Wang shape from it (see `sintersim.model.GrainBoundaryLaw`).
"""

from __future__ import annotations

import functools

import jax.numpy as jnp
import numpy as np
import scipy.optimize

from sintersim.calibrate._profiles import grain_boundary_profile
from sintersim.model._boundaries import C_STAR, GrainBoundaryLaw
from sintersim.model._energy import WangEnergy
from sintersim.orientation import symmetry_operations


def wetting_coefficient(a: float, k: float) -> float:
    """c_w: below it the uniform mixed state eta_i = eta_j (rho free) is cheaper than a crystal.

    For c < c_w a boundary would spread into a layer of mixed phase without bound; for
    c_w < c < 1/3 the mixed phase is metastable and the boundary energy stays finite (about a
    third of gamma_m for the usual shapes) as c approaches c_w. So boundary energies below that
    floor cannot be represented; `make_boundary_law` stitches such pairs instead.
    """

    energy = WangEnergy(a, 1.0, k, 1.0)

    def mixed_minimum(c: float) -> float:
        def f(z):
            return float(energy.bulk(np.float64(z[0]), np.array([z[1], z[1]]), c - 1.0))

        best = scipy.optimize.minimize(
            f,
            x0=[1.0, 1.0 / (1.0 + c)],
            method="Nelder-Mead",
            options={"xatol": 1e-12, "fatol": 1e-15},
        )
        return float(best.fun)

    return float(scipy.optimize.brentq(mixed_minimum, C_STAR - 0.1, 1.0 / 3.0, xtol=1e-10))


@functools.lru_cache(maxsize=32)
def boundary_table(a: float, k: float, n: int = 14) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(gamma_gb(c)/gamma_gb(1), c, I(c)) for the canonical shape A/B = a, kappa_rho/kappa_eta = k.

    I(c) = ``int eta_1 eta_2 dx`` across the boundary, per unit area in units of the canonical
    width (multiply by the stretch lambda); it converts ``int eta_i eta_j dV`` to a boundary area.

    Each entry is the excess energy of a relaxed 1D boundary profile of the full model (rho
    free). Widths and energies scale together under kappa -> lambda^2 kappa, so the ratio
    depends only on (a, k). The nodes run from just above the wetting coefficient c_w
    (`wetting_coefficient`) to 1, crowded towards c_w where gamma_gb(c) is steep.
    """

    energy = WangEnergy(a, 1.0, k, 1.0)
    c_lo = wetting_coefficient(a, k) + 0.004
    cs = c_lo + (1.0 - c_lo) * np.linspace(0.0, 1.0, n) ** 2
    # The high-angle reference on the same line as each node (same discretisation error).
    ref = {span: grain_boundary_profile(energy, n=1601, span=span).gamma for span in (60.0, 160.0)}
    ratios, integrals = [], []
    for c in cs:
        # Low-angle boundaries are wide: a longer line keeps both ends in the bulk.
        span = 60.0 if c > 0.4 else 160.0
        prof = grain_boundary_profile(energy, n=1601, span=span, pair=c)
        ratios.append(prof.gamma / ref[span])
        integrals.append(prof.gb_integral / 2.0)  # gb_integral sums both orders (i, j), (j, i)
    ratios = np.asarray(ratios)
    if not (np.all(np.diff(ratios) > 0) and ratios[0] > 0):
        raise RuntimeError(f"boundary energy table is not monotone in c: {ratios}")
    return ratios, cs, np.asarray(integrals)


def floor_angle(ratio_floor: float, cutoff_deg: float) -> float:
    """The misorientation (degrees) whose Read-Shockley ratio equals ``ratio_floor``."""
    f = lambda x: x * (1.0 - np.log(x)) - ratio_floor  # noqa: E731
    return float(scipy.optimize.brentq(f, 1e-9, 1.0) * cutoff_deg)


def make_boundary_law(
    energy,
    cutoff_deg: float = 15.0,
    stitch_deg: float = 2.0,
    stitch_contact: float = 1.0,
    symmetry: str = "cubic",
) -> GrainBoundaryLaw:
    """Build the Read-Shockley law for a `WangEnergy` (its table computed once per shape).

    cutoff_deg: theta_m; stitch_deg: merge threshold, at least the angle below which the model
    cannot represent the Read-Shockley energy (`floor_angle` of the table's lowest ratio, about
    1.5 degrees at theta_m = 15); stitch_contact: shared ``int eta_i eta_j dV`` needed to merge;
    symmetry: "cubic" or "hexagonal" (wurtzite).
    """
    symmetry_operations(symmetry)  # a clear error for an unknown name
    if not 0.5 <= cutoff_deg <= 60.0:
        raise ValueError(f"cutoff_deg = {cutoff_deg} is out of range; allowed: 0.5 to 60 degrees")
    if stitch_contact < 0:
        raise ValueError(f"stitch_contact = {stitch_contact} must be >= 0")
    b, kap = float(energy.B), float(energy.kappa_eta)
    a = round(float(energy.A) / b, 10)
    k = round(float(energy.kappa_rho) / kap, 10)
    ratios, cs, overlaps = boundary_table(a, k)
    lo = floor_angle(float(ratios[0]), cutoff_deg)
    if not lo <= stitch_deg < cutoff_deg:
        raise ValueError(
            f"stitch_deg = {stitch_deg} is out of range; allowed: {lo:.3g} <= stitch_deg < "
            f"cutoff_deg = {cutoff_deg} (below {lo:.3g} degrees the boundary energy would be "
            f"under the model's floor of {ratios[0]:.3f} gamma_m, so such pairs must stitch)"
        )
    return GrainBoundaryLaw(
        theta_max=float(np.radians(cutoff_deg)),
        ratio_nodes=jnp.asarray(ratios),
        c_nodes=jnp.asarray(cs),
        overlap_nodes=jnp.asarray(overlaps * np.sqrt(kap / b)),  # widths scale as sqrt(kappa/B)
        stitch_angle=float(np.radians(stitch_deg)),
        stitch_contact=float(stitch_contact),
        symmetry=symmetry,
    )
