"""End-to-end benchmark: a photo → a looping video, every stage timed, optionally against a
previous implementation in the same run.

Usage: python benchmarks/bench_pipeline.py [--size 1280x720] [--frames 90] [--backend torch|native|auto]
                                           [--motion] [--depth heuristic|exact] [--camera circle]
                                           [--compare-with DIR] [--repeats N]

The photo is the procedural demo scene (no download); with --motion the demo's lake flows along
its 6 arrows (dissolve fusion, stretch footprints and border ghosts: the defaults). Each run is a
fresh process (so its peak RSS is its own); the per-frame work is split by wrapping the
pipeline's stage functions with timers (``_MovedClouds.__call__``, ``_GapClosing.__call__``,
``_splat`` and the kernel ``splat_points`` inside it, ``fuse_bidirectional``, ``fill_holes``;
``border_ghosts`` and ``point_phases`` once per video).

``--threads 1 --clock cpu`` times process CPU time with one torch thread: on a shared, loaded
machine this is far more stable than wall time (no waiting for the other thread of a parallel
region), at the cost of not showing the parallel speed-up.

``--compare-kernels`` compares this tree's baseline CPU kernels (``CINEMAGRAPH3D_CPU_KERNELS=baseline``,
"previous") with the build it picks for this CPU ("new": the AVX2 one where available, see
``csrc/isa.h``) in the same way.

``--compare-with DIR`` runs the same measurement on the package found in DIR (e.g. a
``git archive`` of an earlier commit with its built ``_C`` extension copied in), alternating the
two ``--repeats`` times, and prints one table with the minimum of each stage over the repeats,
both implementations and their ratio. The machine may be shared: the minimum over repeats is
the figure to quote, and the ratio of two runs made side by side is more robust than either.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve()


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(root: str, args) -> dict:
    """One measurement in this process, on the package under ``root``; returns the stage times."""
    sys.path.insert(0, root)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter

    rss_torch = _rss_mb()
    import cinemagraph3d as c3
    from cinemagraph3d import pipeline as pl
    from cinemagraph3d.demo import demo_scene
    from cinemagraph3d.io import VideoWriter

    warnings.simplefilter("ignore")
    w, h = (int(v) for v in args.size.split("x"))
    times: dict[str, float] = {}

    def tick(name, t0):
        times[name] = times.get(name, 0.0) + clock() - t0
        return clock()

    def timed(obj, name, label):
        if not hasattr(obj, name):
            return
        fn = getattr(obj, name)

        def wrapper(*a, **k):
            t0 = clock()
            try:
                return fn(*a, **k)
            finally:
                times[label] = times.get(label, 0.0) + clock() - t0

        setattr(obj, name, wrapper)

    timed(pl, "border_ghosts", "  border ghosts (once)")
    timed(pl, "point_phases", "  switch times (once)")
    timed(pl._MovedClouds, "__call__", "  move clouds")
    timed(pl, "_splat", "  splats (transform + kernel)")
    try:  # the kernel itself: the pipeline also calls it directly (the backward splat's rows)
        from cinemagraph3d import _C

        timed(_C, "splat_forward", "    of which the kernel")
    except ImportError:
        timed(pl, "splat_points", "    of which the kernel")
    if hasattr(pl, "_GapClosing"):
        timed(pl._GapClosing, "__call__", "  gap footprints")
    timed(pl, "fuse_bidirectional", "  fusion")
    timed(pl, "fill_holes", "  hole filling")

    t_all = t = clock()
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
    t = tick("trajectory", t)
    settings = pl.RenderSettings(backend=None if args.backend == "auto" else args.backend)
    backend = c3.active_backend("cpu", settings.backend)
    frames = pl.render_frames(scene, traj, motion, steps, settings)
    render_t = enc_t = 0.0
    with tempfile.TemporaryDirectory() as tmp, VideoWriter(Path(tmp) / "out.mp4", 30) as wr:
        while True:
            t0 = clock()
            try:
                f = next(frames)
            except StopIteration:
                break
            t1 = clock()
            wr.write(f)
            render_t += t1 - t0
            enc_t += clock() - t1
        t0 = clock()
    enc_t += clock() - t0
    times["render frames"] = render_t
    times["encode mp4 (waiting for x264)"] = enc_t
    times["total"] = clock() - t_all
    return {
        "times": times,
        "rss_mb": _rss_mb(),
        "rss_torch_mb": rss_torch,
        "points": scene.cloud.num_points,
        "backend": backend,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }


ORDER = [
    "photo (procedural)",
    "depth",
    "scene (LDI + inpainting + lift)",
    "motion field",
    "Euler integration",
    "trajectory",
    "render frames",
    "  border ghosts (once)",
    "  switch times (once)",
    "  move clouds",
    "  gap footprints",
    "  splats (transform + kernel)",
    "    of which the kernel",
    "  fusion",
    "  hole filling",
    "encode mp4 (waiting for x264)",
    "total",
]


def run_child(root: str, argv: list[str], env: dict | None = None) -> dict:
    cmd = [sys.executable, str(HERE), "--child", root, *argv]
    out = subprocess.run(
        cmd, check=True, capture_output=True, text=True, env={**os.environ, **(env or {})}
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--frames", type=int, default=90)
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--motion", action="store_true")
    ap.add_argument("--depth", default="heuristic", choices=["heuristic", "exact"])
    ap.add_argument("--camera", default="circle")
    ap.add_argument(
        "--compare-with", default=None, help="a directory holding a previous cinemagraph3d package"
    )
    ap.add_argument(
        "--compare-kernels",
        action="store_true",
        help="this tree with its baseline CPU kernels (previous) against the build it picks (new)",
    )
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument(
        "--clock",
        default="wall",
        choices=["wall", "cpu"],
        help="wall clock, or process CPU time (robust on a shared machine; use with --threads 1)",
    )
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args)))
        return
    argv = [f"--size={args.size}", f"--frames={args.frames}", f"--backend={args.backend}",
            f"--depth={args.depth}", f"--camera={args.camera}", f"--threads={args.threads}",
            f"--clock={args.clock}"] + (["--motion"] if args.motion else [])  # fmt: skip
    roots = {"new": str(HERE.parents[1])}
    envs: dict[str, dict] = {"new": {}}
    if args.compare_with:
        roots = {"previous": str(Path(args.compare_with).resolve()), **roots}
    elif args.compare_kernels:  # the same tree: CINEMAGRAPH3D_CPU_KERNELS=baseline, then its pick
        roots = {"previous": roots["new"], **roots}
        envs["previous"] = {"CINEMAGRAPH3D_CPU_KERNELS": "baseline"}
    runs: dict[str, list[dict]] = {k: [] for k in roots}
    for _ in range(args.repeats):
        for name, root in roots.items():  # alternated, so both see the same load
            runs[name].append(run_child(root, argv, envs.get(name)))
    best = {k: {s: min(r["times"].get(s, float("nan")) for r in v) for s in ORDER} for k, v in runs.items()}
    rss = {k: min(r["rss_mb"] for r in v) for k, v in runs.items()}
    info = runs["new"][0]
    print(
        f"\n{args.size}, {args.frames} frames, camera {args.camera}, motion {args.motion}, backend {info['backend']}, "
        f"points {info['points']:,}, torch {info['torch']}, {info['threads']} threads, "
        f"{'process CPU time' if args.clock == 'cpu' else 'wall clock'}, "
        f"minimum of {args.repeats} run(s) per implementation"
    )
    names = list(roots)
    head = (
        "| stage | "
        + " | ".join(f"{n} (s)" for n in names)
        + (" | previous ÷ new |" if len(names) > 1 else " |")
    )
    print(head)
    print("|---" * (len(names) + 1 + (len(names) > 1)) + "|")
    for s in ORDER:
        vals = [best[n][s] for n in names]
        if all(v != v for v in vals):  # nan: stage absent (e.g. no motion)
            continue
        row = f"| {s} | " + " | ".join(f"{v:.2f}" for v in vals)
        if len(names) > 1:
            row += f" | {vals[0] / vals[1]:.2f}×" if vals[1] > 0 else " | —"
        print(row + " |")
    per = [1000 * best[n]["render frames"] / args.frames for n in names]
    print(
        "| per frame (render, ms) | "
        + " | ".join(f"{v:.0f}" for v in per)
        + (f" | {per[0] / per[1]:.2f}× |" if len(names) > 1 else " |")
    )
    r = [rss[n] for n in names]
    print(
        "| peak RSS (MB) | "
        + " | ".join(f"{v:.0f}" for v in r)
        + (f" | {r[0] / r[1]:.2f}× |" if len(names) > 1 else " |")
    )
    print(f"(peak RSS of the Python process; importing torch alone: {info['rss_torch_mb']:.0f} MB; "
          "the x264 encoder is a separate process)")  # fmt: skip


if __name__ == "__main__":
    main()
