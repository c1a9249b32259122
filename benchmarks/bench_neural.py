"""Per-frame cost of the neural preset (splats + learned fusion + U-Net decoder) on the CPU.

Usage: python benchmarks/bench_neural.py [--sizes 640x360,1280x720] [--frames 3]

Networks are created with random weights (same architectures and sizes as the official ones) and
saved/loaded through the real weights code; the procedural demo scene is the photo. Prints one
table: scene preparation (LDI + feature encoder) and ms per frame, split into splatting and
decoding, and ms per frame with the demo's lake flowing (two feature splats per frame).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import cinemagraph3d as c3  # noqa: E402
from cinemagraph3d import neural  # noqa: E402
from cinemagraph3d.demo import demo_scene  # noqa: E402
from cinemagraph3d.models import create_model  # noqa: E402
from cinemagraph3d.motion import MotionHints, MotionRegion, integrate_motion, motion_field  # noqa: E402
from cinemagraph3d.weights import save_model  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="640x360,1280x720")
    ap.add_argument("--frames", type=int, default=3)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        save_model(create_model("feature_encoder"), tmp)
        save_model(create_model("image_decoder"), tmp)
        preset = neural.load_neural_preset(tmp)
        for size in args.sizes.split(","):
            w, h = (int(v) for v in size.split("x"))
            d = demo_scene(w, h)
            t0 = time.perf_counter()
            scene = c3.prepare_scene(
                d.image,
                c3.DepthMap(d.depth, True, "demo"),
                features=lambda ldi: neural.encode_layers(preset, ldi),
            )
            prep = time.perf_counter() - t0
            traj = c3.make_trajectory(
                c3.TrajectorySettings("circle", args.frames), scene.camera, scene.z_near, scene.z_subject
            )
            # time splatting alone (classic settings on the same 35-channel cloud) and full frames
            t0 = time.perf_counter()
            for _ in c3.render_frames(scene, traj, settings=c3.RenderSettings(fill_holes=False)):
                pass
            splat = (time.perf_counter() - t0) / args.frames
            t0 = time.perf_counter()
            for _ in c3.render_frames(scene, traj, settings=c3.RenderSettings(neural=preset)):
                pass
            full = (time.perf_counter() - t0) / args.frames
            # the same frames with the lake flowing: two feature splats (forward and backward)
            hints = MotionHints(d.hints[:, :2].clone(), d.hints[:, 2:].clone())
            motion = integrate_motion(motion_field(h, w, [MotionRegion(d.water, hints)]), 60)
            t0 = time.perf_counter()
            for _ in c3.render_frames(scene, traj, motion, 60, settings=c3.RenderSettings(neural=preset)):
                pass
            moving = (time.perf_counter() - t0) / args.frames
            rows.append((size, scene.cloud.num_points, prep, splat, full, moving))
    print(f"\nneural preset, backend {c3.active_backend('cpu')}, threads {torch.get_num_threads()}")
    print(
        f"{'size':>10s} {'points':>10s} {'prepare s':>10s} {'splat ms':>9s} {'frame ms':>9s} "
        f"{'decoder share':>13s} {'moving frame ms':>16s}"
    )
    for size, n, prep, splat, full, moving in rows:
        print(
            f"{size:>10s} {n:>10,d} {prep:10.2f} {1000 * splat:9.0f} {1000 * full:9.0f} "
            f"{100 * (full - splat) / full:12.0f}% {1000 * moving:16.0f}"
        )


if __name__ == "__main__":
    main()
