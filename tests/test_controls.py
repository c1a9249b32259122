"""Controls against truth: click-to-mask, motion prompts, several regions, freeze, motion transfer
from a video, automatic sky, project reproduction, bad inputs and the example notebook.

Measured on the synthetic inputs below (2-core CPU):
- click-to-mask (GrabCut): IoU 1.00 on the pond, the two pools, the river with an unclick and the
  demo lake (the ``>= 0.9`` asserts leave room for OpenCV versions);
- motion transfer (Farnebäck): mean end-point error 0.046 px/frame on a shear flow and 0.051 on a
  rotation (speeds up to 1.8 px/frame, 96x72 clips of 8 frames, 8-px border excluded);
- sky detector: IoU >= 0.94 on the demo landscapes, 0.98 / 0.97 on the synthetic blue / overcast
  skies, nothing found on the five non-sky images.
"""

import json
import math
import os
import shutil

import cv2
import numpy as np
import pytest
import torch
from _optional import require

from cinemagraph3d.cli import main
from cinemagraph3d.controls import (
    MAGNITUDE_NAMES,
    SegmentSettings,
    VideoMotionSettings,
    detect_sky,
    draw_mask_overlay,
    estimate_video_motion,
    load_video_frames,
    parse_magnitude,
    parse_prompt,
    prompt_field,
    segment_clicks,
    transfer_motion,
)
from cinemagraph3d.demo import demo_scene
from cinemagraph3d.errors import InputError, WeightsError
from cinemagraph3d.motion import MotionHints, MotionRegion, MotionSettings, integrate_motion, motion_field

# --------------------------------------------------------------------------- synthetic images


