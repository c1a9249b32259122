"""Click-to-mask: positive / negative clicks → a region mask.

Two back-ends share one call, :func:`segment_clicks`:

* ``"grabcut"`` (default, training-free, deterministic):

  1. *seeds* — the pixels within ``r = max(2, seed_radius * D)`` of every click (``D = max(H, W)``
     of the image being segmented) that lie in the click's *smooth part*: the 4-connected area
     reachable without crossing a strong edge (Canny edges of the 8-bit CIE Lab image with
     hysteresis thresholds ``edge_low``, ``edge_high``, dilated by a 2x2 square);
  2. *colour model* — per positive click, the mean ``mu_k`` and covariance ``S_k`` of the CIE Lab
     colours (lightly blurred, sigma 1 px) of its smooth part within ``patch_radius * D``, so a
     textured region (ripples, stripes) shows its range of colours; ``S_k`` is regularised by
     ``+ (colour_floor)^2 I``. A pixel is a *candidate* when its Mahalanobis distance to some
     ``(mu_k, S_k)`` is at most ``colour_tolerance`` and, with negative clicks, smaller than
     its distance to every negative click's model, and is not on a strong edge. Only candidate
     components (8-connected) that contain a positive click are kept;
  3. *GrabCut* (OpenCV, ``iterations`` rounds, RNG seeded so the result is reproducible)
     initialised with: positive discs = sure foreground, negative discs = sure background,
     candidates = probable foreground, everything else = probable background;
  4. *region growing* — from every positive click in a smooth part, a floating-range flood fill
     (4-neighbours differing by at most ``flood_diff`` per channel of the 1-px-blurred 8-bit Lab
     image, never across a strong edge) follows smooth gradients that a single colour model
     misses (a sky darkening upwards, a lake); it is added unless it covers more than
     ``max_fraction`` of the image or reaches a negative click;
  5. *clean-up* — keep the 8-connected components that contain a positive click, fill holes
     smaller than ``hole_fraction`` of the image that touch no image border and contain no
     negative click;
  6. *horizon split* — the mask is split at a horizon line found inside it
     (:func:`~cinemagraph3d.controls.sky.horizon_cut`: water reflecting the sky) and the side of
     the clicks is kept;
  7. *prior against swallowing the image* — a mask larger than ``max_fraction`` of the image
     falls back to the clicks' colour-model candidates of step 2;
  8. *the whole sky* — a mask lying inside the automatic sky
     (:func:`~cinemagraph3d.controls.sky.detect_sky`) takes the sky's other pieces of its colour
     (``sky_pieces``).

  Images larger than ``max_side`` are segmented at a reduced size and the mask is scaled back
  (bilinear on the 0/1 mask, threshold 0.5).

* ``"sam"`` — Segment Anything (``pip install segment-anything``) with a local checkpoint (see
  :func:`load_sam`): the clicks are the point prompts (label 1 / 0); with a single click the
  best of the three multi-mask outputs by predicted IoU is kept.

:func:`draw_mask_overlay` returns a picture of masks and clicks for checking (it does not write).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from ..errors import BackendError, InputError, WeightsError

__all__ = [
    "SegmentSettings",
    "segment_clicks",
    "load_sam",
    "draw_mask_overlay",
    "check_clicks",
    "strong_edges",
]


@dataclass(frozen=True)
class SegmentSettings:
    """Settings of :func:`segment_clicks`.

    Attributes:
        method: ``"grabcut"`` (default) or ``"sam"``.
        sam_checkpoint: SAM checkpoint path (``.pth`` state dict or ``.safetensors``); needed
            for ``method="sam"`` unless a model is passed to :func:`segment_clicks`.
        iterations: GrabCut iterations (>= 1).
        seed_radius: radius of the sure-foreground disc around each click, fraction of ``D``
            (>= 2 px).
        patch_radius: colour samples of a click come from the pixels reachable from it without
            crossing a strong edge, at most this fraction of ``D`` away.
        edge_low, edge_high: hysteresis thresholds of the strong-edge detector (``cv2.Canny``
            with the L2 gradient on the 8-bit CIE Lab image; 3x3 Sobel units).
        max_edge_density: a click whose patch has more than this share of edge pixels is in
            texture: its seeds, samples and candidates ignore the edges.
        colour_tolerance: Mahalanobis distance (in Lab, per click model) of a candidate pixel.
        colour_floor: Lab standard deviation added to every click model (regularisation).
        hole_fraction: holes smaller than this fraction of the image are filled.
        flood_diff: largest step between 4-neighbours (8-bit CIE Lab units, per channel, on the
            image blurred by 1 px) of the region grown from a click by a floating flood fill.
        max_fraction: prior against swallowing the image: a grown region larger than this share
            of the image is dropped, and a final mask larger than it falls back to the clicks'
            colour-model candidates.
        sky_pieces: a mask lying (80 %) inside the automatic sky also takes the sky's other
            pieces whose median colour distance to the mask's colour model is within
            ``colour_tolerance`` (a click on the sky selects the sky between the trees).
        max_side: GrabCut runs at most at this longer side (the mask is scaled back).
        seed: seed of OpenCV's RNG (GrabCut's k-means initialisation).
    """

    method: str = "grabcut"
    sam_checkpoint: str | None = None
    iterations: int = 5
    seed_radius: float = 0.01
    patch_radius: float = 0.08
    edge_low: float = 40.0
    edge_high: float = 80.0
    max_edge_density: float = 0.2
    colour_tolerance: float = 3.0
    colour_floor: float = 4.0
    hole_fraction: float = 0.001
    max_side: int = 640
    seed: int = 0
    flood_diff: float = 2.0
    max_fraction: float = 0.6
    sky_pieces: bool = True

    def __post_init__(self) -> None:
        if self.method not in ("grabcut", "sam"):
            raise InputError("segmenter", "'grabcut' or 'sam'", repr(self.method))
        if not (isinstance(self.iterations, int) and self.iterations >= 1):
            raise InputError("SegmentSettings.iterations", "an integer >= 1", self.iterations)
        for name in (
            "seed_radius",
            "patch_radius",
            "edge_low",
            "edge_high",
            "colour_tolerance",
            "colour_floor",
        ):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise InputError(f"SegmentSettings.{name}", "a finite number > 0", v)
        if not (isinstance(self.hole_fraction, (int, float)) and 0 <= self.hole_fraction < 1):
            raise InputError("SegmentSettings.hole_fraction", "a number in [0, 1)", self.hole_fraction)
        if not (isinstance(self.max_side, int) and self.max_side >= 16):
            raise InputError("SegmentSettings.max_side", "an integer >= 16", self.max_side)


def _image_uint8(image) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB from a ``(3, H, W)`` float tensor in [0, 1] or a uint8 array."""
    if isinstance(image, torch.Tensor):
        t = image.detach().cpu()
        if t.dim() == 4 and t.shape[0] == 1:
            t = t[0]
        if t.dim() != 3 or t.shape[0] != 3 or min(t.shape[1:]) < 2:
            raise InputError("image", "a (3, H, W) float tensor in [0, 1]", tuple(t.shape))
        if not bool(torch.isfinite(t).all()):
            raise InputError("image", "finite values", "NaN or infinity")
        return (t.float().clamp(0, 1) * 255.0 + 0.5).to(torch.uint8).permute(1, 2, 0).numpy().copy()
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8 or min(arr.shape[:2]) < 2:
        raise InputError("image", "an (H, W, 3) uint8 RGB array", f"{arr.dtype} {arr.shape}")
    return np.ascontiguousarray(arr)


