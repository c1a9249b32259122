"""The built-in commands (``animate``, ``render``, ``demo``, ``layers``, ``convert-weights``):
each turns its arguments into library calls (:func:`cinemagraph3d.api.animate` does the work)."""

from __future__ import annotations

from pathlib import Path

from ..devices import parse_device
from ..errors import InputError
from .parser import _floats, _motion_regions

__all__ = ["run", "convert_weights", "project_from_args"]


def convert_weights(args) -> int:
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


#: Flat project fields that ``project_from_args`` builds from other options (not copied by name).
_BUILT = ("image", "frames", "safe_zoom", "masks", "region_speeds", "arrows", "anchors", "regions", "freeze")


def project_from_args(args):
    from ..project import V1_FIELDS, Project

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
    # Options named like the project's flat fields map one to one; the rest are built above.
    same = {k: getattr(args, k) for k in V1_FIELDS if k not in _BUILT and hasattr(args, k)}
    return Project.from_flat(
        **same,
        image=args.image,
        frames=60 if frames is None else frames,
        safe_zoom=not args.no_safe_zoom,
        masks=[r.mask for r in plain],
        region_speeds=speeds if any(v != 1.0 for v in speeds) else [],
        arrows=[_floats(a, 4, "--arrow") for a in args.arrow],
        anchors=[_floats(a, 2, "--anchor") for a in args.anchor],
        regions=others,
        freeze=list(args.freeze),
    ).validate()


def _check_allow_download(project) -> None:
    """``--allow-download`` means something only for a learned depth model."""
    d = project.depth
    if d.backend != "hf" or not d.model:
        found = f"--depth-backend {d.backend}" + ("" if d.model else " without --depth-model")
        raise InputError("--allow-download", "--depth-backend hf with --depth-model", found)


def _check_still(output, frames: int) -> None:
    if Path(output).suffix.lower() == ".png" and frames != 1:
        raise InputError(
            "-o/--output", "a directory for several frames (a .png holds one: --frames 1)", str(output)
        )


def run(args) -> int:
    """Run the parsed command ``args``; returns the exit status."""
    if getattr(args, "func", None) is not None:
        return int(args.func(args))
    if args.command == "animate":
        from ..checks import animate_outputs, check_inputs, check_outputs

        project = project_from_args(args)
        if args.allow_download:
            _check_allow_download(project)
        sides = {
            "depth_output": args.depth_out,
            "ply_output": args.ply,
            "mask_overlay": args.mask_overlay,
            "motion_png": args.motion_png,
            "save_project": args.save_project,
        }
        # The checks that need no torch first, so a wrong argument is refused at once.
        parse_device(args.device)
        check_inputs(project)
        check_outputs(animate_outputs(args.output, sides), inputs=project.paths(), force=args.force)
        from ..api import animate

        out = animate(
            project,
            args.output,
            progress=True,
            allow_download=args.allow_download,
            force=args.force,
            auto_sky=not args.no_auto_sky,
            device=args.device,
            **sides,
        )
        print(f"wrote {out}")
        return 0
    if args.command == "render":
        parse_device(args.device)
        from ..api import animate
        from ..checks import check_outputs
        from ..project import load_project

        try:
            project = load_project(args.project, allow_outside_paths=args.allow_outside_paths)
        except InputError as exc:  # the library names its argument; the user typed a flag
            expected = exc.expected.replace("allow_outside_paths", "--allow-outside-paths")
            raise InputError(exc.name, expected, exc.found) from None
        # the project file is an input too (animate checks the rest)
        check_outputs([("output", args.output, "video")], [*project.paths(), args.project], args.force)
        out = animate(project, args.output, progress=True, force=args.force, device=args.device)
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

    project = Project.from_flat(
        image=args.image, depth=args.depth, depth_kind=args.depth_kind, max_side=args.max_side
    )
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
        try:
            write_ply(args.ply, cloud, force=args.force)
        except BaseException:
            from ..api import _remove

            _remove([args.output])
            raise
    print(f"wrote {len(paths)} files to {args.output}")
    return 0


def _demo(args) -> int:
    parse_device(args.device)  # before the imports below (torch)
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
        project = Project.from_flat(
            image=str(tmp / "photo.png"),
            depth=str(tmp / "depth.npy"),
            camera=args.camera,
            frames=args.frames,
            masks=[str(tmp / "water.png")],
            arrows=arrows,
        )
        out = animate(project, args.output, progress=True, force=args.force, device=args.device)
    print(f"wrote {out}")
    return 0
