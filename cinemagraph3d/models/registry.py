"""A tiny registry of the neural networks, so weights files can name the architecture they hold.

Every registered class takes only JSON-serialisable keyword arguments (its hyper-parameters) and
keeps them in ``model.config``; ``create_model(model.arch, **model.config)`` rebuilds the same
architecture. The weights module stores ``arch`` and ``config`` beside the tensors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from torch import nn

from ..errors import InputError

__all__ = ["register_model", "create_model", "list_models", "model_class"]

_REGISTRY: dict[str, type[nn.Module]] = {}

M = TypeVar("M", bound=type[nn.Module])


def register_model(name: str) -> Callable[[M], M]:
    """Class decorator registering a network under ``name`` and setting its ``arch`` attribute."""

    def decorator(cls: M) -> M:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"model name {name!r} is already registered by {_REGISTRY[name].__name__}")
        cls.arch = name  # type: ignore[attr-defined]
        _REGISTRY[name] = cls
        return cls

    return decorator


def list_models() -> list[str]:
    """Names of every registered architecture, sorted."""
    return sorted(_REGISTRY)


def model_class(name: str) -> type[nn.Module]:
    """The class registered under ``name``; :class:`InputError` if there is none."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise InputError("model name", f"one of {list_models()}", repr(name)) from None


def create_model(name: str, **config: Any) -> nn.Module:
    """Build a registered network with freshly initialised weights.

    Args:
        name: a name from :func:`list_models` (``"feature_encoder"``, ``"image_decoder"``,
            ``"motion_estimator"``, ``"depth_inpaint"``, ``"color_inpaint"``).
        **config: hyper-parameters of that class; omitted ones take the defaults that match the
            official 3D-Cinemagraphy checkpoints.

    Returns:
        The module in training mode, as ``torch.nn`` modules are when created. Weights are random:
        load trained ones with :func:`cinemagraph3d.weights.load_model`.

    Example:
        >>> from cinemagraph3d.models import create_model
        >>> create_model("image_decoder").config["in_channels"]
        37
    """
    cls = model_class(name)
    try:
        return cls(**config)
    except TypeError as exc:
        raise InputError(f"config of {name}", "the keyword arguments of " + cls.__name__, str(exc)) from None
