"""Motion inputs: sparse hints (arrows), anchor points, region masks and labelme annotations.

Coordinates are continuous pixel coordinates in the OpenCV convention: ``x`` to the right, ``y``
down, the image covers ``[0, W] x [0, H]`` and pixel ``(i, j)`` (row, column) has its centre at
``(j + 0.5, i + 0.5)``. A hint is a start point and a motion vector in pixels per motion step at
the working resolution. See ``docs/motion.md`` for the file formats.
"""

from __future__ import annotations

import json
import math
import numbers
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from ..errors import InputError

__all__ = [
    "MotionHints",
    "HINT_UNITS",
    "DEFAULT_HINT_SCALE",
    "parse_arrow",
    "parse_point",
    "load_hints",
    "hints_to_dict",
    "load_labelme",
    "load_mask",
    "check_hints",
    "check_points",
]

#: Value of the ``"units"`` key of a hints file (``"pixels_per_step"`` is accepted as a synonym).
HINT_UNITS = "pixels_per_frame"
_UNIT_SYNONYMS = (HINT_UNITS, "pixels_per_step")

#: Default labelme rule: a hint line of length ``L`` working pixels means a speed of
#: ``L * DEFAULT_HINT_SCALE`` pixels per motion step (a 50-pixel line gives 1 px/step).
DEFAULT_HINT_SCALE = 0.02

#: Largest relative difference between the aspect ratio of a labelme annotation and the working
#: image before :func:`load_labelme` refuses to rescale it.
_ASPECT_TOLERANCE = 0.02


@dataclass(frozen=True)
class MotionHints:
    """Sparse motion hints: ``K`` arrows with a start point and a motion vector.

    Attributes:
        starts: ``(K, 2)`` float32 start points ``(x, y)`` in pixels (centres at integer + 0.5).
        vectors: ``(K, 2)`` float32 motion ``(dx, dy)`` in pixels per motion step; the vector's
            length is the speed and its direction the flow direction at ``starts``.

    ``K`` may be 0 (no hints). Construction checks shapes and finiteness; the checks against an
    image size (inside the image, non-zero length) are :func:`check_hints`.
    """

    starts: torch.Tensor
    vectors: torch.Tensor

    def __post_init__(self) -> None:
        for name in ("starts", "vectors"):
            value = getattr(self, name)
            if not isinstance(value, torch.Tensor):
                raise InputError(
                    f"MotionHints.{name}", "a torch.Tensor of shape (K, 2)", type(value).__name__
                )
            if value.dim() != 2 or value.shape[1] != 2:
                raise InputError(f"MotionHints.{name}", "shape (K, 2)", tuple(value.shape))
            if not value.is_floating_point():
                raise InputError(f"MotionHints.{name}", "a floating-point tensor", value.dtype)
            if not bool(torch.isfinite(value).all()):
                raise InputError(f"MotionHints.{name}", "finite values", "NaN or infinity")
        if self.starts.shape != self.vectors.shape:
            raise InputError(
                "MotionHints",
                "starts and vectors of the same shape (K, 2)",
                f"{tuple(self.starts.shape)} and {tuple(self.vectors.shape)}",
            )

    @staticmethod
    def create(starts, vectors, device=None) -> MotionHints:
        """Build from array-likes (lists, numpy arrays, tensors) of shape ``(K, 2)``.

        Args:
            starts: ``(K, 2)`` start points in pixels.
            vectors: ``(K, 2)`` motion vectors in pixels per motion step.
            device: torch device of the result.
        """

        def convert(x, name):
            if isinstance(x, torch.Tensor):
                return x.detach().to(device=device, dtype=torch.float32).reshape(-1, 2)
            try:
                arr = np.asarray(x, dtype=np.float32)
            except (TypeError, ValueError):
                raise InputError(f"MotionHints.{name}", "numbers of shape (K, 2)", repr(x)) from None
            if arr.size % 2:
                raise InputError(f"MotionHints.{name}", "numbers of shape (K, 2)", arr.shape)
            return torch.as_tensor(arr.reshape(-1, 2), device=device)

        return MotionHints(convert(starts, "starts"), convert(vectors, "vectors"))

    @staticmethod
    def empty(device=None) -> MotionHints:
        """No hints (``K = 0``)."""
        z = torch.zeros(0, 2, dtype=torch.float32, device=device)
        return MotionHints(z, z.clone())

    @staticmethod
    def concat(hints: list[MotionHints]) -> MotionHints:
        """Concatenate several hint sets (in order)."""
        if not hints:
            return MotionHints.empty()
        return MotionHints(
            torch.cat([h.starts for h in hints]), torch.cat([h.vectors.to(hints[0].starts) for h in hints])
        )

    def __len__(self) -> int:
        return int(self.starts.shape[0])

    @property
    def speeds(self) -> torch.Tensor:
        """``(K,)`` speed of each hint in pixels per motion step."""
        return torch.linalg.vector_norm(self.vectors, dim=1)

    def scaled(self, sx: float, sy: float | None = None) -> MotionHints:
        """Hints for an image resized by ``(sx, sy)``: start points and vectors are both scaled.

        Args:
            sx: horizontal scale factor (new width / old width).
            sy: vertical scale factor; ``sx`` when omitted.
        """
        sy = sx if sy is None else sy
        f = torch.tensor([sx, sy], dtype=self.starts.dtype, device=self.starts.device)
        return MotionHints(self.starts * f, self.vectors * f)

    def to(self, device) -> MotionHints:
        """Same hints on ``device``."""
        return MotionHints(self.starts.to(device), self.vectors.to(device))


