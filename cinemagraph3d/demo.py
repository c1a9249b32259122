"""A procedural demo scene (no download): sky, mountains, a lake and a rock, with exact depth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["DemoScene", "demo_scene"]


@dataclass(frozen=True)
class DemoScene:
    """A synthetic photo with everything the pipeline needs.

    Attributes:
        image: ``(3, H, W)`` float in [0, 1].
        depth: ``(1, H, W)`` z-depth in scene units (metres of a pretend landscape).
        water: ``(H, W)`` bool mask of the lake.
        sky: ``(H, W)`` bool mask of the sky.
        hints: ``(K, 4)`` arrows ``x, y, dx, dy`` (pixels, pixels per step) on the lake.
    """

    image: torch.Tensor
    depth: torch.Tensor
    water: torch.Tensor
    sky: torch.Tensor
    hints: torch.Tensor


def _noise(h: int, w: int, rng: np.random.Generator, octaves: int = 5) -> np.ndarray:
    import cv2

    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        gh, gw = max(2, h >> (octaves - o)), max(2, w >> (octaves - o))
        g = rng.random((gh, gw), dtype=np.float32)
        out += amp * cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= 0.55
    return out / total


def demo_scene(width: int = 640, height: int = 360, seed: int = 0) -> DemoScene:
    """Render the procedural landscape at ``width × height``; same seed → same scene."""
    rng = np.random.default_rng(seed)
    h, w = height, width
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    yn, xn = (yy + 0.5) / h, (xx + 0.5) / w
    horizon = 0.55
    # Sky: gradient + clouds, very far.
    clouds = np.clip((_noise(h, w, rng) - 0.45) * 3.0, 0, 1)
    sky = np.stack([0.45 + 0.25 * yn, 0.62 + 0.2 * yn, 0.92 + 0.05 * yn], -1)
    sky = sky * (1 - clouds[..., None]) + clouds[..., None] * 0.97
    img = sky.copy()
    depth = np.full((h, w), 200.0, np.float32)
    # Mountains: ridge line from noise, depth 60.
    ridge = horizon - 0.12 - 0.18 * _noise(1, w, rng, 4)[0]
    mnt = yn < horizon
    mnt &= yn > ridge[None, :]
    tex = _noise(h, w, rng)
    mcol = np.stack([0.32 + 0.2 * tex, 0.36 + 0.18 * tex, 0.42 + 0.15 * tex], -1) * (
        0.7 + 0.5 * (yn[..., None] - 0.3)
    )
    img[mnt] = mcol[mnt]
    depth[mnt] = 60.0
    # Lake below the horizon: ground plane, depth from the row (camera 1.5 units above water).
    lake = yn >= horizon
    f = max(w, h)
    z_lake = 1.5 * f / np.maximum((yy + 0.5 - horizon * h), 0.5)
    z_lake = np.minimum(z_lake, 60.0)
    wt = _noise(h, w, rng)
    ripples = 0.5 + 0.5 * np.sin(xx * 0.35 + 6 * wt + yy * 0.05)
    wcol = np.stack([0.12 + 0.15 * wt, 0.32 + 0.2 * wt, 0.5 + 0.2 * ripples], -1)
    img[lake] = wcol[lake]
    depth[lake] = z_lake[lake]
    # A rock standing in the lake, nearer than the water behind it.
    cx, cy, rx, ry = 0.3, 0.78, 0.12, 0.16
    rock = ((xn - cx) / rx) ** 2 + ((yn - cy) / ry) ** 2 < 1.0
    rock &= yn < 0.9
    rt = _noise(h, w, rng)
    rcol = np.stack([0.35 + 0.3 * rt, 0.3 + 0.25 * rt, 0.25 + 0.2 * rt], -1)
    img[rock] = rcol[rock]
    depth[rock] = 1.5 * f / ((0.9 - horizon) * h)
    water = lake & ~rock
    # Arrows: the water flows to the right, a little faster near the camera.
    hints = []
    for fx_, fy_ in [(0.15, 0.62), (0.55, 0.62), (0.85, 0.65), (0.6, 0.8), (0.85, 0.92), (0.15, 0.95)]:
        x, y = fx_ * w, fy_ * h
        sp = (0.4 + 1.6 * (fy_ - horizon) / (1 - horizon)) * w / 640.0
        hints.append([x, y, sp, 0.0])
    return DemoScene(
        image=torch.from_numpy(np.ascontiguousarray(np.clip(img, 0, 1).transpose(2, 0, 1))).float(),
        depth=torch.from_numpy(depth)[None].float(),
        water=torch.from_numpy(water),
        sky=torch.from_numpy(~mnt & ~lake & ~rock),
        hints=torch.tensor(hints, dtype=torch.float32),
    )
