"""The ``cinemagraph3d eval`` sub-command.

``cinemagraph3d eval [--suite NAME] [--out DIR] [--report FILE] [--methods LIST] [--motion SRC]``
renders a suite of analytic scenes with every method, prints the per-scene and per-region tables
and writes a Markdown report with side-by-side frames. ``docs/quality.md`` is regenerated with::

    cinemagraph3d eval --suite standard --out docs/quality --report docs/quality.md

``--suite landscapes`` scores depth, single-click masks and the automatic sky on procedural
landscapes instead (:mod:`cinemagraph3d.eval.depth_metrics`; ``docs/quality_depth.md``), and
``--suite motion`` runs the motion quality study (:mod:`cinemagraph3d.eval.motion_metrics`;
``docs/quality_motion.md``, options ``--size``, ``--no-analytic`` and ``--notes``).
``python -m cinemagraph3d.eval.motion_metrics`` is :func:`motion_study_main`, the same study with
its own spelling (``--out FILE`` is the Markdown report).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from ..errors import InputError

__all__ = ["register", "run", "motion_study_main"]

DOCS_COMMAND = "cinemagraph3d eval --suite standard --out docs/quality --report docs/quality.md --force"
LANDSCAPES_COMMAND = (
    "cinemagraph3d eval --suite landscapes --out docs/quality_depth --report docs/quality_depth.md --force"
)
MOTION_COMMAND = (
    "cinemagraph3d eval --suite motion --report docs/quality_motion.md "
    "--notes docs/quality_motion_notes.md --force"
)
#: The suites this command runs besides those of :data:`cinemagraph3d.eval.harness.SUITES`.
OWN_SUITES = ("landscapes", "motion")
# The argument names of the evaluation functions (get_suite, run_suite) as this command's flags.
_FLAGS = {"suite": "--suite", "methods": "--methods", "motion": "--motion"}


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``eval`` sub-command to the main parser's ``subparsers`` (imports nothing heavy, so
    ``cinemagraph3d --help`` stays instant; suites and methods are checked when it runs)."""
    p = subparsers.add_parser(
        "eval",
        help="score the method and baselines on analytic ground-truth scenes",
        description="Render a suite of analytic scenes (exact frames, depth, motion) with the method and the "
        "baselines, print per-scene and per-region tables and write a Markdown report.",
    )
    p.add_argument(
        "--suite",
        default="standard",
        help="suite name: standard, tiny, landscapes (depth and masks) or motion (the motion quality "
        "study) (default standard; see docs/quality.md)",
    )
    p.add_argument(
        "--out", default="eval-report", help="output directory for pictures and scores (default eval-report)"
    )
    p.add_argument("--report", help="Markdown report path (default OUT/report.md)")
    p.add_argument("--methods", default=None,
                   help="comma-separated methods among full, forward, 2d, still (default all)")  # fmt: skip
    p.add_argument("--motion", default="truth", choices=["truth", "hints"],
                   help="motion given to the renderer: the scene's exact displacements (truth, default) or the "
                        "motion field built from the true masks and hints (hints)")  # fmt: skip
    p.add_argument("--no-lpips", action="store_true", help="skip LPIPS even when its weights are present")
    _add_study_args(p)
    p.add_argument(
        "--force",
        action="store_true",
        help="replace an existing --out directory (only one cinemagraph3d created) and --report file",
    )
    p.set_defaults(func=run)
    return p


def _add_study_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("motion study (--suite motion)")
    g.add_argument("--size", default="384x216", help="WxH of the study photo (default 384x216)")
    g.add_argument(
        "--no-analytic",
        action="store_true",
        help="skip the crack count on the analytic scenes under every camera path",
    )
    g.add_argument(
        "--notes", help="a Markdown file appended as the section 'Notes' (measurements made by hand)"
    )


@contextlib.contextmanager
def _flags():
    """Library errors that name an argument of the evaluation functions, as this command's flag."""
    try:
        yield
    except InputError as exc:
        if type(exc) is InputError and exc.name in _FLAGS:
            raise InputError(_FLAGS[exc.name], exc.expected, exc.found) from None
        raise


def run(args) -> int:
    """Run the evaluation described by parsed ``args``; returns the exit status. Outputs follow
    the rule of :func:`~cinemagraph3d.checks.check_output_path` (``--force`` to replace)."""
    from ..checks import check_outputs
    from ..io import replacing_dirs

    if args.suite == "motion":
        return _run_motion(args)
    report_path = args.report if args.report is not None else str(Path(args.out) / "report.md")
    outputs = [("--out", args.out, "dir")]
    if args.report is not None:
        outputs.append(("--report", args.report, "md"))
    check_outputs(outputs, force=getattr(args, "force", False))
    if args.report is not None and Path(report_path).resolve().is_relative_to(Path(args.out).resolve()):
        raise InputError("--report", "a path outside --out (or no --report: OUT/report.md)", args.report)
    with replacing_dirs([args.out]):
        with _flags():
            return _run(args)


def _check_out_dirs(args) -> Path:
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError("--out", "a directory (created if missing)", f"a file at {str(out)!r}")
    if args.report is not None and Path(args.report).is_dir():
        raise InputError("--report", "a Markdown file path", f"a directory at {args.report!r}")
    return out


