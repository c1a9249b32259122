"""CPU cost of each neural-preset network at 640x360 and 1280x720.

Run:  python benchmarks/bench_models.py [--repeats 3] [--threads 1] [--clock cpu|wall] [--layers 3]

Random weights (the cost does not depend on the values). Each measurement is the *minimum* of
``--repeats`` timed calls after one warm-up call, under ``torch.inference_mode``; the two sizes
are timed alternately, so load from other processes affects both alike (the minimum is the
statistic least sensitive to such interference). By default the cost is the process CPU time
with one torch thread (``--clock cpu --threads 1``), which other processes on a shared machine
barely disturb; ``--clock wall --threads 2`` measures latency on an idle machine instead. Prints a Markdown table with the time per call
and the 720p / 360p ratio measured in the same run, and the load average before and after.

What one call is:
  feature_encoder   all LDI layers of one photo (``--layers`` RGBA maps), once per video
  image_decoder     fuse two 37-channel splats + U-Net, once per output frame
  motion_estimator  ``estimate``: resize to 768x768, SPADE U-Net, post-process, once per video
  depth_inpaint     one LDI layer (padded to multiples of 128), once per back layer
  color_inpaint     one LDI layer (padded to multiples of 128), once per back layer
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import torch

from cinemagraph3d.models import create_model, inpaint_color, inpaint_depth

SIZES = {"640x360": (360, 640), "1280x720": (720, 1280)}


def timed_alternately(
    fns: list[Callable[[], object]], repeats: int, clock: Callable[[], float] = time.perf_counter
) -> list[float]:
    """Minimum time (by ``clock``) of each function over ``repeats`` rounds, in turn each round."""
    for fn in fns:
        fn()  # warm-up (allocations, oneDNN primitive creation)
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            t0 = clock()
            fn()
            best[i] = min(best[i], clock() - t0)
    return best


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def cases(h: int, w: int, layers: int) -> dict[str, Callable[[], object]]:
    gen = torch.Generator().manual_seed(0)
    enc = create_model("feature_encoder").eval()
    dec = create_model("image_decoder").eval()
    mot = create_model("motion_estimator").eval()
    dep = create_model("depth_inpaint").eval()
    col = create_model("color_inpaint").eval()
    rgba = torch.rand(layers, 4, h, w, generator=gen)
    x_f = torch.rand(1, 37, h, w, generator=gen)
    x_b = torch.rand(1, 37, h, w, generator=gen)
    image = torch.rand(1, 3, h, w, generator=gen)
    mask = torch.zeros(1, 1, h, w)
    mask[..., h // 2 :, :] = 1.0
    hint = torch.zeros(1, 2, h, w)
    hint[:, 0, h // 2 :, :] = 1.0
    context = torch.zeros(1, 1, h, w)
    context[..., :, : w // 2] = 1.0
    holes = torch.zeros(1, 1, h, w)
    holes[..., :, w // 2 : 3 * w // 4] = 1.0
    depth = 1.0 + torch.rand(1, 1, h, w, generator=gen)
    return {
        "feature_encoder": lambda: enc(rgba),
        "image_decoder": lambda: dec(x_f, x_b, 0.5),
        "motion_estimator": lambda: mot.estimate(image, mask, hint),
        "depth_inpaint": lambda: inpaint_depth(dep, depth, context, holes),
        "color_inpaint": lambda: inpaint_color(col, image, context, holes),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: torch default)")
    parser.add_argument(
        "--clock", choices=["cpu", "wall"], default="cpu", help="process CPU time or wall time"
    )
    parser.add_argument("--layers", type=int, default=3, help="LDI layers fed to the feature encoder")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    load_before = load_average()
    results: dict[str, dict[str, float]] = {}
    with torch.inference_mode():
        per_size = {label: cases(h, w, args.layers) for label, (h, w) in SIZES.items()}
        for name in per_size[next(iter(SIZES))]:
            clock = time.process_time if args.clock == "cpu" else time.perf_counter
            times = timed_alternately([per_size[label][name] for label in SIZES], args.repeats, clock)
            results[name] = dict(zip(SIZES, times))
            print(f"  measured {name}: " + ", ".join(f"{t * 1e3:.0f} ms" for t in times), flush=True)
    labels = list(SIZES)
    print()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {args.clock} time, min of {args.repeats}, "
        f"load average before {load_before}, after {load_average()}"
    )
    print()
    print("| network | " + " | ".join(f"{s} (ms)" for s in labels) + " | ratio |")
    print("|---|" + "---:|" * (len(labels) + 1))
    for name, row in results.items():
        ratio = row[labels[1]] / row[labels[0]]
        print(f"| {name} | " + " | ".join(f"{row[s] * 1e3:.0f}" for s in labels) + f" | {ratio:.2f} |")


if __name__ == "__main__":
    main()
