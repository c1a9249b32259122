"""The web page of ``export-web`` at 1280×720: folder size, frame rate in headless Chromium with
software GL (SwiftShader), and closeness to the offline render.

Usage: python benchmarks/bench_web.py [--size 1280x720] [--seconds 3]

The scene is the demo lake (``cinemagraph3d demo``'s procedural landscape with its water mask and
arrows) at the given size, prepared once; it is written with WebP textures (the default) and
with lossless PNG textures. Frame rates: ``rAF`` is what a viewer sees (frames drawn by the
page's own requestAnimationFrame loop while playing, capped by the display's 60 Hz);
``throughput`` draws frames back to back and waits for each (``gl.readPixels``), uncapped;
``auto resolution`` is the page's default, which lowers its drawing scale (down to 0.5) while
it draws fewer than 30 frames a second. ``GPU CPU ms`` is the CPU time Chromium's GPU process
(where SwiftShader rasterises) spends per throughput frame, read from ``/proc``: the work a
frame costs, much steadier than frame rates on a shared machine (2 cores: about 2 × 1000 / fps
at best). Pages differ in texture format and the number of Euler substeps of the shader's
fluid trace (the same prepared scene); ablation rows: the full ``mesh_step`` grid
(``mesh_tolerance = 0``, no simplification), the motion read with bilinear filtering, the
previous page (commit 9bf8a88: full grid, separate colour and coverage textures, the fusion
method a uniform; its viewer taken from git) and the ceiling, the same meshes with a fragment
shader that writes a constant, what the GL costs without our shaders (its PSNR is
meaningless).
PSNR is against the offline renderer (``render_frames``) from the input camera at scene times
0, N/4 and N/2, over the whole frame and inside the water only, and frame 0 of the project's
camera path (safe-zoomed). One run; timings on a shared CPU are noisy.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import http.server
import io
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--ignore-gpu-blocklist",
]


def _psnr(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    e = ((a.double() - b.double()) ** 2).mean(0)
    mse = float(e[mask].mean() if mask is not None else e.mean())
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)


def _png(data: bytes) -> torch.Tensor:
    from PIL import Image

    a = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(a).permute(2, 0, 1)


def _folder_mb(d: Path) -> float:
    return sum(p.stat().st_size for p in d.rglob("*") if p.is_file()) / 1e6


def _gpu_pids() -> list[int]:
    """Chromium's GPU processes (Linux ``/proc``)."""
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes()
            except OSError:
                continue
            if b"--type=gpu-process" in cmd:
                pids.append(int(d.name))
    return pids


