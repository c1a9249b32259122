"""All file input/output of cinemagraph3d: images, depth files, videos, layers and point clouds.

Images are returned as float tensors ``(3, H, W)`` in [0, 1]; uint8 exists only at this boundary.
Video writers stream frames to a temporary file that is renamed on success, so a failed or
interrupted run never leaves a half-written output.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import cv2
import numpy as np
import torch

from ._signals import held
from .checks import (
    MAX_DECODE_PIXELS,
    OUTPUT_MARK,
    VIDEO_SUFFIXES,
    check_output_path,
    decode_reduction,
    image_size,
    working_size,
)
from .errors import InputError

__all__ = [
    "read_image",
    "resize_image",
    "to_uint8",
    "write_png",
    "VideoWriter",
    "write_video",
    "CODECS",
    "DepthWriter",
    "depth_picture",
    "motion_photo_bytes",
    "motion_photo_xmp",
    "check_codec",
    "check_output_path",
    "replace_output",
    "make_output_dir",
    "replacing_dirs",
    "OUTPUT_MARK",
    "write_layers",
    "write_ply",
    "read_ply",
    "point_motion",
    "VIDEO_SUFFIXES",
    "image_size",
    "working_size",
    "MAX_DECODE_PIXELS",
]

# VIDEO_SUFFIXES comes from .checks

#: Video codecs: suffixes they can be written to, the ffmpeg encoder, the ``quality`` range
#: (CRF-style: lower is better, except WebP, where it is libwebp's 0–100 quality, higher is
#: better) and its default (None: the encoder's own default of this project, unchanged since 0.1).
CODECS = {
    "h264": dict(suffixes=(".mp4", ".mov", ".jpg"), encoder="libx264", quality=(0, 51), default=None),
    "hevc": dict(suffixes=(".mp4", ".mov", ".jpg"), encoder="libx265", quality=(0, 51), default=26),
    "vp9": dict(suffixes=(".webm",), encoder="libvpx-vp9", quality=(0, 63), default=32),
    "gif": dict(suffixes=(".gif",), encoder="gif", quality=None, default=None),
    "webp": dict(suffixes=(".webp",), encoder="libwebp_anim", quality=(0, 100), default=90),
}
#: The codec a suffix gets when none is asked for.
DEFAULT_CODECS = {
    ".mp4": "h264",
    ".mov": "h264",
    ".webm": "vp9",
    ".gif": "gif",
    ".webp": "webp",
    ".jpg": "h264",
}
#: Largest number of times the loop may be repeated inside one file.
MAX_LOOPS = 100


def _bitrate(text, name: str = "bitrate") -> str:
    """A bit rate as ffmpeg reads it: a number of bits per second with an optional k or M
    (``"800k"``, ``"4M"``), between 10k and 500M."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*", str(text)) if text is not None else None
    if m is None:
        raise InputError(name, "bits per second such as 800k or 4M", repr(text))
    value = float(m.group(1)) * {"": 1, "k": 1e3, "m": 1e6}[m.group(2).lower()]
    if not 1e4 <= value <= 5e8:
        raise InputError(name, "between 10k and 500M", text)
    return f"{int(value)}"


def check_codec(
    suffix: str, codec: str | None = None, quality: float | None = None, bitrate=None, *, name: str = "output"
) -> str:
    """The codec for an output ``suffix`` (``.mp4``, ``.webm``, ...) and the checked options.

    Args:
        suffix: the output's suffix.
        codec, quality, bitrate: the options (None: the suffix's default codec, its default
            quality, no fixed bit rate).
        name: what the output is called in error messages; the options are
            ``{name}.codec``, ``{name}.quality`` and ``{name}.bitrate``.

    Raises:
        InputError: an unknown codec, one the suffix cannot hold, a quality out of the codec's
            range, a bitrate for GIF.
    """
    suffix = suffix.lower()
    if codec is None:
        codec = DEFAULT_CODECS.get(suffix)
        if codec is None:
            raise InputError(name, "a video suffix " + "/".join(DEFAULT_CODECS), suffix or "no suffix")
    spec = CODECS.get(str(codec).lower())
    if spec is None:
        raise InputError(f"{name}.codec", f"one of {', '.join(CODECS)}", repr(codec))
    codec = str(codec).lower()
    if suffix not in spec["suffixes"]:
        raise InputError(
            f"{name}.codec",
            f"a {'/'.join(spec['suffixes'])} output for {codec}",
            f"a {suffix} output" if suffix else "an output with no suffix",
        )
    if quality is not None:
        rng = spec["quality"]
        ok = isinstance(quality, (int, float)) and not isinstance(quality, bool) and rng is not None
        if not (ok and rng[0] <= quality <= rng[1]):
            want = f"{rng[0]}–{rng[1]} for {codec}" if rng else f"no quality setting for {codec}"
            raise InputError(f"{name}.quality", want, quality)
    if bitrate is not None:
        if codec == "gif":
            raise InputError(f"{name}.bitrate", "an mp4, mov, webm or webp output", "gif")
        _bitrate(bitrate, f"{name}.bitrate")
    return codec


#: Frame-rate range accepted by the writers (frames per second).
MIN_FPS, MAX_FPS = 1.0, 240.0

