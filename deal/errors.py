"""Errors shared by every layer that talks to users (the CLI and the data tools)."""

from __future__ import annotations


class UsageError(Exception):
    """A bad argument or argument combination: the command prints the message as one sentence and exits 2."""
