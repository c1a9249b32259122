"""High-level calls: a :class:`~cinemagraph3d.project.Project` → frames → a video file."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from .checks import check_inputs, check_output_path
from .depth import DepthSettings, estimate_depth, load_depth_file
from .errors import InputError
from .geometry.camera import PinholeCamera
from .geometry.trajectory import Trajectory, TrajectorySettings, load_trajectory, make_trajectory
from .io import VideoWriter, read_image
from .pipeline import RenderSettings, Scene, prepare_scene, render_frames, seed_everything
from .project import Project, _is_camera_file

__all__ = [
    "Prepared",
    "prepare_project",
    "project_frames",
    "animate",
    "check_project",
    "with_auto_sky",
    "stereo_pair",
    "pack_stereo",
    "STEREO_MODES",
]


@dataclass(frozen=True)
class Prepared:
    """A project made ready to render: scene, camera path and motion."""

    project: Project
    scene: Scene
    trajectory: Trajectory
    motion: object | None
    settings: RenderSettings


def _trajectory(project: Project, scene: Scene) -> Trajectory:
    cam = project.camera
    if _is_camera_file(cam):
        return load_trajectory(cam, scene.camera, project.frames)
    return make_trajectory(
        TrajectorySettings(cam, project.frames, project.amplitude),
        scene.camera,
        scene.z_near,
        scene.z_subject,
    )


def _motion(project: Project, image: torch.Tensor, neural):
    """Integrated motion: from the user's hints, or from the learned estimator when the neural
    preset has one and the user gave regions but no arrows."""
    from .motion_inputs import build_motion, estimated_motion_field, wants_motion_estimator

    _, H, W = image.shape
    if neural is not None and neural.motion is not None and wants_motion_estimator(project):
        from .motion import integrate_motion

        return integrate_motion(estimated_motion_field(project, image, neural), project.loop_steps)
    return build_motion(project, H, W, image=image)


def with_auto_sky(project: Project, image: torch.Tensor | None = None) -> tuple[Project, str | None]:
    """The automatic sky of the CLI: a project with no motion input at all (no mask, region,
    labelme, arrows or hints) gets the detected sky as a region drifting with
    :data:`~cinemagraph3d.controls.SKY_PROMPT`.

    Args:
        project: a validated project.
        image: its ``(3, H, W)`` working photo (read from ``project.image`` when None).

    Returns:
        ``(project, note)``: the project, with the sky region when one was found; ``note`` says
        why nothing moves when no sky was found (None otherwise).

    Raises:
        InputError: no sky found while anchors or freeze masks need a region to act on.
    """
    import dataclasses

    if project.masks or project.regions or project.labelme or project.arrows or project.hints:
        return project, None
    from .controls import SKY_PROMPT, detect_sky
    from .project import PromptSpec, RegionSpec

    if image is None:
        image = read_image(project.image, project.max_side)
    det = detect_sky(image)
    if det.found:
        sky = RegionSpec(sky=True, prompts=[PromptSpec(SKY_PROMPT)])
        return dataclasses.replace(project, regions=[sky]).validate(), None
    if project.anchors or project.freeze:
        raise InputError("anchors/freeze", "a region to act on", det.note)
    return project, f"{det.note}; rendering parallax only"


def prepare_project(
    project: Project,
    image: torch.Tensor | None = None,
    allow_download: bool = False,
    neural=None,
) -> Prepared:
    """Read the inputs of ``project`` and build scene, trajectory and motion.

    With ``preset="neural"`` the LDI bands are inpainted by the learned nets when ``weights``
    holds ``depth_inpaint`` and ``color_inpaint`` (see :func:`cinemagraph3d.neural.load_neural_preset`),
    by the classic push–pull otherwise.

    Args:
        project: a validated :class:`Project`.
        image: optional ``(3, H, W)`` photo to use instead of reading ``project.image``.
        allow_download: let a learned depth back-end fetch ``project.depth_model`` from the
            Hugging Face Hub into the local cache (not recorded in the project, so a saved
            project renders offline from that cache).
        neural: the already loaded :class:`~cinemagraph3d.neural.NeuralPreset` of
            ``project.weights`` (batch rendering loads it once); loaded here when None.
    """
    project.validate()
    seed_everything(project.seed)
    if image is None:
        check_inputs(project)
        image = read_image(project.image, project.max_side)
    _, H, W = image.shape
    camera = PinholeCamera.default(W, H, project.fov)
    # Cheap file inputs first, so a bad trajectory or depth file fails before the heavy work.
    early_traj = (
        load_trajectory(project.camera, camera, project.frames) if _is_camera_file(project.camera) else None
    )
    if project.depth:
        ds = DepthSettings("file", project.depth, project.depth_kind)
        load_depth_file(project.depth, H, W, project.depth_kind)
    else:
        ds = DepthSettings(project.depth_backend, project.depth_model, project.depth_kind, allow_download)
    if project.preset != "neural":
        neural = None
    elif neural is None:
        from .neural import load_neural_preset

        neural = load_neural_preset(project.weights)
    # Motion inputs are read before the heavy work so a bad mask fails fast.
    motion = _motion(project, image, neural)
    depth = estimate_depth(image, ds)
    features = None
    ldi_settings = None
    if neural is not None:
        from .neural import encode_layers

        features = lambda ldi: encode_layers(neural, ldi)  # noqa: E731
        # learned LDI inpainting when the weights directory holds the inpainting nets
        ldi_settings = neural.ldi_settings()
    scene = prepare_scene(image, depth, camera, ldi_settings=ldi_settings, features=features)
    traj = early_traj if early_traj is not None else _trajectory(project, scene)
    # With --no-safe-zoom a custom trajectory's K is used exactly as given.
    settings = RenderSettings(safe_zoom=project.safe_zoom, neural=neural)
    return Prepared(project, scene, traj, motion, settings)


STEREO_MODES = ("sbs", "tb", "anaglyph")
#: Default stereo baseline as a fraction of the near depth: the nearest surfaces get a
#: disparity of about ``0.03·f`` pixels (3 % of the longer side with the default focal length).
DEFAULT_BASELINE = 0.03


def stereo_pair(scene: Scene, trajectory: Trajectory, baseline: float | None = None, zoom: bool = True):
    """Left and right eye trajectories for stereo 3D.

    The eyes are ``b = baseline · z_near`` scene units apart along each frame's camera x axis
    (left eye at ``-b/2``), parallel, converged on the subject plane ``z_subject`` by shifting
    each eye's principal point by ``∓ f·b / (2 z_subject)``: a point at depth ``z`` has the
    screen disparity ``u_L − u_R = f · b · (1/z − 1/z_subject)`` pixels (positive: in front of
    the screen). Both eyes share one safe zoom (the same framing, no vertical disparity).

    Args:
        scene: the prepared scene (its ``z_near``, ``z_subject`` and border points).
        trajectory: the camera path of the video (centre between the eyes).
        baseline: eye distance as a fraction of ``z_near`` (default :data:`DEFAULT_BASELINE`).
        zoom: apply the common safe zoom (False: zoom 1, the photo's border may show).

    Returns:
        ``(left, right)`` :class:`Trajectory` objects, already zoomed (render them with
        ``safe_zoom=False``), and the zoom.

    Raises:
        InputError: a baseline outside (0, 0.2], or eyes so far apart that no zoom up to 2×
            keeps the photo's border out of both views.
    """
    from .geometry.trajectory import safe_zoom
    from .pipeline import border_points

    frac = DEFAULT_BASELINE if baseline is None else float(baseline)
    if not 0 < frac <= 0.2:
        raise InputError("baseline", "a fraction of the near depth in (0, 0.2]", baseline)
    b = frac * scene.z_near
    T, K = trajectory.cam_from_world, trajectory.K
    eyes = []
    for sign in (+1.0, -1.0):  # left eye at -b/2: its camera frame sees points shifted by +b/2
        Te = T.clone()
        Te[:, 0, 3] += sign * b / 2
        Ke = K.clone()
        Ke[:, 0, 2] -= sign * Ke[:, 0, 0] * b / (2 * scene.z_subject)
        eyes.append(Trajectory(Te, Ke, trajectory.width, trajectory.height))
    both = Trajectory(
        torch.cat([e.cam_from_world for e in eyes]),
        torch.cat([e.K for e in eyes]),
        trajectory.width,
        trajectory.height,
    )
    if not zoom:
        return eyes[0], eyes[1], 1.0
    zoom = safe_zoom(both, border_points(scene), max_zoom=2.0)
    if zoom >= 2.0 - 1e-9:
        raise InputError(
            "stereo",
            "eyes whose views stay inside the photo (a smaller baseline or camera amplitude)",
            f"baseline {frac:g} of the near depth needs more than 2x zoom",
        )
    return eyes[0].zoomed(zoom), eyes[1].zoomed(zoom), zoom


def pack_stereo(left: torch.Tensor, right: torch.Tensor, mode: str) -> torch.Tensor:
    """One frame from the two eyes' ``(3, H, W)`` frames: ``sbs`` (left | right, ``(3, H, 2W)``),
    ``tb`` (left above right, ``(3, 2H, W)``) or ``anaglyph`` (red from the left eye, green and
    blue from the right: red-cyan glasses, ``(3, H, W)``)."""
    if mode == "sbs":
        return torch.cat([left, right], dim=2)
    if mode == "tb":
        return torch.cat([left, right], dim=1)
    if mode == "anaglyph":
        return torch.stack([left[0], right[1], right[2]])
    raise InputError("stereo", f"one of {', '.join(STEREO_MODES)}", repr(mode))


def project_frames(prepared: Prepared) -> Iterator[torch.Tensor]:
    """Frames ``(3, H, W)`` of a prepared project, one at a time (with ``stereo``: the two
    eyes at the same scene time, packed; see :func:`stereo_pair` and :func:`pack_stereo`)."""
    import dataclasses

    p = prepared.project
    if not p.stereo:
        return render_frames(
            prepared.scene, prepared.trajectory, prepared.motion, p.loop_steps, prepared.settings
        )
    left, right, _ = stereo_pair(
        prepared.scene, prepared.trajectory, p.baseline, zoom=prepared.settings.safe_zoom
    )
    settings = dataclasses.replace(prepared.settings, safe_zoom=False)
    eye_l = render_frames(prepared.scene, left, prepared.motion, p.loop_steps, settings)
    eye_r = render_frames(prepared.scene, right, prepared.motion, p.loop_steps, settings)
    return (pack_stereo(a, b, p.stereo) for a, b in zip(eye_l, eye_r))


def _check_writer(project: Project, out: Path, force: bool = False) -> None:
    """The output settings against the output path (codec, quality, bit rate, loops)."""
    from .io import MAX_LOOPS, check_codec

    suffix = out.suffix.lower()
    if suffix in ("", ".png"):
        if project.codec is not None or project.quality is not None or project.bitrate is not None:
            raise InputError("codec/quality/bitrate", "a video file output", "PNG frames")
    else:
        check_codec(suffix, project.codec, project.quality, project.bitrate)
    if project.live_photo:
        if suffix != ".mov":
            raise InputError(
                "--live-photo", "a .mov output (the key photo is written beside it as .jpg)", str(out)
            )
        check_output_path(
            out.with_suffix(".jpg"), name="--live-photo key photo", inputs=project.paths(), others=[out]
        )
    if not 1 <= project.loops <= MAX_LOOPS or (project.loops > 1 and suffix == ".png"):
        raise InputError("loops", f"1–{MAX_LOOPS} (a .png still holds one loop)", project.loops)


def check_project(project: Project, output: str | os.PathLike | None = None, force: bool = False) -> None:
    """The validation pass of :func:`animate`, without the heavy work: every field's type and
    range, every input file's existence, the photo's size from its header, a trajectory file's
    poses and a depth file's values (at the working size), and the output path (not taken
    unless ``force``, not an input, not containing one; see
    :func:`~cinemagraph3d.checks.check_output_path`).

    Raises:
        InputError: naming the first input that fails.
    """
    w, h = check_inputs(project)
    if output is not None:
        out = check_output_path(output, force=force, inputs=project.paths())
        if out.suffix.lower() == ".png" and project.frames != 1:
            raise InputError(
                "-o/--output", "a directory for several frames (a .png holds one: --frames 1)", str(out)
            )
        _check_writer(project, out, force)
    if _is_camera_file(project.camera):
        load_trajectory(project.camera, PinholeCamera.default(w, h, project.fov), project.frames)
    if project.depth:
        load_depth_file(project.depth, h, w, project.depth_kind)


def animate(
    project: Project,
    output: str | os.PathLike,
    progress: bool = False,
    allow_download: bool = False,
    force: bool = False,
    neural=None,
    depth_output: str | os.PathLike | None = None,
    ply_output: str | os.PathLike | None = None,
) -> Path:
    """Render ``project`` to ``output`` (``.mp4``/``.gif``/``.webp``, a ``.png`` still or a
    PNG-frame directory).

    Everything is checked before any work (:func:`check_project`); frames are streamed, and the
    file appears only when complete (see :class:`~cinemagraph3d.io.VideoWriter`). An existing
    ``output`` is refused unless ``force``. ``allow_download`` and ``neural`` (preloaded
    networks) as in :func:`prepare_project`. ``depth_output``: also write each frame's depth
    (:class:`~cinemagraph3d.io.DepthWriter`: a folder of 16-bit PNGs or a grey video).
    ``ply_output``: also write the scene's point cloud with colour and per-point motion
    (:func:`~cinemagraph3d.io.write_ply`), after the video.
    """
    check_project(project, output, force)
    if depth_output is not None or ply_output is not None:
        from .checks import check_outputs

        outs = [
            ("-o/--output", output, "video"),
            ("--depth-out", depth_output, "video"),
            ("--ply", ply_output, "ply"),
        ]
        check_outputs(outs, project.paths(), force)
    if depth_output is not None:
        if project.stereo:
            raise InputError("--depth-out", "a single view (no --stereo)", f"--stereo {project.stereo}")
    prepared = prepare_project(project, allow_download=allow_download, neural=neural)
    if prepared.trajectory.width != prepared.scene.camera.width:
        raise InputError("trajectory", "frames at the photo's size", prepared.trajectory.width)
    if depth_output is None:
        pairs = ((f, None) for f in project_frames(prepared))
    else:
        p = prepared
        pairs = render_frames(
            p.scene, p.trajectory, p.motion, project.loop_steps, p.settings, return_aux=True
        )
    with contextlib.ExitStack() as stack:
        writer = stack.enter_context(
            VideoWriter(
                output,
                project.fps,
                force=force,
                inputs=project.paths(),
                codec=project.codec,
                crf=project.quality,
                bitrate=project.bitrate,
                loops=project.loops,
                live_photo=project.live_photo,
            )
        )
        depth_writer = None
        if depth_output is not None:
            from .io import DepthWriter

            depth_writer = stack.enter_context(
                DepthWriter(depth_output, project.fps, force=force, inputs=project.paths())
            )
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(prepared.trajectory), unit="frame", desc="rendering", leave=False)
        try:
            for frame, aux in pairs:
                writer.write(frame)
                if depth_writer is not None:
                    depth_writer.write(aux.depth, prepared.scene.z_near)
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()  # erases the bar, so an error message starts on a clean line
    if ply_output is not None:
        from .io import point_motion, write_ply

        scene = prepared.scene
        try:
            motion = None
            if prepared.motion is not None:
                motion = point_motion(scene.cloud, prepared.motion.forward(1.0), scene.camera, scene.donor)
            write_ply(ply_output, scene.cloud, motion, force=force)
        except BaseException:
            if writer.path.is_dir():  # all outputs or none
                import shutil

                shutil.rmtree(writer.path, ignore_errors=True)
            else:
                writer.path.unlink(missing_ok=True)
            raise
    return writer.path
