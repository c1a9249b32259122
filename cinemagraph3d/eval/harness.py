"""Evaluation harness: suites of analytic scenes, every method rendered and scored per region.

For each case of a suite: build the analytic scene, give the pipeline its exact photo, depth and
motion (:func:`~cinemagraph3d.eval.scenes.input_truth`), build the camera path with the renderer's
safe zoom, ray-cast the true video along it (:func:`~cinemagraph3d.eval.scenes.video_truth`),
render every method (:mod:`~cinemagraph3d.eval.baselines`) and score it against the truth in the
regions ``all``, ``fluid``, ``static`` and ``disoccluded``. The truth scored against itself is
reported as the method ``truth``: the floor of each metric (e.g. the optical-flow estimator's own
error).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from ..errors import BackendError, InputError
from ..geometry.trajectory import TrajectorySettings, make_trajectory
from ..pipeline import RenderSettings, prepare_scene
from ..types import DepthMap
from . import metrics as M
from .baselines import METHODS, render_method, zoomed_trajectory
from .scenes import REGIONS, VideoTruth, input_truth, make_scene, video_truth

__all__ = [
    "Case",
    "Suite",
    "SUITES",
    "REGION_NAMES",
    "METRICS",
    "EvalResult",
    "get_suite",
    "score_video",
    "run_suite",
    "motion_from_hints",
]

REGION_NAMES = ("all", *REGIONS)
#: Metric keys, in table order. ``lpips`` is present only when LPIPS is available.
METRICS = ("psnr", "ssim", "lpips", "epe", "warp", "seam", "stability", "holes")
MOTION_SOURCES = ("truth", "hints")


@dataclass(frozen=True)
class Case:
    """One scene of a suite.

    Attributes:
        scene: name in :data:`~cinemagraph3d.eval.scenes.SCENES`.
        width, height: image size in pixels.
        num_frames: output frames ``K`` (one loop).
        num_steps: loop length ``N`` in motion steps.
        camera: built-in camera path name.
        amplitude: camera amplitude as a fraction of the near depth.
        speed: fluid image speed in pixels per step (see each scene).
    """

    scene: str
    width: int
    height: int
    num_frames: int
    num_steps: int
    camera: str
    amplitude: float
    speed: float = 1.5


@dataclass(frozen=True)
class Suite:
    """A named list of cases."""

    name: str
    description: str
    cases: tuple[Case, ...]


SUITES: dict[str, Suite] = {
    "tiny": Suite(
        "tiny",
        "two scenes at 64×48, 8 frames, 8 steps (for tests; seconds)",
        (
            Case("lake", 64, 48, 8, 8, "circle", 0.05),
            Case("falls", 64, 48, 8, 8, "side", 0.06),
        ),
    ),
    "standard": Suite(
        "standard",
        "three scenes at 256×144, 32 frames, 32 steps",
        (
            Case("lake", 256, 144, 32, 32, "circle", 0.05),
            Case("falls", 256, 144, 32, 32, "swing", 0.06),
            Case("window", 256, 144, 32, 32, "circle", 0.05),
        ),
    ),
}


def get_suite(name: str) -> Suite:
    """The suite called ``name``; raises :class:`InputError` for an unknown name."""
    if name not in SUITES:
        raise InputError("suite", f"one of {', '.join(SUITES)}", repr(name))
    return SUITES[name]


@dataclass
class EvalResult:
    """Scores of a suite run.

    Attributes:
        suite: suite name.
        motion: motion source (``truth`` or ``hints``).
        scenes: scene names in order.
        methods: method names in order (``truth`` last).
        scores: ``{(scene, method, region): {metric: value}}``.
        samples: ``{scene: {"index": k, "truth": (3,H,W), <method>: (3,H,W), "regions": (3,H,W)}}``
            one frame of every video for the report.
        lpips: whether LPIPS was computed.
        backend: splatting backend the renderer used.
    """

    suite: str
    motion: str
    scenes: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    scores: dict = field(default_factory=dict)
    samples: dict = field(default_factory=dict)
    lpips: bool = False
    backend: str = ""

    def mean(self, method: str, region: str) -> dict[str, float]:
        """Mean of each metric over scenes (nan entries skipped; ``inf`` propagates)."""
        out = {}
        for key in METRICS:
            vals = [self.scores[(s, method, region)].get(key, math.nan) for s in self.scenes]
            vals = [v for v in vals if not math.isnan(v)]
            out[key] = float(np.mean(vals)) if vals else math.nan
        return out


def motion_from_hints(truth) -> object:
    """Motion the way a user gets it: :func:`cinemagraph3d.motion.motion_field` from the true
    masks and hints, then :func:`cinemagraph3d.motion.integrate_motion`."""
    try:
        from ..motion import MotionHints, MotionRegion, integrate_motion, motion_field
    except ImportError as exc:  # pragma: no cover - the package ships with the library
        raise BackendError(f"motion package unavailable: {exc}") from None
    H, W = truth.camera.height, truth.camera.width
    # The analytic fluids are rigid translations: no turbulence.
    regions = [MotionRegion(r.mask, MotionHints(r.starts, r.vectors), turbulence=0.0) for r in truth.regions]
    return integrate_motion(motion_field(H, W, regions), truth.num_steps)


def _pair(mask: torch.Tensor) -> torch.Tensor:
    """Masks of cyclic pairs: set in frame ``k`` and in frame ``k + 1``."""
    return mask & torch.roll(mask, -1, dims=0)


def score_video(
    frames: torch.Tensor,
    alpha: torch.Tensor | None,
    truth: VideoTruth,
    use_lpips: bool = False,
    measured_flow: torch.Tensor | None = None,
) -> dict[str, dict[str, float]]:
    """Score a video against the truth in every region.

    Args:
        frames: ``(K, 3, H, W)`` video.
        alpha: ``(K, 1, H, W)`` coverage before hole filling, or None (no ``holes``).
        truth: :class:`VideoTruth` of the same camera path.
        use_lpips: also compute LPIPS (whole frames only).
        measured_flow: ``(K, 2, H, W)`` optical flow of each pair of ``frames`` (computed with
            :func:`metrics.optical_flow` when None).

    Returns:
        ``{region: {metric: value}}`` for ``all, fluid, static, disoccluded``; the metrics
        are described in :mod:`cinemagraph3d.eval.metrics` (``stability`` is the static
        region's, also reported under ``all``).
    """
    K = frames.shape[0]
    if measured_flow is None:
        measured_flow = torch.stack([M.optical_flow(frames[k], frames[(k + 1) % K]) for k in range(K)])
    G = truth.frames
    ones = torch.ones(K, 1, *frames.shape[-2:], dtype=torch.bool)
    masks = {"all": ones}
    for i, name in enumerate(REGIONS):
        masks[name] = truth.regions[:, i : i + 1]
    out: dict[str, dict[str, float]] = {}
    smap = M.ssim_map(frames, G)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for region, m in masks.items():
            pm = _pair(m)
            s = {
                "psnr": M.psnr(frames, G, m),
                "ssim": M._masked_mean(smap, m),
                "epe": M.endpoint_error(measured_flow, truth.flow_fwd, truth.valid_fwd & m),
                "warp": M.warping_error(frames, truth.flow_bwd, truth.valid_bwd & torch.roll(m, -1, dims=0)),
                "seam": M.loop_seam_score(frames, pm, reference=G),
                "holes": math.nan if alpha is None else M.hole_ratio(alpha, m),
            }
            if region == "all" and use_lpips:
                s["lpips"] = M.lpips_distance(frames, G)
            out[region] = s
        stab = M.static_stability(frames, G, _pair(masks["static"]))
    out["static"]["stability"] = stab
    out["all"]["stability"] = stab
    return out


def _region_picture(truth: VideoTruth, k: int) -> torch.Tensor:
    """``(3, H, W)`` picture of the regions of frame ``k``: fluid blue, static grey,
    disoccluded red, over a dimmed copy of the true frame."""
    colours = torch.tensor([[0.2, 0.45, 1.0], [0.55, 0.55, 0.55], [1.0, 0.15, 0.1]])
    r = truth.regions[k].float()  # (3, H, W)
    tint = torch.einsum("rc,rhw->chw", colours, r)
    return 0.5 * tint + 0.5 * truth.frames[k].mean(0, keepdim=True)


def run_suite(
    suite: Suite | str,
    methods: tuple[str, ...] | list[str] = METHODS,
    motion: str = "truth",
    use_lpips: bool | None = None,
    settings: RenderSettings | None = None,
    progress: Callable[[str], None] | None = None,
) -> EvalResult:
    """Render and score every method on every case of a suite.

    Args:
        suite: :class:`Suite` or its name.
        methods: subset of :data:`~cinemagraph3d.eval.baselines.METHODS`.
        motion: ``"truth"`` (the exact displacements of the analytic scene) or ``"hints"`` (the
            library's motion field from the true masks and hints, then Euler integration).
        use_lpips: compute LPIPS; ``None``: when available locally.
        settings: base :class:`RenderSettings` of the methods.
        progress: called with one line per finished case.

    Returns:
        :class:`EvalResult`.
    """
    suite = get_suite(suite) if isinstance(suite, str) else suite
    methods = list(methods)
    for m in methods:
        if m not in METHODS:
            raise InputError("methods", f"names among {', '.join(METHODS)}", repr(m))
    if not methods:
        raise InputError("methods", "at least one method", "none")
    if motion not in MOTION_SOURCES:
        raise InputError("motion", f"one of {', '.join(MOTION_SOURCES)}", repr(motion))
    if use_lpips is None:
        use_lpips = M.lpips_available()
    from ..render import active_backend

    backend = active_backend(backend=settings.backend if settings is not None else None)
    result = EvalResult(
        suite.name, motion, methods=[*methods, "truth"], lpips=bool(use_lpips), backend=backend
    )
    for case in suite.cases:
        analytic = make_scene(case.scene, case.width, case.height, case.num_steps, case.speed)
        inp = input_truth(analytic)
        scene = prepare_scene(inp.image, DepthMap(inp.depth, metric=True, source="analytic"), inp.camera)
        traj = make_trajectory(
            TrajectorySettings(case.camera, case.num_frames, case.amplitude),
            inp.camera,
            scene.z_near,
            scene.z_subject,
        )
        traj = zoomed_trajectory(scene, traj)
        truth = video_truth(analytic, traj)
        disp = inp.motion if motion == "truth" else motion_from_hints(inp)
        k_show = case.num_frames // 4
        sample = {"index": k_show, "truth": truth.frames[k_show], "regions": _region_picture(truth, k_show)}
        name = case.scene
        result.scenes.append(name)
        for m in methods:
            out = render_method(m, scene, traj, disp, case.num_steps, settings)
            for region, s in score_video(out.frames, out.alpha, truth, use_lpips).items():
                result.scores[(name, m, region)] = s
            sample[m] = out.frames[k_show]
        for region, s in score_video(truth.frames, None, truth, use_lpips).items():
            result.scores[(name, "truth", region)] = s
        result.samples[name] = sample
        if progress is not None:
            full = result.scores.get((name, methods[0], "all"), {})
            progress(f"{name}: {case.width}×{case.height}, {case.num_frames} frames, camera {case.camera}; "
                     f"{methods[0]} PSNR {full.get('psnr', math.nan):.2f} dB")  # fmt: skip
    return result
