"""Time the dissolve fusion of one frame: single band against the multi-band blend (issue 13),
its coarser bands at full resolution and on the decimated grid (issue 15), natively and through
the torch operations, in one run.

Two 1280×720 C = 3 splats that differ over a moving region (the lower 45 % of the frame, like a
lake) with a few holes, fused mid-loop. Prints one table: median milliseconds over ``--repeats``
calls and the ratio against the single-band blend of the same back-end.

    python benchmarks/bench_fusion.py [--size 1280x720] [--repeats 9] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time


def _splats(H: int, W: int, C: int):
    import torch

    from cinemagraph3d.types import SplatResult

    g = torch.Generator().manual_seed(0)
    base = torch.rand(C, H, W, generator=g)
    depth = 2.0 + torch.rand(1, H, W, generator=g)
    alpha = torch.ones(1, H, W)
    fwd = SplatResult(base, depth, alpha)
    y0 = int(0.55 * H)
    bf, bd, ba = base.clone(), depth.clone(), alpha.clone()
    bf[:, y0:] = torch.rand(C, H - y0, W, generator=g)
    bd[:, y0:] += 0.01 * torch.rand(1, H - y0, W, generator=g)
    ba[:, y0 : y0 + 8, : W // 3] = 0.0
    return fwd, SplatResult(bf, bd, ba)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    import torch

    from cinemagraph3d.render import native_available
    from cinemagraph3d.render.fuse import FusionSettings, fuse_bidirectional

    torch.set_num_threads(args.threads)
    W, H = (int(v) for v in args.size.split("x"))
    fwd, bwd = _splats(H, W, 3)
    variants = {
        "single band": FusionSettings(band_radii=(), band_widths=()),
        "multi-band, full resolution (band_decimation=1)": FusionSettings(band_decimation=1),
        "multi-band, decimated (default)": FusionSettings(),
    }
    backends = [("native", True)] if native_available() else []
    backends.append(("torch", False))
    rows = []
    for bname, native in backends:
        base = None
        for vname, s in variants.items():
            fuse_bidirectional(fwd, bwd, 27.0, 60, 1.5, s, native=native)  # warm-up
            ts = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                fuse_bidirectional(fwd, bwd, 27.0, 60, 1.5, s, native=native)
                ts.append(time.perf_counter() - t0)
            ms = 1000 * statistics.median(ts)
            base = base or ms
            rows.append((bname, vname, ms, ms / base))
    print(
        f"dissolve fusion, {W}×{H}, C = 3, moving lower 45 %, {args.threads} thread(s), median of {args.repeats}"
    )
    print("| back-end | blend | ms | ÷ single band |")
    print("|---|---|---:|---:|")
    for b, v, ms, r in rows:
        print(f"| {b} | {v} | {ms:.1f} | {r:.2f}× |")


if __name__ == "__main__":
    main()
