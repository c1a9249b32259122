"""Tables, pictures and the Markdown report of an evaluation run.

:func:`format_tables` and :func:`report_markdown` are pure (they return text);
:func:`write_report` is the only function here that writes files (called by the ``eval`` CLI).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import torch

from .harness import REGION_NAMES, EvalResult

__all__ = [
    "COLUMNS",
    "format_tables",
    "summary_lines",
    "report_markdown",
    "comparison_picture",
    "write_report",
]

#: ``(metric key, header, scale, format)``; values are multiplied by ``scale`` for display.
COLUMNS = (
    ("psnr", "PSNR↑ dB", 1.0, "{:.2f}"),
    ("ssim", "SSIM↑", 1.0, "{:.3f}"),
    ("lpips", "LPIPS↓", 1.0, "{:.3f}"),
    ("epe", "EPE↓ px", 1.0, "{:.2f}"),
    ("warp", "warp↓ /255", 255.0, "{:.2f}"),
    ("seam", "seam (1 best)", 1.0, "{:.2f}"),
    ("stability", "stab↓ /255", 255.0, "{:.2f}"),
    ("holes", "holes↓ %", 100.0, "{:.1f}"),
)


def _fmt(value: float, scale: float, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    v = value * scale
    if abs(v) >= 1e4:
        return f"{v:.1e}"
    return fmt.format(v)


def _columns(result: EvalResult, keys: tuple[str, ...] | None = None):
    cols = [c for c in COLUMNS if result.lpips or c[0] != "lpips"]
    return [c for c in cols if keys is None or c[0] in keys]


def _table(headers: list[str], rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = [
            "| " + " | ".join(headers) + " |",
            "|" + "|".join("---" if i < 2 else "---:" for i in range(len(headers))) + "|",
        ]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells):
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


def format_tables(result: EvalResult, markdown: bool = False) -> tuple[str, str]:
    """The two tables of a run.

    Returns:
        ``(per_scene, per_region)``: whole-frame scores per scene and method followed by the mean
        over scenes; and the mean over scenes per region (``fluid``, ``static``, ``disoccluded``)
        and method.
    """
    cols = _columns(result)
    headers = ["scene", "method", *[c[1] for c in cols]]
    rows = []
    for scene in [*result.scenes, "mean"]:
        for m in result.methods:
            s = result.mean(m, "all") if scene == "mean" else result.scores[(scene, m, "all")]
            rows.append([scene, m, *[_fmt(s.get(k, math.nan), sc, f) for k, _, sc, f in cols]])
    per_scene = _table(headers, rows, markdown)
    rcols = [c for c in cols if c[0] not in ("lpips", "stability")]
    headers = ["region", "method", *[c[1] for c in rcols]]
    rows = []
    for region in REGION_NAMES[1:]:
        for m in result.methods:
            s = result.mean(m, region)
            rows.append([region, m, *[_fmt(s.get(k, math.nan), sc, f) for k, _, sc, f in rcols]])
    return per_scene, _table(headers, rows, markdown)


def _label(image: np.ndarray, text: str) -> np.ndarray:
    """``image`` (H, W, 3) uint8 with a dark title bar of ``text`` above it."""
    import cv2

    h, w, _ = image.shape
    bar = np.full((16, w, 3), 24, np.uint8)
    cv2.putText(bar, text, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (235, 235, 235), 1, cv2.LINE_AA)
    return np.concatenate([bar, image], 0)


def _u8(image: torch.Tensor, scale: int) -> np.ndarray:
    arr = (image.detach().float().clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(1, 2, 0).numpy()
    return np.ascontiguousarray(arr.repeat(scale, 0).repeat(scale, 1))


def comparison_picture(result: EvalResult, scene: str, error_gain: float = 4.0) -> np.ndarray:
    """``(H', W', 3)`` uint8 picture of one frame of ``scene``: the truth and every method side by
    side (top), the region map and each method's absolute error × ``error_gain`` (bottom)."""
    s = result.samples[scene]
    truth = s["truth"]
    scale = 2 if truth.shape[-1] < 128 else 1
    methods = [m for m in result.methods if m != "truth"]
    top = [_label(_u8(truth, scale), f"truth, frame {s['index']}")]
    top += [_label(_u8(s[m], scale), m) for m in methods]
    bottom = [_label(_u8(s["regions"], scale), "fluid / static / disoccl.")]
    bottom += [
        _label(_u8(((s[m] - truth).abs() * error_gain), scale), f"|{m} - truth| x{error_gain:g}")
        for m in methods
    ]
    gap = np.full((top[0].shape[0], 2, 3), 255, np.uint8)

    def row(images):
        parts = []
        for im in images:
            parts += [im, gap]
        return np.concatenate(parts[:-1], 1)

    return np.concatenate([row(top), np.full((2, row(top).shape[1], 3), 255, np.uint8), row(bottom)], 0)