def _run(args) -> int:
    from ..eval.harness import SUITES, get_suite, run_suite
    from ..eval.report import format_tables, write_report

    if args.suite == "landscapes":  # depth and mask quality (issue 12): its own report
        return _run_landscapes(args)
    if args.suite not in SUITES:
        raise InputError("--suite", f"one of {', '.join([*SUITES, *OWN_SUITES])}", repr(args.suite))
    suite = get_suite(args.suite)
    out = _check_out_dirs(args)
    from ..eval.baselines import METHODS

    given = args.methods if args.methods is not None else ",".join(METHODS)
    methods = [m.strip() for m in given.split(",") if m.strip()]

    print(f"evaluating suite {suite.name!r} ({suite.description})", file=sys.stderr, flush=True)
    result = run_suite(
        suite, methods, motion=args.motion, use_lpips=False if args.no_lpips else None, progress=_progress
    )
    per_scene, per_region = format_tables(result)
    print("per scene (whole frame):")
    print(per_scene)
    print()
    print("per region (mean over scenes):")
    print(per_region)
    command = "cinemagraph3d eval " + " ".join(
        [f"--suite {suite.name}", f"--out {args.out}"]
        + ([f"--report {args.report}"] if args.report else [])
        + (
            [f"--methods {args.methods}"]
            if args.methods and args.methods != ",".join(result.methods[:-1])
            else []
        )
        + ([f"--motion {args.motion}"] if args.motion != "truth" else [])
        + ["--force"]  # the command as it reproduces the report over the existing one
    )
    report = write_report(result, out, args.report, command)
    print(f"\nwrote {report}")
    return 0


def _progress(line: str) -> None:
    print(f"  {line}", file=sys.stderr, flush=True)


def _write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary sibling renamed into place."""
    from ..io import replace_output

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        replace_output(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _run_landscapes(args) -> int:
    """``--suite landscapes``: score, print the report, write it with pictures (the output checks
    of :func:`run` are done)."""
    import os

    import imageio.v3 as iio

    from ..eval.depth_metrics import landscape_picture, landscapes_markdown, run_landscape_sizes

    out = _check_out_dirs(args)
    report = Path(args.report) if args.report else out / "report.md"
    print("evaluating suite 'landscapes' (depth, single clicks, automatic sky)", file=sys.stderr, flush=True)
    results = run_landscape_sizes(progress=_progress)
    out.mkdir(parents=True, exist_ok=True)
    pics = {}
    for scene, p in results[0].pictures.items():
        path = out / f"{scene}.png"
        iio.imwrite(path, landscape_picture(p))
        pics[scene] = os.path.relpath(path, report.parent)
    command = (
        f"cinemagraph3d eval --suite landscapes --out {args.out}"
        + (f" --report {args.report}" if args.report else "")
        + (" --force" if getattr(args, "force", False) else "")
    )
    text = landscapes_markdown(results, command, pics)
    _write_text(report, text)
    print(text)
    print(f"wrote {report}")
    return 0


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InputError("--size", "WxH, e.g. 384x216", repr(text)) from None
    if not (32 <= w <= 4096 and 32 <= h <= 4096):
        raise InputError("--size", "W and H in [32, 4096]", text)
    return w, h


def _run_motion(args) -> int:
    """``--suite motion``: the motion quality study (:func:`~cinemagraph3d.eval.motion_metrics.run_study`)
    written as one Markdown report: ``--report``, else ``OUT/report.md``."""
    from ..checks import check_outputs
    from ..io import replacing_dirs

    force = getattr(args, "force", False)
    size = _size(args.size)
    notes = None
    if args.notes is not None:
        try:
            notes = Path(args.notes).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError("--notes", "a readable UTF-8 Markdown file", f"{args.notes!r}: {exc}") from None
    if args.report is not None:  # the report alone: no --out directory
        inputs = [args.notes] if args.notes else []
        (report,) = check_outputs([("--report", args.report, "md")], inputs=inputs, force=force)
        dirs = []
    else:
        check_outputs([("--out", args.out, "dir")], force=force)
        report, dirs = Path(args.out) / "report.md", [args.out]
    from ..eval.motion_metrics import run_study, study_markdown

    command = " ".join(
        ["cinemagraph3d eval --suite motion"]
        + ([f"--report {args.report}"] if args.report is not None else [f"--out {args.out}"])
        + ([f"--size {args.size}"] if size != (384, 216) else [])
        + (["--no-analytic"] if args.no_analytic else [])
        + ([f"--notes {args.notes}"] if args.notes else [])
        + ["--force"]  # the command as it reproduces the report over the existing one
    )
    print("evaluating the motion quality study", file=sys.stderr, flush=True)
    with replacing_dirs(dirs):
        result = run_study(size, analytic=not args.no_analytic, progress=_progress)
        text = study_markdown(result, command)
        if notes is not None:
            text += "\n## Notes\n\n" + notes
        _write_text(Path(report), text)
    print(f"wrote {report}")
    return 0


def motion_study_main(argv: list[str] | None = None) -> int:
    """``python -m cinemagraph3d.eval.motion_metrics [--out FILE] [--size WxH] [--no-analytic]
    [--notes FILE] [--force]``: ``cinemagraph3d eval --suite motion`` with the report written to
    ``--out`` (default ``docs/quality_motion.md``). Returns the exit status."""
    from . import main
    from .parser import _Parser

    ap = _Parser(
        prog="python -m cinemagraph3d.eval.motion_metrics",
        description="The motion quality study (issue 13): the same as `cinemagraph3d eval --suite motion`.",
    )
    ap.add_argument(
        "--out", default="docs/quality_motion.md", help="Markdown report (default docs/quality_motion.md)"
    )
    _add_study_args(ap)
    ap.add_argument("--force", action="store_true", help="replace an existing report")
    a = ap.parse_args(sys.argv[1:] if argv is None else argv)
    forward = ["eval", "--suite", "motion", "--report", a.out, "--size", a.size]
    forward += ["--no-analytic"] if a.no_analytic else []
    forward += ["--notes", a.notes] if a.notes is not None else []
    forward += ["--force"] if a.force else []
    return main(forward)
