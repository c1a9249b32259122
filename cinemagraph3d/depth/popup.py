"""Training-free "photo pop-up" depth for landscapes.

The photo is cut into regions and every region is stood up in a simple 3D world made of a sky,
a flat ground plane and upright cards (the idea of Hoiem, Efros and Hebert's *Automatic Photo
Pop-up*, with hand-written rules instead of learned classifiers). Output is a relative disparity
``(H, W)`` in [0, 1] (0 = sky, 1 = nearest); the depth stage maps it to z-depth.

Steps (``D = max(H, W)`` of the working image, at most ``max_side`` pixels):

1. **Sky** — :func:`~cinemagraph3d.controls.sky.detect_sky`; sky-coloured smooth regions above the
   horizon that it did not take are sky too, and so are the pixels of upright regions above the
   horizon that pass the sky's colour cue and lie within Mahalanobis distance ``gap_colour`` of
   the sky's colours (gaps between leaves). Disparity 0.
2. **Horizon** row ``y_h`` — the median over the columns that hold sky of the lowest sky row,
   clamped to ``[horizon_min, horizon_max]·H``; without sky ``horizon_default·H``.
3. **Regions** — watershed superpixels grown from a grid of seeds (spacing ``D / grid``) on the
   colour gradient, merged by a Felzenszwalb-Huttenlocher criterion on the mean CIE Lab colour
   (merge ``A, B`` when their colour distance ``w <= min(I_A + k/|A|, I_B + k/|B|)``, ``I`` the
   largest merge weight inside a region, ``|A|`` its share of the image, ``k = merge_k``);
   region boundaries lie on image edges.
4. **Ground or upright** — a region reaching above the horizon (its top row above
   ``y_h - margin``) stands upright. A region below the horizon is ground unless its texture
   is not foreshortened: on the ground plane texture is compressed vertically, so the share of
   vertical gradient energy ``a = Σ gy² / Σ (gx² + gy²)`` exceeds 1/2; a textured region with
   ``a < upright_anisotropy`` (isotropic or vertically streaked: rock, bark, a waterfall) stands
   upright.
5. **Ground disparity** grows linearly with the row below the horizon (exact for a flat ground
   seen by a level pinhole camera: ``1/z ∝ y - y_h``):
   ``g(y) = ground_far + (ground_near - ground_far)·(y + 0.5 - y_h)/(H - y_h)``.
6. **Upright cards** stand at the depth of their ground contact: a region resting on ground
   (most pixels right below its lowest pixels are ground) gets ``g(contact)``, contact = its
   ``contact_quantile`` row; a region resting on another upright region of about its colour
   (mean Lab distance ``<= same_object``) is a piece of the same object and takes its
   disparity; one of another colour is placed just behind it, at ``stack_factor`` (0.85) times
   its disparity (a forest seen above a cliff is behind it; the step is larger than the LDI's
   ``edge_ratio``, so it gets an occlusion band); of several
   supports the nearest wins (a canopy rests on its trunk, not on the hills seen under it);
   regions are processed bottom up; at least ``upright_min`` so that distant mountains stay in
   front of the sky.
7. **Overhanging occluders** — an upright region entirely above the horizon that touches the top,
   left or right border, is thin (at least ``thin_fraction`` of its pixels within
   ``thin_radius·D`` of the sky) and hangs in the sky (sky ``0.01·D`` under at least ``hang_fraction`` of
   its lowest pixels) is a branch reaching into the frame: disparity 1 (nearest).
   Before that test, an upright region entirely above the horizon that floats in the sky (sky under
   at least ``cloud_hang`` of its lowest pixels) and is light and grey (mean Lab lightness at least
   ``cloud_lightness``, chroma at most ``cloud_chroma``) is a **cloud**: it is sky (disparity 0), so
   a cloud does not become a floating card in front of the blue sky whose edges tear under camera
   motion.
8. **Edge-aware refinement** — a guided filter (colour guide, radius ``refine_radius·D``,
   ``eps = refine_eps``) smooths the map inside regions while keeping its steps on the image's
   edges; the steps thus stay where the photo has its object outlines.

Failure cases: a camera that is not level (tilted horizon), close-ups and indoor scenes (no
ground plane), rocks shorter than the camera height with foreshortened-looking texture (they
become ground ramps), a horizon hidden by foliage (the default row is used), a canopy touching
the top border above the horizon (taken for a branch, so it comes too near), mountains whose
base is hidden behind trees (they take the trees' depth).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from ..errors import InputError

__all__ = ["PopupSettings", "PopupResult", "popup_disparity", "superpixel_regions"]

SKY, GROUND, UPRIGHT, BRANCH = 0, 1, 2, 3


@dataclass(frozen=True)
class PopupSettings:
    """Constants of :func:`popup_disparity` (the rules are in the module docstring)."""

    max_side: int = 640
    grid: int = 48
    merge_k: float = 0.04
    same_object: float = 12.0
    min_region: float = 0.0005
    horizon_min: float = 0.2
    horizon_max: float = 0.7
    horizon_default: float = 0.45
    horizon_margin: float = 0.02
    horizon_quantile: float = 0.9
    upright_anisotropy: float = 0.7
    min_texture: float = 0.005
    enclosed_fraction: float = 0.6
    support_share: float = 0.1
    stack_factor: float = 0.85
    gap_colour: float = 2.5
    ground_far: float = 0.02
    ground_near: float = 0.8
    upright_min: float = 0.03
    contact_quantile: float = 0.97
    thin_fraction: float = 0.5
    thin_radius: float = 0.02
    hang_fraction: float = 0.25
    cloud_hang: float = 0.6
    cloud_lightness: float = 60.0
    cloud_chroma: float = 25.0
    refine_radius: float = 0.004
    refine_eps: float = 1e-4

    def __post_init__(self) -> None:
        if not (isinstance(self.max_side, int) and self.max_side >= 32):
            raise InputError("PopupSettings.max_side", "an integer >= 32", self.max_side)
        if not (isinstance(self.grid, int) and self.grid >= 4):
            raise InputError("PopupSettings.grid", "an integer >= 4", self.grid)
        if not (0 <= self.horizon_min <= self.horizon_default <= self.horizon_max <= 1):
            raise InputError(
                "PopupSettings.horizon_*",
                "0 <= horizon_min <= horizon_default <= horizon_max <= 1",
                (self.horizon_min, self.horizon_default, self.horizon_max),
            )
        if not (0 <= self.ground_far < self.ground_near <= 1):
            raise InputError(
                "PopupSettings.ground_far/near", "0 <= far < near <= 1", (self.ground_far, self.ground_near)
            )


@dataclass(frozen=True)
class PopupResult:
    """Output of :func:`popup_disparity`.

    Attributes:
        disparity: ``(H, W)`` float32 relative disparity in [0, 1] (0 sky, 1 nearest).
        kind: ``(H, W)`` uint8 per pixel: 0 sky, 1 ground, 2 upright, 3 overhanging occluder.
        regions: ``(H, W)`` int32 region ids (at the input size).
        horizon: horizon row in pixels of the input image.
    """

    disparity: np.ndarray
    kind: np.ndarray
    regions: np.ndarray
    horizon: float


def _find(parent: np.ndarray, i: int) -> int:
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:
        parent[i], i = root, parent[i]
    return root


def superpixel_regions(
    rgb: np.ndarray, grid: int = 48, merge_k: float = 0.04, min_region: float = 0.0005
) -> np.ndarray:
    """Regions of an ``(H, W, 3)`` uint8 RGB image: watershed superpixels merged by colour.

    Args:
        rgb: ``(H, W, 3)`` uint8.
        grid: seeds per longer side.
        merge_k: Felzenszwalb-Huttenlocher constant on the superpixel graph (Lab units times a
            share of the image, so the result does not depend on the resolution).
        min_region: regions smaller than this fraction of the image merge into their most similar
            neighbour.

    Returns:
        ``(H, W)`` int32 labels ``0..R-1``.
    """
    h, w = rgb.shape[:2]
    step = max(2.0, max(h, w) / grid)
    markers = np.zeros((h, w), np.int32)
    ys = np.arange(step / 2, h, step).astype(int)
    xs = np.arange(step / 2, w, step).astype(int)
    n = 0
    for y in ys:
        for x in xs:
            n += 1
            markers[y, x] = n
    smooth = cv2.GaussianBlur(rgb, (0, 0), 1.0)
    cv2.watershed(cv2.cvtColor(smooth, cv2.COLOR_RGB2BGR), markers)
    # watershed lines (-1) take the label of a neighbour
    lab_img = cv2.cvtColor(smooth.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab).reshape(-1, 3)
    m = markers.copy()
    for _ in range(3):
        bad = m <= 0
        if not bad.any():
            break
        grown = cv2.dilate(np.where(bad, 0, m).astype(np.float32), np.ones((3, 3), np.uint8)).astype(np.int32)
        m[bad] = grown[bad]
    m[m <= 0] = 1
    lab_ids = m.reshape(-1) - 1
    count = np.bincount(lab_ids, minlength=n).astype(np.float64)
    mean = (
        np.stack([np.bincount(lab_ids, lab_img[:, c], minlength=n) for c in range(3)], 1)
        / np.maximum(count, 1)[:, None]
    )
    # adjacency of superpixels
    a = np.concatenate([m[:, :-1].ravel(), m[:-1, :].ravel()]) - 1
    b = np.concatenate([m[:, 1:].ravel(), m[1:, :].ravel()]) - 1
    diff = a != b
    pairs = np.unique(np.sort(np.stack([a[diff], b[diff]], 1), axis=1), axis=0)
    wts = np.linalg.norm(mean[pairs[:, 0]] - mean[pairs[:, 1]], axis=1)
    order = np.argsort(wts, kind="stable")
    parent = np.arange(n)
    size = count.copy()
    inner = np.zeros(n)
    csum = mean * count[:, None]
    for e in order:
        i, j = _find(parent, int(pairs[e, 0])), _find(parent, int(pairs[e, 1]))
        if i == j:
            continue
        # merge weight between the current regions' mean colours (not the superpixels')
        wij = float(np.linalg.norm(csum[i] / max(size[i], 1) - csum[j] / max(size[j], 1)))
        fi, fj = max(size[i], 1) / (h * w), max(size[j], 1) / (h * w)
        if wij <= min(inner[i] + merge_k / fi, inner[j] + merge_k / fj):
            parent[j] = i
            size[i] += size[j]
            csum[i] += csum[j]
            inner[i] = max(inner[i], inner[j], wij)
    roots = np.array([_find(parent, i) for i in range(n)])
    # small regions merge into the most similar neighbour
    limit = min_region * h * w
    for _ in range(4):
        changed = False
        for e in order:
            i, j = roots[pairs[e, 0]], roots[pairs[e, 1]]
            if i == j:
                continue
            small = i if size[i] < limit else (j if size[j] < limit else None)
            if small is None:
                continue
            big = j if small == i else i
            roots[roots == small] = big
            size[big] += size[small]
            csum[big] += csum[small]
            size[small] = 0
            changed = True
        if not changed:
            break
    _, dense = np.unique(roots, return_inverse=True)
    return dense[m - 1].astype(np.int32)


def _below(labels: np.ndarray, r: int, gap: int = 1) -> np.ndarray:
    """Flat indices of the pixels ``gap`` rows below region ``r``'s lowest pixel in each of its
    columns (columns where that falls outside the image are left out)."""
    h, w = labels.shape
    ys, xs = np.nonzero(labels == r)
    low = np.full(w, -1)
    np.maximum.at(low, xs, ys)
    cx = np.flatnonzero((low >= 0) & (low < h - gap))
    return (low[cx] + gap) * w + cx


def _guided(guide: np.ndarray, src: np.ndarray, r: int, eps: float) -> np.ndarray:
    """He et al.'s guided filter with a colour guide ``(H, W, 3)`` of ``src (H, W)``."""
    k = (2 * r + 1, 2 * r + 1)
    box = lambda x: cv2.blur(x, k, borderType=cv2.BORDER_REFLECT)  # noqa: E731
    gd = guide.astype(np.float32)
    p = src.astype(np.float32)
    mg = box(gd)
    mp = box(p)
    cov = box(gd * p[..., None]) - mg * mp[..., None]
    var = np.empty(gd.shape[:2] + (3, 3), np.float32)
    for i in range(3):
        for j in range(i, 3):
            v = box(gd[..., i] * gd[..., j]) - mg[..., i] * mg[..., j]
            var[..., i, j] = var[..., j, i] = v
    var += eps * np.eye(3, dtype=np.float32)
    a = np.linalg.solve(var, cov[..., None])[..., 0]
    b = mp - (a * mg).sum(-1)
    return (box(a) * gd).sum(-1) + box(b)


