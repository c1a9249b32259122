"""``cinemagraph3d batch``: the command-line face of :mod:`cinemagraph3d.batch`.

Exit status: 0 when every job is done (rendered now or finished before), 1 when at least one
job failed (each failure is in the summary and in ``OUTDIR/manifest.jsonl`` with its one-line
error), 2 for an error in the command itself (bad option, missing input, taken output folder).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import InputError

__all__ = ["register", "run"]

# Options shared with `animate`, mapped to Project fields (None: not given, keep the settings file's).
_SHARED = {
    "camera": str,
    "frames": int,
    "fps": float,
    "loop_steps": int,
    "amplitude": float,
    "max_side": int,
    "seed": int,
    "preset": str,
    "weights": str,
    "depth_backend": str,
    "speed": float,
}


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``batch`` sub-command to the main parser's ``subparsers``."""
    p = subparsers.add_parser(
        "batch",
        help="render a folder of photos or projects (locally or on Ray)",
        description="Render every photo, labelme-annotated photo and project file among INPUTS (folders "
        "are searched recursively) into OUTDIR, one output per input and camera path. Rerunning the same "
        "command renders only new, changed and failed jobs (OUTDIR/manifest.jsonl). Exit status: 0 all "
        "done, 1 some jobs failed, 2 bad command.",
    )
    p.add_argument("inputs", nargs="+", help="photos, project .json files, or folders of them")
    p.add_argument("-o", "--output", required=True, help="output folder (new, or one a batch created)")
    p.add_argument("--settings", help="JSON object of project fields shared by every photo (options win)")
    for name, kind in _SHARED.items():
        flag = "--" + name.replace("_", "-")
        p.add_argument(flag, type=kind, default=None, help=f"as in `animate` ({name})")
    p.add_argument(
        "--cameras", help="comma-separated camera paths: one output per path, e.g. circle,swing,zoom-in"
    )
    p.add_argument("--format", default="mp4", help="mp4 (default), gif or webp")
    p.add_argument("--no-auto-sky", action="store_true", help="photos without motion inputs stay still")
    p.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="auto|ADDRESS|local",
        help="run each job as a Ray task: local (a Ray instance started here, the default of a bare "
        "--ray), auto (the running cluster) or a cluster address",
    )
    p.add_argument("--cpus-per-job", type=float, default=1.0, help="CPUs each Ray task declares (default 1)")
    p.add_argument("--gpus-per-job", type=float, default=0.0, help="GPUs each Ray task declares (default 0)")
    p.add_argument(
        "--retries", type=int, default=3, help="Ray retries of a job whose worker died (default 3)"
    )
    p.add_argument(
        "--device",
        default="cpu",
        help="where each job's frames are rendered, as in `animate` (cpu, cuda, cuda:N, auto); with --ray, "
        "give the tasks GPUs with --gpus-per-job",
    )
    p.set_defaults(func=run)
    return p


def _settings(args) -> dict:
    settings: dict = {}
    if args.settings:
        try:
            settings = json.loads(Path(args.settings).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError("--settings", "an existing JSON file", f"no file at {args.settings!r}") from None
        except (OSError, ValueError, RecursionError) as exc:
            raise InputError("--settings", "a JSON object of project fields", str(exc)) from None
        if not isinstance(settings, dict):
            raise InputError("--settings", "a JSON object of project fields", type(settings).__name__)
    for name in _SHARED:
        value = getattr(args, name)
        if value is not None:
            settings[name] = value
    return settings


def run(args) -> int:
    from tqdm import tqdm

    from ..batch import check_batch_output, discover_jobs, run_batch
    from ..devices import parse_device

    parse_device(args.device)
    if not (0 <= args.retries <= 100):
        raise InputError("--retries", "an integer in [0, 100]", args.retries)
    if not (args.cpus_per_job > 0 and args.gpus_per_job >= 0):
        raise InputError(
            "--cpus-per-job/--gpus-per-job", "CPUs > 0 and GPUs >= 0", (args.cpus_per_job, args.gpus_per_job)
        )
    check_batch_output(args.output, name="output")
    cameras = [c.strip() for c in args.cameras.split(",") if c.strip()] if args.cameras else None
    try:
        jobs = discover_jobs(
            args.inputs,
            _settings(args),
            cameras,
            args.format.lower().lstrip("."),
            auto_sky=not args.no_auto_sky,
        )
    except InputError as exc:
        if exc.name == "format":  # the library's argument name; the rest are field names
            raise InputError("--format", exc.expected, exc.found) from None
        raise
    bar = tqdm(total=len(jobs), unit="job", desc="batch", file=sys.stderr)

    def progress(name: str, status: str) -> None:
        bar.set_postfix_str(f"{status}: {name}"[:60])
        bar.update(1)

    try:
        summary = run_batch(
            jobs,
            args.output,
            engine="ray" if args.ray else "local",
            ray_address=args.ray or "local",
            cpus_per_job=args.cpus_per_job,
            gpus_per_job=args.gpus_per_job,
            retries=args.retries,
            progress=progress,
            device=args.device,
        )
    finally:
        bar.close()
    for name, error in summary.failed.items():
        print(f"failed {name}: {error}")
    print(summary.table())
    return 0 if summary.ok else 1
