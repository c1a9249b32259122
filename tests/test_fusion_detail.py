"""Issue 13: fusion that keeps the photo's texture, exact loop, crack-free stretched surfaces."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import cinemagraph3d as c3
from cinemagraph3d.eval import motion_metrics as mm
from cinemagraph3d.pipeline import RenderSettings, point_phases, prepare_scene, render_frames
from cinemagraph3d.render.fuse import FUSION_METHODS, FusionSettings, dissolve_phase, fuse_bidirectional
from cinemagraph3d.types import DepthMap, SceneFlow, SplatResult


def _texture(seed: int, H: int = 64, W: int = 96) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (0.5 + 0.15 * torch.randn(3, H, W, generator=g)).clamp(0, 1)


def _splat(x: torch.Tensor) -> SplatResult:
    ones = torch.ones(1, *x.shape[1:])
    return SplatResult(x, ones, ones)


def _lap_var(x: torch.Tensor) -> float:
    k = torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]]).view(1, 1, 3, 3)
    return float(F.conv2d(x.mean(0, keepdim=True)[None], k)[..., 4:-4, 4:-4].var())


@pytest.mark.parametrize("method", FUSION_METHODS)
def test_loop_ends_are_the_splats_exactly(method):
    f, b = _splat(_texture(0)), _splat(_texture(1))
    s = FusionSettings(method=method)
    assert fuse_bidirectional(f, b, 0.0, 8, 1.0, s) is f
    assert fuse_bidirectional(f, b, 8.0, 8, 1.0, s) is b
    same = fuse_bidirectional(f, f, 3.0, 8, 1.0, s)  # identical splats: returned bit for bit
    assert torch.equal(same.features, f.features)


def test_unrelated_textures_keep_their_detail_mid_loop():
    """A 50/50 cross-fade of two unrelated textures halves the Laplacian variance; the
    variance-restoring and dissolving fusions keep it."""
    f, b = _splat(_texture(0)), _splat(_texture(1))
    ref = 0.5 * (_lap_var(f.features) + _lap_var(b.features))
    got = {m: _lap_var(fuse_bidirectional(f, b, 4.0, 8, 1.0, FusionSettings(method=m)).features) / ref
           for m in FUSION_METHODS}  # fmt: skip
    assert 0.4 < got["linear"] < 0.6
    assert got["variance"] > 0.85
    assert got["dissolve"] > 0.85


def test_variance_restoration_leaves_agreeing_textures_alone():
    """Where both splats show the same texture the detail gain is 1 (no over-sharpening)."""
    x = _texture(3)
    f, b = _splat(x), _splat(x + 1e-4)  # differ everywhere (so no bit-for-bit shortcut), agree in texture
    out = fuse_bidirectional(f, b, 4.0, 8, 1.0, FusionSettings(method="variance"))
    torch.testing.assert_close(out.features, x + 0.5e-4, atol=1e-5, rtol=0)


SINGLE_BAND = FusionSettings(band_radii=(), band_widths=())


def test_single_band_dissolve_shows_mostly_one_splat_and_fills_holes_from_the_other():
    f, b = _splat(torch.zeros(3, 64, 96)), _splat(torch.ones(3, 64, 96))
    out = fuse_bidirectional(f, b, 4.0, 8, 1.0, SINGLE_BAND)
    v = out.features[0]
    share_pure = float(((v < 0.02) | (v > 0.98)).float().mean())
    assert share_pure > 0.4  # the linear cross-fade has none: every pixel is 0.5
    # the forward splat has a hole: there the backward splat is taken, whatever the switch time
    alpha = torch.ones(1, 64, 96)
    alpha[:, :, :10] = 0.0
    holed = SplatResult(f.features * alpha, alpha, alpha)
    for s in (SINGLE_BAND, FusionSettings()):
        out = fuse_bidirectional(holed, b, 0.5, 8, 1.0, s)
        torch.testing.assert_close(out.features[:, :, :10], torch.ones(3, 64, 10))
        assert float(out.alpha[:, :, :10].min()) == 1.0


@pytest.mark.parametrize("native", [False, True])
def test_multi_band_dissolve_cross_fades_flat_colour_smoothly(native):
    """Analytic: two flat colours have no band but the residual, so every pixel is the smoothstep
    ``S(v) = 3v² − 2v³`` of the residual's switch, ``v = (τ − φ_L)/w_L + 1/2`` with ``φ_L = w_L/2 +
    (1 − w_L)(φ − δ/2)/(1 − δ)`` (``φ`` the screen's switch-time field): with the default
    ``w_L = 0.85`` the values spread by at most ``0.15/0.85`` of the loop in switch time, and with
    ``w_L = 1`` the cross-fade is uniform, ``S(τ)``."""
    if native and not c3.render.native_available():
        pytest.skip("native extension not built")
    f, b = _splat(torch.zeros(3, 64, 96)), _splat(torch.ones(3, 64, 96))
    for widths in ((0.4, 0.7, 0.85), (0.4, 0.7, 1.0)):
        s = FusionSettings(band_widths=widths)
        d, w = s.dissolve_width, widths[-1]
        u = ((dissolve_phase(64, 96, s) - d / 2) / (1 - d)).clamp(0, 1)
        for t in (1.0, 2.0, 4.0, 7.0):
            out = fuse_bidirectional(f, b, t, 8, 1.0, s, native=native).features
            v = ((t / 8 - (w / 2 + (1 - w) * u)) / w + 0.5).clamp(0, 1)
            want = (v * v * (3 - 2 * v)).expand(3, -1, -1)
            torch.testing.assert_close(out, want, atol=1e-5, rtol=0)
            if w == 1.0:
                assert float(out.max() - out.min()) < 1e-5


@pytest.mark.parametrize("native", [False, True])
def test_bands_switching_as_fast_as_the_detail_are_the_single_band_dissolve(native):
    """With every band's width the detail band's ``δ`` the switch times are the same and the bands
    telescope back to the single-band blend."""
    if native and not c3.render.native_available():
        pytest.skip("native extension not built")
    f, b = _splat(_texture(0)), _splat(_texture(1))
    b.alpha[:, 20:30, 30:40] = 0.3
    d = FusionSettings().dissolve_width
    same = FusionSettings(band_radii=(0.05, 0.12), band_widths=(d, d, d))
    for t in (1.5, 4.0, 6.5):
        one = fuse_bidirectional(f, b, t, 8, 1.0, SINGLE_BAND, native=native)
        many = fuse_bidirectional(f, b, t, 8, 1.0, same, native=native)
        for x, y in zip(many, one):
            torch.testing.assert_close(x, y, atol=2e-6, rtol=0)
        # the default bands are a different blend of the same two splats
        dflt = fuse_bidirectional(f, b, t, 8, 1.0, FusionSettings(), native=native)
        assert float((dflt.features - one.features).abs().max()) > 0.05


def test_coarse_bands_fade_slowly_and_fine_detail_stays_single():
    """Two unrelated textures mid-loop: the default bands keep the detail of the single-band
    dissolve (no ghosted double texture) while the coarse structure is a smooth blend: the
    image's low-pass differs from the cross-fade of the two low-passes by far less than the
    single band's blotches do."""

    def tex(seed):  # smooth structure (bilinear from a coarse random grid) plus fine grain
        g = torch.Generator().manual_seed(100 + seed)
        coarse = F.interpolate(torch.rand(1, 3, 6, 9, generator=g), (64, 96), mode="bilinear")[0]
        return (0.3 * coarse + 0.35 + 0.1 * torch.randn(3, 64, 96, generator=g)).clamp(0, 1)

    f, b = _splat(tex(0)), _splat(tex(1))
    ref = 0.5 * (_lap_var(f.features) + _lap_var(b.features))
    one = fuse_bidirectional(f, b, 4.0, 8, 1.0, SINGLE_BAND).features
    many = fuse_bidirectional(f, b, 4.0, 8, 1.0, FusionSettings()).features
    assert _lap_var(many) / ref > 0.85
    low = lambda x: F.avg_pool2d(x[None], 9, 1)[0]  # noqa: E731
    fade = 0.5 * (low(f.features) + low(b.features))
    assert float((low(many) - fade).abs().mean()) < 0.5 * float((low(one) - fade).abs().mean())


@pytest.mark.parametrize(
    "kw",
    [{"band_radii": (0.1, 0.05), "band_widths": (0.4, 0.7, 1.0)}, {"band_radii": (0.0,), "band_widths": (0.4, 1.0)},
     {"band_radii": (0.05,), "band_widths": (0.4, 0.7, 1.0)}, {"band_radii": (0.05,), "band_widths": (0.1, 1.0)},
     {"band_radii": (0.05,), "band_widths": (0.9, 0.5)}, {"band_radii": (), "band_widths": (0.5, 0.6)},
     {"band_radii": (0.05,), "band_widths": (0.4, 1.5)}],
)  # fmt: skip
def test_band_settings_are_checked(kw):
    with pytest.raises(c3.InputError, match="FusionSettings.band_"):
        FusionSettings(**kw)


def test_dissolve_phase_is_deterministic_uniform_and_in_range():
    s = FusionSettings()
    a, b = dissolve_phase(40, 60, s), dissolve_phase(40, 60, FusionSettings(seed=0))
    assert torch.equal(a, b)
    assert not torch.equal(a, dissolve_phase(40, 60, FusionSettings(seed=1)))
    d = s.dissolve_width
    assert float(a.min()) >= d / 2 and float(a.max()) <= 1 - d / 2
    hist = torch.histc(a, bins=4, min=d / 2, max=1 - d / 2)
    assert float(hist.min()) > 0.2 * a.numel()  # rank-equalised: about a quarter per bin


def _plane_scene(H=36, W=48):
    img = _texture(5, H, W)
    return prepare_scene(img, DepthMap(torch.full((1, H, W), 2.0), True, "test"))


class _Expand(SceneFlow):
    """Full-map motion stretching the image about its centre column: D_x = g·t·(x − cx)."""

    def __init__(self, H, W, N, g):
        self.N, self.g = N, g
        self.num_steps = N
        x = torch.arange(W, dtype=torch.float32) + 0.5
        self.base = (x - W / 2).expand(H, W)

    def forward(self, t):
        return torch.stack([self.g * t * self.base, torch.zeros_like(self.base)])

    def backward(self, t):
        return torch.stack([-self.g * (self.N - t) * self.base, torch.zeros_like(self.base)])


def test_stretched_surface_stays_covered():
    """A surface the motion stretches to 1.8× breaks into a dot grid with camera-only footprints
    and stays covered with stretch-widened ones."""
    H, W, N = 36, 48, 8
    scene = _plane_scene(H, W)
    motion = _Expand(H, W, N, 0.1)
    traj = c3.make_trajectory(c3.TrajectorySettings("static", 1), scene.camera, 1.0, 1.0)
    inner = (slice(4, -4), slice(14, 34))
    cracks = {}
    for stretch in (False, True):
        rs = RenderSettings(mode="forward", stretch_footprints=stretch, safe_zoom=False)
        _, res = next(render_frames(scene, traj, motion, N, rs, return_aux=True, times=[N]))
        cracks[stretch] = int((res.alpha[0][inner] < 0.5).sum())
    assert cracks[False] > 20
    assert cracks[True] == 0


def test_point_phases_agree_between_the_two_clouds_under_uniform_flow():
    """At every scene time the backward cloud carries, at a pixel, the switch time of the material
    the forward cloud shows there (uniform translation)."""
    H, W, N = 24, 40, 8
    scene = _plane_scene(H, W)

    class Shift:
        def forward(self, t):
            return torch.stack([torch.full((H, W), 0.5 * t), torch.zeros(H, W)])

        def backward(self, t):
            return torch.stack([torch.full((H, W), -0.5 * (N - t)), torch.zeros(H, W)])

    pf, pb = point_phases(scene, Shift(), N, FusionSettings())
    # At time t the forward point of p_f is at p_f + t/2 and the backward point of p_b at
    # p_b - (N - t)/2: they meet where p_b = p_f + 4, at every t. So the backward point of pixel p
    # carries the forward point's phi(p - 4). (The first version of this test, and of
    # point_phases, had phi(p + 4): the partner two loops' travel away, 8 px apart at every t.)
    u = scene.cloud.pixels[:, 0]
    j = (u - 0.5).long()
    row = (scene.cloud.pixels[:, 1] - 0.5).long()
    grid_f = torch.zeros(H, W)
    grid_f[row, j] = pf
    for t in (0.0, 3.0, 8.0):  # the two points really are at the same place
        x_f = (j[None] - 4).float() + 0.5 + 0.5 * t
        x_b = u - 0.5 * (N - t)
        torch.testing.assert_close(x_f[0], x_b)
    sel = j - 4 > 0
    torch.testing.assert_close(pb[sel], grid_f[row[sel], j[sel] - 4], atol=1e-5, rtol=0)


def test_ghosting_metric_sees_a_cross_fade_and_not_the_photo():
    H, W = 48, 120
    photo = _texture(7, H, W)
    flow = torch.zeros(2, H, W)
    flow[0] = 1.0
    mask = torch.ones(H, W, dtype=torch.bool)
    shifted = torch.roll(photo, -10, dims=2)  # photo(x + 10): a copy 10 steps along the flow
    fade = 0.5 * (photo + shifted)
    g = mm.ghosting_scores(torch.stack([photo, fade]), mask, flow, photo, mask, max_steps=20)
    assert float(g[0]) < 0.05
    assert 0.35 < float(g[1]) < 0.65
    d = mm.detail_ratios(torch.stack([photo, fade]), mask, photo, mask)
    assert float(d[0]) == pytest.approx(1.0)
    assert 0.4 < float(d[1]) < 0.65


def test_render_with_dissolve_turbulence_and_ghosts_is_deterministic():
    from cinemagraph3d.motion import MotionHints, MotionRegion, integrate_motion, motion_field

    H, W, N = 24, 40, 8
    scene = _plane_scene(H, W)
    mask = torch.zeros(H, W, dtype=torch.bool)
    mask[8:, :] = True  # touches the left, right and bottom borders
    traj = c3.make_trajectory(c3.TrajectorySettings("circle", 4, 0.02), scene.camera, 2.0, 2.0)
    runs = []
    for _ in range(2):
        field = motion_field(H, W, [MotionRegion(mask, MotionHints.create([[20.0, 16.0]], [[0.8, 0.1]]))])
        assert field.turbulence is not None
        runs.append(torch.stack(list(render_frames(scene, traj, integrate_motion(field, N), N))))
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0][1], runs[0][2])  # it does move
