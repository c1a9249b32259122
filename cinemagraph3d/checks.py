"""Checks that run before any work: output paths (the one rule every output of every command
follows) and input files' headers. Imports nothing heavy (no torch, numpy or OpenCV), so the CLI
refuses a bad argument at once; part of the I/O layer (it reads file headers, writes nothing).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .errors import InputError

__all__ = [
    "OUTPUT_MARK",
    "OUTPUT_KINDS",
    "VIDEO_SUFFIXES",
    "MAX_DECODE_PIXELS",
    "check_output_path",
    "image_size",
    "working_size",
    "decode_reduction",
    "check_inputs",
    "check_outputs",
]

VIDEO_SUFFIXES = (".mp4", ".webm", ".mov", ".gif", ".webp", ".jpg")

#: Name of the marker file inside every directory this tool creates as an output (PNG frames,
#: layers, evaluation folders): ``force`` replaces such a directory, never any other.
OUTPUT_MARK = ".cinemagraph3d-output"

#: What each output kind may be: ``video`` (a .mp4/.gif/.webp file, a .png still or a directory
#: of PNG frames), ``dir`` (a directory), or a file with one of the listed suffixes.
OUTPUT_KINDS = {
    "video": VIDEO_SUFFIXES + (".png", ""),
    "dir": ("",),
    "json": (".json",),
    "png": (".png",),
    "ply": (".ply",),
    "md": (".md",),
}


def _real(path) -> Path:
    return Path(os.path.realpath(os.path.abspath(os.fspath(path))))


def _within(inner: Path, outer: Path) -> bool:
    """Whether ``inner`` is ``outer`` or lies below it (both real, absolute paths)."""
    return inner == outer or outer in inner.parents


def check_output_path(
    path: str | os.PathLike,
    *,
    name: str = "output",
    kind: str = "video",
    force: bool = False,
    inputs: Iterable[str | os.PathLike] = (),
    others: Iterable[str | os.PathLike] = (),
) -> Path:
    """Check that ``path`` can be created before any work starts — the one rule for every output.

    Rules (each refusal is an :class:`InputError` naming ``name``):

    - the path is not empty, ``.``, ``..``, the current directory or one above it;
    - its suffix fits ``kind`` (see :data:`OUTPUT_KINDS`; for ``video`` no suffix means a
      directory of PNG frames);
    - its parent directory exists and is writable;
    - it is none of ``inputs`` and contains none of them (a directory output holding an input),
      and none of ``others`` (the run's other outputs);
    - it does not exist yet, unless ``force``: then an existing file of the same kind is replaced
      at the end of the run, and an existing directory only if this tool created it (it holds
      :data:`OUTPUT_MARK`); anything else is never deleted.

    Nothing is created or changed by this check.

    Returns:
        The path as given (a :class:`~pathlib.Path`).
    """
    text = os.fspath(path) if path is not None else ""
    if not str(text).strip():
        raise InputError(name, "a file or directory name", repr(text))
    p = Path(text)
    if p.name in ("", ".", ".."):
        raise InputError(name, "a new file or directory, not '.' or '..'", repr(str(text)))
    real = _real(p)
    cwd = _real(Path.cwd())
    if _within(cwd, real):
        raise InputError(name, "a new file or directory, not the current directory or one above it", str(p))
    suffix = p.suffix.lower()
    allowed = OUTPUT_KINDS[kind]
    if suffix not in allowed:
        want = {
            "video": f"a {'/'.join(VIDEO_SUFFIXES)} file, a .png still or a directory (no suffix)",
            "dir": "a directory name (no suffix)",
        }.get(kind, f"a {'/'.join(allowed)} file")
        raise InputError(name, want, str(p))
    parent = real.parent
    if not parent.is_dir():
        raise InputError(name, "a path in an existing directory", f"no directory {str(p.parent)!r}")
    if not os.access(parent, os.W_OK):
        raise InputError(name, "a writable directory", f"{str(p.parent)!r} is not writable")
    for i in inputs:
        if i is None or not str(i):
            continue
        ri = _real(i)
        if _within(ri, real):
            what = "is" if ri == real else "contains"
            raise InputError(
                name, "a path that is not one of the run's inputs", f"{str(p)!r} {what} input {str(i)!r}"
            )
    for o in others:
        if o is not None and str(o) and _real(o) == real:
            raise InputError(name, "a path different from the run's other outputs", f"{str(p)!r} given twice")
    is_dir = suffix == ""
    if os.path.lexists(p):
        if not force:
            raise InputError(
                name, "a path that does not exist yet (or force, to replace it)", f"{str(p)!r} exists"
            )
        if p.is_dir() != is_dir or p.is_symlink() and is_dir:
            raise InputError(
                name, f"a {'directory' if is_dir else 'file'} to replace", f"{str(p)!r} is not one"
            )
        if is_dir and not (p / OUTPUT_MARK).is_file():
            raise InputError(
                name,
                "a directory cinemagraph3d created (force replaces only those)",
                f"{str(p)!r} was not created by cinemagraph3d",
            )
    return p


#: Largest image decoded at full size, in pixels (100 megapixels: 300 MB as uint8 RGB, 1.2 GB as
#: the float working copy). A larger photo is decoded reduced by 2, 4 or 8 (OpenCV's reduced
#: decoding) when ``max_side`` asks for a smaller working size, and refused otherwise.
MAX_DECODE_PIXELS = 100_000_000


def image_size(path: str | os.PathLike, name: str = "image") -> tuple[int, int]:
    """``(width, height)`` of an image file as displayed (EXIF orientation applied), read from its
    header without decoding the pixels.

    Raises:
        InputError: missing file, or not an image Pillow can identify.
    """
    from PIL import Image

    path = Path(path)
    if not path.is_file():
        raise InputError(name, "an existing image file", f"no file at {str(path)!r}")
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # only the header is read here; the size rule is ours
    try:
        with Image.open(path) as im:
            w, h = im.size
            # Pillow reads a PNG's EXIF only after decoding its pixels: not for a huge one.
            small = w * h <= MAX_DECODE_PIXELS
            orient = int(im.getexif().get(0x0112, 1) or 1) if small or im.format != "PNG" else 1
    except Exception as exc:  # noqa: BLE001 - any identification failure is a bad input
        raise InputError(name, "a readable JPEG/PNG/WebP/TIFF image", f"{path.name}: {exc}") from None
    finally:
        Image.MAX_IMAGE_PIXELS = saved
    return (h, w) if orient in (5, 6, 7, 8) else (w, h)


def working_size(size: tuple[int, int], max_side: int | None) -> tuple[int, int]:
    """``(width, height)`` of the working image for a photo of ``size`` and ``max_side`` (the
    same rounding as :func:`resize_image`)."""
    w, h = size
    if max_side is None or max_side >= max(w, h):
        return w, h
    s = max_side / max(h, w)
    return max(2, round(w * s)), max(2, round(h * s))


def decode_reduction(size: tuple[int, int], max_side: int | None, label: str = "image") -> int:
    """Decoding reduction factor (1, 2, 4 or 8) of a photo of ``size = (width, height)``: 1 up
    to :data:`MAX_DECODE_PIXELS`; above it, with ``max_side`` given, the largest factor that
    brings the decoded pixel count under the limit and keeps the longer side >= ``max_side``
    (else the smallest factor under the limit).

    Raises:
        InputError: the photo is too large to decode (no ``max_side``, or over 64× the limit).
    """
    w, h = size
    if w * h <= MAX_DECODE_PIXELS:
        return 1
    if max_side is not None:
        fits = [f for f in (2, 4, 8) if (w // f) * (h // f) <= MAX_DECODE_PIXELS]
        if fits:
            keep = [f for f in fits if max(w, h) // f >= max_side]
            return max(keep) if keep else fits[0]
    raise InputError(
        "image",
        f"at most {MAX_DECODE_PIXELS // 1_000_000} megapixels (or a smaller working size, max_side, to decode it reduced, "
        f"up to {64 * MAX_DECODE_PIXELS // 1_000_000} megapixels)",
        f"{w}×{h} pixels in {label}",
    )


def _exists(path, name: str, kind: str = "file") -> None:
    p = Path(path)
    ok = p.is_file() if kind == "file" else p.is_dir() if kind == "dir" else p.exists()
    if not ok:
        what = {"file": "an existing file", "dir": "an existing directory"}.get(kind, "an existing path")
        found = f"{str(p)!r} is a directory" if kind == "file" and p.is_dir() else f"no such path {str(p)!r}"
        raise InputError(name, what, found)


def check_inputs(project) -> tuple[int, int]:
    """Check that every input file of ``project`` exists (and is a file or a directory as
    expected), read the photo's header and apply the size rules. No pixel is decoded.

    Returns:
        ``(width, height)`` of the working image.

    Raises:
        InputError: naming the first input that fails.
    """
    from . import limits as L
    from .project import is_hub_id

    project.validate()
    size = image_size(project.image)
    decode_reduction(size, project.max_side, Path(project.image).name)
    w, h = working_size(size, project.max_side)
    d, m = project.depth, project.motion
    if d.file:
        _exists(d.file, "depth.file")
    for k, x in enumerate(m.masks):
        _exists(x, f"motion.masks[{k}]")
    for k, x in enumerate(m.freeze):
        _exists(x, f"motion.freeze[{k}]")
    if m.hints:
        _exists(m.hints, "motion.hints")
    if m.labelme:
        _exists(m.labelme, "motion.labelme")
    if project.camera.is_file:
        _exists(project.camera.path, "camera.path")
    if project.render.weights:
        _exists(project.render.weights, "render.weights", "dir")
    if m.sam_checkpoint:
        _exists(m.sam_checkpoint, "motion.sam_checkpoint")
    if d.model and not is_hub_id(d.model):
        _exists(d.model, "depth.model", "dir")
    for k, r in enumerate(m.regions):
        if r.mask is not None:
            _exists(r.mask, f"motion.regions[{k}].mask")
        if r.video is not None:
            _exists(r.video.path, f"motion.regions[{k}].video", "any")
    need = 16 * m.loop_steps * w * h
    if need > L.MOTION_MEMORY_BYTES:
        most = L.MOTION_MEMORY_BYTES // (16 * w * h)
        raise InputError(
            "motion.loop_steps",
            f"at most {most} steps at {w}×{h} (the motion of a loop takes 16·N·W·H bytes, "
            f"limit {L.MOTION_MEMORY_BYTES / 1024**3:g} GiB)",
            m.loop_steps,
        )
    return w, h


#: The side outputs of :func:`cinemagraph3d.api.animate`: keyword → kind of path (see
#: :func:`check_output_path`).
SIDE_OUTPUTS = {
    "depth_output": "video",
    "ply_output": "ply",
    "mask_overlay": "png",
    "motion_png": "png",
    "save_project": "json",
}


def animate_outputs(output, sides: dict) -> list[tuple[str, object, str]]:
    """``(name, path, kind)`` of the video and of every side output of one animate run, for
    :func:`check_outputs` (``sides``: keyword of :data:`SIDE_OUTPUTS` → path or None).

    Raises:
        InputError: a keyword that is no side output.
    """
    unknown = sorted(set(sides) - set(SIDE_OUTPUTS))
    if unknown:
        raise InputError("side outputs", f"keywords among {sorted(SIDE_OUTPUTS)}", unknown)
    return [("output", output, "video")] + [(k, sides.get(k), kind) for k, kind in SIDE_OUTPUTS.items()]


def check_outputs(outputs, inputs: Iterable = (), force: bool = False) -> list[Path]:
    """Check several outputs of one run together: each by :func:`check_output_path` against the
    run's ``inputs`` and against the other outputs. ``outputs`` holds ``(name, path, kind)``
    (entries whose path is None are skipped)."""
    given = [(n, p, k) for n, p, k in outputs if p is not None]
    done = []
    for i, (name, path, kind) in enumerate(given):
        others = [q for j, (_, q, _) in enumerate(given) if j != i]
        done.append(check_output_path(path, name=name, kind=kind, force=force, inputs=inputs, others=others))
    return done
