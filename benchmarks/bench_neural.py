"""The neural preset's per-frame network (the image decoder, 96 % of a neural frame on the CPU)
under different execution modes, measured in one run.

Usage: python benchmarks/bench_neural.py [--size 1280x720] [--repeats 3] [--threads 1]
                                         [--clock cpu|wall] [--compile]

The decoder has random weights of the official size (the cost does not depend on the values);
its input is two 37-channel splat maps (uniform noise in [0, 1]), ``tau = 0.4``. Each mode is
timed ``--repeats`` times after a warm-up, the modes in turn each round (so load from other
processes affects all alike), and the minimum is kept. By default the figure is the process CPU
time with one torch thread (``--clock cpu --threads 1``: barely disturbed by other processes on
a shared machine; with two idle cores the latency is about half); ``--clock wall --threads 2``
measures latency on an idle machine. Every mode's output is compared with the float32 NCHW
decoder's (the previous implementation): the largest absolute difference of the RGB output
(values in [0, 1]) is printed next to the time.

Modes: ``float32`` (previous), ``channels-last`` (:func:`cinemagraph3d.models.runtime.fast_decoder`,
float32), ``bfloat16`` (autocast, NCHW), ``channels-last + bfloat16`` (``fast_decoder(...,
"bfloat16")``) and, with ``--compile``, ``torch.compile`` of the float32 decoder (its compile
time is excluded and printed separately).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cinemagraph3d.models import create_model  # noqa: E402
from cinemagraph3d.models.runtime import fast_decoder  # noqa: E402


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--clock", default="cpu", choices=["cpu", "wall"])
    ap.add_argument("--compile", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    w, h = (int(v) for v in args.size.split("x"))
    gen = torch.Generator().manual_seed(0)
    x_f = torch.rand(1, 37, h, w, generator=gen)
    x_b = torch.rand(1, 37, h, w, generator=gen)
    tau = 0.4
    torch.manual_seed(0)
    base = create_model("image_decoder").eval()
    state = {k: v.clone() for k, v in base.state_dict().items()}

    def fresh():
        m = create_model("image_decoder").eval()
        m.load_state_dict(state)
        return m

    modes = {"float32 (previous)": base}
    modes["channels-last"] = fast_decoder(fresh(), "float32")
    bf = fresh()

    def bf16(a, b, t, m=bf):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return m(a, b, t).float()

    modes["bfloat16"] = bf16
    modes["channels-last + bfloat16"] = fast_decoder(fresh(), "bfloat16")
    compile_s = None
    if args.compile:
        comp = torch.compile(fresh())
        t0 = time.perf_counter()
        with torch.inference_mode():
            comp(x_f, x_b, tau)
        compile_s = time.perf_counter() - t0
        modes["torch.compile (float32)"] = comp
    load0 = load_average()
    outs, best = {}, {}
    with torch.inference_mode():
        for name, m in modes.items():  # warm-up (oneDNN primitive creation) and the outputs
            outs[name] = m(x_f, x_b, tau)
        for _ in range(args.repeats):
            for name, m in modes.items():
                t0 = clock()
                m(x_f, x_b, tau)
                best[name] = min(best.get(name, float("inf")), clock() - t0)
    ref = outs["float32 (previous)"]
    t_ref = best["float32 (previous)"]
    print(
        f"\nimage_decoder at {w}x{h}, torch {torch.__version__}, {args.threads} thread(s), "
        f"{'process CPU time' if args.clock == 'cpu' else 'wall clock'}, minimum of {args.repeats}; "
        f"load average {load0} → {load_average()}"
    )
    print("| mode | ms per frame | speed-up | max abs difference vs float32 |")
    print("|---|---:|---:|---:|")
    for name in modes:
        diff = float((outs[name].float() - ref).abs().max())
        print(f"| {name} | {1000 * best[name]:.0f} | {t_ref / best[name]:.2f}× | {diff:.1e} |")
    if compile_s is not None:
        print(f"(torch.compile: first call {compile_s:.1f} s, excluded)")


if __name__ == "__main__":
    main()
