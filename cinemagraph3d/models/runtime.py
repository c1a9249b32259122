"""Faster CPU execution of the neural preset's per-frame network (the image decoder).

The decoder is 96 % of a neural frame on the CPU. :func:`fast_decoder` wraps an
:class:`~cinemagraph3d.models.decoder.ImageDecoder` so that its U-Net runs faster; the wrapper
has the decoder's call signature, so it can stand wherever the decoder is called. Two choices:

``precision``
    ``"float32"``: float32 throughout. ``"bfloat16"``: the learned fusion stays float32, the
    U-Net (weights and activations) runs in bfloat16 (8 bits of mantissa; fast on CPUs with
    AVX-512 BF16 or AMX). Outputs are float32 in every case.
``runtime``
    ``"torch"`` (default): PyTorch eager in channels-last memory layout (oneDNN's native layout
    for convolutions: no reorders between layers). ``"openvino"``: the decoder (fusion and U-Net) is
    exported once per input size (:func:`torch.export.export`), converted to an OpenVINO model
    and compiled for the CPU (OpenVINO fuses the element-wise work into the convolutions); the optional
    extra ``pip install 'cinemagraph3d[openvino]'``. Exporting and compiling take a few seconds
    at the first frame of each size.

Precision (measured by ``benchmarks/bench_neural.py``, which prints the difference next to the
speed): the float32 modes change only the order of float32 sums (outputs equal to the plain
decoder within ~1e-6); the bfloat16 modes differ from float32 on frames in [0, 1], with random
weights of the official size at 1280×720, by ~3e-3 (OpenVINO) and ~5e-3 (torch), i.e. about one
8-bit grey level (1/255 ≈ 3.9e-3) and not guaranteed below it, so they are opt-in.
"""

from __future__ import annotations

import copy
import importlib
import importlib.util

import torch
from torch import nn

from ..errors import BackendError, InputError

__all__ = ["PRECISIONS", "RUNTIMES", "FastDecoder", "fast_decoder", "openvino_available"]

#: Precisions of :func:`fast_decoder`.
PRECISIONS = ("float32", "bfloat16")
#: Runtimes of :func:`fast_decoder` (``"openvino"`` needs the optional ``openvino`` package).
RUNTIMES = ("torch", "openvino")

_OPENVINO_HINT = "pip install 'cinemagraph3d[openvino]' (or: pip install openvino)"


def openvino_available() -> bool:
    """Whether the optional ``openvino`` package can be imported."""
    return importlib.util.find_spec("openvino") is not None


def _import_openvino():
    try:
        return importlib.import_module("openvino")
    except ImportError:
        raise BackendError(
            f"decoder runtime 'openvino' needs the optional package 'openvino': {_OPENVINO_HINT}"
        ) from None


class _UNet(nn.Module):
    """The decoder's U-Net alone (``decoder.decode``): fused map ``(B, C, H, W)`` → RGB."""

    def __init__(self, decoder: nn.Module) -> None:
        super().__init__()
        self.decoder = decoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder.decode(x)


