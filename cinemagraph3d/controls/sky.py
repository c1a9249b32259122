"""Automatic sky: a documented, training-free sky detector.

A pixel is a *sky candidate* when all of these hold (``V = max(R, G, B)``,
``S = (V - min(R, G, B)) / V``, colours in [0, 1], ``D = max(H, W)``):

* **bright**: ``V >= min_value`` (0.35; night skies are not detected) and
  ``V >= min_relative_value * V_ref`` (0.7), with ``V_ref`` the median ``V`` of the pixels in the
  top ``top_band`` (5%) of rows that pass the other colour and texture cues — distant hazy
  mountains are blue-grey and smooth too, but darker than their sky;
* **sky-coloured**: *blue* (``B >= R + 0.03`` and ``B >= G - 0.03``) or *pale* (grey / white /
  haze: ``S <= max_pale_saturation`` (0.25) and ``V >= min_pale_value`` (0.55));
* **smooth**: the local mean, over a box of side ``texture_window * D`` (>= 3 px), of the
  gradient magnitude of the grey image (3x3 Sobel / 8 on a 1-px Gaussian blur, per pixel) is at
  most ``max_texture`` (0.03). Sky gradients and soft cloud edges are far below it; foliage,
  rock, buildings and water ripples far above;
* **not on a strong edge** (:func:`~cinemagraph3d.controls.segment.strong_edges`: Canny on the
  8-bit Lab image), which the box average would dilute at high resolution.

The **sky** is the union of the 4-connected candidate components that touch the **top border**,
grown back over bright, sky-coloured pixels that are not on a strong edge (3x3 geodesic
dilation, at most ``window + 2`` steps: the texture box otherwise eats a band along the
horizon). Once that sky is large enough to count (below), it is refined so that it is only sky:

* **islands** — candidate components cut off from the top border by a branch or a canopy join
  it when they cover at least ``min_island`` (0.4%) of the image, reach no lower than the sky
  found so far and match its colours (Mahalanobis distance of their mean RGB <= ``island_colour``);
* **water** — :func:`horizon_cut` finds a horizon line inside the mask (a straight line darker
  below, or the mirrored brightness profile of a reflection, with horizontal streaks below) and
  everything below it is removed: water reflecting the sky is not sky;
* **gaps between leaves** — sky thinner than ``2 gap_radius · D`` is removed (an opening), and
  what is left grows back by at most 3 px over pixels of the sky's colours (the band that the
  texture box leaves along branches and ridges).

Holes that touch neither the left, right nor bottom border and cover less than
``max_hole`` (2%) of the image are filled (small clouds, birds, a sun, a thin branch). The
detection is accepted (``found``) when the sky covers at least ``min_fraction`` (3%) of the image
and at least ``min_top_fraction`` (10%) of the top row.

Limits: plain bright walls or ceilings touching the top border look like an overcast sky;
night skies, sunsets with saturated orange/red and skies seen only through foliage are not
found. Supply a mask or clicks instead (:data:`SKY_ADVICE`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from ..errors import InputError
from .segment import strong_edges

__all__ = [
    "SkySettings",
    "SkyDetection",
    "detect_sky",
    "sky_candidates",
    "sky_coloured",
    "horizon_cut",
    "SKY_ADVICE",
    "SKY_PROMPT",
]

#: What to supply when no sky is found (one line).
SKY_ADVICE = "give a mask or clicks (with a prompt, e.g. 'flow right', or arrows) to choose what moves"

#: Prompt given to the sky when it is animated automatically.
SKY_PROMPT = "drift right slow"


@dataclass(frozen=True)
class SkySettings:
    """Thresholds of :func:`detect_sky` (see the module docstring for the rules)."""

    min_value: float = 0.35
    min_relative_value: float = 0.7
    top_band: float = 0.05
    max_pale_saturation: float = 0.25
    min_pale_value: float = 0.55
    max_texture: float = 0.03
    texture_window: float = 0.02
    max_hole: float = 0.02
    min_fraction: float = 0.03
    min_top_fraction: float = 0.10
    min_island: float = 0.004
    island_colour: float = 3.0
    line_step: float = 0.025
    mirror_step: float = 0.008
    mirror_drop: float = 0.02
    mirror_corr: float = 0.7
    gap_radius: float = 0.006
    water_anisotropy: float = 0.6
    water_rows: float = 0.15

    def __post_init__(self) -> None:
        for name in (
            "min_value",
            "min_relative_value",
            "top_band",
            "max_pale_saturation",
            "min_pale_value",
            "max_texture",
            "texture_window",
            "max_hole",
            "min_fraction",
            "min_top_fraction",
            "min_island",
            "line_step",
            "mirror_step",
            "mirror_drop",
            "mirror_corr",
            "gap_radius",
            "water_anisotropy",
            "water_rows",
        ):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and 0 <= v <= 1):
                raise InputError(f"SkySettings.{name}", "a number in [0, 1]", v)


@dataclass(frozen=True)
class SkyDetection:
    """Result of :func:`detect_sky`.

    Attributes:
        mask: ``(H, W)`` bool tensor of the sky (may be non-empty even when ``found`` is False).
        found: whether the sky is large enough to animate.
        fraction: share of the image covered by ``mask``.
        top_fraction: share of the top row covered by ``mask``.
        note: one line saying what was found, or what to supply instead.
    """

    mask: torch.Tensor
    found: bool
    fraction: float
    top_fraction: float
    note: str


def _check_image(image) -> None:
    if not isinstance(image, torch.Tensor) or image.dim() != 3 or image.shape[0] != 3:
        found = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise InputError("image", "a (3, H, W) float tensor in [0, 1]", found)


def _window(s: SkySettings, h: int, w: int) -> int:
    return max(3, int(round(s.texture_window * max(h, w))) | 1)


def _cues(image: torch.Tensor, s: SkySettings) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-pixel cues: ``colour`` (bright, blue or pale, and at least ``min_relative_value``
    of the sky's reference brightness), ``smooth`` (texture test) and ``edge`` (strong edges)."""
    _check_image(image)
    rgb = image.detach().cpu().float().clamp(0, 1).permute(1, 2, 0).numpy()
    h, w = rgb.shape[:2]
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    v = rgb.max(axis=2)
    sat = (v - rgb.min(axis=2)) / np.maximum(v, 1e-6)
    blue = (b >= r + 0.03) & (b >= g - 0.03)
    pale = (sat <= s.max_pale_saturation) & (v >= s.min_pale_value)
    colour = (v >= s.min_value) & (blue | pale)
    grey = cv2.GaussianBlur(np.ascontiguousarray(rgb.mean(axis=2)), (0, 0), 1.0)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    k = _window(s, h, w)
    smooth = cv2.blur(np.hypot(gx, gy), (k, k), borderType=cv2.BORDER_REFLECT) <= s.max_texture
    edge = strong_edges(np.ascontiguousarray(np.round(rgb * 255.0).astype(np.uint8)))
    band = max(1, int(math.ceil(s.top_band * h)))
    ref = v[:band][(colour & smooth)[:band]]
    if ref.size:
        colour &= v >= s.min_relative_value * float(np.median(ref))
    return colour, smooth, edge


