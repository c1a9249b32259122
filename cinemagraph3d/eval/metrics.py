"""Quality metrics of looping videos: fidelity, motion, smoothness, loop seam, stability, holes.

Conventions: frames are float tensors in [0, 1], a video is ``(K, 3, H, W)``, masks are bool
``(1, H, W)`` (one frame) or ``(K, 1, H, W)`` (one per frame or per frame pair). Consecutive pairs
are cyclic: pair ``k`` is frame ``k`` → frame ``(k + 1) mod K``, so pair ``K − 1`` crosses the loop
seam. Optical flow ``f`` on frame ``a`` maps to frame ``b``: pixel ``x`` of ``a`` shows the
material seen at ``x + f(x)`` in ``b`` (pixels). Averages over an empty mask are ``nan``.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..errors import BackendError, InputError

__all__ = [
    "psnr",
    "ssim",
    "ssim_map",
    "lpips_available",
    "lpips_distance",
    "optical_flow",
    "endpoint_error",
    "motion_epe",
    "warp",
    "warping_error",
    "frame_changes",
    "loop_seam_score",
    "static_stability",
    "hole_ratio",
]


def _video(x: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.dim() not in (3, 4) or x.shape[-3] != 3:
        raise InputError(name, "a (3, H, W) image or a (K, 3, H, W) video", tuple(getattr(x, "shape", ())))
    return (x[None] if x.dim() == 3 else x).double()


def _mask(mask: torch.Tensor | None, like: torch.Tensor, name: str = "mask") -> torch.Tensor:
    """Bool ``(K, 1, H, W)`` mask broadcast to ``like`` ``(K, C, H, W)``."""
    K, _, H, W = like.shape
    if mask is None:
        return torch.ones(K, 1, H, W, dtype=torch.bool)
    m = mask.bool()
    if m.dim() == 2:
        m = m[None, None]
    elif m.dim() == 3:
        m = m[None]
    if m.dim() != 4 or m.shape[1] != 1 or m.shape[-2:] != (H, W) or m.shape[0] not in (1, K):
        raise InputError(
            name, f"a bool mask (H, W), (1, H, W) or ({K}, 1, H, W) with H, W = {H}, {W}", tuple(mask.shape)
        )
    return m.expand(K, 1, H, W)


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> float:
    """Mean of ``values`` ``(K, C, H, W)`` over pixels where ``mask`` ``(K, 1, H, W)`` is set."""
    m = mask.to(values.dtype)
    n = float(m.sum()) * values.shape[1]
    return float((values * m).sum()) / n if n > 0 else math.nan


def _same_shape(a: torch.Tensor, b: torch.Tensor, names: str) -> None:
    if a.shape != b.shape:
        raise InputError(names, "two tensors of the same shape", f"{tuple(a.shape)} and {tuple(b.shape)}")


def psnr(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None, max_val: float = 1.0
) -> float:
    """Peak signal-to-noise ratio in dB, averaged over frames.

    Per frame, ``MSE = Σ_x m(x) Σ_c (p_c(x) − t_c(x))² / (C · Σ_x m(x))`` and
    ``PSNR = 10 log10(max_val² / MSE)`` (``inf`` when ``MSE = 0``); the result is the mean over
    frames whose mask is not empty (``inf`` if any such frame is exact, ``nan`` if none).

    Args:
        pred, target: ``(3, H, W)`` or ``(K, 3, H, W)`` in [0, ``max_val``].
        mask: optional bool mask of the pixels to score.
        max_val: peak value (1 for images in [0, 1]).

    Returns:
        PSNR in dB (higher is better).
    """
    p, t = _video(pred, "pred"), _video(target, "target")
    _same_shape(p, t, "pred/target")
    m = _mask(mask, p)
    vals = []
    for k in range(p.shape[0]):
        mse = _masked_mean((p[k : k + 1] - t[k : k + 1]) ** 2, m[k : k + 1])
        if math.isnan(mse):
            continue
        vals.append(math.inf if mse == 0 else 10.0 * math.log10(max_val**2 / mse))
    return float(np.mean(vals)) if vals else math.nan


def ssim_map(pred: torch.Tensor, target: torch.Tensor, window_size: int = 11) -> torch.Tensor:
    """Per-pixel SSIM (kornia, Gaussian window ``window_size``, σ = 1.5), ``(K, 3, H, W)``.

    ``SSIM(x) = (2 μ_p μ_t + C1)(2 σ_pt + C2) / ((μ_p² + μ_t² + C1)(σ_p² + σ_t² + C2))`` with
    local Gaussian-weighted statistics per channel, ``C1 = 0.01²``, ``C2 = 0.03²`` (images in
    [0, 1]); unitless, 1 where the images agree.
    """
    import kornia

    p, t = _video(pred, "pred"), _video(target, "target")
    _same_shape(p, t, "pred/target")
    return kornia.metrics.ssim(p.float(), t.float(), window_size, max_val=1.0).double()


def ssim(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None, window_size: int = 11
) -> float:
    """Structural similarity: :func:`ssim_map` averaged over the masked pixels and the channels of
    every frame. Unitless, 1 for identical images (higher is better).

    Args:
        pred, target: ``(3, H, W)`` or ``(K, 3, H, W)`` in [0, 1].
        mask: optional bool mask.
        window_size: odd Gaussian window size in pixels.
    """
    smap = ssim_map(pred, target, window_size)
    return _masked_mean(smap, _mask(mask, smap))


# --------------------------------------------------------------------------- LPIPS (optional)
def _alexnet_checkpoint() -> Path | None:
    hub = Path(torch.hub.get_dir()) / "checkpoints"
    found = sorted(hub.glob("alexnet-*.pth")) if hub.is_dir() else []
    return found[0] if found else None


def lpips_available() -> bool:
    """True when the ``lpips`` package and its AlexNet weights are present locally.

    Nothing is ever downloaded: the backbone weights must already be in
    ``torch.hub.get_dir()/checkpoints`` (``alexnet-*.pth``); the linear heads ship inside the
    ``lpips`` package.
    """
    import importlib.util

    return importlib.util.find_spec("lpips") is not None and _alexnet_checkpoint() is not None


_LPIPS_NETS: dict = {}


def _build_lpips(checkpoint: Path):
    """LPIPS network with a randomly initialised backbone, then the local AlexNet weights loaded
    into it (torchvision ``features.<i>`` → the LPIPS slice holding layer ``<i>``)."""
    import warnings

    import lpips

    with warnings.catch_warnings():  # torchvision's deprecation notes about `pretrained=False`
        warnings.simplefilter("ignore", UserWarning)
        net = lpips.LPIPS(net="alex", pretrained=True, pnet_rand=True, verbose=False).eval()
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    feats = {k[len("features.") :]: v for k, v in state.items() if k.startswith("features.")}
    own = net.net.state_dict()
    missing = [k for k in own if k.split(".", 1)[1] not in feats]
    if missing:
        raise BackendError(f"{checkpoint}: not an AlexNet checkpoint (missing {missing[:3]})")
    net.net.load_state_dict({k: feats[k.split(".", 1)[1]] for k in own})
    return net


def lpips_distance(pred: torch.Tensor, target: torch.Tensor) -> float:
    """LPIPS (Zhang et al. 2018, AlexNet backbone, ``lpips`` v0.1 linear heads) averaged over frames.

    For one frame pair ``x`` (prediction) and ``y`` (target), both scaled from [0, 1] to [-1, 1]::

        LPIPS(x, y) = Σ_l 1/(H_l W_l) Σ_{h,w} Σ_c w_{l,c} (x̂^l_{c,h,w} − ŷ^l_{c,h,w})²

    where ``l`` runs over the five AlexNet ReLU layers (relu1 … relu5), ``x̂^l = f^l(x) /
    ||f^l(x)||₂`` are the layer's activations normalised to unit length along the channels at
    each position, and ``w_{l,c} ≥ 0`` are the learned per-channel weights. The result is the mean
    over the ``K`` frames: ``(1/K) Σ_k LPIPS(pred_k, target_k)``.

    Units: none (a weighted squared distance between unit-normalised features); 0 for identical
    images, larger = more different perceptually (typically below 1). Lower is better.

    Args:
        pred, target: ``(3, H, W)`` or ``(K, 3, H, W)`` RGB in [0, 1], same shape.

    Returns:
        The frame-averaged LPIPS distance (a Python float).

    Raises:
        BackendError: the ``lpips`` package or the local AlexNet weights are missing (see
            :func:`lpips_available`); weights are never downloaded.
    """
    if not lpips_available():
        raise BackendError("LPIPS needs the 'lpips' package and local AlexNet weights (never downloaded)")
    p, t = _video(pred, "pred"), _video(target, "target")
    _same_shape(p, t, "pred/target")
    ckpt = _alexnet_checkpoint()
    if ckpt not in _LPIPS_NETS:
        _LPIPS_NETS[ckpt] = _build_lpips(ckpt)
    with torch.no_grad():
        d = _LPIPS_NETS[ckpt](p.float() * 2 - 1, t.float() * 2 - 1)
    return float(d.mean())


# --------------------------------------------------------------------------- motion
def _grey_u8(image: torch.Tensor) -> np.ndarray:
    x = image.detach().double().clamp(0, 1).cpu().numpy()
    g = 0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]
    return np.ascontiguousarray((g * 255.0 + 0.5).astype(np.uint8))


def optical_flow(frame_a: torch.Tensor, frame_b: torch.Tensor, method: str = "dis") -> torch.Tensor:
    """Dense optical flow from ``frame_a`` to ``frame_b`` measured by OpenCV.

    ``method="dis"``: DIS (Kroeger et al. 2016), ``MEDIUM`` preset with variational refinement;
    ``"farneback"``: Farnebäck polynomial expansion (pyramid 0.5, 4 levels, window 9). Frames are
    converted to 8-bit luma (BT.601) first.

    Args:
        frame_a, frame_b: ``(3, H, W)`` in [0, 1].
        method: ``"dis"`` or ``"farneback"``.

    Returns:
        ``(2, H, W)`` float32 flow ``(dx, dy)`` in pixels on ``frame_a``'s pixels.
    """
    a, b = _grey_u8(frame_a), _grey_u8(frame_b)
    if method == "dis":
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        flow = dis.calc(a, b, None)
    elif method == "farneback":
        flow = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 4, 9, 5, 5, 1.1, 0)
    else:
        raise InputError("flow method", "'dis' or 'farneback'", repr(method))
    return torch.from_numpy(np.ascontiguousarray(flow.transpose(2, 0, 1))).float()


def endpoint_error(flow: torch.Tensor, flow_true: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    """Average end-point error ``mean_x ‖f(x) − f_true(x)‖₂`` over masked pixels, in pixels.

    Args:
        flow, flow_true: ``(2, H, W)`` or ``(K, 2, H, W)`` flows in pixels.
        mask: optional bool mask ``(H, W)``, ``(1, H, W)`` or ``(K, 1, H, W)``.
    """
    f = flow.double()[None] if flow.dim() == 3 else flow.double()
    g = flow_true.double()[None] if flow_true.dim() == 3 else flow_true.double()
    _same_shape(f, g, "flow/flow_true")
    err = torch.linalg.vector_norm(f - g, dim=1, keepdim=True)
    return _masked_mean(err, _mask(mask, err))


def motion_epe(
    frames: torch.Tensor, flows_true: torch.Tensor, mask: torch.Tensor | None = None, method: str = "dis"
) -> float:
    """End-point error between the intended motion and the motion measured in a video.

    For every cyclic pair ``k`` the flow ``frame_k → frame_{k+1}`` is measured with
    :func:`optical_flow` and compared with ``flows_true[k]``:
    ``EPE = Σ_k Σ_x m_k(x) ‖f̂_k(x) − f_k(x)‖ / Σ_k Σ_x m_k(x)`` in pixels (lower is better).
    A video that does not move scores the mean speed of the intended motion.

    Args:
        frames: ``(K, 3, H, W)`` video.
        flows_true: ``(K, 2, H, W)`` intended flow of each pair on frame ``k``'s pixels, pixels.
        mask: ``(K, 1, H, W)`` bool, where the intended flow is defined and to be scored.
        method: optical-flow method of :func:`optical_flow`.
    """
    v = _video(frames, "frames")
    K = v.shape[0]
    if flows_true.shape[0] != K or flows_true.shape[1] != 2:
        raise InputError("flows_true", f"({K}, 2, H, W)", tuple(flows_true.shape))
    measured = torch.stack([optical_flow(v[k], v[(k + 1) % K], method) for k in range(K)])
    return endpoint_error(measured, flows_true, mask)


def warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Backward warp: ``out(x) = image(x + flow(x))``, bilinear, border values replicated.

    Args:
        image: ``(C, H, W)``.
        flow: ``(2, H, W)`` pixels.

    Returns:
        ``(C, H, W)`` in ``image``'s dtype.
    """
    C, H, W = image.shape
    if flow.shape != (2, H, W):
        raise InputError("flow", f"(2, {H}, {W})", tuple(flow.shape))
    dt = image.dtype if image.is_floating_point() else torch.float32
    v, u = torch.meshgrid(torch.arange(H, dtype=dt) + 0.5, torch.arange(W, dtype=dt) + 0.5, indexing="ij")
    gx = (u + flow[0].to(dt)) * (2.0 / W) - 1.0
    gy = (v + flow[1].to(dt)) * (2.0 / H) - 1.0
    grid = torch.stack([gx, gy], -1)[None]
    return F.grid_sample(
        image[None].to(dt), grid, mode="bilinear", padding_mode="border", align_corners=False
    )[0]


