"""Stage 2: training the feature encoder and the image decoder (with its learned fusion) through
the differentiable splatting renderer; the motion estimator is frozen.

Sample (clip ``c``, target time ``t ~ U{1..N−1}`` from its per-sample seed, ``N`` = loop length):
the first frame ``I₀`` and its depth give the LDI and point cloud (the inference code's
:func:`~cinemagraph3d.pipeline.prepare_scene`, cached per clip); the motion field ``M`` is the
frozen estimator's prediction on ``I₀`` and the clip's mask with no hints (``motion_source =
"estimator"``, what the neural preset renders) or the teacher flow (``"teacher"``), integrated over
``N`` steps (cached per clip). Each step encodes the RGBA LDI layers (one batch per sample),
gathers ``[RGB, 32 features]`` per point, moves the cloud by the forward ``F(0→t)`` and backward
``F(0→t−N)`` displacements exactly as the renderer does, splats both (gradients flow into the
features), builds the two 37-channel maps and decodes them with ``τ = t/N``. The target is frame
``t`` of the clip:

    L = w_gan·L_GAN + w_fm·L_FM + w_l1·|Î_t − I_t|₁ + w_perceptual·L_perceptual(Î_t, I_t)

with the discriminator seeing ``[2I₀ − 1, Î_t or I_t]``. The camera is the input camera (training
clips are from fixed cameras). Validation renders ``t = ⌊N/2⌋`` of every held-out clip and reports
PSNR, SSIM and L1.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..errors import InputError
from .infra import sample_rng
from .settings import RenderTrainSettings
from .trainer import GanTrainer, TrainResult

__all__ = ["RenderTrainer", "train_render", "build_render_nets"]


def build_render_nets(settings: RenderTrainSettings) -> nn.ModuleDict:
    """Freshly initialised ``{"encoder", "decoder"}`` with the settings' hyper-parameters."""
    from ..models import create_model

    return nn.ModuleDict(
        {
            "encoder": create_model("feature_encoder", backbone=settings.encoder_backbone),
            "decoder": create_model(
                "image_decoder",
                base_channels=settings.decoder_channels,
                group_size=settings.decoder_group_size,
            ),
        }
    )


class _ClipScene:
    """Per-clip cache: the scene (LDI + cloud), the integrated motion and its moved clouds."""

    def __init__(self, clip, estimator, settings: RenderTrainSettings, device) -> None:
        from ..geometry.camera import PinholeCamera
        from ..ldi import LDISettings
        from ..motion import integrate_motion
        from ..types import DepthMap, MotionField
        from ._inference import moved_clouds, prepare_scene

        img = clip.frames[0]
        _, H, W = img.shape
        self.camera = PinholeCamera.default(W, H)
        self.scene = prepare_scene(
            img, DepthMap(clip.depth), self.camera, LDISettings(max_layers=settings.ldi_layers)
        )
        self.frames = clip.frames.shape[0]
        self.steps = settings.loop_steps or self.frames
        if settings.motion_source == "teacher":
            flow = clip.flow
        else:
            with torch.no_grad():
                flow = estimator.estimate(img[None].to(device), clip.mask[None].to(device),
                                          torch.zeros(1, 2, H, W, device=device))[0].float().cpu()  # fmt: skip
            flow = flow * (clip.mask > 0.5)
        mask = (clip.mask > 0.5).float()
        self.motion = None
        if bool((flow != 0).any()):
            self.motion = integrate_motion(MotionField(flow.contiguous(), mask), self.steps)
        self.moved = None if self.motion is None else moved_clouds(self.scene, self.motion)
        pts = self.scene.cloud.points
        inv = 1.0 / pts[:, 2].clamp(min=1e-12)
        self.disp_range = (float(inv.min()), float(inv.max()))
        c = self.scene.cloud
        self.layer = c.layer
        self.row = c.pixels[:, 1].long()
        self.col = c.pixels[:, 0].long()

    def targets(self) -> range:
        """Scene times that have a frame in the clip: ``1 .. min(N, T) − 1``."""
        return range(1, min(self.steps, self.frames))

    def geometry(self, t: int):
        """Moved points and footprint radii of both splats at time ``t`` (no gradients)."""
        pts = self.scene.cloud.points
        if self.moved is None:
            ones = torch.ones(pts.shape[0])
            return pts, ones, pts, ones
        with torch.no_grad():
            pf, pb, sf, sb = self.moved(float(t))
        return pf, sf.clamp(min=1.0), pb, sb.clamp(min=1.0)


