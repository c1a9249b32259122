"""``cinemagraph3d dataset build`` and ``cinemagraph3d train motion|render``.

Every field of the settings dataclasses (:mod:`cinemagraph3d.train.settings`) is an option named
after it (``batch_size`` → ``--batch-size``; booleans that default to on → ``--no-FIELD``), so the
documented defaults are the command's defaults. Under ``torchrun`` every process runs the same
command; rank 0 writes the run directory.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from ..errors import InputError

__all__ = ["register"]

# fields whose default is None: their value type
_NONE_TYPES = {"perceptual_weights": str, "loop_steps": int, "depth_model": str}
# fields set by dedicated options (or not options at all)
_SKIP = {"size", "device"}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _add_fields(p: argparse.ArgumentParser, cls, skip=()) -> None:
    for f in dataclasses.fields(cls):
        if f.name in _SKIP or f.name in skip:
            continue
        default = f.default
        if isinstance(default, bool):
            if default:
                p.add_argument(_flag("no_" + f.name), dest=f.name, action="store_false",
                               help=f"turn {f.name} off (default on)")  # fmt: skip
            else:
                p.add_argument(
                    _flag(f.name), dest=f.name, action="store_true", help=f"{f.name} (default off)"
                )
            continue
        if isinstance(default, tuple):
            p.add_argument(_flag(f.name), dest=f.name, type=type(default[0]), nargs=len(default), default=default,
                           metavar="X", help=f"default {' '.join(map(str, default))}")  # fmt: skip
            continue
        kind = _NONE_TYPES.get(f.name) if default is None else type(default)
        p.add_argument(_flag(f.name), dest=f.name, type=kind, default=default, help=f"default {default}")


def _settings(cls, args, **extra):
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if hasattr(args, f.name)}
    values.update(extra)
    return cls(**values)


def _size(text: str) -> tuple[int, int]:
    parts = text.lower().split("x")
    try:
        nums = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or HxW, found {text!r}") from None
    if len(nums) == 1:
        return nums[0], nums[0]
    if len(nums) == 2:
        return nums[0], nums[1]
    raise argparse.ArgumentTypeError(f"expected N or HxW, found {text!r}")


def register(subparsers) -> None:
    """Add ``dataset`` (``build``) and ``train`` (``motion``, ``render``) to the main parser."""
    from ..train.settings import DatasetSettings, MotionTrainSettings, RenderTrainSettings

    d = subparsers.add_parser("dataset", help="build a training dataset from clips",
                              description="Turn clips of fluid scenes into training samples.")  # fmt: skip
    dsub = d.add_subparsers(dest="dataset_command", required=True)
    b = dsub.add_parser(
        "build",
        help="clips → frames, teacher flow, motion mask, hints, depth",
        description="Build a dataset directory from video files (mp4/mov/webm/...) or folders of frames: frames "
        "resized to --size, OpenCV DIS teacher flow (or CLIP.flow.npy / FOLDER/flow.npy when present), motion "
        "mask, k-means hints and first-frame depth; train/validation split by clip. Bad clips are listed "
        "and skipped. See docs/training.md.",
    )
    b.add_argument("videos", nargs="+", help="video files or folders of frames")
    b.add_argument("-o", "--output", required=True, help="dataset directory to create")
    b.add_argument("--size", type=_size, default=(256, 256), help="stored frame size, N or HxW (default 256)")
    _add_fields(b, DatasetSettings)
    b.add_argument("--force", action="store_true", help="replace an existing dataset directory it created")
    b.set_defaults(func=_run_dataset)

    t = subparsers.add_parser("train", help="train the motion estimator or the renderer",
                              description="Train one stage (single process, or under torchrun).")  # fmt: skip
    tsub = t.add_subparsers(dest="train_command", required=True)
    for stage, cls in (("motion", MotionTrainSettings), ("render", RenderTrainSettings)):
        desc = (
            "Stage 1: the SPADE U-Net motion estimator (L_GAN + 10 L_FM + L_EPE)."
            if stage == "motion"
            else "Stage 2: feature encoder + learned fusion + decoder through the splatting renderer, motion "
            "estimator frozen (L_GAN + 10 L_FM + L_1 + L_perceptual)."
        )
        p = tsub.add_parser(
            stage, help=desc.split(":")[1].strip(), description=desc + " See docs/training.md."
        )
        p.add_argument("--data", required=True, help="dataset directory (cinemagraph3d dataset build)")
        if stage == "render":
            p.add_argument("--motion", required=True, help="stage-1 run directory (holds motion_estimator)")
        p.add_argument("-o", "--output", required=True, help="run directory (weights, logs, checkpoints)")
        p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"], help="default auto")
        _add_fields(p, cls)
        p.add_argument(
            "--resume", action="store_true", help="continue the run in --output from its last checkpoint"
        )
        p.add_argument("--stop-at", type=int, default=None, metavar="STEP",
                       help="stop after STEP (a checkpoint is written; --resume continues)")  # fmt: skip
        p.add_argument("--force", action="store_true", help="replace an existing run directory it created")
        p.add_argument("--no-progress", action="store_true", help="no progress bar")
        p.set_defaults(func=_run_train, stage=stage, settings_cls=cls)


def _rename(exc: InputError, fields: set[str]) -> InputError:
    """The library names settings fields; the command line names their options."""
    names = {"output": "-o/--output", "data": "--data", "motion": "--motion", "resume": "--resume"}
    key = exc.name.split(" ", 1)
    base = key[0]
    if base in names:
        return InputError(names[base] + (" " + key[1] if len(key) > 1 else ""), exc.expected, exc.found)
    if exc.name in fields:
        return InputError(_flag(exc.name), exc.expected, exc.found)
    for prefix in ("dataset ",):
        if exc.name.startswith(prefix) and exc.name[len(prefix) :] in fields:
            return InputError(_flag(exc.name[len(prefix) :]), exc.expected, exc.found)
    return exc


def _run_dataset(args) -> int:
    from ..checks import check_output_path
    from ..train.dataset import build_dataset
    from ..train.settings import DatasetSettings

    fields = {f.name for f in dataclasses.fields(DatasetSettings)}
    try:
        s = _settings(DatasetSettings, args, size=args.size)
        check_output_path(args.output, name="-o/--output", kind="dir", force=args.force, inputs=args.videos)
        rep = build_dataset(args.videos, args.output, s, log=lambda line: print(line, file=sys.stderr))
    except InputError as exc:
        raise _rename(exc, fields) from None
    print(f"wrote {rep.path}: {len(rep.train)} training clip(s), {len(rep.val)} validation clip(s), "
          f"{len(rep.skipped)} skipped")  # fmt: skip
    return 0


def _run_train(args) -> int:
    from ..train.motion import train_motion
    from ..train.render import train_render

    cls = args.settings_cls
    fields = {f.name for f in dataclasses.fields(cls)}
    try:
        s = _settings(cls, args, device=args.device)
        kw = {
            "resume": args.resume,
            "force": args.force,
            "progress": not args.no_progress,
            "stop_at": args.stop_at,
        }
        if args.stage == "motion":
            res = train_motion(args.data, s, args.output, **kw)
        else:
            res = train_render(args.data, s, args.output, args.motion, **kw)
    except InputError as exc:
        raise _rename(exc, fields) from None
    import os

    if int(os.environ.get("RANK", "0")) == 0:
        val = res["final_validation"] or {}
        scores = ", ".join(f"{k} {v:.4g}" for k, v in val.items())
        print(f"{args.stage}: {res['steps']} step(s) in {res['run']}" + (f" ({scores})" if scores else ""))
    return 0
