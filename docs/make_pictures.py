"""Regenerate the pictures of the README and the docs from the project's own renders.

Run from the repository root: ``.venv/bin/python docs/make_pictures.py`` (about a minute on two
cores). Writes ``docs/pictures/``: the demo loop (README), a mask overlay and a motion field
(docs/controls.md, docs/motion.md), a stereo anaglyph and a depth frame (docs/outputs.md), and the
single- against the multi-band dissolve on the motion study's photo (docs/pipeline.md).
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


def fusion_bands() -> None:
    """``pictures/fusion_bands.png``: the study photo's sea beside the rock at 1:1 (2× nearest),
    frame 0, then frame 15 of 30 (60-step loop, still camera) with the single-band dissolve and with
    the default multi-band blend and turbulence."""
    import numpy as np
    from PIL import Image

    from cinemagraph3d.eval import motion_metrics as mm
    from cinemagraph3d.geometry.trajectory import TrajectorySettings, make_trajectory
    from cinemagraph3d.motion import MotionHints, MotionRegion, integrate_motion, motion_field
    from cinemagraph3d.pipeline import prepare_scene, render_frames
    from cinemagraph3d.types import DepthMap

    W, H, N, K = 384, 216, 60, 30
    photo = mm.study_photo(W, H)
    scene = prepare_scene(photo.image, DepthMap(photo.depth, True, "study"))
    traj = make_trajectory(TrajectorySettings("static", K), scene.camera, scene.z_near, scene.z_subject)
    crops = [photo.image]
    for label in ("dissolve (single band)", "dissolve + turbulence"):
        _, mkw, turb, fkw, stretch, outside, rkw = next(m for m in mm.STUDY_METHODS if m[0] == label)
        ms, rs = mm._study_settings(mkw, fkw, stretch, rkw)
        regions = [MotionRegion(m, MotionHints(st, v), kind=kind, turbulence=turb if kind == "water" else None)
                   for _, kind, m, st, v in photo.regions]  # fmt: skip
        disp = integrate_motion(motion_field(H, W, regions, settings=ms), N, outside=outside)
        crops.append(list(render_frames(scene, traj, disp, N, rs))[15])
    im = np.concatenate(
        [
            (c[:, 130:216, 250:384].clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
            for c in crops
        ],
        1,
    )
    Image.fromarray(im).resize((im.shape[1] * 2, im.shape[0] * 2), Image.NEAREST).save(
        OUT / "fusion_bands.png"
    )


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
    fusion_bands()
    for p in sorted(OUT.iterdir()):
        print(f"{p.relative_to(ROOT)}: {p.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