def _cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds of ``pids``."""
    t = 0
    for pid in pids:
        try:
            f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        t += int(f[11]) + int(f[12])
    return t / os.sysconf("SC_CLK_TCK")


PREVIOUS = "9bf8a88"  # the page before the mesh simplification and the packed textures


def _previous_page(folder: Path, web) -> bool:
    """Turn ``folder`` into the previous page: its viewer from git, the cell flags it reads
    added to scene.js. False (the row is left out) where git or the commit is missing."""
    from cinemagraph3d.web.export import _raw

    root = Path(__file__).resolve().parents[1]
    try:
        js = subprocess.run(
            ["git", "show", f"{PREVIOUS}:cinemagraph3d/web/viewer.js"],
            cwd=root, capture_output=True, check=True, text=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return False
    (folder / "viewer.js").write_text(js)
    text = (folder / "scene.js").read_text()
    payload = json.loads(text[text.index("{") : text.rindex("}") + 1])
    for blob, ly in zip(payload["layers"], web.layers):
        blob["cells"] = _raw(ly.cells, "u1")
    (folder / "scene.js").write_text(
        "window.CG3D_SCENE = " + json.dumps(payload, separators=(",", ":")) + ";\n"
    )
    return True


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args()
    W, H = (int(v) for v in args.size.split("x"))
    import imageio.v3 as iio
    from playwright.sync_api import sync_playwright

    from cinemagraph3d.demo import demo_scene
    from cinemagraph3d.geometry.trajectory import Trajectory
    from cinemagraph3d.motion import DEFAULT_HINT_SCALE
    from cinemagraph3d.pipeline import render_frames
    from cinemagraph3d.web import WebSettings, prepared_from_project, project_from_photo, web_scene, write_web

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sc = demo_scene(W, H)
        iio.imwrite(tmp / "photo.png", (sc.image.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8))
        np.save(tmp / "depth.npy", sc.depth[0].numpy())
        iio.imwrite(tmp / "water.png", (sc.water.numpy() * 255).astype(np.uint8))
        k = 1.0 / DEFAULT_HINT_SCALE
        arrows = [[x, y, min(x + k * dx, W), min(y + k * dy, H)] for x, y, dx, dy in sc.hints.tolist()]
        project = project_from_photo(
            tmp / "photo.png", depth=str(tmp / "depth.npy"), masks=[str(tmp / "water.png")], arrows=arrows
        )
        t0 = time.perf_counter()
        inputs = prepared_from_project(project)
        t_prep = time.perf_counter() - t0
        t0 = time.perf_counter()
        web = web_scene(inputs, WebSettings())
        t_scene = time.perf_counter() - t0
        N = inputs.loop_steps
        full_grid = web_scene(inputs, WebSettings(mesh_tolerance=0.0))
        configs = {  # name: (texture format, substeps, scene, variant)
            "webp, 1 substep (default)": ("webp", 1, web, None),
            "png, 1 substep": ("png", 1, web, None),
            "webp, 2 substeps": ("webp", 2, web, None),
            "webp, 4 substeps": ("webp", 4, web, None),
            "full 8 px grid (mesh_tolerance 0)": ("webp", 1, full_grid, None),
            "motion read bilinear": ("webp", 1, web, "bilinear"),
            f"previous page ({PREVIOUS})": ("webp", 1, full_grid, "previous"),
            "ceiling: same meshes, constant colour": ("webp", 1, web, "ceiling"),
        }
        folders = {}
        for name, (fmt, sub, scene, variant) in configs.items():
            scene = dataclasses.replace(scene, meta={**scene.meta, "substeps": sub})
            folder = write_web(scene, tmp / f"page{len(folders)}", settings=WebSettings(texture_format=fmt))
            js = folder / "viewer.js"
            text = js.read_text()
            if variant == "ceiling":  # the fragment shader writes a constant: the GL's own cost
                start = text.index("void main() {\n  vec2 p = vPhoto.xy / vPhoto.z;")
                end = text.index("}`;", start)
                text = (
                    text[:start] + "void main() { fragColor = vec4(0.5, 0.4, 0.3, 1.0); }\n" + text[end + 1 :]
                )
            elif variant == "bilinear":
                old = "texelFetch(uMotion, ivec2(clamp(p * uSize, vec2(0.0), uSize - 1.0)), 0)"
                assert old in text
                text = text.replace(old, "texture(uMotion, p)")
            js.write_text(text)
            if variant == "previous" and not _previous_page(folder, scene):
                continue
            folders[name] = folder
        p = inputs.prepared
        K0 = p.scene.camera.matrix(dtype=torch.float64)
        times = [0.0, N / 4, N / 2]
        still = Trajectory(
            torch.eye(4, dtype=torch.float64)[None].repeat(3, 1, 1), K0[None].repeat(3, 1, 1), W, H
        )
        offline = list(render_frames(p.scene, still, p.motion, N, p.settings, times=times))
        from cinemagraph3d.api import project_frames

        offline_path0 = next(iter(project_frames(p)))
        water = sc.water
        rows = []
        load0 = os.getloadavg()[0]
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            version = browser.version
            for name, folder in folders.items():

                class Quiet(http.server.SimpleHTTPRequestHandler):
                    def log_message(self, *a):
                        pass

                srv = http.server.ThreadingHTTPServer(
                    ("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder))
                )
                threading.Thread(target=srv.serve_forever, daemon=True).start()
                page = browser.new_page(viewport={"width": W, "height": H})
                errors = []
                page.on("console", lambda m, e=errors: e.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda x, e=errors: e.append(str(x)))
                t0 = time.perf_counter()
                page.goto(f"http://127.0.0.1:{srv.server_port}/index.html?ui=0&paused=1&scale=1")
                page.wait_for_function("document.body.dataset.ready === '1'", timeout=120000)
                t_load = time.perf_counter() - t0
                renderer = page.evaluate(
                    "(() => { const gl = document.querySelector('canvas').getContext('webgl2');"
                    " const e = gl.getExtension('WEBGL_debug_renderer_info');"
                    " return e ? gl.getParameter(e.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER); })()"
                )
                psnrs = []
                for t, off in zip(times, offline):
                    page.evaluate(f"cg3d.setMode('input'); cg3d.setTime({t})")
                    page.wait_for_timeout(100)
                    shot = _png(page.locator("canvas").screenshot())
                    psnrs.append((_psnr(shot, off), _psnr(shot, off, water)))
                page.evaluate("cg3d.setMode('auto'); cg3d.setTime(0)")
                page.wait_for_timeout(100)
                p_path = _psnr(_png(page.locator("canvas").screenshot()), offline_path0)
                page.evaluate("cg3d.setOrbit(0.5, -0.3, 0.2); cg3d.benchmark(5)")  # warm up
                pids = _gpu_pids()
                c0 = _cpu_s(pids)
                fps = {"throughput": page.evaluate("cg3d.benchmark(40)")}
                fps["cpu"] = (_cpu_s(pids) - c0) / 40 * 1000 if pids else math.nan
                page.evaluate("cg3d.setMode('auto'); cg3d.play()")
                page.wait_for_timeout(int(args.seconds * 1000))
                fps["rAF"] = page.evaluate("cg3d.fps")
                # automatic resolution: the page lowers its drawing scale while under 30 fps
                page.evaluate("cg3d.setScale('auto')")
                page.wait_for_timeout(int(2 * args.seconds * 1000))
                fps["auto"] = page.evaluate("[cg3d.fps, cg3d.state.scale]")
                rows.append((name, _folder_mb(folder), t_load, psnrs, p_path, fps, errors))
                page.close()
                srv.shutdown()
            browser.close()
    print(
        f"web page of the demo lake at {W}x{H}, {len(web.layers)} layers, N = {N}; Chromium {version}, {renderer}"
    )
    tris = sum(len(ly.still) + len(ly.fluid) for ly in web.layers)
    tris_full = sum(len(ly.still) + len(ly.fluid) for ly in full_grid.layers)
    print(
        f"prepare_project {t_prep:.1f} s, web_scene {t_scene:.1f} s; {tris} triangles ({tris_full} in the full grid)"
    )
    print(
        f"load average {load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end ({os.cpu_count()} CPUs)\n"
    )
    print(
        "| page | folder MB | load s | PSNR dB t=0 (water) | t=N/4 (water) | t=N/2 (water) | path frame 0 "
        "| GPU CPU ms | fps full res: throughput / rAF | fps, auto resolution (scale) | errors |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, mb, t_load, psnrs, p_path, fps, errors in rows:
        cells = " | ".join(f"{a:.1f} ({b:.1f})" for a, b in psnrs)
        print(
            f"| {name} | {mb:.2f} | {t_load:.1f} | {cells} | {p_path:.1f} | {fps['cpu']:.1f} | {fps['throughput']:.1f} / "
            f"{fps['rAF']:.1f} | {fps['auto'][0]:.1f} ({fps['auto'][1]:.2f}) | {len(errors)} |"
        )


if __name__ == "__main__":
    main()
