"""``cinemagraph3d edit [PHOTO | PROJECT.json | LABELME.json]``: the browser editor.

Only the argument parsing lives here; the editor is :mod:`cinemagraph3d.editor`.
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    """Add the ``edit`` sub-command to the main parser's subparsers."""
    p = subparsers.add_parser(
        "edit",
        help="paint the fluid, draw its flow, pick the camera and preview it live in the browser",
        description="Start the local web editor (needs the [editor] extra: gradio). It binds to "
        "127.0.0.1 unless --host is given, prints its address and never makes a public share link. "
        "Everything it saves (the photo's copy, masks, project.json, renders) goes into --workdir; "
        "`cinemagraph3d render WORKDIR/project.json` renders what the editor's Render button renders. "
        "See docs/editor.md.",
    )
    p.add_argument("source", nargs="?", help="a photo, a project .json or a labelme .json (optional)")
    p.add_argument(
        "-w",
        "--workdir",
        help="working folder, created (or reused if the editor made it); default: SOURCE-NAME-edit "
        "or cinemagraph3d-edit in the current directory",
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)"
    )
    p.add_argument("--port", type=int, help="port (default: the first free one from 7860)")
    p.add_argument(
        "--allow-outside-paths",
        action="store_true",
        help="let a project source read files outside its own folder (absolute or ../ paths)",
    )
    p.set_defaults(func=_edit)


def _edit(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..errors import InputError

    if args.port is not None and not 1 <= args.port <= 65535:
        raise InputError("--port", "an integer in [1, 65535]", args.port)
    source = Path(args.source) if args.source else None
    if source is not None and not source.is_file():
        raise InputError(
            "source", "an existing photo, project .json or labelme .json", f"no file at {str(source)!r}"
        )
    if args.allow_outside_paths and (source is None or source.suffix.lower() != ".json"):
        raise InputError("--allow-outside-paths", "a project .json source", str(source))
    workdir = args.workdir or (f"{source.stem}-edit" if source is not None else "cinemagraph3d-edit")
    import importlib.util
    import os

    if importlib.util.find_spec("gradio") is None:
        raise InputError(
            "edit", "the editor's extra (pip install 'cinemagraph3d[editor]')", "gradio not installed"
        )
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported: no phoning home
    from ..editor.app import launch
    from ..editor.session import Workspace, initial_state

    try:
        workspace = Workspace(workdir)
    except InputError as exc:
        raise InputError("--workdir", exc.expected, exc.found) from None
    state = initial_state(source, workspace, allow_outside_paths=args.allow_outside_paths)
    launch(workspace, state, host=args.host, port=args.port)
    return 0
