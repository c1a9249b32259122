"""The neural preset's per-frame network (the image decoder) and a full neural frame under each
execution mode of the decoder, measured in one run and printed as one table.

Usage: python benchmarks/bench_neural.py [--size 1280x720] [--repeats 2] [--frames 2]
                                         [--compile] [--no-frames]

Networks have random weights of the official sizes (the cost does not depend on the values),
saved and loaded through the real weights code (:func:`cinemagraph3d.models.load_models`).

* **decoder**: two 37-channel splat maps (uniform noise in [0, 1]), ``tau = 0.4``.
* **frame**: :func:`cinemagraph3d.render_frames` with the neural preset on the procedural demo
  photo with its exact depth (features from the loaded encoder), circle camera, the demo's lake
  flowing along its 6 arrows (two 35-channel splats per frame, fused and decoded by the
  decoder): the time from one frame to the next, the first frame (set-up, and the first call of
  a runtime) excluded.

Every figure is taken twice in the same run: wall clock with 2 torch threads (latency; the
machine may be shared, so the load average is printed) and process CPU time with 1 thread
(barely disturbed by other processes: the stable ratios). Each is the minimum over
``--repeats`` calls (decoder) or ``--frames`` frames (frame), the modes in turn each round so
that load affects all alike. The difference columns are the largest absolute difference of the
RGB output (values in [0, 1]) from the float32 NCHW decoder's (the previous implementation).

Modes: ``float32`` (previous), ``channels-last`` (:func:`~cinemagraph3d.models.runtime.fast_decoder`,
the pipeline's default), ``bfloat16 autocast`` (NCHW, and channels-last: the previous
``fast_decoder(..., "bfloat16")``), ``bfloat16`` (``fast_decoder(..., "bfloat16")``: the U-Net in
bfloat16), ``openvino`` float32 / bfloat16 (``runtime="openvino"``, when installed; export and
compile time printed separately), ``onnxruntime`` float32 (an ONNX export run by ONNX Runtime,
when installed; measured only: it does not beat channels-last) and, with ``--compile``,
``torch.compile`` of the float32 decoder.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import cinemagraph3d as c3  # noqa: E402
from cinemagraph3d.demo import demo_scene  # noqa: E402
from cinemagraph3d.models import create_model, load_models  # noqa: E402
from cinemagraph3d.models.runtime import fast_decoder  # noqa: E402
from cinemagraph3d.motion import MotionHints, MotionRegion, integrate_motion, motion_field  # noqa: E402
from cinemagraph3d.weights import save_model  # noqa: E402

CLOCKS = {"2 threads, wall": (2, time.perf_counter), "1 thread, CPU": (1, time.process_time)}


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


class _Autocast(torch.nn.Module):
    """The decoder under bfloat16 autocast (convolutions in bfloat16, the rest float32)."""

    def __init__(self, decoder: torch.nn.Module, channels_last: bool) -> None:
        super().__init__()
        self.cl = channels_last
        self.decoder = decoder.to(memory_format=torch.channels_last) if channels_last else decoder

    def forward(self, x_f, x_b, tau):
        if self.cl:
            x_f, x_b = (x.contiguous(memory_format=torch.channels_last) for x in (x_f, x_b))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return self.decoder(x_f, x_b, tau).float().contiguous()


class _OnnxRuntime(torch.nn.Module):
    """Fusion in torch, the U-Net exported to ONNX (one input size) and run by ONNX Runtime."""

    def __init__(self, decoder: torch.nn.Module, x: torch.Tensor, path: Path) -> None:
        super().__init__()
        import onnxruntime as ort

        from cinemagraph3d.models.runtime import _UNet

        self.decoder = decoder
        with torch.no_grad():
            torch.onnx.export(_UNet(decoder), (x,), str(path), dynamo=True, verbose=False)
        self.sessions = {}
        for threads in (1, 2):
            opts = ort.SessionOptions()
            opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
            self.sessions[threads] = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    def forward(self, x_f, x_b, tau):
        s = self.sessions[torch.get_num_threads()]
        x = self.decoder.fuse(x_f, x_b, tau).contiguous()
        return torch.from_numpy(s.run(None, {s.get_inputs()[0].name: x.numpy()})[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--repeats", type=int, default=2, help="timed decoder calls per mode and clock")
    ap.add_argument("--frames", type=int, default=2, help="timed frames per mode and clock")
    ap.add_argument("--compile", action="store_true", help="also torch.compile (slow first call)")
    ap.add_argument("--no-frames", action="store_true", help="time the decoder only")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    w, h = (int(v) for v in args.size.split("x"))
    gen = torch.Generator().manual_seed(0)
    x_f = torch.rand(1, 37, h, w, generator=gen)
    x_b = torch.rand(1, 37, h, w, generator=gen)
    tau = 0.4
    tmp = Path(tempfile.mkdtemp(prefix="bench-neural-"))
    torch.manual_seed(0)
    save_model(create_model("feature_encoder"), tmp)
    save_model(create_model("image_decoder"), tmp)
    models = load_models(tmp)

    def fresh() -> torch.nn.Module:
        return load_models(tmp).decoder

    modes: dict[str, torch.nn.Module] = {"float32 (previous)": models.decoder}
    modes["channels-last (default)"] = fast_decoder(fresh(), "float32")
    modes["bfloat16 autocast"] = _Autocast(fresh(), channels_last=False)
    modes["channels-last + bfloat16 autocast (previous)"] = _Autocast(fresh(), channels_last=True)
    modes["bfloat16 (U-Net in bf16, channels-last)"] = fast_decoder(fresh(), "bfloat16")
    notes = []
    for label, module in (("onnxruntime", "onnxruntime"), ("openvino", "openvino")):
        if importlib.util.find_spec(module) is None:
            notes.append(f"{label}: not installed, not measured")
    if importlib.util.find_spec("openvino") is not None:
        for precision in ("float32", "bfloat16"):
            modes[f"openvino {precision}"] = fast_decoder(fresh(), precision, runtime="openvino")
    if importlib.util.find_spec("onnxruntime") is not None:
        t0 = time.perf_counter()
        dec = fresh()
        modes["onnxruntime float32"] = _OnnxRuntime(dec, dec.fuse(x_f, x_b, tau).detach(), tmp / "unet.onnx")
        notes.append(f"onnxruntime: ONNX export {time.perf_counter() - t0:.1f} s, excluded")
    if args.compile:
        modes["torch.compile float32"] = torch.compile(fresh())
    load0 = load_average()
    dec_ms: dict = {}
    outs: dict = {}
    with torch.inference_mode():
        for clock_name, (threads, clock) in CLOCKS.items():
            torch.set_num_threads(threads)
            for name, m in modes.items():  # warm-up: oneDNN primitives, export + compile
                t0 = time.perf_counter()
                outs.setdefault(name, m(x_f, x_b, tau))
                first = time.perf_counter() - t0
                if name.startswith(("openvino", "torch.compile")):
                    notes.append(
                        f"{name}, {clock_name}: first call {first:.1f} s (export + compile), excluded"
                    )
            for _ in range(args.repeats):
                for name, m in modes.items():
                    t0 = clock()
                    m(x_f, x_b, tau)
                    key = (name, clock_name)
                    dec_ms[key] = min(dec_ms.get(key, float("inf")), 1e3 * (clock() - t0))
    frame_ms: dict = {}
    frames: dict = {}
    if not args.no_frames:
        frame_ms, frames = time_frames(models, modes, w, h, args.frames)
    load1 = load_average()

    ref = outs["float32 (previous)"]
    print(
        f"\nneural decoder and frame at {w}x{h}, torch {torch.__version__}, backend "
        f"{c3.active_backend('cpu')}; decoder: minimum of {args.repeats} calls, frame (lake flowing, "
        f"two splats): minimum of {args.frames} frames; load average {load0} → {load1}\n"
    )
    cols = list(CLOCKS)
    head = "| mode | " + " | ".join(f"decoder ms ({c})" for c in cols) + " | speed-up (2 thr / 1 thr) "
    head += "| max abs diff (decoder) |"
    if frames:
        head += " " + " | ".join(f"frame ms ({c})" for c in cols) + " | speed-up (2 thr / 1 thr) "
        head += "| max abs diff (frames) |"
    print(head)
    print("|---|" + "---:|" * (head.count("|") - 2))
    base = "float32 (previous)"
    for name in modes:
        row = [f"{dec_ms[name, c]:.0f}" for c in cols]
        ups = " / ".join(f"{dec_ms[base, c] / dec_ms[name, c]:.2f}×" for c in cols)
        diff = float((outs[name].float() - ref).abs().max())
        line = f"| {name} | " + " | ".join(row) + f" | {ups} | {diff:.2e} |"
        if frames and name in frames:
            row = [f"{frame_ms[name, c]:.0f}" for c in cols]
            ups = " / ".join(f"{frame_ms[base, c] / frame_ms[name, c]:.2f}×" for c in cols)
            fd = max(float((a - b).abs().max()) for a, b in zip(frames[name], frames[base]))
            line += " " + " | ".join(row) + f" | {ups} | {fd:.2e} |"
        elif frames:
            line += " — | — | — | — |"
        print(line)
    for note in notes:
        print(f"- {note}")
    shutil.rmtree(tmp, ignore_errors=True)  # the saved weights


def time_frames(models, modes, w: int, h: int, n: int):
    """Per-frame time of each mode's full neural frame (see the module docstring)."""
    d = demo_scene(w, h)
    scene = c3.prepare_scene(d.image, c3.DepthMap(d.depth, True, "demo"), models=models)
    traj = c3.make_trajectory(
        c3.TrajectorySettings("circle", n + 1), scene.camera, scene.z_near, scene.z_subject
    )
    hints = MotionHints(d.hints[:, :2].clone(), d.hints[:, 2:].clone())
    motion = integrate_motion(motion_field(h, w, [MotionRegion(d.water, hints)]), 60)
    settings = c3.RenderSettings()
    skip = ("bfloat16 autocast", "onnxruntime float32", "torch.compile float32")  # decoder-only rows
    ms: dict = {}
    frames: dict = {}
    for clock_name, (threads, clock) in CLOCKS.items():
        torch.set_num_threads(threads)
        for name, dec in modes.items():
            if name in skip:
                continue
            m = dataclasses.replace(models, decoder=dec)
            out, times = [], []
            t0 = clock()
            for frame in c3.render_frames(scene, traj, motion, 60, settings=settings, models=m):
                t1 = clock()
                times.append(t1 - t0)
                out.append(frame)
                t0 = clock()
            ms[name, clock_name] = 1e3 * min(times[1:])
            frames.setdefault(name, out)
    return ms, frames


if __name__ == "__main__":
    main()
