"""Faster CPU execution of the neural preset's per-frame network (the image decoder).

The decoder is 96 % of a neural frame on the CPU. :func:`fast_decoder` wraps an
:class:`~cinemagraph3d.models.decoder.ImageDecoder` so that it runs in channels-last memory
layout (oneDNN's native layout for convolutions: no reorders between layers) and, optionally,
with its convolutions in bfloat16 under :func:`torch.autocast` (fast on CPUs with AVX-512 BF16
or AMX; the weights stay float32, every result is returned as float32). The wrapper has the
decoder's call signature, so it can stand wherever the decoder is called.

Precision: channels-last alone changes only the order of float32 sums (outputs equal to the
plain decoder within ~1e-5); bfloat16 keeps 8 bits of mantissa in the convolutions, so frames
differ from the float32 ones by up to a few 1e-2 (see ``benchmarks/bench_neural.py``, which
prints the measured difference next to the speed). Use it for previews or where that is
acceptable; the default pipeline is float32.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import InputError

__all__ = ["PRECISIONS", "FastDecoder", "fast_decoder"]

#: Precisions of :func:`fast_decoder`.
PRECISIONS = ("float32", "bfloat16")


class FastDecoder(nn.Module):
    """An image decoder run channels-last, optionally in bfloat16 (see :func:`fast_decoder`).

    Attributes:
        decoder: the wrapped decoder (its weights converted to channels-last in place).
        precision: ``"float32"`` or ``"bfloat16"``.
    """

    def __init__(self, decoder: nn.Module, precision: str = "float32") -> None:
        super().__init__()
        if precision not in PRECISIONS:
            raise InputError("precision", f"one of {', '.join(PRECISIONS)}", repr(precision))
        self.decoder = decoder.to(memory_format=torch.channels_last)
        self.precision = precision
        self.config = getattr(decoder, "config", {})

    def forward(self, x_f: torch.Tensor, x_b: torch.Tensor, tau: float | torch.Tensor) -> torch.Tensor:
        """``x_f, x_b`` ``(B, C, H, W)`` float32 splats, ``tau`` in [0, 1] → ``(B, 3, H, W)``
        float32 RGB in [0, 1] (contiguous, like the decoder's own output)."""
        cl = torch.channels_last
        x_f, x_b = x_f.contiguous(memory_format=cl), x_b.contiguous(memory_format=cl)
        dev = x_f.device.type
        with torch.autocast(dev, dtype=torch.bfloat16, enabled=self.precision == "bfloat16"):
            out = self.decoder(x_f, x_b, tau)
        return out.float().contiguous()


def fast_decoder(decoder: nn.Module, precision: str = "float32") -> FastDecoder:
    """Wrap ``decoder`` for faster CPU inference (channels-last; ``precision="bfloat16"``: its
    convolutions in bfloat16). Same call signature and output shape as the decoder.

    Args:
        decoder: an :class:`~cinemagraph3d.models.decoder.ImageDecoder` (or any module called
            as ``decoder(x_f, x_b, tau)``), in eval mode.
        precision: ``"float32"`` (default: results equal the decoder's within float32 round-off)
            or ``"bfloat16"``.

    Returns:
        :class:`FastDecoder`.
    """
    if not isinstance(decoder, nn.Module):
        raise InputError("decoder", "a torch.nn.Module", type(decoder).__name__)
    return FastDecoder(decoder, precision)
