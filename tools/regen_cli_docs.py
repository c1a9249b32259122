"""Rewrite every ``usage: cinemagraph3d CMD`` block of docs/cli.md with CMD's current --help
(at 100 columns), the text that ``tests/test_cli.py::test_docs_cli_md_shows_the_current_help``
compares against. Run: ``.venv/bin/python tools/regen_cli_docs.py``."""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

os.environ["COLUMNS"] = "100"

from cinemagraph3d.cli import main  # noqa: E402


def help_text(cmd: str) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.suppress(SystemExit):
        main([cmd, "--help"])
    return buf.getvalue().rstrip("\n")


def regenerate(path: Path) -> int:
    text = path.read_text()
    count = 0

    def repl(m: re.Match) -> str:
        nonlocal count
        count += 1
        return "```\n" + help_text(m.group(2)) + "\n```"

    path.write_text(re.sub(r"```\n(usage: cinemagraph3d (\S+).*?)\n```", repl, text, flags=re.S))
    return count


if __name__ == "__main__":
    n = regenerate(Path(__file__).resolve().parents[1] / "docs" / "cli.md")
    print(f"regenerated {n} help blocks in docs/cli.md")
