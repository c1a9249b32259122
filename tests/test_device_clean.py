"""Device-clean stages: every tensor follows its input's device. With the default device set to
``meta``, a tensor created without an explicit device lands on ``meta`` and any op mixing it
with the CPU inputs fails, so a stray CPU assumption (which would break a CUDA run) fails here on
the CPU too. The frames must equal an ordinary run bit for bit."""

from __future__ import annotations

import torch

import cinemagraph3d as c3
from cinemagraph3d.demo import demo_scene
from cinemagraph3d.motion import MotionHints, MotionRegion, integrate_motion, motion_field


def _render(d, strict: bool):
    meta = torch.device("meta") if strict else torch.device("cpu")
    with meta:
        depth = c3.estimate_depth(d.image)
        scene = c3.prepare_scene(d.image, depth)
    # a camera path has no tensor input: it is made on the default device, outside the check
    traj = c3.make_trajectory(
        c3.TrajectorySettings("circle", 3, 0.03), scene.camera, scene.z_near, scene.z_subject
    )
    with meta:
        hints = MotionHints(d.hints[:, :2].float(), d.hints[:, 2:].float())
        field = motion_field(d.image.shape[1], d.image.shape[2], [MotionRegion(d.water, hints)])
        disp = integrate_motion(field, 8)
        return list(c3.render_frames(scene, traj, disp, 8))


def test_classic_pipeline_creates_no_tensor_on_the_default_device():
    d = demo_scene(64, 40)
    strict = _render(d, strict=True)
    plain = _render(d, strict=False)
    assert len(strict) == 3 and all(f.device.type == "cpu" for f in strict)
    assert all(torch.equal(a, b) for a, b in zip(strict, plain))
    assert not torch.equal(strict[0], strict[1])  # not vacuous: water and camera moved
