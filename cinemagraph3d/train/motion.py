"""Stage 1: training the SPADE U-Net motion estimator on image, mask and sparse hints.

Sample (clip ``c``, random choices from its per-sample seed): the first frame ``I`` ``(3, H, W)``,
the motion mask ``m``, a hint map ``h`` (with probability ``hint_drop`` all zeros, as the neural
preset runs the estimator; otherwise ``n ~ U{1..K}`` of the clip's ``K`` k-means hints, each
vector written into a ``(2r+1)²`` square at its pixel), the teacher flow ``M`` (px/frame); with
``flip`` a horizontal flip with probability 1/2 (``dx`` changes sign). The prediction is the
estimator's own inference function, ``M̂ = estimator.estimate(I, m, h)`` (resize to
``input_size``, network, mask, box filter, resize back), and

    L = w_gan·L_GAN + w_fm·L_FM + w_epe·mean_b( Σ_x m·|M̂ − M|₂ / Σ_x m )

with the discriminator seeing ``[2I − 1, m, M / disc_flow_scale]``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from .infra import sample_rng
from .losses import masked_epe
from .settings import MotionTrainSettings
from .trainer import GanTrainer, TrainResult

__all__ = ["MotionTrainer", "train_motion", "hint_map", "build_motion_estimator"]


def hint_map(hints: torch.Tensor, height: int, width: int, radius: int) -> torch.Tensor:
    """``(2, H, W)`` hint map: each row ``(x, y, dx, dy)`` of ``hints`` ``(n, 4)`` writes
    ``(dx, dy)`` into the ``(2r+1)²`` pixels around the pixel containing ``(x, y)`` (later rows
    win where squares overlap)."""
    out = torch.zeros(2, height, width)
    for x, y, dx, dy in hints.tolist():
        j, i = min(int(x), width - 1), min(int(y), height - 1)
        out[0, max(0, i - radius) : i + radius + 1, max(0, j - radius) : j + radius + 1] = dx
        out[1, max(0, i - radius) : i + radius + 1, max(0, j - radius) : j + radius + 1] = dy
    return out


def build_motion_estimator(settings: MotionTrainSettings) -> nn.Module:
    """A freshly initialised estimator with the settings' hyper-parameters (the real class)."""
    from ..models import create_model

    return create_model(
        "motion_estimator",
        base_filters=settings.base_filters,
        spade_hidden=settings.spade_hidden,
        input_size=settings.input_size,
    )


class MotionTrainer(GanTrainer):
    """Stage-1 trainer (see the module docstring); ``fit()`` runs it."""

    cond_channels = 4
    out_channels = 2
    loss_names = ("epe",)
    val_names = ("val_epe",)
    stage = "motion"

    def build_generator(self) -> nn.Module:
        return build_motion_estimator(self.settings)

    def make_batch(self, step, samples):
        s: MotionTrainSettings = self.settings
        H, W = self.data.size
        imgs, masks, hints, flows = [], [], [], []
        for pos, k in samples:
            clip = self.data.clip(self.data.train[k])
            rng = sample_rng(s.seed, step, pos)
            img, mask, flow, hs = clip.frames[0], clip.mask, clip.flow, clip.hints
            n_h = hs.shape[0]
            use = n_h > 0 and rng.random() >= s.hint_drop
            count = int(rng.integers(1, n_h + 1)) if use else 0
            pick = (
                torch.from_numpy(rng.permutation(n_h)[:count].copy())
                if use
                else torch.zeros(0, dtype=torch.long)
            )
            hm = hint_map(hs[pick], H, W, s.hint_radius)
            if s.flip and rng.random() < 0.5:
                img, mask, flow, hm = (t.flip(-1) for t in (img, mask, flow, hm))
                flow = flow * torch.tensor([-1.0, 1.0]).view(2, 1, 1)
                hm = hm * torch.tensor([-1.0, 1.0]).view(2, 1, 1)
            imgs.append(img)
            masks.append(mask)
            hints.append(hm)
            flows.append(flow)
        dev = self.dist.device
        return {
            k: torch.stack(v).to(dev)
            for k, v in (("image", imgs), ("mask", masks), ("hint", hints), ("flow", flows))
        }

    def generate(self, nets, batch):
        pred = nets.estimate(batch["image"], batch["mask"], batch["hint"])
        scale = 1.0 / self.settings.disc_flow_scale
        cond = torch.cat([batch["image"] * 2.0 - 1.0, batch["mask"]], 1)
        return pred * scale, batch["flow"] * scale, cond

    def stage_losses(self, fake, real, batch):
        scale = self.settings.disc_flow_scale
        return {"epe": self.settings.w_epe * masked_epe(fake * scale, real * scale, batch["mask"])}

    def validate(self, nets) -> dict[str, float]:
        return {"val_epe": validation_epe(nets, self.data, self.dist.device)}

    def export(self, nets, out: Path, source: dict) -> list[Path]:
        from ..weights import save_model

        return [save_model(nets, out, source=source)]


@torch.no_grad()
def validation_epe(estimator: nn.Module, data, device="cpu") -> float:
    """Mean over the validation clips of the masked EPE (px/frame) of ``estimator.estimate`` on
    the first frame and the mask with no hints (how the neural preset runs it)."""
    errs = []
    for clip in data.clips(data.val):
        img, mask = clip.frames[:1].to(device), clip.mask[None].to(device)
        pred = estimator.estimate(img, mask, torch.zeros(1, 2, *img.shape[-2:], device=device))
        errs.append(float(masked_epe(pred.float(), clip.flow[None].to(device), mask)))
    return sum(errs) / max(1, len(errs))


def train_motion(
    data, settings: MotionTrainSettings, run, *, resume=False, force=False, progress=True, stop_at=None
) -> TrainResult:
    """Train stage 1 into the run directory ``run`` (``motion_estimator.safetensors/.json`` plus
    logs and checkpoints). ``data`` is a dataset directory or a :class:`TrainData`; ``stop_at``
    stops after that step (resumable, see :meth:`GanTrainer.fit`)."""
    from .dataset import TrainData

    if not isinstance(data, TrainData):
        data = TrainData(data)
    return MotionTrainer(data, settings, run, resume=resume, force=force, progress=progress).fit(stop_at)
