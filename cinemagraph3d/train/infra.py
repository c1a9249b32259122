"""Training infrastructure shared by both stages: process groups, the global-batch sampler,
per-sample seeds, checkpoints, logs (CSV, TensorBoard, loss-curve PNG) and the run directory.

Determinism: the data order and every random choice of a sample (hint count, flip, target time)
come from ``numpy.random.default_rng([seed, step, position])``, where ``position`` is the
sample's place in the *global* batch. A run therefore sees the same samples whatever its world
size, and a resumed run the same as an uninterrupted one; each rank also seeds torch with
``seed + rank``.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import Cinemagraph3DError, InputError

__all__ = [
    "Dist",
    "setup_distributed",
    "GlobalBatches",
    "sample_rng",
    "save_checkpoint",
    "latest_checkpoint",
    "load_checkpoint",
    "RunLog",
    "plot_curves",
]

CHECKPOINTS = "checkpoints"


# --------------------------------------------------------------------------- processes
@dataclass(frozen=True)
class Dist:
    """The process group of a run.

    Attributes:
        rank, world: this process's rank and the number of processes.
        local_rank: rank on this machine (selects the GPU).
        device: the device this rank trains on.
        backend: ``"gloo"`` (CPU), ``"nccl"`` (CUDA) or ``None`` (single process).
        owns_group: this call created the process group (and :meth:`close` destroys it).
    """

    rank: int
    world: int
    local_rank: int
    device: torch.device
    backend: str | None
    owns_group: bool = False

    @property
    def main(self) -> bool:
        """True on rank 0 (the one that writes logs, checkpoints and weights)."""
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            torch.distributed.barrier()

    def close(self) -> None:
        if self.owns_group and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def setup_distributed(device: str = "auto") -> Dist:
    """Join the ``torchrun`` process group when ``WORLD_SIZE > 1`` (``nccl`` on CUDA, ``gloo``
    on CPU), else describe a single process.

    Args:
        device: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if use_cuda and not torch.cuda.is_available():
        raise InputError("device", "'cpu' or 'auto' on a machine without CUDA", "'cuda'")
    dev = torch.device(f"cuda:{local}") if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(dev)
    if world <= 1:
        return Dist(0, 1, 0, dev, None)
    backend = "nccl" if use_cuda else "gloo"
    owns = not torch.distributed.is_initialized()
    if owns:
        torch.distributed.init_process_group(backend=backend)
    return Dist(torch.distributed.get_rank(), torch.distributed.get_world_size(), local, dev, backend, owns)


# --------------------------------------------------------------------------- data order
def sample_rng(seed: int, step: int, position: int) -> np.random.Generator:
    """Generator of the random choices of the sample at ``position`` of global batch ``step``."""
    return np.random.default_rng([int(seed), int(step), int(position)])


class GlobalBatches:
    """The distributed sampler: global batch ``step`` holds positions ``step·G … step·G + G − 1``
    of an endless stream made of one seeded permutation of the ``n`` training clips per epoch;
    rank ``r`` of ``R`` takes the contiguous block ``r·G/R … (r+1)·G/R − 1`` of it.

    Args:
        n: number of training clips.
        batch: global batch ``G`` (a multiple of ``world``).
        seed: seed of the permutations.
        world, rank: the process group.
    """

    def __init__(self, n: int, batch: int, seed: int, world: int = 1, rank: int = 0) -> None:
        if batch % world:
            raise InputError("batch_size", f"a multiple of the number of processes ({world})", batch)
        self.n, self.batch, self.seed, self.world, self.rank = n, batch, seed, world, rank
        self._perms: dict[int, np.ndarray] = {}

    def _clip(self, pos: int) -> int:
        epoch, k = divmod(pos, self.n)
        if epoch not in self._perms:
            self._perms = {epoch: np.random.default_rng([self.seed, 7919, epoch]).permutation(self.n)}
        return int(self._perms[epoch][k])

    def local(self, step: int) -> list[tuple[int, int]]:
        """``(global position, clip index)`` of this rank's samples of global batch ``step``."""
        per = self.batch // self.world
        start = step * self.batch + self.rank * per
        return [(p, self._clip(p)) for p in range(start, start + per)]


# --------------------------------------------------------------------------- checkpoints
def _step_dir(run: Path, step: int) -> Path:
    return run / CHECKPOINTS / f"step_{step:08d}"


