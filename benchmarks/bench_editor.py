"""The editor's preview loop: how long from a change (a stroke, an arrow, a camera path) to a
playable preview, for a 1280×720 photo, and what reusing the prepared scene saves.

Usage: python benchmarks/bench_editor.py [--side 320] [--frames 24] [--runs 2] [--threads 1]

Rows (one run, so the ratios compare like with like on a loaded machine):
- cold: the first preview (photo read, depth, LDI and point cloud built at the preview size);
- motion changed: an arrow added (scene reused, motion integrated again);
- camera changed: another camera path (scene and integrated motion reused);
- no cache: the same as "motion changed" with a fresh cache every time;
- motion changed, N torch threads: as "motion changed" with torch's own thread count instead of
  the editor's one thread;
- full-size prepare: ``api.prepare_project`` at 1280×720 (what a preview without the
  low-resolution path would start with).
CPU s is the CPU time of the process (all its threads) and of the ffmpeg encoder it runs: on an idle 2-core machine the wall
time lies between CPU s / 2 and CPU s; on a loaded one the wall time says little, and with
several threads the CPU time counts their spin-waiting too (use ``--threads 1`` there: then CPU s
is what one idle core needs).
Each time includes saving the project (masks as PNG), loading it back, rendering the frames and
writing the mp4 the page plays; the browser's own start of playback is not included.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def cpu() -> float:
    """CPU seconds of this process (all threads) and of its finished children (ffmpeg)."""
    import resource

    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + c.ru_utime + c.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--side", type=int, default=320)
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads of the preview (the editor's default 1; 0: torch's own, 2 here)",
    )
    args = ap.parse_args()
    import torch

    from cinemagraph3d.api import prepare_project
    from cinemagraph3d.demo import demo_scene
    from cinemagraph3d.editor.session import PreviewCache, Workspace, apply_canvas_event
    from cinemagraph3d.editor.state import EditorState, RegionState
    from cinemagraph3d.io import write_png
    from cinemagraph3d.project import load_project

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        scene = demo_scene(1280, 720)
        write_png(tmp / "photo.png", scene.image)
        ws = Workspace(tmp / "work")
        st = EditorState(image=str(ws.import_file(tmp / "photo.png", "photo")), width=1280, height=720)
        st.regions.append(RegionState("water", scene.water.numpy().astype(bool)))
        st = apply_canvas_event(st, {"points": [[200, 600], [320, 600]]}, "arrow", 0, 1.0)
        st.camera = "swing"

        def preview(cache, state):
            t0, c0 = time.perf_counter(), cpu()
            path, _ = cache.preview(load_project(ws.save(state)), tmp)
            dt = time.perf_counter() - t0, cpu() - c0
            path.unlink()
            return dt

        names = ("cold", "motion changed", "camera changed", "no cache")
        rows = {k: [] for k in (*names, f"motion changed, {torch.get_num_threads()} torch threads")}
        rows["full-size prepare"] = []
        for run in range(args.runs):
            cache = PreviewCache(args.side, args.frames, args.threads or None)
            rows["cold"].append(preview(cache, st))
            st = apply_canvas_event(st, {"points": [[700, 650], [800, 640 - run]]}, "arrow", 0, 1.0)
            rows["motion changed"].append(preview(cache, st))
            st.camera = "circle" if st.camera == "swing" else "swing"
            rows["camera changed"].append(preview(cache, st))
            st = apply_canvas_event(st, {"points": [[900, 660], [1000, 650 - run]]}, "arrow", 0, 1.0)
            rows["no cache"].append(preview(PreviewCache(args.side, args.frames, args.threads or None), st))
            both = PreviewCache(args.side, args.frames, None)  # torch's own thread count
            preview(both, st)
            st = apply_canvas_event(st, {"points": [[300, 680], [420, 670 - run]]}, "arrow", 0, 1.0)
            rows[f"motion changed, {torch.get_num_threads()} torch threads"].append(preview(both, st))
            t0, c0 = time.perf_counter(), cpu()
            prepare_project(load_project(ws.save(st)))
            rows["full-size prepare"].append((time.perf_counter() - t0, cpu() - c0))
        base = statistics.median(t for t, _ in rows["no cache"])
        print(
            f"1280x720 photo, preview {args.side} px long side, {args.frames} frames, "
            f"{args.threads or torch.get_num_threads()} torch threads, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}\n"
        )
        print(f"| step | median wall s ({args.runs} runs) | CPU s (all threads) | wall vs no cache |")
        print("|---|---|---|---|")
        for name, times in rows.items():
            med = statistics.median(t for t, _ in times)
            cpu_s = statistics.median(c for _, c in times)
            print(f"| {name} | {med:.2f} | {cpu_s:.2f} | {med / base:.2f} |")


if __name__ == "__main__":
    main()
