"""Losses of both training stages: hinge GAN, discriminator feature matching, end-point error,
L1 and a perceptual term from a locally stored backbone (never downloaded).

Every loss is a mean over the batch of per-sample values, so the gradient of a global batch is
the same whether it is computed in one process or averaged over data-parallel ranks.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import BackendError, InputError

__all__ = [
    "d_hinge_loss",
    "g_hinge_loss",
    "feature_matching_loss",
    "epe",
    "masked_epe",
    "PerceptualLoss",
    "load_perceptual",
]


def d_hinge_loss(real: list[list[torch.Tensor]], fake: list[list[torch.Tensor]]) -> torch.Tensor:
    """Discriminator hinge loss ``Σ_scales mean(relu(1 - D(real))) + mean(relu(1 + D(fake)))``."""
    total = 0.0
    for r, f in zip(real, fake):
        total = total + F.relu(1.0 - r[-1]).mean() + F.relu(1.0 + f[-1]).mean()
    return total


def g_hinge_loss(fake: list[list[torch.Tensor]]) -> torch.Tensor:
    """Generator hinge loss ``-Σ_scales mean(D(fake))``."""
    return sum(-f[-1].mean() for f in fake)


def feature_matching_loss(real: list[list[torch.Tensor]], fake: list[list[torch.Tensor]]) -> torch.Tensor:
    """Feature matching: ``Σ_scales (1/L) Σ_layers mean|D_l(fake) - D_l(real)|`` over the
    discriminator's intermediate maps (the logits excluded); ``real`` maps are detached."""
    total = 0.0
    for r, f in zip(real, fake):
        n = len(f) - 1
        for rl, fl in zip(r[:-1], f[:-1]):
            total = total + (fl - rl.detach()).abs().mean() / n
    return total


def epe(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``(B, H, W)`` end-point error ``|pred - target|_2`` of ``(B, 2, H, W)`` flows, pixels."""
    return torch.linalg.vector_norm(pred - target, dim=1)


def masked_epe(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of each sample's mean EPE over its mask pixels ``(B, 1, H, W)``
    (a sample with an empty mask counts 0). Pixels per frame."""
    e = epe(pred, target) * mask[:, 0]
    n = mask[:, 0].flatten(1).sum(1).clamp(min=1.0)
    return (e.flatten(1).sum(1) / n).mean()


# --------------------------------------------------------------------------- perceptual
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


class PerceptualLoss(nn.Module):
    """VGG feature distance: ``Σ_l mean|φ_l(x) - φ_l(y)|`` over the ReLU outputs ending each of
    the first four VGG blocks (relu1_2, relu2_2, relu3_3, relu4_3 for VGG16), images in [0, 1]
    normalised with the ImageNet mean/std. The backbone is frozen.

    Args:
        vgg_features: a torchvision VGG ``features`` module with loaded weights.
    """

    def __init__(self, vgg_features: nn.Sequential) -> None:
        super().__init__()
        cut, pools = [], 0
        for i, m in enumerate(vgg_features):
            if isinstance(m, nn.MaxPool2d):
                cut.append(i)  # the ReLU before this pool ends a block
                pools += 1
                if pools == 4:
                    break
        self.features = vgg_features[: cut[-1]].eval()
        self.taps = {c - 1 for c in cut}
        for p in self.parameters():
            p.requires_grad_(False)
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def train(self, mode: bool = True) -> PerceptualLoss:  # the backbone stays in eval mode
        return super().train(False)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Mean over the batch of the per-sample distance between ``(B, 3, H, W)`` images."""
        h = torch.cat([x, y]).sub(self.mean).div(self.std)
        b = x.shape[0]
        total = 0.0
        for i, m in enumerate(self.features):
            h = m(h)
            if i in self.taps:
                total = total + (h[:b] - h[b:]).abs().mean()
        return total


class _LpipsLoss(nn.Module):
    """LPIPS (AlexNet backbone, the ``lpips`` package's linear heads) as a loss, batch mean."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net.eval()
        for p in self.parameters():
            p.requires_grad_(False)

    def train(self, mode: bool = True) -> _LpipsLoss:
        return super().train(False)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.net(x, y, normalize=True).mean()


def load_perceptual(path: str | os.PathLike | None) -> nn.Module | None:
    """The perceptual loss from a local backbone checkpoint, or ``None`` (with one warning).

    ``path`` is a torchvision state dict (``.pth``, read with ``torch.load(weights_only=True)``,
    or ``.safetensors``) of ``vgg16``/``vgg19`` (→ :class:`PerceptualLoss`) or ``alexnet``
    (→ LPIPS through the ``lpips`` package, its AlexNet weights replaced by these). The
    architecture is recognised from the tensors. Nothing is downloaded.

    Raises:
        InputError: the file is missing or holds none of these networks.
        BackendError: an AlexNet checkpoint without the ``lpips`` package.
    """
    if path is None:
        warnings.warn(
            "perceptual loss disabled: no local VGG16/VGG19 or AlexNet weights given "
            "(RenderTrainSettings.perceptual_weights); nothing is downloaded",
            stacklevel=2,
        )
        return None
    p = Path(os.fspath(path))
    if not p.is_file():
        raise InputError("perceptual weights", "an existing VGG or AlexNet checkpoint file", str(p))
    try:
        if p.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(p))
        else:
            state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001
        raise InputError(
            "perceptual weights", "a readable state dict", f"{p}: {type(exc).__name__}"
        ) from None
    if not isinstance(state, dict):
        raise InputError("perceptual weights", "a state dict", type(state).__name__)
    convs = sorted(int(k.split(".")[1]) for k in state if k.startswith("features.") and k.endswith(".weight"))

    if len(convs) in (13, 16):
        from torchvision.models.vgg import cfgs, make_layers

        # the convolutional part only (torchvision's own builder; the classifier is not needed)
        features = make_layers(cfgs["D" if len(convs) == 13 else "E"], batch_norm=False)
        feats = {k[len("features.") :]: v for k, v in state.items() if k.startswith("features.")}
        try:
            features.load_state_dict(feats)
        except RuntimeError as exc:
            raise InputError("perceptual weights", "a torchvision VGG state dict", str(exc)) from None
        return PerceptualLoss(features)
    if len(convs) == 5:
        try:
            import lpips
        except ImportError:
            raise BackendError("an AlexNet perceptual checkpoint needs the 'lpips' package") from None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            net = lpips.LPIPS(net="alex", pretrained=True, pnet_rand=True, verbose=False)
        own = net.net.state_dict()
        feats = {k[len("features.") :]: v for k, v in state.items() if k.startswith("features.")}
        try:
            net.net.load_state_dict({k: feats[k.split(".", 1)[1]] for k in own})
        except KeyError as exc:
            raise InputError(
                "perceptual weights", "a torchvision AlexNet state dict", f"missing {exc}"
            ) from None
        return _LpipsLoss(net)
    raise InputError(
        "perceptual weights", "a VGG16, VGG19 or AlexNet state dict", f"{len(convs)} conv layers in {p}"
    )