def save_checkpoint(
    run: Path, step: int, modules: dict, optimizers: dict, schedulers: dict, keep: int
) -> Path:
    """Write ``checkpoints/step_NNNNNNNN/`` atomically (temporary folder + rename): every
    module's tensors in ``weights.safetensors`` (``<module>.<tensor>``) and the optimiser,
    scheduler and RNG states in ``state.pt`` (tensors, numbers and dicts only; read back with
    ``torch.load(weights_only=True)``). Older checkpoints beyond the ``keep`` newest are deleted.
    """
    from safetensors.torch import save_file

    root = run / CHECKPOINTS
    root.mkdir(exist_ok=True)
    final = _step_dir(run, step)
    tmp = root / f".tmp_{step:08d}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    tensors = {}
    for name, m in modules.items():
        for k, v in m.state_dict().items():
            tensors[f"{name}.{k}"] = v.detach().cpu().contiguous()
    save_file(tensors, str(tmp / "weights.safetensors"))
    state = {
        "step": int(step),
        "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
        "schedulers": {k: s.state_dict() for k, s in schedulers.items()},
        "rng": {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        },
    }
    torch.save(state, tmp / "state.pt")
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    done = sorted(p for p in root.glob("step_*") if p.is_dir())
    for old in done[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(run: Path) -> Path | None:
    """The newest complete checkpoint folder of a run, or ``None``."""
    root = run / CHECKPOINTS
    found = sorted(p for p in root.glob("step_*") if (p / "state.pt").is_file()) if root.is_dir() else []
    return found[-1] if found else None


def load_checkpoint(path: Path, modules: dict, optimizers: dict, schedulers: dict, device) -> int:
    """Restore a checkpoint written by :func:`save_checkpoint`; returns its step."""
    from safetensors.torch import load_file

    try:
        tensors = load_file(str(path / "weights.safetensors"), device=str(device))
        state = torch.load(path / "state.pt", map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001
        raise Cinemagraph3DError(f"checkpoint {path}: unreadable ({type(exc).__name__}: {exc})") from None
    for name, m in modules.items():
        prefix = f"{name}."
        sd = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        try:
            m.load_state_dict(sd)
        except RuntimeError as exc:
            raise Cinemagraph3DError(
                f"checkpoint {path}: {name} does not match the run's settings ({exc})"
            ) from None
    for k, o in optimizers.items():
        o.load_state_dict(state["optimizers"][k])
    for k, s in schedulers.items():
        s.load_state_dict(state["schedulers"][k])
    torch.set_rng_state(state["rng"]["torch"])
    if state["rng"]["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["rng"]["cuda"])
    return int(state["step"])


# --------------------------------------------------------------------------- logs
class RunLog:
    """``log.csv`` (one row per step; validation columns filled on validation steps), TensorBoard
    scalars under ``tb/`` when ``tensorboard`` is installed, and ``loss.png``.

    On resume the rows after the resumed step are dropped, so the log matches the run.
    """

    def __init__(self, run: Path, columns: list[str], resume_step: int | None = None) -> None:
        self.path = run / "log.csv"
        self.png = run / "loss.png"
        self.columns = ["step"] + columns
        rows = []
        if resume_step is not None and self.path.is_file():
            with self.path.open(newline="") as f:
                rows = [r for r in csv.DictReader(f) if int(r["step"]) <= resume_step]
        with self.path.open("w", newline="") as f:
            w = csv.DictWriter(f, self.columns)
            w.writeheader()
            w.writerows(rows)
        self.tb = None
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(run / "tb"))
        except Exception:  # noqa: BLE001 - tensorboard is optional
            self.tb = None

    def write(self, step: int, values: dict) -> None:
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, self.columns).writerow(
                {"step": step, **{k: f"{v:.6g}" for k, v in values.items() if k in self.columns}}
            )
        if self.tb is not None:
            for k, v in values.items():
                self.tb.add_scalar(k, v, step)

    def plot(self) -> None:
        """Redraw ``loss.png`` from the CSV (and flush TensorBoard)."""
        plot_curves(self.path, self.png)
        if self.tb is not None:
            self.tb.flush()

    def close(self) -> None:
        plot_curves(self.path, self.png)
        if self.tb is not None:
            self.tb.close()
            self.tb = None


_COLOURS = [(200, 80, 40), (40, 140, 200), (60, 170, 60), (160, 60, 170), (30, 160, 160), (120, 120, 30)]


def plot_curves(csv_path: Path, png_path: Path, width: int = 720, height: int = 120) -> None:
    """Loss-curve PNG: one strip per logged column (its min–max range printed), step on x."""
    import cv2

    with csv_path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    cols = [c for c in rows[0] if c != "step"]
    series = []
    for c in cols:
        pts = [(int(r["step"]), float(r[c])) for r in rows if r.get(c) not in (None, "")]
        if pts:
            series.append((c, np.array(pts, np.float64)))
    if not series:
        return
    steps = np.array([int(r["step"]) for r in rows], np.float64)
    s0, s1 = steps.min(), max(steps.max(), steps.min() + 1)
    img = np.full((height * len(series), width, 3), 255, np.uint8)
    for i, (name, pts) in enumerate(series):
        y0, pad = i * height, 18
        lo, hi = float(pts[:, 1].min()), float(pts[:, 1].max())
        span = hi - lo if hi > lo else 1.0
        x = 50 + (pts[:, 0] - s0) / (s1 - s0) * (width - 60)
        y = y0 + height - 8 - (pts[:, 1] - lo) / span * (height - pad - 12)
        poly = np.stack([x, y], 1).round().astype(np.int32)[:, None]
        colour = _COLOURS[i % len(_COLOURS)]
        cv2.line(img, (50, y0 + height - 4), (width - 10, y0 + height - 4), (200, 200, 200), 1)
        if len(poly) > 1:
            cv2.polylines(img, [poly], False, colour, 1, cv2.LINE_AA)
        else:
            cv2.circle(img, tuple(int(v) for v in poly[0, 0]), 2, colour, -1)
        label = f"{name}  [{lo:.4g}, {hi:.4g}]  steps {int(s0)}-{int(s1)}"
        cv2.putText(img, label, (52, y0 + 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    tmp = png_path.with_name(png_path.name + ".tmp.png")
    cv2.imwrite(str(tmp), img[..., ::-1])
    os.replace(tmp, png_path)


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` as JSON atomically."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)
