"""End-to-end test of the browser editor in a real headless Chromium (the Debian package,
driven by Playwright; nothing downloads a browser).

Upload a photo, make a region, paint it, drag an arrow, pick the static camera, press Preview,
wait for the preview video to play, save; then ``cinemagraph3d render`` of the saved project
must move the painted region along the arrow (optical flow) and leave every pixel outside it
unchanged. The page's screenshot is the picture of docs/editor.md (written there only with
``CINEMAGRAPH3D_DOCS_PICTURES=1``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from _optional import require

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
W, H = 160, 96  # the photo
DOCS = Path(__file__).resolve().parents[1] / "docs" / "pictures"


def _chromium() -> str:
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing (apt package 'chromium'): the browser test cannot run")
        pytest.skip(f"{CHROMIUM} not installed")
    return CHROMIUM


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Editor:
    """``cinemagraph3d edit`` in a child process on a free loopback port."""

    def __init__(self, workdir: Path, home: Path) -> None:
        env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", HOME=str(home), PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cinemagraph3d",
                "edit",
                "--workdir",
                str(workdir),
                "--port",
                str(_free_port()),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self.url = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.lines.append(line)
            m = re.search(r"(http://127\.0\.0\.1:\d+/?)", line)
            if m:
                self.url = m.group(1)
                break
        threading.Thread(target=lambda: self.lines.extend(self.proc.stdout), daemon=True).start()
        if self.url is None:
            self.close()
            raise AssertionError("the editor did not print its address:\n" + "".join(self.lines))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def _to_screen(box, x: float, y: float) -> tuple[float, float]:
    return box["x"] + x / W * box["width"], box["y"] + y / H * box["height"]


def _drag(page, box, points) -> None:
    page.mouse.move(*_to_screen(box, *points[0]))
    page.mouse.down()
    for p in points[1:]:
        page.mouse.move(*_to_screen(box, *p), steps=4)
    page.mouse.up()


def _wait_status(page, text: str, timeout: float = 60_000) -> None:
    page.wait_for_function(
        "t => document.querySelector('#c3-status').innerText.includes(t)", arg=text, timeout=timeout
    )


def test_editor_in_a_real_browser(tmp_path):
    sync_api = require("playwright.sync_api")
    require("gradio")
    chromium = _chromium()
    from cinemagraph3d.demo import demo_scene
    from cinemagraph3d.io import iter_frames, write_png

    photo = tmp_path / "lake.png"
    write_png(photo, demo_scene(W, H).image)
    workdir = tmp_path / "work"
    editor = _Editor(workdir, tmp_path)
    try:
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch_persistent_context(
                str(tmp_path / "profile"),  # a fresh user-data dir
                executable_path=chromium,
                args=CHROMIUM_ARGS,
                viewport={"width": 1400, "height": 1000},
            )
            try:
                page = browser.new_page()
                page.goto(editor.url)
                page.wait_for_selector("#c3-canvas canvas", timeout=60_000)
                page.set_input_files("#c3-photo input[type=file]", str(photo))
                page.wait_for_function(
                    "document.querySelector('#c3-canvas canvas').dataset.ready >= 1", timeout=60_000
                )
                page.get_by_label("Refresh the preview after each change").uncheck()  # one preview
                page.click("#c3-new-region")
                _wait_status(page, "paint it")
                radius = page.locator("#c3-radius input[type=number]")
                radius.fill("6")
                radius.press("Enter")
                radius.press("Tab")
                page.wait_for_function(
                    "() => document.querySelector('#c3-radius input[type=range]').value === '6'",
                    timeout=30_000,
                )
                box = page.locator("#c3-canvas canvas").bounding_box()
                for y in (62, 72, 82, 90):  # the right half of the lake, right of the rock
                    _drag(page, box, [(106, y), (130, y), (154, y)])
                _wait_status(page, "(last tool: paint)")
                page.get_by_label("Arrow (drag)").check()
                _drag(page, box, [(112, 76), (130, 76), (148, 76)])
                _wait_status(page, "1 arrow")
                cam = page.locator("#c3-camera input")
                cam.click()
                page.get_by_role("option", name="static", exact=True).click()
                page.wait_for_function(
                    "() => document.querySelector('#c3-camera input').value === 'static'", timeout=30_000
                )
                frames = page.locator("#c3-frames input")
                frames.fill("12")
                frames.press("Enter")
                page.click("#c3-preview-btn")
                page.wait_for_function(
                    "() => { const v = document.querySelector('#c3-preview video');"
                    " return v && !v.paused && v.currentTime > 0.1 && v.readyState >= 2; }",
                    timeout=90_000,
                )
                _wait_status(page, "preview ready")
                ready = page.evaluate("document.querySelector('#c3-canvas canvas').dataset.ready")
                page.locator("#c3-field").get_by_label("arrows").check()  # the dense field's overlay
                page.wait_for_function(
                    "n => document.querySelector('#c3-canvas canvas').dataset.ready > n",
                    arg=int(ready),
                    timeout=60_000,
                )
                shot = (
                    DOCS if os.environ.get("CINEMAGRAPH3D_DOCS_PICTURES") == "1" else tmp_path
                ) / "editor.png"
                page.screenshot(path=str(shot), full_page=True)
                page.click("#c3-save")
                _wait_status(page, "saved")
            finally:
                browser.close()
    finally:
        editor.close()

    project = workdir / "project.json"
    assert project.is_file(), "".join(editor.lines)
    saved = json.loads(project.read_text())
    assert saved["camera"]["path"] == "static" and saved["camera"]["frames"] == 12, saved["camera"]
    assert np.allclose(saved["motion"]["arrows"], [[112, 76, 148, 76]], atol=0.6), saved["motion"]
    out = tmp_path / "frames"
    run = subprocess.run(
        [sys.executable, "-m", "cinemagraph3d", "render", str(project), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    frames = [f.astype(np.float32) for f in iter_frames(out)]
    assert len(frames) == 12
    import cv2

    from cinemagraph3d.motion import load_mask

    mask = load_mask(str(workdir / "masks" / "region-01-water.png"), H, W).numpy()
    # the painted strokes: x in [100, 160], y in [56, 96]
    ys, xs = np.nonzero(mask)
    assert xs.min() >= 98 and ys.min() >= 54 and mask.sum() > 1500, (xs.min(), ys.min(), mask.sum())
    inner = cv2.erode(mask.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    outside = ~cv2.dilate(mask.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    grey = [cv2.cvtColor(f.astype(np.uint8), cv2.COLOR_RGB2GRAY) for f in frames]
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    flow = dis.calc(grey[0], grey[1], None)
    fx, fy = flow[..., 0][inner], flow[..., 1][inner]
    # the arrow points right (+x): the region flows right, hardly up or down
    assert np.median(fx) > 0.5, (np.median(fx), np.median(fy))
    assert abs(np.median(fy)) < 0.35 * np.median(fx)
    for f in frames[1:]:
        diff = np.abs(f - frames[0]).max(axis=2)
        assert diff[outside].max() <= 2.0, diff[outside].max()
        assert diff[inner].mean() > 3.0
    shutil.rmtree(out, ignore_errors=True)