def noise(h, w, cell, seed):
    g = np.random.default_rng(seed).random((h // cell + 2, w // cell + 2)).astype(np.float32)
    return cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC)


def as_tensor(a):
    return torch.from_numpy(np.clip(a, 0, 1).astype(np.float32).transpose(2, 0, 1).copy())


def grass(h, w, seed=1):
    return np.stack(
        [
            0.25 + 0.2 * noise(h, w, 3, seed),
            0.45 + 0.25 * noise(h, w, 3, seed + 1),
            0.12 + 0.1 * noise(h, w, 3, seed + 2),
        ],
        -1,
    )


def water(h, w, seed=4):
    _, xx = np.mgrid[0:h, 0:w]
    rip = 0.5 + 0.5 * np.sin(xx * 0.5 + 3 * noise(h, w, 8, seed))
    return np.stack([0.1 + 0.08 * rip, 0.3 + 0.15 * rip, 0.55 + 0.25 * noise(h, w, 4, seed + 1)], -1)


def grid(h, w):
    yy, xx = np.mgrid[0:h, 0:w]
    return yy + 0.5, xx + 0.5


def pond(h=120, w=160):
    img = grass(h, w)
    yy, xx = grid(h, w)
    m = ((xx - 85) / 50) ** 2 + ((yy - 62) / 32) ** 2 <= 1
    img[m] = water(h, w)[m]
    return as_tensor(img), torch.from_numpy(m)


def two_pools(h=120, w=160):
    img = grass(h, w, 7)
    yy, xx = grid(h, w)
    a = (xx - 40) ** 2 + (yy - 40) ** 2 <= 22**2
    b = (xx - 115) ** 2 + (yy - 80) ** 2 <= 26**2
    img[a | b] = water(h, w, 9)[a | b]
    return as_tensor(img), torch.from_numpy(a), torch.from_numpy(b)


def river_and_sea(h=120, w=160):
    """A river flowing into a slightly greener sea: one click takes both, an unclick keeps the river."""
    img = grass(h, w, 11)
    yy, xx = grid(h, w)
    river = (np.abs(yy - 60 - 8 * np.sin(xx / 12)) < 14) & (xx < 90)
    sea = xx >= 90
    wt = water(h, w, 13)
    img[river] = wt[river]
    sw = wt.copy()
    sw[..., 1] += 0.12
    sw[..., 2] -= 0.08
    img[sea] = sw[sea]
    return as_tensor(img), torch.from_numpy(river)


def iou(a, b):
    a, b = torch.as_tensor(a).bool(), torch.as_tensor(b).bool()
    return float((a & b).sum()) / float((a | b).sum())


# --------------------------------------------------------------------------- click-to-mask


def test_click_to_mask_known_regions():
    img, truth = pond()
    assert iou(segment_clicks(img, [[85.5, 62.5]]), truth) >= 0.9
    img, a, b = two_pools()
    assert iou(segment_clicks(img, [[40.5, 40.5], [115.5, 80.5]]), a | b) >= 0.9  # one click per pool
    assert iou(segment_clicks(img, [[40.5, 40.5]]), a) >= 0.9  # only the clicked pool
    img, river = river_and_sea()
    both = segment_clicks(img, [[40.5, 60.5]])
    assert iou(both, river) < 0.5  # the sea looks like the river ...
    only = segment_clicks(img, [[40.5, 60.5]], unclicks=[[130.5, 60.5]])
    assert iou(only, river) >= 0.9  # ... until an unclick says otherwise
    assert not only[60, 130]


def test_click_to_mask_demo_lake_and_reduced_resolution():
    d = demo_scene(160, 96)
    assert iou(segment_clicks(d.image, [[100.5, 75.5]]), d.water) >= 0.9
    small = segment_clicks(d.image, [[100.5, 75.5]], settings=SegmentSettings(max_side=64))
    assert small.shape == (96, 160) and iou(small, d.water) >= 0.9
    # deterministic (GrabCut's k-means is seeded)
    assert torch.equal(segment_clicks(d.image, [[30.5, 80.5]]), segment_clicks(d.image, [[30.5, 80.5]]))


def test_click_to_mask_bad_inputs():
    img, _ = pond(40, 48)
    for clicks, unclicks in (([[48.5, 3.0]], None), ([[-1.0, 3.0]], None), ([[3.0, 3.0]], [[3.0, 41.0]])):
        with pytest.raises(InputError, match="inside the 48x40 image"):
            segment_clicks(img, clicks, unclicks)
    with pytest.raises(InputError, match="at least one positive click"):
        segment_clicks(img, [])
    with pytest.raises(InputError, match="finite"):
        segment_clicks(img, [[float("nan"), 3.0]])
    with pytest.raises(InputError, match="image"):
        segment_clicks(torch.zeros(1, 40, 48), [[3.0, 3.0]])
    with pytest.raises(InputError, match="segmenter"):
        SegmentSettings(method="magic")
    with pytest.raises(InputError, match="settings.sam_checkpoint"):
        segment_clicks(img, [[3.0, 3.0]], settings=SegmentSettings(method="sam"))


def test_mask_overlay_is_a_pure_picture():
    img, truth = pond(40, 48)
    out = draw_mask_overlay(img, [truth], clicks=[[20.5, 20.5]], unclicks=[[2.5, 2.5]], freeze=~truth)
    assert out.shape == (40, 48, 3) and out.dtype == np.uint8
    base = (img.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    assert not np.array_equal(out, base)
    with pytest.raises(InputError):
        draw_mask_overlay(img, [torch.zeros(3, 3, dtype=torch.bool)])


def _tiny_sam():
    sa = require("segment_anything")  # optional back-end (see tests/_optional.py)
    from functools import partial

    m = sa.modeling
    torch.manual_seed(0)
    return m.Sam(
        image_encoder=m.ImageEncoderViT(
            depth=2, embed_dim=16, img_size=1024, mlp_ratio=2, num_heads=2, patch_size=16, qkv_bias=True,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), use_rel_pos=True, global_attn_indexes=[1],
            window_size=14, out_chans=256,
        ),
        prompt_encoder=m.PromptEncoder(
            embed_dim=256, image_embedding_size=(64, 64), input_image_size=(1024, 1024), mask_in_chans=16
        ),
        mask_decoder=m.MaskDecoder(
            num_multimask_outputs=3,
            transformer=m.TwoWayTransformer(depth=2, embedding_dim=256, mlp_dim=2048, num_heads=8),
            transformer_dim=256, iou_head_depth=3, iou_head_hidden_dim=256,
        ),
        pixel_mean=[123.675, 116.28, 103.53], pixel_std=[58.395, 57.12, 57.375],
    ).eval()  # fmt: skip


def test_sam_backend_with_a_tiny_model(tmp_path):
    sam = _tiny_sam()
    from segment_anything import SamPredictor

    ckpt = tmp_path / "tiny_sam.pth"
    torch.save(sam.state_dict(), ckpt)
    d = demo_scene(64, 40)
    click = [[40.5, 30.5]]
    # the architecture is read back from the tensor shapes (depth, width, heads, MLP, global blocks)
    mask = segment_clicks(d.image, click, settings=SegmentSettings(method="sam", sam_checkpoint=str(ckpt)))
    pred = SamPredictor(sam)
    pred.set_image((d.image.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8))
    masks, scores, _ = pred.predict(
        point_coords=np.array(click), point_labels=np.array([1]), multimask_output=True
    )
    assert torch.equal(mask, torch.from_numpy(masks[int(np.argmax(scores))]))
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError):
        segment_clicks(
            d.image, click, settings=SegmentSettings(method="sam", sam_checkpoint=str(tmp_path / "junk.pth"))
        )
    with pytest.raises(InputError, match="no file"):
        segment_clicks(
            d.image, click, settings=SegmentSettings(method="sam", sam_checkpoint=str(tmp_path / "no.pth"))
        )


