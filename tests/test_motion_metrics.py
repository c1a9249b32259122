"""Issue 13: the per-frame motion metrics on inputs with known answers."""

from __future__ import annotations

import math

import torch

from cinemagraph3d.eval import motion_metrics as mm


def _smooth_texture(seed: int, H: int, W: int, shift: tuple[float, float] = (0.0, 0.0)) -> torch.Tensor:
    """A periodic texture with amplitude ∝ f^-1.5 (detail at every scale, smooth like water at
    the pixel scale), translated exactly by
    ``shift`` pixels (Fourier phase), as a ``(3, H, W)`` grey image."""
    g = torch.Generator().manual_seed(seed)
    spec = torch.fft.fft2(torch.randn(H, W, generator=g, dtype=torch.float64))
    fy = torch.fft.fftfreq(H, dtype=torch.float64)[:, None]
    fx = torch.fft.fftfreq(W, dtype=torch.float64)[None, :]
    r = torch.sqrt(fx * fx + fy * fy)
    spec = spec * (r < 0.3) / r.clamp(min=1.0 / max(H, W)) ** 1.5
    spec = spec * torch.exp(-2j * math.pi * (fx * shift[0] + fy * shift[1]))
    img = torch.fft.ifft2(spec).real
    img = 0.45 + 0.08 * img / float(torch.fft.ifft2(spec.abs()).real.std())
    return img.clamp(0, 1)[None].expand(3, H, W).float()


