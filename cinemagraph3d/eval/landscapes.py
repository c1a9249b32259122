"""Procedural landscape photos with known depth and regions (the depth / mask suite).

Each scene is painted back to front by a pinhole camera ``f = max(W, H)`` at height
``CAMERA_HEIGHT`` above a flat ground plane, looking horizontally, with the horizon at row
``y_h``. Every element has an exact z-depth:

* **sky** at ``SKY_DEPTH``; gradient from deep blue (top) to pale (horizon) and soft clouds;
* **ground plane**: ``z(y) = f · CAMERA_HEIGHT / (y + 0.5 - y_h)`` below the horizon (capped at
  ``GROUND_FAR``); its texture lives in ground coordinates ``(X, Z)``, so it is foreshortened;
* **water** is a part of the ground plane; its colour is the *mirrored sky* (the sky row
  ``2 y_h - y``) darkened by a reflectance and streaked by ripples;
* **vertical structures** (cliffs, mountains, rocks, trunks, canopies, a waterfall) are
  fronto-parallel cards standing at the depth of their ground contact: a card at depth ``Z``
  has its base on row ``y_h + f · CAMERA_HEIGHT / Z``;
* **branch**: a thin dark branch with leaf clusters reaching in from the frame corner at
  ``BRANCH_DEPTH`` (nearest).

The hard cases of the depth and mask targets are scenes of their own: an overhanging branch
over a mountain peak, a vertical cliff, a bay under a sky, water reflecting the sky with a
low-contrast horizon, a waterfall between rocks, and foliage with sky gaps.

A :class:`Landscape` holds the photo, the z-depth, an object-id map, the masks of the regions a
user would click or the sky detector should find, and named objects for ordering checks.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from ..errors import InputError

__all__ = ["Landscape", "LANDSCAPES", "make_landscape", "CAMERA_HEIGHT", "SKY_DEPTH"]

CAMERA_HEIGHT = 1.6
SKY_DEPTH = 1000.0
GROUND_FAR = 600.0
BRANCH_DEPTH = 1.5


@dataclass(frozen=True)
class Landscape:
    """One procedural landscape photo and its ground truth.

    Attributes:
        name: scene name.
        image: ``(3, H, W)`` float RGB in [0, 1].
        depth: ``(1, H, W)`` float z-depth (scene units; the sky at :data:`SKY_DEPTH`).
        objects: ``(H, W)`` int64 object ids (``names[id]`` is the object's name); depth edges
            are the boundaries between objects of different depth.
        names: ``{id: name}``.
        regions: ``{name: (H, W) bool}`` click targets (water, sky, ...) in this scene.
        sky: ``(H, W)`` bool open sky (what the automatic sky should animate: gaps between
            leaves are not part of it).
        vertical: names of objects that stand upright (their parallax must not lean).
        orderings: ``(nearer, farther)`` object-name pairs that the depth must order.
        horizon: horizon row ``y_h`` in pixels.
    """

    name: str
    image: torch.Tensor
    depth: torch.Tensor
    objects: torch.Tensor
    names: dict[int, str]
    regions: dict[str, torch.Tensor]
    sky: torch.Tensor
    vertical: tuple[str, ...] = ()
    orderings: tuple[tuple[str, str], ...] = ()
    horizon: float = 0.0

    def mask(self, name: str) -> torch.Tensor:
        """``(H, W)`` bool mask of the object called ``name``."""
        ids = [k for k, v in self.names.items() if v == name]
        if not ids:
            raise InputError("object", f"one of {sorted(set(self.names.values()))}", repr(name))
        return torch.isin(self.objects, torch.tensor(ids))


def _noise(rng: np.random.Generator, h: int, w: int, scale: float, octaves: int = 4) -> np.ndarray:
    """Fractal value noise ``(h, w)`` in about [-1, 1]; ``scale`` = coarsest wavelength in px."""
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        lam = max(2.0, scale / 2**o)
        gh, gw = int(math.ceil(h / lam)) + 2, int(math.ceil(w / lam)) + 2
        grid = rng.uniform(-1, 1, (gh, gw)).astype(np.float32)
        big = cv2.resize(grid, (int(gw * lam), int(gh * lam)), interpolation=cv2.INTER_CUBIC)
        out += amp * big[:h, :w]
        total += amp
        amp *= 0.5
    return out / total


def _fold(a: np.ndarray, n: int) -> np.ndarray:
    """Integer index into a table of size ``n``: a triangle wave, so the lookup stays continuous."""
    t = np.abs(np.mod(a, 2 * (n - 1)) - (n - 1))
    return (n - 1 - t).astype(np.int64)


def _noise_1d(rng: np.random.Generator, n: int, scale: float, octaves: int = 4) -> np.ndarray:
    return _noise(rng, 1, n, scale, octaves)[0]


class _Canvas:
    """Painter's canvas: colour, depth and object ids, painted back to front."""

    def __init__(self, name: str, width: int, height: int, horizon: float, seed: int) -> None:
        self.name = name
        self.w, self.h = width, height
        self.f = float(max(width, height))
        self.cx = width / 2.0
        self.yh = horizon
        self.rng = np.random.default_rng(seed)
        self.rgb = np.zeros((height, width, 3), np.float32)
        self.z = np.full((height, width), SKY_DEPTH, np.float32)
        self.obj = np.zeros((height, width), np.int64)
        self.names: dict[int, str] = {}
        self.yy, self.xx = np.mgrid[0:height, 0:width].astype(np.float32) + 0.5
        self.sky_rgb = np.zeros((height, width, 3), np.float32)

    def new_id(self, name: str) -> int:
        k = len(self.names) + 1
        self.names[k] = name
        return k

    def paint(self, mask: np.ndarray, rgb: np.ndarray, z, name_or_id) -> int:
        k = name_or_id if isinstance(name_or_id, int) else self.new_id(name_or_id)
        self.rgb[mask] = np.broadcast_to(rgb, self.rgb.shape)[mask] if rgb.ndim == 3 else rgb
        self.z[mask] = np.broadcast_to(np.asarray(z, np.float32), self.z.shape)[mask]
        self.obj[mask] = k
        return k

    def ground_z(self) -> np.ndarray:
        """``(H, W)`` ground-plane depth (inf above the horizon)."""
        dy = self.yy - self.yh
        with np.errstate(divide="ignore"):
            z = np.where(dy > 0, self.f * CAMERA_HEIGHT / np.maximum(dy, 1e-6), np.inf)
        return np.minimum(z, GROUND_FAR).astype(np.float32)

    def base_row(self, z: float) -> float:
        """Row of the ground contact of a card at depth ``z``."""
        return self.yh + self.f * CAMERA_HEIGHT / z

    def sky(self, clouds: float = 0.5) -> None:
        t = np.clip(self.yy / max(self.yh, 1.0), 0, 1)[..., None]
        top, low = np.array([0.22, 0.42, 0.82]), np.array([0.72, 0.82, 0.93])
        rgb = (1 - t) * top + t * low
        c = _noise(self.rng, self.h, self.w, 0.35 * self.w, 5)
        c = np.clip((c - (0.25 - 0.3 * clouds)) * 2.5, 0, 1)[..., None] * clouds
        rgb = (1 - c) * rgb + c * np.array([0.95, 0.95, 0.97])
        self.sky_rgb = rgb.astype(np.float32)
        self.paint(np.ones((self.h, self.w), bool), self.sky_rgb, SKY_DEPTH, "sky")

    def ground(self, base, contrast: float, name: str = "ground", below=None) -> int:
        z = self.ground_z()
        m = np.isfinite(z) & (self.yy > self.yh)
        if below is not None:
            m &= below
        X = (self.xx - self.cx) * z / self.f
        n = _noise(self.rng, 256, 256, 40, 4)
        u = _fold(X * 6.0, 256)
        v = _fold(z * 6.0, 256)
        tex = n[v, u]
        rgb = np.asarray(base, np.float32) * (1 + contrast * tex[..., None])
        return self.paint(m, np.clip(rgb, 0, 1), z, name)

    def water(
        self,
        mask: np.ndarray,
        reflect: float,
        ripple: float,
        name: str = "water",
        grazing: float | None = None,
    ) -> int:
        """Water on the ground plane inside ``mask``: mirrored sky times a reflectance plus
        ripples; the reflectance is ``reflect`` at the bottom row and, with ``grazing``, rises to
        ``grazing`` at the horizon (Fresnel: water is a near mirror at grazing angles)."""
        z = self.ground_z()
        mirror = np.clip(np.round(2 * self.yh - self.yy - 0.5).astype(np.int64), 0, self.h - 1)
        refl = self.sky_rgb[mirror, self.xx.astype(np.int64)]
        X = (self.xx - self.cx) * z / self.f
        n = _noise(self.rng, 128, 512, 24, 3)
        u = _fold(X * 3.0, 512)
        v = _fold(z * 12.0, 128)
        streak = n[v, u][..., None]
        tint = np.array([0.05, 0.12, 0.16], np.float32)
        if grazing is not None:
            t = np.clip((self.yy - self.yh) / max(self.h - self.yh, 1.0), 0, 1)[..., None]
            reflect = grazing + (reflect - grazing) * t
        rgb = reflect * refl + (1 - reflect) * tint + ripple * streak
        return self.paint(mask & (self.yy > self.yh), np.clip(rgb, 0, 1), z, name)

    def card(self, mask: np.ndarray, z: float, base, contrast: float, scale: float, name: str) -> int:
        tex = _noise(self.rng, self.h, self.w, scale, 4)
        rgb = np.asarray(base, np.float32) * (1 + contrast * tex[..., None])
        return self.paint(mask, np.clip(rgb, 0, 1), z, name)

    def branch(self, side: str = "left") -> int:
        """A dark branch from a top corner with twigs and leaf clusters (nearest object)."""
        m = np.zeros((self.h, self.w), np.uint8)
        th = max(2, round(0.012 * self.w))
        x0 = 0 if side == "left" else self.w - 1
        sgn = 1 if side == "left" else -1
        pts = []
        for i in range(9):
            s = i / 8
            pts.append((x0 + sgn * s * 0.55 * self.w, 0.05 * self.h + 0.28 * self.h * s**1.3))
        pts_i = np.round(np.array(pts)).astype(np.int32)
        cv2.polylines(m, [pts_i], False, 1, th)
        for i in (2, 4, 6, 7):
            x, y = pts[i]
            tx, ty = x + sgn * 0.05 * self.w, y + 0.09 * self.h
            cv2.line(m, (int(x), int(y)), (int(tx), int(ty)), 1, max(1, th // 2))
            for _j in range(5):
                lx = tx + self.rng.uniform(-0.03, 0.03) * self.w
                ly = ty + self.rng.uniform(-0.03, 0.03) * self.h
                cv2.ellipse(m, (int(lx), int(ly)), (max(2, th), max(1, th // 2 + 1)),
                            float(self.rng.uniform(0, 180)), 0, 360, 1, -1)  # fmt: skip
        mask = m > 0
        tex = _noise(self.rng, self.h, self.w, 8, 2)[..., None]
        rgb = np.array([0.16, 0.2, 0.1], np.float32) * (1 + 0.4 * tex)
        return self.paint(mask, rgb, BRANCH_DEPTH, "branch")

    def finish(self, regions: dict[str, np.ndarray], sky: np.ndarray, **kw) -> Landscape:
        img = np.clip(cv2.GaussianBlur(self.rgb, (0, 0), 0.5), 0, 1)  # a lens, not a jaggy render
        t = lambda a: torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
        return Landscape(
            self.name,
            t(img).permute(2, 0, 1).float().contiguous(),
            t(self.z)[None].float(),
            t(self.obj),
            dict(self.names),
            {k: t(v.astype(bool)) for k, v in regions.items()},
            t(sky.astype(bool)),
            horizon=self.yh,
            **kw,
        )


def _ridge(c: _Canvas, top: float, amp: float, scale: float) -> np.ndarray:
    """Row of a ridge line per column (``top`` = mean row)."""
    return top - amp * c.h * (0.5 + 0.5 * _noise_1d(c.rng, c.w, scale, 4))


def branch_scene(width: int, height: int, seed: int = 10) -> Landscape:
    """A mountain peak under a cloudy sky, a meadow, a branch overhanging from the top left."""
    c = _Canvas("branch", width, height, 0.55 * height, seed)
    c.sky(0.5)
    ridge = _ridge(c, 0.52 * height, 0.3, 0.5 * width)
    peak = np.argmin(ridge)
    ridge -= 0.12 * height * np.exp(-(((np.arange(width) - peak) / (0.15 * width)) ** 2))
    z_m = 300.0
    mtn = (c.yy >= ridge[None, :]) & (c.yy <= c.base_row(z_m))
    c.card(mtn, z_m, [0.36, 0.42, 0.5], 0.25, 0.1 * width, "mountain")
    c.ground([0.3, 0.5, 0.2], 0.35, "meadow", below=c.yy > c.base_row(z_m))
    c.branch("left")
    sky = c.obj == 1
    return c.finish(
        {"sky": sky},
        sky,
        vertical=("mountain",),
        orderings=(("branch", "mountain"), ("mountain", "sky"), ("meadow", "mountain")),
    )


def cliff_scene(width: int, height: int, seed: int = 11) -> Landscape:
    """A vertical rock cliff standing on a beach on the right, the sea reaching the horizon on the
    left."""
    c = _Canvas("cliff", width, height, 0.42 * height, seed)
    c.sky(0.3)
    c.ground([0.76, 0.68, 0.5], 0.2, "beach")
    z_c = 9.0
    sea = (c.ground_z() > 40.0) & (c.yy > c.yh)
    c.water(sea, 0.55, 0.05, "sea")
    left = 0.52 * width + 0.04 * width * _noise_1d(c.rng, height, 0.3 * height)[:, None]
    top = 0.08 * height + 0.05 * height * _noise_1d(c.rng, width, 0.2 * width)[None, :]
    cl = (c.xx >= left) & (c.yy >= top) & (c.yy <= c.base_row(z_c))
    c.card(cl, z_c, [0.5, 0.42, 0.36], 0.35, 0.05 * width, "cliff")
    sky = c.obj == 1
    ids = {v: k for k, v in c.names.items()}
    return c.finish(
        {"sea": c.obj == ids["sea"], "sky": sky},
        sky,
        vertical=("cliff",),
        orderings=(("cliff", "sea"), ("beach", "sea"), ("sea", "sky")),
    )


def bay_scene(width: int, height: int, seed: int = 12) -> Landscape:
    """A bay under a sky: sandy shore in front, the sea to the horizon, a headland at the left."""
    c = _Canvas("bay", width, height, 0.4 * height, seed)
    c.sky(0.45)
    c.ground([0.78, 0.7, 0.52], 0.2, "shore")
    gz = c.ground_z()
    shore_line = 14.0 + 4.0 * _noise_1d(c.rng, width, 0.4 * width)[None, :]
    sea = (gz > shore_line) & (c.yy > c.yh)
    c.water(sea, 0.45, 0.05, "bay", grazing=0.85)
    z_h = 60.0
    ridge = 0.3 * height + 0.05 * height * _noise_1d(c.rng, width, 0.3 * width)[None, :]
    edge = 0.3 * width + 0.05 * width * _noise_1d(c.rng, height, 0.2 * height)[:, None]
    head = (c.xx < edge) & (c.yy >= ridge) & (c.yy <= c.base_row(z_h))
    c.card(head, z_h, [0.3, 0.38, 0.22], 0.3, 0.05 * width, "headland")
    sky = c.obj == 1
    bay = c.obj == [k for k, v in c.names.items() if v == "bay"][0]
    return c.finish(
        {"bay": bay, "sky": sky},
        sky,
        vertical=("headland",),
        orderings=(("shore", "bay"), ("bay", "sky"), ("headland", "sky")),
    )


def reflection_scene(width: int, height: int, seed: int = 13) -> Landscape:
    """A calm lake reflecting the sky; a low tree line covers only part of the horizon, so the
    water meets the sky directly elsewhere (the hard case of the sky detector)."""
    c = _Canvas("reflection", width, height, 0.5 * height, seed)
    c.sky(0.35)
    c.water(c.yy > c.yh, 0.8, 0.02, "lake", grazing=0.97)
    z_t = 250.0
    top = c.yh - 0.06 * height - 0.05 * height * (0.5 + 0.5 * _noise_1d(c.rng, width, 0.05 * width))
    span = (c.xx > 0.55 * width) & (c.yy >= top[None, :]) & (c.yy <= c.base_row(z_t))
    c.card(span, z_t, [0.15, 0.25, 0.12], 0.3, 0.02 * width, "treeline")
    sky = c.obj == 1
    lake = c.obj == [k for k, v in c.names.items() if v == "lake"][0]
    return c.finish(
        {"lake": lake, "sky": sky},
        sky,
        vertical=("treeline",),
        orderings=(("treeline", "sky"), ("lake", "sky")),
    )


def waterfall_scene(width: int, height: int, seed: int = 14) -> Landscape:
    """A waterfall falling between two rock faces into a pool, forest above, a strip of sky."""
    c = _Canvas("waterfall", width, height, 0.3 * height, seed)
    c.sky(0.2)
    z_f, z_r = 40.0, 12.0
    forest_top = 0.12 * height + 0.06 * height * _noise_1d(c.rng, width, 0.1 * width)[None, :]
    c.card(c.yy >= forest_top, z_f, [0.16, 0.3, 0.14], 0.5, 0.02 * width, "forest")
    c.ground([0.3, 0.28, 0.22], 0.3, "bank")
    pool = (c.ground_z() > 7.0) & (c.yy > c.yh)
    c.water(pool, 0.3, 0.08, "pool")
    base = c.base_row(z_r)
    cliff_top = 0.28 * height + 0.04 * height * _noise_1d(c.rng, width, 0.2 * width)[None, :]
    gap_l = 0.43 * width + 0.02 * width * _noise_1d(c.rng, height, 0.2 * height)[:, None]
    gap_r = 0.57 * width + 0.02 * width * _noise_1d(c.rng, height, 0.2 * height)[:, None]
    face = (c.yy >= cliff_top) & (c.yy <= base)
    c.card(face & (c.xx < gap_l), z_r, [0.42, 0.38, 0.33], 0.4, 0.04 * width, "rock_left")
    c.card(face & (c.xx > gap_r), z_r, [0.4, 0.37, 0.34], 0.4, 0.04 * width, "rock_right")
    fall = face & (c.xx >= gap_l) & (c.xx <= gap_r)
    streak = _noise(c.rng, 16, width, 0.03 * width, 3)
    rows = _fold(c.yy * 0.25, 16)
    s = streak[rows, c.xx.astype(np.int64)][..., None]
    rgb = np.clip(np.array([0.82, 0.87, 0.9]) + 0.12 * s, 0, 1)
    c.paint(fall, rgb.astype(np.float32), z_r * 1.02, "fall")
    sky = c.obj == 1
    ids = {v: k for k, v in c.names.items()}
    return c.finish(
        {"fall": c.obj == ids["fall"], "pool": c.obj == ids["pool"]},
        sky,
        vertical=("rock_left", "rock_right"),
        orderings=(("rock_left", "forest"), ("pool", "fall"), ("forest", "sky")),
    )


def foliage_scene(width: int, height: int, seed: int = 15) -> Landscape:
    """Two trees with leafy canopies full of small sky gaps in front of open sky and hills."""
    c = _Canvas("foliage", width, height, 0.62 * height, seed)
    c.sky(0.4)
    z_hill = 200.0
    ridge = _ridge(c, 0.6 * height, 0.08, 0.3 * width)
    c.card((c.yy >= ridge[None, :]) & (c.yy <= c.base_row(z_hill)), z_hill, [0.3, 0.4, 0.3], 0.2,
           0.05 * width, "hills")  # fmt: skip
    c.ground([0.32, 0.5, 0.22], 0.3, "grass", below=c.yy > c.base_row(z_hill))
    gap_id = c.new_id("gap")
    for i, (xc, zt) in enumerate(((0.22, 10.0), (0.78, 14.0))):
        base = c.base_row(zt)
        scale = c.f / zt
        trunk = (np.abs(c.xx - xc * width) < 0.25 * scale) & (c.yy <= base) & (c.yy > base - 3.0 * scale)
        c.card(trunk, zt, [0.3, 0.22, 0.15], 0.3, 0.01 * width, f"trunk{i}")
        cy = base - 4.2 * scale
        r = np.hypot((c.xx - xc * width) / (2.0 * scale), (c.yy - cy) / (1.8 * scale))
        lobes = r < 1.0 + 0.25 * _noise(c.rng, height, width, 0.06 * width, 3)
        leaves = _noise(c.rng, height, width, 0.012 * width, 2)
        holes = lobes & (leaves > 0.45) & (r < 0.9)
        c.card(lobes & ~holes, zt, [0.2, 0.36, 0.14], 0.5, 0.01 * width, f"canopy{i}")
        c.paint(holes, c.sky_rgb, SKY_DEPTH, gap_id)
    sky = c.obj == 1
    return c.finish(
        {"sky": sky},
        sky,
        vertical=("trunk0", "trunk1"),
        orderings=(("canopy0", "hills"), ("hills", "sky"), ("trunk0", "trunk1")),
    )


LANDSCAPES: dict[str, Callable[..., Landscape]] = {
    "branch": branch_scene,
    "cliff": cliff_scene,
    "bay": bay_scene,
    "reflection": reflection_scene,
    "waterfall": waterfall_scene,
    "foliage": foliage_scene,
}


def make_landscape(name: str, width: int = 320, height: int = 192) -> Landscape:
    """Build the landscape ``name`` (one of :data:`LANDSCAPES`) at ``width × height`` pixels."""
    if name not in LANDSCAPES:
        raise InputError("landscape", f"one of {', '.join(LANDSCAPES)}", repr(name))
    if not (isinstance(width, int) and isinstance(height, int) and width >= 32 and height >= 24):
        raise InputError("landscape size", "integers width >= 32, height >= 24", (width, height))
    return LANDSCAPES[name](width, height)
