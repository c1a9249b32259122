"""Depth edges snapped to the photo's edges: no "flying pixels" between a near and a far surface.

Estimated depth (the pop-up depth after its guided filter and upsampling, a network's output) is
soft at occlusion edges: between an object at disparity 0.8 and the sky at 0 lie a few pixels at
0.6, 0.4, 0.2. Each of them is a point floating between the two surfaces; when the camera moves
they spread across the gap that opens there and draw streaks and dot combs from the object into
the background. :func:`sharpen_depth_edges` gives each pixel near a large disparity jump the
*joint-bilateral weighted median* of the disparities around it (weights: colour similarity to the
pixel and distance), so every pixel takes the disparity of the surface whose colour it has and the
step lands on the colour edge. A weighted median of a smooth ramp is the ramp (a slanted ground
keeps its gradient), and pixels away from jumps are returned unchanged bit for bit.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..errors import InputError
from ..ops import check_shape

__all__ = ["sharpen_depth_edges", "flying_pixels"]


def _window_max(d: torch.Tensor, r: int) -> torch.Tensor:
    """``(1, 1, H, W)`` maximum of ``d`` ``(1, 1, H, W)`` over the ``(2r+1)²`` window around each
    pixel (inside the image). On the CPU a grey dilation with a square kernel (OpenCV's, outside
    the image ``-inf``: the same values as ``max_pool2d``; the depth-edge sharpening at 1280×720
    69 → 34 ms, ``benchmarks/bench_passes.py``);
    elsewhere, and for inputs holding a NaN (which ``max_pool2d`` spreads over its window) or
    needing gradients, the row maxima's column maxima."""
    cpu = d.device.type == "cpu" and d.dtype in (torch.float32, torch.float64) and not d.requires_grad
    if cpu and not bool(torch.isnan(d).any()):  # max_pool2d spreads a NaN; a dilation does not
        import cv2
        import numpy as np

        k = np.ones((2 * r + 1, 2 * r + 1), np.uint8)
        a = d[0, 0].contiguous().numpy()
        out = cv2.dilate(a, k, borderType=cv2.BORDER_CONSTANT, borderValue=-np.inf)
        return torch.from_numpy(out)[None, None]
    rows = F.max_pool2d(d, (1, 2 * r + 1), 1, (0, r))
    return F.max_pool2d(rows, (2 * r + 1, 1), 1, (r, 0))


def _jump_zone(disp: torch.Tensor, r: int, jump: float) -> torch.Tensor:
    """``(H, W)`` bool: pixels whose ``(2r+1)²`` window holds a disparity ratio above ``1 + jump``
    and an absolute step above 5 % of the map's range (a smaller step barely moves in parallax:
    its floating pixels do not show)."""
    d = disp[None, None]
    hi = _window_max(d, r)[0, 0]
    lo = -_window_max(-d, r)[0, 0]
    span = float(disp.max() - disp.min())
    return (hi > lo * (1.0 + jump)) & (hi - lo > 0.05 * span)


def flying_pixels(
    disp: torch.Tensor, radius: int = 3, jump: float = 0.5, share: float = 0.15
) -> torch.Tensor:
    """``(H, W)`` bool: pixels floating between two surfaces at a disparity jump.

    A pixel is flying when its ``(2·radius+1)²`` window spans a disparity ratio above ``1 + jump``
    and its own disparity lies more than ``share`` of that window's range away from both the
    window's smallest and largest disparity (it belongs to neither side).

    Args:
        disp: ``(H, W)`` disparity (any positive scale, larger = nearer).
        radius: window radius, pixels.
        jump: relative disparity jump that counts as an occlusion edge.
        share: fraction of the window's range a pixel must keep from both ends.
    """
    check_shape(disp, ("H", "W"), "disparity")
    d = disp[None, None].float()
    hi = _window_max(d, radius)[0, 0]
    lo = -_window_max(-d, radius)[0, 0]
    rng = hi - lo
    x = d[0, 0]
    zone = (hi > lo * (1.0 + jump)) & (rng > 0)
    return zone & (x - lo > share * rng) & (hi - x > share * rng)


