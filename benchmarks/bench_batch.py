"""Batch throughput: N small jobs rendered one after another in this process vs as Ray tasks on
a local Ray instance, measured in one run.

Usage: python benchmarks/bench_batch.py [--jobs 8] [--size 320x180] [--frames 24] [--workers 2]

Each job is the demo photo (a different procedural seed each, so no two jobs are alike) with the
automatic sky, the circle camera and ``--frames`` frames. Prints one table (engine, seconds,
jobs/min, speed-up over sequential). Ray's own start-up (a few seconds) is included: it is what a
user waits for.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cinemagraph3d.batch import discover_jobs, run_batch  # noqa: E402
from cinemagraph3d.demo import demo_scene  # noqa: E402
from cinemagraph3d.io import write_png  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--size", default="320x180")
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    w, h = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        photos = tmp / "photos"
        photos.mkdir()
        for k in range(args.jobs):
            write_png(photos / f"p{k:03d}.png", demo_scene(w + 2 * k, h).image)
        jobs = discover_jobs([photos], {"frames": args.frames, "loop_steps": args.frames})
        rows = []
        t0 = time.perf_counter()
        s = run_batch(jobs, tmp / "seq", engine="local")
        rows.append(("sequential (this process)", time.perf_counter() - t0, len(s.done)))
        import ray

        t0 = time.perf_counter()
        ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False, configure_logging=False)
        s = run_batch(jobs, tmp / "ray", engine="ray", cpus_per_job=1)
        ray.shutdown()
        rows.append((f"Ray local, {args.workers} workers", time.perf_counter() - t0, len(s.done)))
    base = rows[0][1]
    print(f"{args.jobs} jobs of {args.size}, {args.frames} frames each, {os.cpu_count()} CPU cores")
    print("| engine | seconds | jobs/min | speed-up |\n|---|---|---|---|")
    for name, secs, done in rows:
        print(f"| {name} | {secs:.1f} | {done / secs * 60:.1f} | {base / secs:.2f}× |")


if __name__ == "__main__":
    main()