# EXIF orientation value -> (number of 90° counter-clockwise rotations, mirror left-right first)
_EXIF_OPS = {1: (0, False), 2: (0, True), 3: (2, False), 4: (2, True), 5: (1, True), 6: (3, False),
             7: (3, True), 8: (1, False)}  # fmt: skip


def _exif_orientation(path: Path) -> int:
    try:
        from PIL import Image

        with Image.open(path) as im:
            return int(im.getexif().get(0x0112, 1) or 1)
    except Exception:  # noqa: BLE001 - no EXIF is the normal case
        return 1


def _to_float(arr: np.ndarray, name: str) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / 255.0
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / 65535.0
    if arr.dtype in (np.int32, np.uint32, np.int64):
        return arr.astype(np.float32) / 65535.0  # Pillow's 16-bit greyscale mode "I"
    if arr.dtype == np.bool_:
        return arr.astype(np.float32)
    if np.issubdtype(arr.dtype, np.floating):
        return np.clip(arr.astype(np.float32), 0.0, 1.0)
    raise InputError(name, "an 8- or 16-bit image", f"pixel type {arr.dtype}")


def _decode(path: Path, reduce: int = 1) -> np.ndarray:
    """Decode with OpenCV (keeps 16-bit, ignores EXIF: applied separately), else imageio."""
    import cv2

    if reduce > 1:
        flag = {2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}
        arr = cv2.imread(str(path), flag[reduce] | cv2.IMREAD_IGNORE_ORIENTATION)
        if arr is None:
            raise InputError("image", "an image OpenCV can decode reduced", path.name)
        return np.ascontiguousarray(arr[:, :, ::-1])
    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if arr is not None:
        if arr.ndim == 3 and arr.shape[2] == 3:
            arr = arr[:, :, ::-1]
        elif arr.ndim == 3 and arr.shape[2] == 4:
            arr = arr[:, :, [2, 1, 0, 3]]
        return np.ascontiguousarray(arr)
    import imageio.v3 as iio

    try:
        return np.asarray(iio.imread(path))
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a bad input
        raise InputError("image", "a readable JPEG/PNG/WebP/TIFF image", f"{path.name}: {exc}") from None


def read_image(path: str | os.PathLike, max_side: int | None = None) -> torch.Tensor:
    """Read a photo (JPEG, PNG, WebP, TIFF, 8/16-bit, grey, RGB or RGBA) as RGB in [0, 1].

    EXIF orientation is applied; an alpha channel is flattened onto white; grey is replicated.

    Args:
        path: image file.
        max_side: if given, downscale (area filter) so that ``max(H, W) <= max_side``.

    Size rule: an image over :data:`MAX_DECODE_PIXELS` (100 MP) is decoded reduced by 2, 4 or 8
    when ``max_side`` allows it (the pixel count is read from the header before decoding), and
    refused otherwise.

    Returns:
        ``(3, H, W)`` float32 tensor in [0, 1].

    Raises:
        InputError: missing, unreadable or non-image file; an image smaller than 2×2 pixels.
    """

    path = Path(path)
    if not path.is_file():
        raise InputError("image", "an existing image file", f"no file at {str(path)!r}")
    if max_side is not None and (isinstance(max_side, bool) or int(max_side) < 2):
        raise InputError("max_side", "an integer >= 2", max_side)
    arr = _decode(path, decode_reduction(image_size(path), max_side, path.name))
    if arr.ndim == 4:  # animated/multi-page: first frame
        arr = arr[0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 2, 3, 4)):
        raise InputError("image", "a 2-D grey, RGB or RGBA image", f"array of shape {arr.shape}")
    img = _to_float(arr, "image")
    if img.ndim == 2:
        img = img[:, :, None]
    if img.shape[2] in (2, 4):  # flatten alpha onto white
        a = img[:, :, -1:]
        img = img[:, :, :-1] * a + (1.0 - a)
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    rot, mirror = _EXIF_OPS.get(_exif_orientation(path), (0, False))
    if mirror:
        img = img[:, ::-1]
    if rot:
        img = np.rot90(img, rot)
    h, w = img.shape[:2]
    if h < 2 or w < 2:
        raise InputError("image", "at least 2×2 pixels", f"{w}×{h} pixels in {path.name}")
    out = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).float()
    if max_side is not None:
        out = resize_image(out, max_side)
    return out


def resize_image(image: torch.Tensor, max_side: int) -> torch.Tensor:
    """Downscale ``(C, H, W)`` so ``max(H, W) <= max_side`` (area filter); never upscales."""
    if int(max_side) < 2:
        raise InputError("max_side", "an integer >= 2", max_side)
    c, h, w = image.shape
    s = max_side / max(h, w)
    if s >= 1.0:
        return image
    nh, nw = max(2, round(h * s)), max(2, round(w * s))
    import cv2

    arr = image.permute(1, 2, 0).numpy()
    res = cv2.resize(arr, (nw, nh), interpolation=cv2.INTER_AREA)
    if res.ndim == 2:
        res = res[:, :, None]
    return torch.from_numpy(np.ascontiguousarray(res.transpose(2, 0, 1)))


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """``(3, H, W)`` float in [0, 1] → ``(H, W, 3)`` uint8 (rounded)."""
    # Transposed once, as floats, into a fresh (H, W, 3) buffer, then scaled in place: the same
    # values as scaling first, but ≈ 6× faster at 1280×720 than transposing the uint8 result
    # (numpy's strided byte copy), and the input is never written.
    hwc = torch.empty(image.shape[1:] + image.shape[:1], dtype=image.dtype, device=image.device)
    hwc.copy_(image.detach().permute(1, 2, 0))
    return hwc.clamp_(0, 1).mul_(255.0).add_(0.5).to(torch.uint8).cpu().numpy()