def _inside(xy: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """``(K,)`` True for points inside the closed image rectangle ``[0, W] x [0, H]``."""
    x, y = xy[:, 0], xy[:, 1]
    return (x >= 0) & (x <= width) & (y >= 0) & (y <= height)


def _fmt(xy) -> str:
    return "(" + ", ".join(f"{float(c):g}" for c in xy) + ")"


def check_points(points, height: int, width: int, name: str = "anchors") -> torch.Tensor:
    """Check points against the image and return them as a float32 ``(A, 2)`` tensor.

    Args:
        points: ``(A, 2)`` or ``(2,)`` array-like of ``(x, y)`` pixel positions (``A`` may be 0).
        height, width: image size in pixels.
        name: what the input is called in error messages.

    Raises:
        InputError: wrong shape, non-finite values or a point outside ``[0, W] x [0, H]``.
    """
    if isinstance(points, torch.Tensor):
        pts = points
    else:
        try:
            pts = torch.as_tensor(np.asarray(points, dtype=np.float64), dtype=torch.float32)
        except (TypeError, ValueError):
            raise InputError(name, "points of shape (A, 2)", repr(points)) from None
    if pts.numel() == 0:
        return torch.zeros(0, 2, dtype=torch.float32, device=pts.device)
    if pts.dim() == 1 and pts.shape[0] == 2:
        pts = pts[None]
    if pts.dim() != 2 or pts.shape[1] != 2:
        raise InputError(name, "points of shape (A, 2)", tuple(pts.shape))
    pts = pts.float()
    if not bool(torch.isfinite(pts).all()):
        raise InputError(name, "finite pixel coordinates", "NaN or infinity")
    bad = ~_inside(pts, height, width)
    if bool(bad.any()):
        k = int(torch.nonzero(bad)[0, 0])
        raise InputError(
            name, f"points inside the {width}x{height} image [0, {width}] x [0, {height}]", _fmt(pts[k])
        )
    return pts


def check_hints(hints: MotionHints, height: int, width: int, name: str = "hints") -> None:
    """Check hints against an image: start points inside, speeds finite and positive.

    Args:
        hints: the hints to check.
        height, width: image size in pixels.
        name: what the input is called in error messages.

    Raises:
        InputError: a start point outside ``[0, W] x [0, H]`` or a zero-length vector.
    """
    if not isinstance(hints, MotionHints):
        raise InputError(name, "a MotionHints", type(hints).__name__)
    if len(hints) == 0:
        return
    bad = ~_inside(hints.starts, height, width)
    if bool(bad.any()):
        k = int(torch.nonzero(bad)[0, 0])
        raise InputError(
            f"{name}[{k}]", f"a start point inside the {width}x{height} image", _fmt(hints.starts[k])
        )
    speeds = hints.speeds
    bad = ~(speeds > 0)
    if bool(bad.any()):
        k = int(torch.nonzero(bad)[0, 0])
        raise InputError(
            f"{name}[{k}]", "a motion vector of non-zero length (speed > 0)", _fmt(hints.vectors[k])
        )


def _parse_numbers(text: str, count: int, name: str, form: str) -> list[float]:
    if not isinstance(text, str):
        raise InputError(name, form, repr(text))
    parts = [p.strip() for p in text.replace(";", ",").split(",")]
    if len(parts) != count:
        raise InputError(name, form, repr(text))
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise InputError(name, form, repr(text)) from None
    if not all(math.isfinite(v) for v in values):
        raise InputError(name, f"{form} with finite numbers", repr(text))
    return values


def parse_arrow(
    text: str,
    height: int | None = None,
    width: int | None = None,
    *,
    scale: float = 1.0,
    name: str = "arrow",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Parse an arrow ``"x0,y0,x1,y1"`` (pixels) into a hint.

    The arrow goes from ``(x0, y0)`` to ``(x1, y1)``; its direction is the flow direction and its
    length in pixels, times ``scale``, is the speed in pixels per motion step (with the default
    ``scale = 1`` an arrow 2 pixels long means 2 px/step).

    Args:
        text: four comma-separated numbers ``x0,y0,x1,y1``.
        height, width: image size in pixels; when given, both end points must lie inside
            ``[0, W] x [0, H]``.
        scale: speed per pixel of arrow length (> 0).
        name: what the input is called in error messages.

    Returns:
        ``start`` ``(2,)`` in pixels and ``vector`` ``(2,)`` in pixels per motion step (float32).

    Raises:
        InputError: malformed text, an end point outside the image, a zero-length arrow or a
            non-positive ``scale``.
    """
    arrow = _parse_numbers(text, 4, name, "an arrow 'x0,y0,x1,y1' in pixels")
    return arrow_hint(arrow, height, width, scale=scale, name=name)


def arrow_hint(
    arrow,
    height: int | None = None,
    width: int | None = None,
    *,
    scale: float = 1.0,
    name: str = "arrow",
) -> tuple[torch.Tensor, torch.Tensor]:
    """The hint of an arrow given as numbers ``(x0, y0, x1, y1)`` in pixels (see
    :func:`parse_arrow` for the meaning; this is its numeric core, used by the motion stage).

    Returns:
        ``start`` ``(2,)`` in pixels and ``vector`` ``(2,)`` in pixels per motion step (float32).

    Raises:
        InputError: not four finite numbers, an end point outside the image, a zero-length
            arrow or a non-positive ``scale``.
    """
    vals = list(arrow) if isinstance(arrow, (list, tuple)) else None
    if (
        vals is None
        or len(vals) != 4
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in vals)
    ):
        raise InputError(name, "an arrow [x0, y0, x1, y1] of finite numbers in pixels", repr(arrow))
    x0, y0, x1, y1 = (float(v) for v in vals)
    if not (math.isfinite(scale) and scale > 0):
        raise InputError(f"{name} scale", "a finite number > 0", scale)
    if height is not None and width is not None:
        for px, py in ((x0, y0), (x1, y1)):
            if not (0 <= px <= width and 0 <= py <= height):
                raise InputError(name, f"end points inside the {width}x{height} image", vals)
    if x0 == x1 and y0 == y1:
        raise InputError(name, "an arrow of non-zero length", vals)
    start = torch.tensor([x0, y0], dtype=torch.float32)
    vector = torch.tensor([(x1 - x0) * scale, (y1 - y0) * scale], dtype=torch.float32)
    return start, vector


def parse_point(
    text: str, height: int | None = None, width: int | None = None, *, name: str = "anchor"
) -> torch.Tensor:
    """Parse a point ``"x,y"`` in pixels.

    Args:
        text: two comma-separated numbers ``x,y``.
        height, width: image size in pixels; when given, the point must lie in ``[0, W] x [0, H]``.
        name: what the input is called in error messages.

    Returns:
        ``(2,)`` float32 tensor ``(x, y)`` in pixels.

    Raises:
        InputError: malformed text or a point outside the image.
    """
    x, y = _parse_numbers(text, 2, name, "a point 'x,y' in pixels")
    if height is not None and width is not None and not (0 <= x <= width and 0 <= y <= height):
        raise InputError(name, f"a point inside the {width}x{height} image", repr(text))
    return torch.tensor([x, y], dtype=torch.float32)


def _read_json(path, name: str):
    p = Path(os.fspath(path))
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(name, "an existing JSON file", f"no file {str(p)!r}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(name, "a readable UTF-8 JSON file", f"{type(exc).__name__}: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(name, "valid JSON", f"{exc.msg} at line {exc.lineno} column {exc.colno}") from None


def _number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(name, "a number", repr(value))
    value = float(value)
    if not math.isfinite(value):
        raise InputError(name, "a finite number", value)
    return value


def load_hints(path, height: int | None = None, width: int | None = None) -> MotionHints:
    """Read a hints file.

    Format (JSON)::

        {"units": "pixels_per_frame",
         "hints": [{"x": 412.5, "y": 300.5, "dx": 1.5, "dy": -0.2}, ...]}

    ``x, y`` is the start point in pixels of the working image, ``dx, dy`` the motion in pixels
    per motion step (one "frame" of the motion loop, not of the output video).

    Args:
        path: path of the JSON file.
        height, width: working image size; when given the start points are checked against it.

    Returns:
        The hints (``K >= 1``).

    Raises:
        InputError: unreadable or malformed file, wrong units, no hints, non-finite values, a
            zero-length vector or a start point outside the image.
    """
    name = f"hints file {os.fspath(path)!s}"
    data = _read_json(path, name)
    if not isinstance(data, dict):
        raise InputError(name, 'a JSON object {"units": ..., "hints": [...]}', type(data).__name__)
    units = data.get("units")
    if units not in _UNIT_SYNONYMS:
        raise InputError(f"{name}: units", f"{HINT_UNITS!r}", repr(units))
    items = data.get("hints")
    if not isinstance(items, list) or not items:
        raise InputError(f"{name}: hints", "a non-empty list of {x, y, dx, dy} objects", repr(items))
    starts, vectors = [], []
    for k, item in enumerate(items):
        where = f"{name}: hints[{k}]"
        if not isinstance(item, dict) or not {"x", "y", "dx", "dy"} <= set(item):
            raise InputError(where, "an object with numbers x, y, dx, dy", repr(item))
        starts.append([_number(item["x"], f"{where}.x"), _number(item["y"], f"{where}.y")])
        vectors.append([_number(item["dx"], f"{where}.dx"), _number(item["dy"], f"{where}.dy")])
    hints = MotionHints.create(starts, vectors)
    if height is not None and width is not None:
        check_hints(hints, height, width, name=f"{name}: hints")
    else:
        bad = ~(hints.speeds > 0)
        if bool(bad.any()):
            k = int(torch.nonzero(bad)[0, 0])
            raise InputError(f"{name}: hints[{k}]", "a motion vector of non-zero length", vectors[k])
    return hints


def hints_to_dict(hints: MotionHints) -> dict:
    """The JSON-serialisable hints-file form of ``hints`` (inverse of :func:`load_hints`)."""
    s = hints.starts.detach().cpu().double().tolist()
    v = hints.vectors.detach().cpu().double().tolist()
    return {
        "units": HINT_UNITS,
        "hints": [{"x": a[0], "y": a[1], "dx": b[0], "dy": b[1]} for a, b in zip(s, v)],
    }


def load_labelme(
    path, height: int, width: int, *, hint_scale: float = DEFAULT_HINT_SCALE
) -> tuple[torch.Tensor, MotionHints]:
    """Read a labelme annotation: motion polygons become a mask, hint lines become arrows.

    Mapping:

    * shapes of type ``polygon`` (3+ points) or ``rectangle`` (2 corners) whose label starts with
      ``"motion"`` (case-insensitive) are filled into the mask with ``cv2.fillPoly`` (sub-pixel
      vertices): a pixel is in the mask when its centre is inside the polygon or the outline
      passes through the pixel, as in labelme's own mask export;
    * shapes of type ``line`` or ``linestrip`` whose label starts with ``"hint"`` become arrows,
      one per segment, from each point to the next. A segment of length ``L`` pixels (measured
      at the working size) gives the speed ``L * hint_scale`` pixels per motion step, so with the
      default ``hint_scale = 0.02`` a 50-pixel line means 1 px/step;
    * every other shape or label is ignored.

    Labelme stores continuous pixel coordinates with pixel centres at integer + 0.5, as this
    library does. When ``imageWidth``/``imageHeight`` differ from ``width``/``height`` the
    coordinates are scaled to the working size (the aspect ratios must agree within 2%).

    Args:
        path: path of the labelme JSON file.
        height, width: working image size in pixels.
        hint_scale: speed in px/step per pixel of hint-line length (> 0).

    Returns:
        ``mask`` ``(H, W)`` bool tensor (the union of the motion polygons) and the hints
        (``K`` may be 0 when the file has no hint lines).

    Raises:
        InputError: unreadable or malformed file, aspect ratio mismatch, no motion polygon, an
            empty mask, a hint line of zero length or with an end point outside the image.
    """
    name = f"labelme file {os.fspath(path)!s}"
    if (
        not (isinstance(height, numbers.Integral) and isinstance(width, numbers.Integral))
        or min(height, width) <= 0
    ):
        raise InputError("image size", "positive integers height, width", (height, width))
    height, width = int(height), int(width)
    if not (isinstance(hint_scale, (int, float)) and math.isfinite(hint_scale) and hint_scale > 0):
        raise InputError("hint_scale", "a finite number > 0", hint_scale)
    data = _read_json(path, name)
    if not isinstance(data, dict) or not isinstance(data.get("shapes"), list):
        raise InputError(name, "a labelme JSON object with a 'shapes' list", type(data).__name__)

    sx = sy = 1.0
    ih, iw = data.get("imageHeight"), data.get("imageWidth")
    if ih is not None or iw is not None:
        ih = _number(ih, f"{name}: imageHeight")
        iw = _number(iw, f"{name}: imageWidth")
        if ih <= 0 or iw <= 0:
            raise InputError(f"{name}: imageWidth x imageHeight", "positive sizes", (iw, ih))
        sx, sy = width / iw, height / ih
        if abs(sx / sy - 1.0) > _ASPECT_TOLERANCE:
            raise InputError(
                f"{name}: imageWidth x imageHeight",
                f"the aspect ratio of the {width}x{height} working image (within 2%)",
                f"{iw:g}x{ih:g}",
            )
    scale = np.array([sx, sy])

    mask = np.zeros((height, width), np.uint8)
    polygons = 0
    starts, vectors = [], []
    for k, shape in enumerate(data["shapes"]):
        where = f"{name}: shapes[{k}]"
        if not isinstance(shape, dict):
            raise InputError(where, "an object with label, points and shape_type", repr(shape))
        label = shape.get("label")
        if not isinstance(label, str):
            raise InputError(f"{where}.label", "a string", repr(label))
        label = label.strip().lower()
        kind = shape.get("shape_type") or "polygon"
        is_motion = label.startswith("motion") and kind in ("polygon", "rectangle")
        is_hint = label.startswith("hint") and kind in ("line", "linestrip")
        if not (is_motion or is_hint):
            continue
        try:
            pts = np.asarray(shape.get("points"), dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError(
                f"{where}.points", "a list of [x, y] numbers", repr(shape.get("points"))
            ) from None
        if pts.ndim != 2 or pts.shape[1] != 2 or not np.isfinite(pts).all():
            raise InputError(f"{where}.points", "a list of finite [x, y] pairs", repr(shape.get("points")))
        pts = pts * scale
        if is_motion:
            if kind == "rectangle":
                if pts.shape[0] != 2:
                    raise InputError(f"{where}.points", "2 corners for a rectangle", pts.shape[0])
                (xa, ya), (xb, yb) = pts
                pts = np.array([[xa, ya], [xb, ya], [xb, yb], [xa, yb]])
            elif pts.shape[0] < 3:
                raise InputError(f"{where}.points", "3 or more points for a polygon", pts.shape[0])
            far = (np.abs(pts - [width / 2, height / 2]) > [1.5 * width, 1.5 * height]).any(axis=1)
            if far.any():  # beyond this the fixed-point vertices would overflow; nothing is lost
                raise InputError(
                    f"{where}.points",
                    f"polygon points within one image size of the {width}x{height} image",
                    _fmt(pts[int(np.nonzero(far)[0][0])]),
                )
            # cv2 puts integer vertex coordinates at pixel centres: shift by -0.5, 4 fractional bits.
            fixed = np.round((pts - 0.5) * 16.0).astype(np.int32)
            cv2.fillPoly(mask, [fixed.reshape(-1, 1, 2)], 1, lineType=cv2.LINE_8, shift=4)
            polygons += 1
        else:
            if pts.shape[0] < 2:
                raise InputError(f"{where}.points", "2 or more points for a hint line", pts.shape[0])
            outside = (pts[:, 0] < 0) | (pts[:, 0] > width) | (pts[:, 1] < 0) | (pts[:, 1] > height)
            if outside.any():
                j = int(np.nonzero(outside)[0][0])
                raise InputError(
                    f"{where}.points", f"hint end points inside the {width}x{height} image", _fmt(pts[j])
                )
            seg = np.diff(pts, axis=0)
            if (np.hypot(seg[:, 0], seg[:, 1]) == 0).any():
                raise InputError(f"{where}.points", "a hint line of non-zero length", _fmt(pts[0]))
            starts.extend(pts[:-1].tolist())
            vectors.extend((seg * hint_scale).tolist())
    if polygons == 0:
        raise InputError(name, "at least one polygon labelled 'motion...'", "none")
    if not mask.any():
        raise InputError(name, "motion polygons covering at least one pixel centre", "an empty mask")
    hints = MotionHints.create(starts, vectors) if starts else MotionHints.empty()
    return torch.from_numpy(mask.astype(bool)), hints


def _mask_to_bool(arr: np.ndarray, name: str) -> np.ndarray:
    """``(H, W)`` bool from a grey, RGB(A) or bool array: value > half of the full range."""
    if arr.ndim == 3 and arr.shape[2] in (1, 3, 4):
        if arr.shape[2] == 4:
            alpha = arr[..., 3]
            arr = alpha if alpha.min() != alpha.max() else arr[..., :3].max(axis=2)
        else:
            arr = arr.max(axis=2)
    if arr.ndim != 2:
        raise InputError(name, "a mask of shape (H, W), (H, W, 1|3|4) or (1, H, W)", arr.shape)
    if arr.dtype == bool:
        return arr
    if arr.dtype == np.uint8:
        return arr > 127
    if arr.dtype == np.uint16:
        return arr > 32767
    if np.issubdtype(arr.dtype, np.integer):
        return arr > 0
    if np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise InputError(name, "finite mask values", "NaN or infinity")
        return arr > 0.5
    raise InputError(name, "a boolean, integer or float mask", arr.dtype)


def load_mask(path_or_array, height: int, width: int, *, name: str | None = None) -> torch.Tensor:
    """Load a region mask from an image file or an array and check it against the image size.

    A pixel is in the mask when its value is above half of the full range: ``> 127`` for 8-bit,
    ``> 32767`` for 16-bit, ``> 0.5`` for floats, ``True`` for bool. Colour images use the
    maximum over the colour channels; RGBA images use the alpha channel unless it is constant.

    Args:
        path_or_array: image path (PNG, JPEG, ... read with OpenCV), or an ``(H, W)``,
            ``(H, W, C)`` numpy array, or an ``(H, W)`` / ``(1, H, W)`` tensor.
        height, width: working image size in pixels. A mask of another size with the same
            aspect ratio (within 2 %: a mask drawn on the photo at its own size, when
            ``max_side`` shrinks the working image) is resized to it by area averaging and
            thresholded at 0.5; any other size is refused.
        name: what the input is called in error messages (default: the path or ``"mask"``).

    Returns:
        ``(H, W)`` bool tensor on the CPU (or on the input tensor's device).

    Raises:
        InputError: unreadable file, wrong size or an empty mask.
    """
    device = None
    if isinstance(path_or_array, (str, os.PathLike)):
        name = name or f"mask {os.fspath(path_or_array)!s}"
        p = os.fspath(path_or_array)
        if not os.path.isfile(p):
            raise InputError(name, "an existing image file", f"no file {p!r}")
        arr = cv2.imread(p, cv2.IMREAD_UNCHANGED)
        if arr is None:
            raise InputError(name, "an image file OpenCV can read", "an unreadable file")
    elif isinstance(path_or_array, torch.Tensor):
        name = name or "mask"
        device = path_or_array.device
        t = path_or_array.detach()
        if t.dim() == 3 and t.shape[0] == 1:
            t = t[0]
        arr = t.cpu().numpy()
    elif isinstance(path_or_array, np.ndarray):
        name = name or "mask"
        arr = path_or_array
    else:
        raise InputError(name or "mask", "a path, numpy array or tensor", type(path_or_array).__name__)
    mask = _mask_to_bool(arr, name)
    if mask.shape != (height, width):
        mh, mw = mask.shape
        if abs((mw / mh) / (width / height) - 1.0) > _ASPECT_TOLERANCE:
            raise InputError(
                name,
                f"a {width}x{height} mask (the working image size) or one with its aspect ratio",
                f"{mw}x{mh}",
            )
        area = cv2.resize(mask.astype(np.float32), (width, height), interpolation=cv2.INTER_AREA)
        mask = area > 0.5
    if not mask.any():
        raise InputError(name, "a mask with at least one selected pixel", "an empty mask")
    out = torch.from_numpy(np.ascontiguousarray(mask))
    return out.to(device) if device is not None else out
