"""Depth and mask metrics on the procedural landscapes, and the ``landscapes`` evaluation suite.

Depth metrics (``pred`` and ``gt`` are z-depth maps ``(H, W)``; only their order matters):

* **ordinal accuracy across depth edges** — pairs of pixels ``(p, p + k·e)`` for ``e`` the unit
  x and y steps and ``k = offset`` pixels, that lie on two different objects whose true depths
  differ by more than ``ratio`` (a depth edge between them); the score is the fraction of those
  pairs whose predicted depths are ordered like the true ones (a tie is wrong);
* **depth-edge recall** — the true depth edges are the pixels with a 4-neighbour on another
  object at a depth ratio above ``ratio``; a predicted edge pixel is one whose 3×3 neighbourhood
  spans a predicted depth ratio above ``ratio``; recall is the share of true edge pixels with a
  predicted edge pixel within ``tolerance`` pixels;
* **orderings** — for each ``(nearer, farther)`` pair of a scene, whether the median predicted
  depth of ``nearer`` is smaller than that of ``farther``;
* **lean** of an upright object — ratio of its median predicted disparity in the top fifth of its
  rows to that in the bottom fifth. Under a translating camera the image parallax of a point is
  proportional to its disparity, so 1 means the object translates and < 1 that its top moves
  less than its base (it leans); the truth is 1 for every upright card.

Mask metrics: IoU with the true region, *oversize* ``|mask| / |region| - 1`` and, for the
automatic sky, the share of the mask outside the open sky and the sky recall.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from ..errors import InputError
from .landscapes import LANDSCAPES, Landscape, make_landscape

__all__ = [
    "ordinal_accuracy",
    "depth_edge_recall",
    "lean_ratio",
    "mask_scores",
    "click_points",
    "LandscapeResult",
    "run_landscapes",
    "format_landscape_report",
    "landscape_picture",
    "run_landscape_sizes",
    "landscapes_markdown",
    "SIZES",
]


def _np(x) -> np.ndarray:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)


def _depth2d(x, name: str) -> np.ndarray:
    a = _np(x).astype(np.float64)
    if a.ndim == 3 and a.shape[0] == 1:
        a = a[0]
    if a.ndim != 2 or not np.isfinite(a).all() or a.min() <= 0:
        raise InputError(name, "a finite (H, W) or (1, H, W) z-depth > 0", f"shape {a.shape}")
    return a


def _edge_pairs(gt: np.ndarray, objects: np.ndarray, offset: int, ratio: float):
    """Index pairs across true depth edges: ``(p_rows, p_cols, q_rows, q_cols)``."""
    h, w = gt.shape
    out = []
    for dy, dx in ((0, offset), (offset, 0)):
        a_obj, b_obj = objects[: h - dy, : w - dx], objects[dy:, dx:]
        a_z, b_z = gt[: h - dy, : w - dx], gt[dy:, dx:]
        sel = (a_obj != b_obj) & (np.maximum(a_z, b_z) > ratio * np.minimum(a_z, b_z))
        r, c = np.nonzero(sel)
        out.append((r, c, r + dy, c + dx))
    return tuple(np.concatenate([o[i] for o in out]) for i in range(4))


def ordinal_accuracy(pred, gt, objects, offset: int = 4, ratio: float = 1.1) -> float:
    """Fraction of pixel pairs across true depth edges ordered right by ``pred`` (see module).

    Args:
        pred, gt: ``(H, W)`` (or ``(1, H, W)``) z-depth.
        objects: ``(H, W)`` object ids.
        offset: pixel distance of a pair.
        ratio: true depth ratio above which two objects are separated by a depth edge.

    Returns:
        Accuracy in [0, 1]; ``nan`` without any depth edge.
    """
    p, g = _depth2d(pred, "pred"), _depth2d(gt, "gt")
    obj = _np(objects)
    if p.shape != g.shape or obj.shape != g.shape:
        raise InputError("pred/gt/objects", "maps of one size", (p.shape, g.shape, obj.shape))
    pr, pc, qr, qc = _edge_pairs(g, obj, offset, ratio)
    if pr.size == 0:
        return math.nan
    sg = np.sign(g[pr, pc] - g[qr, qc])
    sp = np.sign(p[pr, pc] - p[qr, qc])
    return float((sg == sp).mean())


def _true_edges(gt: np.ndarray, objects: np.ndarray, ratio: float) -> np.ndarray:
    e = np.zeros(gt.shape, bool)
    pr, pc, qr, qc = _edge_pairs(gt, objects, 1, ratio)
    e[pr, pc] = True
    e[qr, qc] = True
    return e


def depth_edge_recall(pred, gt, objects, ratio: float = 1.1, tolerance: int = 2) -> float:
    """Share of true depth-edge pixels with a predicted depth edge within ``tolerance`` px."""
    p, g = _depth2d(pred, "pred"), _depth2d(gt, "gt")
    obj = _np(objects)
    true = _true_edges(g, obj, ratio)
    if not true.any():
        return math.nan
    lp = np.log(p).astype(np.float32)
    k = np.ones((3, 3), np.uint8)
    span = cv2.dilate(lp, k) - cv2.erode(lp, k)
    pe = (span > math.log(ratio)).astype(np.uint8)
    near = cv2.dilate(pe, np.ones((2 * tolerance + 1,) * 2, np.uint8)) > 0
    return float(near[true].mean())


def lean_ratio(pred, mask) -> float:
    """Top-fifth / bottom-fifth median predicted disparity of an upright object (1 = no lean)."""
    p = _depth2d(pred, "pred")
    m = _np(mask).astype(bool)
    rows = np.nonzero(m.any(axis=1))[0]
    if rows.size < 5:
        return math.nan
    lo, hi = rows.min(), rows.max() + 1
    n = max(1, (hi - lo) // 5)
    top = m.copy()
    top[lo + n :] = False
    bot = m.copy()
    bot[: hi - n] = False
    return float(np.median(1.0 / p[top]) / np.median(1.0 / p[bot]))


def mask_scores(mask, region) -> dict[str, float]:
    """IoU, oversize (``|mask|/|region| - 1``), outside share and recall of a mask."""
    m, r = _np(mask).astype(bool), _np(region).astype(bool)
    inter, union = float((m & r).sum()), float((m | r).sum())
    return {
        "iou": inter / union if union else math.nan,
        "oversize": float(m.sum()) / max(float(r.sum()), 1.0) - 1.0,
        "outside": float((m & ~r).sum()) / max(float(m.sum()), 1.0),
        "recall": inter / max(float(r.sum()), 1.0),
    }


def click_points(region, n: int = 5, seed: int = 0) -> list[tuple[float, float]]:
    """``n`` click positions ``(x, y)`` inside a region, deterministic: its deepest interior
    point, then points drawn (seeded) from the pixels at least a third of that depth inside,
    where a user would click."""
    r = _np(region).astype(np.uint8)
    dist = cv2.distanceTransform(np.pad(r, 1), cv2.DIST_L2, 5)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
    pts = [(x + 0.5, y + 0.5)]
    ys, xs = np.nonzero(dist >= max(1.0, dist.max() / 3))
    rng = np.random.default_rng(seed)
    for i in rng.choice(len(ys), size=min(n - 1, len(ys)), replace=False):
        pts.append((xs[i] + 0.5, ys[i] + 0.5))
    return pts


@dataclass
class LandscapeResult:
    """Scores of :func:`run_landscapes` per scene.

    Attributes:
        size: ``(W, H)`` of the scenes.
        depth: ``{scene: {method: {"ordinal", "edge_recall", "orderings": [(a, b, ok)],
            "lean": {object: ratio}}}}``.
        clicks: ``{scene: {region: {"mean_iou", "min_iou", "max_oversize", "n"}}}``.
        sky: ``{scene: {"outside", "recall", "iou"}}``.
        pictures: ``{scene: {"image", "truth", <method>: disparity, "sky", ...}}`` ``(H, W[, 3])``.
    """

    size: tuple[int, int]
    depth: dict = field(default_factory=dict)
    clicks: dict = field(default_factory=dict)
    sky: dict = field(default_factory=dict)
    pictures: dict = field(default_factory=dict)


def _depth_methods() -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    from ..depth import heuristic_depth, ramp_depth

    return {
        "popup": lambda img: heuristic_depth(img).depth,
        "ramp (before)": lambda img: ramp_depth(img).depth,
    }


def _score_depth(L: Landscape, z: torch.Tensor) -> dict:
    pred = z[0].numpy().astype(np.float64)
    orders = []
    for a, b in L.orderings:
        za = float(np.median(pred[L.mask(a).numpy()]))
        zb = float(np.median(pred[L.mask(b).numpy()]))
        orders.append((a, b, za < zb))
    return {
        "ordinal": ordinal_accuracy(pred, L.depth, L.objects),
        "edge_recall": depth_edge_recall(pred, L.depth, L.objects),
        "orderings": orders,
        "lean": {v: lean_ratio(pred, L.mask(v)) for v in L.vertical},
    }


def run_landscapes(
    width: int = 320,
    height: int = 192,
    scenes: tuple[str, ...] | None = None,
    clicks_per_region: int = 5,
    progress: Callable[[str], None] | None = None,
) -> LandscapeResult:
    """Score depth (popup and the previous ramp), single clicks and the automatic sky on the
    procedural landscapes.

    Args:
        width, height: scene size in pixels.
        scenes: names among :data:`~cinemagraph3d.eval.landscapes.LANDSCAPES` (default all).
        clicks_per_region: single clicks tried per click region (:func:`click_points`).
        progress: called with one line per scene.
    """
    from ..controls import detect_sky, segment_clicks

    names = tuple(scenes) if scenes else tuple(LANDSCAPES)
    res = LandscapeResult((width, height))
    methods = _depth_methods()
    for name in names:
        L = make_landscape(name, width, height)
        pics = {"image": L.image.permute(1, 2, 0).numpy(), "truth": (1.0 / L.depth[0]).numpy()}
        res.depth[name] = {}
        for mname, fn in methods.items():
            z = fn(L.image)
            res.depth[name][mname] = _score_depth(L, z)
            pics[mname] = (1.0 / z[0]).numpy()
        res.clicks[name] = {}
        for rname, region in L.regions.items():
            ious, over = [], []
            for p in click_points(region, clicks_per_region):
                s = mask_scores(segment_clicks(L.image, [p]), region)
                ious.append(s["iou"])
                over.append(s["oversize"])
            res.clicks[name][rname] = {
                "mean_iou": float(np.mean(ious)),
                "min_iou": float(np.min(ious)),
                "max_oversize": float(np.max(over)),
                "n": len(ious),
            }
        sky = detect_sky(L.image).mask
        res.sky[name] = mask_scores(sky, L.sky)
        pics["sky"] = sky.numpy()
        res.pictures[name] = pics
        if progress is not None:
            d = res.depth[name]["popup"]
            progress(f"{name}: popup ordinal {d['ordinal']:.3f}, edge recall {d['edge_recall']:.3f}")
    return res


def _f(v: float, digits: int = 3) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def format_landscape_report(
    res: LandscapeResult, command: str, pictures: dict[str, str] | None = None
) -> str:
    """Markdown tables of a :class:`LandscapeResult` (pictures: ``{scene: relative path}``)."""
    W, H = res.size
    lines = [
        "# Depth and mask quality on procedural landscapes",
        "",
        f"Generated by `{command}` ({W}×{H} scenes of `cinemagraph3d/eval/landscapes.py`, then the",
        "same scenes at twice the size; metrics in",
        "`cinemagraph3d/eval/depth_metrics.py`). The scenes are procedural: their depth and regions are",
        "exact, but they are simpler than photos; the targets of issue 12 are also checked on real photos",
        "that this repository does not hold.",
        "",
        "## Depth (training-free)",
        "",
        "Ordinal accuracy across depth edges (target ≥ 0.9), depth-edge recall (2 px), the scene's",
        "orderings (✓ right, ✗ wrong) and the lean of upright objects (top/bottom parallax, truth 1).",
        "",
        "| scene | method | ordinal | edge recall | orderings | lean |",
        "|---|---|---|---|---|---|",
    ]
    means: dict[str, list] = {}
    for scene, per in res.depth.items():
        for m, d in per.items():
            orders = ", ".join(
                f"{a}<{b} {'✓' if ok else '✗'}".replace("<", " nearer than ") for a, b, ok in d["orderings"]
            )
            lean = ", ".join(f"{k} {_f(v, 2)}" for k, v in d["lean"].items())
            lines.append(
                f"| {scene} | {m} | {_f(d['ordinal'])} | {_f(d['edge_recall'])} | {orders} | {lean} |"
            )
            means.setdefault(m, []).append(
                (d["ordinal"], d["edge_recall"], sum(ok for *_, ok in d["orderings"]), len(d["orderings"]))
            )
    lines += ["", "| method | mean ordinal | mean edge recall | orderings right |", "|---|---|---|---|"]
    for m, rows in means.items():
        a = np.array(rows, float)
        lines.append(
            f"| {m} | {_f(np.nanmean(a[:, 0]))} | {_f(np.nanmean(a[:, 1]))} | {int(a[:, 2].sum())}/{int(a[:, 3].sum())} |"
        )
    lines += [
        "",
        "## Single click (training-free segmenter)",
        "",
        "Each region is clicked once at several positions (its deepest interior point, then seeded",
        "points well inside it); targets: IoU ≥ 0.8, oversize ≤ 0.25.",
        "",
        "| scene | region | clicks | mean IoU | min IoU | max oversize |",
        "|---|---|---|---|---|---|",
    ]
    for scene, per in res.clicks.items():
        for r, c in per.items():
            lines.append(
                f"| {scene} | {r} | {c['n']} | {_f(c['mean_iou'])} | {_f(c['min_iou'])} | {_f(c['max_oversize'], 2)} |"
            )
    lines += [
        "",
        "## Automatic sky",
        "",
        "Share of the mask outside the open sky (target ≤ 0.02; gaps between leaves count as outside)",
        "and sky recall (target ≥ 0.95).",
        "",
        "| scene | outside | recall | IoU |",
        "|---|---|---|---|",
    ]
    for scene, s in res.sky.items():
        lines.append(f"| {scene} | {_f(s['outside'])} | {_f(s['recall'])} | {_f(s['iou'])} |")
    if pictures:
        lines += ["", "## Pictures", "", "Photo, true disparity, popup, previous ramp, automatic sky.", ""]
        for scene, path in pictures.items():
            lines.append(f"![{scene}]({path})")
    return "\n".join(lines) + "\n"


def landscape_picture(pics: dict) -> np.ndarray:
    """``(H, 5W, 3)`` uint8 strip: photo, true disparity, popup, ramp, sky mask."""

    def grey(d):
        d = np.asarray(d, np.float64)
        d = (d - d.min()) / max(d.max() - d.min(), 1e-12)
        return np.repeat((np.sqrt(d) * 255)[..., None], 3, axis=2)

    parts = [pics["image"] * 255, grey(pics["truth"]), grey(pics["popup"]), grey(pics["ramp (before)"]),
             np.repeat(pics["sky"][..., None] * 255.0, 3, axis=2)]  # fmt: skip
    return np.clip(np.concatenate(parts, axis=1), 0, 255).astype(np.uint8)


#: Sizes of the ``landscapes`` suite: the methods must not depend on the resolution.
SIZES = ((320, 192), (640, 384))


def run_landscape_sizes(
    sizes: tuple[tuple[int, int], ...] = SIZES, progress: Callable[[str], None] | None = None
) -> list[LandscapeResult]:
    """:func:`run_landscapes` at every ``(W, H)`` of ``sizes`` (the ``landscapes`` suite)."""
    results = []
    for w, h in sizes:
        if progress is not None:
            progress(f"{w}×{h}")
        results.append(run_landscapes(w, h, progress=progress))
    return results


def landscapes_markdown(
    results: list[LandscapeResult], command: str, pictures: dict[str, str] | None = None
) -> str:
    """The Markdown report of :func:`run_landscape_sizes` (``docs/quality_depth.md``): the first
    size's tables with ``pictures`` (``{scene: relative path}``), then the tables of the others."""
    text = format_landscape_report(results[0], command, pictures)
    for extra in results[1:]:
        body = format_landscape_report(extra, command).split("## Depth (training-free)", 1)[1]
        text += f"\n# The same at {extra.size[0]}×{extra.size[1]}\n\n## Depth (training-free)" + body
    return text