def sky_coloured(image: torch.Tensor, settings: SkySettings | None = None) -> np.ndarray:
    """``(H, W)`` bool array of pixels that pass the colour and brightness cues (bright, blue or
    pale, at least ``min_relative_value`` of the sky's reference brightness)."""
    return _cues(image, settings or SkySettings())[0]


def sky_candidates(image: torch.Tensor, settings: SkySettings | None = None) -> np.ndarray:
    """``(H, W)`` bool array of pixels that pass the colour, brightness and texture cues and are
    not on a strong edge."""
    colour, smooth, edge = _cues(image, settings or SkySettings())
    return colour & smooth & ~edge


def _islands(image, cand: np.ndarray, labels: np.ndarray, sky: np.ndarray, s: SkySettings) -> np.ndarray:
    """Candidate components cut off from the top border (by a branch or a canopy) that are large
    (``>= min_island`` of the image), lie no lower than the sky found so far and match its colour
    (Mahalanobis distance of their mean RGB to the sky's colours ``<= island_colour``)."""
    h, w = sky.shape
    rgb = image.detach().cpu().float().clamp(0, 1).permute(1, 2, 0).numpy().reshape(-1, 3)
    ref = rgb[sky.ravel()]
    if ref.shape[0] < 10:
        return np.zeros_like(sky)
    mu = ref.mean(0)
    inv = np.linalg.inv(np.cov(ref.T) + (0.02**2) * np.eye(3))
    lowest = int(np.nonzero(sky.any(axis=1))[0].max())
    out = np.zeros_like(sky)
    n = int(labels.max()) + 1
    flat = labels.ravel()
    count = np.bincount(flat, minlength=n)
    taken = set(np.unique(labels[sky]).tolist())
    for k in np.flatnonzero(count >= s.min_island * h * w):
        if k == 0 or k in taken:
            continue
        m = labels == k
        rows = np.nonzero(m.any(axis=1))[0]
        if rows.max() > lowest + 0.02 * h:
            continue
        d = rgb[m.ravel()].mean(0) - mu
        if float(np.sqrt(d @ inv @ d)) <= s.island_colour:
            out |= m
    return out