def check_clicks(points, height: int, width: int, name: str = "clicks") -> np.ndarray:
    """Clicks as a float64 ``(K, 2)`` array of ``(x, y)`` pixels inside ``[0, W] x [0, H]``.

    Raises:
        InputError: wrong shape, non-finite values or a click outside the image.
    """
    if points is None:
        return np.zeros((0, 2))
    try:
        arr = np.asarray(
            points.detach().cpu() if isinstance(points, torch.Tensor) else points, dtype=np.float64
        )
    except (TypeError, ValueError):
        raise InputError(name, "points (x, y) in pixels", repr(points)) from None
    if arr.size == 0:
        return np.zeros((0, 2))
    if arr.ndim == 1 and arr.shape[0] == 2:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise InputError(name, "points of shape (K, 2)", arr.shape)
    if not np.isfinite(arr).all():
        raise InputError(name, "finite pixel coordinates", "NaN or infinity")
    for x, y in arr:
        if not (0 <= x <= width and 0 <= y <= height):
            raise InputError(name, f"a point inside the {width}x{height} image", f"({x:g}, {y:g})")
    return arr


def _pixel(pt, h: int, w: int) -> tuple[int, int]:
    """Row, column of the pixel containing the continuous point ``(x, y)``."""
    return min(int(math.floor(pt[1])), h - 1), min(int(math.floor(pt[0])), w - 1)