_METRIC_NOTES = """\
* **PSNR / SSIM** against the ray-cast truth of the same frame (dB; SSIM unitless, kornia,
  Gaussian window 11). LPIPS appears only when the `lpips` package and AlexNet weights are present
  locally (never downloaded).
* **EPE**: end-point error (px) between the true optical flow of each consecutive frame pair
  (camera parallax + fluid motion, from the analytic scene) and the flow measured in the video
  by OpenCV DIS. The `truth` row is the flow estimator's own error on the true video: the floor.
* **warp**: temporal warping error (motion smoothness): mean |O_{k+1} − warp(O_k, true flow)| over
  pixels visible in both frames, in grey levels (/255). Flicker, ghosting and wrong motion raise it.
* **seam**: max(ρ_seam, 1) / median(ρ_k) with ρ_k = (d_k + ε)/(d^G_k + ε), d_k = mean |O_{k+1} − O_k|
  of step k in the video and d^G_k in the truth (ε = 1e-3), ρ_seam the last → first step.
  1 is ideal; a jump at the wrap gives > 1; a video that moves less than intended gives
  1 / median(ρ) > 1 — a frozen one about d^G/ε, so a still video cannot score well.
* **stab**: static-region stability: mean |(O_{k+1} − O_k) − (G_{k+1} − G_k)| over static pixels
  (grey levels): spurious change where only the camera should change the image.
* **holes**: share of the output colour that comes from hole filling, mean(1 − α) of the splat
  coverage before filling (%).
* Regions (per output frame, from the truth): **fluid** — inside a moving window; **static** —
  other surfaces seen in the photo; **disoccluded** — surfaces hidden from the photo's camera.
"""


def summary_lines(result: EvalResult) -> list[str]:
    """Plain-language comparisons computed from the means: what each part of the method buys
    (``full`` against each baseline) and where the method is weakest."""
    have = set(result.methods)
    lines = []

    def m(method, region, key):
        return result.mean(method, region).get(key, math.nan)

    def cmp(base, what, region, keys):
        parts = []
        for key, label in keys:
            a, b = m("full", region, key), m(base, region, key)
            if math.isnan(a) or math.isnan(b):
                continue
            if key == "psnr":
                parts.append(f"PSNR {_fmt(a, 1, '{:.2f}')} vs {_fmt(b, 1, '{:.2f}')} dB")
            else:
                col = next(c for c in COLUMNS if c[0] == key)
                parts.append(f"{label} {_fmt(a, col[2], col[3])} vs {_fmt(b, col[2], col[3])}")
        if parts:
            lines.append(f"* **{what}** (`full` vs `{base}`, {region} pixels): " + ", ".join(parts) + ".")

    if {"full", "forward"} <= have:
        cmp("forward", "Symmetric fusion", "fluid", [("psnr", ""), ("seam", "seam"), ("holes", "holes %")])
    if {"full", "2d"} <= have:
        cmp("2d", "Parallax", "static", [("psnr", ""), ("epe", "EPE px"), ("warp", "warp /255")])
    if {"full", "still"} <= have:
        cmp("still", "Fluid motion", "fluid", [("psnr", ""), ("epe", "EPE px"), ("seam", "seam")])
    if "full" in have:
        regions = [
            (m("full", r, "psnr"), r) for r in REGION_NAMES[1:] if not math.isnan(m("full", r, "psnr"))
        ]
        if regions:
            worst = min(regions)[1]
            lines.append(
                f"* **Weakest region** of `full`: {worst} (PSNR {_fmt(m('full', worst, 'psnr'), 1, '{:.2f}')} dB, "
                f"holes {_fmt(m('full', worst, 'holes'), 100, '{:.1f}')} % before filling)."
            )
    return lines


