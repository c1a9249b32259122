"""Motion package: inputs, Eulerian field, Euler integration, lifting — against analytic truth."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest
import torch

from cinemagraph3d.errors import InputError
from cinemagraph3d.motion import (
    DEFAULT_HINT_SCALE,
    MotionHints,
    MotionRegion,
    MotionSettings,
    assign_hints,
    draw_motion_field,
    edge_feather,
    hints_to_dict,
    integrate_motion,
    kernel_sigma,
    lift_displacement,
    load_hints,
    load_labelme,
    load_mask,
    motion_field,
    parse_arrow,
    parse_point,
)
from cinemagraph3d.types import MotionField

H, W = 48, 64


def box_mask(y0, y1, x0, x1, h=H, w=W):
    m = torch.zeros(h, w, dtype=torch.bool)
    m[y0:y1, x0:x1] = True
    return m


def make_field(flow: torch.Tensor) -> MotionField:
    return MotionField(flow, (flow != 0).any(dim=0, keepdim=True).to(flow.dtype))


def pixel_centres(h, w, dtype=torch.float64):
    v, u = torch.meshgrid(
        torch.arange(h, dtype=dtype) + 0.5, torch.arange(w, dtype=dtype) + 0.5, indexing="ij"
    )
    return torch.stack([u, v])


# ----------------------------------------------------------------------------- hints and inputs


def test_parse_arrow_and_point():
    start, vec = parse_arrow("10,20,13,16", H, W)
    assert start.tolist() == [10.0, 20.0]
    assert vec.tolist() == [3.0, -4.0]  # length 5 px -> 5 px/step
    _, vec = parse_arrow("10, 20, 13, 16", scale=0.5)
    assert vec.tolist() == [1.5, -2.0]
    assert parse_point("3.5,4", H, W).tolist() == [3.5, 4.0]


@pytest.mark.parametrize(
    "text",
    ["1,2,3", "a,b,c,d", "1,2,3,4,5", "nan,1,2,3", "1,2,inf,4", "10,10,10,10", "10,10,70,10", "-1,5,3,5"],
)
def test_parse_arrow_bad(text):
    with pytest.raises(InputError):
        parse_arrow(text, H, W)


@pytest.mark.parametrize("text", ["1", "1,2,3", "x,2", "nan,2", "65,2", "2,-0.1"])
def test_parse_point_bad(text):
    with pytest.raises(InputError):
        parse_point(text, H, W)


def test_motion_hints_checks():
    with pytest.raises(InputError):
        MotionHints(torch.zeros(3, 2), torch.zeros(2, 2))
    with pytest.raises(InputError):
        MotionHints(torch.zeros(3, 3), torch.zeros(3, 3))
    with pytest.raises(InputError):
        MotionHints.create([[1.0, float("nan")]], [[1.0, 0.0]])
    h = MotionHints.create([[1, 2], [3, 4]], [[1, 0], [0, 2]])
    assert len(h) == 2 and h.speeds.tolist() == [1.0, 2.0]
    s = h.scaled(2.0, 0.5)
    assert s.starts.tolist() == [[2, 1], [6, 2]] and s.vectors.tolist() == [[2, 0], [0, 1]]


def test_hints_file_round_trip(tmp_path):
    hints = MotionHints.create([[10.5, 20.25], [40.0, 30.0]], [[1.5, -0.25], [0.0, 2.0]])
    path = tmp_path / "hints.json"
    path.write_text(json.dumps(hints_to_dict(hints)))
    back = load_hints(path, H, W)
    assert torch.equal(back.starts, hints.starts) and torch.equal(back.vectors, hints.vectors)
    assert json.loads(path.read_text())["units"] == "pixels_per_frame"


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[]",
        json.dumps({"hints": [{"x": 1, "y": 1, "dx": 1, "dy": 0}]}),
        json.dumps({"units": "metres", "hints": [{"x": 1, "y": 1, "dx": 1, "dy": 0}]}),
        json.dumps({"units": "pixels_per_frame", "hints": []}),
        json.dumps({"units": "pixels_per_frame", "hints": [{"x": 1, "y": 1, "dx": 1}]}),
        json.dumps({"units": "pixels_per_frame", "hints": [{"x": "1", "y": 1, "dx": 1, "dy": 0}]}),
        json.dumps({"units": "pixels_per_frame", "hints": [{"x": 1, "y": 1, "dx": 0, "dy": 0}]}),
        '{"units": "pixels_per_frame", "hints": [{"x": 1, "y": 1, "dx": NaN, "dy": 0}]}',
        json.dumps({"units": "pixels_per_frame", "hints": [{"x": 100, "y": 1, "dx": 1, "dy": 0}]}),
    ],
)
def test_load_hints_bad(tmp_path, content):
    path = tmp_path / "hints.json"
    path.write_text(content)
    with pytest.raises(InputError):
        load_hints(path, H, W)


def test_load_hints_missing_file(tmp_path):
    with pytest.raises(InputError):
        load_hints(tmp_path / "nope.json")


def labelme_doc(shapes, height=2 * H, width=2 * W):
    return {"version": "5.2.1", "shapes": shapes, "imageHeight": height, "imageWidth": width}


def poly(label, pts, kind="polygon"):
    return {"label": label, "points": pts, "shape_type": kind, "group_id": None, "flags": {}}


def test_load_labelme(tmp_path):
    # Annotated on a 2x larger image: every coordinate is halved to the working size.
    doc = labelme_doc(
        [
            poly("motion_water", [[20.4, 20.4], [59.6, 20.4], [59.6, 39.6], [20.4, 39.6]]),
            poly("motion", [[100, 60], [120, 60], [120, 80], [100, 80]]),
            poly("tree", [[0, 0], [10, 0], [10, 10]]),  # ignored label
            poly("hint", [[20, 30], [120, 30]], "line"),  # 50 working px -> 1 px/step
            poly("Hint 2", [[100, 70], [100, 90], [120, 90]], "linestrip"),  # two arrows of 10 px
            poly("hint", [[5, 5]], "point"),  # ignored type
        ]
    )
    path = tmp_path / "a.json"
    path.write_text(json.dumps(doc))
    mask, hints = load_labelme(path, H, W)
    assert mask.dtype == torch.bool and mask.shape == (H, W)
    expected = box_mask(10, 20, 10, 30) | box_mask(30, 40, 50, 60)
    # cv2.fillPoly: interior pixel centres plus pixels the outline passes through.
    assert torch.equal(mask[10:20, 10:30], expected[10:20, 10:30])
    assert mask[31:39, 51:59].all() and not mask[:9].any() and not mask[:, :9].any()
    assert not mask[21:29].any()
    assert len(hints) == 3
    torch.testing.assert_close(hints.starts, torch.tensor([[10.0, 15.0], [50.0, 35.0], [50.0, 45.0]]))
    scale = DEFAULT_HINT_SCALE
    torch.testing.assert_close(
        hints.vectors, torch.tensor([[50.0 * scale, 0.0], [0.0, 10.0 * scale], [10.0 * scale, 0.0]])
    )
    assert abs(float(hints.speeds[0]) - 1.0) < 1e-6
    _, fast = load_labelme(path, H, W, hint_scale=0.1)
    torch.testing.assert_close(fast.vectors[0], torch.tensor([5.0, 0.0]))


@pytest.mark.parametrize(
    "doc",
    [
        "{broken",
        json.dumps({"shapes": "none"}),
        json.dumps(labelme_doc([poly("hint", [[1, 1], [20, 1]], "line")])),  # no motion polygon
        json.dumps(labelme_doc([poly("motion", [[1, 1], [50, 1]])])),  # 2-point polygon
        json.dumps(labelme_doc([poly("motion", [[200, 200], [220, 200], [220, 220]])])),  # off the image
        json.dumps(labelme_doc([poly("motion", [[0, 0], [60, 0], [60, 60]])], height=H, width=2 * W)),
        json.dumps(
            labelme_doc([poly("motion", [[0, 0], [60, 0], [60, 60]]), poly("hint", [[5, 5], [5, 5]], "line")])
        ),
        json.dumps(
            labelme_doc(
                [poly("motion", [[0, 0], [60, 0], [60, 60]]), poly("hint", [[5, 5], [500, 5]], "line")]
            )
        ),
        json.dumps(labelme_doc([poly("motion", [[0, 0], ["a", 0], [60, 60]])])),
        json.dumps(labelme_doc([{"label": 3, "points": [], "shape_type": "polygon"}])),
    ],
)
def test_load_labelme_bad(tmp_path, doc):
    path = tmp_path / "bad.json"
    path.write_text(doc)
    with pytest.raises(InputError):
        load_labelme(path, H, W)


def test_load_mask(tmp_path):
    m = np.zeros((H, W), np.uint8)
    m[5:15, 7:20] = 255
    path = tmp_path / "mask.png"
    cv2.imwrite(str(path), m)
    got = load_mask(path, H, W)
    assert got.dtype == torch.bool and torch.equal(got, torch.from_numpy(m > 0))
    rgb = np.repeat(m[..., None], 3, axis=2)
    assert torch.equal(load_mask(rgb, H, W), got)
    assert torch.equal(load_mask(torch.from_numpy(m > 0)[None], H, W), got)
    assert torch.equal(load_mask(m.astype(np.float32) / 255.0, H, W), got)


def test_load_mask_bad(tmp_path):
    with pytest.raises(InputError, match="64x48"):
        load_mask(np.ones((H + 1, W), np.uint8) * 255, H, W)  # wrong size: never resized
    with pytest.raises(InputError, match="empty"):
        load_mask(np.zeros((H, W), np.uint8), H, W)
    with pytest.raises(InputError):
        load_mask(tmp_path / "missing.png", H, W)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    with pytest.raises(InputError):
        load_mask(junk, H, W)
    with pytest.raises(InputError):
        load_mask(np.full((H, W), np.nan, np.float32), H, W)


# ----------------------------------------------------------------------------- the field


def test_single_hint_gives_constant_field():
    mask = box_mask(4, 44, 4, 60)
    hints = MotionHints.create([[30.5, 20.5]], [[1.25, -0.5]])
    settings = MotionSettings(feather=2.0 / W)  # 2 px
    f = motion_field(H, W, [MotionRegion(mask, hints)], settings=settings)
    assert f.flow.shape == (2, H, W) and f.flow.dtype == torch.float32
    # Exactly the hint at its own pixel and everywhere deeper than the feather.
    assert f.flow[:, 20, 30].tolist() == [1.25, -0.5]
    inner = box_mask(6, 42, 6, 58)
    assert torch.equal(f.flow[:, inner], torch.tensor([[1.25], [-0.5]]).expand(2, int(inner.sum())))
    assert (f.flow[:, ~mask] == 0).all()
    assert torch.equal(f.mask[0], mask.float())


def test_identical_hints_give_constant_field_and_speed_factors():
    mask = box_mask(0, H, 0, W)  # whole image: image borders are not feathered
    hints = MotionHints.create([[5, 5], [30, 40], [60, 10]], [[0.5, 1.0]] * 3)
    f = motion_field(H, W, [MotionRegion(mask, hints, speed=2.0)], settings=MotionSettings(speed=1.5))
    want = torch.tensor([1.5, 3.0])[:, None, None].expand(2, H, W)
    torch.testing.assert_close(f.flow, want, rtol=1e-6, atol=0)


def test_kernel_interpolation_formula_and_sigma():
    hints = MotionHints.create([[10.5, 10.5], [30.5, 10.5], [50.5, 10.5]], [[1, 0], [0, 1], [-1, 0]])
    settings = MotionSettings(sigma_min=1e-3, sigma_max=1.0, hint_radius=0)  # the kernel alone
    sigma = kernel_sigma(hints.starts, H, W, settings)
    assert sigma == pytest.approx(20.0)  # mean nearest-neighbour distance
    assert kernel_sigma(hints.starts, H, W, MotionSettings(sigma_min=0.5, sigma_max=1.0)) == pytest.approx(
        32.0
    )  # floor
    assert kernel_sigma(hints.starts, H, W, MotionSettings(sigma_max=0.1)) == pytest.approx(6.4)  # ceiling
    mask = box_mask(0, H, 0, W)
    f = motion_field(H, W, [MotionRegion(mask, hints)], settings=settings)
    x = pixel_centres(H, W).reshape(2, -1).T
    d2 = ((x[:, None, :] - hints.starts.double()[None]) ** 2).sum(-1)
    g = torch.exp(-d2 / (2 * sigma**2))
    want = (g @ hints.vectors.double()) / g.sum(1, keepdim=True)
    torch.testing.assert_close(f.flow.reshape(2, -1).T.double(), want, atol=1e-5, rtol=1e-5)
    # Far from every hint the field stays finite (softmax form): the nearest hint dominates.
    far = MotionSettings(sigma_min=1e-3, sigma_max=1e-3)
    f2 = motion_field(H, W, [MotionRegion(mask, hints)], settings=far)
    assert torch.isfinite(f2.flow).all()
    assert f2.flow[:, 40, 0].tolist() == [1.0, 0.0]


def test_edge_feather_profile():
    mask = box_mask(10, 40, 10, 50)
    e = edge_feather(mask, 4.0)
    assert (e[~mask] == 0).all()
    assert (e[mask] > 0).all()
    assert torch.equal(e[14:36, 14:46], torch.ones(22, 32))  # deeper than 4 px
    row = e[25, 10:14]  # distances 1, 2, 3, 4 px from the outside
    assert (row[1:] > row[:-1]).all()  # rises smoothly from the edge
    assert row[0].item() == pytest.approx((1 / 4) ** 2 * (3 - 2 / 4))
    # The image border is not an edge.
    assert torch.equal(edge_feather(box_mask(0, H, 0, 20), 4.0)[:, :16], torch.ones(H, 16))


def test_anchors_and_freeze_exactly_zero():
    mask = box_mask(0, H, 0, W)
    hints = MotionHints.create([[32, 24]], [[1.0, 0.5]])
    anchors = torch.tensor([[20.3, 10.9], [64.0, 48.0]])  # the second on the image corner
    freeze = box_mask(30, 35, 40, 50)
    f = motion_field(H, W, [MotionRegion(mask, hints)], anchors=anchors, freeze=freeze)
    assert (f.flow[:, 10, 20] == 0).all() and (f.flow[:, 47, 63] == 0).all()
    assert (f.flow[:, 10, 22].abs() > 0).all()  # a notch, not a hole
    mag = f.flow.norm(dim=0)
    assert mag[10, 21] < mag[10, 23] < mag[10, 26]  # smooth rise away from the anchor
    assert (f.flow[:, freeze] == 0).all()
    assert torch.equal(f.mask[0], (~freeze).float())
    assert torch.equal(f.flow[:, 0, 40], torch.tensor([1.0, 0.5]))  # far from anchors


def test_overlapping_regions_average_and_default_direction():
    a, b = box_mask(0, H, 0, 40), box_mask(0, H, 24, W)
    ha = MotionHints.create([[10, 10]], [[1.0, 0.0]])
    hb = MotionHints.create([[50, 10]], [[0.0, 1.0]])
    s = MotionSettings(feather=1.0 / W)
    f = motion_field(H, W, [MotionRegion(a, ha), MotionRegion(b, hb, speed=2.0)], settings=s)
    assert f.flow[:, 20, 5].tolist() == [1.0, 0.0]
    assert f.flow[:, 20, 60].tolist() == [0.0, 2.0]
    torch.testing.assert_close(f.flow[:, 20, 30], torch.tensor([0.5, 1.0]))
    with pytest.raises(InputError, match="hint"):
        motion_field(H, W, [MotionRegion(a, MotionHints.empty())])
    d = MotionSettings(default_direction=(0.0, -1.0), feather=1.0 / W)
    f = motion_field(H, W, [MotionRegion(a, MotionHints.empty())], settings=d)
    assert f.flow[:, 20, 5].tolist() == [0.0, -1.0]


def test_assign_hints():
    a, b = box_mask(0, 20, 0, 20), box_mask(30, 48, 30, 64)
    hints = MotionHints.create([[5, 5], [40, 40], [25, 12], [60, 26]], [[1, 0], [0, 1], [2, 0], [0, 2]])
    ha, hb = assign_hints([a, b], hints)
    assert ha.starts.tolist() == [[5, 5], [25, 12]]  # (25, 12) is 6 px from a, farther from b
    assert hb.starts.tolist() == [[40, 40], [60, 26]]


@pytest.mark.parametrize(
    "call",
    [
        lambda m, h: motion_field(H, W, [], None),
        lambda m, h: motion_field(H, W, [MotionRegion(box_mask(0, 5, 0, 5, H + 1, W), h)]),
        lambda m, h: motion_field(H, W, [MotionRegion(torch.zeros(H, W, dtype=torch.bool), h)]),
        lambda m, h: motion_field(H, W, [MotionRegion(m, MotionHints.create([[70, 5]], [[1, 0]]))]),
        lambda m, h: motion_field(H, W, [MotionRegion(m, MotionHints.create([[7, 5]], [[0, 0]]))]),
        lambda m, h: motion_field(H, W, [MotionRegion(m, h)], anchors=[[-1.0, 3.0]]),
        lambda m, h: motion_field(H, W, [MotionRegion(m, h)], anchors=[[1.0, 3.0, 4.0]]),
        lambda m, h: motion_field(H, W, [MotionRegion(m, h)], freeze=torch.zeros(H, W + 1, dtype=torch.bool)),
        lambda m, h: motion_field(H, W, [MotionRegion(m, h)], settings=MotionSettings(speed=0.0)),
        lambda m, h: motion_field(H, W, [MotionRegion(m, h)], settings=MotionSettings(speed=float("nan"))),
        lambda m, h: MotionRegion(m, h, speed=-1.0),
        lambda m, h: MotionRegion(m, h, speed=float("nan")),
        lambda m, h: MotionRegion(m.float(), h),
        lambda m, h: MotionSettings(default_direction=(0.0, 0.0)),
    ],
)
def test_motion_field_bad_inputs(call):
    with pytest.raises(InputError):
        call(box_mask(5, 30, 5, 30), MotionHints.create([[10, 10]], [[1, 0]]))


def test_field_deterministic():
    mask = box_mask(5, 45, 3, 60)
    g = torch.Generator().manual_seed(0)
    hints = MotionHints(torch.rand(7, 2, generator=g) * 40 + 4, torch.randn(7, 2, generator=g))
    a = motion_field(H, W, [MotionRegion(mask, hints)], anchors=[[30, 30]])
    b = motion_field(H, W, [MotionRegion(mask.clone(), hints)], anchors=[[30, 30]])
    assert torch.equal(a.flow, b.flow) and torch.equal(a.mask, b.mask)


def test_draw_motion_field():
    flow = torch.zeros(2, H, W)
    flow[0, 10:30, 10:50] = 1.0  # rightwards: red on the colour wheel
    field = make_field(flow)
    wheel = draw_motion_field(field)
    assert wheel.shape == (H, W, 3) and wheel.dtype == np.uint8
    assert wheel[20, 20].tolist() == [255, 0, 0]
    assert (wheel[0] == 0).all()
    image = torch.full((3, H, W), 0.5)
    pic = draw_motion_field(field, image, step=8)
    assert pic.shape == (H, W, 3) and pic.dtype == np.uint8
    assert (pic[40:] == 128).all()  # far from the moving region: the photo, untouched
    assert not np.array_equal(pic[10:30, 10:50], np.full((20, 40, 3), 128, np.uint8))


# ----------------------------------------------------------------------------- integration


def constant_box_field(v=(0.75, -0.5), dtype=torch.float32):
    flow = torch.zeros(2, H, W, dtype=dtype)
    flow[0, 8:40, 8:56] = v[0]
    flow[1, 8:40, 8:56] = v[1]
    return make_field(flow)


def test_constant_field_integration_exact():
    v = torch.tensor([0.75, -0.5])
    n_steps = 10
    d = integrate_motion(constant_box_field(), n_steps)
    # Pixels whose whole path stays at least one pixel inside the box see M = v at every step.
    x = pixel_centres(H, W, torch.float32)

    def stays_in_box(sign):
        # Pixels whose whole path stays between the box's pixel centres see M = v at every step.
        ok = torch.ones(H, W, dtype=torch.bool)
        for n in range(n_steps + 1):
            p = x + sign * n * v[:, None, None]
            ok &= (p[0] >= 8.5) & (p[0] <= 55.5) & (p[1] >= 8.5) & (p[1] <= 39.5)
        return ok

    ok_f, ok_b = stays_in_box(1), stays_in_box(-1)
    assert ok_f.sum() > 500 and ok_b.sum() > 500
    for n in range(n_steps + 1):
        fwd = d.forward(n)
        bwd = d.backward(n_steps - n)  # = B_n
        want = (n * v)[:, None]
        torch.testing.assert_close(fwd[:, ok_f], want.expand(2, int(ok_f.sum())), atol=1e-5, rtol=0)
        torch.testing.assert_close(bwd[:, ok_b], -want.expand(2, int(ok_b.sum())), atol=1e-5, rtol=0)
    assert d.forward(1)[:, ok_f].eq(v[:, None]).all()  # the first step reads M exactly
    assert (d.forward(0) == 0).all() and (d.backward(n_steps) == 0).all()
    # Pixels outside the field never move.
    outside = torch.ones(H, W, dtype=torch.bool)
    outside[8:40, 8:56] = False
    assert (d.forward(7.3)[:, outside] == 0).all() and (d.backward(2.6)[:, outside] == 0).all()


def test_fractional_time_is_the_euler_path():
    d = integrate_motion(rotation_field(0.1), 8)
    for t in (0.25, 3.5, 7.9):
        n, s = math.floor(t), t - math.floor(t)
        torch.testing.assert_close(d.forward(t), torch.lerp(d.forward(n), d.forward(n + 1), s))
        u = 8 - t
        m, r = math.floor(u), u - math.floor(u)
        torch.testing.assert_close(d.backward(t), torch.lerp(d.backward(8 - m), d.backward(8 - m - 1), r))
    # F_n + s M(x + F_n): the straight Euler segment (M linear inside the pixel-centre hull).
    x = pixel_centres(H, W)
    near = (x - CENTRE[:, None, None]).norm(dim=0) < 18
    f3 = d.forward(3)
    m3 = rotation_velocity(x + f3, 0.1)
    torch.testing.assert_close(d.forward(3.5)[:, near], (f3 + 0.5 * m3)[:, near], atol=1e-9, rtol=1e-9)


CENTRE = torch.tensor([32.0, 24.0], dtype=torch.float64)


def rotation_velocity(p, omega):
    rel = p - CENTRE[:, None, None]
    return omega * torch.stack([-rel[1], rel[0]])


def rotation_field(omega):
    return make_field(rotation_velocity(pixel_centres(H, W), omega))


def test_rotation_field_stays_on_euler_circles():
    omega, n_steps = 0.05, 40
    d = integrate_motion(rotation_field(omega), n_steps)
    x = pixel_centres(H, W)
    rel0 = x - CENTRE[:, None, None]
    r0 = rel0.norm(dim=0)
    growth = math.sqrt(1 + omega**2) ** n_steps  # Euler: |x_n - c| = (1 + w^2)^(n/2) r0
    # Orbits that stay inside the hull of pixel centres, where bilinear sampling of a linear
    # field is exact, so the scheme is exactly the Euler recurrence x_{n+1} = c + R (x_n - c).
    ok = (r0 * growth < 23.0) & (r0 > 0)
    assert ok.sum() > 1000
    for n in (1, 10, n_steps):
        rel = rel0 + d.forward(n)
        r = rel.norm(dim=0)
        ratio = (r / r0)[ok]
        torch.testing.assert_close(
            ratio, torch.full_like(ratio, math.sqrt(1 + omega**2) ** n), atol=1e-9, rtol=0
        )
        ang = torch.atan2(rel[1], rel[0]) - torch.atan2(rel0[1], rel0[0])
        ang = torch.remainder(ang - n * math.atan(omega) + math.pi, 2 * math.pi) - math.pi
        assert ang[ok].abs().max() < 1e-9
    # Radius drift bound of explicit Euler (1 + w^2)^(n/2) - 1 ~ n w^2 / 2: 5% here.
    assert (r / r0)[ok].max() <= growth + 1e-9 and growth - 1 < 0.052
    # Backward integration spins the other way with the same radius growth.
    rel = rel0 + d.backward(0)
    torch.testing.assert_close(
        (rel.norm(dim=0) / r0)[ok], torch.full((int(ok.sum()),), growth, dtype=torch.float64)
    )
    ang = torch.remainder(
        torch.atan2(rel[1], rel[0]) - torch.atan2(rel0[1], rel0[0]) + n_steps * math.atan(omega) + math.pi,
        2 * math.pi,
    )
    assert (ang[ok] - math.pi).abs().max() < 1e-9


def test_small_step_rotation_accuracy():
    # Halving the step (half the angular speed, twice the steps) halves the radius error.
    x = pixel_centres(H, W)
    rel0 = x - CENTRE[:, None, None]
    r0 = rel0.norm(dim=0)
    ok = (r0 > 5) & (r0 < 18)
    errs = []
    for omega, n in ((0.04, 25), (0.02, 50), (0.01, 100)):
        d = integrate_motion(rotation_field(omega), n)
        r = (rel0 + d.forward(n)).norm(dim=0)
        errs.append(float(((r - r0) / r0)[ok].abs().max()))
    assert errs[0] < 0.021 and errs[1] < 0.0101 and errs[2] < 0.0051
    assert errs[1] / errs[0] == pytest.approx(0.5, abs=0.01) and errs[2] / errs[1] == pytest.approx(
        0.5, abs=0.01
    )


def test_points_leaving_the_image_stop_or_go_on():
    flow = torch.zeros(2, H, W)
    flow[0, 20:30, :] = 2.0
    d = integrate_motion(make_field(flow), 6, outside="stop")
    last = d.forward(6)[0, 25]
    # The last column leaves after one step (x = 64.5 + ... > W) and stops: no streak.
    assert last[W - 1].item() == 2.0
    assert last[W - 2].item() == 2.0  # 62.5 -> 64.5 (outside) after one step
    assert last[W - 3].item() == 4.0  # 61.5 -> 63.5 -> 65.5
    assert last[0].item() == 12.0  # far from the edge: 6 full steps
    assert torch.isfinite(d.forward(3.3)).all()
    # The default goes on at the border's velocity, out of view (no pile-up along the border).
    go = integrate_motion(make_field(flow), 6).forward(6)[0, 25]
    assert torch.allclose(go, torch.full_like(go, 12.0), atol=1e-3)


def test_sample_at_matches_maps_and_store_every():
    d = integrate_motion(rotation_field(0.07), 12)
    g = torch.Generator().manual_seed(1)
    uv = torch.rand(200, 2, generator=g, dtype=torch.float64) * torch.tensor([W, H], dtype=torch.float64)
    for t in (0, 4.5, 12):
        fwd, bwd = d.sample_at(t, uv)
        j = uv[:, 0].floor().long().clamp(max=W - 1)
        i = uv[:, 1].floor().long().clamp(max=H - 1)
        assert torch.equal(fwd, d.forward(t)[:, i, j].T) and torch.equal(bwd, d.backward(t)[:, i, j].T)
        centres = torch.stack([j + 0.5, i + 0.5], dim=1).double()
        fb, bb = d.sample_at(t, centres, mode="bilinear")
        torch.testing.assert_close(fb, fwd, atol=1e-12, rtol=0)
        torch.testing.assert_close(bb, bwd, atol=1e-12, rtol=0)
    fb, _ = d.sample_at(4.5, torch.tensor([[10.0, 10.0]], dtype=torch.float64), mode="bilinear")
    corners = d.forward(4.5)[:, 9:11, 9:11].reshape(2, -1).mean(1)
    torch.testing.assert_close(fb[0], corners)
    # Keeping every 5th state and recomputing the rest gives the same numbers, in any query order.
    d5 = integrate_motion(rotation_field(0.07), 12, store_every=5)
    assert d5.forward_states.shape[0] == 3  # states 0, 5, 10
    for t in (7.5, 3.0, 11.25, 12, 0.5, 6.0):
        assert torch.equal(d5.forward(t), d.forward(t)) and torch.equal(d5.backward(t), d.backward(t))


def test_states_only_for_moving_pixels():
    field = constant_box_field()
    moving = int((field.flow != 0).any(dim=0).sum())
    d = integrate_motion(field, 9)
    assert d.num_moving == moving == 32 * 48
    assert d.forward_states.shape == (10, moving, 2) and d.backward_states.shape == (10, moving, 2)
    assert d.index.shape == (moving,)


def test_integration_deterministic():
    a = integrate_motion(rotation_field(0.05), 7)
    b = integrate_motion(rotation_field(0.05), 7)
    assert torch.equal(a.forward_states, b.forward_states) and torch.equal(
        a.backward_states, b.backward_states
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda d, f: integrate_motion(f, 0),
        lambda d, f: integrate_motion(f, 2.5),
        lambda d, f: integrate_motion(f.flow, 3),
        lambda d, f: integrate_motion(make_field(torch.full((2, 4, 4), float("nan"))), 3),
        lambda d, f: integrate_motion(f, 3, store_every=0),
        lambda d, f: d.forward(-0.1),
        lambda d, f: d.forward(5.01),
        lambda d, f: d.backward(float("nan")),
        lambda d, f: d.sample_at(1.0, torch.tensor([[W + 1.0, 2.0]])),
        lambda d, f: d.sample_at(1.0, torch.zeros(3, 3)),
        lambda d, f: d.sample_at(1.0, torch.zeros(3, 2), mode="cubic"),
    ],
)
def test_integration_bad_inputs(call):
    f = constant_box_field()
    with pytest.raises(InputError):
        call(integrate_motion(f, 5), f)


# ----------------------------------------------------------------------------- lifting, diffusion


def test_lift_displacement_fronto_parallel():
    K = torch.tensor([[100.0, 0, 32], [0, 120.0, 24], [0, 0, 1]], dtype=torch.float64)
    g = torch.Generator().manual_seed(2)
    pixels = torch.rand(50, 2, generator=g, dtype=torch.float64) * 40
    z = 1 + torch.rand(50, generator=g, dtype=torch.float64) * 5
    points = torch.stack([(pixels[:, 0] - 32) * z / 100, (pixels[:, 1] - 24) * z / 120, z], dim=1)
    disp = torch.randn(50, 2, generator=g, dtype=torch.float64)
    d3 = lift_displacement(points, pixels, disp, K)
    moved = points + d3
    assert (d3[:, 2] == 0).all()
    reproj = torch.stack([moved[:, 0] / moved[:, 2] * 100 + 32, moved[:, 1] / moved[:, 2] * 120 + 24], 1)
    torch.testing.assert_close(reproj, pixels + disp)
    zero = lift_displacement(points, pixels, torch.zeros_like(disp), K)
    assert (zero == 0).all()
    with pytest.raises(InputError):
        lift_displacement(points, pixels[:10], disp, K)
    with pytest.raises(InputError):
        lift_displacement(points, pixels, disp, K[:2])


def test_end_to_end_labelme_to_displacements(tmp_path):
    doc = labelme_doc(
        [
            poly("motion", [[0, 60], [128, 60], [128, 96], [0, 96]]),
            poly("hint", [[20, 80], [70, 80]], "line"),
            poly("hint", [[80, 80], [130 - 2, 84]], "line"),
        ]
    )
    path = tmp_path / "scene.json"
    path.write_text(json.dumps(doc))
    mask, hints = load_labelme(path, H, W)
    field = motion_field(H, W, [MotionRegion(mask, hints)], anchors=[[32.0, 40.0]])
    d = integrate_motion(field, 30)
    fwd, bwd = d.sample_at(15.0, torch.tensor([[20.5, 42.5], [5.5, 5.5]]))
    assert fwd[0, 0] > 0 and bwd[0, 0] < 0  # flows right, backward flows left
    assert (fwd[1] == 0).all() and (bwd[1] == 0).all()  # still outside the mask
    assert (field.flow[:, 40, 32] == 0).all()


def test_small_conveniences():
    assert (
        motion_field(
            H, W, [MotionRegion(box_mask(0, 10, 0, 10), MotionHints.create([[2, 2]], [[1, 0]]))], anchors=[]
        )
        .flow.abs()
        .sum()
        > 0
    )
    with pytest.raises(InputError):
        MotionHints.create([[1, 2, 3]], [[1, 0]])
    with pytest.raises(InputError):
        MotionHints.create("abc", [[1, 0]])
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[..., :3] = 255  # white everywhere: the varying alpha channel is the mask
    rgba[3:9, 4:7, 3] = 255
    assert int(load_mask(rgba, H, W).sum()) == 18


def test_kernel_sigma_many_hints_matches_brute_force():
    g = torch.Generator().manual_seed(3)
    starts = torch.rand(2100, 2, generator=g) * 1000  # more rows than one chunk
    d = torch.cdist(starts.double(), starts.double())
    d.fill_diagonal_(math.inf)
    want = float(d.min(dim=1).values.mean())
    got = kernel_sigma(starts, 1000, 1000, MotionSettings(sigma_min=1e-4, sigma_max=1.0))
    assert got == pytest.approx(want, rel=1e-12)