# --------------------------------------------------------------------------- prompts


def box_mask(h=48, w=64, y0=8, y1=40, x0=8, x1=56):
    m = torch.zeros(h, w, dtype=torch.bool)
    m[y0:y1, x0:x1] = True
    return m


@pytest.mark.parametrize(
    "text, direction",
    [
        ("flow left", (-1, 0)),
        ("flow right", (1, 0)),
        ("flow up", (0, -1)),
        ("flow down", (0, 1)),
        ("flow up-left", (-math.sqrt(0.5), -math.sqrt(0.5))),
        ("Flow  Down Right", (math.sqrt(0.5), math.sqrt(0.5))),
        ("fall", (0, 1)),
        ("rise", (0, -1)),
        ("drift", (1, 0)),
        ("drift left", (-1, 0)),
    ],
)
def test_uniform_prompts_direction_and_magnitude(text, direction):
    m = box_mask()
    f = prompt_field(text + " 1.25", m)
    inside = f[:, m]
    expected = torch.tensor(direction, dtype=torch.float32)[:, None] * 1.25
    torch.testing.assert_close(inside, expected.expand_as(inside))
    assert bool((f[:, ~m] == 0).all())


def test_named_magnitudes_and_defaults():
    m = box_mask()
    d = 64.0
    for name, frac in MAGNITUDE_NAMES.items():
        speed = torch.linalg.vector_norm(prompt_field(f"flow left {name}", m)[:, 20, 30])
        assert float(speed) == pytest.approx(frac * d)
    assert MAGNITUDE_NAMES == {"slow": 1 / 1600, "medium": 1 / 800, "fast": 1 / 400}
    assert parse_prompt("fall").magnitude == "fast"
    assert parse_prompt("rise").magnitude == "slow"
    assert parse_prompt("drift").magnitude == "slow"
    assert parse_prompt("swirl").magnitude == "medium"
    assert parse_prompt("flow left", "2.5px").magnitude == 2.5  # --magnitude overrides
    assert parse_prompt("flow left fast", 0.5).magnitude == 0.5
    p = parse_prompt("swirl clockwise 1.5")
    assert parse_prompt(p.text) == p
    assert parse_magnitude("1.5px/frame") == 1.5


def _geometry(m):
    yy, xx = torch.meshgrid(torch.arange(m.shape[0]) + 0.5, torch.arange(m.shape[1]) + 0.5, indexing="ij")
    cx, cy = float(xx[m].mean()), float(yy[m].mean())
    return xx - cx, yy - cy


def test_swirl_is_a_rotation_about_the_centroid():
    m = box_mask()
    rx, ry = _geometry(m)
    r = torch.hypot(rx, ry)
    for text, sign in (("swirl", 1.0), ("swirl ccw", 1.0), ("swirl cw", -1.0)):
        f = prompt_field(text + " 2", m)
        # tangential: M . (x - c) = 0, speed 2 r / R, largest speed = magnitude
        assert float((f[0] * rx + f[1] * ry)[m].abs().max()) < 1e-5
        speed = torch.hypot(f[0], f[1])
        torch.testing.assert_close(speed[m], 2.0 * r[m] / r[m].max())
        assert float(speed[m].max()) == pytest.approx(2.0)
        # counter-clockwise on screen (y down): right of the centre moves up
        j = int(torch.argmax(torch.where(m, rx, torch.tensor(-1e9)).flatten()) % 64)
        assert sign * float(f[1, 24, j]) < 0


def test_ripple_is_radial_and_oscillates():
    m = box_mask(96, 96, 8, 88, 8, 88)
    rx, ry = _geometry(m)
    for text, sign in (("ripple", 1.0), ("ripple in", -1.0)):
        f = prompt_field(text + " 1", m)
        cross = (f[0] * ry - f[1] * rx)[m]
        assert float(cross.abs().max()) < 1e-4  # radial
        radial = sign * (f[0] * rx + f[1] * ry)[m]
        assert bool((radial >= -1e-6).all())  # outward (inward)
        speed = torch.hypot(f[0], f[1])[m]
        assert float(speed.max()) == pytest.approx(1.0, abs=0.02)
        # oscillates along a ray: several local maxima of the speed between centre and edge
        ray = torch.hypot(f[0], f[1])[48, 48:88]
        peaks = ((ray[1:-1] > ray[:-2]) & (ray[1:-1] > ray[2:])).sum()
        assert int(peaks) >= 2


