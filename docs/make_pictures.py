"""Regenerate the pictures of the README and the docs from the project's own renders.

Run from the repository root: ``.venv/bin/python docs/make_pictures.py`` (about a minute on two
cores). Writes ``docs/pictures/``: the demo loop (README), a mask overlay and a motion field
(docs/controls.md, docs/motion.md), a stereo anaglyph and a depth frame (docs/outputs.md).
Everything comes from the procedural demo scene, so nothing is downloaded.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "pictures"


def c3(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "cinemagraph3d", *args], check=True, cwd=ROOT)


def main() -> None:
    import cv2
    import numpy as np

    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        subprocess.run(
            [sys.executable, str(ROOT / "examples" / "lake_labelme.py"), str(tmp / "lake")], check=True
        )
        photo = str(tmp / "lake" / "photo.jpg")
        common = [
            "--max-side",
            "480",
            "--mask",
            str(tmp / "lake" / "water.png"),
            "--prompt",
            "flow left",
            "--magnitude",
            "slow",
        ]
        # the README's loop: parallax (swing) + the lake flowing, 36 frames at 360 px
        c3("animate", photo, *common, "--max-side", "360", "--camera", "swing", "--frames", "36",
           "--loop-steps", "36", "-o", str(OUT / "demo.gif"), "--force")  # fmt: skip
        # stereo anaglyph still, with the mask overlay and the motion field of the same inputs
        c3("animate", photo, *common, "--frames", "1", "--stereo", "anaglyph", "--baseline", "0.05",
           "-o", str(OUT / "stereo_anaglyph.png"), "--force",
           "--mask-overlay", str(OUT / "mask_overlay.png"), "--motion-png", str(OUT / "motion_field.png"))  # fmt: skip
        c3(
            "animate",
            photo,
            *common,
            "--frames",
            "2",
            "-o",
            str(tmp / "v.mp4"),
            "--depth-out",
            str(tmp / "depth"),
        )
        d = cv2.imread(str(tmp / "depth" / "0000.png"), cv2.IMREAD_UNCHANGED)
        cv2.imwrite(str(OUT / "depth_frame.png"), (d // 257).astype(np.uint8))
    for p in sorted(OUT.iterdir()):
        print(f"{p.relative_to(ROOT)}: {p.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
