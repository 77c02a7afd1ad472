"""Errors that reach the user: one line saying what went wrong and what to do."""

from __future__ import annotations


class NciiError(Exception):
    """An error with a message fit to show a user, and a hint on what to do next."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class SourceError(NciiError):
    """A source could not be read further (malformed or truncated export, missing file)."""


class MediaError(NciiError):
    """A media file was refused: corrupt, not an image, too large, unsafe path."""
