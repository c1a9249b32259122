"""Loop-periodic turbulence: a small, spatially varying, divergence-free velocity that churns.

The velocity added to the mean field ``M(x)`` at scene time ``t`` (motion steps, loop ``N``) is

    T(x, t) = A(x) · Σ_j a_j · n_j · cos(k_j · x + 2π m_j t / N + φ_j),   n_j = (−k_{j,y}, k_{j,x}) / |k_j|

with ``J = 8`` waves: wave vectors ``k_j`` of random direction and wavelength ``λ·e^{U(−0.4,0.4)}``,
integer temporal cycles per loop ``m_j ∈ {±2, ±3, ±4}`` (so ``T(x, t + N) = T(x, t)``: the loop
closes), random phases ``φ_j`` and ``a_j = sqrt(2 / J)`` (the root-mean-square speed of the sum is
``A(x)``). For a loop of ``N`` steps ``A`` is scaled down where needed so that the back-and-forth
displacement strains the texture by at most ``MAX_STRAIN = 0.15`` (:meth:`Turbulence.gain`). Each wave is the curl of ``sin(k_j · x + …)``, so the sum is divergence-free where ``A``
is constant: it stirs the texture without compressing it. ``A(x)`` is the region's turbulence
strength times its median speed, feathered like the field and 0 outside the moving regions.
Everything is drawn from ``numpy.random.default_rng(seed)``: the same seed gives the same waves.

The waves are evaluated on a grid of cells ``λ / 8`` wide (bilinearly interpolated), so one Euler
step costs one more ``grid_sample`` of the moving pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["Turbulence", "make_turbulence", "NUM_WAVES", "MAX_STRAIN"]

#: Number of waves of the turbulence.
NUM_WAVES = 8
#: Largest turbulent strain over a loop (see :meth:`Turbulence.gain`).
MAX_STRAIN = 0.15


@dataclass(frozen=True)
class Turbulence:
    """Loop-periodic turbulence of a motion field.

    Attributes:
        amplitude: ``(H, W)`` float32 root-mean-square turbulent speed ``A(x)``, px/step.
        waves: ``(J, 5)`` float64 rows ``(k_x, k_y, m, φ, a)``: wave vector (radians per pixel),
            integer cycles per loop, phase, weight.
        cell: grid spacing of the wave evaluation, pixels.
    """

    amplitude: torch.Tensor
    waves: torch.Tensor
    cell: float
    max_strain: float = MAX_STRAIN

    def gain(self, num_steps: int) -> float:
        """Factor applied to :attr:`amplitude` for a loop of ``num_steps`` steps so that the
        turbulent strain stays at most :attr:`max_strain`.

        Wave ``j`` displaces the fluid back and forth by ``A a_j N / (2π |m_j|)`` pixels, a strain
        of ``ε_j = |k_j| A a_j N / (2π |m_j|)``; with ``A`` the largest amplitude the gain is
        ``min(1, max_strain / sqrt(Σ_j ε_j²))``, so the texture churns without folding over
        (a strain near 1 would tear and fold it) whatever the loop length.
        """
        a_max = float(self.amplitude.max()) if self.amplitude.numel() else 0.0
        if a_max <= 0:
            return 1.0
        total = 0.0
        for kx, ky, m, _, a in self.waves.tolist():
            total += (math.hypot(kx, ky) * a_max * a * num_steps / (2.0 * math.pi * abs(m))) ** 2
        return min(1.0, self.max_strain / math.sqrt(total)) if total > 0 else 1.0

    def grid(self, t: float, num_steps: int) -> torch.Tensor:
        """``(1, 2, h, w)`` unit-amplitude wave velocity ``Σ_j a_j n_j cos(…)`` at time ``t`` on the
        cell grid (cell ``(i, j)`` centred at pixel ``((j + 0.5)·cell, (i + 0.5)·cell)``)."""
        H, W = self.amplitude.shape
        h, w = int(math.ceil(H / self.cell)), int(math.ceil(W / self.cell))
        dev = self.amplitude.device
        y = (torch.arange(h, dtype=torch.float64, device=dev) + 0.5) * self.cell
        x = (torch.arange(w, dtype=torch.float64, device=dev) + 0.5) * self.cell
        out = torch.zeros(2, h, w, dtype=torch.float64, device=dev)
        for kx, ky, m, ph, a in self.waves.tolist():
            arg = kx * x[None, :] + ky * y[:, None] + (2.0 * math.pi * m * t / num_steps + ph)
            c = a * torch.cos(arg)
            kn = math.hypot(kx, ky)
            out[0] += (-ky / kn) * c
            out[1] += (kx / kn) * c
        return out.float()[None]

    def sample(self, grid: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        """``(P, 2)`` unit-amplitude velocity of :meth:`grid` output at pixel positions ``(P, 2)``."""
        h, w = grid.shape[-2:]
        g = torch.stack(
            [pos[:, 0] * (2.0 / (w * self.cell)) - 1.0, pos[:, 1] * (2.0 / (h * self.cell)) - 1.0], 1
        )
        v = F.grid_sample(grid.to(pos.dtype), g.view(1, 1, -1, 2), mode="bilinear", padding_mode="border",
                          align_corners=False)  # fmt: skip
        return v[0, :, 0].T


def make_turbulence(amplitude: torch.Tensor, wavelength_px: float, seed: int = 0) -> Turbulence:
    """Draw the waves of a :class:`Turbulence` (see the module docstring).

    Args:
        amplitude: ``(H, W)`` root-mean-square turbulent speed ``A(x)``, px/step (0 where still).
        wavelength_px: typical wavelength ``λ`` in pixels (> 0).
        seed: random seed.
    """
    rng = np.random.default_rng(int(seed))
    rows = []
    for _ in range(NUM_WAVES):
        lam = wavelength_px * math.exp(rng.uniform(-0.4, 0.4))
        th = rng.uniform(0.0, 2.0 * math.pi)
        k = 2.0 * math.pi / max(lam, 1.0)
        m = int(rng.integers(2, 5)) * (1 if rng.random() < 0.5 else -1)
        rows.append([k * math.cos(th), k * math.sin(th), float(m), rng.uniform(0.0, 2.0 * math.pi),
                     math.sqrt(2.0 / NUM_WAVES)])  # fmt: skip
    cell = max(1.0, wavelength_px * math.exp(-0.4) / 8.0)
    waves = torch.tensor(rows, dtype=torch.float64, device=amplitude.device)
    return Turbulence(amplitude.float().contiguous(), waves, cell)