def report_markdown(
    result: EvalResult, images: dict[str, str], command: str, title: str = "Quality report"
) -> str:
    """The Markdown report: what was run, the metric definitions, both tables, and one picture
    per scene (``images``: scene → relative path)."""
    per_scene, per_region = format_tables(result, markdown=True)
    from .harness import SUITES

    suite = SUITES.get(result.suite)
    lines = [
        f"# {title}",
        "",
        "Generated by the evaluation harness (`cinemagraph3d.eval`, issue 5); do not edit by hand.",
        "Regenerate with:",
        "",
        "```",
        command,
        "```",
        "",
        f"Suite **{result.suite}**" + (f": {suite.description}." if suite else "."),
        "Scenes are analytic (textured planes, occluders and fluid windows whose textures flow at known",
        "velocities and loop exactly), ray-cast in numpy independently of the renderer. Every method gets",
        "the exact photo and depth; motion source: "
        + (
            "**truth** (the exact displacements of the scene)."
            if result.motion == "truth"
            else "**hints** (the library's motion field from the true masks and hints, Euler-integrated)."
        ),
        "Methods: `full` (the method: symmetric fusion), `forward` (forward splat only), `2d` (2-D motion,",
        "camera ignored), `still` (the photo), and `truth` (the truth scored against itself: each metric's floor).",
        f"Splatting backend: `{result.backend or 'unknown'}`.",
        "Fluid motion frame by frame (detail, ghosting, cracks, border seams, hints): [quality_motion.md](quality_motion.md).",
        "",
        "## Summary (means over scenes)",
        "",
        *summary_lines(result),
        "",
        "## Metrics",
        "",
        _METRIC_NOTES,
        "## Per scene (whole frame)",
        "",
        per_scene,
        "",
        "## Per region (mean over scenes)",
        "",
        per_region,
        "",
        "## Frames",
        "",
    ]
    for scene in result.scenes:
        if scene in images:
            lines += [f"### {scene}", "", f"![{scene}]({images[scene]})", ""]
    return "\n".join(lines)


def _scores_json(result: EvalResult) -> dict:
    def clean(v):
        return (
            None
            if isinstance(v, float) and math.isnan(v)
            else (str(v) if isinstance(v, float) and math.isinf(v) else v)
        )

    return {
        "suite": result.suite,
        "motion": result.motion,
        "backend": result.backend,
        "scenes": result.scenes,
        "methods": result.methods,
        "scores": [
            {"scene": s, "method": m, "region": r, **{k: clean(v) for k, v in d.items()}}
            for (s, m, r), d in result.scores.items()
        ],
    }


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_report(
    result: EvalResult, out_dir: str | os.PathLike, report_path: str | os.PathLike | None, command: str
) -> Path:
    """Write ``<scene>.png`` pictures and ``scores.json`` into ``out_dir`` and the Markdown report
    to ``report_path`` (default ``out_dir/report.md``); images are linked relative to the report.

    Returns:
        The report's path.
    """
    from ..io import write_png

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = Path(report_path) if report_path is not None else out / "report.md"
    report.parent.mkdir(parents=True, exist_ok=True)
    images = {}
    for scene in result.scenes:
        p = out / f"{scene}.png"
        write_png(p, comparison_picture(result, scene))
        images[scene] = Path(os.path.relpath(p, report.parent)).as_posix()
    _write_text(out / "scores.json", json.dumps(_scores_json(result), indent=1) + "\n")
    text = report_markdown(result, images, command)
    # the other quality reports beside this one (depth and masks, per-frame motion) stay linked
    # when this report is regenerated
    others = sorted(p.name for p in report.parent.glob(f"{report.stem}_*.md"))
    if others:
        text = text.rstrip("\n") + "\n\n## Other reports\n\n" + "".join(f"- [`{n}`]({n})\n" for n in others)
    _write_text(report, text)
    return report
