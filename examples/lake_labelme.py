"""Write a 1280×720 landscape photo and a labelme annotation for it (no download).

Usage::

    python examples/lake_labelme.py OUT_DIR [--size 1280x720]
    cinemagraph3d animate OUT_DIR/photo.jpg --labelme OUT_DIR/photo.json --frames 90 -o lake.mp4

The photo is the procedural demo landscape saved as JPEG (its depth is *not* written: the
animate call estimates depth like it would for any photo). The annotation is what a user would
draw in labelme: ``motion`` polygons covering the lake around the rock standing in it (labelme
polygons have no holes, so the lake is outlined in pieces) and six ``hint`` lines along the water, 50–75 px long (1.0–1.5 px/frame with the
default hint scale 0.02).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from cinemagraph3d.demo import demo_scene


def _polygons(mask: np.ndarray) -> list[list[list[float]]]:
    """Hole-free outline polygons (labelme point lists, pixel-centre coordinates) covering the mask.

    labelme polygons cannot have holes, so, like a user drawing around the rock, the mask is cut
    into vertical strips along a line through the middle of every hole (each piece of the ring
    around a hole is then C-shaped, without a hole) and each connected piece of a strip is outlined.
    """
    m8 = mask.astype(np.uint8)
    contours, hier = cv2.findContours(m8, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    cuts = {0, mask.shape[1]}
    for c, h in zip(contours, hier[0]):
        if h[3] >= 0:  # a hole: cut through its middle
            x, _, w, _ = cv2.boundingRect(c)
            cuts.add(x + w // 2)
    cuts = sorted(cuts)
    out = []
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        strip = np.zeros_like(m8)
        strip[:, lo:hi] = m8[:, lo:hi]
        pieces, _ = cv2.findContours(strip, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        for c in pieces:
            if cv2.contourArea(c) < 16:
                continue
            c = cv2.approxPolyDP(c, 1.0, True)[:, 0, :]
            out.append([[float(x) + 0.5, float(y) + 0.5] for x, y in c])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--size", default="1280x720")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    args.out.mkdir(parents=True, exist_ok=True)
    d = demo_scene(w, h)
    rgb = (d.image.permute(1, 2, 0).numpy() * 255 + 0.5).clip(0, 255).astype(np.uint8)
    cv2.imwrite(
        str(args.out / "photo.jpg"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95]
    )
    water = d.water.numpy().astype(np.uint8)
    cv2.imwrite(str(args.out / "water.png"), water * 255)  # the same region as a mask picture
    ys, xs = np.nonzero(water)
    shapes = [
        {"label": "motion_water", "shape_type": "polygon", "points": p, "flags": {}} for p in _polygons(water)
    ]
    # Six hint lines: a 2×3 grid over the lake, pointing right and slightly towards the viewer.
    y0, y1 = np.percentile(ys, [30, 75])
    x0, x1 = np.percentile(xs, [15, 70])
    scale = w / 1280
    for i, y in enumerate(np.linspace(y0, y1, 2)):
        for x in np.linspace(x0, x1, 3):
            length = (50 + 25 * i) * scale
            p0 = [float(x), float(y)]
            p1 = [float(x + length), float(y + 0.15 * length)]
            if water[int(p0[1]), int(p0[0])] and water[min(h - 1, int(p1[1])), min(w - 1, int(p1[0]))]:
                shapes.append({"label": "hint", "shape_type": "line", "points": [p0, p1], "flags": {}})
    doc = {
        "version": "5.4.1",
        "flags": {},
        "shapes": shapes,
        "imagePath": "photo.jpg",
        "imageData": None,
        "imageHeight": h,
        "imageWidth": w,
    }
    (args.out / "photo.json").write_text(json.dumps(doc, indent=1))
    hints = sum(s["shape_type"] == "line" for s in shapes)
    print(
        f"wrote {args.out / 'photo.jpg'} ({w}x{h}), {args.out / 'water.png'} and {args.out / 'photo.json'} "
        f"({len(shapes) - hints} polygons, {hints} hints)"
    )


if __name__ == "__main__":
    main()