def _border_grow(image: torch.Tensor, sky: np.ndarray, s: SkySettings, steps: int = 3) -> np.ndarray:
    """Pixels up to ``steps`` px outside the sky whose RGB is within Mahalanobis distance
    ``island_colour`` of the sky's colours (the band that the texture box and the edge test
    leave along branches, canopies and ridges)."""
    rgb = image.detach().cpu().float().clamp(0, 1).permute(1, 2, 0).numpy()
    ref = rgb[sky]
    if ref.shape[0] < 10:
        return np.zeros_like(sky)
    mu = ref.mean(0)
    inv = np.linalg.inv(np.cov(ref.T) + (0.02**2) * np.eye(3))
    d = (rgb - mu).reshape(-1, 3)
    ok = (np.sqrt(np.einsum("ij,jk,ik->i", d, inv, d)) <= s.island_colour).reshape(sky.shape)
    out = sky.copy()
    kernel = np.ones((3, 3), np.uint8)
    for _ in range(steps):
        grown = (cv2.dilate(out.astype(np.uint8), kernel) > 0) & ok
        if not (grown & ~out).any():
            break
        out |= grown
    return out & ~sky


def _drop_gaps(sky: np.ndarray, s: SkySettings) -> np.ndarray:
    """Remove sky thinner than ``2 gap_radius · D`` (gaps between leaves, slits between twigs):
    a morphological opening, then the pixels within the radius of what is left come back."""
    h, w = sky.shape
    r = max(1, int(round(s.gap_radius * max(h, w))))
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    core = cv2.morphologyEx(sky.astype(np.uint8), cv2.MORPH_OPEN, k) > 0
    back = cv2.dilate(core.astype(np.uint8), k) > 0
    return sky & back


