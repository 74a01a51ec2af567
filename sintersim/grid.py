"""Uniform periodic grids and their Fourier wavevectors.

Lengths inside the solver are dimensionless; by convention (see `_units`) the internal length
unit is the physical grid spacing, so production grids have ``spacing = 1``. Tests of continuum
limits use other spacings.
"""

from __future__ import annotations

import math

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Float


class Grid(eqx.Module):
    """A periodic box of ``shape`` cells of size ``spacing`` (1D, 2D or 3D).

    The last axis is the one `rfftn` halves. All fields on the grid have shape ``shape`` (density)
    or ``(P, *shape)`` (P grain order parameters).
    """

    shape: tuple[int, ...] = eqx.field(static=True)
    spacing: float = eqx.field(static=True, default=1.0)

    def __check_init__(self):
        if not 1 <= len(self.shape) <= 3:
            raise ValueError(f"grid.shape must have 1 to 3 axes, got {self.shape}")
        if any(int(n) < 4 for n in self.shape):
            raise ValueError(f"grid.shape: every axis needs at least 4 cells, got {self.shape}")
        if not self.spacing > 0:
            raise ValueError(f"grid.spacing must be > 0, got {self.spacing}")

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def cell_volume(self) -> float:
        return float(self.spacing) ** self.ndim

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def lengths(self) -> tuple[float, ...]:
        return tuple(n * self.spacing for n in self.shape)

    @property
    def axes(self) -> tuple[int, ...]:
        """Spatial axes of a field of shape ``shape`` (use ``tuple(a - ndim ...)`` for stacks)."""
        return tuple(range(-self.ndim, 0))

    def coordinates(self) -> tuple[np.ndarray, ...]:
        """Cell-centre coordinates, broadcastable (``indexing='ij'``), as host constants."""
        out = []
        for a, n in enumerate(self.shape):
            x = (np.arange(n) + 0.5) * self.spacing
            shape = [1] * self.ndim
            shape[a] = n
            out.append(x.reshape(shape))
        return tuple(out)

    def _wavenumbers(self, zero_nyquist: bool) -> tuple[np.ndarray, ...]:
        ks = []
        for a, n in enumerate(self.shape):
            last = a == self.ndim - 1
            f = np.fft.rfftfreq(n, self.spacing) if last else np.fft.fftfreq(n, self.spacing)
            k = 2.0 * np.pi * f
            if zero_nyquist and n % 2 == 0:
                # A first derivative of the Nyquist mode is not real-representable: drop it.
                k = np.where(np.abs(f) == 0.5 / self.spacing, 0.0, k)
            shape = [1] * self.ndim
            shape[a] = k.size
            ks.append(k.reshape(shape))
        return tuple(ks)

    def wavevectors(self) -> tuple[np.ndarray, ...]:
        """Wavevector components for first derivatives (Nyquist zeroed), rfft layout."""
        return self._wavenumbers(zero_nyquist=True)

    def k2(self) -> np.ndarray:
        """|k|^2 on the rfft half-spectrum (Nyquist kept: -k2 is the exact spectral Laplacian)."""
        return sum(k**2 for k in self._wavenumbers(zero_nyquist=False))

    def rfft_weights(self) -> np.ndarray:
        """Multiplicity of each rfft coefficient in the full spectrum (1 or 2), for Parseval."""
        n = self.shape[-1]
        w = np.full(n // 2 + 1, 2.0)
        w[0] = 1.0
        if n % 2 == 0:
            w[-1] = 1.0
        return w

    def rfft(self, u: Float[Array | np.ndarray, "..."]) -> Array:
        return jnp.fft.rfftn(u, axes=self.axes)

    def irfft(self, u_hat: Array) -> Float[Array, "..."]:
        return jnp.fft.irfftn(u_hat, s=self.shape, axes=self.axes)

    def gradient(self, u: Float[Array | np.ndarray, "*grid"]) -> list[Array]:
        """Spectral ``grad u``, one array per axis (Nyquist mode of the derivative zeroed)."""
        u_hat = self.rfft(u)
        return [self.irfft(1j * jnp.asarray(k, u.dtype) * u_hat) for k in self.wavevectors()]

    def divergence(self, flux: list[Array]) -> Float[Array, "*grid"]:
        """Spectral ``div F`` of a vector field given as one array per axis."""
        ks = [jnp.asarray(k, flux[0].dtype) for k in self.wavevectors()]
        return self.irfft(sum(1j * k * self.rfft(f) for k, f in zip(ks, flux, strict=True)))

    def gradient_energy(self, u: Float[Array | np.ndarray, "..."]) -> Float[Array, "..."]:
        """Integral of ``|grad u|^2 / 2`` over the box, by Parseval, summed over leading axes.

        ``(1/2) sum_x |grad u|^2 dV = (dV / 2N) sum_k w_k |k|^2 |u_k|^2`` with the full spectral
        Laplacian, so ``jax.grad`` of it is exactly ``-laplacian(u) dV`` as the stepper applies it.
        """
        u_hat = self.rfft(u)
        dens = self.rfft_weights() * self.k2() * (u_hat.real**2 + u_hat.imag**2)
        return 0.5 * self.cell_volume / self.size * jnp.sum(dens)
