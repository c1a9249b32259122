"""Short motion prompts ("flow left", "swirl", "ripple fast", ...) mapped to parametric Eulerian fields.

A prompt is ``VERB [DIRECTION] [MAGNITUDE]`` (case-insensitive, words separated by spaces):

================================  ==========================================================  =========
prompt                            field inside the region (``m`` = magnitude)                  default m
================================  ==========================================================  =========
``flow left|right|up|down``       uniform translation, speed ``m`` (also ``up-left`` ...)      medium
``fall``                          uniform, straight down                                       fast
``rise``                          uniform, straight up                                         slow
``drift [DIRECTION]``             uniform, default to the right                                slow
``swirl [ccw|cw]``                rigid rotation about the region centroid, ``m`` at the       medium
                                  farthest region pixel (default counter-clockwise on screen)
``ripple [out|in]``               radial flow from (to) the centroid whose speed oscillates    medium
                                  with the radius between ``0.2 m`` and ``m``
``sway``                          horizontal, ``m cos(2 pi (x - x0) / lambda)`` times a        slow
                                  height factor that is 0 at the region's bottom, 1 at its top
================================  ==========================================================  =========

``MAGNITUDE`` is ``slow``, ``medium``, ``fast`` (``D / 1600``, ``D / 800``, ``D / 400`` pixels per
motion step with ``D = max(H, W)``, so a named speed looks the same at every resolution: 0.8,
1.6 and 3.2 px/step at 1280 px), or a number of pixels per motion step (``"1.5"``,
``"1.5px"``). The magnitude is the largest speed of the prompt's field in its region, before the
edge feather and the region / global speed factors. Every field is stationary (it does not depend
on time), so the loop stays exact through the symmetric forward/backward fusion.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import InputError

__all__ = [
    "MotionPrompt",
    "PROMPT_VERBS",
    "MAGNITUDE_NAMES",
    "KNOWN_PROMPTS",
    "parse_prompt",
    "parse_magnitude",
    "resolve_magnitude",
    "prompt_field",
]

#: Named magnitudes as fractions of the longer image side ``D`` per motion step.
MAGNITUDE_NAMES = {"slow": 1.0 / 1600.0, "medium": 1.0 / 800.0, "fast": 1.0 / 400.0}

_DIRECTIONS = {
    "left": (-1.0, 0.0),
    "right": (1.0, 0.0),
    "up": (0.0, -1.0),
    "down": (0.0, 1.0),
    "up-left": (-math.sqrt(0.5), -math.sqrt(0.5)),
    "up-right": (math.sqrt(0.5), -math.sqrt(0.5)),
    "down-left": (-math.sqrt(0.5), math.sqrt(0.5)),
    "down-right": (math.sqrt(0.5), math.sqrt(0.5)),
}
_DIAGONAL_ALIASES = {
    "upleft": "up-left",
    "upright": "up-right",
    "downleft": "down-left",
    "downright": "down-right",
    "left-up": "up-left",
    "right-up": "up-right",
    "left-down": "down-left",
    "right-down": "down-right",
}
_SPIN = {
    "ccw": "ccw",
    "counterclockwise": "ccw",
    "counter-clockwise": "ccw",
    "anticlockwise": "ccw",
    "anti-clockwise": "ccw",
    "cw": "cw",
    "clockwise": "cw",
}
_RADIAL = {"out": "out", "outward": "out", "outwards": "out", "in": "in", "inward": "in", "inwards": "in"}

#: Verb -> (default direction word or None, default magnitude name).
PROMPT_VERBS = {
    "flow": (None, "medium"),
    "fall": ("down", "fast"),
    "rise": ("up", "slow"),
    "drift": ("right", "slow"),
    "swirl": ("ccw", "medium"),
    "ripple": ("out", "medium"),
    "sway": (None, "slow"),
}

#: One-line description of the vocabulary, used in error messages.
KNOWN_PROMPTS = (
    "flow left|right|up|down|up-left|up-right|down-left|down-right, fall, rise, "
    "drift [left|right|up|down|...], swirl [ccw|cw], ripple [out|in], sway; "
    "optionally followed by slow, medium, fast or a speed in px/frame"
)

_NUMBER = re.compile(r"^([0-9]*\.?[0-9]+(?:e[-+]?[0-9]+)?)(?:px(?:/(?:frame|step))?)?$")


@dataclass(frozen=True)
class MotionPrompt:
    """A parsed motion prompt.

    Attributes:
        verb: one of :data:`PROMPT_VERBS`.
        direction: ``"left"``, ``"right"``, ``"up"``, ``"down"`` or a diagonal such as
            ``"up-left"`` for the uniform verbs; ``"ccw"``/``"cw"`` for swirl; ``"out"``/``"in"``
            for ripple; ``None`` for sway.
        magnitude: ``"slow"``, ``"medium"``, ``"fast"`` or a speed in pixels per motion step (> 0).
    """

    verb: str
    direction: str | None
    magnitude: str | float

    @property
    def text(self) -> str:
        """Canonical prompt text; ``parse_prompt(p.text) == p``."""
        words = [self.verb]
        if self.direction is not None:
            words.append(self.direction)
        m = self.magnitude
        words.append(m if isinstance(m, str) else repr(float(m)))
        return " ".join(words)


def _bad_prompt(text, name: str) -> InputError:
    return InputError(name, f"a motion prompt: {KNOWN_PROMPTS}", repr(text))


def parse_magnitude(value, name: str = "magnitude") -> str | float:
    """Check a magnitude: ``"slow" | "medium" | "fast"`` or a number of px/step > 0.

    Args:
        value: a name, a number, or a numeric string (``"1.5"``, ``"1.5px"``, ``"1.5px/frame"``).
        name: what the input is called in error messages.

    Returns:
        The lower-case name or the speed as a float.
    """
    expected = "slow, medium, fast or a speed in px/frame > 0"
    if isinstance(value, bool):
        raise InputError(name, expected, repr(value))
    if isinstance(value, (int, float)):
        v = float(value)
        if not (math.isfinite(v) and v > 0):
            raise InputError(name, expected, repr(value))
        return v
    if not isinstance(value, str):
        raise InputError(name, expected, repr(value))
    word = value.strip().lower()
    if word in MAGNITUDE_NAMES:
        return word
    match = _NUMBER.match(word)
    if match is None:
        raise InputError(name, expected, repr(value))
    v = float(match.group(1))
    if not (math.isfinite(v) and v > 0):
        raise InputError(name, expected, repr(value))
    return v


def parse_prompt(text: str, magnitude=None, *, name: str = "prompt") -> MotionPrompt:
    """Parse a short motion prompt.

    Args:
        text: ``VERB [DIRECTION] [MAGNITUDE]``, e.g. ``"flow left"``, ``"swirl cw fast"``,
            ``"drift 0.5"``. Case and extra spaces are ignored.
        magnitude: optional magnitude that overrides the one in ``text`` (see
            :func:`parse_magnitude`).
        name: what the prompt is called in error messages (a bad ``magnitude`` is
            ``{name}.magnitude``).

    Returns:
        :class:`MotionPrompt` with defaults filled in (see the module docstring's table).

    Raises:
        InputError: an empty or unknown prompt (the message lists the known ones), a missing
            direction after ``flow``, or a bad magnitude.
    """
    if not isinstance(text, str) or not text.strip():
        raise InputError(name, f"a non-empty motion prompt: {KNOWN_PROMPTS}", repr(text))
    words = text.strip().lower().replace(",", " ").split()
    if not words:
        raise InputError(name, f"a non-empty motion prompt: {KNOWN_PROMPTS}", repr(text))
    verb, rest = words[0], words[1:]
    if verb not in PROMPT_VERBS:
        raise _bad_prompt(text, name)
    default_dir, default_mag = PROMPT_VERBS[verb]
    direction = None
    mag: str | float = default_mag
    if rest:
        last = rest[-1]
        if last in MAGNITUDE_NAMES or _NUMBER.match(last):
            mag = parse_magnitude(last, name)
            rest = rest[:-1]
    # A diagonal may be written as two words ("up left") or hyphenated ("up-left").
    word = "-".join(rest) if rest else None
    if word is not None:
        if verb in ("flow", "drift"):
            word = _DIAGONAL_ALIASES.get(word, word)
            if word not in _DIRECTIONS:
                raise _bad_prompt(text, name)
            direction = word
        elif verb == "swirl" and word in _SPIN:
            direction = _SPIN[word]
        elif verb == "ripple" and word in _RADIAL:
            direction = _RADIAL[word]
        else:
            raise _bad_prompt(text, name)
    else:
        if verb == "flow":
            raise InputError(name, f"a direction after 'flow' ({KNOWN_PROMPTS})", repr(text))
        direction = default_dir
    if magnitude is not None:
        mag = parse_magnitude(magnitude, f"{name}.magnitude")
    return MotionPrompt(verb, direction, mag)


def resolve_magnitude(magnitude: str | float, height: int, width: int) -> float:
    """Speed in pixels per motion step of a magnitude at a working size ``H x W``."""
    if isinstance(magnitude, str):
        return MAGNITUDE_NAMES[magnitude] * float(max(height, width))
    return float(magnitude)


def _as_prompt(prompt) -> MotionPrompt:
    if isinstance(prompt, MotionPrompt):
        return prompt
    return parse_prompt(prompt)


def prompt_field(prompt, mask: torch.Tensor, magnitude=None) -> torch.Tensor:
    """Dense parametric field of a prompt inside a region.

    With ``m`` the magnitude in px/step, pixel centres ``x = (j + 0.5, i + 0.5)``, the region's
    centroid ``c`` (mean of its pixel centres) and ``R = max(1, max_x |x - c|)`` over the region:

    * uniform verbs (flow, fall, rise, drift): ``M(x) = m d`` with ``d`` the unit direction;
    * ``swirl``: ``M(x) = s m J (x - c) / R`` with ``J (dx, dy) = (dy, -dx)`` (counter-clockwise
      on screen, where ``y`` points down) and ``s = -1`` for ``cw``; rigid rotation at
      ``m / R`` rad/step, speed ``m`` at the farthest pixel;
    * ``ripple``: ``M(x) = s m w(r) (x - c) / r`` with ``r = |x - c|``,
      ``w(r) = smoothstep(min(r / r0, 1)) (0.6 + 0.4 cos(2 pi r / lambda))``,
      ``lambda = max(4, R / 3)`` px, ``r0 = max(1, lambda / 4)``, ``s = +1`` outward, ``-1`` inward;
    * ``sway``: ``M(x) = (m a(y) cos(2 pi (x - x0) / lambda), 0)`` with ``a(y) = (y1 - y) / (y1 - y0)``
      (``y0``, ``y1``: top and bottom pixel centres of the region, ``a = 1`` when they coincide),
      ``x0`` the leftmost pixel centre and ``lambda = max(8, bbox width / 2)``.

    Args:
        prompt: a :class:`MotionPrompt` or prompt text.
        mask: ``(H, W)`` bool region mask (non-empty).
        magnitude: optional override of the prompt's magnitude.

    Returns:
        ``(2, H, W)`` float32 field in px/step on the mask's device, exactly 0 outside the mask.

    Raises:
        InputError: a bad prompt, magnitude or mask.

    Example:
        >>> m = torch.zeros(32, 48, dtype=torch.bool); m[8:24, 8:40] = True
        >>> prompt_field("flow left 2", m)[:, 16, 20].tolist()
        [-2.0, 0.0]
    """
    p = _as_prompt(prompt)
    if magnitude is not None:
        p = MotionPrompt(p.verb, p.direction, parse_magnitude(magnitude))
    if not isinstance(mask, torch.Tensor) or mask.dim() != 2 or mask.dtype != torch.bool:
        found = f"{mask.dtype} {tuple(mask.shape)}" if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise InputError("mask", "an (H, W) bool tensor", found)
    if not bool(mask.any()):
        raise InputError("mask", "a region with at least one pixel", "an empty mask")
    h, w = mask.shape
    m = resolve_magnitude(p.magnitude, h, w)
    sel = mask.detach().cpu().numpy()
    ii, jj = np.nonzero(sel)
    xs, ys = jj.astype(np.float64) + 0.5, ii.astype(np.float64) + 0.5
    out = np.zeros((2, h, w), np.float64)
    if p.verb in ("flow", "fall", "rise", "drift"):
        dx, dy = _DIRECTIONS[p.direction]
        vx, vy = np.full(xs.shape, m * dx), np.full(xs.shape, m * dy)
    else:
        cx, cy = xs.mean(), ys.mean()
        rx, ry = xs - cx, ys - cy
        radius = np.hypot(rx, ry)
        big_r = max(1.0, float(radius.max()))
        if p.verb == "swirl":
            s = 1.0 if p.direction == "ccw" else -1.0
            vx, vy = s * m * ry / big_r, -s * m * rx / big_r
        elif p.verb == "ripple":
            s = 1.0 if p.direction == "out" else -1.0
            lam = max(4.0, big_r / 3.0)
            r0 = max(1.0, lam / 4.0)
            a = np.minimum(radius / r0, 1.0)
            wgt = a * a * (3.0 - 2.0 * a) * (0.6 + 0.4 * np.cos(2.0 * np.pi * radius / lam))
            safe = np.maximum(radius, 1e-12)
            vx, vy = s * m * wgt * rx / safe, s * m * wgt * ry / safe
        else:  # sway
            y0, y1 = ys.min(), ys.max()
            a = np.ones_like(ys) if y1 == y0 else (y1 - ys) / (y1 - y0)
            x0 = xs.min()
            lam = max(8.0, (xs.max() - x0 + 1.0) / 2.0)
            vx = m * a * np.cos(2.0 * np.pi * (xs - x0) / lam)
            vy = np.zeros_like(vx)
    out[0, ii, jj] = vx
    out[1, ii, jj] = vy
    return torch.from_numpy(out.astype(np.float32)).to(mask.device) + 0.0