def sharpen_depth_edges(
    disp: torch.Tensor,
    image: torch.Tensor,
    radius: int | None = None,
    jump: float = 0.3,
    keep: float = 0.35,
    min_contrast: float = 0.05,
    tight: float = 0.1,
    iterations: int = 2,
    chunk: int = 16384,
) -> torch.Tensor:
    """Snap the disparity steps of ``disp`` to the edges of ``image`` (module docstring).

    For each pixel ``p`` whose ``(2r+1)²`` window spans a disparity ratio above ``1 + jump``, the
    window is split at the middle disparity ``m = (lo + hi) / 2`` into a near side (``d >= m``)
    and a far side, each with its median disparity and its mean colour (weights
    ``exp(−|q − p|² / (2 (r/2)²))``). Where the two sides differ in colour (the squared distance of
    their mean colours at least ``3·min_contrast²`` and at least the sum of their colour
    variances: texture is no edge), the pixel's target is the median disparity of the window's
    pixels of its own colour (those nearer to the same side's mean colour), and it is kept as it
    is when within ``tight·(hi − lo)`` of it; elsewhere the target is the median of the side its
    disparity puts it on, with ``keep·(hi − lo)``. Otherwise it takes the target: a pixel floating
    between two surfaces, or on the wrong side of a colour edge, joins the surface of its colour,
    while a sharp step stays bit for bit and a slanted side keeps its slope. Repeated
    ``iterations`` times; deterministic.

    Args:
        disp: ``(H, W)`` disparity (larger = nearer, any positive scale).
        image: ``(3, H, W)`` RGB in [0, 1] of the same size.
        radius: window radius in pixels (default ``max(2, round(0.004·D))``, ``D = max(H, W)``:
            5 px at 1280).
        jump: relative disparity ratio above which a window holds an occlusion edge.
        keep: share of the window's range within which a pixel counts as on its side (a linear
            ramp has every pixel at a quarter of the range from its half's median, a third next to the
            image border where the window is cut, so 0.35 keeps slanted surfaces as they are).
        min_contrast: RMS colour difference (RGB units) between the two sides' mean colours
            below which a window holds no colour edge.
        tight: tolerance (share of the window's range) at a colour edge.
        iterations: passes (the second settles pixels the first moved next to a new step).
        chunk: pixels per batch (memory: about ``chunk · n · 24`` bytes, ``n`` samples per window:
            ``(2r+1)²``, every other pixel when ``r >= 4``, every ``ceil(r/5)``-th when
            ``r > 10``: at most 121).

    Returns:
        ``(H, W)`` disparity, same dtype and device as ``disp``.

    Example:
        >>> img = torch.zeros(3, 8, 16); img[:, :, 8:] = 1.0
        >>> d = torch.ones(8, 16); d[:, 8:] = 0.1; d[:, 7:9] = 0.5   # a soft step, 2 px wide
        >>> out = sharpen_depth_edges(d, img, radius=3)
        >>> [round(v, 3) for v in out[0, 5:11].tolist()]
        [1.0, 1.0, 1.0, 0.1, 0.1, 0.1]
    """
    check_shape(disp, ("H", "W"), "disparity")
    H, W = disp.shape
    check_shape(image, (3, H, W), "image")
    if not (jump > 0 and math.isfinite(jump)):
        raise InputError("jump", "a finite number > 0", jump)
    for name, v in (("keep", keep), ("tight", tight)):
        if not (0 < v < 0.5):
            raise InputError(name, "a number in (0, 0.5)", v)
    if not (min_contrast >= 0 and math.isfinite(min_contrast)):
        raise InputError("min_contrast", "a finite number >= 0", min_contrast)
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise InputError("iterations", "an integer >= 1", iterations)
    r = max(2, round(0.004 * max(H, W))) if radius is None else int(radius)
    if r < 1:
        raise InputError("radius", "an integer >= 1", radius)
    out = disp.clone()
    img = image.to(dtype=torch.float32, device=disp.device)
    # windows wider than 7 px are sampled every other pixel, wider than 21 px every ceil(r / 5)-th,
    # so that no window takes more than 11 × 11 samples (the sides' medians and mean colours need
    # no more, and the work per pixel stays the same at any photo size: r grows with it; sparser
    # sampling, every r / 4-th pixel, left pixels between the sides of a smeared step at r = 15)
    step = 1 if r < 4 else max(2, math.ceil(r / 5))
    ar = torch.arange(-(r // step) * step, r + 1, step, device=disp.device)
    dy, dx = torch.meshgrid(ar, ar, indexing="ij")
    spatial = torch.exp(-(dx.float() ** 2 + dy.float() ** 2) / (2 * (r / 2) ** 2)).reshape(-1)
    Wp = W + 2 * r
    offs = (dy * Wp + dx).reshape(-1)
    img_p = F.pad(img[None], (r, r, r, r), mode="replicate")[0].reshape(3, -1)
    nan = float("nan")
    for _ in range(iterations):
        zone = _jump_zone(out.float(), r, jump)
        idx = zone.reshape(-1).nonzero().squeeze(1)
        if idx.numel() == 0:
            break
        # outside the image: NaN disparity (not part of either side)
        d_p = F.pad(out[None, None].float(), (r, r, r, r), value=nan)[0, 0].reshape(-1)
        new = out.reshape(-1).clone()
        changed = False
        for s in range(0, idx.numel(), chunk):
            ii = idx[s : s + chunk]
            centre = (ii // W + r) * Wp + (ii % W + r)
            nb = centre[:, None] + offs[None, :]  # (n, k²) flat indices into the padded maps
            vals = d_p[nb]
            inside = ~vals.isnan()
            inf = torch.full_like(vals, math.inf)
            lo = torch.where(inside, vals, inf).amin(1, keepdim=True)
            hi = torch.where(inside, vals, -inf).amax(1, keepdim=True)
            near = inside & (vals >= 0.5 * (lo + hi))
            far = inside & ~near
            med_n = torch.where(near, vals, nan).nanmedian(1).values
            med_f = torch.where(far, vals, nan).nanmedian(1).values
            cols = img_p[:, nb]  # (3, n, k²)
            wn = spatial[None, :] * near
            wf = spatial[None, :] * far
            mean_n = (cols * wn).sum(2) / wn.sum(1).clamp(min=1e-12)
            mean_f = (cols * wf).sum(2) / wf.sum(1).clamp(min=1e-12)
            # squared colour distance of every window pixel to each side's mean colour
            to_n = (cols - mean_n[:, :, None]).pow(2).sum(0)
            to_f = (cols - mean_f[:, :, None]).pow(2).sum(0)
            var_n = (to_n * wn).sum(1) / wn.sum(1).clamp(min=1e-12)
            var_f = (to_f * wf).sum(1) / wf.sum(1).clamp(min=1e-12)
            c = img_p[:, centre]
            dist_n, dist_f = (c - mean_n).pow(2).sum(0), (c - mean_f).pow(2).sum(0)
            own = d_p[centre]
            in_near = own >= 0.5 * (lo + hi).squeeze(1)
            # the sides differ in colour: beyond min_contrast and beyond their own texture
            sep = (mean_n - mean_f).pow(2).sum(0)
            edge = (sep >= 3 * min_contrast**2) & (sep >= var_n + var_f)
            # At a colour edge every pixel takes the median disparity of the window's pixels of
            # its own colour (nearer to the near or to the far side's mean colour).
            like_n = to_n < to_f
            med_cn = torch.where(inside & like_n, vals, nan).nanmedian(1).values
            med_cf = torch.where(inside & ~like_n, vals, nan).nanmedian(1).values
            colour_side = torch.where(dist_n < dist_f, med_cn, med_cf)
            # Elsewhere a pixel keeps the side its disparity puts it on.
            target = torch.where(edge & ~colour_side.isnan(), colour_side, torch.where(in_near, med_n, med_f))
            tol = torch.where(edge, tight, keep) * (hi - lo).squeeze(1)
            ok = (own - target).abs() <= tol
            if not bool(ok.all()):
                changed = True
                new[ii] = torch.where(ok, own, target).to(new.dtype)
        out = new.reshape(H, W)
        if not changed:
            break
    return out
