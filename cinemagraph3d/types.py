"""Typed objects passed between the stages of the pipeline.

All tensors are ``torch.float32`` unless stated otherwise. Shapes use ``H, W`` for the working
resolution, ``L`` for the number of LDI layers, ``P`` for points, ``C`` for feature channels and
``T`` for camera poses. Depth is z-depth along the optical axis (see ``docs/conventions.md``).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import torch

__all__ = [
    "DepthMap",
    "LayeredDepthImage",
    "FeatureCloud",
    "SplatResult",
    "MotionField",
    "SceneFlow",
]


@dataclass(frozen=True)
class DepthMap:
    """Per-pixel z-depth of the input photo.

    Attributes:
        depth: ``(1, H, W)`` z-depth, strictly positive and finite, in scene units
            (the units of a user's depth file, or the documented relative scale).
        metric: True when ``depth`` keeps the units of a user-supplied z-depth file.
        source: name of the backend that produced it (``"file"``, ``"heuristic"``...).
    """

    depth: torch.Tensor
    metric: bool = False
    source: str = "unknown"

    @property
    def disparity(self) -> torch.Tensor:
        """``(1, H, W)`` inverse depth ``1 / depth`` in 1/scene-units."""
        return 1.0 / self.depth


@dataclass(frozen=True)
class LayeredDepthImage:
    """A layered depth image: ``L`` RGB-D layers ordered from near (0) to far (L-1).

    Attributes:
        color: ``(L, 3, H, W)`` colour in [0, 1]; inside each layer's support it is the photo
            (visible pixels) or inpainted colour (pixels hidden behind nearer layers).
        depth: ``(L, 1, H, W)`` z-depth in scene units; inpainted depth lies behind the occluder.
        alpha: ``(L, 1, H, W)`` in [0, 1]; 0 outside the layer's support.
        visible: ``(L, 1, H, W)`` bool, the pixels of the photo assigned to each layer (the
            layers' visible masks partition the image).
        labels: ``(H, W)`` int64 index of the layer each photo pixel belongs to.
    """

    color: torch.Tensor
    depth: torch.Tensor
    alpha: torch.Tensor
    visible: torch.Tensor
    labels: torch.Tensor

    @property
    def num_layers(self) -> int:
        """Number of layers ``L``."""
        return int(self.color.shape[0])


@dataclass(frozen=True)
class FeatureCloud:
    """Points lifted from an LDI into the input camera frame (= the world frame).

    Attributes:
        points: ``(P, 3)`` positions in the input camera frame, scene units.
        features: ``(P, C)`` per-point features (RGB in [0, 1] for the classic preset).
        alpha: ``(P,)`` opacity in [0, 1].
        pixels: ``(P, 2)`` source pixel centre ``(u, v)`` in the input image, pixels.
        layer: ``(P,)`` int64 LDI layer index of each point.
        inpainted: ``(P,)`` bool, True for points created by inpainting (hidden in the photo).
    """

    points: torch.Tensor
    features: torch.Tensor
    alpha: torch.Tensor
    pixels: torch.Tensor
    layer: torch.Tensor
    inpainted: torch.Tensor

    @property
    def num_points(self) -> int:
        """Number of points ``P``."""
        return int(self.points.shape[0])


class SplatResult(tuple):
    """Output of the splatting renderer: ``(features, depth, alpha)``.

    Attributes:
        features: ``(C, H, W)`` normalised feature map (0 where nothing landed).
        depth: ``(1, H, W)`` weighted z-depth of the accepted surface (0 where nothing landed).
        alpha: ``(1, H, W)`` coverage in [0, 1].
    """

    __slots__ = ()

    def __new__(cls, features: torch.Tensor, depth: torch.Tensor, alpha: torch.Tensor):
        return super().__new__(cls, (features, depth, alpha))

    @property
    def features(self) -> torch.Tensor:
        return self[0]

    @property
    def depth(self) -> torch.Tensor:
        return self[1]

    @property
    def alpha(self) -> torch.Tensor:
        return self[2]


@dataclass(frozen=True)
class MotionField:
    """Eulerian motion field of the fluid regions.

    Attributes:
        flow: ``(2, H, W)`` motion ``(dx, dy)`` in pixels per motion step at the working
            resolution; exactly zero outside the moving regions and at anchors.
        mask: ``(1, H, W)`` float in [0, 1], the union of the moving regions.
        turbulence: optional loop-periodic turbulence added to ``flow`` during integration
            (a :class:`cinemagraph3d.motion.turbulence.Turbulence`), or ``None``.
    """

    flow: torch.Tensor
    mask: torch.Tensor
    turbulence: object | None = None


class SceneFlow(abc.ABC):
    """The scene flow the renderer takes: the integrated 2-D displacement of every source pixel
    at any scene time of one loop; the renderer lifts it to 3-D at each point's depth
    (fronto-parallel, :func:`cinemagraph3d.motion.lift_offsets`).

    :class:`cinemagraph3d.motion.Displacements` (from
    :func:`~cinemagraph3d.motion.integrate_motion`) is the implementation the pipeline builds;
    an analytic flow subclasses this and implements the two maps.

    Attributes:
        num_steps: loop length ``N`` in motion steps.
    """

    num_steps: int

    @abc.abstractmethod
    def forward(self, t: float) -> torch.Tensor:
        """``(2, H, W)`` displacement in pixels from time 0 to ``t`` (``0 <= t <= N``)."""

    @abc.abstractmethod
    def backward(self, t: float) -> torch.Tensor:
        """``(2, H, W)`` displacement in pixels from time 0 to ``t − N``."""