def strong_edges(image: np.ndarray, low: float = 40.0, high: float = 80.0) -> np.ndarray:
    """``(H, W)`` bool map of strong edges of an ``(H, W, 3)`` uint8 RGB image.

    ``cv2.Canny`` with the L2 gradient and hysteresis thresholds ``low``, ``high`` (3x3 Sobel
    units) on the 8-bit CIE Lab image, dilated by a 2x2 square so that the 8-connected edge lines
    separate 4-connected areas.
    """
    edges = cv2.Canny(cv2.cvtColor(image, cv2.COLOR_RGB2Lab), low, high, L2gradient=True)
    return cv2.dilate(edges, np.ones((2, 2), np.uint8)) > 0


def _disc(shape, centre_rc, radius: float) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    cv2.circle(m, (int(centre_rc[1]), int(centre_rc[0])), int(round(radius)), 1, -1)
    return m.astype(bool)


def _colour_distance(lab: np.ndarray, seed: np.ndarray, floor: float) -> np.ndarray:
    """Mahalanobis distance of every Lab pixel to the colours under ``seed``."""
    samples = lab[seed].astype(np.float64)
    mu = samples.mean(axis=0)
    cov = np.cov(samples.T) if samples.shape[0] > 1 else np.zeros((3, 3))
    cov = cov + (floor**2) * np.eye(3)
    inv = np.linalg.inv(cov)
    d = lab.reshape(-1, 3).astype(np.float64) - mu
    return np.sqrt(np.einsum("ij,jk,ik->i", d, inv, d)).reshape(lab.shape[:2])


def _components_with(mask: np.ndarray, pixels) -> np.ndarray:
    """Union of the 8-connected components of ``mask`` containing any of ``pixels``."""
    n, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    keep = {int(labels[r, c]) for r, c in pixels if mask[r, c]}
    keep.discard(0)
    if not keep:
        return np.zeros_like(mask, dtype=bool)
    return np.isin(labels, sorted(keep))


def _fill_holes(mask: np.ndarray, max_area: float, forbidden: list[tuple[int, int]]) -> np.ndarray:
    """Fill background components that touch no border, are small and hold no forbidden pixel."""
    holes = (~mask).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(holes, connectivity=4)
    h, w = mask.shape
    out = mask.copy()
    blocked = {int(labels[r, c]) for r, c in forbidden}
    for k in range(1, n):
        x, y, bw, bh, area = stats[k]
        if x == 0 or y == 0 or x + bw == w or y + bh == h or area > max_area or k in blocked:
            continue
        out[labels == k] = True
    return out


