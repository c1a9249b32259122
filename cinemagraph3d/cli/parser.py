"""The argument parser of the ``cinemagraph3d`` command, and the one table that turns the
library's field names (``camera.frames``) into the flags a user typed (``--frames``)."""

from __future__ import annotations

import argparse
import re
import sys

from ..errors import InputError

__all__ = ["build_parser", "flag_name", "FLAGS"]


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``cinemagraph3d: error: ...`` and exit status 2 (no usage
    dump; ``--help`` still prints the full help)."""

    def error(self, message: str):
        sys.stderr.write(f"cinemagraph3d: error: {' '.join(message.split())} (see {self.prog} --help)\n")
        raise SystemExit(2)


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
        "--layers", type=int, default=3, help="at most N layers of the layered depth image, 1-5 (default 3)"
    )
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
    n.add_argument(
        "--decoder-precision",
        choices=["float32", "bfloat16"],
        default="float32",
        help="--preset neural: the decoder's U-Net in float32 (default) or bfloat16 (faster on CPUs "
        "with AVX-512 BF16/AMX; frames differ by about 1/255)",
    )
    n.add_argument(
        "--decoder-runtime",
        choices=["torch", "openvino"],
        default="torch",
        help="--preset neural: run the decoder with PyTorch (default) or OpenVINO "
        "(pip install 'cinemagraph3d[openvino]'; fastest with --decoder-precision bfloat16)",
    )
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
    _add_device(p)
    _add_force(p)


def _add_device(p: argparse.ArgumentParser) -> None:
    from ..devices import DEVICE_HELP

    p.add_argument(
        "--device",
        default="cpu",
        help=f"where the frames are rendered: {DEVICE_HELP}; the set-up runs on the CPU",
    )


def _add_force(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--force",
        action="store_true",
        help="replace outputs that exist (a file, or a directory cinemagraph3d created; nothing else)",
    )


#: Field names used by the library's errors → the flag of the ``animate`` command that sets them
#: (regions: ``motion.regions[k].<field>``; list entries: ``motion.masks[k]``).
FLAGS = {
    "image": "IMAGE",
    "max_side": "--max-side",
    "seed": "--seed",
    "output": "-o/--output",
    "depth.file": "--depth",
    "depth.kind": "--depth-kind",
    "depth.backend": "--depth-backend",
    "depth.model": "--depth-model",
    "depth.layers": "--layers",
    "motion.masks": "--mask",
    "motion.region_speeds": "--region-speed",
    "motion.arrows": "--arrow",
    "motion.hints": "--hints",
    "motion.anchors": "--anchor",
    "motion.labelme": "--labelme",
    "motion.speed": "--speed",
    "motion.loop_steps": "--loop-steps",
    "motion.freeze": "--freeze",
    "motion.sam_checkpoint": "--sam-checkpoint",
    "motion.anchors/freeze": "--anchor/--freeze",
    "camera.path": "--camera",
    "camera.amplitude": "--amplitude",
    "camera.frames": "--frames",
    "camera.fov": "--fov",
    "camera.safe_zoom": "--no-safe-zoom",
    "render.preset": "--preset",
    "render.weights": "--weights",
    "render.decoder_precision": "--decoder-precision",
    "render.decoder_runtime": "--decoder-runtime",
    "output.fps": "--fps",
    "output.codec": "--codec",
    "output.quality": "--quality",
    "output.bitrate": "--bitrate",
    "output.codec/quality/bitrate": "--codec/--quality/--bitrate",
    "output.loops": "--loops",
    "output.stereo": "--stereo",
    "output.baseline": "--baseline",
    "output.live_photo": "--live-photo",
    "live photo key photo": "--live-photo key photo",
    "depth_output": "--depth-out",
    "ply_output": "--ply",
    "mask_overlay": "--mask-overlay",
    "motion_png": "--motion-png",
    "save_project": "--save-project",
    "weights": "--weights",
    "force": "--force",
    "device": "--device",
    "allow_download": "--allow-download",
    # names of library functions the commands call directly (their own argument names)
    "fov_deg": "--fov",
    "clicks": "--click",
    "unclicks": "--unclick",
    "settings.sam_checkpoint": "--sam-checkpoint",
}
_REGION_FLAGS = {
    "mask": "--mask",
    "clicks": "--click",
    "unclicks": "--unclick",
    "sky": "--sky",
    "speed": "--region-speed",
    "prompts": "--prompt",
    "prompts.text": "--prompt",
    "prompts.magnitude": "--magnitude",
    "video": "--motion-video",
    "video.scale": "--motion-video-scale",
    "video.rotate": "--motion-video-rotate",
    "video.fit": "--motion-video-fit",
    "video.max_frames": "--motion-video max_frames",
}
_FIELD = re.compile(r"^(?P<field>[a-z_]+(?:\.[a-z_]+)*(?:/[a-z_]+)*)(?P<index>\[\d+\])?(?P<rest>.*)$", re.S)
_REGION = re.compile(
    r"^motion\.regions\[(?P<k>\d+)\](?:\.(?P<field>[a-z_.]+?))?(?:\[\d+\])?(?:\.(?P<sub>[a-z_]+))?(?P<rest>(?: .*)?)$",
    re.S,
)


def flag_name(name: str) -> str:
    """The command-line spelling of a field name from a library error: ``camera.frames`` →
    ``--frames``, ``motion.masks[1] m.png`` → ``--mask m.png``, ``motion.regions[0].speed`` →
    ``--region-speed (region 1)``; names that are no field (a file path, ``project x.json: ...``)
    are returned unchanged."""
    m = _REGION.match(name)
    if m:
        field = m.group("field") or ""
        if m.group("sub") and field == "prompts":
            field = f"prompts.{m.group('sub')}" if f"prompts.{m.group('sub')}" in _REGION_FLAGS else "prompts"
        elif m.group("sub"):
            field = f"{field}.{m.group('sub')}"
        flag = _REGION_FLAGS.get(field, "region")
        return f"{flag} (region {int(m.group('k')) + 1}){m.group('rest')}"
    if name in FLAGS:  # names with spaces (``live photo key photo``) as a whole
        return FLAGS[name]
    m = _FIELD.match(name)
    if m and m.group("field") in FLAGS:
        return FLAGS[m.group("field")] + m.group("rest")
    return name


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
    _add_device(r)
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
    _add_device(d)
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
    from .commands import convert_weights

    cw.set_defaults(func=convert_weights)
    for name in _PLUGINS:
        importlib.import_module(f"{__package__}.{name}").register(sub)
