r"""Rigid-body motion of grains: the densification mechanism (per grain, not per field).

Every grain ``g`` (a connected component of one order parameter, found on the device by
`sintersim.model._labels.label_components`, so a field may hold many) moves as a rigid body,

.. math::
    v(r) = \frac{m_t}{V_g}\,F_g + \omega_g\times(r - r_g),\qquad
    \omega_g = \frac{m_r}{V_g}\,\tau_g,\qquad
    F_g = \int_g f_i\,dV,\quad \tau_g = \int_g (r - r_g)\times f_i\,dV,\quad
    V_g = \int_g \eta_i\,dV,

over the grain's cells g: a connected component of ``eta_i > threshold`` and its tail, the
cells within ``reach`` of it (the velocity moves the same cells, so ``dF/dt`` below is exact;
summing over the component alone missed the tail's share of a contact's force),

and the fields follow in flux form (mass conserved to round-off),

.. math::
    \partial_t\eta_i \mathrel{+}= -\nabla\cdot(\eta_i v_i),\qquad
    \partial_t\rho \mathrel{+}= -\nabla\cdot\Big(\frac{\rho}{\sum_j\eta_j}\sum_i \eta_i v_i\Big).

Two force densities ``f_i`` (``force=``):

* ``"energy"`` (default): minus the free-energy change per unit rigid displacement of the grain
  with its share of the density. The advection above changes F at the rate
  ``dF/dt = sum_i int v_i . eta_i (grad mu_eta_i + s grad mu_rho) dV`` (``s = rho / sum eta``,
  ``mu = dF/d(field)`` by autodiff of F), so

  .. math:: f_i = -\eta_i\,(\nabla\mu_{\eta_i} + s\,\nabla\mu_\rho)

  makes ``dF/dt = -sum_g (m_t |F_g|^2 + m_r |tau_g|^2) / V_g <= 0``: the motion is a gradient
  flow of the same F, with no further parameter. An isolated grain feels no force (F is
  translation invariant; on the grid, to the cells' pinning: below 1 % of a contact's force).
  At a neck the concave surface pulls the grains together until the overlap they push into the
  boundary (rho > 1 there: the boundary in compression, mu_rho above the neck's) balances it;
  boundary (or volume) diffusion then carries the overlap to the neck and the grains follow:
  the boundary is the vacancy sink, at the rate its diffusion allows (Coble), or m_t's if that
  is slower. Surface diffusion alone moves no matter out of the boundary, so it does not
  densify.
* ``"wang"``: Wang (Acta Mater. 54, 953 (2006)),
  ``f_i = kappa (rho - rho0) sum_{j != i} [eta_i eta_j >= c_gb] (grad eta_i - grad eta_j)``,
  the advection form MOOSE's GrainAdvection and hpsint use: a boundary short of the reference
  density rho0 pulls. Its indicator also covers the boundary's edge at the neck, where rho < 1
  belongs to the free surface's own profile, so it keeps pulling at equilibrium.

Why "energy" is the default: see docs/physics.md ("Densification"), where both were measured.
In 2D at dt = 0.5 the energy force needs the stiffness term below with s >= 4 (s = 1 went
unstable, with negative density in the neck); Wang's was stable with s = 1.

The angular velocity turns the grain's shape; the crystal lattice's orientation is the
`Rotation` kinetics' (a field's orientation is shared by all its grains).

Explicit (operator splitting after the diffusive step, the velocities of the old state, SSP-RK3
advection with spectral divergences): stable while ``|v| dt`` stays well below a cell. A grain
may straddle the periodic boundary (lever arms are minimal images from the component's first
cell), but must be smaller than half the box.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float, Int

from sintersim.grid import Grid
from sintersim.model._base import AbstractKinetics
from sintersim.model._labels import dilate_labels, label_components
from sintersim.state import State

FORCES = ("energy", "wang")


class RigidBody(AbstractKinetics):
    r"""Rigid translation and rotation of every grain (see the module docstring).

    m_t: translational mobility (internal units): ``v = m_t F_g / V_g``; None: the fast limit
        ``v = F_g / (dt K_g)`` (the grains follow their force balance within each step, so the
        boundaries' diffusion alone sets the rate).
    m_r: rotational mobility of the shape (internal units): ``omega = m_r tau_g / V_g``.
    force: "energy" (gradient flow of F) or "wang" (Wang 2006's density-deficit force).
    threshold: a grain is a connected region of ``eta_i > threshold``.
    reach: cells the grain extends beyond that region (its tail of eta_i): its sums (force,
        torque, volume, stiffness, contacts) and its velocity cover the same cells, so F_g is
        the energy change of the displacement applied.
    kappa_f, rho0, c_gb: Wang's force strength, reference density, boundary threshold.
    stabiliser: s in the grains' stiffness ``K_g = s C int_g |grad eta_i|^2 dV`` (C = A + B for
        the energy force, kappa_f for Wang's), see `velocity_field`.
    coupled: solve the translations of all grains together with the contacts' stiffness
        (`_coupled`); False: each grain alone against its K_g (a Jacobi sweep per step).
    grounding: epsilon, the share of K_g kept in the coupled stiffness (0 < epsilon <= 1).
    max_grains: grain slots of the coupled solve (static; the scenario sets `grain_slots` of
        the start); grains past it keep the per-grain form.
    """

    m_t: Float[Array, ""] | float | None
    m_r: Float[Array, ""] | float = 0.0
    force: str = eqx.field(static=True, default="energy")
    threshold: float = eqx.field(static=True, default=0.1)
    reach: int = eqx.field(static=True, default=4)
    kappa_f: Float[Array, ""] | float = 1.0
    rho0: float = 0.998
    c_gb: float = 0.14
    stabiliser: float = eqx.field(static=True, default=4.0)
    coupled: bool = eqx.field(static=True, default=True)
    grounding: float = eqx.field(static=True, default=0.25)
    max_grains: int = eqx.field(static=True, default=64)

    def __check_init__(self):
        if self.force not in FORCES:
            raise ValueError(f"RigidBody.force = {self.force!r}; allowed: {', '.join(FORCES)}")
        if not 0.0 < self.grounding <= 1.0:
            raise ValueError(f"RigidBody.grounding = {self.grounding!r}; allowed: (0, 1]")
        if self.max_grains < 1:
            raise ValueError(f"RigidBody.max_grains = {self.max_grains!r}; allowed: >= 1")

    @property
    def gradient_flow(self) -> bool:  # type: ignore[override]
        """The energy force is a descent direction of F (continuous in time); Wang's is not."""
        return self.force == "energy"

    def update(self, model, grid: Grid, old: State, new: State, dt) -> State:
        """Advect the new fields with the rigid velocities of the old state's grains."""
        k = model.n_crystals(old.eta.shape[0])
        v = self.velocity_field(model, grid, old, dt)
        rho, eta = advect(new.rho, new.eta[:k], grid, v, dt)
        if k < new.eta.shape[0]:
            eta = jnp.concatenate([eta, new.eta[k:]])
        return State(rho, eta, new.orientation)

    # ---------------------------------------------------------------------------- pieces
    def force_density(
        self, model, grid: Grid, state: State, grad_eta: list[Array] | None = None
    ) -> list[Array]:
        """f_i per axis, each (K, *grid) over the K crystal fields (``grad_eta``: the crystal
        fields' gradients if the caller has them; Wang's force uses them)."""
        k = model.n_crystals(state.eta.shape[0])
        eta = state.eta[:k]
        if self.force == "wang":
            grads = grid.gradient(eta) if grad_eta is None else grad_eta
            return wang_force_density(state.rho, eta, grads, self.kappa_f, self.rho0, self.c_gb)
        mu = model.variational_derivatives(state, grid)
        share = state.rho / jnp.maximum(jnp.sum(eta, axis=0), 0.02)
        g_eta = grid.gradient(mu.eta[:k])
        g_rho = grid.gradient(mu.rho)
        return [-eta * (ge + share * gr) for ge, gr in zip(g_eta, g_rho, strict=True)]

    def grains(self, model, grid: Grid, state: State) -> Grains:
        """The grains of the state's crystal fields, with their forces and torques."""
        k = model.n_crystals(state.eta.shape[0])
        eta = state.eta[:k]
        mask = jax.lax.stop_gradient(eta) > self.threshold
        # every sum runs over the region that moves (the component and its tail, `reach`
        # cells): F_g is then the energy change of the displacement actually applied
        labels = dilate_labels(label_components(mask, grid.ndim), grid.ndim, self.reach)
        grads = grid.gradient(eta)  # for the stiffness, and Wang's force
        f = self.force_density(model, grid, state, grads)
        weight = None
        if self.force == "energy":
            # where a term stiffens the density (DensityBounds above rho = 1), a pressed
            # boundary resists (1 + K / 2C) times as much: C = A + B is Wang's share
            extra = model.local_stiffness(jax.lax.stop_gradient(state.rho))
            if extra is not None:
                weight = 1.0 + 0.5 * extra / (model.energy.A + model.energy.B)
        slots = self.max_grains if self.coupled else 0
        return grain_sums(grid, eta, labels, f, grads, slots, weight)

    def velocity_field(self, model, grid: Grid, state: State, dt=0.0) -> list[Array]:
        r"""The rigid velocity of every crystal field's grains, one (K, *grid) array per axis.

        Linearly implicit in the grains' positions: pushing a grain into its neighbour by x
        raises a restoring force ``K x`` (the overlap's density excess), far stiffer than the
        sintering force that moves it, so an explicit ``v = m F / V`` is unstable once
        ``dt m K / V > 2`` (measured: m_t = 10 at dt = 0.5 for two discs of radius 12, K = 330).
        Treating that stiffness implicitly,

        .. math:: U_g = \frac{m\,F_g}{V_g + \Delta t\,m\,K_g},\qquad
                  K_g = s\,C\int_g|\nabla\eta_i|^2dV

        (C = A + B bounds the measured K; the rotation uses ``|(r - r_g) x grad eta_i|^2``) is
        stable for any m and dt and leaves every force balance where it was: a large mobility
        makes the motion follow the balance step by step, a small one is unchanged. With
        ``coupled`` (the default) the translations solve the same balance for all grains at
        once, K replaced by the contacts' stiffness (`_coupled`). Where a term stiffens the
        density (`DensityBounds` above rho = 1), the integrands of K and of the contacts are
        weighted by the local modulus relative to Wang's, ``1 + f_k'' / (2 C)``: a pressed
        boundary resists as stiffly as the energy says, so the fast limit does not overshoot.
        """
        g = self.grains(model, grid, state)
        vol = jnp.maximum(g.volume, grid.cell_volume)
        c = self.kappa_f if self.force == "wang" else model.energy.A + model.energy.B
        stiff = self.stabiliser * c * g.stiffness
        k_t, k_r = stiff[..., 0], stiff[..., 1]
        if self.m_t is None:  # the fast limit m_t -> infinity of the same formula
            trans = g.force / jnp.maximum(dt * k_t, 1e-30)[..., None]
        else:
            trans = self.m_t * g.force / (vol + dt * self.m_t * k_t)[..., None]
        if self.coupled:
            trans = self._coupled(g, vol, c, dt, trans)
        omega = self.m_r * g.torque / (vol + dt * self.m_r * k_r)[..., None]
        # A component without a core (eta_i <= 1/2 throughout) is a piece of a grain's tail cut
        # off by the threshold, often one cell, not a grain: its K ~ 0 gave it any velocity in
        # the fast limit (measured: 19 cells per step, then NaN, in a free chain of 8 discs).
        core = g.core[..., None]
        trans, omega = jnp.where(core, trans, 0.0), jnp.where(core, omega, 0.0)
        return rigid_velocities(grid, g.labels, g.offset, trans, omega)

    def _coupled(self, g: Grains, vol: Array, c, dt, trans: Array) -> Array:
        r"""Translations of the first ``max_grains`` grains solved together:

        .. math:: (V + \Delta t\,m\,H)\,U = m\,F,\qquad
                  H = s\,C\,\big(\mathcal{L}(k) + \epsilon\,\mathrm{diag}\,K\big),\qquad
                  k_{gh} = \max\Big(0, -\int\nabla\eta_g\cdot\nabla\eta_h\,dV\Big)

        (fast limit: ``dt H U = F``). A contact resists the grains' relative displacement only:
        ``L(k)`` is the graph Laplacian of the contacts' stiffnesses (a cluster translated as a
        whole, rho with it, keeps its energy), and the grain's whole-interface stiffness K is
        kept with the small weight epsilon (``grounding``) so that the fast limit stays finite
        for a free cluster. Relaxing each grain alone against K (the diagonal form, the other
        grains' motion unknown) is one Jacobi sweep per step: a chain of N grains then lagged
        ~N^2 steps behind its force balance, and its contacts shrank less the longer it was.
        Grains past ``max_grains`` keep the diagonal form."""
        seg_of, slot_used = g.slots
        d = trans.shape[-1]
        sc = self.stabiliser * c
        flat_f = g.force.reshape(-1, d)
        take = lambda a: jnp.take(a, seg_of, axis=0, mode="fill", fill_value=0)  # noqa: E731
        f = take(flat_f)
        v = take(vol.reshape(-1))
        k_self = take(g.stiffness[..., 0].reshape(-1))
        k = jnp.maximum(-g.contacts, 0.0)
        lap = jnp.diag(jnp.sum(k, axis=1)) - k
        h = sc * (lap + self.grounding * jnp.diag(k_self))
        eye = jnp.diag(jnp.where(slot_used, 0.0, 1.0))  # unused slots: U = 0
        if self.m_t is None:
            u = jnp.linalg.solve(dt * h + eye, f)
        else:
            u = jnp.linalg.solve(jnp.diag(v) + dt * self.m_t * h + eye, self.m_t * f)
        out = (
            trans.reshape(-1, d)
            .at[jnp.where(slot_used, seg_of, flat_f.shape[0])]
            .set(u, mode="drop")
        )
        return out.reshape(trans.shape)


def grain_slots(eta: Float[Array, "K *grid"]) -> int:
    """Grain slots for the coupled solve (``RigidBody.max_grains``) of crystal fields ``eta``:
    16 (count // 16 + 2), i.e. a multiple of 16 at least 16 above the count of grains (cores:
    face-connected, periodic regions of eta_i > 1/2), room for grains that split. Host-side,
    once per run."""
    labels = np.asarray(label_components(jnp.asarray(eta) > 0.5, jnp.ndim(eta) - 1))
    count = sum(len(np.unique(lab[lab < lab.size])) for lab in labels)
    return 16 * (count // 16 + 2)


class Grains(eqx.Module):
    """Per-grain sums over the segments ``field * N + root`` (N grid cells; one spare segment
    for the background): arrays of shape (K, N + 1[, D]) indexed by (field, root)."""

    labels: Int[Array, "K *grid"]
    volume: Float[Array, "K S"]
    offset: Float[Array, "K S D"]  # centre minus the root cell (minimal image)
    force: Float[Array, "K S D"]
    torque: Float[Array, "K S R"]  # R = 1 in 2D (about z), 3 in 3D
    stiffness: Float[Array, "K S 2"]  # int |grad eta|^2 and int |arm x grad eta|^2
    core: Bool[Array, "K S"]  # eta_i > 1/2 somewhere: a grain, not a cut-off piece of a tail
    # the first G grains (cores, in segment order): their segment index and whether the slot
    # is used; and int grad eta_g . grad eta_h between them (fields i != j), (G, G)
    slots: tuple[Int[Array, " G"], Bool[Array, " G"]] | None = None
    contacts: Float[Array, "G G"] | None = None


def _root_arms(grid: Grid, labels: Array, dtype) -> list[Array]:
    """Minimal-image vector from each cell to its component's root cell, per axis."""
    coords = [jnp.asarray(x, dtype) for x in grid.coordinates()]
    strides, s = [], 1
    for n in reversed(grid.shape):
        strides.insert(0, s)
        s *= n
    lab = jnp.minimum(labels, grid.size - 1)
    arms = []
    for a, (n, st) in enumerate(zip(grid.shape, strides, strict=True)):
        root_x = ((lab // st) % n + 0.5) * grid.spacing
        d = coords[a] - root_x
        length = n * grid.spacing
        arms.append(d - length * jnp.round(d / length))
    return arms


def _cross(arm: list[Array], f: list[Array]) -> list[Array]:
    if len(arm) == 2:
        return [arm[0] * f[1] - arm[1] * f[0]]
    return [
        arm[1] * f[2] - arm[2] * f[1],
        arm[2] * f[0] - arm[0] * f[2],
        arm[0] * f[1] - arm[1] * f[0],
    ]


def grain_sums(
    grid: Grid,
    eta: Array,
    labels: Array,
    f: list[Array],
    grad_eta: list[Array],
    max_grains: int = 0,
    weight: Float[Array, "*grid"] | None = None,
) -> Grains:
    """Volume, centre offset, force, torque and stiffness integrals of every grain (segment
    sums over cells); with ``max_grains`` > 0 also the contact integrals between the first
    max_grains grains (`contact_integrals`). ``weight``: the local modulus relative to Wang's,
    multiplying the stiffness and contact integrands (None: 1)."""
    k, n = eta.shape[0], grid.size
    dtype = eta.dtype
    seg = jnp.arange(k, dtype=jnp.int32).reshape((k,) + (1,) * grid.ndim) * (n + 1) + labels
    seg = seg.reshape(-1)
    dv = grid.cell_volume
    inside = labels < n

    def total(x):
        x = jnp.where(inside, x, 0.0).reshape(-1)
        return jax.ops.segment_sum(x, seg, num_segments=k * (n + 1)).reshape(k, n + 1)

    def at_cells(per_grain):  # (K, N + 1) -> (K, *grid)
        return jnp.take_along_axis(per_grain, labels.reshape(k, -1), axis=1).reshape(eta.shape)

    arms = _root_arms(grid, labels, dtype)
    volume = total(eta) * dv
    safe = jnp.maximum(volume, 1e-30)
    offset = [total(eta * a) * dv / safe for a in arms]
    arm_c = [a - at_cells(o) for a, o in zip(arms, offset, strict=True)]  # from the centre
    force = [total(fa) * dv for fa in f]
    torque = [total(t) * dv for t in _cross(arm_c, f)]
    w = 1.0 if weight is None else weight
    stiff_t = total(w * sum(g**2 for g in grad_eta)) * dv
    stiff_r = total(w * sum(c**2 for c in _cross(arm_c, grad_eta))) * dv
    peak = jax.ops.segment_max(jax.lax.stop_gradient(eta).reshape(-1), seg, k * (n + 1))
    core = peak.reshape(k, n + 1) > 0.5
    slots = contacts = None
    if max_grains:
        grads_w = grad_eta if weight is None else [weight * g for g in grad_eta]
        slots, contacts = contact_integrals(
            grid, seg.reshape(k, -1), core, grad_eta, max_grains, grads_w
        )
    return Grains(
        labels,
        volume,
        jnp.stack(offset, -1),
        jnp.stack(force, -1),
        jnp.stack(torque, -1),
        jnp.stack([stiff_t, stiff_r], -1),
        core,
        slots,
        contacts,
    )


def contact_integrals(
    grid: Grid,
    seg: Int[Array, "K N"],
    core: Bool[Array, "K S"],
    grad_eta: list[Array],
    G: int,
    weighted: list[Array] | None = None,
) -> tuple[tuple[Array, Array], Array]:
    """Number the grains (cores) 0..G-1 in segment order and integrate
    ``P_gh = int grad eta_g . grad eta_h dV`` over the cells where grains g and h (of different
    fields) are both labelled; negative across a boundary. ``weighted``: the gradients times
    a local weight w, for ``int w grad eta_g . grad eta_h dV`` (None: w = 1). Returns ((segment
    of each slot, slot used), P (G, G), symmetric, zero diagonal). Grains past G are left out."""
    weighted = grad_eta if weighted is None else weighted
    k = seg.shape[0]
    core_flat = core.reshape(-1)
    rank = jnp.cumsum(core_flat.astype(jnp.int32)) - 1
    slot_of_seg = jnp.where(core_flat & (rank < G), rank, G)  # G: no slot
    n_seg = core_flat.shape[0]
    seg_of = (
        jnp.full((G + 1,), n_seg, jnp.int32)
        .at[slot_of_seg]
        .set(jnp.arange(n_seg, dtype=jnp.int32))[:G]
    )
    used = seg_of < n_seg
    slot = slot_of_seg[seg]  # (K, N): each cell's grain slot per field
    idx, val = [], []
    for i in range(k):
        for j in range(i + 1, k):
            idx.append(slot[i] * (G + 1) + slot[j])
            val.append(
                sum(
                    g[i].reshape(-1) * h[j].reshape(-1)
                    for g, h in zip(grad_eta, weighted, strict=True)
                )
            )
    if not idx:
        return (seg_of, used), jnp.zeros((G, G), grad_eta[0].dtype)
    p = jax.ops.segment_sum(jnp.concatenate(val), jnp.concatenate(idx), (G + 1) ** 2)
    p = p.reshape(G + 1, G + 1)[:G, :G] * grid.cell_volume
    return (seg_of, used), p + p.T


def rigid_velocities(
    grid: Grid, labels: Array, offset: Array, trans: Array, omega: Array
) -> list[Array]:
    """``v = U_g + omega_g x (r - r_g)`` on every cell of grain g, zero off the grains."""
    k, n = labels.shape[0], grid.size
    flat = labels.reshape(k, -1)
    inside = labels < n

    def at_cells(per_grain):
        out = jnp.take_along_axis(per_grain, flat, axis=1).reshape(labels.shape)
        return jnp.where(inside, out, 0.0)

    arms = _root_arms(grid, labels, trans.dtype)
    arm_c = [a - at_cells(offset[..., i]) for i, a in enumerate(arms)]
    v = [at_cells(trans[..., i]) for i in range(grid.ndim)]
    w = [at_cells(omega[..., i]) for i in range(omega.shape[-1])]
    return _turned(v, w, arm_c)


def _turned(v: list[Array], w: list[Array], arm: list[Array]) -> list[Array]:
    """``v + omega x arm`` per axis; ``w`` holds omega's one (2D, about z) or three components."""
    if len(arm) == 2:  # omega about z: (-w y, w x)
        return [v[0] - w[0] * arm[1], v[1] + w[0] * arm[0]]
    return [va + ca for va, ca in zip(v, _cross(w, arm), strict=True)]


def wang_force_density(rho, eta, grads: list[Array], kappa_f, rho0, c_gb) -> list[Array]:
    """Wang's force density on every field, one (K, *grid) array per axis; ``grads`` are the
    fields' gradients, per axis (K, *grid)."""
    k = eta.shape[0]
    acc = [jnp.zeros_like(eta) for _ in grads]
    others = jnp.arange(k).reshape((k,) + (1,) * (eta.ndim - 1))
    for j in range(k):
        inside = ((eta * eta[j] >= c_gb) & (others != j)).astype(eta.dtype)
        acc = [a + inside * (g - g[j]) for a, g in zip(acc, grads, strict=True)]
    w = kappa_f * (rho - rho0)
    return [w * a for a in acc]


def velocities(
    grid: Grid,
    eta: Array,
    translation: Float[Array, "P D"],
    omega: Array | None,
    centres: Float[Array, "P D"],
) -> list[Array]:
    """A rigid velocity field per order parameter (the whole field one body), one (P, *grid)
    array per axis: ``translation_i + omega_i x (r - centre_i)`` (no wrap-around).

    translation: velocity of each field's centre; omega: (P,) in 2D, (P, 3) in 3D, or None.
    """
    shape = (-1,) + (1,) * grid.ndim
    coords = [jnp.asarray(x, eta.dtype) for x in grid.coordinates()]
    arm = [coords[a][None] - centres[:, a].reshape(shape) for a in range(grid.ndim)]
    v = [translation[:, a].reshape(shape) + jnp.zeros_like(eta) for a in range(grid.ndim)]
    if omega is None:
        return v
    w = [omega.reshape(shape)] if grid.ndim == 2 else [omega[:, a].reshape(shape) for a in range(3)]
    return _turned(v, w, arm)


def _rates(rho: Array, eta: Array, grid: Grid, v: list[Array]) -> tuple[Array, Array]:
    """(-div(rho v_rho), -div(eta_i v_i)), ``v_rho = sum_i eta_i v_i / sum_i eta_i``."""
    eta_flux = [eta * va for va in v]
    d_eta = grid.divergence(eta_flux)
    # Material moves with the grain it belongs to: weights eta_i / sum eta (not eta_i alone,
    # which would slow rho down across the surface, where eta < 1, and pile it up).
    share = rho / jnp.maximum(jnp.sum(eta, axis=0), 0.02)  # bounded in the vapour
    d_rho = grid.divergence([share * jnp.sum(f, axis=0) for f in eta_flux])
    return -d_rho, -d_eta


def advect(rho: Array, eta: Array, grid: Grid, v: list[Array], dt) -> tuple[Array, Array]:
    """Advance ``d eta_i/dt = -div(eta_i v_i)``, ``d rho/dt = -div(rho sum eta_i v_i)`` by dt.

    Three-stage SSP Runge-Kutta (Shu-Osher) with the velocities frozen: forward Euler is unstable
    for pure advection with spectral derivatives (its amplification exceeds 1 for every
    imaginary eigenvalue); RK3 is stable up to ``|k v dt| < sqrt(3)``. Flux form, so
    ``int rho`` is conserved to round-off.
    """

    def euler(r, e):
        dr, de = _rates(r, e, grid, v)
        return r + dt * dr, e + dt * de

    r1, e1 = euler(rho, eta)
    r2, e2 = euler(r1, e1)
    r2, e2 = 0.75 * rho + 0.25 * r2, 0.75 * eta + 0.25 * e2
    r3, e3 = euler(r2, e2)
    # As increments: float32(1/3) + float32(2/3) = 1 + 3e-8, so rho / 3 + 2/3 r3 grows the
    # mass by ~1e-8 per step, which the mean fix cannot undo where rho ~ 1 (below half an ulp).
    r_new = rho + 2.0 / 3.0 * (r3 - rho)
    # Exact arithmetic keeps the mean; float32 FFT round trips shift it by a biased ~1e-8 per
    # step (as in the diffusive step): remove the shift, summed over the small change.
    return r_new - jnp.mean(r_new - rho), eta + 2.0 / 3.0 * (e3 - eta)