def popup_disparity(image: torch.Tensor, settings: PopupSettings | None = None) -> PopupResult:
    """Photo pop-up relative disparity of a landscape photo (rules in the module docstring).

    Args:
        image: ``(3, H, W)`` float RGB in [0, 1].
        settings: :class:`PopupSettings`.

    Returns:
        :class:`PopupResult` at the input size.

    Example:
        >>> img = torch.zeros(3, 48, 64); img[2, :20] = 0.9; img[1, 20:] = 0.5
        >>> popup_disparity(img).disparity.shape
        (48, 64)
    """
    from ..controls.sky import detect_sky, sky_candidates, sky_coloured

    s = settings or PopupSettings()
    if (
        not isinstance(image, torch.Tensor)
        or image.dim() != 3
        or image.shape[0] != 3
        or min(image.shape[1:]) < 8
    ):
        found = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise InputError("image", "a (3, H, W) float tensor in [0, 1], H, W >= 8", found)
    H0, W0 = image.shape[1:]
    img = image.detach().cpu().float().clamp(0, 1)
    scale = min(1.0, s.max_side / max(H0, W0))
    if scale < 1.0:
        img = torch.nn.functional.interpolate(
            img[None], scale_factor=scale, mode="area", recompute_scale_factor=False
        )[0]
    _, h, w = img.shape
    d = float(max(h, w))
    rgb = np.ascontiguousarray((img.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8))
    yy = np.arange(h, dtype=np.float32)[:, None] + 0.5

    sky = detect_sky(img).mask.numpy()
    cand = sky_candidates(img)
    cols = sky.any(axis=0)
    if cols.mean() >= 0.3:
        lowest = h - 1 - np.argmax(sky[::-1], axis=0)
        y_h = float(np.quantile(lowest[cols], s.horizon_quantile)) + 1.0
        y_h = min(max(y_h, s.horizon_min * h), s.horizon_max * h)
    else:
        y_h = s.horizon_default * h

    labels = superpixel_regions(rgb, s.grid, s.merge_k, s.min_region)
    R = int(labels.max()) + 1
    flat = labels.ravel()
    cnt = np.bincount(flat, minlength=R).astype(np.float64)
    grey = cv2.GaussianBlur(rgb.mean(axis=2).astype(np.float32) / 255.0, (0, 0), 1.0)
    gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    # gradients across region boundaries are outlines, not texture
    inner = (labels == cv2.erode(labels.astype(np.float32), np.ones((3, 3), np.uint8)).astype(np.int32)) & (
        labels == cv2.dilate(labels.astype(np.float32), np.ones((3, 3), np.uint8)).astype(np.int32)
    )
    wi = inner.ravel().astype(np.float64)
    ex = np.bincount(flat, (gx.ravel() ** 2) * wi, minlength=R)
    ey = np.bincount(flat, (gy.ravel() ** 2) * wi, minlength=R)
    ni = np.bincount(flat, wi, minlength=R)
    tex = np.sqrt((ex + ey) / np.maximum(ni, 1))
    aniso = ey / np.maximum(ex + ey, 1e-12)
    sky_share = np.bincount(flat, sky.ravel().astype(np.float64), minlength=R) / np.maximum(cnt, 1)
    cand_share = np.bincount(flat, cand.ravel().astype(np.float64), minlength=R) / np.maximum(cnt, 1)
    rows = np.broadcast_to(yy, (h, w)).ravel()
    top = np.full(R, np.inf)
    np.minimum.at(top, flat, rows)
    bottom = np.full(R, -np.inf)
    np.maximum.at(bottom, flat, rows)

    kind = np.full(R, GROUND, np.int64)
    margin = s.horizon_margin * h
    for r in range(R):
        if sky_share[r] > 0.5 or (cand_share[r] > 0.8 and bottom[r] < y_h):
            kind[r] = SKY
        elif top[r] < y_h - margin:
            kind[r] = UPRIGHT
        elif tex[r] >= s.min_texture and aniso[r] < s.upright_anisotropy:
            kind[r] = UPRIGHT
    # a ground region mostly bordered by upright regions is a piece of them (its texture test
    # failed): it stands upright too
    a = np.concatenate([labels[:, :-1].ravel(), labels[:-1, :].ravel()])
    b = np.concatenate([labels[:, 1:].ravel(), labels[1:, :].ravel()])
    cut = a != b
    a, b = a[cut], b[cut]
    for _ in range(3):
        nb_up = np.bincount(a, kind[b] == UPRIGHT, minlength=R) + np.bincount(
            b, kind[a] == UPRIGHT, minlength=R
        )
        nb_all = np.bincount(a, minlength=R) + np.bincount(b, minlength=R)
        flip = (kind == GROUND) & (nb_up >= s.enclosed_fraction * np.maximum(nb_all, 1)) & (nb_all > 0)
        if not flip.any():
            break
        kind[flip] = UPRIGHT
    kind_px = kind[labels]
    kind_px[sky] = SKY

    def ground(y):
        t = np.clip((y + 0.5 - y_h) / max(h - y_h, 1.0), 0.0, 1.0)
        return s.ground_far + (s.ground_near - s.ground_far) * t

    # thin occluders reaching in from the frame border, above the horizon
    near_sky = cv2.dilate(sky.astype(np.uint8), cv2.getStructuringElement(
        cv2.MORPH_ELLIPSE, (2 * max(1, round(s.thin_radius * d)) + 1,) * 2)) > 0  # fmt: skip
    ns_share = np.bincount(flat, near_sky.ravel().astype(np.float64), minlength=R) / np.maximum(cnt, 1)
    lab_px = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab).reshape(-1, 3)
    mean_lab = (
        np.stack([np.bincount(flat, lab_px[:, c], minlength=R) for c in range(3)], 1)
        / np.maximum(cnt, 1)[:, None]
    )
    # clouds: light grey regions above the horizon floating in the sky belong to the sky
    if sky.sum() >= 10:
        gap = max(2, round(0.01 * d))
        for r in range(R):
            if kind[r] != UPRIGHT or bottom[r] >= y_h - margin:
                continue
            light = mean_lab[r, 0] >= s.cloud_lightness and np.hypot(*mean_lab[r, 1:]) <= s.cloud_chroma
            if not light:
                continue
            below = _below(labels, r, gap)
            if below.size and (sky.ravel()[below]).mean() >= s.cloud_hang:
                kind[r] = SKY
    border = np.zeros((h, w), bool)
    border[0, :] = border[:, 0] = border[:, -1] = True
    touches = np.bincount(flat, border.ravel().astype(np.float64), minlength=R) > 0
    for r in range(R):
        if kind[r] == UPRIGHT and bottom[r] < y_h and touches[r] and ns_share[r] >= s.thin_fraction:
            # it hangs in the sky: under most of its lowest pixels there is sky
            below = _below(labels, r, max(2, round(0.01 * d)))  # past its antialiased fringe
            if below.size and (sky.ravel()[below]).mean() >= s.hang_fraction:
                kind[r] = BRANCH
    kind_px = kind[labels]
    kind_px[sky] = SKY
    rows_px = np.broadcast_to(yy, (h, w))
    # a region mostly of sky that reaches below the horizon holds water there
    kind_px[(kind_px == SKY) & ~sky & (rows_px >= y_h)] = GROUND
    # gaps between leaves: pixels of upright regions above the horizon with the sky's colour
    if sky.sum() >= 10:
        px = rgb.reshape(-1, 3).astype(np.float64) / 255.0
        ref = px[sky.ravel()]
        inv = np.linalg.inv(np.cov(ref.T) + (0.02**2) * np.eye(3))
        dv = px - ref.mean(0)
        close = (np.sqrt(np.einsum("ij,jk,ik->i", dv, inv, dv)) <= s.gap_colour).reshape(h, w)
        close &= sky_coloured(img)
        kind_px[close & ((kind_px == UPRIGHT) | (kind_px == BRANCH)) & (rows_px < y_h)] = SKY

    disp_r = np.zeros(R)
    disp_r[kind == BRANCH] = 1.0
    # upright regions bottom up; what lies right below each region's lowest pixel per column
    # is what it rests on: the nearest of those supports (the ground at the contact row, or
    # another upright region, just behind which it is placed)
    for r in sorted(np.flatnonzero(kind == UPRIGHT), key=lambda r: -bottom[r]):
        ys, xs = np.nonzero(labels == r)
        low = np.full(w, -1)
        np.maximum.at(low, xs, ys)
        cx = np.flatnonzero(low >= 0)
        ly = low[cx]
        contact = float(np.quantile(ys, s.contact_quantile))
        inside = ly < h - 1
        bk = kind_px[np.minimum(ly + 1, h - 1), cx][inside]
        bl = labels[np.minimum(ly + 1, h - 1), cx][inside]
        n_rest = max(1, int((bk != SKY).sum()) + int((~inside).sum()))
        cands = []
        if ((bk == GROUND).sum() + (~inside).sum()) >= s.support_share * n_rest or (bk != SKY).sum() == 0:
            cands.append(ground(contact))
        up = bl[bk == UPRIGHT]
        if up.size:
            ids, cnts = np.unique(up, return_counts=True)
            for i, c in zip(ids, cnts):
                if c >= s.support_share * n_rest and i != r:
                    same = np.linalg.norm(mean_lab[i] - mean_lab[r]) <= s.same_object
                    cands.append((1.0 if same else s.stack_factor) * disp_r[i])
        disp_r[r] = max(max(cands) if cands else ground(contact), s.upright_min)
    disp = disp_r[labels].astype(np.float32)
    gmask = kind_px == GROUND
    disp[gmask] = ground(np.broadcast_to(yy, (h, w)))[gmask]
    disp[kind_px == SKY] = 0.0
    rad = max(1, round(s.refine_radius * d))
    disp = np.clip(_guided(rgb.astype(np.float32) / 255.0, disp, rad, s.refine_eps), 0.0, 1.0)
    if scale < 1.0:
        disp = cv2.resize(disp, (W0, H0), interpolation=cv2.INTER_LINEAR)
        kind_px = cv2.resize(kind_px.astype(np.uint8), (W0, H0), interpolation=cv2.INTER_NEAREST)
        labels = cv2.resize(labels, (W0, H0), interpolation=cv2.INTER_NEAREST)
        y_h = y_h / scale
    return PopupResult(disp.astype(np.float32), kind_px.astype(np.uint8), labels.astype(np.int32), float(y_h))