def replace_output(tmp: str | os.PathLike, path: str | os.PathLike) -> Path:
    """Move the finished temporary output ``tmp`` to ``path`` (same directory; atomic for files).

    An existing directory at ``path`` is replaced only if it holds :data:`OUTPUT_MARK`: it is
    renamed aside, ``tmp`` is renamed into place, then the old one is deleted.
    """
    tmp, path = Path(tmp), Path(path)
    if tmp.is_dir():
        (tmp / OUTPUT_MARK).touch()
        if os.path.lexists(path):
            if not (path.is_dir() and not path.is_symlink() and (path / OUTPUT_MARK).is_file()):
                raise InputError(
                    "output", "a directory cinemagraph3d created", f"{str(path)!r} changed during the run"
                )
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", dir=path.resolve().parent))
            os.replace(path, old / "x")
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
            return path
    elif os.path.isdir(path):
        raise InputError("output", "a file path", f"{str(path)!r} became a directory during the run")
    os.replace(tmp, path)
    return path


@contextlib.contextmanager
def replacing_dirs(paths: Iterable[str | os.PathLike]):
    """Context for commands that fill output directories in place (``eval``): each existing
    directory in ``paths`` (already allowed by :func:`check_output_path`, so created by this tool
    and replaced under ``force``) is moved aside first; on success the new directories are
    marked with :data:`OUTPUT_MARK` and the old ones deleted, on failure the partial new ones are
    deleted and the old ones put back."""
    moved: list[tuple[Path, Path]] = []
    paths = [Path(p) for p in paths]
    try:
        for p in paths:
            if p.is_dir():
                aside = Path(tempfile.mkdtemp(prefix=f".{p.name}.old.", dir=p.resolve().parent))
                os.replace(p, aside / "x")
                moved.append((p, aside))
        yield
    except BaseException:
        for p in paths:
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
        for p, aside in moved:
            os.replace(aside / "x", p)
            shutil.rmtree(aside, ignore_errors=True)
        raise
    for p in paths:
        if p.is_dir():
            (p / OUTPUT_MARK).touch()
    for _, aside in moved:
        shutil.rmtree(aside, ignore_errors=True)


def make_output_dir(path: str | os.PathLike) -> Path:
    """A new empty temporary sibling directory for an output directory ``path``; give it to
    :func:`replace_output` when it is complete (or delete it on failure)."""
    path = Path(path)
    try:
        return Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.resolve().parent))
    except OSError as exc:
        raise InputError(
            "output", "a directory where files can be created", f"{str(path.parent)!r}: {exc.strerror or exc}"
        ) from None


def write_png(path: str | os.PathLike, image: torch.Tensor | np.ndarray) -> None:
    """Write a ``(3, H, W)`` float image or an ``(H, W[, 3])`` uint8 array as PNG (atomically)."""
    import imageio.v3 as iio

    arr = to_uint8(image) if isinstance(image, torch.Tensor) else np.asarray(image)
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.png")
    try:
        iio.imwrite(tmp, arr)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


class _AtomicWriter(contextlib.AbstractContextManager):
    """A writer used as a context: ``close()`` (which moves the output into place) when the block
    ends normally, ``abort()`` (which deletes every temporary) when it raises or ``close`` fails."""

    def close(self):  # pragma: no cover - defined by subclasses
        raise NotImplementedError

    def abort(self) -> None:  # pragma: no cover - defined by subclasses
        raise NotImplementedError

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            try:
                self.close()
            except BaseException:
                self.abort()
                raise
        else:
            self.abort()
        return False


