"""Sub-command module (being written): registers nothing yet."""

from __future__ import annotations


def register(subparsers) -> None:
    """Add this module's sub-commands to the main parser's subparsers (none yet)."""
