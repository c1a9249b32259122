import math

import pytest
import torch

from cinemagraph3d import InputError, PinholeCamera
from cinemagraph3d.geometry.camera import pixel_grid, project, transform_points, unproject_depth


def test_default_intrinsics():
    cam = PinholeCamera.default(640, 360)
    assert (cam.fx, cam.fy, cam.cx, cam.cy) == (640.0, 640.0, 320.0, 180.0)


def test_fov_intrinsics():
    cam = PinholeCamera.default(200, 100, fov_deg=90.0)
    assert cam.fx == pytest.approx(100.0)  # tan(45°) = 1: half-width 100 px at f = 100


@pytest.mark.parametrize("fov", [0.0, 180.0, float("nan"), -5.0])
def test_bad_fov(fov):
    with pytest.raises(InputError, match="fov_deg"):
        PinholeCamera.default(10, 10, fov)


def test_unproject_project_round_trip():
    cam = PinholeCamera.default(37, 23, 70.0)
    K = cam.matrix(dtype=torch.float64)
    uv = pixel_grid(23, 37, dtype=torch.float64).permute(1, 2, 0)
    z = torch.rand(23, 37, dtype=torch.float64) * 10 + 0.1
    pts = unproject_depth(uv, z, K)
    uv2, z2 = project(pts, K)
    torch.testing.assert_close(uv2, uv, rtol=0, atol=1e-9)
    torch.testing.assert_close(z2, z)


def test_pixel_centres():
    g = pixel_grid(2, 3)
    assert g[:, 0, 0].tolist() == [0.5, 0.5]
    assert g[:, 1, 2].tolist() == [2.5, 1.5]


def test_transform_points_rigid():
    a = math.radians(30)
    T = torch.eye(4, dtype=torch.float64)
    T[:3, :3] = torch.tensor([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    T[:3, 3] = torch.tensor([1.0, 2.0, 3.0])
    p = torch.randn(10, 3, dtype=torch.float64)
    q = transform_points(T, p)
    torch.testing.assert_close((q[0] - q[1]).norm(), (p[0] - p[1]).norm())
    torch.testing.assert_close(q[0], T[:3, :3] @ p[0] + T[:3, 3])


def test_from_matrix_rejects_bad_K():
    with pytest.raises(InputError, match="K"):
        PinholeCamera.from_matrix([[1, 0], [0, 1]], 4, 4)
    with pytest.raises(InputError, match="K"):
        PinholeCamera.from_matrix([[1, 0.5, 2], [0, 1, 2], [0, 0, 1]], 4, 4)
