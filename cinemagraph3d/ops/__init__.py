"""Shared low-level numeric helpers of the stages: shape checks, box filters, push–pull,
disparity normalisation and the two-way fusion weights.

Every stage may import this package; it imports only :mod:`cinemagraph3d.errors` and torch
(no stage, no file access), so each formula here exists once in the code base.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ..errors import ShapeError

__all__ = [
    "ShapeError",
    "check_shape",
    "box_sum",
    "box3_sum",
    "box_mean",
    "push_pull",
    "normalised_disparity",
    "surface_weight",
    "fusion_weights",
]


def check_shape(x, shape: Sequence[int | str | None], name: str, dims: dict | None = None) -> dict:
    """Check that ``x`` is a tensor of the given shape; returns the named sizes.

    Each entry of ``shape`` is an int (that exact size), ``None`` (any size) or a name such as
    ``"H"``: a name takes the size it first meets (in ``dims`` when given, e.g. from an earlier
    call), and must then match every time.

    Example:
        >>> import torch
        >>> check_shape(torch.zeros(3, 4, 5), (3, "H", "W"), "image")
        {'H': 4, 'W': 5}
        >>> check_shape(torch.zeros(2, 4, 5), (3, "H", "W"), "image")
        Traceback (most recent call last):
        ...
        cinemagraph3d.errors.ShapeError: image: expected shape (3, H, W), found (2, 4, 5)

    Raises:
        ShapeError: naming ``name``, the expected and the found shape.
    """
    given = {} if dims is None else dict(dims)
    dims = dict(given)
    want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
    if not isinstance(x, torch.Tensor):
        raise ShapeError(name, f"a tensor of shape {want}", type(x).__name__)
    found = tuple(x.shape)
    ok = len(found) == len(shape)
    for size, spec in zip(found, shape) if ok else ():
        if isinstance(spec, str):
            if dims.setdefault(spec, size) != size:
                ok = False
        elif spec is not None and spec != size:
            ok = False
    if not ok:
        named = {k: v for k, v in given.items() if any(k == s for s in shape)}
        hint = f" with {', '.join(f'{k}={v}' for k, v in named.items())}" if named else ""
        raise ShapeError(name, f"shape {want}{hint}", found)
    return {k: v for k, v in dims.items() if k in shape}


def box_sum(x: torch.Tensor, r: int) -> torch.Tensor:
    """Box sum over ``(2r+1)²`` pixels of a ``(C, H, W)`` map (zero outside the image), by
    running sums along each axis (cost independent of ``r``)."""
    k = 2 * r + 1
    p = F.pad(x, (r + 1, r, 0, 0)).cumsum(2)
    x = p[:, :, k:] - p[:, :, :-k]
    p = F.pad(x, (0, 0, r + 1, r)).cumsum(1)
    return p[:, k:] - p[:, :-k]


def box3_sum(x: torch.Tensor) -> torch.Tensor:
    """3×3 box sums of a ``(C, H, W)`` map (zero outside the image), separable, by adds only
    (exact for small ``r``, unlike the running sums of :func:`box_sum`)."""
    p = F.pad(x, (1, 1, 1, 1))
    h = p[:, :, :-2] + p[:, :, 1:-1]
    h += p[:, :, 2:]
    v = h[:, :-2] + h[:, 1:-1]
    v += h[:, 2:]
    return v


def box_mean(x: torch.Tensor, r: int) -> torch.Tensor:
    """Mean over a ``(2r+1)²`` window with replicated borders of a ``(1, H, W)`` map (float32,
    computed by OpenCV on the CPU and returned on ``x``'s device)."""
    import cv2
    import numpy as np

    k = 2 * r + 1
    out = cv2.blur(x[0].detach().cpu().numpy().astype(np.float32), (k, k), borderType=cv2.BORDER_REPLICATE)
    return torch.from_numpy(out)[None].to(x.device)


def _pull(x: torch.Tensor, C: int, levels: int | None = None) -> torch.Tensor:
    """Push–pull on a premultiplied ``(1, C + 1, H, W)`` tensor ``[v·w, w]`` → ``(1, C, H, W)``
    (``levels``: coarser levels at most; default down to one pixel)."""
    pyramid = [x]
    while min(x.shape[-2:]) > 1 and (levels is None or len(pyramid) <= levels):
        x = F.avg_pool2d(x, 2, ceil_mode=True)
        pyramid.append(x)
    out = None
    for x in reversed(pyramid):
        v, w = x[:, :C], x[:, C:]
        cur = v / w.clamp(min=1e-12)
        if out is None:
            out = torch.where(w > 0, cur, torch.zeros_like(cur))
            continue
        up = F.interpolate(out, size=v.shape[-2:], mode="bilinear", align_corners=False)
        out = torch.where(w >= 1, cur, torch.lerp(up, cur, w.clamp(max=1.0)))
    return out


def push_pull(
    values: torch.Tensor, weight: torch.Tensor, premultiplied: bool = False, levels: int | None = None
) -> torch.Tensor:
    """Fill a weighted image from its valid pixels with a push–pull pyramid.

    Push: ``(v·w, w)`` are average-pooled 2×2 down to 1 pixel. Pull: from the coarsest level up,
    ``out_l = min(w_l, 1)·(v_l / w_l) + (1 - min(w_l, 1))·upsample(out_{l+1})``. Pixels with
    ``w >= 1`` keep their value exactly; holes get a smooth blend of the nearest valid values.

    Args:
        values: ``(C, H, W)`` (``v·w`` when ``premultiplied``).
        weight: ``(1, H, W)`` non-negative confidence (alpha, or a 0/1 validity mask).
        premultiplied: ``values`` already holds ``v·w`` (e.g. a pooled level).
        levels: number of coarser levels (default: down to one pixel); fewer levels fill only
            holes up to about ``2**levels`` pixels from valid ones (0 farther).

    Returns:
        ``(C, H, W)`` filled values (zeros if no pixel is valid).

    Example:
        >>> import torch
        >>> v = torch.tensor([[[1.0, 3.0], [5.0, 0.0]]])
        >>> w = torch.tensor([[[1.0, 1.0], [1.0, 0.0]]])
        >>> push_pull(v, w)[0].tolist()  # the hole gets the mean of the three valid pixels
        [[1.0, 3.0], [5.0, 3.0]]
    """
    C = check_shape(values, ("C", "H", "W"), "values")["C"]
    check_shape(weight, (1, values.shape[1], values.shape[2]), "weight")
    w0 = weight.to(values.dtype)
    v = values if premultiplied else values * w0
    return _pull(torch.cat([v, w0], 0)[None], C, levels)[0]


def normalised_disparity(depth: torch.Tensor, lo: float, hi: float) -> torch.Tensor:
    """``(1/D − lo) / (hi − lo)`` where ``D > 0``, 0 elsewhere (nothing landed), any shape.

    The one disparity normalisation of the renderer: with ``lo = 0, hi = 1/z_ref`` it is
    ``z_ref / D`` (about 1 at the nearest surface when ``z_ref`` is the near depth: the classic
    fusion and the hole filling); with ``(lo, hi)`` the scene's inverse-depth range it is the
    min–max disparity in [0, 1] the neural decoder was trained on. With ``lo = 0`` it is computed
    as ``(1/hi) / D`` (the same value with one rounding instead of two).
    """
    if lo == 0:
        return torch.where(depth > 0, (1.0 / hi) / depth.clamp(min=1e-12), torch.zeros_like(depth))
    inv = 1.0 / depth.clamp(min=1e-12)
    return torch.where(depth > 0, (inv - lo) / max(hi - lo, 1e-12), torch.zeros_like(depth))


def surface_weight(alpha: torch.Tensor, disp: torch.Tensor, a: float | torch.Tensor) -> torch.Tensor:
    """``α·exp(a·disp)``: how much a splat's surface counts in the fusion (coverage ``α``,
    normalised disparity ``disp``; ``a > 0`` favours nearer surfaces). Shapes broadcast."""
    return alpha * torch.exp(a * disp)


def fusion_weights(
    s: float | torch.Tensor,
    alpha_f: torch.Tensor,
    disp_f: torch.Tensor,
    alpha_b: torch.Tensor,
    disp_b: torch.Tensor,
    a: float | torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The method's two-way fusion weights (unnormalised), one formula for the classic fusion
    and the learned decoder:

    ``w_f = (1 − s)·α_f·exp(a·disp_f)``, ``w_b = s·α_b·exp(a·disp_b)``

    with ``s`` the backward splat's time weight (``τ = t/N`` for the plain cross-fade; a float,
    a ``(B, 1, 1, 1)`` batch of them or a per-pixel map broadcasting with the alphas), alphas
    the splat coverages and ``disp`` normalised disparities (:func:`normalised_disparity`);
    ``a`` weighs nearer surfaces more. Divide by ``max(w_f + w_b, ε)`` to blend.
    """
    return (1.0 - s) * surface_weight(alpha_f, disp_f, a), s * surface_weight(alpha_b, disp_b, a)
