"""Per-frame quality metrics of the fluid motion: detail, ghosting, cracks, border seams, hints.

Every function takes a video (``(K, 3, H, W)`` float in [0, 1]) or splat coverage
(``(K, 1, H, W)``) and returns one value per frame (a ``(K,)`` float64 tensor) or per hint, so
a report can give the worst frame as well as the mean. None of them knows how the video was made.

* :func:`detail_ratios` — in-mask variance of the Laplacian of luma against the photo's (1: the
  photo's fine detail, < 1: blurred or faded, as a cross-fade of two unrelated textures is).
* :func:`ghosting_scores` — doubled structure: the normalised autocorrelation of the frame's
  detail band along the flow direction, minus the photo's, maximised over the lag (0: no copy
  of the texture at any distance along the flow that the photo does not have itself; a 50/50
  cross-fade of the texture with a copy ``ℓ`` pixels further along scores about 0.5 at ``ℓ``).
* :func:`crack_pixels` — pixels inside continuous surfaces that the splat leaves (nearly)
  uncovered.
* :func:`border_seams` — the strongest step between adjacent rows/columns near each image border
  inside the fluid, against the median step of the whole fluid.
* :func:`hint_agreement` — speed ratio and direction cosine of a flow field near each hint.

:func:`run_study` renders the cases of the issue-13 study (a procedural photo with hints and the
analytic scenes under every built-in camera path) with the current method and with the previous
one (linear cross-fade, smoothed hints) in the same run; :func:`study_markdown` writes the tables
of ``docs/quality_motion.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError

__all__ = [
    "luma",
    "detail_ratios",
    "ghosting_scores",
    "crack_pixels",
    "border_seams",
    "hint_agreement",
    "GHOST_THRESHOLD",
    "StudyPhoto",
    "study_photo",
]

#: A ghosting score above this is reported as a doubled structure (see :func:`ghosting_scores`).
GHOST_THRESHOLD = 0.1


def _video(x: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.dim() not in (3, 4) or x.shape[-3] != 3:
        raise InputError(name, "a (3, H, W) image or a (K, 3, H, W) video", tuple(getattr(x, "shape", ())))
    return (x[None] if x.dim() == 3 else x).double()


def _masks(mask: torch.Tensor, K: int, H: int, W: int, name: str = "mask") -> torch.Tensor:
    m = mask.bool()
    while m.dim() < 4:
        m = m[None]
    if m.shape[1] != 1 or tuple(m.shape[-2:]) != (H, W) or m.shape[0] not in (1, K):
        raise InputError(
            name, f"a bool mask (H, W) or ({K}, 1, H, W) with H, W = {H}, {W}", tuple(mask.shape)
        )
    return m.expand(K, 1, H, W)


def luma(video: torch.Tensor) -> torch.Tensor:
    """``(K, 1, H, W)`` BT.601 luma of a ``(K, 3, H, W)`` video."""
    w = torch.tensor([0.299, 0.587, 0.114], dtype=video.dtype).view(1, 3, 1, 1)
    return (video * w).sum(1, keepdim=True)


def _erode(mask: torch.Tensor, r: int) -> torch.Tensor:
    """Erode a ``(K, 1, H, W)`` bool mask by a ``(2r+1)²`` square (outside the image counts as
    outside)."""
    if r <= 0:
        return mask
    inv = (~mask).double()
    return ~(F.max_pool2d(F.pad(inv, (r, r, r, r), value=1.0), 2 * r + 1, stride=1) > 0)


_LAPLACE = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]], dtype=torch.float64)


def _tile_laplacian_variance(
    video: torch.Tensor, mask: torch.Tensor, tile: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-tile variance of the Laplacian of luma over the eroded mask: ``(K, T)`` values and
    ``(K, T)`` bool validity (tiles at least 75 % in the mask)."""
    lap = F.conv2d(luma(video), _LAPLACE.view(1, 1, 3, 3), padding=1)
    m = _erode(mask, 1).double()
    pool = lambda x: F.avg_pool2d(x, tile, stride=tile, ceil_mode=True)  # noqa: E731
    frac = pool(m)
    mean = pool(lap * m) / frac.clamp(min=1e-12)
    sq = pool(lap * lap * m) / frac.clamp(min=1e-12)
    var = (sq - mean * mean).clamp(min=0)
    return var.flatten(1), (frac >= 0.75).flatten(1)


