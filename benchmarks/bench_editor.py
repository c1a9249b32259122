"""The editor's preview loop: how long from a change (a stroke, an arrow, a camera path) to a
playable preview, for a 1280×720 photo, and what reusing the prepared scene saves.

Usage: python benchmarks/bench_editor.py [--side 320] [--frames 24] [--runs 2] [--threads 1] [--browser]

``--browser`` measures instead the whole loop in the real page: ``cinemagraph3d edit`` started,
headless Chromium (``/usr/bin/chromium``, Playwright) uploads the photo, paints a region, then
drags arrows; each row is the time from releasing a drag to the new preview playing.

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


def browser(runs: int) -> None:
    """The release-of-a-drag → new-preview-playing time in the real page (see the module doc)."""
    import re
    import socket
    import subprocess
    import sys
    import threading

    from playwright.sync_api import sync_playwright

    from cinemagraph3d.demo import demo_scene
    from cinemagraph3d.io import write_png

    playing = (
        "src => { const v = document.querySelector('#c3-preview video');"
        " return v && v.currentSrc && v.currentSrc !== src && !v.paused && v.currentTime > 0; }"
    )
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "photo.png"
        write_png(photo, demo_scene(1280, 720).image)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        cmd = [sys.executable, "-m", "cinemagraph3d", "edit", "--workdir", f"{tmp}/work", "--port", str(port)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            url = None
            while url is None:
                line = proc.stdout.readline()
                if not line:
                    raise RuntimeError("the editor did not start")
                m = re.search(r"(http://127\.0\.0\.1:\d+/?)", line)
                url = m and m.group(1)
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
            with sync_playwright() as pw:
                b = pw.chromium.launch(
                    executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
                )
                page = b.new_page(viewport={"width": 1400, "height": 1000})
                page.goto(url)
                page.wait_for_selector("#c3-canvas canvas", timeout=60_000)
                page.set_input_files("#c3-photo input[type=file]", str(photo))
                page.wait_for_function("document.querySelector('#c3-canvas canvas').dataset.ready >= 1")
                page.click("#c3-new-region")
                page.wait_for_function("document.querySelector('#c3-status').innerText.includes('paint it')")
                box = page.locator("#c3-canvas canvas").bounding_box()

                def drag(x0, y0, x1, y1):
                    page.mouse.move(box["x"] + x0 / 1280 * box["width"], box["y"] + y0 / 720 * box["height"])
                    page.mouse.down()
                    page.mouse.move(
                        box["x"] + x1 / 1280 * box["width"], box["y"] + y1 / 720 * box["height"], steps=8
                    )
                    page.mouse.up()

                def src():
                    return page.evaluate("(() => { const v = document.querySelector('#c3-preview video');"
                                         " return v ? v.currentSrc : ''; })()")  # fmt: skip

                drag(100, 600, 1200, 600)  # paint (its live preview builds the scene)
                page.get_by_label("Arrow (drag)").check()
                times = []
                for k in range(runs + 1):
                    time.sleep(1.0)
                    old = src()
                    drag(200 + 100 * k, 640, 400 + 100 * k, 630)
                    t0 = time.perf_counter()
                    page.wait_for_function(playing, arg=old, timeout=180_000)
                    times.append(time.perf_counter() - t0)
                b.close()
        finally:
            proc.terminate()
            proc.wait(15)
    print(f"1280x720 photo in headless Chromium, 2 CPUs, load {os.getloadavg()[0]:.1f}\n")
    print("| drag | release → new preview playing (s) |\n|---|---|")
    for k, t in enumerate(times):
        print(f"| arrow {k + 1}{' (first: may wait for the paint preview)' if k == 0 else ''} | {t:.2f} |")
    print(f"| median of arrows 2–{len(times)} | {statistics.median(times[1:]):.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--side", type=int, default=320)
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--browser", action="store_true", help="time the real page instead (see the module doc)")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads of the preview (the editor's default 1; 0: torch's own, 2 here)",
    )
    args = ap.parse_args()
    if args.browser:
        browser(args.runs)
        return
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