def test_sway_is_lateral_rooted_at_the_bottom():
    m = box_mask()
    f = prompt_field("sway 1.5", m)
    assert bool((f[1] == 0).all())
    assert float(f[0][m].abs().max()) == pytest.approx(1.5)
    assert float(f[0, 8, 8]) == pytest.approx(1.5)  # top-left: full amplitude
    assert bool((f[0, 39, 8:56] == 0).all())  # bottom row: rooted
    assert bool((f[0, 8, 8:56] > 0).any() and (f[0, 8, 8:56] < 0).any())  # sinusoidal across x


def test_prompt_errors_list_the_vocabulary():
    for bad in ("", "   ", "dance", "flow", "flow sideways", "swirl left", "ripple up", "fall fast fast"):
        with pytest.raises(InputError) as info:
            parse_prompt(bad)
        assert "swirl" in str(info.value) and "ripple" in str(info.value)
    for bad in ("warp", "0", "-1", "nan", True):
        with pytest.raises(InputError, match="slow, medium, fast"):
            parse_magnitude(bad)
    with pytest.raises(InputError, match="empty"):
        prompt_field("fall", torch.zeros(4, 4, dtype=torch.bool))


def test_flow_prompt_integrates_to_exact_displacement():
    """A uniform prompt moves interior pixels by exactly N * m (the field is constant there)."""
    h, w = 40, 96
    m = torch.ones(h, w, dtype=torch.bool)
    region = MotionRegion(
        m, MotionHints.empty(), base=prompt_field("flow left 0.5", m), turbulence=0.0
    )  # exact
    f = motion_field(h, w, [region])
    disp = integrate_motion(f, 8)
    torch.testing.assert_close(disp.forward(8)[:, 20, 60], torch.tensor([-4.0, 0.0]), atol=1e-4, rtol=0)
    torch.testing.assert_close(disp.backward(0)[:, 20, 60], torch.tensor([4.0, 0.0]), atol=1e-4, rtol=0)


# --------------------------------------------------------------------------- several regions, arrows, freeze


def test_regions_prompts_arrows_anchors_freeze_combine():
    h, w = 48, 96
    left, right = box_mask(h, w, 4, 44, 4, 44), box_mask(h, w, 4, 44, 52, 92)
    freeze = box_mask(h, w, 30, 44, 60, 92)
    arrow = MotionHints.create([[20.5, 20.5]], [[0.0, 0.5]])
    regions = [
        MotionRegion(left, arrow, speed=2.0, base=prompt_field("flow right 1", left)),
        MotionRegion(right, MotionHints.empty(), speed=0.5, base=prompt_field("flow up 1", right)),
    ]
    s = MotionSettings(speed=1.5, feather=1.0 / w, anchor_sigma=1.0 / w)
    f = motion_field(h, w, regions, anchors=[[70.5, 10.5]], freeze=freeze, settings=s).flow
    # left: (base + arrow) * region speed * global speed
    torch.testing.assert_close(f[:, 24, 24], torch.tensor([3.0, 1.5]))
    # right: its own prompt and speed
    torch.testing.assert_close(f[:, 20, 80], torch.tensor([0.0, -0.75]))
    assert bool((f[:, freeze] == 0).all())
    assert bool((f[:, 10, 70] == 0).all())  # anchor pixel
    assert bool((f[:, 0, :] == 0).all() and (f[:, :, 47] == 0).all())  # outside every region
    with pytest.raises(InputError, match="base"):
        MotionRegion(left, arrow, base=torch.zeros(2, 3, 3))


# --------------------------------------------------------------------------- motion from a video