def warping_error(frames: torch.Tensor, flows_bwd: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    """Temporal warping error (motion smoothness), Lai et al. 2018 with the true motion.

    ``E = Σ_k Σ_x m_k(x) Σ_c |O_{k+1,c}(x) − Ŵ_k O_{k,c}(x)| / (3 Σ_k Σ_x m_k(x))`` where
    ``Ŵ_k O_k = warp(O_k, b_k)`` brings frame ``k`` onto frame ``k+1`` with the true backward
    flow ``b_k`` and ``m_k`` marks the pixels of frame ``k+1`` whose material is visible in both
    frames. Units: mean absolute intensity in [0, 1] (× 255 for grey levels); 0 when the video
    changes exactly as the scene moves. Flicker, ghosting and wrong motion raise it.

    Args:
        frames: ``(K, 3, H, W)``.
        flows_bwd: ``(K, 2, H, W)`` true flow of pair ``k`` on frame ``(k+1) mod K`` back to
            frame ``k``, pixels.
        mask: ``(K, 1, H, W)`` bool on frame ``(k+1) mod K``'s pixels.
    """
    v = _video(frames, "frames")
    K = v.shape[0]
    if flows_bwd.shape[0] != K or flows_bwd.shape[1] != 2:
        raise InputError("flows_bwd", f"({K}, 2, H, W)", tuple(flows_bwd.shape))
    errs = torch.stack([(v[(k + 1) % K] - warp(v[k], flows_bwd[k])).abs() for k in range(K)])
    return _masked_mean(errs, _mask(mask, errs))


def frame_changes(frames: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """``(K,)`` float64 mean absolute change of each cyclic pair,
    ``d_k = Σ_x m_k(x) Σ_c |O_{k+1,c}(x) − O_{k,c}(x)| / (3 Σ_x m_k(x))`` (intensity in [0, 1];
    ``d_{K−1}`` is the change across the loop seam). ``nan`` for an empty mask."""
    v = _video(frames, "frames")
    K = v.shape[0]
    diffs = (torch.roll(v, -1, dims=0) - v).abs()
    m = _mask(mask, diffs)
    return torch.tensor([_masked_mean(diffs[k : k + 1], m[k : k + 1]) for k in range(K)], dtype=torch.float64)


def loop_seam_score(
    frames: torch.Tensor,
    mask: torch.Tensor | None = None,
    reference: torch.Tensor | None = None,
    min_change: float = 0.5 / 255.0,
    eps: float = 1e-3,
) -> float:
    """Loop-seam score: the change across the wrap relative to the typical frame-to-frame change.

    With ``d_k`` the change of pair ``k`` (:func:`frame_changes`; ``d_{K−1}`` is last → first)
    and a per-pair ratio ``ρ_k``::

        seam = max(ρ_{K−1}, 1) / median(ρ_0 … ρ_{K−2})

    * with a ``reference`` video ``G`` (the ground truth): ``ρ_k = (d_k + ε) / (d^G_k + ε)``, the
      change relative to the change the scene really has in that step (so a camera path that
      is fastest at the wrap is not mistaken for a jump);
    * without: ``ρ_k = d_k / min_change``, i.e. ``seam = max(d_seam, min_change) / median(d_k)``.

    1 is ideal (the wrap looks like any other step); a visible jump gives ``> 1``.

    **Why a frozen video cannot score well:** the seam step is never credited below the intended
    change (``ρ_seam`` is floored at 1, the ratio of a step that changes as much as it should),
    while the denominator is the typical change the video actually has. A video that moves less
    than intended has ``median ρ < 1`` and scores ``1 / median ρ > 1``: a frozen one scores
    ``(d^G + ε)/ε`` with a reference (e.g. 40 for a true change of 10 grey levels) and ``inf``
    without one. A video that changes as intended with no jump at the wrap scores 1.

    Args:
        frames: ``(K, 3, H, W)``, ``K >= 3``.
        mask: optional ``(K, 1, H, W)`` bool mask of each pair (on frame ``k``; e.g. a region
            in both frames).
        reference: optional ``(K, 3, H, W)`` video of the intended change (same masks).
        min_change: the intended change per step without a reference (0.5 grey levels).
        eps: regulariser of the ratios with a reference (intensity in [0, 1]).

    Returns:
        Unitless ratio; 1 is ideal, larger is worse (``nan`` for an empty mask).
    """
    v = _video(frames, "frames")
    if v.shape[0] < 3:
        raise InputError("frames", "a video of at least 3 frames", v.shape[0])
    d = frame_changes(v, mask)
    if reference is None:
        rho = d / min_change
    else:
        g = _video(reference, "reference")
        _same_shape(v, g, "frames/reference")
        rho = (d + eps) / (frame_changes(g, mask) + eps)
    inner = rho[:-1][~torch.isnan(rho[:-1])]
    seam = float(rho[-1])
    if inner.numel() == 0 or math.isnan(seam):
        return math.nan
    typ = float(inner.median())
    top = max(seam, 1.0)
    return math.inf if typ == 0.0 else top / typ


def static_stability(
    frames: torch.Tensor, reference: torch.Tensor, mask: torch.Tensor | None = None
) -> float:
    """Static-region stability: error of the frame-to-frame change against the true change.

    ``S = Σ_k Σ_x m_k(x) Σ_c |(O_{k+1} − O_k)_c(x) − (G_{k+1} − G_k)_c(x)| / (3 Σ_k Σ_x m_k(x))``
    over cyclic pairs, with ``G`` the ground-truth video and ``m_k`` the static pixels of both
    frames. Units: intensity in [0, 1] (× 255 for grey levels); 0 is ideal. With a still camera
    the true change of a static region is 0 and ``S`` is simply how much the region flickers or
    is dragged along by nearby fluid; with a moving camera the true parallax change is removed,
    so only spurious change counts.

    Args:
        frames: ``(K, 3, H, W)`` output video.
        reference: ``(K, 3, H, W)`` ground-truth video.
        mask: ``(K, 1, H, W)`` bool static mask per pair.
    """
    v, g = _video(frames, "frames"), _video(reference, "reference")
    _same_shape(v, g, "frames/reference")
    dv = torch.roll(v, -1, dims=0) - v
    dg = torch.roll(g, -1, dims=0) - g
    e = (dv - dg).abs()
    return _masked_mean(e, _mask(mask, e))


def hole_ratio(
    alpha: torch.Tensor, mask: torch.Tensor | None = None, threshold: float | None = None
) -> float:
    """Share of the output that the renderer left uncovered, before hole filling.

    Default (``threshold=None``): ``holes = Σ_k Σ_x m_k(x) (1 − α_k(x)) / Σ_k Σ_x m_k(x)`` with
    ``α`` the splat coverage (:attr:`SplatResult.alpha`, clipped to [0, 1]). Since hole filling
    composites ``α·X + (1 − α)·fill``, this is exactly the fraction of output colour that comes
    from the filler rather than from splatted points. With a ``threshold``: the fraction of
    pixels with ``α < threshold``. Unitless in [0, 1]; 0 is ideal.

    Args:
        alpha: ``(1, H, W)`` or ``(K, 1, H, W)`` coverage.
        mask: optional bool mask.
        threshold: count pixels below this coverage instead of the soft share.
    """
    a = alpha[None] if alpha.dim() == 3 else alpha
    if a.dim() != 4 or a.shape[1] != 1:
        raise InputError("alpha", "(1, H, W) or (K, 1, H, W)", tuple(alpha.shape))
    a = a.double()
    holes = (1.0 - a.clamp(0.0, 1.0)) if threshold is None else (a < threshold).double()
    return _masked_mean(holes, _mask(mask, holes))