def test_border_seam_finds_a_tear_along_the_border_and_not_in_seamless_texture():
    H, W = 108, 192
    mask = torch.ones(H, W, dtype=torch.bool)
    # seamless: the texture translated by sub-pixel amounts (exact), as fluid moving without tears
    seamless = torch.stack([_smooth_texture(0, H, W, (1.7 * k, 0.3 * k)) for k in range(4)])
    s = mm.border_seams(seamless, mask)
    assert float(s.max()) <= 1.5, s
    # a tear: left of a slanted line 8-30 px from the left border, unrelated texture of the same kind
    other = _smooth_texture(1, H, W)
    yy, xx = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    left = xx < 8 + 0.2 * yy
    torn = torch.where(left[None], other, seamless[0])
    bottom = torch.where((yy >= H - 12)[None], other, seamless[0])  # a straight one at the bottom
    middle = torch.where((xx < W // 2)[None], other, seamless[0])  # the same tear mid-image
    t = mm.border_seams(torch.stack([torn, bottom, middle]), mask)
    assert float(t[0]) > 2.0 and float(t[1]) > 2.0, t
    assert float(t[2]) <= 1.5, t  # not a border seam
    # outside the fluid nothing counts: the same tear with the strip masked out
    assert float(mm.border_seams(torn[None], mask & ~left & (xx > 40))[0]) <= 1.5


def test_border_seam_passes_the_study_photo_itself():
    """The control: the photo of the study (long wave crests, foam with long edges) has no tear."""
    p = mm.study_photo(384, 216)
    assert float(mm.border_seams(p.image[None], p.regions[0][2])[0]) <= 1.5


def test_crack_pixels_count_uncovered_pixels_inside_surfaces_only():
    alpha = torch.ones(2, 1, 30, 40)
    alpha[1, 0, 10, 5:25] = 0.2  # a 20-px crack line
    alpha[1, 0, :, 0] = 0.0  # uncovered column at the surface's edge: not counted (eroded)
    surface = torch.ones(2, 1, 30, 40, dtype=torch.bool)
    c = mm.crack_pixels(alpha, surface)
    assert c.tolist() == [0.0, 20.0]


def test_hint_agreement_of_a_uniform_field():
    flow = torch.zeros(2, 40, 60)
    flow[0] = 1.2
    mask = torch.ones(40, 60, dtype=torch.bool)
    speed, cos = mm.hint_agreement(flow, torch.tensor([[30.0, 20.0]]), torch.tensor([[1.0, 0.0]]), mask, 5.0)
    assert abs(float(speed[0]) - 1.2) < 1e-6 and abs(float(cos[0]) - 1.0) < 1e-9
    speed, cos = mm.hint_agreement(flow, torch.tensor([[30.0, 20.0]]), torch.tensor([[0.0, 1.0]]), mask, 5.0)
    assert abs(float(cos[0])) < 1e-9


def test_study_photo_is_deterministic_and_its_regions_hold_their_hints():
    a, b = mm.study_photo(96, 54), mm.study_photo(96, 54)
    assert torch.equal(a.image, b.image)
    for _name, kind, mask, starts, vectors in a.regions:
        assert kind in ("water", "clouds") and bool(mask.any())
        assert starts.shape == vectors.shape and starts.shape[1] == 2
    assert a.regions[0][2][:, 0].any() and a.regions[0][2][:, -1].any()  # the sea touches both sides


# --------------------------------------------------------------------------- command line
def _fake_study(monkeypatch):
    """The study replaced by a record of its arguments (the real one renders for minutes): the
    command line's own work is what is tested here."""
    calls = []

    def run_study(size, analytic=True, progress=None):
        calls.append((size, analytic))
        return "result"

    monkeypatch.setattr(mm, "run_study", run_study)
    monkeypatch.setattr(mm, "study_markdown", lambda result, command: f"# {result}\n\n{command}\n")
    return calls


def test_eval_suite_motion_writes_the_report_by_the_output_rule(tmp_path, monkeypatch, capsys):
    from cinemagraph3d.cli import main

    calls = _fake_study(monkeypatch)
    notes = tmp_path / "notes.md"
    notes.write_text("measured by hand\n")
    report = tmp_path / "motion.md"
    argv = ["eval", "--suite", "motion", "--report", str(report), "--size", "64x36", "--no-analytic"]
    assert main([*argv, "--notes", str(notes)]) == 0
    assert calls == [((64, 36), False)]
    text = report.read_text()
    assert text.startswith("# result\n") and text.endswith("## Notes\n\nmeasured by hand\n")
    assert f"cinemagraph3d eval --suite motion --report {report} --size 64x36 --no-analytic" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["motion.md", "notes.md"]  # no --out, no temporary
    capsys.readouterr()
    # an existing report is replaced only with --force; errors are one line naming the flag
    assert main(argv) == 2 and "exists" in capsys.readouterr().err
    assert main([*argv, "--force"]) == 0 and "## Notes" not in report.read_text()
    for bad, flag in ((["--size", "abc"], "--size"), (["--notes", str(tmp_path / "none.md")], "--notes")):
        capsys.readouterr()
        assert main([*argv, "--force", *bad]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"cinemagraph3d: error: {flag}:"), err
    assert len(calls) == 2
    # without --report: OUT/report.md in a new folder marked as ours
    assert main(["eval", "--suite", "motion", "--out", str(tmp_path / "o"), "--size", "64x36"]) == 0
    assert (tmp_path / "o" / "report.md").is_file() and (tmp_path / "o" / ".cinemagraph3d-output").is_file()
    assert calls[-1] == ((64, 36), True)


def test_python_m_motion_metrics_forwards_to_the_eval_command(tmp_path, monkeypatch, capsys):
    import subprocess
    import sys

    from cinemagraph3d.cli.eval import motion_study_main

    calls = _fake_study(monkeypatch)
    out = tmp_path / "q.md"
    assert motion_study_main(["--out", str(out), "--size", "96x54"]) == 0
    assert calls == [((96, 54), True)] and "cinemagraph3d eval --suite motion --report" in out.read_text()
    assert motion_study_main(["--out", str(out)]) == 2  # exists: --force to replace
    # the module's own entry point (a real process: one error line, exit 2, before any rendering)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "cinemagraph3d.eval.motion_metrics",
            "--out",
            str(tmp_path / "x.md"),
            "--size",
            "7",
        ],
        capture_output=True,
        text=True,
    )
    lines = run.stderr.strip().splitlines()
    assert run.returncode == 2 and len(lines) == 1 and lines[0].startswith("cinemagraph3d: error: --size:"), (
        run.stderr
    )
    assert not (tmp_path / "x.md").exists()
