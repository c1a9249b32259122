"""Splatting renderer benchmark: pure-PyTorch reference vs the native kernel, one frame = two splats.

Usage: python benchmarks/bench_splat.py [--sizes 640x360,1280x720] [--channels 3,37] [--repeats 5]
                                        [--ref-repeats 2] [--threads N] [--device cpu|cuda]

``--device cuda`` (an extension built with ``CINEMAGRAPH3D_CUDA=1``, a visible GPU): both
implementations run on the GPU (the clouds moved there once), each frame timed between
``torch.cuda.synchronize()`` calls, and the floor uses the GPU's own copy bandwidth
(``tools/gpu_check.sh`` runs it).

The clouds come from a real LDI: the procedural demo photo (cinemagraph3d.demo) → depth →
build_ldi → lift_ldi, i.e. one point per pixel plus the inpainted back-layer points. One frame
splats two clouds (the forward and backward moved clouds of the pipeline) seen from a moved
camera, with the pipeline's footprint radii, into an image of the photo's size. C = 3 uses the
RGB features; C = 37 appends 34 deterministic noise channels (the neural preset's width).

Prints one table, all measured in the same run: ms per frame (minimum over the repeats) and
points per second for both implementations, their ratio, and a memory-bandwidth floor: the bytes
one frame must move at least (read every input point once, write every output pixel once)
divided by the copy bandwidth measured here with a large tensor copy.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cinemagraph3d.demo import demo_scene  # noqa: E402
from cinemagraph3d.features import lift_ldi  # noqa: E402
from cinemagraph3d.geometry.camera import PinholeCamera  # noqa: E402
from cinemagraph3d.ldi import LDISettings, build_ldi  # noqa: E402
from cinemagraph3d.render import active_backend  # noqa: E402
from cinemagraph3d.render._torch_impl import _splat_forward  # noqa: E402
from cinemagraph3d.render.splat import SplatSettings  # noqa: E402
from cinemagraph3d.types import DepthMap  # noqa: E402


def make_frame_inputs(width: int, height: int, channels: int):
    """Forward and backward clouds of one frame, in the moved camera's frame."""
    scene = demo_scene(width, height)
    # Inpainting band widened to 20 % of the long side: back-layer points are then ~25 % of the
    # pixels (the "one point per pixel plus ~30 %"; the demo has two layers, which caps it).
    ldi = build_ldi(scene.image, DepthMap(scene.depth), LDISettings(band=round(0.2 * max(width, height))))
    cam = PinholeCamera.default(width, height)
    cloud = lift_ldi(ldi, cam)
    pts = cloud.points.float()
    feats = cloud.features.float()
    if channels > feats.shape[1]:
        g = torch.Generator().manual_seed(0)
        extra = torch.rand(feats.shape[0], channels - feats.shape[1], generator=g)
        feats = torch.cat([feats, extra], 1)
    feats = feats[:, :channels].contiguous()
    K = cam.matrix()
    # Fluid motion on the water (1.5 px per step to the right), the camera moved a little.
    z = pts[:, 2]
    col, row = cloud.pixels[:, 0].long(), cloud.pixels[:, 1].long()
    moving = scene.water[row, col]
    flow = torch.zeros_like(pts)
    flow[moving, 0] = 1.5 * z[moving] / cam.fx
    cam_shift = torch.tensor([0.04, 0.015, 0.08]) * float(z.min())
    clouds = []
    for sign in (1.0, -1.0):
        p = pts + sign * flow - cam_shift
        radius = ((K[0, 0] * z) / (cam.fx * p[:, 2].clamp(min=1e-6))).clamp(min=1.0)
        clouds.append((p.contiguous(), feats, cloud.alpha.float().contiguous(), radius.contiguous()))
    n_back = int(cloud.inpainted.sum())
    return clouds, K, n_back


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def time_frame(fn, clouds, K, height, width, args, repeats, device="cpu"):
    """Minimum wall time of one frame (two splats) over ``repeats`` runs, after a warm-up."""
    for p, f, o, r in clouds:
        fn(p, f, o, r, K, height, width, *args)
    _sync(device)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for p, f, o, r in clouds:
            fn(p, f, o, r, K, height, width, *args)
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return best


def copy_bandwidth(nbytes: int = 256 << 20, repeats: int = 5, device: str = "cpu") -> float:
    """Bytes per second moved by a large tensor copy (read + write) on ``device``."""
    src = torch.rand(nbytes // 4, device=device)
    dst = torch.empty_like(src)
    dst.copy_(src)
    _sync(device)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        dst.copy_(src)
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * nbytes / best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="640x360,1280x720")
    ap.add_argument("--channels", default="3,37")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--ref-repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    a = ap.parse_args()
    warnings.simplefilter("ignore")
    if a.threads:
        torch.set_num_threads(a.threads)
    from cinemagraph3d.render._native import splat_native

    want = "native-cuda" if a.device == "cuda" else "native-cpu"
    if a.device == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: no CUDA device visible to torch")
    if active_backend(a.device) != want:
        sys.exit(f"native extension not built for {a.device}: pip install --no-build-isolation -e . "
                 "(CINEMAGRAPH3D_CUDA=1 for the CUDA kernel)")  # fmt: skip
    s = SplatSettings()
    args = (s.znear, s.depth_tolerance, s.max_radius, s.eps)
    bw = copy_bandwidth(device=a.device)
    where = torch.cuda.get_device_name() if a.device == "cuda" else f"{torch.get_num_threads()} threads"
    print(
        f"torch {torch.__version__}, {where}, copy bandwidth {bw / 1e9:.1f} GB/s (read + write), settings {s}"
    )
    header = (
        "| size | C | points/splat (+ back-layer) | reference ms/frame | native ms/frame | speed-up "
        "| reference Mpts/s | native Mpts/s | floor ms/frame | native ÷ floor |"
    )
    print(header)
    print("|" + "---|" * 10)
    with torch.no_grad():
        for size in a.sizes.split(","):
            w, h = (int(v) for v in size.split("x"))
            for C in (int(c) for c in a.channels.split(",")):
                clouds, K, n_back = make_frame_inputs(w, h, C)
                clouds = [tuple(t.to(a.device) for t in c) for c in clouds]
                K = K.to(a.device)
                P = clouds[0][0].shape[0]
                t_nat = time_frame(splat_native, clouds, K, h, w, args, a.repeats, a.device)
                t_ref = time_frame(_splat_forward, clouds, K, h, w, args, a.ref_repeats, a.device)
                # Each splat reads points (3), features (C), opacity and radius once and writes
                # C + 2 output planes once.
                nbytes = 2 * (P * (3 + C + 2) * 4 + h * w * (C + 2) * 4)
                floor = nbytes / bw
                print(
                    f"| {w}×{h} | {C} | {P:,} (+{n_back / (h * w):.0%}) | {t_ref * 1e3:.0f} | {t_nat * 1e3:.1f} "
                    f"| {t_ref / t_nat:.0f}× | {2 * P / t_ref / 1e6:.1f} | {2 * P / t_nat / 1e6:.0f} "
                    f"| {floor * 1e3:.1f} | {t_nat / floor:.1f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
