"""Settings dataclasses of the training code: the dataset builder and the two training stages.

Every default is documented in ``docs/training.md``; a run stores its settings as JSON
(``settings.json`` in the run directory) so a resumed run can check it continues the same run.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from ..errors import InputError

__all__ = ["DatasetSettings", "TrainSettings", "MotionTrainSettings", "RenderTrainSettings", "settings_dict"]


def _positive_int(name: str, value, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InputError(name, f"an integer >= {minimum}", repr(value))


def _number(name: str, value, lo: float = 0.0, hi: float = math.inf, lo_open: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value > lo if lo_open else value >= lo) and value <= hi
    if not ok:
        rng = f"({lo}, {hi}]" if lo_open else f"[{lo}, {hi}]"
        raise InputError(name, f"a number in {rng}", repr(value))


@dataclass(frozen=True)
class DatasetSettings:
    """How :func:`~cinemagraph3d.train.build_dataset` turns clips into training samples.

    Attributes:
        size: ``(height, width)`` of the stored frames in pixels; each clip is centre-cropped to
            this aspect ratio, then resized (area filter).
        min_frames: clips with fewer frames are skipped ("too short").
        max_frames: at most this many frames are read from the start of a clip.
        mask_fraction: a pixel belongs to the motion mask when its mean speed (mean over the
            frame pairs of the teacher flow's length) exceeds ``mask_fraction`` × the clip's mean
            speed over all pixels (then a 3×3 morphological opening and closing).
        static_speed: clips whose mean speed is below this many pixels per frame (at ``size``)
            are skipped ("static").
        max_hints: sparse hints per clip, from a k-means clustering of the flow inside the mask.
        depth_backend: depth back-end of the first frame (``cinemagraph3d.depth`` registry name).
        depth_model: model directory of a learned depth back-end (``hf``), else ``None``.
        val_fraction: share of the good clips held out for validation (at least one clip when
            there are two or more).
        seed: seed of the train/validation split.
    """

    size: tuple[int, int] = (256, 256)
    min_frames: int = 8
    max_frames: int = 60
    mask_fraction: float = 0.5
    static_speed: float = 0.05
    max_hints: int = 5
    depth_backend: str = "heuristic"
    depth_model: str | None = None
    val_fraction: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        size = tuple(self.size)
        if len(size) != 2 or any(isinstance(s, bool) or not isinstance(s, int) or s < 32 for s in size):
            raise InputError("dataset size", "(height, width) integers >= 32", repr(self.size))
        object.__setattr__(self, "size", size)
        _positive_int("dataset min_frames", self.min_frames, 2)
        _positive_int("dataset max_frames", self.max_frames, self.min_frames)
        _number("dataset mask_fraction", self.mask_fraction, 0.0, 100.0, lo_open=True)
        _number("dataset static_speed", self.static_speed, 0.0, 1e6)
        _positive_int("dataset max_hints", self.max_hints)
        _number("dataset val_fraction", self.val_fraction, 0.0, 0.9)


@dataclass(frozen=True)
class TrainSettings:
    """Settings shared by both stages (optimiser, schedule, infrastructure).

    Attributes:
        steps: optimisation steps (one global batch each).
        batch_size: global batch (all ranks together); must be a multiple of the world size.
        lr_g, lr_d: Adam learning rates of the generator (the trained networks) and the
            discriminator.
        betas: Adam betas of both optimisers.
        decay_start: fraction of ``steps`` after which both learning rates decay linearly to 0.
        w_gan, w_fm: weights of the hinge GAN loss and of the discriminator feature matching.
        grad_clip: maximum global gradient norm of each optimiser's parameters (0 disables).
        disc_scales, disc_layers, disc_channels: multi-scale patch discriminator (number of image
            scales, stride-2 layers per scale, channels of the first layer).
        checkpoint_every: write a checkpoint every N steps (and at the last step).
        keep_checkpoints: newest checkpoints kept (older ones are deleted).
        validate_every: run validation every K steps (and at the last step).
        seed: seed of the network initialisation, the data order and per-sample randomness.
        device: ``"auto"`` (CUDA when available, else CPU), ``"cpu"`` or ``"cuda"``.
        amp: mixed precision (bfloat16 autocast) on CUDA; ignored on CPU.
    """

    steps: int = 20000
    batch_size: int = 4
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    decay_start: float = 0.5
    w_gan: float = 1.0
    w_fm: float = 10.0
    grad_clip: float = 1.0
    disc_scales: int = 2
    disc_layers: int = 3
    disc_channels: int = 64
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3
    validate_every: int = 500
    seed: int = 0
    device: str = "auto"
    amp: bool = True

    def __post_init__(self) -> None:
        _positive_int("steps", self.steps)
        _positive_int("batch_size", self.batch_size)
        _number("lr_g", self.lr_g, 0.0, 1.0, lo_open=True)
        _number("lr_d", self.lr_d, 0.0, 1.0, lo_open=True)
        betas = tuple(self.betas)
        if len(betas) != 2:
            raise InputError("betas", "two numbers in [0, 1)", repr(self.betas))
        for b in betas:
            _number("betas", b, 0.0, 0.999999)
        object.__setattr__(self, "betas", betas)
        _number("decay_start", self.decay_start, 0.0, 1.0)
        _number("w_gan", self.w_gan, 0.0, 1e6)
        _number("w_fm", self.w_fm, 0.0, 1e6)
        _number("grad_clip", self.grad_clip, 0.0, 1e9)
        _positive_int("disc_scales", self.disc_scales)
        _positive_int("disc_layers", self.disc_layers)
        _positive_int("disc_channels", self.disc_channels)
        _positive_int("checkpoint_every", self.checkpoint_every)
        _positive_int("keep_checkpoints", self.keep_checkpoints)
        _positive_int("validate_every", self.validate_every)
        _positive_int("seed", self.seed, 0)
        if self.device not in ("auto", "cpu", "cuda"):
            raise InputError("device", "'auto', 'cpu' or 'cuda'", repr(self.device))


@dataclass(frozen=True)
class MotionTrainSettings(TrainSettings):
    """Stage 1: the SPADE U-Net motion estimator (``motion_estimator``).

    Loss ``w_gan·L_GAN + w_fm·L_FM + w_epe·L_EPE`` (the paper's recipe: 1, 10, 1).

    Attributes:
        w_epe: weight of the end-point error against the teacher flow (mean over mask pixels).
        base_filters, spade_hidden, input_size: the estimator's hyper-parameters (defaults: the
            official network at 256×256; ``input_size`` must be a multiple of 256).
        hint_drop: probability that a sample is trained with no hint at all (the neural preset
            runs the estimator without hints); otherwise 1..``max_hints`` of the clip's hints.
        hint_radius: half-size in pixels (at the dataset size) of the square each hint vector
            is written into in the hint map.
        flip: random horizontal flips (the flow's x component changes sign).
        disc_flow_scale: the discriminator sees ``flow / disc_flow_scale`` (pixels per frame).
    """

    w_epe: float = 1.0
    base_filters: int = 32
    spade_hidden: int = 128
    input_size: int = 256
    hint_drop: float = 0.5
    hint_radius: int = 1
    flip: bool = True
    disc_flow_scale: float = 4.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _number("w_epe", self.w_epe, 0.0, 1e6)
        _positive_int("base_filters", self.base_filters)
        _positive_int("spade_hidden", self.spade_hidden)
        _positive_int("input_size", self.input_size, 256)
        if self.input_size % 256:
            raise InputError("input_size", "a multiple of 256", self.input_size)
        _number("hint_drop", self.hint_drop, 0.0, 1.0)
        _positive_int("hint_radius", self.hint_radius, 0)
        _number("disc_flow_scale", self.disc_flow_scale, 0.0, 1e6, lo_open=True)


@dataclass(frozen=True)
class RenderTrainSettings(TrainSettings):
    """Stage 2: feature encoder + learned fusion + image decoder, motion estimator frozen.

    Loss ``w_gan·L_GAN + w_fm·L_FM + w_l1·L_1 + w_perceptual·L_perceptual``.

    Attributes:
        w_l1, w_perceptual: weights of the L1 and perceptual terms.
        perceptual_weights: local checkpoint of the perceptual backbone (a torchvision
            ``vgg16``/``vgg19`` state dict, or the ``alexnet`` one used through ``lpips``);
            ``None`` disables the term with one warning. Nothing is ever downloaded.
        motion_source: ``"estimator"`` (the frozen motion estimator's field on the first frame,
            its mask and no hints — what the neural preset renders) or ``"teacher"`` (the
            dataset's teacher flow).
        loop_steps: loop length ``N`` in motion steps (= frames); ``None`` = the clip's frame count.
        encoder_backbone: timm backbone of the feature encoder (``resnet34`` is the official one).
        decoder_channels, decoder_group_size: the image decoder's ``base_channels``/``group_size``.
        ldi_layers: maximum LDI layers of a sample's first frame.
    """

    w_l1: float = 1.0
    w_perceptual: float = 1.0
    perceptual_weights: str | None = None
    motion_source: str = "estimator"
    loop_steps: int | None = None
    encoder_backbone: str = "resnet34"
    decoder_channels: int = 32
    decoder_group_size: int = 32
    ldi_layers: int = 3

    def __post_init__(self) -> None:
        super().__post_init__()
        _number("w_l1", self.w_l1, 0.0, 1e6)
        _number("w_perceptual", self.w_perceptual, 0.0, 1e6)
        if self.motion_source not in ("estimator", "teacher"):
            raise InputError("motion_source", "'estimator' or 'teacher'", repr(self.motion_source))
        if self.loop_steps is not None:
            _positive_int("loop_steps", self.loop_steps, 2)
        _positive_int("decoder_channels", self.decoder_channels)
        _positive_int("decoder_group_size", self.decoder_group_size)
        _positive_int("ldi_layers", self.ldi_layers, 2)


def settings_dict(settings) -> dict:
    """JSON-ready dict of a settings dataclass (tuples become lists)."""
    out = asdict(settings)
    return {
        f.name: (list(out[f.name]) if isinstance(out[f.name], tuple) else out[f.name])
        for f in fields(settings)
    }
