"""The device the frames are rendered on (the command line's device option, ``animate(device=...)``).

The set-up (depth, layers, inpainting, motion) runs on the CPU (OpenCV, SciPy and NumPy do
parts of it); :func:`to_device` then moves the prepared scene, camera path, motion and networks
to the device, where the frame loop runs (the splats through the CUDA kernel when the extension
was built with it, the other passes through their PyTorch operations), and each frame comes back
to the CPU as it is written.

:func:`parse_device` imports nothing heavy, so the command line refuses a malformed device
name before importing torch; :func:`resolve_device` then checks that the device exists.
"""

from __future__ import annotations

import re

from .errors import InputError

__all__ = ["DEVICE_HELP", "parse_device", "resolve_device", "to_device"]

DEVICE_HELP = "cpu (default), cuda, cuda:N (the N-th GPU) or auto (a GPU when PyTorch sees one)"

_PATTERN = re.compile(r"^(cpu|auto|cuda(:(0|[1-9]\d{0,4}))?)$")  # a GPU index without leading zeros


def parse_device(spec: str | None, name: str = "device") -> str:
    """The canonical spelling of a device name (``None`` → ``"cpu"``); no torch import.

    Raises:
        InputError: not one of ``cpu``, ``cuda``, ``cuda:N``, ``auto``.
    """
    if spec is None:
        return "cpu"
    s = str(spec).strip().lower()
    if not _PATTERN.match(s):
        raise InputError(name, DEVICE_HELP, repr(spec))
    return s


def resolve_device(spec, name: str = "device"):
    """The ``torch.device`` of ``spec`` (a name for :func:`parse_device` or a ``torch.device``).

    Raises:
        InputError: a CUDA device PyTorch does not see (no GPU, a CPU-only PyTorch build, or an
            index past the last GPU), or a device type other than CPU and CUDA.
    """
    import torch

    if isinstance(spec, torch.device):
        dev = spec
    else:
        s = parse_device(spec, name)
        if s == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            dev = torch.device(s)
        except RuntimeError:  # the pattern should let through only what torch parses
            raise InputError(name, DEVICE_HELP, repr(spec)) from None
    if dev.type == "cpu":
        return torch.device("cpu")
    if dev.type != "cuda":
        raise InputError(name, DEVICE_HELP, str(dev))
    if not torch.cuda.is_available():
        build = "a CPU-only PyTorch build" if torch.version.cuda is None else "no CUDA GPU visible to PyTorch"
        raise InputError(name, "a CUDA GPU", f"{dev} requested, {build}")
    count = torch.cuda.device_count()
    index = 0 if dev.index is None else dev.index
    if index >= count:
        raise InputError(name, f"a GPU index below {count}", str(dev))
    return torch.device("cuda", index)


def _movable(obj) -> bool:
    """Objects whose attributes :func:`to_device` walks: this package's own classes."""
    return type(obj).__module__.split(".")[0] == "cinemagraph3d"


def to_device(obj, device, _memo: dict | None = None):
    """A copy of ``obj`` with every tensor and network it holds on ``device``.

    Walks tensors, ``torch.nn.Module`` objects (copied, then moved), tuples,
    lists, dicts and the attributes of this package's own objects (dataclasses, frozen or not,
    and plain classes such as the motion's :class:`~cinemagraph3d.motion.Displacements`). What
    holds a tensor is shallow-copied with its moved attributes, the rest is shared: ``obj``
    itself is left as it was. An object reached twice is moved once,
    so shared tensors stay shared (an object reached again through a cycle of references is the
    original). Anything else (numbers, strings, functions, NumPy arrays) is kept as it is.
    Flags decided on the CPU (e.g. "the native CPU pass applies") are copied as they are: the
    code reading them also checks the device of the tensors it is given.

    Args:
        obj: e.g. a :class:`~cinemagraph3d.api.Prepared` project.
        device: a ``torch.device`` (see :func:`resolve_device`).

    Returns:
        The moved copy (``obj`` itself when nothing in it is a tensor).
    """
    import torch

    memo = {} if _memo is None else _memo
    key = id(obj)
    if key in memo:
        return memo[key][1]
    if isinstance(obj, torch.Tensor):
        out = obj.to(device)
    elif isinstance(obj, torch.nn.Module):  # a copy: the caller's networks stay where they are
        import copy

        out = copy.deepcopy(obj).to(device)
    elif isinstance(obj, (tuple, list)):
        items = [to_device(v, device, memo) for v in obj]
        if all(a is b for a, b in zip(items, obj)):
            out = obj
        elif type(obj) in (list, tuple):
            out = type(obj)(items)
        else:  # a named tuple, or a tuple class taking its items as arguments (SplatResult)
            out = type(obj)(*items)
    elif isinstance(obj, dict):
        items = {k: to_device(v, device, memo) for k, v in obj.items()}
        out = obj if all(items[k] is v for k, v in obj.items()) else items
    elif _movable(obj) and hasattr(obj, "__dict__"):
        import copy

        memo[key] = (obj, obj)  # before the attributes: a cycle back to obj ends here
        moved = {}
        for name, value in vars(obj).items():
            m = to_device(value, device, memo)
            if m is not value:
                moved[name] = m
        out = obj
        if moved:
            out = copy.copy(obj)
            for name, value in moved.items():
                object.__setattr__(out, name, value)  # also for frozen dataclasses
    else:
        out = obj
    memo[key] = (obj, out)  # the original is kept alive, so its id is not reused meanwhile
    return out
