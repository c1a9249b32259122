"""Training samples from short clips of fluid scenes: frames, teacher flow, motion mask, sparse
hints and first-frame depth, stored without pickle (safetensors + a JSON index).

Layout of a dataset directory::

    index.json                 {"format_version": 1, "size": [H, W], "settings": {...},
                                "clips": [{"name", "file", "split", "frames", "source",
                                           "flow_source", "mean_speed", "mask_fraction"}, ...],
                                "skipped": [{"source", "reason"}, ...]}
    clips/<name>.safetensors   frames (T, 3, H, W) uint8, flow (2, H, W) float32 px/frame,
                               mask (1, H, W) uint8, hints (K, 4) float32 (x, y, dx, dy),
                               depth (1, H, W) float32 z-depth

The flow is the clip's Eulerian motion: the mean over consecutive frame pairs of the teacher
flow (OpenCV DIS, preset MEDIUM, on grey frames at the stored size), or of a flow file the user
supplies, set to 0 outside the mask.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import Cinemagraph3DError, InputError
from .settings import DatasetSettings, settings_dict

__all__ = ["build_dataset", "BuildReport", "TrainData", "Clip", "clip_flow", "motion_mask", "cluster_hints"]

FORMAT_VERSION = 1
VIDEO_SUFFIXES = (".mp4", ".mov", ".webm", ".mkv", ".avi", ".gif")
FRAME_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


class _Skip(Exception):
    """A clip that cannot become a sample (the reason is reported, the build goes on)."""


@dataclass(frozen=True)
class BuildReport:
    """What :func:`build_dataset` did.

    Attributes:
        path: the dataset directory.
        train, val: names of the clips in each split.
        skipped: ``(source, reason)`` of every clip left out.
    """

    path: Path
    train: list[str]
    val: list[str]
    skipped: list[tuple[str, str]]


# --------------------------------------------------------------------------- reading clips
def _to_rgb8(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] < 3:
        raise _Skip(f"frames of shape {a.shape} are not colour or grey images")
    a = a[..., :3]
    if a.dtype != np.uint8:
        top = 65535.0 if a.dtype == np.uint16 else (255.0 if np.issubdtype(a.dtype, np.integer) else 1.0)
        a = np.clip(np.round(a.astype(np.float64) / top * 255.0), 0, 255).astype(np.uint8)
    return a


def read_clip(path: Path, max_frames: int) -> np.ndarray:
    """Up to ``max_frames`` frames of a video file or a folder of frames, ``(T, h, w, 3)`` uint8."""
    import warnings

    with warnings.catch_warnings():  # a failed ffmpeg reader leaves its pipes to the collector
        warnings.simplefilter("ignore", ResourceWarning)
        return _read_clip(path, max_frames)


def _read_clip(path: Path, max_frames: int) -> np.ndarray:
    import imageio.v3 as iio

    frames, why = [], None
    try:
        if path.is_dir():
            files = sorted(f for f in path.iterdir() if f.suffix.lower() in FRAME_SUFFIXES)
            for f in files[:max_frames]:
                frames.append(_to_rgb8(iio.imread(f)))
        else:
            for frame in iio.imiter(path):
                frames.append(_to_rgb8(frame))
                if len(frames) >= max_frames:
                    break
    except _Skip:
        raise
    except Exception as exc:  # noqa: BLE001 - any decoder failure means an unreadable clip
        why = f"unreadable ({type(exc).__name__}: {' '.join(str(exc).split())[:120]})"
    if why is not None:
        raise _Skip(why)
    if len({f.shape for f in frames}) > 1:
        raise _Skip("frames of different sizes")
    return np.stack(frames) if frames else np.zeros((0, 1, 1, 3), np.uint8)


def _fit(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Centre-crop ``(T, h, w, 3)`` frames to the aspect of ``size = (H, W)``, then area-resize."""
    import cv2

    H, W = size
    _, h, w, _ = frames.shape
    if w * H > W * h:  # too wide
        cw = max(1, round(h * W / H))
        x0 = (w - cw) // 2
        frames = frames[:, :, x0 : x0 + cw]
    else:
        ch = max(1, round(w * H / W))
        y0 = (h - ch) // 2
        frames = frames[:, y0 : y0 + ch]
    return np.stack(
        [cv2.resize(np.ascontiguousarray(f), (W, H), interpolation=cv2.INTER_AREA) for f in frames]
    )


def _crop_scale(shape: tuple[int, int], size: tuple[int, int]):
    """The crop box ``(y0, x0, ch, cw)`` of :func:`_fit` on an ``(h, w)`` clip."""
    H, W = size
    h, w = shape
    if w * H > W * h:
        cw = max(1, round(h * W / H))
        return 0, (w - cw) // 2, h, cw
    ch = max(1, round(w * H / W))
    return (h - ch) // 2, 0, ch, w