class VideoWriter(_AtomicWriter):
    """Streaming writer chosen by the output suffix; atomic on success.

    ``.mp4``: H.264, yuv420p via imageio-ffmpeg (odd sizes are padded to even by edge
    replication). ``.gif`` (one 256-colour palette per frame, no dithering) / ``.webp`` (lossy,
    quality 90): animated, looping forever, also encoded by ffmpeg as the frames arrive. No
    suffix: a directory of ``0000.png, 0001.png, ...`` (lossless PNG, marked with
    :data:`OUTPUT_MARK`). ``.png``: a single still (exactly one frame). Frames go to a temporary
    sibling path renamed on ``close``; on an exception inside the ``with`` block the temporary
    output is deleted and nothing is left. The output path follows :func:`check_output_path`: an
    existing one is refused unless ``force``.

    Args:
        path: output path.
        fps: frames per second (> 0).
        quality: H.264 CRF-like quality for imageio-ffmpeg (0–10, higher is better).
        preset: x264 speed preset (``ultrafast`` … ``veryslow``). The default ``veryfast``
            halves the encoder's CPU time against x264's ``medium`` (1280×720, 90 frames:
            1.3 s instead of 2.6 s on this project's 2-core benchmark machine) at a similar
            file size for these short loops.
        force: replace an existing output (a file, or a directory this tool created).
        inputs: the run's input paths; an output equal to or containing one is refused.
        codec, crf, bitrate: encoder, its quality and a fixed bit rate (:func:`check_codec`;
            None: the suffix's defaults).
        loops: times the loop is repeated inside the file (1–:data:`MAX_LOOPS`).
        live_photo: also write the key photo beside a ``.mov`` (an Apple Live Photo pair).
        name: what the output is called in error messages; its options are ``{name}.fps``,
            ``{name}.codec``, ``{name}.quality`` (``crf``), ``{name}.bitrate``, ``{name}.loops``
            and ``{name}.live_photo``.
    """

    _PRESETS = (
        "ultrafast",
        "superfast",
        "veryfast",
        "faster",
        "fast",
        "medium",
        "slow",
        "slower",
        "veryslow",
    )

    def __init__(
        self,
        path: str | os.PathLike,
        fps: float,
        quality: float = 8.0,
        preset: str = "veryfast",
        *,
        force: bool = False,
        inputs: Iterable[str | os.PathLike] = (),
        codec: str | None = None,
        crf: float | None = None,
        bitrate: str | None = None,
        loops: int = 1,
        live_photo: bool = False,
        name: str = "output",
    ) -> None:
        self.path = check_output_path(path, name=name, force=force, inputs=inputs)
        self.name = name
        suffix = self.path.suffix.lower()
        self.live_photo = bool(live_photo)
        self._still = None
        if self.live_photo:
            if suffix != ".mov":
                raise InputError(
                    f"{name}.live_photo",
                    "a .mov output (the key photo is written beside it as .jpg)",
                    str(self.path),
                )
            self.key_photo = check_output_path(
                self.path.with_suffix(".jpg"), name=f"{name}.live_photo key photo", kind="video", force=force,
                inputs=inputs, others=[self.path],
            )  # fmt: skip
        self.codec = (
            check_codec(suffix, codec, crf, bitrate, name=name) if suffix not in ("", ".png") else None
        )
        if (crf is not None or bitrate is not None or codec is not None) and self.codec is None:
            raise InputError(f"{name}.codec/quality/bitrate", "a video file output", "PNG frames")
        self.crf = crf
        self.bitrate = None if bitrate is None else _bitrate(bitrate, f"{name}.bitrate")
        if not (isinstance(loops, int) and not isinstance(loops, bool) and 1 <= loops <= MAX_LOOPS):
            raise InputError(f"{name}.loops", f"an integer in [1, {MAX_LOOPS}]", loops)
        if loops > 1 and suffix == ".png":
            raise InputError(f"{name}.loops", "a video or a frames directory", "a .png still")
        self.loops = loops
        self._raw = None  # frames kept on disk (uint8) to repeat the loop at the end
        if not (isinstance(fps, (int, float)) and np.isfinite(fps) and MIN_FPS <= fps <= MAX_FPS):
            raise InputError(f"{name}.fps", f"a number in [{MIN_FPS:g}, {MAX_FPS:g}]", fps)
        self.fps = float(fps)
        self.quality = quality
        if preset not in self._PRESETS:
            raise InputError("preset", f"one of {', '.join(self._PRESETS)}", repr(preset))
        self.preset = preset
        self.kind = {
            ".mp4": "ffmpeg",
            ".mov": "ffmpeg",
            ".webm": "ffmpeg",
            ".gif": "ffmpeg",
            ".webp": "ffmpeg",
            ".jpg": "motionphoto",
        }.get(suffix, suffix.lstrip(".") or "dir")
        self._video = None  # the MP4 part of a Motion Photo, written beside the output
        self.count = 0
        self._gen = None
        self._proc = None
        parent = self.path.resolve().parent
        # The access check in check_output_path cannot see a read-only file system or a full
        # disk: creating the temporary output is the real test, and its failure is a user error
        # (one CLI line), not a traceback.
        try:
            if self.kind == "dir":
                self._tmp = Path(tempfile.mkdtemp(prefix=f".{self.path.name}.", dir=parent))
            else:
                fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=self.path.suffix, dir=parent)
                os.close(fd)
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
                self._tmp = Path(tmp)
                if self.kind == "motionphoto":
                    fd, vtmp = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=".mp4", dir=parent)
                    os.close(fd)
                    self._video = Path(vtmp)
        except OSError as exc:
            raise InputError(
                name,
                "a directory where files can be created",
                f"{str(parent)!r}: {exc.strerror or exc}",
            ) from None

    def write(self, frame: torch.Tensor | np.ndarray) -> None:
        """Append one frame: ``(3, H, W)`` float in [0, 1] or ``(H, W, 3)`` uint8."""
        arr = to_uint8(frame) if isinstance(frame, torch.Tensor) else np.asarray(frame, dtype=np.uint8)
        arr = np.ascontiguousarray(arr)
        if self.loops > 1:
            if self._raw is None:
                self._raw_path = self._tmp.parent / f".{self.path.name}.loop{os.getpid()}.raw"
                self._raw = open(self._raw_path, "wb")  # noqa: SIM115 - closed in close/abort
                self._shape = arr.shape
            elif arr.shape != self._shape:
                raise InputError("video frame", f"frames of shape {self._shape}", arr.shape)
            self._raw.write(arr.tobytes())
        self._emit(arr)

    def _emit(self, arr: np.ndarray) -> None:
        if self.kind == "png":
            if self.count:
                raise InputError(
                    self.name, "one frame for a .png still (a directory holds more)", "a second frame"
                )
            bgr = cv2.cvtColor(arr, cv2.COLOR_RGB2BGR)
            ok, buf = cv2.imencode(".png", bgr)
            if not ok:
                raise OSError("PNG encoding failed")
            self._tmp.write_bytes(buf.tobytes())
        elif self.kind == "dir":
            # Lossless PNG at zlib level 1: 5x faster than level 6 for 1280x720 frames
            # (70 vs 350 ms) and about 15 % larger.
            bgr = cv2.cvtColor(arr, cv2.COLOR_RGB2BGR)
            ok, buf = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 1])
            if not ok:
                raise OSError(f"PNG encoding of frame {self.count} failed")
            (self._tmp / f"{self.count:04d}.png").write_bytes(buf.tobytes())
        else:
            if self.codec in ("h264", "hevc", "vp9"):
                h, w = arr.shape[:2]
                if h % 2 or w % 2:
                    arr = np.pad(arr, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")
            if self._gen is None:
                self._gen = self._open_ffmpeg(arr.shape[1], arr.shape[0])
                if self.kind == "motionphoto" or self.live_photo:
                    self._still = arr.copy()  # the JPEG still: the first frame (scene time 0)
            self._gen.send(np.ascontiguousarray(arr))
        self.count += 1

    def _open_ffmpeg(self, width: int, height: int):
        """An imageio-ffmpeg writer for ``self.codec``; frames are piped to ffmpeg one at a time,
        so memory does not grow with the frame count (GIF and WebP included)."""
        import imageio_ffmpeg

        crf = self.crf if self.crf is not None else CODECS[self.codec]["default"]
        rate = ["-b:v", self.bitrate] if self.bitrate is not None else []
        if self.codec == "h264":
            extra = ["-preset", self.preset] + (["-crf", f"{crf:g}"] if crf is not None else []) + rate
            opts = dict(
                codec="libx264",
                pix_fmt_out="yuv420p",
                quality=self.quality if crf is None and not rate else None,
                macro_block_size=2,
                output_params=extra,
            )
        elif self.codec == "hevc":
            # tagged hvc1 (not hev1) so that Apple's players open it
            extra = ["-preset", self.preset, "-tag:v", "hvc1", "-x265-params", "log-level=error"]
            extra += rate if rate else ["-crf", f"{crf:g}"]
            opts = dict(
                codec="libx265", pix_fmt_out="yuv420p", quality=None, macro_block_size=2, output_params=extra
            )
        elif self.codec == "vp9":
            # constant quality (-b:v 0) unless a bitrate is given (then constrained quality)
            extra = [
                "-crf",
                f"{crf:g}",
                "-b:v",
                self.bitrate or "0",
                "-row-mt",
                "1",
                "-deadline",
                "good",
                "-cpu-used",
                "4",
            ]
            opts = dict(
                codec="libvpx-vp9",
                pix_fmt_out="yuv420p",
                quality=None,
                macro_block_size=2,
                output_params=extra,
            )
        elif self.codec == "gif":
            # One 256-colour palette per frame (palettegen in single-frame mode), no dithering.
            graph = "split[a][b];[a]palettegen=stats_mode=single:reserve_transparent=0[p];[b][p]paletteuse=new=1:dither=none"
            opts = dict(
                codec="gif",
                pix_fmt_out="pal8",
                quality=None,
                macro_block_size=1,
                output_params=["-filter_complex", graph, "-loop", "0"],
            )
        else:  # webp: lossy, quality 90 by default, looping forever
            opts = dict(
                codec="libwebp_anim",
                pix_fmt_out="yuv420p",
                quality=None,
                macro_block_size=1,
                output_params=["-lossless", "0", "-quality", f"{crf:g}", "-loop", "0"] + rate,
            )
        target = self._video if self._video is not None else self._tmp
        # A stop signal waits until ffmpeg has started and its process is known to abort(): one
        # raised inside Popen after the fork, or before imageio-ffmpeg's try block, would leave
        # an ffmpeg that nobody ends, which creates the temporary again after abort() deleted it.
        with held():
            gen = imageio_ffmpeg.write_frames(
                str(target), (width, height), fps=self.fps, ffmpeg_log_level="error", **opts
            )
            self._gen = gen
            gen.send(None)
            # ffmpeg's process, so that abort() can wait for its end (imageio-ffmpeg kills it on
            # an interrupt without waiting: it could still create the temporary after the delete)
            frame = gen.gi_frame
            self._proc = frame.f_locals.get("p") if frame is not None else None
        return gen

    def close(self) -> Path:
        """Finish the file (repeating the loop ``loops`` times) and move it into place; returns
        the final path."""
        if self._raw is not None:
            self._raw.close()
            self._raw = None
            size = int(np.prod(self._shape))
            with open(self._raw_path, "rb") as fh:
                for _ in range(self.loops - 1):
                    fh.seek(0)
                    for chunk in iter(lambda: fh.read(size), b""):
                        self._emit(np.frombuffer(chunk, np.uint8).reshape(self._shape))
            os.unlink(self._raw_path)
        if self._gen is not None:
            self._gen.close()
            self._gen = None
        if self.kind != "dir" and self.count == 0:
            raise InputError("video", "at least one frame", "0 frames")
        if self.kind == "motionphoto":
            self._tmp.write_bytes(motion_photo_bytes(self._still, self._video.read_bytes()))
            self._video.unlink()
            self._video = None
        if self.live_photo:
            from .live_photo import add_live_photo_metadata, content_identifier, jpeg_with_asset_identifier

            mov = self._tmp.read_bytes()
            ident = content_identifier(mov)
            self._tmp.write_bytes(add_live_photo_metadata(mov, ident))
            ok, buf = cv2.imencode(
                ".jpg", cv2.cvtColor(self._still, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92]
            )
            if not ok:
                raise OSError("JPEG encoding of the Live Photo key photo failed")
            key_tmp = self._tmp.with_name(self._tmp.name + ".key.jpg")
            try:
                key_tmp.write_bytes(jpeg_with_asset_identifier(buf.tobytes(), ident))
                replace_output(key_tmp, self.key_photo)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    key_tmp.unlink()
            try:
                replace_output(self._tmp, self.path)
            except BaseException:
                self.key_photo.unlink(missing_ok=True)
                raise
            return self.path
        replace_output(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Delete the temporary output (called on any failure)."""
        # The encoder first: ffmpeg opens its output (O_CREAT) only once it has read a frame,
        # which can be after a signal arrived, so a temporary deleted before the encoder has
        # ended could be created again by it (seen as a left-over ".out.*.mp4" after SIGTERM).
        proc, self._proc = self._proc, None
        if proc is not None:  # ended (and reaped) first: no need to let it finish a broken file
            with contextlib.suppress(Exception):
                if proc.poll() is None:
                    proc.kill()
                proc.wait(timeout=10)
        if self._gen is not None:
            with contextlib.suppress(Exception):
                self._gen.close()
            self._gen = None
        if self._video is not None:
            with contextlib.suppress(FileNotFoundError):
                self._video.unlink()
        if self._raw is not None:
            with contextlib.suppress(Exception):
                self._raw.close()
            self._raw = None
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._raw_path)
        if self._tmp.is_dir():
            shutil.rmtree(self._tmp, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                self._tmp.unlink()


def motion_photo_xmp(video_length: int, presentation_us: int = 0) -> bytes:
    """The XMP packet of an Android Motion Photo (Motion Photo format 1.0): ``GCamera:MotionPhoto``,
    its version and the presentation timestamp of the still, and the ``Container:Directory``
    listing the primary JPEG (``Item:Semantic="Primary"``) and the appended MP4
    (``Item:Semantic="MotionPhoto"``, ``Item:Length`` = its byte count). The legacy MicroVideo
    tags (``GCamera:MicroVideo``, ``MicroVideoOffset``: bytes from the MP4's start to the end of
    the file) are written too, for older gallery apps."""
    xmp = f"""<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="cinemagraph3d">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:GCamera="http://ns.google.com/photos/1.0/camera/"
    xmlns:Container="http://ns.google.com/photos/1.0/container/"
    xmlns:Item="http://ns.google.com/photos/1.0/container/item/"
    GCamera:MotionPhoto="1"
    GCamera:MotionPhotoVersion="1"
    GCamera:MotionPhotoPresentationTimestampUs="{int(presentation_us)}"
    GCamera:MicroVideo="1"
    GCamera:MicroVideoVersion="1"
    GCamera:MicroVideoOffset="{int(video_length)}"
    GCamera:MicroVideoPresentationTimestampUs="{int(presentation_us)}">
   <Container:Directory>
    <rdf:Seq>
     <rdf:li rdf:parseType="Resource">
      <Container:Item Item:Mime="image/jpeg" Item:Semantic="Primary" Item:Length="0" Item:Padding="0"/>
     </rdf:li>
     <rdf:li rdf:parseType="Resource">
      <Container:Item Item:Mime="video/mp4" Item:Semantic="MotionPhoto" Item:Length="{int(video_length)}" Item:Padding="0"/>
     </rdf:li>
    </rdf:Seq>
   </Container:Directory>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>"""
    return f'<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>{xmp}<?xpacket end="w"?>'.encode()


def motion_photo_bytes(still: np.ndarray, mp4: bytes, quality: int = 92) -> bytes:
    """An Android Motion Photo: the ``(H, W, 3)`` uint8 RGB ``still`` as a JPEG whose XMP
    (an APP1 segment right after SOI and any APP0) describes the ``mp4`` appended after the
    JPEG's end (see :func:`motion_photo_xmp`)."""
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(still, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:
        raise OSError("JPEG encoding of the Motion Photo still failed")
    jpeg = buf.tobytes()
    payload = b"http://ns.adobe.com/xap/1.0/\x00" + motion_photo_xmp(len(mp4))
    if len(payload) + 2 > 0xFFFF:
        raise OSError("Motion Photo XMP too large for one APP1 segment")
    app1 = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    pos = 2  # after SOI
    if jpeg[2:4] == b"\xff\xe0":  # keep JFIF's APP0 first
        pos = 4 + int.from_bytes(jpeg[4:6], "big")
    return jpeg[:pos] + app1 + jpeg[pos:] + mp4


def depth_picture(depth: torch.Tensor, z_near: float) -> np.ndarray:
    """Per-frame depth as a picture: normalised inverse depth ``min(1, z_near / z)`` (near =
    white, the far plane towards black, 0 where nothing was rendered).

    Args:
        depth: ``(1, H, W)`` z-depth in scene units (0 = empty).
        z_near: the scene's near depth (scene units).

    Returns:
        ``(H, W)`` float32 array in [0, 1].
    """
    z = depth[0].detach().float().cpu()
    disp = torch.where(z > 0, (z_near / z.clamp(min=1e-12)).clamp(max=1.0), torch.zeros_like(z))
    return disp.numpy()


class DepthWriter(_AtomicWriter):
    """Streams per-frame depth pictures (:func:`depth_picture`) to ``path``: a directory of 16-bit
    grey PNGs (``0000.png`` … , value ``65535 · min(1, z_near / z)``), or a grey video of the
    same (8-bit) in any :class:`VideoWriter` format. Atomic like :class:`VideoWriter`; ``name`` is
    what the output is called in error messages."""

    def __init__(
        self, path, fps: float, *, force: bool = False, inputs: Iterable = (), name: str = "depth_output"
    ) -> None:
        self.path = check_output_path(path, name=name, force=force, inputs=inputs)
        if self.path.suffix.lower() == ".png":
            raise InputError(name, "a directory (16-bit PNGs) or a video file", str(self.path))
        self._video = (
            VideoWriter(path, fps, force=force, inputs=inputs, name=name) if self.path.suffix else None
        )
        self._tmp = make_output_dir(self.path) if self._video is None else None
        self.count = 0

    def write(self, depth: torch.Tensor, z_near: float) -> None:
        pic = depth_picture(depth, z_near)
        if self._video is not None:
            grey = (pic * 255 + 0.5).astype(np.uint8)
            self._video.write(np.repeat(grey[:, :, None], 3, axis=2))
        else:
            ok, buf = cv2.imencode(
                ".png", (pic * 65535 + 0.5).astype(np.uint16), [cv2.IMWRITE_PNG_COMPRESSION, 1]
            )
            if not ok:
                raise OSError(f"PNG encoding of depth frame {self.count} failed")
            (self._tmp / f"{self.count:04d}.png").write_bytes(buf.tobytes())
        self.count += 1

    def close(self) -> Path:
        if self._video is not None:
            return self._video.close()
        replace_output(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        if self._video is not None:
            self._video.abort()
        elif self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)


def write_video(
    path: str | os.PathLike, frames: Iterable[torch.Tensor], fps: float, *, force: bool = False
) -> Path:
    """Stream ``frames`` (each ``(3, H, W)`` in [0, 1]) to ``path``; see :class:`VideoWriter`
    (an existing ``path`` is refused unless ``force``)."""
    with contextlib.ExitStack() as stack:
        with held():  # a stop signal waits until the temporary is in the stack that removes it
            writer = stack.enter_context(VideoWriter(path, fps, force=force))
        for frame in frames:
            writer.write(frame)
    return writer.path


def write_layers(directory: str | os.PathLike, ldi, *, force: bool = False) -> list[Path]:
    """Write each LDI layer as ``layer_{k}_rgba.png`` and ``layer_{k}_depth.png`` (16-bit,
    disparity normalised over the LDI) for inspection into a new directory (the rule of
    :func:`check_output_path`; written aside and renamed when complete). Returns the paths."""
    final = check_output_path(directory, kind="dir", force=force)
    d = make_output_dir(final)
    try:
        names = _write_layer_files(d, ldi)
        replace_output(d, final)
    except BaseException:
        shutil.rmtree(d, ignore_errors=True)
        raise
    return [final / n for n in names]


def _write_layer_files(d: Path, ldi) -> list[str]:
    import imageio.v3 as iio

    out = []
    disp = torch.where(ldi.alpha > 0, 1.0 / ldi.depth.clamp(min=1e-12), torch.zeros_like(ldi.depth))
    dmax = float(disp.max()) or 1.0
    for k in range(ldi.num_layers):
        rgba = torch.cat([ldi.color[k], ldi.alpha[k]], 0)
        p = d / f"layer_{k}_rgba.png"
        iio.imwrite(p, (rgba.clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(1, 2, 0).numpy())
        q = d / f"layer_{k}_depth.png"
        iio.imwrite(q, (disp[k, 0] / dmax * 65535 + 0.5).to(torch.int32).numpy().astype(np.uint16))
        out += [p.name, q.name]
    return out


def write_ply(
    path: str | os.PathLike,
    cloud,
    motion: torch.Tensor | None = None,
    *,
    force: bool = False,
    name: str = "ply_output",
) -> Path:
    """Write a :class:`~cinemagraph3d.types.FeatureCloud` as a binary little-endian PLY point
    cloud (written here, no open3d needed; open3d, MeshLab and Blender read it).

    Per vertex: ``x y z`` (float32, input camera frame = world, scene units), ``red green blue``
    (uint8, the first three feature channels), ``alpha`` (uint8 opacity), ``layer`` (uint8 LDI
    layer) and, with ``motion``, ``vx vy vz`` (float32): the point's 3-D scene flow per motion step.

    Args:
        path: ``.ply`` output (the rule of :func:`~cinemagraph3d.checks.check_output_path`).
        cloud: the point cloud.
        motion: ``(P, 3)`` per-point motion in scene units per step (see :func:`point_motion`).
        force: replace an existing file.
        name: what the output is called in error messages.

    Returns:
        The written path.
    """
    path = check_output_path(path, name=name, kind="ply", force=force)
    pts = cloud.points.detach().cpu().float().numpy()
    n = pts.shape[0]
    rgb = (cloud.features[:, :3].detach().cpu().float().clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)
    alpha = (cloud.alpha.detach().cpu().float().clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)
    layer = cloud.layer.detach().cpu().numpy().clip(0, 255).astype(np.uint8)
    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("red", "u1"), ("green", "u1"), ("blue", "u1"),
              ("alpha", "u1"), ("layer", "u1")]  # fmt: skip
    if motion is not None:
        motion = motion.detach().cpu().float().numpy()
        if motion.shape != (n, 3) or not np.isfinite(motion).all():
            raise InputError("PLY motion", f"finite values of shape ({n}, 3)", motion.shape)
        fields += [("vx", "<f4"), ("vy", "<f4"), ("vz", "<f4")]
    rec = np.empty(n, dtype=fields)
    rec["x"], rec["y"], rec["z"] = pts[:, 0], pts[:, 1], pts[:, 2]
    rec["red"], rec["green"], rec["blue"] = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    rec["alpha"], rec["layer"] = alpha, layer
    if motion is not None:
        rec["vx"], rec["vy"], rec["vz"] = motion[:, 0], motion[:, 1], motion[:, 2]
    types = {"<f4": "float", "u1": "uchar"}
    header = [
        "ply",
        "format binary_little_endian 1.0",
        "comment cinemagraph3d point cloud",
        f"element vertex {n}",
    ]
    header += [f"property {types[t]} {name}" for name, t in fields] + ["end_header"]
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.ply")
    try:
        with open(tmp, "wb") as fh:
            fh.write(("\n".join(header) + "\n").encode("ascii"))
            fh.write(rec.tobytes())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return path


def read_ply(path: str | os.PathLike) -> np.ndarray:
    """Read a binary little-endian PLY vertex list (as :func:`write_ply` writes it) into a numpy
    structured array, one field per property."""
    data = Path(path).read_bytes()
    end = data.find(b"end_header\n")
    if not data.startswith(b"ply\n") or end < 0:
        raise InputError("PLY file", "a PLY header", str(path))
    lines = data[:end].decode("ascii").splitlines()
    if "format binary_little_endian 1.0" not in lines:
        raise InputError("PLY file", "binary little-endian PLY", str(path))
    n, fields = 0, []
    types = {"float": "<f4", "uchar": "u1", "double": "<f8", "int": "<i4", "uint": "<u4"}
    for line in lines:
        parts = line.split()
        if parts[:2] == ["element", "vertex"]:
            n = int(parts[2])
        elif parts and parts[0] == "property":
            fields.append((parts[2], types[parts[1]]))
    return np.frombuffer(data[end + len("end_header\n") :], dtype=fields, count=n)


def point_motion(
    cloud, displacement: torch.Tensor, camera, donor: torch.Tensor | None = None
) -> torch.Tensor:
    """Per-point 3-D motion per step from a ``(2, H, W)`` pixel displacement (e.g. the first
    Euler step ``F(0 → 1)``): each point takes the displacement of its donor pixel (``donor``,
    ``(P,)`` flat pixel indices as in :class:`~cinemagraph3d.pipeline.Scene`; default its source
    pixel), lifted fronto-parallel at its depth, ``(dx · z / fx, dy · z / fy, 0)`` (the lifting
    of the method).

    Returns:
        ``(P, 3)`` float32, scene units per motion step.
    """
    _, H, W = displacement.shape
    if donor is None:
        px = cloud.pixels.detach().cpu()
        u = px[:, 0].floor().long().clamp(0, W - 1)
        v = px[:, 1].floor().long().clamp(0, H - 1)
        donor = v * W + u
    d = displacement.detach().cpu().float().reshape(2, -1)[:, donor.detach().cpu().long()]
    z = cloud.points[:, 2].detach().cpu().float()
    return torch.stack([d[0] * z / camera.fx, d[1] * z / camera.fy, torch.zeros_like(z)], dim=1)


def iter_frames(path: str | os.PathLike) -> Iterator[np.ndarray]:
    """Iterate the ``(H, W, 3)`` uint8 frames of a video file or PNG-frame directory."""
    import imageio.v3 as iio

    p = Path(path)
    if p.is_dir():
        for f in sorted(p.glob("*.png")):
            yield np.asarray(iio.imread(f))[..., :3]
        return
    for frame in iio.imiter(p):
        yield np.asarray(frame)[..., :3]
