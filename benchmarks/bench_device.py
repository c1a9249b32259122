"""The frame loop on a device against the CPU, in one run: the README lake (classic preset) and,
with ``--neural``, neural frames with random weights of the official sizes. One table.

Usage: python benchmarks/bench_device.py [--device cuda] [--size 1280x720] [--frames 90]
                                         [--cpu-frames 90] [--neural] [--neural-frames 4]

The project is prepared once on the CPU (depth, layers, motion: the set-up, which runs on the CPU
whatever the device); :func:`cinemagraph3d.devices.to_device` copies it to the device and the
same frames are rendered there and on the CPU (the CPU's native passes, as ``animate`` uses
them). Each row: set-up seconds (shared), the first frame (the device's warm-up: kernels loaded,
caches filled), the frames after it (per frame and in all, each frame copied back to the CPU as
the writer does, with ``torch.cuda.synchronize()`` before the clock is read), and the largest
absolute difference and the PSNR of the device's frames against the CPU's (values in [0, 1]).
The whole-video figure is set-up + all frames (the command line also imports torch and encodes).
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cinemagraph3d as c3  # noqa: E402
from cinemagraph3d.api import prepare_project, project_frames  # noqa: E402
from cinemagraph3d.devices import resolve_device, to_device  # noqa: E402


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def render(prepared, dev: torch.device, limit: int):
    """Frames (CPU tensors) of ``prepared`` on ``dev``: (first frame s, the rest s, frames)."""
    on = to_device(prepared, dev)  # a copy on the CPU too: the same path as on a GPU
    frames, times = [], []
    t0 = time.perf_counter()
    with torch.inference_mode():
        for k, f in enumerate(project_frames(on)):
            frames.append(f.cpu())
            _sync(dev)
            t1 = time.perf_counter()
            times.append(t1 - t0)
            t0 = t1
            if k + 1 >= limit:
                break
    return times[0], sum(times[1:]), frames


def compare(a: list[torch.Tensor], b: list[torch.Tensor]) -> tuple[float, float]:
    n = min(len(a), len(b))
    diff = max(float((x - y).abs().max()) for x, y in zip(a[:n], b[:n]))
    mse = sum(float(((x - y) ** 2).mean()) for x, y in zip(a[:n], b[:n])) / n
    return diff, (math.inf if mse == 0 else 10 * math.log10(1.0 / mse))


def lake_project(tmp: Path, size: str, frames: int) -> c3.Project:
    subprocess.run([sys.executable, str(ROOT / "examples" / "lake_labelme.py"), str(tmp), "--size", size],
                   check=True, capture_output=True)  # fmt: skip
    return c3.Project.from_flat(image=str(tmp / "photo.jpg"), labelme=str(tmp / "photo.json"), frames=frames)


def neural_project(tmp: Path, size: str, frames: int) -> c3.Project:
    from cinemagraph3d.demo import demo_scene
    from cinemagraph3d.io import write_png
    from cinemagraph3d.models import create_model
    from cinemagraph3d.weights import save_model

    torch.manual_seed(0)
    weights = tmp / "weights"
    save_model(create_model("feature_encoder"), weights)
    save_model(create_model("image_decoder"), weights)
    w, h = (int(v) for v in size.split("x"))
    d = demo_scene(w, h)
    write_png(tmp / "demo.png", d.image)
    write_png(tmp / "water.png", (d.water.numpy() * 255).astype("uint8"))
    return c3.Project.from_flat(image=str(tmp / "demo.png"), masks=[str(tmp / "water.png")],
                                arrows=[[w * 0.2, h * 0.8, w * 0.25, h * 0.8]], frames=frames,
                                preset="neural", weights=str(weights))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", help="cuda, cuda:N, or cpu (a sanity run)")
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--frames", type=int, default=90, help="frames of the video (device run)")
    ap.add_argument("--cpu-frames", type=int, default=None, help="frames rendered on the CPU (default all)")
    ap.add_argument("--neural", action="store_true", help="also neural frames (random weights)")
    ap.add_argument("--neural-frames", type=int, default=4, help="neural frames per device (first excluded)")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    dev = resolve_device(args.device)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        jobs = [("classic (README lake)", lake_project(tmp / "lake", args.size, args.frames), args.frames,
                 args.cpu_frames or args.frames)]  # fmt: skip
        if args.neural:
            n = args.neural_frames
            jobs.append(
                ("neural (random weights)", neural_project(tmp / "neural", args.size, args.frames), n, n)
            )
        for name, project, n_dev, n_cpu in jobs:
            t0 = time.perf_counter()
            prepared = prepare_project(project.validate())
            setup = time.perf_counter() - t0
            first_c, rest_c, cpu = render(prepared, torch.device("cpu"), n_cpu)
            first_d, rest_d, out = render(prepared, dev, n_dev)
            diff, psnr = compare(out, cpu)
            for where, first, rest, frames in (
                ("cpu", first_c, rest_c, cpu),
                (str(dev), first_d, rest_d, out),
            ):
                per = 1e3 * rest / max(1, len(frames) - 1)
                whole = setup + first + rest if len(frames) == args.frames else float("nan")
                rows.append((name, where, setup, first, per, len(frames), whole,
                             "—" if where == "cpu" else f"{diff:.2e}", "—" if where == "cpu" else f"{psnr:.1f}"))  # fmt: skip
    gpu = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "none"
    print(f"\nframe loop on {dev} ({gpu}) against the CPU ({os.cpu_count()} cores, {torch.get_num_threads()} "
          f"threads), {args.size}, torch {torch.__version__}, splat backends: cpu {c3.active_backend('cpu')}, "
          f"{dev.type} {c3.active_backend(dev)}\n")  # fmt: skip
    print(
        "| job | device | set-up s (CPU) | first frame s | ms / frame after it | frames | whole video s "
        "| max abs diff vs CPU | PSNR vs CPU (dB) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r[0]} | {r[1]} | {r[2]:.2f} | {r[3]:.2f} | {r[4]:.1f} | {r[5]} | {r[6]:.2f} | {r[7]} | {r[8]} |"
        )


if __name__ == "__main__":
    main()