class _Graph(nn.Module):
    """Fusion and U-Net with ``tau`` as a ``(B,)`` tensor: the graph OpenVINO compiles (its
    element-wise fusion then runs inside the compiled graph, without float32 copies in torch)."""

    def __init__(self, decoder: nn.Module) -> None:
        super().__init__()
        self.decoder = decoder

    def forward(self, x_f: torch.Tensor, x_b: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
        return self.decoder(x_f, x_b, tau)


class FastDecoder(nn.Module):
    """An image decoder run faster on the CPU (see :func:`fast_decoder`).

    Attributes:
        decoder: the wrapped float32 decoder (used for the fusion; its weights are converted to
            channels-last in place).
        precision: ``"float32"`` or ``"bfloat16"``.
        runtime: ``"torch"`` or ``"openvino"``.
        config: the wrapped decoder's ``config``.
    """

    def __init__(self, decoder: nn.Module, precision: str = "float32", runtime: str = "torch") -> None:
        super().__init__()
        if precision not in PRECISIONS:
            raise InputError("precision", f"one of {', '.join(PRECISIONS)}", repr(precision))
        if runtime not in RUNTIMES:
            raise InputError("runtime", f"one of {', '.join(RUNTIMES)}", repr(runtime))
        if runtime == "openvino":
            self._ov = _import_openvino()
        self.decoder = decoder.to(memory_format=torch.channels_last)
        self.precision = precision
        self.runtime = runtime
        self.config = getattr(decoder, "config", {})
        self._unet = None  # torch + bfloat16: a bfloat16 copy of the decoder
        if runtime == "torch" and precision == "bfloat16":
            self._unet = copy.deepcopy(self.decoder).to(torch.bfloat16)
        self._compiled: dict = {}  # openvino: (input shape, threads) -> compiled model

    def forward(self, x_f: torch.Tensor, x_b: torch.Tensor, tau: float | torch.Tensor) -> torch.Tensor:
        """``x_f, x_b`` ``(B, C, H, W)`` float32 splats, ``tau = t/N`` in [0, 1] (float or
        ``(B,)``) → ``(B, 3, H, W)`` float32 RGB in [0, 1] (contiguous, like the decoder's)."""
        with torch.inference_mode():
            if self.runtime == "openvino":
                return self._openvino(x_f, x_b, tau)
            cl = torch.channels_last
            x = self.decoder.fuse(x_f.contiguous(memory_format=cl), x_b.contiguous(memory_format=cl), tau)
            if self._unet is not None:
                return self._unet.decode(x.to(torch.bfloat16)).float().contiguous()
            return self.decoder.decode(x).contiguous()

    def _openvino(self, x_f: torch.Tensor, x_b: torch.Tensor, tau: float | torch.Tensor) -> torch.Tensor:
        if x_f.device.type != "cpu":
            raise InputError(
                "runtime", f"'torch' for splats on {x_f.device} (OpenVINO runs on the CPU)", "'openvino'"
            )
        self.decoder._check_input(x_f, "forward splat x_f")  # the compiled graph checks nothing
        if x_b.shape != x_f.shape:
            raise InputError("x_b", f"the shape of x_f {tuple(x_f.shape)}", tuple(x_b.shape))
        x_f, x_b = x_f.float().contiguous(), x_b.float().contiguous()
        tau = torch.as_tensor(tau, dtype=torch.float32).reshape(-1).expand(x_f.shape[0]).contiguous()
        key = (tuple(x_f.shape), torch.get_num_threads())
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compile(x_f, x_b, tau)
            self._compiled = {key: compiled}  # one frame size at a time
        out = compiled.create_infer_request().infer([x_f.numpy(), x_b.numpy(), tau.numpy()])[0]
        return torch.from_numpy(out.copy())

    def _compile(self, x_f: torch.Tensor, x_b: torch.Tensor, tau: torch.Tensor):
        ov = self._ov
        with torch.no_grad():
            program = torch.export.export(_Graph(self.decoder).eval(), (x_f, x_b, tau))
            model = ov.convert_model(program)
        config = {
            "INFERENCE_PRECISION_HINT": "bf16" if self.precision == "bfloat16" else "f32",
            "INFERENCE_NUM_THREADS": torch.get_num_threads(),
            "PERFORMANCE_HINT": "LATENCY",
        }
        try:
            return ov.Core().compile_model(model, "CPU", config)
        except RuntimeError as exc:  # e.g. bf16 asked on a CPU without bf16 support
            raise BackendError(f"decoder runtime 'openvino' ({self.precision}): {exc}") from None


def fast_decoder(decoder: nn.Module, precision: str = "float32", runtime: str = "torch") -> FastDecoder:
    """Wrap ``decoder`` for faster CPU inference. Same call signature and output as the decoder:
    ``(x_f, x_b, tau)`` with ``(B, C, H, W)`` float32 splats → ``(B, 3, H, W)`` float32 RGB.

    Args:
        decoder: an :class:`~cinemagraph3d.models.decoder.ImageDecoder` in eval mode (or a
            :class:`FastDecoder`, whose decoder is wrapped again with the new choices).
        precision: ``"float32"`` (default: results equal the decoder's within float32
            round-off, ~1e-6) or ``"bfloat16"`` (the U-Net in bfloat16: ~3–5e-3 on [0, 1]).
        runtime: ``"torch"`` (default, channels-last eager) or ``"openvino"`` (optional package;
            exported and compiled at the first call of each input size).

    Returns:
        :class:`FastDecoder`.

    Raises:
        InputError: unknown ``precision`` or ``runtime``, or ``decoder`` not a module.
        BackendError: ``runtime="openvino"`` without the ``openvino`` package (the message says
            what to install).
    """
    if isinstance(decoder, FastDecoder):
        decoder = decoder.decoder
    if not isinstance(decoder, nn.Module) or not hasattr(decoder, "fuse") or not hasattr(decoder, "decode"):
        raise InputError("decoder", "an ImageDecoder (a module with fuse and decode)", type(decoder).__name__)
    return FastDecoder(decoder, precision, runtime)
