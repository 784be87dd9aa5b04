"""The two ways a file can fail `python -m app.predict`: the whole run, or one file."""

from __future__ import annotations


class UsageError(Exception):
    """A problem with the command line or its environment: reported in one line, exit 2."""


class FileError(Exception):
    """One file could not be answered; the run goes on with the others."""
