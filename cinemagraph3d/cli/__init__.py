"""Command-line interface: ``cinemagraph3d animate | render | demo | layers``.

User errors print one line ``cinemagraph3d: error: ...`` and exit with status 2; no partial output
file is ever left behind.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings
from pathlib import Path

from ..errors import Cinemagraph3DError, InputError

__all__ = ["main", "build_parser"]


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``cinemagraph3d: error: ...`` and exit status 2 (no usage
    dump; ``--help`` still prints the full help)."""

    def error(self, message: str):
        sys.stderr.write(f"cinemagraph3d: error: {' '.join(message.split())} (see {self.prog} --help)\n")
        raise SystemExit(2)


class _Terminated(BaseException):
    """SIGTERM or SIGHUP: unwinds like Ctrl-C so every temporary output is removed."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _floats(text: str, n: int, name: str) -> list[float]:
    import math

    parts = text.replace(" ", "").split(",")
    try:
        vals = [float(p) for p in parts]
    except ValueError:
        vals = []
    if len(vals) != n or not all(math.isfinite(v) for v in vals):
        raise InputError(name, f"{n} comma-separated numbers", repr(text))
    return vals


class _Ordered(argparse.Action):
    """Append the value to ``namespace.<dest>`` and record ``(dest, value)`` in
    ``namespace.motion_order``, so regions, prompts and their options keep the command-line order."""

    def __call__(self, parser, namespace, values, option_string=None):
        value = True if self.nargs == 0 else values
        order = getattr(namespace, "motion_order", None) or []
        namespace.motion_order = order + [(self.dest, value, option_string)]
        setattr(namespace, self.dest, list(getattr(namespace, self.dest, None) or []) + [value])


def _motion_regions(order) -> list:
    """Regions (:class:`~cinemagraph3d.project.RegionSpec`) from the ordered fluid-motion options."""
    from ..project import PromptSpec, RegionSpec, VideoSpec

    regions: list[RegionSpec] = []
    given: list[set] = []  # options already given for each region
    last = None
    for dest, value, option in order:
        cur = regions[-1] if regions else None
        if (
            dest == "mask"
            or dest == "sky"
            or (dest in ("click", "unclick") and last not in ("click", "unclick"))
        ):
            regions.append(
                RegionSpec(mask=value)
                if dest == "mask"
                else RegionSpec(sky=True)
                if dest == "sky"
                else RegionSpec()
            )
            given.append(set())
            cur = regions[-1]
        if dest in ("click", "unclick"):
            (cur.clicks if dest == "click" else cur.unclicks).append(_floats(value, 2, option))
        elif dest not in ("mask", "sky"):
            if cur is None:
                raise InputError(
                    option, "to follow the --mask, --click or --sky of its region", "no region before it"
                )
            if dest == "prompt":
                cur.prompts.append(PromptSpec(value))
            elif dest == "magnitude":
                if not cur.prompts or last != "prompt":
                    raise InputError(
                        option, "to follow the --prompt it sets the speed of", f"{option} {value}"
                    )
                from ..controls import parse_magnitude

                cur.prompts[-1].magnitude = parse_magnitude(value, option)
            else:
                key = "motion_video" if dest == "motion_video" else dest
                if key in given[-1]:
                    raise InputError(
                        option, f"once per region (region {len(regions)})", f"{option} given twice"
                    )
                given[-1].add(key)
                if dest == "region_speed":
                    cur.speed = value
                elif dest == "motion_video":
                    cur.video = VideoSpec(value)
                else:
                    if cur.video is None:
                        raise InputError(
                            option, "to follow the --motion-video of its region", "no --motion-video"
                        )
                    setattr(cur.video, dest[len("motion_video_") :], value)
        last = dest
    return regions


def _add_scene_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("photo and depth")
    g.add_argument("--depth", help="depth/disparity file (.png 8/16-bit, .npy, .exr); default: estimated")
    g.add_argument(
        "--depth-kind",
        choices=["depth", "disparity"],
        default="depth",
        help="what --depth holds: z-depth (units kept) or disparity (relative). Default: depth",
    )
    g.add_argument(
        "--depth-backend",
        default="auto",
        help="depth estimator when no --depth is given: auto (default: the learned model of "
        "`cinemagraph3d models fetch depth` when fetched, else heuristic), heuristic (photo pop-up), "
        "ramp or hf",
    )
    g.add_argument(
        "--depth-model",
        help="learned depth model: a local save_pretrained directory, or a model id already in the "
        "local Hugging Face cache (nothing is downloaded unless --allow-download is given)",
    )
    g.add_argument(
        "--allow-download",
        action="store_true",
        help="let --depth-backend hf fetch --depth-model from the Hugging Face Hub into the local "
        "cache when it is not there (off by default: cinemagraph3d never downloads on its own)",
    )
    g.add_argument("--max-side", type=int, help="downscale the photo so its longer side is at most S pixels")
    g.add_argument(
        "--fov", type=float, help="field of view (degrees) across the longer side; default f = max(W, H)"
    )
    c = p.add_argument_group("camera and video")
    c.add_argument(
        "--camera",
        default="circle",
        help="circle, swing, up-down, side, zoom-in, dolly-zoom, static, or a trajectory .json",
    )
    c.add_argument("--frames", type=int, help="number of output frames (default 60, or fps × loop-seconds)")
    c.add_argument("--fps", type=float, default=30.0, help="frames per second (default 30)")
    c.add_argument(
        "--loop-seconds",
        type=float,
        help="video length in seconds (sets --frames = fps × seconds; with --frames they must agree)",
    )
    c.add_argument("--loop-steps", type=int, default=60, help="motion steps per loop N (default 60)")
    c.add_argument(
        "--amplitude",
        type=float,
        default=0.03,
        help="camera motion as a fraction of the near depth (default 0.03)",
    )
    c.add_argument(
        "--no-safe-zoom",
        action="store_true",
        help="disable the automatic zoom that keeps the photo's border out of frame",
    )
    c.add_argument("--seed", type=int, default=0, help="random seed in [0, 2^32-1] (default 0)")
    c.add_argument(
        "--codec",
        help="h264 (default for .mp4/.mov), hevc (.mp4/.mov, tagged hvc1), vp9 (.webm), gif, webp",
    )
    c.add_argument(
        "--quality",
        type=float,
        help="CRF-style quality, lower is better: h264/hevc 0-51 (hevc default 26), vp9 0-63 "
        "(default 32); webp 0-100, higher is better (default 90)",
    )
    c.add_argument("--bitrate", help="target bit rate, e.g. 800k or 4M (instead of constant quality)")
    c.add_argument("--loops", type=int, default=1, help="repeat the seamless loop N times in the file")
    c.add_argument(
        "--live-photo",
        action="store_true",
        help="with -o NAME.mov: an Apple Live Photo pair, NAME.mov and the key photo NAME.jpg",
    )
    c.add_argument(
        "--stereo",
        choices=["sbs", "tb", "anaglyph"],
        help="stereo 3D: left and right eye side by side, top-bottom, or a red-cyan anaglyph",
    )
    c.add_argument(
        "--baseline",
        type=float,
        help="stereo eye distance as a fraction of the near depth (default 0.03)",
    )
    m = p.add_argument_group(
        "fluid motion",
        "Each --mask, each run of --click/--unclick and each --sky starts a region; --prompt, "
        "--magnitude, --region-speed and --motion-video* apply to the region (or prompt, video) "
        "given just before them. With no region and no arrows the sky is found and drifts.",
    )
    m.add_argument(
        "--mask",
        action=_Ordered,
        default=[],
        help="mask image of a moving region (starts a region; repeatable)",
    )
    m.add_argument(
        "--click", action=_Ordered, default=[], metavar="X,Y", help="click-to-mask: a point in the region"
    )
    m.add_argument(
        "--unclick",
        action=_Ordered,
        default=[],
        metavar="X,Y",
        help="click-to-mask: a point not in the region",
    )
    m.add_argument(
        "--sky", action=_Ordered, nargs=0, default=[], help="the automatically detected sky (a region)"
    )
    m.add_argument(
        "--prompt",
        action=_Ordered,
        default=[],
        metavar="TEXT",
        help="motion of the region: 'flow left|right|up|down', fall, rise, drift, swirl, ripple, sway "
        "[slow|medium|fast|PX] (repeatable; see docs/controls.md)",
    )
    m.add_argument(
        "--magnitude",
        action=_Ordered,
        default=[],
        metavar="M",
        help="speed of the preceding --prompt: slow, medium, fast or px/frame",
    )
    m.add_argument(
        "--region-speed",
        action=_Ordered,
        type=float,
        default=[],
        help="speed multiplier of the region given just before (repeatable)",
    )
    m.add_argument(
        "--motion-video",
        action=_Ordered,
        default=[],
        metavar="FILE",
        help="copy the motion of a clip into the region",
    )
    m.add_argument(
        "--motion-video-scale",
        action=_Ordered,
        type=float,
        default=[],
        metavar="S",
        help="speed factor of that clip",
    )
    m.add_argument(
        "--motion-video-rotate",
        action=_Ordered,
        type=float,
        default=[],
        metavar="DEG",
        help="turn that clip's motion (degrees, counter-clockwise)",
    )
    m.add_argument(
        "--motion-video-fit",
        action=_Ordered,
        choices=["region", "image"],
        default=[],
        help="stretch that clip over the region's box (default) or the whole photo",
    )
    m.add_argument(
        "--freeze", action="append", default=[], metavar="MASK", help="mask where nothing moves (repeatable)"
    )
    m.add_argument("--sam-checkpoint", help="segment clicks with Segment Anything (local checkpoint)")
    m.add_argument("--no-auto-sky", action="store_true", help="without motion inputs, render parallax only")
    m.add_argument("--mask-overlay", metavar="PNG", help="also write the regions and clicks over the photo")
    m.add_argument(
        "--motion-png",
        metavar="PNG",
        help="also write the Eulerian motion field as arrows over the photo (from masks, arrows, "
        "prompts and videos; not the neural estimator's field)",
    )
    m.add_argument(
        "--arrow",
        action="append",
        default=[],
        metavar="X0,Y0,X1,Y1",
        help="motion hint in pixels; its length is the speed in px/step (repeatable)",
    )
    m.add_argument("--hints", help='hints JSON {"units": "pixels_per_frame", "hints": [{"x","y","dx","dy"}]}')
    m.add_argument(
        "--anchor", action="append", default=[], metavar="X,Y", help="point that must not move (repeatable)"
    )
    m.add_argument("--labelme", help="labelme JSON: 'motion*' polygons → mask, 'hint*' lines → arrows")
    m.add_argument("--speed", type=float, default=1.0, help="global speed multiplier (default 1)")
    n = p.add_argument_group("preset")
    n.add_argument(
        "--preset",
        choices=["classic", "neural"],
        default="classic",
        help="classic: RGB points, training-free (default); neural: learned features, decoder "
        "and motion estimator from --weights",
    )
    n.add_argument("--weights", help="weights directory for --preset neural (see `convert-weights`)")
    p.add_argument(
        "--ply",
        metavar="PLY",
        help="also write the scene's point cloud as a binary PLY with colour and per-point motion "
        "(vx vy vz, scene units per step)",
    )
    p.add_argument(
        "--depth-out",
        metavar="PATH",
        help="also write each frame's depth: a folder of 16-bit PNGs, or a grey .mp4/.webm/.gif "
        "(normalised inverse depth, near = white)",
    )
    p.add_argument(
        "--save-project",
        help="also write the inputs of this run as a project JSON (paths relative to its folder)",
    )
    _add_force(p)


def _add_force(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--force",
        action="store_true",
        help="replace outputs that exist (a file, or a directory cinemagraph3d created; nothing else)",
    )


_BUILTIN = ("animate", "render", "demo", "layers")
# Sub-command modules of this package; each has ``register(subparsers)`` and imports nothing heavy
# at module level (an ImportError here is a bug, never skipped).
_PLUGINS = ("eval", "models", "batch", "edit", "web", "train")


def build_parser(plugins: bool = True) -> argparse.ArgumentParser:
    """The argument parser of the ``cinemagraph3d`` command (``plugins=False``: without the
    sub-commands of other modules, whose imports are heavier)."""
    from .. import __version__

    parser = _Parser(
        prog="cinemagraph3d",
        description="Turn one photo into a looping 3D cinemagraph (parallax + fluid motion).",
    )
    parser.add_argument("--version", action="version", version=f"cinemagraph3d {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    a = sub.add_parser(
        "animate", help="render a photo to a video", description="Render IMAGE to a looping video."
    )
    a.add_argument("image", help="photo (JPEG, PNG, WebP, TIFF; 8/16-bit; grey/RGB/RGBA)")
    a.add_argument(
        "-o", "--output", required=True, help="output .mp4/.gif/.webp, or a directory for PNG frames"
    )
    _add_scene_args(a)
    r = sub.add_parser(
        "render", help="render a project JSON", description="Reproduce a cinemagraph from its project file."
    )
    r.add_argument("project", help="project .json written by `animate --save-project`")
    r.add_argument("-o", "--output", required=True, help="output .mp4/.gif/.webp or directory")
    r.add_argument(
        "--allow-outside-paths",
        action="store_true",
        help="let the project read files outside its own folder (absolute or ../ paths)",
    )
    _add_force(r)
    d = sub.add_parser(
        "demo",
        help="render the bundled procedural example",
        description="Render the built-in demo scene (no download).",
    )
    d.add_argument("-o", "--output", required=True, help="output .mp4/.gif/.webp or directory")
    d.add_argument("--size", default="640x360", help="WxH of the demo scene (default 640x360)")
    d.add_argument("--frames", type=int, default=60, help="number of frames (default 60)")
    d.add_argument("--camera", default="circle", help="camera path (default circle)")
    _add_force(d)
    lay = sub.add_parser(
        "layers",
        help="write the LDI layers as PNGs",
        description="Write the layered depth image of IMAGE for inspection.",
    )
    lay.add_argument("image", help="photo (JPEG, PNG, WebP, TIFF; 8/16-bit; grey/RGB/RGBA)")
    lay.add_argument("-o", "--output", required=True, help="output directory")
    lay.add_argument("--depth", help="depth/disparity file (.png 8/16-bit, .npy); default: estimated")
    lay.add_argument(
        "--depth-kind",
        choices=["depth", "disparity"],
        default="depth",
        help="what --depth holds: z-depth (default) or disparity",
    )
    lay.add_argument(
        "--max-side", type=int, help="downscale the photo so its longer side is at most S pixels"
    )
    lay.add_argument("--ply", help="also write the point cloud as a binary PLY (colour, alpha, layer)")
    _add_force(lay)
    if plugins:
        _register_plugins(sub)
    return parser


def _register_plugins(sub) -> None:
    """Sub-commands defined by other modules: each exposes ``register(subparsers)`` that adds a
    parser with ``set_defaults(func=...)``; ``func(args) -> int``."""
    import importlib

    cw = sub.add_parser(
        "convert-weights",
        help="convert the official 3D-Cinemagraphy checkpoints",
        description="Convert model_150000.pth, sceneflow_model.pth, depth-model.pth and color-model.pth "
        "from SRC_DIR (the official ckpts/ folder) to safetensors + JSON in DST_DIR.",
    )
    cw.add_argument("src", help="folder holding the official .pth files")
    cw.add_argument("dst", help="output weights directory (use it with --preset neural --weights DST)")
    _add_force(cw)
    cw.set_defaults(func=_convert_weights)
    for name in _PLUGINS:
        importlib.import_module(f"{__name__}.{name}").register(sub)


def _convert_weights(args) -> int:
    """Convert into a new folder (written aside, renamed when complete: the output rule)."""
    import shutil

    from ..checks import check_output_path

    dst = check_output_path(args.dst, name="dst", kind="dir", force=args.force, inputs=[args.src])
    from ..convert import convert_official
    from ..io import make_output_dir, replace_output

    tmp = make_output_dir(dst)
    try:
        paths = convert_official(args.src, tmp)
        replace_output(tmp, dst)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for name, path in paths.items():
        print(f"{name}: {dst / Path(path).name}")
    return 0


def _pose_count(camera: str) -> int | None:
    """Number of per-frame poses of a trajectory JSON given as ``--camera`` (then the default
    frame count), else None. Malformed files are reported later by the trajectory loader."""
    import json

    if not camera.lower().endswith(".json"):
        return None
    try:
        with open(camera, encoding="utf-8") as fh:
            data = json.load(fh)
        poses = data.get("cam_from_world") if isinstance(data, dict) else None
    except (OSError, ValueError, RecursionError):
        return None
    return len(poses) if isinstance(poses, list) and 1 <= len(poses) else None


def _project_from_args(args) -> Project:  # noqa: F821
    from ..project import Project

    frames = args.frames
    if args.loop_seconds is not None:
        import math

        if not math.isfinite(args.loop_seconds) or args.loop_seconds <= 0:
            raise InputError("--loop-seconds", "a number > 0", args.loop_seconds)
        if not (args.fps > 0):
            raise InputError("--fps", "a number > 0", args.fps)
        implied = max(1, round(args.fps * args.loop_seconds))
        if frames is not None and frames != implied:
            raise InputError(
                "--frames/--loop-seconds",
                f"one of them, or values that agree (fps × seconds = {implied} frames)",
                f"--frames {frames}",
            )
        frames = implied
    if frames is None:
        frames = _pose_count(args.camera)
    # Regions in command-line order; a plain --mask (no prompt, no video) stays in `masks`,
    # where arrows and the neural motion estimator find it.
    regions = _motion_regions(getattr(args, "motion_order", None) or [])
    plain = [r for r in regions if r.mask is not None and not r.prompts and r.video is None]
    others = [r for r in regions if not (r.mask is not None and not r.prompts and r.video is None)]
    speeds = [r.speed for r in plain]
    project = Project(
        image=args.image,
        depth=args.depth,
        depth_kind=args.depth_kind,
        depth_backend=args.depth_backend,
        depth_model=args.depth_model,
        max_side=args.max_side,
        fov=args.fov,
        camera=args.camera,
        amplitude=args.amplitude,
        frames=60 if frames is None else frames,
        fps=args.fps,
        loop_steps=args.loop_steps,
        safe_zoom=not args.no_safe_zoom,
        seed=args.seed,
        masks=[r.mask for r in plain],
        region_speeds=speeds if any(v != 1.0 for v in speeds) else [],
        arrows=[_floats(a, 4, "--arrow") for a in args.arrow],
        hints=args.hints,
        anchors=[_floats(a, 2, "--anchor") for a in args.anchor],
        labelme=args.labelme,
        speed=args.speed,
        preset=args.preset,
        weights=args.weights,
        regions=others,
        freeze=list(args.freeze),
        sam_checkpoint=args.sam_checkpoint,
        codec=args.codec,
        quality=args.quality,
        bitrate=args.bitrate,
        loops=args.loops,
        stereo=args.stereo,
        baseline=args.baseline,
        live_photo=args.live_photo,
    ).validate()
    return project


def _motion_extras(project, args):
    """Automatic sky (no region, no arrows: the sky drifts, or a note says what to supply) and
    the --mask-overlay and --motion-png pictures, computed in memory: they are written only once
    the video is complete. Returns ``(project, [(path, picture), ...])``."""

    from ..motion_inputs import build_region_masks

    pictures = []
    auto = not (project.masks or project.regions or project.labelme or project.arrows or project.hints)
    motion_png = getattr(args, "motion_png", None)
    if (auto and not args.no_auto_sky) or args.mask_overlay or motion_png:
        from ..io import read_image

        image = read_image(project.image, project.max_side)
        if auto and not args.no_auto_sky:
            from ..api import with_auto_sky

            project, note = with_auto_sky(project, image)
            if note:
                print(f"cinemagraph3d: note: {note}", file=sys.stderr)
        if args.mask_overlay:
            from ..controls import draw_mask_overlay

            masks, freeze = build_region_masks(project, image.shape[1], image.shape[2], image)
            clicks = [c for r in project.regions for c in r.clicks]
            unclicks = [c for r in project.regions for c in r.unclicks]
            from ..motion_inputs import coordinate_scale

            sx, sy = coordinate_scale(project, image.shape[1], image.shape[2])
            clicks = [[x * sx, y * sy] for x, y in clicks]
            unclicks = [[x * sx, y * sy] for x, y in unclicks]
            overlay = draw_mask_overlay(image, masks, clicks, unclicks, freeze=freeze)
            pictures.append((args.mask_overlay, overlay))
        if motion_png:
            from ..motion import draw_motion_field
            from ..motion_inputs import build_motion_field, wants_motion_estimator

            if wants_motion_estimator(project):
                raise InputError(
                    "--motion-png",
                    "arrows, hints, labelme, prompts or a video to draw",
                    "masks whose motion the neural estimator predicts during the render",
                )
            field = build_motion_field(project, image.shape[1], image.shape[2], image)
            if field is None:
                raise InputError("--motion-png", "motion inputs to draw (a mask, arrows or a prompt)", "none")
            pictures.append((motion_png, draw_motion_field(field, image)))
    return project, pictures


def _check_allow_download(project) -> None:
    """``--allow-download`` means something only for a learned depth model."""
    if project.depth_backend != "hf" or not project.depth_model:
        found = f"--depth-backend {project.depth_backend}" + (
            "" if project.depth_model else " without --depth-model"
        )
        raise InputError("--allow-download", "--depth-backend hf with --depth-model", found)


def _reproducible(project):
    """The project as it rendered: ``depth_backend="auto"`` that fell back to the training-free
    depth is saved as ``"heuristic"``, so fetching the learned model later does not change what
    the saved project renders (``"auto"`` that used the fetched model stays ``"auto"``)."""
    import dataclasses

    if project.depth or project.depth_backend != "auto":
        return project
    from ..depth import DepthSettings, resolve_auto_depth

    chosen = resolve_auto_depth(DepthSettings("auto", project.depth_model, project.depth_kind))
    return (
        dataclasses.replace(project, depth_backend="heuristic") if chosen.backend == "heuristic" else project
    )


def _remove(paths) -> None:
    """Delete outputs this run created (after a later step failed)."""
    import shutil

    for p in paths:
        p = Path(p)
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        elif os.path.lexists(p):
            with contextlib.suppress(OSError):
                p.unlink()


def _check_still(output, frames: int) -> None:
    if Path(output).suffix.lower() == ".png" and frames != 1:
        raise InputError(
            "-o/--output", "a directory for several frames (a .png holds one: --frames 1)", str(output)
        )


def _finish(created: list, steps) -> None:
    """Run the remaining write ``steps`` (each returns the path it wrote); if one fails, delete
    everything this run created, the video included, so nothing partial is left."""
    try:
        for step in steps:
            created.append(step())
    except BaseException:
        _remove(created)
        raise


def _run(args) -> int:
    if getattr(args, "func", None) is not None:
        return int(args.func(args))
    if args.command == "animate":
        from ..checks import check_inputs, check_outputs

        project = _project_from_args(args)
        if args.allow_download:
            _check_allow_download(project)
        # One validation pass before any work: fields, input files, photo size, every output.
        check_inputs(project)
        outputs = [
            ("-o/--output", args.output, "video"),
            ("--save-project", args.save_project, "json"),
            ("--mask-overlay", args.mask_overlay, "png"),
            ("--motion-png", args.motion_png, "png"),
            ("--depth-out", args.depth_out, "video"),
            ("--ply", args.ply, "ply"),
        ]
        check_outputs(outputs, inputs=project.paths(), force=args.force)
        _check_still(args.output, project.frames)
        from ..api import check_project

        # output settings, trajectory and depth files, before the sky or any picture is computed
        check_project(project, args.output, args.force)
        project, pictures = _motion_extras(project, args)
        from ..api import animate

        out = animate(
            project,
            args.output,
            progress=True,
            allow_download=args.allow_download,
            force=args.force,
            depth_output=args.depth_out,
            ply_output=args.ply,
        )
        from ..io import write_png
        from ..project import save_project

        steps = [lambda p=p, pic=pic: (write_png(p, pic), p)[1] for p, pic in pictures]
        if args.save_project:
            steps.append(lambda: save_project(_reproducible(project), args.save_project))
        extra = [Path(p) for p in (args.depth_out, args.ply) if p]
        _finish([out, *extra], steps)
        print(f"wrote {out}")
        return 0
    if args.command == "render":
        from ..checks import check_inputs, check_outputs
        from ..project import load_project

        project = load_project(args.project, allow_outside_paths=args.allow_outside_paths)
        check_inputs(project)
        check_outputs([("-o/--output", args.output, "video")], [*project.paths(), args.project], args.force)
        _check_still(args.output, project.frames)
        from ..api import animate

        out = animate(project, args.output, progress=True, force=args.force)
        print(f"wrote {out}")
        return 0
    if args.command == "demo":
        return _demo(args)
    if args.command == "layers":
        return _layers(args)
    raise InputError("command", "a known command", args.command)


def _layers(args) -> int:

    from ..checks import check_inputs, check_outputs
    from ..project import Project

    project = Project(image=args.image, depth=args.depth, depth_kind=args.depth_kind, max_side=args.max_side)
    check_inputs(project)
    outs = [("-o/--output", args.output, "dir"), ("--ply", args.ply, "ply")]
    check_outputs(outs, inputs=project.paths(), force=args.force)
    from .. import build_ldi, estimate_depth, read_image
    from ..depth import DepthSettings
    from ..io import write_layers

    img = read_image(args.image, args.max_side)
    ds = DepthSettings("file", args.depth, args.depth_kind) if args.depth else DepthSettings()
    ldi = build_ldi(img, estimate_depth(img, ds))
    paths = write_layers(args.output, ldi, force=args.force)
    if args.ply:
        from .. import PinholeCamera, lift_ldi, write_ply

        cloud = lift_ldi(ldi, PinholeCamera.default(img.shape[2], img.shape[1]))
        _finish([args.output], [lambda: write_ply(args.ply, cloud, force=args.force)])
    print(f"wrote {len(paths)} files to {args.output}")
    return 0


def _demo(args) -> int:
    import tempfile

    import numpy as np

    from ..api import animate
    from ..checks import check_output_path
    from ..demo import demo_scene
    from ..io import write_png
    from ..limits import CAMERA_PATHS, DEMO_SIDE_MAX, MAX_FRAMES
    from ..project import Project

    try:
        w, h = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        raise InputError("--size", "WxH, e.g. 640x360", repr(args.size)) from None
    if not (8 <= w <= DEMO_SIDE_MAX and 8 <= h <= DEMO_SIDE_MAX):
        raise InputError("--size", f"W and H in [8, {DEMO_SIDE_MAX}]", args.size)
    if not 1 <= args.frames <= MAX_FRAMES:
        raise InputError("--frames", f"an integer in [1, {MAX_FRAMES}]", args.frames)
    if args.camera not in CAMERA_PATHS:
        raise InputError("--camera", f"one of {', '.join(CAMERA_PATHS)}", repr(args.camera))
    check_output_path(args.output, force=args.force)
    _check_still(args.output, args.frames)
    scene = demo_scene(w, h)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_png(tmp / "photo.png", scene.image)
        np.save(tmp / "depth.npy", scene.depth[0].numpy())
        write_png(tmp / "water.png", (scene.water.numpy() * 255).astype(np.uint8))
        from ..motion import DEFAULT_HINT_SCALE

        k = 1.0 / DEFAULT_HINT_SCALE  # arrows are drawn lines: length × scale = px/step
        arrows = [[x, y, min(x + k * dx, w), min(y + k * dy, h)] for x, y, dx, dy in scene.hints.tolist()]
        project = Project(
            image=str(tmp / "photo.png"),
            depth=str(tmp / "depth.npy"),
            camera=args.camera,
            frames=args.frames,
            masks=[str(tmp / "water.png")],
            arrows=arrows,
        )
        out = animate(project, args.output, progress=True, force=args.force)
    print(f"wrote {out}")
    return 0


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


class _Notes:
    """A logging handler that keeps the library's log lines (one line each, no repeats) for the
    end of a successful run."""

    level = 0

    def __init__(self) -> None:
        self.lines: list[str] = []

    def handle(self, record) -> bool:
        line = _one_line(record.getMessage())
        if record.levelno >= 20 and line not in self.lines:
            self.lines.append(line)
        return True

    def __getattr__(self, name):  # the rest of the Handler interface is not needed
        raise AttributeError(name)


def _own_warnings(caught) -> list[str]:
    """The distinct warnings raised by cinemagraph3d itself (library warnings of torch & co. are
    dropped: they are not the user's business), as one line each."""
    seen: list[str] = []
    for w in caught:
        if "cinemagraph3d" in str(getattr(w, "filename", "")):
            line = _one_line(w.message)
            if line not in seen:
                seen.append(line)
    return seen


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``cinemagraph3d`` command; returns the exit status.

    User errors print exactly one line ``cinemagraph3d: error: ...`` and return 2 (argument
    errors too: argparse exits with 2 after one line). SIGINT, SIGTERM and SIGHUP stop the run,
    delete its temporary outputs and return 130, 143 and 129.
    """
    import signal
    import threading

    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    # The built-in commands parse without importing the plugins (eval & co. load torch).
    parser = build_parser(plugins=not (argv and argv[0] in _BUILTIN))
    args = parser.parse_args(argv)
    handlers = {}
    if threading.current_thread() is threading.main_thread():

        def _stop(signum, frame):
            raise _Terminated(signum)

        for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
            if sig is not None:
                handlers[sig] = signal.signal(sig, _stop)
    import logging

    logger = logging.getLogger("cinemagraph3d")
    notes = _Notes()
    saved = (logger.handlers[:], logger.propagate)
    logger.handlers[:] = [notes]
    logger.propagate = False  # the library's notes are shown after a successful run only
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            code = _run(args)
        for line in notes.lines:
            print(f"cinemagraph3d: note: {line}", file=sys.stderr)
        for line in _own_warnings(caught):
            print(f"cinemagraph3d: warning: {line}", file=sys.stderr)
        return code
    except Cinemagraph3DError as exc:
        print(f"cinemagraph3d: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except OSError as exc:  # disk full, permissions changed mid-run, ...: one line, not a traceback
        where = f" {exc.filename!r}" if getattr(exc, "filename", None) else ""
        print(f"cinemagraph3d: error: system error{where}: {_one_line(exc.strerror or exc)}", file=sys.stderr)
        return 2
    except MemoryError:
        print(
            "cinemagraph3d: error: out of memory (try a smaller --max-side or fewer --loop-steps)",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print("cinemagraph3d: interrupted", file=sys.stderr)
        return 130
    except _Terminated as exc:
        print(f"cinemagraph3d: terminated by signal {exc.signum}", file=sys.stderr)
        return 128 + exc.signum
    finally:
        import signal as _signal

        for sig, old in handlers.items():
            _signal.signal(sig, old)
        logger.handlers[:], logger.propagate = saved


if __name__ == "__main__":
    sys.exit(main())