def _grabcut(img: np.ndarray, pos: np.ndarray, neg: np.ndarray, s: SegmentSettings) -> np.ndarray:
    h, w = img.shape[:2]
    d = float(max(h, w))
    radius = max(2.0, s.seed_radius * d)
    pos_px = [_pixel(p, h, w) for p in pos]
    neg_px = [_pixel(p, h, w) for p in neg]
    lab = cv2.cvtColor(cv2.GaussianBlur(img.astype(np.float32) / 255.0, (0, 0), 1.0), cv2.COLOR_RGB2Lab)
    # Smooth parts: 4-connected areas without strong edges. Around a click in a smooth area,
    # seeds, colour samples and candidates stay inside the click's part, so a click near a
    # boundary does not claim the other side. Around a click in texture (many edges near it)
    # the edges say nothing about the region's boundary and are ignored.
    edges = strong_edges(img, s.edge_low, s.edge_high)
    _, smooth_parts = cv2.connectedComponents((~edges).astype(np.uint8), connectivity=4)
    big = max(radius, s.patch_radius * d)

    def part_of(rc) -> int:
        """The click's smooth part, 0 in texture (a click on an edge pixel takes the part most
        of its seed disc falls in)."""
        if edges[_disc((h, w), rc, big)].mean() > s.max_edge_density:
            return 0
        part = int(smooth_parts[rc])
        if part == 0:
            parts = smooth_parts[_disc((h, w), rc, radius)]
            parts = parts[parts != 0]
            part = int(np.bincount(parts).argmax()) if parts.size else 0
        return part

    def around(rc, r, part):
        m = _disc((h, w), rc, r)
        if part:
            m &= smooth_parts == part
        m[rc] = True
        return m

    pos_parts = [part_of(rc) for rc in pos_px]
    neg_parts = [part_of(rc) for rc in neg_px]
    fg_seed = np.zeros((h, w), bool)
    bg_seed = np.zeros((h, w), bool)
    for rc, part in zip(pos_px, pos_parts):
        fg_seed |= around(rc, radius, part)
    for rc, part in zip(neg_px, neg_parts):
        bg_seed |= around(rc, radius, part)
    fg_seed &= ~bg_seed  # a negative click wins where seeds overlap
    for r, c in pos_px:  # ... but never on a positive click itself
        fg_seed[r, c] = True
        bg_seed[r, c] = False

    # Colour models from patches of radius patch_radius * D, so a textured region (ripples,
    # stripes) shows its whole range of colours.
    d_neg = None
    if neg_px:
        d_neg = np.min(
            [
                _colour_distance(lab, around(rc, big, part), s.colour_floor)
                for rc, part in zip(neg_px, neg_parts)
            ],
            axis=0,
        )
    cand = np.zeros((h, w), bool)
    for rc, part in zip(pos_px, pos_parts):
        samples = around(rc, big, part) & ~bg_seed
        samples[rc] = True
        d_k = _colour_distance(lab, samples, s.colour_floor)
        cand_k = d_k <= s.colour_tolerance
        if d_neg is not None:
            cand_k &= d_k < d_neg
        if part:  # candidates do not cross strong edges (GrabCut decides the edge pixels)
            cand_k &= ~edges
        cand |= _components_with(cand_k | fg_seed, [rc])
    cand &= ~bg_seed

    gc = np.full((h, w), cv2.GC_PR_BGD, np.uint8)
    gc[cand] = cv2.GC_PR_FGD
    gc[bg_seed] = cv2.GC_BGD
    gc[fg_seed] = cv2.GC_FGD
    is_fg = (gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)
    # GrabCut fits 5-component colour models to both sides: it needs samples on both.
    if int(is_fg.sum()) >= 20 and int((~is_fg).sum()) >= 20:
        cv2.setRNGSeed(int(s.seed))
        bgd = np.zeros((1, 65), np.float64)
        fgd = np.zeros((1, 65), np.float64)
        cv2.grabCut(
            cv2.cvtColor(img, cv2.COLOR_RGB2BGR), gc, None, bgd, fgd, int(s.iterations), cv2.GC_INIT_WITH_MASK
        )
        result = (gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)
    else:
        result = is_fg
    result = _components_with(result, pos_px)
    # Region growing: a floating-range flood fill from every positive click follows smooth
    # gradients (a sky darkening upwards, a lake) and stops at strong edges; it is kept only
    # when it does not swallow the image or reach a negative click.
    blurred = cv2.GaussianBlur(cv2.cvtColor(img, cv2.COLOR_RGB2Lab), (0, 0), 1.0)
    for (r, c), part in zip(pos_px, pos_parts):
        if not part:  # in texture the flood fill says nothing
            continue
        ff = np.zeros((h + 2, w + 2), np.uint8)
        ff[1:-1, 1:-1] = edges
        diff = (s.flood_diff,) * 3
        cv2.floodFill(blurred.copy(), ff, (int(c), int(r)), (0, 0, 0), diff, diff,
                      4 | cv2.FLOODFILL_MASK_ONLY | (2 << 8))  # fmt: skip
        grown = ff[1:-1, 1:-1] == 2
        if grown.mean() <= s.max_fraction and not any(grown[q] for q in neg_px):
            result |= grown
    if s.hole_fraction > 0:
        result = _fill_holes(result, s.hole_fraction * h * w, neg_px)
    # Water reflecting the sky: split at a horizon line found inside the mask, keep the clicks' side.
    from .sky import horizon_cut

    cut = horizon_cut(torch.from_numpy(img).permute(2, 0, 1).float() / 255.0, result)
    if cut is not None:
        rows = [r for r, _ in pos_px]
        if all(r < cut for r in rows):
            result[cut:] = False
        elif all(r >= cut for r in rows):
            result[:cut] = False
        result = _components_with(result, pos_px)
    # Prior against swallowing the image: a mask over max_fraction of it falls back to the seeds'
    # candidate components (colour model around the clicks, never across strong edges).
    if result.mean() > s.max_fraction and cand.mean() < result.mean():
        result = _components_with(cand | fg_seed, pos_px)
    # A click on the sky selects the sky: when the mask lies inside the automatic sky, the sky's
    # other pieces (cut apart by trees or a branch) whose mean colour matches a click's colour
    # model join it.
    if s.sky_pieces and result.any():
        from .sky import detect_sky

        det = detect_sky(torch.from_numpy(img).permute(2, 0, 1).float() / 255.0)
        sky = det.mask.numpy()
        if det.found and (result & sky).sum() >= 0.8 * result.sum():
            n, lab_sky = cv2.connectedComponents(sky.astype(np.uint8), connectivity=8)
            models = [_colour_distance(lab, result, s.colour_floor)]
            for k in range(1, n):
                piece = lab_sky == k
                if (piece & result).any() or any(piece[q] for q in neg_px):
                    continue
                if min(float(np.median(dm[piece])) for dm in models) <= s.colour_tolerance:
                    result |= piece
    return result


