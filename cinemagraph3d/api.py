"""High-level calls: a :class:`~cinemagraph3d.project.Project` → frames → files.

Everything the command line does is here, so a Python caller gets the same result for the same
inputs: :func:`animate` validates everything first, reads the photo once, applies the automatic
sky (``auto_sky``), renders, and writes the video and the optional side outputs (depth, point
cloud, mask overlay, motion picture, the project as rendered), all or none.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from ._signals import held
from .checks import animate_outputs, check_inputs, check_output_path, check_outputs
from .depth import DepthSettings, estimate_depth, load_depth_file
from .devices import to_device
from .errors import InputError
from .geometry.camera import PinholeCamera
from .geometry.trajectory import Trajectory, TrajectorySettings, load_trajectory, make_trajectory
from .io import VideoWriter, read_image
from .models.bundle import Models
from .motion.integrate import Displacements
from .pipeline import RenderSettings, Scene, prepare_scene, render_frames, seed_everything
from .project import Project

__all__ = [
    "Prepared",
    "read_photo",
    "prepare_project",
    "project_frames",
    "animate",
    "check_project",
    "with_auto_sky",
    "region_overlay",
    "motion_picture",
    "reproducible",
    "stereo_pair",
    "pack_stereo",
    "STEREO_MODES",
]

log = logging.getLogger("cinemagraph3d")


@dataclass(frozen=True)
class Prepared:
    """A project made ready to render.

    Attributes:
        project: the validated :class:`Project`.
        scene: :class:`~cinemagraph3d.pipeline.Scene` (photo, depth, LDI, point cloud).
        trajectory: the camera path, ``K`` frames.
        motion: the integrated :class:`~cinemagraph3d.motion.Displacements`, or None (parallax only).
        settings: :class:`~cinemagraph3d.pipeline.RenderSettings`.
        models: the neural preset's :class:`~cinemagraph3d.models.Models`, or None (classic).
    """

    project: Project
    scene: Scene
    trajectory: Trajectory
    motion: Displacements | None
    settings: RenderSettings
    models: Models | None = None


def read_photo(project: Project) -> torch.Tensor:
    """The project's working photo ``(3, H, W)`` in [0, 1] (EXIF orientation applied, reduced
    to ``max_side``), after checking every input file (:func:`~cinemagraph3d.checks.check_inputs`)."""
    check_inputs(project)
    return read_image(project.image, project.max_side)


def _scale(project: Project, image: torch.Tensor) -> tuple[float, float]:
    """Photo pixels → working pixels (clicks, arrows, anchors and hints are in photo pixels)."""
    from .checks import image_size
    from .motion.spec import coordinate_scale

    size = image_size(project.image) if project.max_side is not None else (image.shape[2], image.shape[1])
    return coordinate_scale(size, image.shape[1], image.shape[2])


def _trajectory(project: Project, scene: Scene) -> Trajectory:
    cam = project.camera
    if cam.is_file:
        return load_trajectory(cam.path, scene.camera, cam.frames)
    return make_trajectory(
        TrajectorySettings(cam.path, cam.frames, cam.amplitude), scene.camera, scene.z_near, scene.z_subject
    )


def _auto_sky(project: Project, image: torch.Tensor) -> tuple[Project, str | None, torch.Tensor | None]:
    """:func:`with_auto_sky` and the detected sky mask (None when none was added)."""
    if project.motion.has_regions_or_hints:
        return project, None, None
    from .controls import SKY_PROMPT, detect_sky
    from .project import PromptSpec, RegionSpec

    det = detect_sky(image)
    if det.found:
        sky = RegionSpec(sky=True, prompts=[PromptSpec(SKY_PROMPT)])
        return project.replace(motion={"regions": [sky]}).validate(), None, det.mask
    if project.motion.anchors or project.motion.freeze:
        raise InputError("motion.anchors/freeze", "a region to act on", det.note)
    return project, f"{det.note}; rendering parallax only", None


def with_auto_sky(project: Project, image: torch.Tensor | None = None) -> tuple[Project, str | None]:
    """The automatic sky: a project with no motion input at all (no mask, region, labelme,
    arrows or hints) gets the detected sky as a region drifting with
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
    if project.motion.has_regions_or_hints:
        return project, None
    if image is None:
        image = read_image(project.image, project.max_side)
    project, note, _ = _auto_sky(project, image)
    return project, note