def horizon_cut(image: torch.Tensor, sky: np.ndarray, settings: SkySettings | None = None) -> int | None:
    """Row where sky-coloured water starts inside a sky mask, or None.

    Water reflecting the sky passes the colour and texture tests; it is told from the sky at the
    horizon line. With ``L`` the grey image blurred by 1.5 px, ``step(r)`` the median over the
    columns that are sky both 2 rows above and below ``r`` of ``L[r-2] - L[r+2]`` (a straight,
    consistent line darker below: a sea horizon), and ``P(r)`` the mean ``L`` of row ``r``'s
    sky pixels:

    * a *line*: ``step(r) >= line_step`` with the part below darker on average;
    * a *mirror*: ``P`` peaks at ``r`` and falls on both sides over ``K`` rows in the same way
      (correlation of ``P(r-k)`` and ``P(r+k)``, ``k = 1..K``, at least ``mirror_corr``, drop below
      at least ``mirror_drop``; the sky brightens towards the horizon and its reflection darkens
      away from it) and the line is faintly visible, ``step(r) >= mirror_step``.

    Either way the part below must look like water: its gradient energy is mostly vertical
    (horizontal streaks, share ``>= water_anisotropy``) and more so, or stronger, than above.
    Only rows where the sky spans at least half the width both 2 rows above and below, with at
    least ``water_rows`` (15%) of the height of wide (25% of the width) sky rows below, are
    considered. The cut is then put on the largest one-row drop of the unblurred grey image
    within 3 rows of the best row. Limits: ripple-free water under a featureless haze without any
    line is kept.
    """
    s = settings or SkySettings()
    h, w = sky.shape
    grey = image.detach().cpu().float().clamp(0, 1).mean(0).numpy()
    L = cv2.GaussianBlur(np.ascontiguousarray(grey), (0, 0), 1.5)
    cnt = sky.sum(axis=1)
    P = np.where(cnt > 0, (L * sky).sum(axis=1) / np.maximum(cnt, 1), np.nan)
    rows = np.nonzero(cnt >= 0.25 * w)[0]
    if rows.size < 10:
        return None
    lo, hi = int(rows.min()), int(rows.max())
    # water texture: horizontal streaks (vertical gradient energy), measured inside the mask
    gx = cv2.Sobel(L, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(L, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    inner = cv2.erode(sky.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    ex = (gx**2 * inner).sum(axis=1)
    ey = (gy**2 * inner).sum(axis=1)

    def streaky(a: int, b: int, c: int, d: int) -> bool:
        """Rows a..b (below) have horizontal streaks, more than rows c..d (above)."""
        eb, xb = ey[a:b].sum(), ex[a:b].sum()
        ea, xa = ey[c:d].sum(), ex[c:d].sum()
        nb, na = max(inner[a:b].sum(), 1), max(inner[c:d].sum(), 1)
        an_b = eb / max(eb + xb, 1e-12)
        an_a = ea / max(ea + xa, 1e-12)
        energy_b, energy_a = (eb + xb) / nb, (ea + xa) / na
        return (
            an_b >= s.water_anisotropy
            and energy_b > 1e-7
            and (an_b >= an_a + 0.1 or energy_b >= 1.5 * energy_a)
        )

    best, best_row = 0.0, None
    for r in range(max(lo + 2, int(0.1 * h)), hi - 2):
        if (sky[r:].sum(axis=1) >= 0.25 * w).sum() < s.water_rows * h:
            break
        both = sky[r - 2] & sky[r + 2]
        if both.sum() < 0.5 * w:
            continue
        step = float(np.median(L[r - 2, both] - L[r + 2, both]))
        K = min(r - lo, hi - r, int(0.25 * h))
        ok = False
        if not streaky(r + 2, r + 2 + max(K, 3), max(r - 1 - max(K, 3), 0), r - 1):
            continue
        if step >= s.line_step:
            below = np.nanmean(P[r + 1 : r + 1 + max(K, 1)])
            above = np.nanmean(P[max(r - max(K, 1), 0) : r])
            ok = below < above
        elif step >= s.mirror_step and K >= 5:
            a = P[r - K : r][::-1]
            b = P[r + 1 : r + 1 + K]
            if np.isfinite(a).all() and np.isfinite(b).all() and a.std() > 0 and b.std() > 0:
                corr = float(np.corrcoef(a, b)[0, 1])
                ok = corr >= s.mirror_corr and (P[r] - b[-1]) >= s.mirror_drop and (P[r] - a[-1]) > 0
        if ok and step > best:
            best, best_row = step, r
    if best_row is None:
        return None
    # the line itself: the largest one-row drop of the unblurred grey image near the best row
    g = grey
    cols = sky[best_row - 2] & sky[min(best_row + 2, h - 1)]
    drops = {
        q: float(np.median(g[q - 1, cols] - g[q, cols]))
        for q in range(max(best_row - 3, 1), min(best_row + 2, h))
    }
    return max(drops, key=lambda q: (drops[q], -q))


def detect_sky(image: torch.Tensor, settings: SkySettings | None = None) -> SkyDetection:
    """Find the sky of a photo (training-free; rules in the module docstring).

    Args:
        image: ``(3, H, W)`` float tensor in [0, 1].
        settings: :class:`SkySettings` (defaults when None).

    Returns:
        :class:`SkyDetection` with the ``(H, W)`` bool mask on the image's device.

    Example:
        >>> img = torch.zeros(3, 40, 60); img[:, :15] = torch.tensor([0.5, 0.7, 0.95])[:, None, None]
        >>> detect_sky(img).found
        True
    """
    s = settings or SkySettings()
    if not isinstance(s, SkySettings):
        raise InputError("settings", "a SkySettings", type(s).__name__)
    colour, smooth, edge = _cues(image, s)
    cand = colour & smooth & ~edge
    h, w = cand.shape
    n, labels = cv2.connectedComponents(cand.astype(np.uint8), connectivity=4)
    top = sorted({int(x) for x in np.unique(labels[0]) if x != 0})
    sky = np.isin(labels, top) if top else np.zeros((h, w), bool)
    if sky.any():
        # The texture window blurs the gradient of the sky's own border: grow back over
        # sky-coloured pixels up to the first strong edge.
        ok = colour & ~edge
        kernel = np.ones((3, 3), np.uint8)
        for _ in range(_window(s, h, w) + 2):
            grown = (cv2.dilate(sky.astype(np.uint8), kernel) > 0) & ok
            if not (grown & ~sky).any():
                break
            sky |= grown
    if sky.mean() >= s.min_fraction and sky[0].mean() >= s.min_top_fraction:
        sky |= _islands(image, cand, labels, sky, s)
        cut = horizon_cut(image, sky, s)
        if cut is not None:
            sky[cut:] = False
        sky = _drop_gaps(sky, s)
        sky |= _border_grow(image, sky, s)
        if cut is not None:
            sky[cut:] = False
    if sky.any():
        holes = (~sky).astype(np.uint8)
        m, hl, stats, _ = cv2.connectedComponentsWithStats(holes, connectivity=8)
        limit = s.max_hole * h * w
        for k in range(1, m):
            x, y, bw, bh, area = stats[k]
            if x == 0 or x + bw == w or y + bh == h or area > limit:
                continue
            sky[hl == k] = True
    fraction = float(sky.mean())
    top_fraction = float(sky[0].mean())
    found = fraction >= s.min_fraction and top_fraction >= s.min_top_fraction and fraction > 0
    if found:
        note = f"sky found: {100 * fraction:.0f}% of the photo"
    else:
        note = f"no sky found (bright, smooth, sky-coloured area touching the top border); {SKY_ADVICE}"
    return SkyDetection(torch.from_numpy(sky).to(image.device), bool(found), fraction, top_fraction, note)
