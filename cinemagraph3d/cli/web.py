"""``cinemagraph3d export-web PROJECT.json | PHOTO -o SCENE_DIR/``: the interactive web page.

Only the argument parsing lives here; the exporter is :mod:`cinemagraph3d.web`.
"""

from __future__ import annotations

import argparse

from .parser import _floats

# Options that describe a photo's scene; a project file already holds them.
_PHOTO_OPTIONS = {
    "depth": "--depth",
    "depth_kind": "--depth-kind",
    "max_side": "--max-side",
    "fov": "--fov",
    "camera": "--camera",
    "amplitude": "--amplitude",
    "frames": "--frames",
    "fps": "--fps",
    "loop_steps": "--loop-steps",
    "masks": "--mask",
    "arrows": "--arrow",
    "anchors": "--anchor",
    "hints": "--hints",
    "labelme": "--labelme",
    "speed": "--speed",
    "seed": "--seed",
}


def register(subparsers) -> None:
    """Add the ``export-web`` sub-command to the main parser's subparsers."""
    p = subparsers.add_parser(
        "export-web",
        help="write the 3D cinemagraph as an interactive web page (offline, self-contained)",
        description="Write SCENE_DIR/index.html and its assets: the layered 3D scene with the fluid "
        "looping on the GPU of the browser; drag/touch to orbit, scroll to dolly, tilt a phone. "
        "Open it from disk or any static host; nothing is fetched from the network. See docs/web.md.",
    )
    p.add_argument("source", help="a project .json (see `animate --save-project`) or a photo")
    p.add_argument("-o", "--output", required=True, help="output folder (created; no suffix)")
    p.add_argument(
        "--allow-outside-paths",
        action="store_true",
        help="let a project read files outside its own folder (absolute or ../ paths)",
    )
    g = p.add_argument_group("photo (a PHOTO source only; a project file holds these)")
    g.add_argument("--depth", help="depth/disparity file (.png 8/16-bit, .npy, .exr); default: estimated")
    g.add_argument("--depth-kind", choices=["depth", "disparity"], help="what --depth holds (default depth)")
    g.add_argument("--max-side", type=int, help="downscale the photo so its longer side is at most S pixels")
    g.add_argument("--fov", type=float, help="field of view (degrees) across the longer side")
    g.add_argument("--camera", help="the page's 'auto' camera path: a built-in path or a trajectory .json")
    g.add_argument("--amplitude", type=float, help="camera motion as a fraction of the near depth (0.03)")
    g.add_argument("--frames", type=int, help="frames of one loop of the camera path (60)")
    g.add_argument("--fps", type=float, help="frames per second: the loop plays frames/fps seconds (30)")
    g.add_argument("--loop-steps", type=int, help="motion steps per loop N (60)")
    g.add_argument("--mask", action="append", help="mask image of a moving region (repeatable)")
    g.add_argument(
        "--arrow", action="append", metavar="X0,Y0,X1,Y1", help="motion hint in pixels (repeatable)"
    )
    g.add_argument("--anchor", action="append", metavar="X,Y", help="point that must not move (repeatable)")
    g.add_argument("--hints", help="hints JSON")
    g.add_argument("--labelme", help="labelme JSON: 'motion*' polygons and 'hint*' lines")
    g.add_argument("--speed", type=float, help="global speed multiplier (1)")
    g.add_argument("--seed", type=int, help="random seed (0)")
    g.add_argument("--no-auto-sky", action="store_true", help="without motion inputs, no drifting sky")
    w = p.add_argument_group("page")
    w.add_argument("--mesh-step", type=int, default=8, help="mesh vertex spacing in pixels (default 8)")
    w.add_argument(
        "--texture-format", default="webp", help="colour textures: webp (default), jpeg or png (lossless)"
    )
    w.add_argument("--texture-quality", type=int, default=90, help="webp/jpeg quality 1-100 (default 90)")
    w.add_argument(
        "--orbit-amplitude",
        type=float,
        help="reach of the interactive camera, fraction of the near depth (default: --amplitude)",
    )
    w.add_argument("--substeps", type=int, default=1, help="Euler substeps of the shader's fluid trace (1)")
    p.add_argument(
        "--force",
        action="store_true",
        help="replace an existing output folder that cinemagraph3d created (nothing else)",
    )
    p.set_defaults(func=_export_web)


def _export_web(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..checks import check_output_path
    from ..errors import InputError

    source = Path(args.source)
    given = {
        k: getattr(args, k if k not in ("masks", "arrows", "anchors") else k[:-1]) for k in _PHOTO_OPTIONS
    }
    given = {k: v for k, v in given.items() if v is not None}
    is_project = source.suffix.lower() == ".json"
    if not source.is_file():
        what = "project .json" if is_project else "photo"
        raise InputError("source", f"an existing {what} file", f"no file at {str(source)!r}")
    if is_project:
        if given or args.no_auto_sky:
            names = sorted(_PHOTO_OPTIONS[k] for k in given) + (["--no-auto-sky"] if args.no_auto_sky else [])
            raise InputError(", ".join(names), "a PHOTO source (a project file holds these)", str(source))
        from ..project import load_project

        project = load_project(source, allow_outside_paths=args.allow_outside_paths)
    else:
        if args.allow_outside_paths:
            raise InputError("--allow-outside-paths", "a project .json source", str(source))
        from ..web import project_from_photo

        if "arrows" in given:
            given["arrows"] = [_floats(a, 4, "--arrow") for a in given["arrows"]]
        if "anchors" in given:
            given["anchors"] = [_floats(a, 2, "--anchor") for a in given["anchors"]]
        project = project_from_photo(source, **given)
    from ..web import WebSettings

    settings = WebSettings(
        mesh_step=args.mesh_step,
        texture_format=args.texture_format,
        texture_quality=args.texture_quality,
        orbit_amplitude=args.orbit_amplitude,
        substeps=args.substeps,
    )
    try:
        settings.validate()
    except InputError as exc:  # the settings' field names → this command's flags
        flag = "--" + str(exc.name).removeprefix("web.").replace("_", "-")
        raise InputError(flag, exc.expected, exc.found) from None
    check_output_path(
        args.output,
        name="-o/--output",
        kind="dir",
        force=args.force,
        inputs=[*(p for p in project.paths() if p), str(source)],
    )
    from ..web import export_web

    out = export_web(
        project,
        args.output,
        settings=settings,
        force=args.force,
        auto_sky=not is_project and not args.no_auto_sky,
        extra_inputs=[str(source)],
    )
    print(f"wrote {out}/index.html")
    return 0