def detail_ratios(
    frames: torch.Tensor,
    masks: torch.Tensor,
    photo: torch.Tensor,
    photo_mask: torch.Tensor,
    tile: int | None = None,
) -> torch.Tensor:
    """Fine detail of each frame inside the fluid relative to the photo's.

    The frame is cut into square tiles (``tile`` pixels, default ``max(8, D / 24)``); in every
    tile at least 75 % inside the (one-pixel eroded) fluid masks of both the frame and the photo,
    ``ρ = Var(∇² Y_k) / Var(∇² Y_photo)`` with ``Y`` the luma and ``∇²`` the 5-point Laplacian;
    the frame's ratio is the median ``ρ`` over the tiles. Tiles and the median make it the
    detail of the typical patch of fluid (a crack or a seam in a few tiles, which adds Laplacian
    energy of its own, does not mask a blur everywhere else; those are measured by
    :func:`crack_pixels` and :func:`border_seams`). Unitless; 1 keeps the photo's detail, a
    50/50 cross-fade of two unrelated textures gives about 0.5.

    Args:
        frames: ``(K, 3, H, W)`` video.
        masks: ``(K, 1, H, W)`` or ``(H, W)`` bool fluid pixels of each frame.
        photo: ``(3, H, W)`` input photo.
        photo_mask: ``(H, W)`` bool fluid pixels of the photo.
        tile: tile size in pixels.

    Returns:
        ``(K,)`` float64 ratios (``nan`` where no tile qualifies).
    """
    v = _video(frames, "frames")
    K, _, H, W = v.shape
    tile = tile or max(8, max(H, W) // 24)
    ref, ref_ok = _tile_laplacian_variance(
        _video(photo, "photo"), _masks(photo_mask, 1, H, W, "photo_mask"), tile
    )
    var, ok = _tile_laplacian_variance(v, _masks(masks, K, H, W), tile)
    ok = ok & ref_ok & (ref > 0)
    ratio = var / ref.clamp(min=1e-30)
    out = []
    for k in range(K):
        r = ratio[k][ok[k]]
        out.append(float(r.median()) if r.numel() else math.nan)
    return torch.tensor(out, dtype=torch.float64)


def _detail_band(video: torch.Tensor, r: int = 2) -> torch.Tensor:
    y = luma(video)
    return y - F.avg_pool2d(y, 2 * r + 1, stride=1, padding=r, count_include_pad=False)


def _shift_along(x: torch.Tensor, direction: torch.Tensor, lag: float) -> torch.Tensor:
    """``x(p + lag·d(p))`` for ``x`` ``(K, 1, H, W)`` and a vector field ``d`` ``(2, H, W)``
    (bilinear; outside the image: nan)."""
    K, _, H, W = x.shape
    v, u = torch.meshgrid(
        torch.arange(H, dtype=x.dtype) + 0.5, torch.arange(W, dtype=x.dtype) + 0.5, indexing="ij"
    )
    gx = (u + lag * direction[0]) * (2.0 / W) - 1.0
    gy = (v + lag * direction[1]) * (2.0 / H) - 1.0
    grid = torch.stack([gx, gy], -1)[None].expand(K, H, W, 2)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    inside = (gx.abs() <= 1) & (gy.abs() <= 1)
    return torch.where(inside, out, torch.full_like(out, math.nan))


def _autocorrelation(band: torch.Tensor, mask: torch.Tensor, direction: torch.Tensor, lags) -> torch.Tensor:
    """``(K, L)`` normalised correlation of ``band`` with itself shifted ``lag`` pixels along
    ``direction``, over the pixels where both ends lie in the mask."""
    mf = mask.double()
    out = []
    for lag in lags:
        sb = _shift_along(band, direction, lag)
        sm = _shift_along(mf, direction, lag)
        ok = (mf > 0) & (sm > 0.999) & torch.isfinite(sb)
        a = torch.where(ok, band, torch.zeros_like(band))
        b = torch.where(ok, sb, torch.zeros_like(sb))
        num = (a * b).sum((1, 2, 3))
        den = torch.sqrt((a * a).sum((1, 2, 3)) * (b * b).sum((1, 2, 3)))
        out.append(torch.where(den > 0, num / den.clamp(min=1e-30), torch.full_like(num, math.nan)))
    return torch.stack(out, 1)


def ghosting_scores(
    frames: torch.Tensor,
    masks: torch.Tensor,
    flow: torch.Tensor,
    photo: torch.Tensor,
    photo_mask: torch.Tensor,
    max_steps: float,
    min_shift: float = 4.0,
) -> torch.Tensor:
    """Doubled-structure score of each frame: secondary autocorrelation peak along the flow.

    A doubled structure left by blending two warps of the photo is a copy of the texture shifted
    along the flow by the distance the fluid travels in some number ``λ`` of motion steps (``N``
    for the forward/backward cross-fade), so the lag is measured in motion steps: with ``B`` the
    detail band of the luma (luma minus its 5×5 box mean) and ``M(x)`` the motion field,

        c(λ) = Σ B(x) B(x + λ M(x)) / sqrt(Σ B(x)² Σ B(x + λ M(x))²)

    over the pixels whose both ends lie in the fluid (bilinear), and

        ghost_k = max_{λ_min <= λ <= max_steps} (c_k(λ) − c_photo(λ)),  floored at 0,

    for integer ``λ`` from ``λ_min`` (the first lag shifting the median pixel by ``min_shift``
    pixels). Subtracting the photo's own correlation means texture that repeats in the photo is
    not counted; a frame showing the texture plus a copy ``λ`` steps further along the flow with
    weights ``w_1, w_2`` has an excess of about ``w_1 w_2 / (w_1² + w_2²)`` at ``λ`` (0.5 for a
    50/50 blend). Unitless, 0 is ideal; scores above :data:`GHOST_THRESHOLD` are reported as
    doubled structure.

    Args:
        frames: ``(K, 3, H, W)``.
        masks: ``(K, 1, H, W)`` or ``(H, W)`` bool fluid pixels.
        flow: ``(2, H, W)`` motion field, pixels per step (0 outside the fluid).
        photo: ``(3, H, W)``; photo_mask: ``(H, W)`` bool.
        max_steps: largest lag, motion steps.
        min_shift: pixels; sets the smallest lag.

    Returns:
        ``(K,)`` float64 scores.
    """
    v = _video(frames, "frames")
    K, _, H, W = v.shape
    fl = flow.double()
    n = torch.linalg.vector_norm(fl, dim=0, keepdim=True)
    if not bool((n > 0).any()):
        raise InputError("flow", "a motion field with moving pixels", "all zeros")
    lo = max(1, int(math.ceil(min_shift / float(n[n > 0].median()))))
    lags = list(range(lo, int(max_steps) + 1))
    if not lags:
        raise InputError("max_steps", f"at least {lo} (the smallest lag)", max_steps)
    m = _masks(masks, K, H, W) & (n > 0)[None]
    c = _autocorrelation(_detail_band(v), m, fl, lags)
    pm = _masks(photo_mask, 1, H, W, "photo_mask") & (n > 0)[None]
    c0 = _autocorrelation(_detail_band(_video(photo, "photo")), pm, fl, lags)
    excess = torch.nan_to_num(c - c0, nan=0.0)
    return excess.max(1).values.clamp(min=0.0)


def crack_pixels(
    alpha: torch.Tensor, surface: torch.Tensor, threshold: float = 0.5, erode: int = 2
) -> torch.Tensor:
    """Number of crack pixels in each frame: splat coverage ``α < threshold`` inside continuous
    surfaces.

    ``surface`` marks the pixels that see a continuous surface the photo shows (for the analytic
    scenes: the truth's ``fluid`` and ``static`` regions, each eroded by ``erode`` pixels so that
    silhouettes, occlusion edges and disocclusions, where partial coverage is expected, do not
    count).

    Args:
        alpha: ``(K, 1, H, W)`` splat coverage before hole filling.
        surface: ``(K, 1, H, W)`` bool.
        threshold: coverage below which a pixel is a crack.
        erode: pixels removed from each side of the surface mask.

    Returns:
        ``(K,)`` float64 counts.
    """
    if alpha.dim() != 4 or alpha.shape[1] != 1:
        raise InputError("alpha", "(K, 1, H, W)", tuple(alpha.shape))
    K, _, H, W = alpha.shape
    s = _erode(_masks(surface, K, H, W, "surface"), erode)
    return ((alpha.double() < threshold) & s).sum((1, 2, 3)).double()


def border_seams(frames: torch.Tensor, masks: torch.Tensor, band: float = 0.25) -> torch.Tensor:
    """Strongest seam near the image border inside the fluid, relative to the typical step.

    For every pair of adjacent columns ``(c, c+1)`` the mean absolute luma step
    ``s_c = mean_y |Y(y, c+1) − Y(y, c)|`` over the rows where both pixels are fluid (likewise
    rows for the top and bottom borders). The seam of a frame is
    ``max(s over the lines within band·W (band·H) of a border) / median(s over all lines)``:
    1 for a texture that looks alike everywhere, large where a line of discontinuity (a tear
    between two textures) runs near the border. Lines with fewer than 8 fluid pixels are
    skipped. Unitless.

    Args:
        frames: ``(K, 3, H, W)``.
        masks: ``(K, 1, H, W)`` or ``(H, W)`` bool fluid pixels.
        band: depth of the border band, fraction of the image side.

    Returns:
        ``(K,)`` float64 (``nan`` where no line qualifies).
    """
    v = _video(frames, "frames")
    K, _, H, W = v.shape
    m = _masks(masks, K, H, W)
    y = luma(v)
    out = []
    for k in range(K):
        steps, near = [], []
        for axis, size in ((3, W), (2, H)):
            yy, mm = y[k, 0], m[k, 0]
            if axis == 3:
                d = (yy[:, 1:] - yy[:, :-1]).abs()
                ok = mm[:, 1:] & mm[:, :-1]
                cnt, tot = ok.sum(0), (d * ok).sum(0)
            else:
                d = (yy[1:] - yy[:-1]).abs()
                ok = mm[1:] & mm[:-1]
                cnt, tot = ok.sum(1), (d * ok).sum(1)
            s = tot / cnt.clamp(min=1)
            valid = cnt >= 8
            idx = torch.arange(size - 1)
            b = max(1, int(band * size))
            steps.append(s[valid])
            near.append(s[valid & ((idx < b) | (idx >= size - 1 - b))])
        allsteps, nearsteps = torch.cat(steps), torch.cat(near)
        if allsteps.numel() == 0 or nearsteps.numel() == 0:
            out.append(math.nan)
            continue
        med = float(allsteps.median())
        out.append(float(nearsteps.max()) / med if med > 0 else math.inf)
    return torch.tensor(out, dtype=torch.float64)


def hint_agreement(
    flow: torch.Tensor, starts: torch.Tensor, vectors: torch.Tensor, mask: torch.Tensor, radius: float = 20.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Speed ratio and direction cosine of a flow near each hint.

    For hint ``k`` (start ``s_k``, vector ``v_k`` px/step), over the fluid pixels whose centre lies
    within ``radius`` pixels of ``s_k``: ``speed_k = median |f(x)| / |v_k|`` and
    ``cos_k = (mean f) · v_k / (|mean f| |v_k|)``.

    Args:
        flow: ``(2, H, W)`` field or measured flow (pixels per step).
        starts, vectors: ``(K, 2)`` hints.
        mask: ``(H, W)`` bool fluid pixels.
        radius: pixels.

    Returns:
        ``speed`` and ``cosine``, each ``(K,)`` float64 (``nan`` for a hint with no fluid pixel
        within ``radius``).
    """
    _, H, W = flow.shape
    v, u = torch.meshgrid(torch.arange(H, dtype=torch.float64) + 0.5, torch.arange(W, dtype=torch.float64) + 0.5,
                          indexing="ij")  # fmt: skip
    f = flow.double()
    speeds, cosines = [], []
    for (sx, sy), (vx, vy) in zip(starts.double().tolist(), vectors.double().tolist()):
        near = (((u - sx) ** 2 + (v - sy) ** 2) <= radius * radius) & mask.bool()
        vn = math.hypot(vx, vy)
        if not bool(near.any()) or vn == 0:
            speeds.append(math.nan)
            cosines.append(math.nan)
            continue
        fx, fy = f[0][near], f[1][near]
        speeds.append(float(torch.hypot(fx, fy).median()) / vn)
        mx, my = float(fx.mean()), float(fy.mean())
        mn = math.hypot(mx, my)
        cosines.append((mx * vx + my * vy) / (mn * vn) if mn > 0 else 0.0)
    return torch.tensor(speeds, dtype=torch.float64), torch.tensor(cosines, dtype=torch.float64)


# --------------------------------------------------------------------------- study photo
@dataclass(frozen=True)
class StudyPhoto:
    """A procedural photo with photographic-looking fluid texture (fine, non-repeating detail at
    every scale), exact depth, fluid masks and hints.

    Attributes:
        image: ``(3, H, W)`` float in [0, 1].
        depth: ``(1, H, W)`` z-depth, scene units.
        regions: ``[(name, kind, mask (H, W) bool, starts (K, 2), vectors (K, 2))]``: the sea
            (touching the left, right and bottom borders, flowing right and faster near the
            camera, around a rock), a thin stream (a 1 %-of-``D`` wide band flowing down) and the
            clouds (flowing left).
    """

    image: torch.Tensor
    depth: torch.Tensor
    regions: list


def _fractal(
    h: int, w: int, rng: np.random.Generator, aniso: float = 1.0, octaves: int = 7, persistence: float = 0.62
) -> np.ndarray:
    """Zero-mean 1/f noise with unit standard deviation; ``aniso > 1`` stretches it along x."""
    import cv2

    out = np.zeros((h, w), np.float64)
    for o in range(octaves):
        cell = max(1.0, 2.0 ** (octaves - o))
        gh = max(2, int(h / cell) + 2)
        gw = max(2, int(w / (cell * aniso)) + 2)
        g = rng.standard_normal((gh, gw))
        out += persistence**o * cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)
    return (out - out.mean()) / out.std()


def study_photo(width: int = 384, height: int = 216, seed: int = 0) -> StudyPhoto:
    """Build the :class:`StudyPhoto` at ``width × height`` (same seed → same photo)."""
    import cv2

    rng = np.random.default_rng(seed)
    h, w = height, width
    d = max(h, w)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    yn, xn = (yy + 0.5) / h, (xx + 0.5) / w
    horizon = 0.45
    wisps = np.clip(0.5 + 0.35 * _fractal(h, w, rng, aniso=3.0), 0, 1)
    sky = np.stack([0.42 + 0.2 * yn, 0.6 + 0.15 * yn, 0.9 + 0.05 * yn], -1)
    cloud_a = np.clip((wisps - 0.45) * 2.5, 0, 1)[..., None]
    img = sky * (1 - cloud_a) + 0.96 * cloud_a
    depth = np.full((h, w), 300.0)
    ridge = horizon - 0.08 - 0.12 * (0.5 + 0.5 * _fractal(1, w, rng, octaves=5)[0] / 2.5)
    hills = (yn < horizon) & (yn > ridge[None, :])
    ht = _fractal(h, w, rng)
    img[hills] = np.stack([0.3 + 0.05 * ht, 0.38 + 0.05 * ht, 0.28 + 0.04 * ht], -1)[hills]
    depth[hills] = 80.0
    sea = yn >= horizon
    z_sea = np.minimum(1.5 * d / np.maximum(yy + 0.5 - horizon * h, 0.5), 80.0)
    # Water: streaky waves (stretched along the flow) with foam flecks, detail at every scale.
    waves = _fractal(h, w, rng, aniso=2.5, persistence=0.8)
    foam = np.clip((_fractal(h, w, rng, aniso=1.5) - 1.3) * 1.5, 0, 1)
    col = np.stack([0.1 + 0.05 * waves, 0.3 + 0.07 * waves, 0.45 + 0.08 * waves], -1)
    col = col * (1 - foam[..., None]) + 0.92 * foam[..., None]
    img[sea] = col[sea]
    depth[sea] = z_sea[sea]
    rock = (((xn - 0.62) / 0.09) ** 2 + ((yn - 0.72) / 0.13) ** 2 < 1.0) & (yn < 0.83)
    rt = _fractal(h, w, rng)
    img[rock] = np.stack([0.4 + 0.05 * rt, 0.33 + 0.05 * rt, 0.27 + 0.04 * rt], -1)[rock]
    depth[rock] = 1.5 * d / ((0.83 - horizon) * h)
    # A thin stream down the hills on the left, 1 % of D wide.
    stream = np.zeros((h, w), np.uint8)
    x0 = int(0.18 * w)
    pts = np.array([[x0, int(ridge[x0] * h) + 2], [x0 + int(0.03 * w), int(horizon * h) - 1]])
    cv2.line(stream, tuple(map(int, pts[0])), tuple(map(int, pts[1])), 1, max(2, int(round(0.01 * d))))
    stream = stream.astype(bool) & hills
    sv = _fractal(h, w, rng, aniso=0.4)
    img[stream] = np.stack([0.75 + 0.06 * sv, 0.82 + 0.05 * sv, 0.88 + 0.04 * sv], -1)[stream]
    cloud_mask = (yn < ridge[None, :] - 0.02) & (cloud_a[..., 0] > 0.02)
    cloud_mask = cv2.dilate(cloud_mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool) & (
        yn < ridge[None, :]
    )
    s = d / 640.0
    sea_mask = sea & ~rock
    sea_hints = [(fx, fy, (0.5 + 2.0 * (fy - horizon) / (1 - horizon)) * s, 0.1 * s * (fx - 0.5))
                 for fx, fy in [(0.1, 0.55), (0.45, 0.6), (0.85, 0.58), (0.3, 0.8), (0.8, 0.9), (0.5, 0.95)]]  # fmt: skip
    vec = pts[1] - pts[0]
    vec = vec / np.hypot(*vec) * 0.9 * s
    mid = pts.mean(0) + 0.5
    regions = [
        ("sea", "water", sea_mask, [[fx * w, fy * h] for fx, fy, _, _ in sea_hints],
         [[vx, vy] for _, _, vx, vy in sea_hints]),
        ("stream", "water", stream, [[float(mid[0]), float(mid[1])]], [[float(vec[0]), float(vec[1])]]),
        ("clouds", "clouds", cloud_mask, [[0.3 * w, 0.12 * h], [0.75 * w, 0.2 * h]],
         [[-0.35 * s, 0.0], [-0.3 * s, 0.0]]),
    ]  # fmt: skip
    regions = [
        (
            n,
            k,
            torch.from_numpy(m),
            torch.tensor(st, dtype=torch.float32),
            torch.tensor(v, dtype=torch.float32),
        )
        for n, k, m, st, v in regions
    ]
    image = torch.from_numpy(np.ascontiguousarray(np.clip(img, 0, 1).transpose(2, 0, 1))).float()
    return StudyPhoto(image, torch.from_numpy(depth)[None].float(), regions)