_SAM_CACHE: dict = {}


def _sam_config(state: dict) -> dict:
    """Encoder size of a SAM state dict (ViT width, depth, heads, global-attention blocks)."""
    key = "image_encoder.patch_embed.proj.weight"
    if key not in state:
        raise WeightsError(f"SAM checkpoint: no tensor {key!r}; is this a Segment Anything state dict?")
    embed = int(state[key].shape[0])
    blocks = sorted(
        {int(k.split(".")[2]) for k in state if k.startswith("image_encoder.blocks.") and k.count(".") > 3}
    )
    if not blocks or blocks != list(range(len(blocks))):
        raise WeightsError("SAM checkpoint: image_encoder.blocks.* missing or not numbered 0..n-1")
    global_idx, head_dim = [], None
    for b in blocks:
        rel = state.get(f"image_encoder.blocks.{b}.attn.rel_pos_h")
        if rel is None:
            raise WeightsError(f"SAM checkpoint: image_encoder.blocks.{b}.attn.rel_pos_h missing")
        head_dim = int(rel.shape[1])
        size = (int(rel.shape[0]) + 1) // 2
        if size != 14:  # windowed blocks use 14x14 windows, global blocks the whole 64x64 grid
            global_idx.append(b)
    if head_dim is None or embed % head_dim:
        raise WeightsError(f"SAM checkpoint: embedding width {embed} is not a multiple of the head size")
    lin1 = state.get("image_encoder.blocks.0.mlp.lin1.weight")
    mlp_ratio = int(lin1.shape[0]) / embed if lin1 is not None else 4.0
    return {
        "mlp_ratio": mlp_ratio,
        "embed_dim": embed,
        "depth": len(blocks),
        "num_heads": embed // head_dim,
        "global_attn_indexes": global_idx,
    }


