"""The frame loop's passes one by one, on the inputs the pipeline gives them.

Usage: python benchmarks/bench_passes.py [--compare-with DIR] [--size 1280x720] [--repeats 10]
                                         [--threads 1]

Renders a few frames of the procedural demo lake (exact depth, circle camera, the lake flowing)
with every native pass wrapped so that its inputs are kept, then times each pass again on those
inputs (minimum over ``--repeats`` calls, process CPU time with one thread, wall time otherwise):
the native kernels (``_C.prepare_splat``, ``_C.splat_forward``, ``_C.move_cloud``,
``_C.fuse_dissolve``, ``_C.fill_holes``) and, at the pipeline's level so that trees without a
native pass can be compared, the gap closing of one view (``_GapClosing.__call__``), one Euler
step of the motion (``_Stepper.step``, ``_C.flow_step`` where the tree has it), the motion's
integration (``integrate_motion``, once per video), the border ghosts (``border_ghosts``, once
per video), and three set-up steps: the grid neighbours (``grid_neighbours``), the depth-edge
sharpening (``sharpen_depth_edges``) and the layer clustering (``cluster_disparity``). The
clustering's first call in a fresh process also imports what it needs (``scipy.cluster`` in
trees before the sixth session); the minimum over the calls leaves that out. With ``--compare-with`` (a directory holding a
previous ``cinemagraph3d`` package with its ``_C`` built) both trees run in child processes, in
turn, and the table gives both and their ratio. With ``--compare-kernels`` the tree runs twice,
with its baseline CPU kernels ("previous": ``CINEMAGRAPH3D_CPU_KERNELS=baseline``) and with the
build it picks for this CPU (the AVX2 one where available, see ``csrc/isa.h``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve()
PASSES = ["prepare_splat", "splat_forward", "move_cloud", "fuse_dissolve", "fill_holes"]


def child(root: str, args) -> dict:
    sys.path.insert(0, root)
    import torch

    warnings.simplefilter("ignore")
    torch.set_num_threads(args.threads)
    clock = time.process_time if args.threads == 1 else time.perf_counter
    import cinemagraph3d as c3
    from cinemagraph3d import _C
    from cinemagraph3d import pipeline as pl
    from cinemagraph3d.demo import demo_scene
    from cinemagraph3d.motion import MotionHints, MotionRegion, integrate_motion, motion_field

    seen: dict[str, list] = {name: [] for name in PASSES}
    real = {name: getattr(_C, name) for name in PASSES}

    def keep(name):
        def wrapper(*a, **k):
            seen[name].append((a, k))
            return real[name](*a, **k)

        return wrapper

    for name in PASSES:
        setattr(_C, name, keep(name))
    w, h = (int(v) for v in args.size.split("x"))
    d = demo_scene(w, h)
    scene = c3.prepare_scene(d.image, c3.DepthMap(d.depth, True, "demo"))
    hints = MotionHints(d.hints[:, :2].clone(), d.hints[:, 2:].clone())
    motion = integrate_motion(motion_field(h, w, [MotionRegion(d.water, hints)]), 60)
    traj = c3.make_trajectory(
        c3.TrajectorySettings("circle", 8, 0.03), scene.camera, scene.z_near, scene.z_subject
    )
    with torch.no_grad():
        for i, _ in enumerate(pl.render_frames(scene, traj, motion, 60, pl.RenderSettings())):
            if i == 4:
                break
    for name in PASSES:
        setattr(_C, name, real[name])

    def best(fn, repeats: int = args.repeats) -> float:
        fn()
        t = float("inf")
        for _ in range(repeats):
            t0 = clock()
            fn()
            t = min(t, clock() - t0)
        return t

    out: dict[str, float] = {}
    with torch.no_grad():
        for name in PASSES:
            calls = seen[name][-2:]  # the last frame's (two splats, two clouds, one fusion, one fill)
            if calls:
                fn = real[name]
                out[f"{name} (per call)"] = best(
                    lambda fn=fn, calls=calls: [fn(*a, **k) for a, k in calls]
                ) / len(calls)
        try:  # the native pass where the tree has it (a previous tree may not take the argument)
            gaps = pl._GapClosing(scene, None)
        except TypeError:
            gaps = pl._GapClosing(scene)
        T, K = traj.cam_from_world[3], traj.K[3]
        out["gap closing (per view)"] = best(lambda: gaps(T, K))
        # one Euler step of the moving pixels from the loop's last kept state (the motion's
        # stepper: the native flow_step where the tree has it, else grid_sample and torch ops)
        st = motion._stepper
        state = motion._states[0][-1].contiguous()
        buf = torch.empty_like(state)
        out["motion step (per step)"] = best(lambda: st.step(state, 7, 1.0, out=buf))
        field = motion_field(h, w, [MotionRegion(d.water, hints)])
        out["motion integration (once, 60 steps)"] = best(
            lambda: integrate_motion(field, 60), min(args.repeats, 3)
        )
        margin = 2.0 * float(pl.RenderSettings().splat.max_radius)
        ghosts = best(lambda: pl.border_ghosts(scene, motion, margin=margin), min(args.repeats, 3))
        out["border ghosts (once)"] = ghosts
        # the set-up steps of the sixth session, at the pipeline's level (any tree has them)
        from cinemagraph3d.depth.edges import sharpen_depth_edges
        from cinemagraph3d.ldi import LDISettings, cluster_disparity
        from cinemagraph3d.render.footprint import grid_neighbours

        c = scene.cloud
        out["grid neighbours (once)"] = best(
            lambda: grid_neighbours(c.pixels, c.layer, c.points[:, 2]), min(args.repeats, 3)
        )
        disp = 1.0 / d.depth[0].clamp(min=1e-6)
        out["depth edge sharpening (once)"] = best(
            lambda: sharpen_depth_edges(disp, d.image), min(args.repeats, 3)
        )
        out["layer clustering (once)"] = best(
            lambda: cluster_disparity(disp, LDISettings()), min(args.repeats, 3)
        )
    kernels = getattr(_C, "cpu_kernels", None)
    return {"times": out, "threads": torch.get_num_threads(), "torch": torch.__version__,
            "kernels": kernels() if kernels else None}  # fmt: skip


def run_child(root: str, argv: list[str], env: dict | None = None) -> dict:
    cmd = [sys.executable, str(HERE), "--child", root, *argv]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True, env={**os.environ, **(env or {})})
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--compare-with", default=None, help="a directory holding a previous cinemagraph3d package"
    )
    ap.add_argument(
        "--compare-kernels", action="store_true", help="this tree's baseline CPU kernels against its pick"
    )
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args, _ = ap.parse_known_args()
    if args.child:
        print(json.dumps(child(args.child, args)))
        return
    argv = ["--size", args.size, "--repeats", str(args.repeats), "--threads", str(args.threads)]
    roots = {"new": str(HERE.parents[1])}
    if args.compare_with:
        roots = {"previous": str(Path(args.compare_with).resolve()), **roots}
    if args.compare_kernels:
        runs = {
            "previous": run_child(roots["new"], argv, {"CINEMAGRAPH3D_CPU_KERNELS": "baseline"}),
            "new": run_child(roots["new"], argv),
        }
        roots = {"previous": roots["new"], **roots}
    else:
        runs = {name: run_child(root, argv) for name, root in roots.items()}
    kernels = runs["new"].get("kernels")
    clock = "process CPU time, 1 thread" if args.threads == 1 else f"wall time, {args.threads} threads"
    print(
        f"{args.size}, demo lake, {clock}, minimum of {args.repeats} calls, torch {runs['new']['torch']}"
        + (f", CPU kernels {' / '.join(str(r.get('kernels')) for r in runs.values())}" if kernels else "")
    )
    names = list(roots)
    print(
        "| pass | "
        + " | ".join(f"{n} (ms)" for n in names)
        + (" | previous ÷ new |" if len(names) > 1 else " |")
    )
    print("|---|" + "---:|" * (len(names) + (len(names) > 1)))
    for key in runs["new"]["times"]:
        vals = [runs[n]["times"].get(key) for n in names]
        cells = ["—" if v is None else f"{1e3 * v:.1f}" for v in vals]
        ratio = ""
        if len(names) > 1:
            ratio = f" | {vals[0] / vals[1]:.2f}×" if None not in vals else " | —"
        print(f"| {key} | " + " | ".join(cells) + ratio + " |")


if __name__ == "__main__":
    main()