# --------------------------------------------------------------------------- flow, mask, hints
def clip_flow(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Teacher flow of a clip with OpenCV DIS (preset MEDIUM) on consecutive grey frames.

    Args:
        frames: ``(T, H, W, 3)`` uint8, ``T >= 2``.

    Returns:
        ``mean`` ``(2, H, W)`` float32, the mean flow over the ``T - 1`` pairs (px/frame), and
        ``speed`` ``(H, W)`` float32, the mean over the pairs of each pair's flow length (px/frame).
    """
    import cv2

    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    greys = [cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in frames]
    total = np.zeros(frames.shape[1:3] + (2,), np.float64)
    speed = np.zeros(frames.shape[1:3], np.float64)
    for a, b in zip(greys[:-1], greys[1:]):
        f = dis.calc(a, b, None)
        total += f
        speed += np.linalg.norm(f, axis=2)
    n = len(greys) - 1
    return (total / n).transpose(2, 0, 1).astype(np.float32), (speed / n).astype(np.float32)


def motion_mask(speed: np.ndarray, fraction: float) -> np.ndarray:
    """``(H, W)`` bool: ``speed > fraction · mean(speed)``, then a 3×3 opening and closing."""
    import cv2

    m = (speed > fraction * float(speed.mean())).astype(np.uint8)
    k = np.ones((3, 3), np.uint8)
    m = cv2.morphologyEx(m, cv2.MORPH_OPEN, k)
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, k)
    return m.astype(bool)


def cluster_hints(flow: np.ndarray, mask: np.ndarray, k: int, iterations: int = 10) -> np.ndarray:
    """Sparse hints from the flow inside the mask, by k-means clustering.

    Features of a mask pixel: ``(x / W, y / H, dx / s, dy / s)`` with ``s`` the largest flow
    length in the mask (position and direction count alike). Initialisation is deterministic
    (farthest-point: the pixel nearest the mean, then repeatedly the pixel farthest from the chosen
    ones); ``iterations`` Lloyd steps. Each cluster gives one hint: the mask pixel nearest its
    centroid, with that pixel's flow.

    Args:
        flow: ``(2, H, W)`` px/frame.
        mask: ``(H, W)`` bool.
        k: number of hints wanted.

    Returns:
        ``(K, 4)`` float32 rows ``(x, y, dx, dy)`` (pixel centre coordinates, px/frame), ``K <= k``
        (0 rows for an empty mask), sorted by row then column.
    """
    rows, cols = np.nonzero(mask)
    if len(rows) == 0:
        return np.zeros((0, 4), np.float32)
    H, W = mask.shape
    v = flow[:, rows, cols].T.astype(np.float64)
    s = max(float(np.linalg.norm(v, axis=1).max()), 1e-6)
    feats = np.stack([cols / W, rows / H, v[:, 0] / s, v[:, 1] / s], 1)
    k = min(k, len(rows))
    chosen = [int(np.argmin(((feats - feats.mean(0)) ** 2).sum(1)))]
    dist = ((feats - feats[chosen[0]]) ** 2).sum(1)
    for _ in range(1, k):
        chosen.append(int(np.argmax(dist)))
        dist = np.minimum(dist, ((feats - feats[chosen[-1]]) ** 2).sum(1))
    centres = feats[chosen].copy()
    for _ in range(iterations):
        lab = np.argmin(((feats[:, None] - centres[None]) ** 2).sum(2), axis=1)
        for j in range(k):
            if (lab == j).any():
                centres[j] = feats[lab == j].mean(0)
    picks = sorted(
        {int(np.argmin(((feats - c) ** 2).sum(1))) for c in centres}, key=lambda i: (rows[i], cols[i])
    )
    out = [(cols[i] + 0.5, rows[i] + 0.5, v[i, 0], v[i, 1]) for i in picks]
    return np.asarray(out, np.float32)


def _user_flow(path: Path, shape: tuple[int, int], size: tuple[int, int]) -> np.ndarray | None:
    """A user flow file beside the clip (``<clip>.flow.npy``, or ``flow.npy`` in a frame folder):
    ``(2, h, w)`` or ``(h, w, 2)`` mean flow in px/frame at the clip's size; cropped and resized
    like the frames, vectors scaled with the image."""
    import cv2

    cand = path / "flow.npy" if path.is_dir() else path.with_name(path.name + ".flow.npy")
    if not cand.is_file():
        return None
    try:
        a = np.load(cand, allow_pickle=False).astype(np.float32)
    except Exception as exc:  # noqa: BLE001
        raise _Skip(f"flow file {cand.name} unreadable ({type(exc).__name__})") from None
    h, w = shape
    if a.shape == (2, h, w):
        a = a.transpose(1, 2, 0)
    if a.shape != (h, w, 2) or not np.isfinite(a).all():
        raise _Skip(f"flow file {cand.name}: expected finite (2, {h}, {w}) or ({h}, {w}, 2), found {a.shape}")
    y0, x0, ch, cw = _crop_scale(shape, size)
    a = np.ascontiguousarray(a[y0 : y0 + ch, x0 : x0 + cw])
    H, W = size
    a = cv2.resize(a, (W, H), interpolation=cv2.INTER_AREA if cw > W else cv2.INTER_LINEAR)
    a[..., 0] *= W / cw
    a[..., 1] *= H / ch
    return a.transpose(2, 0, 1).copy()


# --------------------------------------------------------------------------- building
def _clip_sample(path: Path, settings: DatasetSettings, depth_fn) -> dict:
    if not path.exists():
        raise _Skip("no such file or folder")
    if path.is_file() and path.suffix.lower() not in VIDEO_SUFFIXES:
        raise _Skip(f"not a video ({', '.join(VIDEO_SUFFIXES)}) or a folder of frames")
    raw = read_clip(path, settings.max_frames)
    if raw.shape[0] < settings.min_frames:
        raise _Skip(f"too short ({raw.shape[0]} frame(s), need {settings.min_frames})")
    if min(raw.shape[1:3]) < 8:
        raise _Skip(f"frames too small ({raw.shape[2]}x{raw.shape[1]})")
    frames = _fit(raw, settings.size)
    user = _user_flow(path, raw.shape[1:3], settings.size)
    mean, speed = clip_flow(frames)
    if user is not None:
        mean, speed = user, np.linalg.norm(user, axis=0)
    clip_speed = float(speed.mean())
    if clip_speed < settings.static_speed:
        raise _Skip(f"static (mean speed {clip_speed:.3g} px/frame < {settings.static_speed})")
    mask = motion_mask(speed, settings.mask_fraction)
    if not mask.any():
        raise _Skip("no pixel exceeds the motion-mask threshold")
    flow = np.where(mask[None], mean, 0.0).astype(np.float32)
    hints = cluster_hints(flow, mask, settings.max_hints)
    image = torch.from_numpy(frames[0]).permute(2, 0, 1).float() / 255.0
    depth = depth_fn(image).depth.float()
    return {
        "tensors": {
            "frames": torch.from_numpy(np.ascontiguousarray(frames.transpose(0, 3, 1, 2))),
            "flow": torch.from_numpy(flow),
            "mask": torch.from_numpy(mask[None].astype(np.uint8)),
            "hints": torch.from_numpy(hints).reshape(-1, 4),
            "depth": depth.reshape(1, *settings.size).contiguous(),
        },
        "frames": int(frames.shape[0]),
        "flow_source": "file" if user is not None else "dis",
        "mean_speed": clip_speed,
        "mask_fraction": float(mask.mean()),
    }


def _clip_name(i: int, path: Path) -> str:
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in (path.stem or "clip"))[:40]
    return f"{i:04d}_{stem}"


def build_dataset(
    sources: Iterable[str | os.PathLike],
    out: str | os.PathLike,
    settings: DatasetSettings | None = None,
    *,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> BuildReport:
    """Turn clips into a training dataset directory (see the module docstring for the layout).

    Each source is a video file (mp4/mov/webm/...) or a folder of frames in name order. A bad
    clip (missing, unreadable, too short, static, no moving pixel) is listed in the index's
    ``skipped`` with its reason and the build goes on; the build fails only when no clip is left.
    The directory is written next to ``out`` under a temporary name and renamed into place when
    complete (an existing ``out`` must have been checked by the caller, as the CLI does with
    :func:`~cinemagraph3d.checks.check_output_path`).

    Args:
        sources: clip paths.
        out: the dataset directory to create.
        settings: :class:`DatasetSettings`.
        progress: show a progress bar.
        log: called with one line per skipped clip.

    Returns:
        :class:`BuildReport`.

    Raises:
        InputError: no usable clip.
    """
    import shutil

    from safetensors.torch import save_file
    from tqdm import tqdm

    from ..depth import DepthSettings, estimate_depth
    from ..io import make_output_dir, replace_output

    s = settings or DatasetSettings()
    srcs = [Path(os.fspath(p)) for p in sources]
    if not srcs:
        raise InputError("videos", "at least one clip", "none")
    dsettings = DepthSettings(backend=s.depth_backend, path=s.depth_model, kind="depth")

    def depth_fn(image):
        return estimate_depth(image, dsettings)

    tmp = make_output_dir(out)
    try:
        (tmp / "clips").mkdir()
        good, skipped = [], []
        for i, src in enumerate(tqdm(srcs, desc="dataset", unit="clip", disable=not progress)):
            try:
                sample = _clip_sample(src, s, depth_fn)
            except _Skip as why:
                skipped.append((str(src), str(why)))
                if log:
                    log(f"skipped {src}: {why}")
                continue
            name = _clip_name(i, src)
            save_file(
                {k: v.contiguous() for k, v in sample.pop("tensors").items()},
                str(tmp / "clips" / f"{name}.safetensors"),
            )
            good.append({"name": name, "file": f"clips/{name}.safetensors", "source": str(src), **sample})
        if not good:
            reasons = "; ".join(f"{Path(a).name}: {b}" for a, b in skipped)
            raise InputError("videos", "at least one usable clip", f"none ({reasons})")
        order = np.random.default_rng(s.seed).permutation(len(good))
        n_val = 0 if len(good) < 2 or s.val_fraction == 0 else max(1, int(round(s.val_fraction * len(good))))
        n_val = min(n_val, len(good) - 1)
        val = {int(j) for j in order[:n_val]}
        for j, c in enumerate(good):
            c["split"] = "val" if j in val else "train"
        index = {
            "format_version": FORMAT_VERSION,
            "size": list(s.size),
            "settings": settings_dict(s),
            "clips": good,
            "skipped": [{"source": a, "reason": b} for a, b in skipped],
        }
        (tmp / "index.json").write_text(json.dumps(index, indent=1))
        path = replace_output(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return BuildReport(
        path,
        [c["name"] for c in good if c["split"] == "train"],
        [c["name"] for c in good if c["split"] == "val"],
        skipped,
    )


# --------------------------------------------------------------------------- loading
@dataclass(frozen=True)
class Clip:
    """One stored training clip (CPU tensors).

    Attributes:
        name: clip name in the index.
        frames: ``(T, 3, H, W)`` float32 in [0, 1].
        flow: ``(2, H, W)`` float32 teacher Eulerian flow, px/frame, 0 outside the mask.
        mask: ``(1, H, W)`` float32 in {0, 1}.
        hints: ``(K, 4)`` float32 ``(x, y, dx, dy)`` sparse hints (px, px/frame).
        depth: ``(1, H, W)`` float32 z-depth of the first frame.
    """

    name: str
    frames: torch.Tensor
    flow: torch.Tensor
    mask: torch.Tensor
    hints: torch.Tensor
    depth: torch.Tensor


class TrainData:
    """A dataset directory written by :func:`build_dataset`, loaded lazily (clips are cached).

    Args:
        path: the dataset directory.

    Raises:
        InputError: not a dataset directory, unknown format version, no training clip.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(os.fspath(path))
        idx = self.path / "index.json"
        if not idx.is_file():
            raise InputError(
                "data", "a dataset directory with index.json (cinemagraph3d dataset build)", str(self.path)
            )
        try:
            self.index = json.loads(idx.read_text())
        except (OSError, ValueError) as exc:
            raise InputError("data index", "a readable JSON file", f"{idx}: {exc}") from None
        if self.index.get("format_version") != FORMAT_VERSION:
            raise InputError(
                "data index format_version", str(FORMAT_VERSION), self.index.get("format_version")
            )
        self.size = tuple(self.index["size"])
        self.train = [c["name"] for c in self.index["clips"] if c["split"] == "train"]
        self.val = [c["name"] for c in self.index["clips"] if c["split"] == "val"]
        if not self.train:
            raise InputError("data", "at least one training clip", f"none in {self.path}")
        self._files = {c["name"]: self.path / c["file"] for c in self.index["clips"]}
        self._cache: dict[str, Clip] = {}

    def clip(self, name: str) -> Clip:
        """The clip called ``name`` (see :class:`Clip`)."""
        if name not in self._cache:
            from safetensors.torch import load_file

            try:
                t = load_file(str(self._files[name]))
            except Exception as exc:  # noqa: BLE001
                raise Cinemagraph3DError(
                    f"data clip {name}: unreadable ({type(exc).__name__}: {exc})"
                ) from None
            self._cache[name] = Clip(
                name,
                t["frames"].float() / 255.0,
                t["flow"].float(),
                t["mask"].float(),
                t["hints"].float().reshape(-1, 4),
                t["depth"].float(),
            )
        return self._cache[name]

    def clips(self, names: Sequence[str]) -> list[Clip]:
        """The clips called ``names``, in that order."""
        return [self.clip(n) for n in names]