def _texture(h, w, pad, seed=0):
    rng = np.random.default_rng(seed)
    base = cv2.resize(rng.random(((h + 2 * pad) // 6, (w + 2 * pad) // 6)).astype(np.float32), (w + 2 * pad, h + 2 * pad),
                      interpolation=cv2.INTER_CUBIC)  # fmt: skip
    fine = cv2.GaussianBlur(rng.random((h + 2 * pad, w + 2 * pad)).astype(np.float32), (0, 0), 1.2)
    return np.clip(0.6 * base + 1.6 * (fine - fine.mean()) + 0.2, 0, 1)


def synthetic_clip(kind, h=72, w=96, n=8):
    """Frames of a texture moved by a known field whose frame-to-frame flow is exact.

    shear: ``M = (1.2 + 0.6 sin(2 pi y / H), 0)`` (content at ``(x, y)`` moves along x only);
    rotation: 1.5 degrees per frame about the centre, ``M(x) = (R - I)(x - c)``.
    """
    pad = 24
    tex = _texture(h, w, pad)
    yy, xx = grid(h, w)
    if kind == "shear":
        a = 1.2 + 0.6 * np.sin(2 * np.pi * yy / h)
        truth = np.stack([a, 0 * a])

        def where(k):
            return xx - k * a, yy

    else:
        th, cx, cy = np.deg2rad(1.5), w / 2, h / 2
        c, s = np.cos(th), np.sin(th)
        truth = np.stack([c * (xx - cx) - s * (yy - cy) + cx - xx, s * (xx - cx) + c * (yy - cy) + cy - yy])

        def where(k):
            c, s = np.cos(-k * th), np.sin(-k * th)
            return c * (xx - cx) - s * (yy - cy) + cx, s * (xx - cx) + c * (yy - cy) + cy

    frames = []
    for k in range(n):
        mx, my = where(k)
        f = cv2.remap(tex, (mx + pad - 0.5).astype(np.float32), (my + pad - 0.5).astype(np.float32),
                      cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)  # fmt: skip
        frames.append(np.repeat((np.clip(f, 0, 1) * 255 + 0.5).astype(np.uint8)[..., None], 3, axis=2))
    return np.stack(frames), truth


@pytest.mark.parametrize(
    "kind, method, limit",
    # measured mean EPE: shear 0.046 (farneback) / 0.10 (dis); rotation 0.051 / 0.041
    [
        ("shear", "farneback", 0.08),
        ("rotation", "farneback", 0.08),
        ("shear", "dis", 0.15),
        ("rotation", "dis", 0.08),
    ],
)
def test_motion_transfer_recovers_a_known_field(kind, method, limit):
    frames, truth = synthetic_clip(kind)
    est = estimate_video_motion(frames, VideoMotionSettings(method=method)).numpy()
    assert est.shape == truth.shape
    epe = np.hypot(est[0] - truth[0], est[1] - truth[1])[8:-8, 8:-8]
    assert epe.mean() < limit, epe.mean()


def test_transfer_motion_resizes_scales_and_rotates():
    vf = torch.zeros(2, 20, 40)
    vf[0] = 1.0  # 1 px/frame to the right in a 40x20 clip
    mask = box_mask(48, 64, 10, 30, 4, 44)  # 40x20 box: same size as the clip
    f = transfer_motion(vf, mask)
    torch.testing.assert_close(f[:, mask], torch.tensor([[1.0], [0.0]]).expand(2, int(mask.sum())))
    assert bool((f[:, ~mask] == 0).all())
    f = transfer_motion(vf, mask, fit="image", scale=2.0)  # 64x48 photo: x stretched by 1.6
    torch.testing.assert_close(f[:, 20, 20], torch.tensor([3.2, 0.0]))
    f = transfer_motion(vf, mask, rotate=90.0)  # counter-clockwise on screen: right -> up
    torch.testing.assert_close(f[:, 20, 20], torch.tensor([0.0, -1.0]), atol=1e-6, rtol=0)
    for kw in ({"fit": "box"}, {"scale": 0.0}, {"rotate": float("inf")}):
        with pytest.raises(InputError):
            transfer_motion(vf, mask, **kw)


def test_load_video_frames(tmp_path):
    import imageio.v3 as iio

    frames, _ = synthetic_clip("shear", 24, 32, 3)
    iio.imwrite(tmp_path / "clip.gif", frames, loop=0)
    got = load_video_frames(tmp_path / "clip.gif")
    assert got.shape == (3, 24, 32, 3) and got.dtype == np.uint8
    (tmp_path / "frames").mkdir()
    for k, f in enumerate(frames):
        cv2.imwrite(str(tmp_path / "frames" / f"{k:03d}.png"), f)
    assert np.array_equal(load_video_frames(tmp_path / "frames", max_frames=2), frames[:2])
    (tmp_path / "junk.mp4").write_bytes(b"\x00garbage" * 64)
    with pytest.raises(InputError, match="^video: expected a video"):
        load_video_frames(tmp_path / "junk.mp4")
    with pytest.raises(InputError, match="no file"):
        load_video_frames(tmp_path / "none.mp4")
    cv2.imwrite(str(tmp_path / "one.png"), frames[0])
    with pytest.raises(InputError, match="at least 2 frames"):
        load_video_frames(tmp_path / "one.png")


# --------------------------------------------------------------------------- automatic sky


@pytest.mark.parametrize("size", [(96, 64), (160, 96), (640, 360)])
def test_sky_detector_on_the_demo_landscape(size):
    d = demo_scene(*size)
    det = detect_sky(d.image)
    assert det.found and iou(det.mask, d.sky) >= 0.9


def synthetic_skies(h=72, w=96):
    yy, xx = grid(h, w)
    t = (yy / h)[..., None]
    sky = np.concatenate([0.45 + 0.25 * t, 0.62 + 0.2 * t, 0.92 + 0.05 * t], -1) * np.ones((1, w, 1))
    blue = grass(h, w)
    horizon = 30 + 6 * np.sin(xx / 9)
    blue_truth = yy < horizon
    blue[blue_truth] = sky[blue_truth]
    overcast = np.full((h, w, 3), 0.82) + 0.03 * t
    build = np.stack([0.25 + 0.1 * noise(h, w, 1, 8)] * 3, -1) * np.array([1.0, 0.95, 0.9])
    over_truth = np.ones((h, w), bool)
    for x0, x1, top in ((0, 20, 30), (20, 45, 18), (45, 60, 40), (60, 96, 25)):
        overcast[top:, x0:x1] = build[top:, x0:x1]
        over_truth[top:, x0:x1] = False
    return {"blue": (blue, blue_truth), "overcast": (overcast, over_truth)}


def non_skies(h=72, w=96):
    rng = np.random.default_rng(0)
    bottom = grass(h, w)
    bottom[40:] = (0.4, 0.6, 0.9)
    return {
        "noise": rng.random((h, w, 3)),
        "dark room": 0.15 + 0.05 * np.stack([noise(h, w, 4, 1)] * 3, -1),
        "grass": grass(h, w),
        "blue texture": np.stack([0.1 + 0.1 * noise(h, w, 1, 5), 0.3 + 0.2 * noise(h, w, 1, 6), 0.6 + 0.3 * noise(h, w, 1, 7)], -1),
        "blue lake at the bottom": bottom,
    }  # fmt: skip


def test_sky_detector_synthetic_skies_and_non_skies():
    for name, (img, truth) in synthetic_skies().items():
        det = detect_sky(as_tensor(img))
        assert det.found and iou(det.mask, truth) >= 0.9, name
    for name, img in non_skies().items():
        det = detect_sky(as_tensor(img))
        assert not det.found, name
        assert "no sky found" in det.note and "clicks" in det.note


# --------------------------------------------------------------------------- CLI


def run(capsys, argv):
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def frames_of(d):
    return [cv2.imread(str(p)) for p in sorted(d.glob("*.png"))]


@pytest.fixture
def files(tmp_path):
    import imageio.v3 as iio

    from cinemagraph3d.io import write_png

    d = demo_scene(96, 64)
    write_png(tmp_path / "photo.png", d.image)
    np.save(tmp_path / "depth.npy", d.depth[0].numpy())
    rock = (~d.water.numpy()) & (np.arange(64)[:, None] > 38)
    cv2.imwrite(str(tmp_path / "rock.png"), rock.astype(np.uint8) * 255)
    cv2.imwrite(str(tmp_path / "small.png"), np.full((10, 10), 255, np.uint8))
    frames, _ = synthetic_clip("rotation", 32, 48, 4)
    iio.imwrite(tmp_path / "clip.gif", frames, loop=0)
    (tmp_path / "junk.mp4").write_bytes(b"\x00garbage" * 64)
    cv2.imwrite(str(tmp_path / "one.png"), frames[0])
    write_png(tmp_path / "grass.png", as_tensor(grass(64, 96)))
    return tmp_path


def test_cli_controls_and_project_reproduce_exactly(files, capsys):
    d = files
    args = [
        "animate", d / "photo.png", "--depth", d / "depth.npy", "--frames", 3, "--loop-steps", 6,
        "--camera", "swing",
        "--click", "60.5,52.5", "--unclick", "20.5,48.5", "--prompt", "flow left", "--magnitude", "0.6",
        "--prompt", "ripple slow", "--region-speed", "1.5",
        "--sky", "--prompt", "drift", "--motion-video", d / "clip.gif", "--motion-video-scale", "0.5",
        "--motion-video-rotate", "90", "--motion-video-fit", "image",
        "--arrow", "50,50,60,50", "--anchor", "70,55", "--freeze", d / "rock.png",
        "--mask-overlay", d / "overlay.png", "--save-project", d / "p.json",
    ]  # fmt: skip
    code, err = run(capsys, args + ["-o", d / "a"])
    assert code == 0, err
    data = json.loads((d / "p.json").read_text())
    water, sky = data["motion"]["regions"]
    assert water["clicks"] == [[60.5, 52.5]] and water["unclicks"] == [[20.5, 48.5]]
    assert water["prompts"] == [
        {"text": "flow left", "magnitude": 0.6},
        {"text": "ripple slow", "magnitude": None},
    ]
    assert water["speed"] == 1.5 and sky["sky"] is True
    assert sky["video"]["scale"] == 0.5 and sky["video"]["rotate"] == 90 and sky["video"]["fit"] == "image"
    assert data["motion"]["freeze"][0].endswith("rock.png") and data["motion"]["anchors"] == [[70.0, 55.0]]
    assert cv2.imread(str(d / "overlay.png")).shape == (64, 96, 3)
    code, err = run(capsys, ["render", d / "p.json", "-o", d / "b"])
    assert code == 0, err
    a, b = frames_of(d / "a"), frames_of(d / "b")
    assert len(a) == 3 and all(np.array_equal(x, y) for x, y in zip(a, b))  # bit-identical


def test_cli_automatic_sky(files, capsys):
    d = files
    # slow drift = D / 1600 px/step: 1.2 px at frame 1 (t = 20 of 60) on this 96-px photo
    base = ["animate", "--depth", d / "depth.npy", "--frames", 3, "--loop-steps", 60, "--camera", "static"]
    code, err = run(capsys, base + [d / "photo.png", "-o", d / "sky", "--save-project", d / "sky.json"])
    assert code == 0 and "note" not in err, err
    regions = json.loads((d / "sky.json").read_text())["motion"]["regions"]
    assert regions == [
        {"mask": None, "clicks": [], "unclicks": [], "sky": True,
         "prompts": [{"text": "drift right slow", "magnitude": None}], "video": None, "speed": 1.0}
    ]  # fmt: skip
    f = [x.astype(int) for x in frames_of(d / "sky")]
    sky = detect_sky(demo_scene(96, 64).image).mask.numpy()
    assert np.abs(f[1] - f[0])[sky].mean() > 0.5  # the clouds drift
    ground = cv2.erode((~sky).astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    assert np.array_equal(f[1][ground], f[0][ground])  # the rest stays put (static camera)
    code, err = run(capsys, base + [d / "photo.png", "-o", d / "still", "--no-auto-sky"])
    assert code == 0, err
    s = frames_of(d / "still")
    assert np.array_equal(s[0], s[1])
    # no sky: a one-line note on stderr saying what to supply, parallax only, exit 0
    code, err = run(capsys, ["animate", d / "grass.png", "--frames", 2, "--camera", "static", "-o", d / "g"])
    lines = [x[x.index("cinemagraph3d:") :] for x in err.splitlines() if "cinemagraph3d:" in x]
    sky = [x for x in lines if "no sky found" in x]
    assert code == 0 and len(sky) == 1 and "clicks" in sky[0], err
    assert all(x.startswith("cinemagraph3d: note: ") for x in lines), err  # notes only, no error
    g = frames_of(d / "g")
    assert np.array_equal(g[0], g[1])


BAD = {
    "click-outside": ["--click", "500,3", "--prompt", "flow left"],
    "unclick-outside": ["--click", "30,30", "--unclick", "30,-2", "--prompt", "flow left"],
    "click-text": ["--click", "30", "--prompt", "flow left"],
    "empty-prompt": ["--click", "30,30", "--prompt", ""],
    "unknown-prompt": ["--click", "30,30", "--prompt", "dance wildly"],
    "bad-magnitude": ["--click", "30,30", "--prompt", "flow left", "--magnitude", "warp"],
    "magnitude-alone": ["--click", "30,30", "--magnitude", "fast"],
    "prompt-no-region": ["--prompt", "fall"],
    "no-motion": ["--click", "30,30"],
    "video-unreadable": ["--click", "30,30", "--motion-video", "{d}/junk.mp4"],
    "video-missing": ["--click", "30,30", "--motion-video", "{d}/none.mp4"],
    "video-one-frame": ["--click", "30,30", "--motion-video", "{d}/one.png"],
    "video-option-alone": ["--click", "30,30", "--prompt", "fall", "--motion-video-scale", "2"],
    "video-scale-zero": ["--click", "30,30", "--motion-video", "{d}/clip.gif", "--motion-video-scale", "0"],
    "speed-twice": ["--click", "30,30", "--prompt", "fall", "--region-speed", "2", "--region-speed", "3"],
    "speed-no-region": ["--region-speed", "2", "--mask", "{d}/rock.png", "--prompt", "fall"],
    "sky-none": ["--sky", "--prompt", "drift"],
    "freeze-size": ["--click", "30,30", "--prompt", "fall", "--freeze", "{d}/small.png"],
    "freeze-no-region": ["--freeze", "{d}/rock.png"],
    "sam-missing": ["--sam-checkpoint", "{d}/none.pth", "--click", "30,30", "--prompt", "fall"],
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_cli_bad_control_inputs(files, capsys, case):
    d = files
    photo = d / ("grass.png" if case in ("sky-none", "freeze-no-region") else "photo.png")
    argv = [a.format(d=d) for a in BAD[case]]
    code, err = run(capsys, ["animate", photo, "--frames", 2, "-o", d / "o.mp4"] + argv)
    assert code == 2, err
    lines = [x for x in err.strip().splitlines() if x.strip() and not x.startswith("rendering")]
    assert len(lines) == 1 and lines[0].startswith("cinemagraph3d: error:"), err
    if case == "unknown-prompt":
        assert "swirl" in lines[0] and "ripple" in lines[0]
    assert not (d / "o.mp4").exists()


def test_cli_bad_project_regions(files, capsys):
    d = files
    good = {"version": 1, "image": "photo.png", "regions": [{"clicks": [[30, 30]], "prompts": ["fall"]}]}
    for region in (
        {"clicks": [[30, 30]], "bogus": 1},
        {"mask": "rock.png", "clicks": [[1, 1]]},
        {"sky": True, "prompts": ["jump"]},
    ):
        (d / "p.json").write_text(json.dumps({**good, "regions": [region]}))
        code, err = run(capsys, ["render", d / "p.json", "-o", d / "o.mp4"])
        assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert not (d / "o.mp4").exists()


# --------------------------------------------------------------------------- notebook


def test_notebook_runs_headless(tmp_path):
    nbformat = require("nbformat")
    nbclient = require("nbclient")
    require("ipykernel")
    src = os.path.join(os.path.dirname(__file__), "..", "examples", "controllable_motion.ipynb")
    shutil.copy(src, tmp_path / "nb.ipynb")
    nb = nbformat.read(tmp_path / "nb.ipynb", as_version=4)
    # the kernel is "python3" of this environment and inherits its CINEMAGRAPH3D_BACKEND
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    images = sum(1 for o in outputs if "image/png" in o.get("data", {}))
    assert images >= 5
    # the looping previews and side-by-side videos are GIFs; the widgets were driven from code
    gifs = sum(1 for o in outputs if "image/gif" in o.get("data", {}))
    assert gifs >= 5, gifs
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    import re

    rendered = re.search(r"previews rendered: (\d+)", text)
    assert rendered and int(rendered.group(1)) >= 6  # the first view plus one per widget change
    for pair in (
        "slow | fast",
        "no freeze | freeze",
        "forward only | symmetric",
        "heuristic depth | scene depth",
    ):
        assert pair in text


def test_cli_motion_video_moves_its_region_along_the_clip(files, capsys):
    """End to end: a clip whose content moves right (shear field, 0.6–1.8 px/frame) drives the
    water mask; with a static camera the water flows right at the transferred speed and nothing
    outside it changes."""
    import imageio.v3 as iio

    d = files
    water = demo_scene(96, 64).water.numpy()
    cv2.imwrite(str(d / "water.png"), water.astype(np.uint8) * 255)
    clip, _ = synthetic_clip("shear", 48, 64, 5)
    iio.imwrite(d / "shear.gif", clip, loop=0)
    argv = [
        "animate", d / "photo.png", "--depth", d / "depth.npy", "--frames", 30, "--loop-steps", 60,
        "--camera", "static", "--mask", d / "water.png", "--motion-video", d / "shear.gif",
        "-o", d / "v",
    ]  # fmt: skip
    code, err = run(capsys, argv)
    assert code == 0, err
    f = frames_of(d / "v")
    near = cv2.dilate(water.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    assert all(np.array_equal(x[~near], f[0][~near]) for x in f)  # still outside the region
    inner = cv2.erode(water.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    assert np.abs(f[1].astype(int) - f[0])[inner].mean() > 1.0  # the water moves
    grey = [cv2.cvtColor(x, cv2.COLOR_BGR2GRAY) for x in f]
    flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(grey[0], grey[1], None)[inner]
    # frame 0 -> 1 is 2 motion steps near tau = 0 (forward splat dominant): the field there is
    # 1.8 px/step on average (the clip's 0.6–1.8 px/frame stretched 1.5x over the region's box),
    # so about 3.5 px (DIS measures 3.1)
    assert 2.0 < flow[:, 0].mean() < 5.0 and flow[:, 0].mean() > 5 * np.abs(flow[:, 1].mean())
