"""Measure a rendered cinemagraph against its labelme annotation.

Usage::

    python examples/verify_loop.py FRAMES_DIR ANNOTATION.json [--margin 2]

``FRAMES_DIR`` holds ``0000.png, 0001.png, …`` (``animate … -o FRAMES_DIR`` with no suffix),
rendered with ``--camera static`` for the stillness check. Prints:

* **still outside the mask** — pixels farther than ``--margin`` px from the motion polygons whose
  value changes in any frame (8-bit, exact comparison), and the largest change;
* **flow along the arrows** — DIS optical flow between consecutive frames inside the mask
  (eroded by 4 px), compared with the direction of the Eulerian field built from the same
  annotation: the mean cosine over pixels where both move by ≥ 0.2 px/frame;
* **loop seam** — :func:`cinemagraph3d.eval.loop_seam_score` (change across the wrap relative to
  the typical frame-to-frame change; 1 is ideal) and the mean change per step in grey levels.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import torch

from cinemagraph3d.eval import frame_changes, loop_seam_score, optical_flow
from cinemagraph3d.io import read_image
from cinemagraph3d.motion import MotionRegion, load_labelme, motion_field


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("frames", type=Path)
    ap.add_argument("annotation", type=Path)
    ap.add_argument("--margin", type=int, default=2)
    args = ap.parse_args()
    paths = sorted(args.frames.glob("[0-9][0-9][0-9][0-9].png"))
    if len(paths) < 3:
        raise SystemExit(f"{args.frames}: expected at least 3 numbered PNG frames, found {len(paths)}")
    video = torch.stack([read_image(p) for p in paths])  # (K, 3, H, W)
    K, _, H, W = video.shape
    mask, hints = load_labelme(args.annotation, H, W)
    field = motion_field(H, W, [MotionRegion(mask, hints)])

    m8 = mask.numpy().astype(np.uint8)
    near = cv2.dilate(m8, np.ones((2 * args.margin + 1,) * 2, np.uint8)).astype(bool)
    u8 = (video * 255 + 0.5).to(torch.uint8).numpy()
    change = np.abs(u8.astype(np.int16) - u8[:1]).max(axis=(0, 1))  # (H, W) over all frames
    outside = ~near
    moved = int((change[outside] > 0).sum())
    print(f"frames {K}, {W}x{H}, mask {mask.float().mean() * 100:.1f}% of the photo, {len(hints)} arrows")
    print(
        f"still outside the mask (+{args.margin} px): {moved} of {int(outside.sum())} pixels change, "
        f"largest change {int(change[outside].max())} grey levels"
    )

    inner = torch.from_numpy(cv2.erode(m8, np.ones((9, 9), np.uint8)).astype(bool))
    want = field.flow  # (2, H, W) px/step
    cos_sum, count = 0.0, 0
    for k in range(K - 1):
        flow = optical_flow(video[k], video[k + 1])
        ok = inner & (flow.norm(dim=0) >= 0.2) & (want.norm(dim=0) >= 0.2)
        cos = (flow * want).sum(0) / (flow.norm(dim=0) * want.norm(dim=0)).clamp(min=1e-9)
        cos_sum += float(cos[ok].sum())
        count += int(ok.sum())
    print(f"flow along the arrows: mean cosine {cos_sum / max(count, 1):.3f} over {count} pixel-steps")

    d = frame_changes(video)
    seam = loop_seam_score(video)
    print(
        f"loop seam score {seam:.2f} (1 is ideal); change per step: median {255 * float(d[:-1].median()):.2f}, "
        f"across the wrap {255 * float(d[-1]):.2f} grey levels"
    )


if __name__ == "__main__":
    main()