def region_overlay(
    project: Project, image: torch.Tensor, sky_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """The regions, freeze mask and clicks of ``project`` drawn over its working photo
    ``(3, H, W)`` → ``(3, H, W)`` in [0, 1] (see :func:`~cinemagraph3d.controls.draw_mask_overlay`;
    ``sky_mask``: the photo's sky when already detected)."""
    from .controls import draw_mask_overlay
    from .motion.spec import build_region_masks

    scale = _scale(project, image)
    masks, freeze = build_region_masks(project.motion, image, scale, sky_mask)
    sx, sy = scale
    regions = project.motion.regions
    clicks = [[x * sx, y * sy] for r in regions for x, y in r.clicks]
    unclicks = [[x * sx, y * sy] for r in regions for x, y in r.unclicks]
    return draw_mask_overlay(image, masks, clicks, unclicks, freeze=freeze)


def motion_picture(
    project: Project, image: torch.Tensor, sky_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """The dense motion field of ``project`` drawn over its working photo (arrows and colour
    wheel, :func:`~cinemagraph3d.motion.draw_motion_field`), ``(3, H, W)`` in [0, 1]
    (``sky_mask``: the photo's sky when already detected).

    Raises:
        InputError: nothing to draw, or masks whose motion the learned estimator predicts only
            during the render.
    """
    from .motion import draw_motion_field
    from .motion.spec import build_motion_field, wants_motion_estimator

    if wants_motion_estimator(project.motion, project.render.preset):
        raise InputError(
            "motion_png",
            "arrows, hints, labelme, prompts or a video to draw",
            "masks whose motion the neural estimator predicts during the render",
        )
    field = build_motion_field(project.motion, image, _scale(project, image), sky_mask)
    if field is None:
        raise InputError("motion_png", "motion inputs to draw (a mask, arrows or a prompt)", "none")
    return draw_motion_field(field, image)


def reproducible(project: Project) -> Project:
    """The project as it rendered: ``depth.backend="auto"`` that fell back to the training-free
    depth is saved as ``"heuristic"``, so fetching the learned model later does not change what
    the saved project renders (``"auto"`` that used the fetched model stays ``"auto"``)."""
    from .depth import resolve_auto_depth

    d = project.depth
    if d.file or d.backend != "auto":
        return project
    chosen = resolve_auto_depth(DepthSettings("auto", d.model, d.kind))
    return project.replace(depth={"backend": "heuristic"}) if chosen.backend == "heuristic" else project


#: The stages :func:`prepare_project` reports to its ``stage`` callback, in order.
PREPARE_STAGES = ("motion", "depth", "scene")


def prepare_project(
    project: Project,
    image: torch.Tensor | None = None,
    allow_download: bool = False,
    models: Models | None = None,
    sky_mask: torch.Tensor | None = None,
    stage: Callable[[str], None] | None = None,
) -> Prepared:
    """Read the inputs of ``project`` and build scene, trajectory and motion.

    With ``render.preset="neural"`` the networks of ``render.weights`` are used (loaded here
    unless ``models`` is given): the encoder's features, the decoder, the motion estimator for
    masks without arrows, and the learned LDI inpainting when the weights hold both of its nets.

    Args:
        project: a validated :class:`Project`.
        image: optional ``(3, H, W)`` working photo (read from ``project.image`` when None).
        allow_download: let a learned depth back-end fetch ``depth.model`` from the Hugging Face
            Hub into the local cache (not recorded in the project, so a saved project renders
            offline from that cache).
        models: the already loaded :class:`~cinemagraph3d.models.Models` of ``render.weights``
            (batch rendering loads them once).
        sky_mask: the ``(H, W)`` sky of ``image`` when already detected (sky regions use it
            instead of detecting it again).
        stage: called with the name of each heavy stage as it starts, in this order:
            ``"motion"`` (field and Euler integration), ``"depth"``, ``"scene"`` (layered depth
            image, inpainting, point cloud); :data:`PREPARE_STAGES` (for progress bars).
    """
    from .motion.spec import build_motion

    def starting(name: str) -> None:
        if stage is not None:
            stage(name)

    project.validate()
    seed_everything(project.seed)
    if image is None:
        image = read_photo(project)
    _, H, W = image.shape
    camera = PinholeCamera.default(W, H, project.camera.fov)
    cam, d = project.camera, project.depth
    # Cheap file inputs first, so a bad trajectory or depth file fails before the heavy work.
    early_traj = load_trajectory(cam.path, camera, cam.frames) if cam.is_file else None
    if d.file:
        ds = DepthSettings("file", d.file, d.kind)
        load_depth_file(d.file, H, W, d.kind)
    else:
        ds = DepthSettings(d.backend, d.model, d.kind, allow_download)
    if project.render.preset != "neural":
        models = None
    elif models is None:
        from .models.bundle import load_models

        models = load_models(project.render.weights, device=image.device)
    if models is not None and models.decoder is not None:
        from .models.runtime import fast_decoder

        r = project.render  # channels-last float32 by default (equal to float32 within ~1e-6)
        models = dataclasses.replace(
            models, decoder=fast_decoder(models.decoder, r.decoder_precision, r.decoder_runtime)
        )
    # Motion inputs are read before the heavy work so a bad mask fails fast.
    estimator = None if models is None else models.motion
    starting("motion")
    motion = build_motion(
        project.motion, image, _scale(project, image), estimator=estimator, sky_mask=sky_mask
    )
    starting("depth")
    depth = estimate_depth(image, ds)
    from .ldi import LDISettings

    learned = models is not None and models.inpaint is not None
    ldi_settings = LDISettings(max_layers=d.layers, inpaint="learned" if learned else "classic")
    starting("scene")
    scene = prepare_scene(image, depth, camera, ldi_settings=ldi_settings, models=models)
    traj = early_traj if early_traj is not None else _trajectory(project, scene)
    # Without the safe zoom a custom trajectory's K is used exactly as given.
    settings = RenderSettings(safe_zoom=cam.safe_zoom)
    return Prepared(project, scene, traj, motion, settings, models)


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
    """Frames ``(3, H, W)`` of a prepared project, one at a time (with ``output.stereo``: the two
    eyes at the same scene time, packed; see :func:`stereo_pair` and :func:`pack_stereo`)."""
    p = prepared.project
    steps, models = p.motion.loop_steps, prepared.models
    if not p.output.stereo:
        return render_frames(
            prepared.scene, prepared.trajectory, prepared.motion, steps, prepared.settings, models=models
        )
    left, right, _ = stereo_pair(
        prepared.scene, prepared.trajectory, p.output.baseline, zoom=prepared.settings.safe_zoom
    )
    settings = dataclasses.replace(prepared.settings, safe_zoom=False)
    eye_l = render_frames(prepared.scene, left, prepared.motion, steps, settings, models=models)
    eye_r = render_frames(prepared.scene, right, prepared.motion, steps, settings, models=models)
    return (pack_stereo(a, b, p.output.stereo) for a, b in zip(eye_l, eye_r))


def _check_writer(project: Project, out: Path) -> None:
    """The output settings against the output path (codec, quality, bit rate, loops)."""
    from .io import MAX_LOOPS, check_codec

    o = project.output
    suffix = out.suffix.lower()
    if suffix in ("", ".png"):
        if o.codec is not None or o.quality is not None or o.bitrate is not None:
            raise InputError("output.codec/quality/bitrate", "a video file output", "PNG frames")
    else:
        check_codec(suffix, o.codec, o.quality, o.bitrate)
    if o.live_photo:
        if suffix != ".mov":
            raise InputError(
                "output.live_photo", "a .mov output (the key photo is written beside it as .jpg)", str(out)
            )
        check_output_path(
            out.with_suffix(".jpg"), name="live photo key photo", inputs=project.paths(), others=[out]
        )
    if not 1 <= o.loops <= MAX_LOOPS or (o.loops > 1 and suffix == ".png"):
        raise InputError("output.loops", f"1–{MAX_LOOPS} (a .png still holds one loop)", o.loops)


def check_project(
    project: Project, output: str | os.PathLike | None = None, force: bool = False, **side_outputs
) -> tuple[int, int]:
    """The validation pass of :func:`animate`, without the heavy work: every field's type and
    range, every input file's existence, the photo's size from its header, a trajectory file's
    poses and a depth file's values (at the working size), and every output path (not taken
    unless ``force``, not an input, not containing one, not each other; see
    :func:`~cinemagraph3d.checks.check_output_path`).

    Args:
        project: the project.
        output: the video path (None: check the inputs only).
        force: replace existing outputs that cinemagraph3d created.
        side_outputs: the side outputs of :func:`animate` by keyword (None values are skipped).

    Returns:
        ``(width, height)`` of the working image.

    Raises:
        InputError: naming the first input that fails.
    """
    outs = animate_outputs(output, side_outputs)  # refuses unknown keywords
    w, h = check_inputs(project)
    if output is not None:
        check_outputs(outs, inputs=project.paths(), force=force)
        out = Path(output)
        if out.suffix.lower() == ".png" and project.camera.frames != 1:
            raise InputError(
                "output", "a directory for several frames (a .png still holds one frame)", str(out)
            )
        _check_writer(project, out)
        if side_outputs.get("depth_output") is not None and project.output.stereo:
            raise InputError("depth_output", "a single view (no stereo)", f"stereo {project.output.stereo}")
    cam = project.camera
    if cam.is_file:
        load_trajectory(cam.path, PinholeCamera.default(w, h, cam.fov), cam.frames)
    if project.depth.file:
        load_depth_file(project.depth.file, h, w, project.depth.kind)
    return w, h


def _remove(paths) -> None:
    """Delete outputs this call created (after a later step failed)."""
    import shutil

    for p in paths:
        p = Path(p)
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        elif os.path.lexists(p):
            with contextlib.suppress(OSError):
                p.unlink()


def _as_project(source, sections: dict, max_side, seed) -> Project:
    """A :class:`Project` from a photo path or a project, with sections replaced."""
    from .project import CameraSpec

    if isinstance(source, Project):
        project = source
    elif isinstance(source, (str, os.PathLike)):
        project = Project(image=str(source))
    else:
        raise InputError("photo", "a photo path or a Project", type(source).__name__)
    changes = {k: v for k, v in sections.items() if v is not None}
    if isinstance(changes.get("camera"), str):
        changes["camera"] = CameraSpec(changes["camera"])
    if max_side is not None:
        changes["max_side"] = max_side
    if seed is not None:
        changes["seed"] = seed
    return project.replace(**changes).validate() if changes else project.validate()


def _render_device(device, project: Project) -> torch.device:
    """The checked device of :func:`animate` (see :func:`~cinemagraph3d.devices.resolve_device`)."""
    from .devices import parse_device, resolve_device

    dev = resolve_device(device)
    if dev.type != "cpu" and project.render.preset == "neural" and project.render.decoder_runtime != "torch":
        if isinstance(device, str) and parse_device(device) == "auto":
            return torch.device("cpu")  # "a GPU when there is one": not for a CPU-only runtime
        raise InputError(
            "render.decoder_runtime", f"'torch' on {dev} (OpenVINO runs on the CPU)",
            repr(project.render.decoder_runtime),
        )  # fmt: skip
    return dev


def animate(
    photo: Project | str | os.PathLike,
    output: str | os.PathLike | None = None,
    *,
    motion=None,
    camera=None,
    depth=None,
    render=None,
    video=None,
    max_side: int | None = None,
    seed: int | None = None,
    progress: bool = False,
    allow_download: bool = False,
    force: bool = False,
    models: Models | None = None,
    auto_sky: bool = False,
    depth_output: str | os.PathLike | None = None,
    ply_output: str | os.PathLike | None = None,
    mask_overlay: str | os.PathLike | None = None,
    motion_png: str | os.PathLike | None = None,
    save_project: str | os.PathLike | None = None,
    device: str | torch.device | None = None,
) -> Path | list[torch.Tensor]:
    """The whole job in one call: a photo (or a :class:`Project`), its motion, camera and
    output settings → a video file (``.mp4``/``.mov``/``.gif``/``.webp``/``.jpg`` Motion Photo,
    a ``.png`` still or a PNG-frame directory) with optional side outputs, or, without
    ``output``, the frames.

    Example (the README's; ``examples/lake_labelme.py lake/`` writes the inputs)::

        water = c3.RegionSpec(mask="lake/water.png", prompts=[c3.PromptSpec("flow left", "slow")])
        c3.animate("lake/photo.jpg", "lake.mp4", motion=c3.MotionSpec(regions=[water]),
                   camera=c3.CameraSpec("swing", frames=30), max_side=640)

    Everything is checked before any work (:func:`check_project`); the photo is read once;
    frames are streamed, and each file appears only when complete (see
    :class:`~cinemagraph3d.io.VideoWriter`); if a side output fails, every file of this call is
    removed again (all or none). An existing output is refused unless ``force``.

    Args:
        photo: the photo's path, or a :class:`Project` holding every input.
        output: the video path; None returns the frames instead, a list of ``(3, H, W)``
            tensors in [0, 1] (side outputs need ``output``).
        motion: :class:`~cinemagraph3d.project.MotionSpec` (replaces the project's).
        camera: :class:`~cinemagraph3d.project.CameraSpec`, or a camera path name.
        depth: :class:`~cinemagraph3d.project.DepthSpec`.
        render: :class:`~cinemagraph3d.project.RenderSpec`.
        video: :class:`~cinemagraph3d.project.OutputSpec` (fps, codec, quality...).
        max_side: working size (longer side, pixels); clicks, arrows and anchors stay in the
            photo's pixels.
        seed: random seed.
        progress: show progress bars on stderr: the preparation's stages (motion, depth, scene),
            then the frames.
        allow_download: as in :func:`prepare_project`.
        force: replace existing outputs that cinemagraph3d created.
        models: preloaded :class:`~cinemagraph3d.models.Models` (neural preset).
        auto_sky: with no motion input at all, animate the detected sky (:func:`with_auto_sky`;
            the command line's default); a note is logged when no sky is found.
        depth_output: also write each frame's depth (:class:`~cinemagraph3d.io.DepthWriter`: a
            folder of 16-bit PNGs or a grey video).
        ply_output: also write the scene's point cloud with colour and per-point motion
            (:func:`~cinemagraph3d.io.write_ply`).
        mask_overlay: also write the regions drawn over the photo (:func:`region_overlay`), PNG.
        motion_png: also write the motion field drawn over the photo (:func:`motion_picture`), PNG.
        save_project: also write the project as rendered (:func:`reproducible`, with the
            automatic sky region when one was added), JSON.
        device: where the frames are rendered: ``"cpu"`` (default), ``"cuda"``, ``"cuda:N"``,
            ``"auto"`` (a GPU when PyTorch sees one) or a ``torch.device``
            (:mod:`cinemagraph3d.devices`). The set-up (depth, layers, motion) runs on the CPU;
            the prepared scene, motion and networks are then moved to the device, and the frames
            come back to the CPU as they are written (or returned).

    Returns:
        The video's path, or the frames when ``output`` is None.
    """
    project = _as_project(
        photo, {"motion": motion, "camera": camera, "depth": depth, "render": render, "output": video},
        max_side, seed,
    )  # fmt: skip
    dev = _render_device(device, project)
    if output is None:
        if any(v is not None for v in (depth_output, ply_output, mask_overlay, motion_png, save_project)):
            raise InputError("output", "a video path when side outputs are asked for", "none")
        check_project(project)
        image = read_image(project.image, project.max_side)
        sky = None
        if auto_sky:
            project, note, sky = _auto_sky(project, image)
            if note:
                log.warning(note)
        prepared = prepare_project(
            project, image=image, allow_download=allow_download, models=models, sky_mask=sky
        )
        if dev.type == "cpu":
            return list(project_frames(prepared))
        return [f.cpu() for f in project_frames(to_device(prepared, dev))]
    sides = {
        "depth_output": depth_output,
        "ply_output": ply_output,
        "mask_overlay": mask_overlay,
        "motion_png": motion_png,
        "save_project": save_project,
    }
    check_project(project, output, force, **sides)
    image = read_image(project.image, project.max_side)  # the photo is read once
    sky = None
    if auto_sky:
        project, note, sky = _auto_sky(project, image)
        if note:
            log.warning(note)
    pictures = []  # computed before the render (they may refuse), written after it
    if mask_overlay is not None:
        pictures.append((mask_overlay, region_overlay(project, image, sky)))
    if motion_png is not None:
        pictures.append((motion_png, motion_picture(project, image, sky)))
    prep_bar = None
    if progress:
        from tqdm import tqdm

        # on a terminal only (disable=None): where stderr is a log, an error stays its one line
        prep_bar = tqdm(total=len(PREPARE_STAGES), desc="preparing", leave=False, disable=None,
                        bar_format="{desc} [{elapsed}]")  # fmt: skip

    def stage(name: str) -> None:
        if prep_bar is not None and not prep_bar.disable:
            i = PREPARE_STAGES.index(name) + 1  # the stage under way, counted from 1
            prep_bar.n = i
            prep_bar.set_description_str(f"preparing {i}/{len(PREPARE_STAGES)}: {name}")  # refreshes

    try:
        prepared = prepare_project(
            project, image=image, allow_download=allow_download, models=models, sky_mask=sky, stage=stage
        )
    finally:
        if prep_bar is not None:
            prep_bar.close()  # erased (leave=False): the rendering bar takes its line
    if prepared.trajectory.width != prepared.scene.camera.width:
        raise InputError("camera.path", "frames at the photo's size", prepared.trajectory.width)
    # the frames from a copy on the device (the side outputs below read the CPU one)
    on_device = prepared if dev.type == "cpu" else to_device(prepared, dev)
    if depth_output is None:
        pairs = ((f, None) for f in project_frames(on_device))
    else:
        p = on_device
        pairs = render_frames(
            p.scene, p.trajectory, p.motion, project.motion.loop_steps, p.settings, return_aux=True,
            models=p.models,
        )  # fmt: skip
    # Past this point only the PLY output reads the prepared scene: let go of it otherwise, so that
    # the frame loop can free what it no longer needs (the photo, its depth and layers, ≈ 80 MB
    # at 1280×720) once it has started.
    num_frames, z_near = len(prepared.trajectory), prepared.scene.z_near
    for_ply = (prepared.scene, prepared.motion) if ply_output is not None else None
    prepared = on_device = p = None
    o = project.output
    created: list[Path] = []
    with contextlib.ExitStack() as stack:
        # a stop signal waits until the writers' temporaries are in the stack that removes them
        with held():
            writer = stack.enter_context(
                VideoWriter(
                    output,
                    o.fps,
                    force=force,
                    inputs=project.paths(),
                    codec=o.codec,
                    crf=o.quality,
                    bitrate=o.bitrate,
                    loops=o.loops,
                    live_photo=o.live_photo,
                )
            )
            depth_writer = None
            if depth_output is not None:
                from .io import DepthWriter

                depth_writer = stack.enter_context(
                    DepthWriter(depth_output, o.fps, force=force, inputs=project.paths())
                )
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=num_frames, unit="frame", desc="rendering", leave=False)
        try:
            for frame, aux in pairs:
                writer.write(frame)
                if depth_writer is not None:
                    depth_writer.write(aux.depth.cpu(), z_near)
                if bar is not None:
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()  # erases the bar, so an error message starts on a clean line
    created += [writer.path] + ([Path(depth_output)] if depth_output is not None else [])
    try:
        if ply_output is not None:
            from .io import point_motion, write_ply

            scene, flow = for_ply
            motion = None
            if flow is not None:
                motion = point_motion(scene.cloud, flow.forward(1.0), scene.camera, scene.donor)
            write_ply(ply_output, scene.cloud, motion, force=force)
            created.append(Path(ply_output))
        if pictures:
            from .io import write_png

            for path, picture in pictures:
                write_png(path, picture)
                created.append(Path(path))
        if save_project is not None:
            from .project import save_project as _save

            created.append(_save(reproducible(project), save_project))
    except BaseException:
        _remove(created)
        raise
    return writer.path
