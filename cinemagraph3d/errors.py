"""Typed exceptions raised by cinemagraph3d.

Every user-facing error names the input, what was expected and what was found, so the CLI can
print it as one line and exit with status 2.
"""

from __future__ import annotations

__all__ = ["Cinemagraph3DError", "InputError", "ShapeError", "WeightsError", "BackendError"]


class Cinemagraph3DError(Exception):
    """Base class of every error raised on purpose by cinemagraph3d."""


class InputError(Cinemagraph3DError, ValueError):
    """A user input (file, argument, tensor) is missing, malformed or out of range.

    Args:
        name: what the input is called (an option name, a file path, an argument).
        expected: what a valid value looks like.
        found: what was actually given.
    """

    def __init__(self, name: str, expected: str, found: object) -> None:
        self.name = name
        self.expected = expected
        self.found = found
        text = " ".join(str(found).split())  # one line, whatever the underlying library said
        if len(text) > 200:
            text = text[:197] + "..."
        super().__init__(f"{name}: expected {expected}, found {text}")


class ShapeError(InputError):
    """A tensor has the wrong shape; the message shows the expected and the found shape
    (see :func:`cinemagraph3d.ops.check_shape`)."""


class WeightsError(Cinemagraph3DError, ValueError):
    """A checkpoint is unreadable, of an unknown format, or has missing/unexpected tensors."""


class BackendError(Cinemagraph3DError, RuntimeError):
    """A requested backend (native kernel, learned model, optional package) is unavailable."""


def check(condition: bool, name: str, expected: str, found: object) -> None:
    """Raise :class:`InputError` unless ``condition`` holds."""
    if not condition:
        raise InputError(name, expected, found)
