"""Cost of one training step of each stage at 256x256 on this machine: steps/s and peak memory.

Run:  python benchmarks/bench_train.py [--steps 4] [--threads 1] [--batch 1] [--size 256]

A synthetic dataset (three analytic-scene clips of 12 frames, no validation split) is built at
``--size``; each stage then runs in its own subprocess with the official network widths (motion
estimator base_filters 32, spade_hidden 128, input_size 256; encoder resnet34; decoder 32; the
default 2-scale, 64-channel discriminator), batch ``--batch``. The step cost is
``(T(2 + N) - T(2)) / N`` for ``N = --steps``: two runs of the same trainer in one process (after a
one-step warm-up run), so dataset loading, the stage-2 scene preparation of each clip (LDI, motion,
integration) and the first-step allocations cancel out. Times are process CPU time with ``--threads`` torch threads
(other processes on a shared machine barely disturb it) and wall time; peak memory is the
subprocess's peak resident set (CPU) or ``torch.cuda.max_memory_allocated`` (GPU). Prints one
Markdown table, with the stage-2 / stage-1 ratio measured in the same run, and the load average.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _dataset(root: Path, size: int) -> Path:
    sys.path.insert(0, str(ROOT / "tests"))
    from train_helpers.synthetic import write_clips

    from cinemagraph3d.train import DatasetSettings, build_dataset

    clips = write_clips(root / "clips", size, 12, [("lake", 0, 1.5), ("falls", 1, 1.5), ("window", 2, 1.5)])
    out = root / "data"
    build_dataset(
        [p for p, _ in clips], out, DatasetSettings(size=(size, size), val_fraction=0.0), progress=False
    )
    return out


def _stage(args) -> None:
    """Subprocess body: time the stage and print one JSON line."""
    import torch

    torch.set_num_threads(args.threads)
    from cinemagraph3d.train import MotionTrainSettings, RenderTrainSettings, train_motion, train_render

    common = {
        "batch_size": args.batch,
        "checkpoint_every": 10_000,
        "validate_every": 10_000,
        "device": args.device,
    }
    root = Path(args.work)
    out = {}
    for steps in (1, 2, 2 + args.steps):  # the first run only warms up (imports, kernel selection)
        run = root / f"{args.stage}_{steps}"
        t0, c0 = time.perf_counter(), time.process_time()
        if args.stage == "motion":
            train_motion(args.data, MotionTrainSettings(steps=steps, **common), run, progress=False)
        else:
            train_render(args.data, RenderTrainSettings(steps=steps, w_perceptual=0.0, **common), run,
                         root / "weights", progress=False)  # fmt: skip
        out[steps] = (time.perf_counter() - t0, time.process_time() - c0)
    wall = (out[2 + args.steps][0] - out[2][0]) / args.steps
    cpu = (out[2 + args.steps][1] - out[2][1]) / args.steps
    if torch.cuda.is_available() and args.device != "cpu":
        peak = torch.cuda.max_memory_allocated() / 2**20
        where = "GPU"
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        where = "RSS"
    print(json.dumps({"stage": args.stage, "wall": wall, "cpu": cpu, "peak_mb": peak, "where": where}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=4, help="timed steps per stage (default 4)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--batch", type=int, default=1, help="batch size (default 1)")
    ap.add_argument("--size", type=int, default=256, help="frame size (default 256)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    ap.add_argument("--stage", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--work", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.stage:
        return _stage(args)
    import torch

    from cinemagraph3d.models import create_model
    from cinemagraph3d.weights import save_model

    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = _dataset(root, args.size)
        torch.manual_seed(0)
        save_model(create_model("motion_estimator", input_size=256), root / "weights")  # stage 2's frozen net
        rows = []
        for stage in ("motion", "render"):
            cmd = [sys.executable, __file__, "--stage", stage, "--data", str(data), "--work", str(root),
                   "--steps", str(args.steps), "--threads", str(args.threads), "--batch", str(args.batch),
                   "--device", args.device]  # fmt: skip
            env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
            p = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if p.returncode:
                sys.exit(p.stderr[-3000:])
            rows.append(json.loads(p.stdout.strip().splitlines()[-1]))
    print(f"training step cost at {args.size}x{args.size}, batch {args.batch}, {args.threads} thread(s), "
          f"device {args.device}, {args.steps} timed steps per stage\n")  # fmt: skip
    print("| stage | CPU s/step | wall s/step | steps/s (wall) | peak memory (MB) |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['stage']} | {r['cpu']:.2f} | {r['wall']:.2f} | {1 / r['wall']:.3f} | "
              f"{r['peak_mb']:.0f} ({r['where']}) |")  # fmt: skip
    print(f"\nrender / motion CPU-time ratio: {rows[1]['cpu'] / rows[0]['cpu']:.2f}")
    print(f"load average before {load0[0]:.2f}, after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