def load_sam(checkpoint, device=None, *, name: str = "checkpoint"):
    """Load a Segment Anything model from a local checkpoint (no download).

    The architecture (ViT-B/L/H or any smaller encoder built with ``segment_anything``'s
    classes) is read from the tensor shapes: embedding width from ``patch_embed``, depth from the
    number of blocks, MLP width from the first block, head size and global-attention blocks from
    the relative-position tables. The prompt encoder and mask decoder are SAM's (256 channels).
    Tensors are read with ``safetensors`` (``.safetensors``) or ``torch.load(weights_only=True)``;
    nothing is unpickled. Loaded models are cached per (path, modification time).

    Args:
        checkpoint: path of a SAM state dict (``sam_vit_b_01ec64.pth`` etc., or ``.safetensors``).
        device: torch device (default CPU).
        name: what the checkpoint is called in error messages.

    Returns:
        A ``segment_anything.modeling.Sam`` in eval mode.

    Raises:
        BackendError: ``segment_anything`` is not installed.
        InputError: the checkpoint file does not exist.
        WeightsError: unreadable checkpoint or tensors that do not fit the inferred model.
    """
    try:
        from functools import partial

        from segment_anything.modeling import (
            ImageEncoderViT,
            MaskDecoder,
            PromptEncoder,
            Sam,
            TwoWayTransformer,
        )
    except ImportError:
        raise BackendError(
            "the SAM segmenter needs the 'segment_anything' package (pip install segment-anything)"
        ) from None
    path = Path(os.fspath(checkpoint))
    if not path.is_file():
        raise InputError(name, "an existing SAM checkpoint file", f"no file {str(path)!r}")
    device = torch.device(device or "cpu")
    key = (str(path.resolve()), path.stat().st_mtime_ns, str(device))
    if key in _SAM_CACHE:
        return _SAM_CACHE[key]
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001
        raise WeightsError(f"SAM checkpoint {path.name}: unreadable ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"SAM checkpoint {path.name}: expected a dict of tensors")
    cfg = _sam_config(state)
    prompt_dim, image_size, patch = 256, 1024, 16
    grid = image_size // patch
    sam = Sam(
        image_encoder=ImageEncoderViT(
            depth=cfg["depth"],
            embed_dim=cfg["embed_dim"],
            img_size=image_size,
            mlp_ratio=cfg["mlp_ratio"],
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
            num_heads=cfg["num_heads"],
            patch_size=patch,
            qkv_bias=True,
            use_rel_pos=True,
            global_attn_indexes=cfg["global_attn_indexes"],
            window_size=14,
            out_chans=prompt_dim,
        ),
        prompt_encoder=PromptEncoder(
            embed_dim=prompt_dim,
            image_embedding_size=(grid, grid),
            input_image_size=(image_size, image_size),
            mask_in_chans=16,
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=2, embedding_dim=prompt_dim, mlp_dim=2048, num_heads=8),
            transformer_dim=prompt_dim,
            iou_head_depth=3,
            iou_head_hidden_dim=256,
        ),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375],
    )
    try:
        sam.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        detail = " ".join(str(exc).split())
        raise WeightsError(f"SAM checkpoint {path.name}: tensors do not fit ({detail})") from None
    sam.eval().to(device)
    _SAM_CACHE.clear()
    _SAM_CACHE[key] = sam
    return sam


def _sam_segment(img: np.ndarray, pos: np.ndarray, neg: np.ndarray, model) -> np.ndarray:
    from segment_anything import SamPredictor

    predictor = SamPredictor(model)
    with torch.no_grad():
        predictor.set_image(img, image_format="RGB")
        coords = np.concatenate([pos, neg]).astype(np.float32)
        labels = np.concatenate([np.ones(len(pos)), np.zeros(len(neg))]).astype(np.int64)
        masks, scores, _ = predictor.predict(
            point_coords=coords, point_labels=labels, multimask_output=len(coords) == 1
        )
    return np.asarray(masks[int(np.argmax(scores))]).astype(bool)


def segment_clicks(
    image,
    clicks,
    unclicks=None,
    settings: SegmentSettings | None = None,
    *,
    sam_model=None,
) -> torch.Tensor:
    """Region mask from positive and negative clicks (see the module docstring for the method).

    Args:
        image: ``(3, H, W)`` float tensor in [0, 1] or ``(H, W, 3)`` uint8 RGB array.
        clicks: ``(K, 2)`` positive clicks ``(x, y)`` in pixels (pixel centres at integer + 0.5),
            ``K >= 1``, inside ``[0, W] x [0, H]``.
        unclicks: ``(L, 2)`` negative clicks (pixels that must not be in the region), or None.
        settings: :class:`SegmentSettings` (defaults when None).
        sam_model: a loaded SAM model; implies ``method="sam"``.

    Returns:
        ``(H, W)`` bool tensor on the CPU; every positive click's pixel is inside the mask
        (GrabCut back-end) and every negative click's pixel outside it.

    Raises:
        InputError: no positive click, a click outside the image, a bad image, or an empty result.
        BackendError / WeightsError: SAM requested but unavailable or its checkpoint unusable.

    Example:
        >>> img = torch.zeros(3, 32, 48); img[2, 8:24, 8:40] = 1.0
        >>> segment_clicks(img, [[20.5, 16.5]]).sum().item()
        512
    """
    settings = settings or SegmentSettings()
    if not isinstance(settings, SegmentSettings):
        raise InputError("settings", "a SegmentSettings", type(settings).__name__)
    img = _image_uint8(image)
    h, w = img.shape[:2]
    pos = check_clicks(clicks, h, w, "clicks")
    neg = check_clicks(unclicks, h, w, "unclicks")
    if len(pos) == 0:
        raise InputError("clicks", "at least one positive click inside the region", "none")
    if sam_model is not None or settings.method == "sam":
        if sam_model is None:
            if not settings.sam_checkpoint:
                raise InputError(
                    "settings.sam_checkpoint", "a SAM checkpoint for the 'sam' segmenter", "none"
                )
            sam_model = load_sam(settings.sam_checkpoint, name="settings.sam_checkpoint")
        mask = _sam_segment(img, pos, neg, sam_model)
    else:
        scale = min(1.0, settings.max_side / float(max(h, w)))
        if scale < 1.0:
            sw, sh = max(2, round(w * scale)), max(2, round(h * scale))
            small = cv2.resize(img, (sw, sh), interpolation=cv2.INTER_AREA)
            f = np.array([sw / w, sh / h])
            m = _grabcut(small, pos * f, neg * f, settings).astype(np.float32)
            mask = cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR) > 0.5
            for p in pos:
                mask[_pixel(p, h, w)] = True
        else:
            mask = _grabcut(img, pos, neg, settings)
        for p in neg:
            mask[_pixel(p, h, w)] = False
    if not mask.any():
        raise InputError("clicks", "clicks that select a non-empty region", "an empty mask")
    return torch.from_numpy(np.ascontiguousarray(mask))


