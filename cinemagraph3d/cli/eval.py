"""The ``cinemagraph3d eval`` sub-command.

``cinemagraph3d eval [--suite NAME] [--out DIR] [--report FILE] [--methods LIST] [--motion SRC]``
renders a suite of analytic scenes with every method, prints the per-scene and per-region tables
and writes a Markdown report with side-by-side frames. ``docs/quality.md`` is regenerated with::

    cinemagraph3d eval --suite standard --out docs/quality --report docs/quality.md

``--suite landscapes`` scores depth, single-click masks and the automatic sky on procedural
landscapes instead (:mod:`cinemagraph3d.eval.depth_metrics`; ``docs/quality_depth.md``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import InputError

__all__ = ["register", "run"]

DOCS_COMMAND = "cinemagraph3d eval --suite standard --out docs/quality --report docs/quality.md --force"


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
        help="suite name: standard, tiny or landscapes (default standard; see docs/quality.md)",
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
    p.add_argument(
        "--force",
        action="store_true",
        help="replace an existing --out directory (only one cinemagraph3d created) and --report file",
    )
    p.set_defaults(func=run)
    return p


def run(args) -> int:
    """Run the evaluation described by parsed ``args``; returns the exit status. Outputs follow
    the rule of :func:`~cinemagraph3d.checks.check_output_path` (``--force`` to replace)."""
    from ..checks import check_outputs
    from ..io import replacing_dirs

    report_path = args.report if args.report is not None else str(Path(args.out) / "report.md")
    outputs = [("--out", args.out, "dir")]
    if args.report is not None:
        outputs.append(("--report", args.report, "md"))
    check_outputs(outputs, force=getattr(args, "force", False))
    if args.report is not None and Path(report_path).resolve().is_relative_to(Path(args.out).resolve()):
        raise InputError("--report", "a path outside --out (or no --report: OUT/report.md)", args.report)
    with replacing_dirs([args.out]):
        return _run(args)


def _run(args) -> int:
    from ..eval.harness import get_suite, run_suite
    from ..eval.report import format_tables, write_report

    if args.suite == "landscapes":  # depth and mask quality (issue 12): its own report
        from ..eval.depth_metrics import run_cli

        return run_cli(args)
    suite = get_suite(args.suite)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError("--out", "a directory (created if missing)", f"a file at {str(out)!r}")
    if args.report is not None and Path(args.report).is_dir():
        raise InputError("--report", "a Markdown file path", f"a directory at {args.report!r}")
    from ..eval.baselines import METHODS

    given = args.methods if args.methods is not None else ",".join(METHODS)
    methods = [m.strip() for m in given.split(",") if m.strip()]

    def progress(line: str) -> None:
        print(f"  {line}", file=sys.stderr, flush=True)

    print(f"evaluating suite {suite.name!r} ({suite.description})", file=sys.stderr, flush=True)
    result = run_suite(
        suite, methods, motion=args.motion, use_lpips=False if args.no_lpips else None, progress=progress
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