class RenderTrainer(GanTrainer):
    """Stage-2 trainer (see the module docstring); ``fit()`` runs it.

    Args:
        motion: directory holding the trained ``motion_estimator`` weights (stage 1's run).
        (the others as :class:`~cinemagraph3d.train.trainer.GanTrainer`)
    """

    cond_channels = 3
    out_channels = 3
    loss_names = ("l1", "perceptual")
    val_names = ("val_psnr", "val_ssim", "val_l1")
    stage = "render"

    def __init__(self, data, settings, run, motion, **kw) -> None:
        from ..weights import load_model, missing_weights

        super().__init__(data, settings, run, **kw)
        self.motion_dir = Path(motion)
        missing = missing_weights(self.motion_dir, ("motion_estimator",))
        if missing:
            raise InputError("motion", "a directory with motion_estimator.safetensors/.json (train motion)",
                             f"missing {', '.join(p.name for p in missing)} in {self.motion_dir}")  # fmt: skip
        self.estimator = load_model(
            self.motion_dir, "motion_estimator", expected_architecture="motion_estimator"
        )
        for p in self.estimator.parameters():
            p.requires_grad_(False)
        from .losses import load_perceptual

        self.perceptual = None
        if settings.w_perceptual > 0:
            import os
            import warnings

            with warnings.catch_warnings():
                if int(os.environ.get("RANK", "0")) != 0:  # one warning per run, not per process
                    warnings.simplefilter("ignore")
                self.perceptual = load_perceptual(settings.perceptual_weights)
        self._scenes: dict[str, _ClipScene] = {}

    def inputs(self) -> list[Path]:
        return [self.data.path, self.motion_dir]

    def settings_json(self) -> dict:
        return {**super().settings_json(), "motion": str(self.motion_dir.resolve())}

    def _scene(self, name: str) -> _ClipScene:
        if name not in self._scenes:
            self.estimator.to(self.dist.device).eval()
            self._scenes[name] = _ClipScene(
                self.data.clip(name), self.estimator, self.settings, self.dist.device
            )
        return self._scenes[name]

    def build_generator(self) -> nn.Module:
        return build_render_nets(self.settings)

    def make_batch(self, step, samples):
        if self.perceptual is not None:
            self.perceptual.to(self.dist.device)
        batch = []
        for pos, k in samples:
            name = self.data.train[k]
            sc = self._scene(name)
            ts = sc.targets()
            if len(ts) == 0:
                raise InputError(f"data clip {name}", "at least 2 frames within the loop", sc.frames)
            t = int(ts[int(sample_rng(self.settings.seed, step, pos).integers(len(ts)))])
            batch.append((name, t))
        return batch

    def render(self, nets, name: str, t: int) -> torch.Tensor:
        """``(1, 3, H, W)`` frame ``t`` of clip ``name`` rendered with ``nets`` (differentiable)."""
        from ..render import SplatSettings, splat_points
        from ._inference import decoder_input

        dev = self.dist.device
        sc = self._scene(name)
        ldi = sc.scene.ldi
        rgba = torch.cat([ldi.color, ldi.alpha], 1).to(dev)
        feats = torch.cat([ldi.color.to(dev), nets["encoder"](rgba).float()], 1)  # (L, 35, H, W)
        pf = feats[sc.layer.to(dev), :, sc.row.to(dev), sc.col.to(dev)]  # (P, 35)
        K = sc.camera.matrix().to(dev)
        H, W = sc.camera.height, sc.camera.width
        alpha = sc.scene.cloud.alpha.to(dev)
        p_f, r_f, p_b, r_b = (x.to(dev) for x in sc.geometry(t))
        s = SplatSettings()
        x_f = decoder_input(splat_points(p_f, pf, alpha, r_f, K, H, W, s), sc.disp_range)
        x_b = decoder_input(splat_points(p_b, pf, alpha, r_b, K, H, W, s), sc.disp_range)
        return nets["decoder"](x_f, x_b, float(t) / sc.steps)

    def generate(self, nets, batch):
        dev = self.dist.device
        fake = torch.cat([self.render(nets, name, t) for name, t in batch])
        clips = [self.data.clip(name) for name, _ in batch]
        real = torch.stack([c.frames[t] for c, (_, t) in zip(clips, batch)]).to(dev)
        cond = torch.stack([c.frames[0] for c in clips]).to(dev) * 2.0 - 1.0
        return fake, real, cond

    def stage_losses(self, fake, real, batch):
        s = self.settings
        out = {"l1": s.w_l1 * (fake.float() - real).abs().mean()}
        if self.perceptual is not None:
            out["perceptual"] = s.w_perceptual * self.perceptual(fake.float(), real)
        return out

    def validate(self, nets) -> dict[str, float]:
        return validation_scores(lambda name, t: self.render(nets, name, t), self.data, self._scene)

    def export(self, nets, out: Path, source: dict) -> list[Path]:
        from ..weights import save_model

        paths = [
            save_model(nets["encoder"], out, source=source),
            save_model(nets["decoder"], out, source=source),
        ]
        # the frozen stage-1 estimator goes with them, so the directory is a full neural preset
        paths.append(save_model(self.estimator, out, source={"copied_from": str(self.motion_dir)}))
        return paths


@torch.no_grad()
def validation_scores(render, data, scene_of) -> dict[str, float]:
    """PSNR (dB), SSIM and L1 of frame ``⌊N/2⌋`` (at least 1) of every validation clip, rendered
    by ``render(name, t) -> (1, 3, H, W)``, averaged over the clips."""
    from ..eval.metrics import psnr, ssim

    rows = []
    for name in data.val:
        sc = scene_of(name)
        t = max(1, min(sc.steps // 2, sc.frames - 1))
        pred = render(name, t)[0].float().clamp(0, 1).cpu()
        target = data.clip(name).frames[t]
        rows.append((psnr(pred, target), ssim(pred, target), float((pred - target).abs().mean())))
    n = max(1, len(rows))
    return {k: sum(r[i] for r in rows) / n for i, k in enumerate(("val_psnr", "val_ssim", "val_l1"))}


def train_render(data, settings: RenderTrainSettings, run, motion, *, resume=False, force=False,
                 progress=True, stop_at=None) -> TrainResult:  # fmt: skip
    """Train stage 2 into ``run`` (``feature_encoder``, ``image_decoder`` and a copy of the
    ``motion_estimator`` of ``motion``: a complete neural-preset weights directory)."""
    from .dataset import TrainData

    if not isinstance(data, TrainData):
        data = TrainData(data)
    return RenderTrainer(data, settings, run, motion, resume=resume, force=force, progress=progress).fit(
        stop_at
    )
