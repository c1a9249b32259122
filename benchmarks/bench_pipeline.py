"""End-to-end benchmark: a 1280×720 photo → a looping video, every stage timed.

Usage: python benchmarks/bench_pipeline.py [--size 1280x720] [--frames 90] [--backend torch|native|auto]
                                           [--motion] [--depth heuristic|exact]

Prints one table (stage, seconds, share) and the peak RSS of the process. The photo is the
procedural demo scene (no download); with --motion the demo's lake flows along 6 arrows.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import cinemagraph3d as c3  # noqa: E402
from cinemagraph3d.demo import demo_scene  # noqa: E402
from cinemagraph3d.io import VideoWriter  # noqa: E402
from cinemagraph3d.pipeline import RenderSettings, border_points  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--frames", type=int, default=90)
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--motion", action="store_true")
    ap.add_argument("--depth", default="heuristic", choices=["heuristic", "exact"])
    ap.add_argument("--camera", default="circle")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    w, h = (int(v) for v in args.size.split("x"))
    times: dict[str, float] = {}

    def tick(name, t0):
        times[name] = times.get(name, 0.0) + time.perf_counter() - t0
        return time.perf_counter()

    t_all = t = time.perf_counter()
    d = demo_scene(w, h)
    t = tick("photo (procedural)", t)
    depth = c3.heuristic_depth(d.image) if args.depth == "heuristic" else c3.DepthMap(d.depth, True, "demo")
    t = tick("depth", t)
    scene = c3.prepare_scene(d.image, depth)
    t = tick("scene (LDI + inpainting + lift)", t)
    motion, steps = None, 60
    if args.motion:
        from cinemagraph3d.motion import MotionHints, MotionRegion, integrate_motion, motion_field

        hints = MotionHints(d.hints[:, :2].clone(), d.hints[:, 2:].clone())
        field = motion_field(h, w, [MotionRegion(d.water, hints)])
        t = tick("motion field", t)
        motion = integrate_motion(field, steps)
        t = tick("Euler integration", t)
    traj = c3.make_trajectory(
        c3.TrajectorySettings(args.camera, args.frames, 0.03), scene.camera, scene.z_near, scene.z_subject
    )
    zoom = c3.geometry.trajectory.safe_zoom(traj, border_points(scene))
    t = tick("trajectory + safe zoom", t)
    settings = RenderSettings(backend=None if args.backend == "auto" else args.backend)
    backend = c3.active_backend("cpu", settings.backend)
    frames = c3.render_frames(scene, traj, motion, steps, settings)
    render_t = enc_t = 0.0
    with tempfile.TemporaryDirectory() as tmp, VideoWriter(Path(tmp) / "out.mp4", 30) as wr:
        while True:
            t0 = time.perf_counter()
            try:
                f = next(frames)
            except StopIteration:
                break
            t1 = time.perf_counter()
            wr.write(f)
            render_t += t1 - t0
            enc_t += time.perf_counter() - t1
        t0 = time.perf_counter()
    enc_t += time.perf_counter() - t0
    times["render frames"] = render_t
    times["encode mp4"] = enc_t
    total = time.perf_counter() - t_all
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\n{w}x{h}, {args.frames} frames, camera {args.camera}, motion {args.motion}, backend {backend}, "
        f"points {scene.cloud.num_points:,}, layers {scene.ldi.num_layers}, safe zoom {zoom:.3f}, threads {torch.get_num_threads()}"
    )
    print(f"{'stage':32s} {'seconds':>9s} {'share':>7s}")
    for k, v in times.items():
        print(f"{k:32s} {v:9.2f} {100 * v / total:6.1f}%")
    print(f"{'total wall':32s} {total:9.2f}")
    print(f"{'per frame (render)':32s} {1000 * render_t / args.frames:8.1f}ms")
    print(f"peak RSS {rss:.0f} MB (the Python process; the ffmpeg encoder runs beside it)")


if __name__ == "__main__":
    main()