_PALETTE = [(40, 140, 255), (255, 120, 40), (60, 200, 90), (220, 60, 200), (240, 220, 40), (40, 220, 220)]


def draw_mask_overlay(
    image,
    masks,
    clicks=None,
    unclicks=None,
    *,
    freeze=None,
    alpha: float = 0.45,
) -> np.ndarray:
    """Picture of region masks and clicks over the photo (pure function: the caller writes it).

    Region ``r`` is tinted with colour ``r`` of a fixed palette (blue, orange, green, magenta,
    yellow, cyan, repeating) and outlined; the freeze mask is shown dark grey; positive clicks are
    green crosses, negative clicks red crosses.

    Args:
        image: ``(3, H, W)`` float tensor in [0, 1] or ``(H, W, 3)`` uint8 RGB array.
        masks: one ``(H, W)`` bool mask (tensor or array) or a list of them.
        clicks: ``(K, 2)`` positive clicks in pixels, or None.
        unclicks: ``(L, 2)`` negative clicks in pixels, or None.
        freeze: optional ``(H, W)`` bool freeze mask.
        alpha: tint opacity in [0, 1].

    Returns:
        ``(H, W, 3)`` uint8 RGB array.
    """
    out = _image_uint8(image).astype(np.float32)
    h, w = out.shape[:2]
    if isinstance(masks, (torch.Tensor, np.ndarray)) and masks.ndim == 2:
        masks = [masks]
    arrays = []
    for k, m in enumerate(masks or []):
        a = np.asarray(m.detach().cpu() if isinstance(m, torch.Tensor) else m).astype(bool)
        if a.shape != (h, w):
            raise InputError(f"masks[{k}]", f"a {w}x{h} mask", f"{a.shape[-1]}x{a.shape[0]}")
        arrays.append(a)
    if freeze is not None:
        f = np.asarray(freeze.detach().cpu() if isinstance(freeze, torch.Tensor) else freeze).astype(bool)
        if f.shape != (h, w):
            raise InputError("freeze", f"a {w}x{h} mask", f"{f.shape[-1]}x{f.shape[0]}")
        out[f] = (1 - alpha) * out[f] + alpha * np.array([30, 30, 30], np.float32)
    for k, a in enumerate(arrays):
        colour = np.array(_PALETTE[k % len(_PALETTE)], np.float32)
        out[a] = (1 - alpha) * out[a] + alpha * colour
    out = np.ascontiguousarray(np.round(out).astype(np.uint8))
    for k, a in enumerate(arrays):
        contours, _ = cv2.findContours(a.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, _PALETTE[k % len(_PALETTE)], 1)
    size = max(2, max(h, w) // 60)
    for pts, colour in ((clicks, (0, 255, 0)), (unclicks, (255, 0, 0))):
        for x, y in check_clicks(pts, h, w):
            c = (int(x), int(y))
            cv2.drawMarker(out, c, (0, 0, 0), cv2.MARKER_CROSS, 2 * size + 3, 3)
            cv2.drawMarker(out, c, colour, cv2.MARKER_CROSS, 2 * size + 1, 1)
    return out
