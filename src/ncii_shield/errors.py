"""Errors that reach the user: one line saying what went wrong and what to do.

Each error has a kind, and the kind alone decides the HTTP status (`HTTP_STATUS`) and the CLI exit code
(`EXIT_CODE`); nothing else in the code picks a status or an exit code for an `NciiError`.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    INVALID = "invalid"  # the input is wrong: fix it and run again
    NOT_FOUND = "not_found"  # it names something that does not exist
    FORBIDDEN = "forbidden"  # it exists (or may) but this user, key or token may not use it
    CONFLICT = "conflict"  # it clashes with what is stored (exists already, wrong state)
    UNAVAILABLE = "unavailable"  # a component is down or busy: try again later


HTTP_STATUS: dict[ErrorKind, int] = {
    ErrorKind.INVALID: 400,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.CONFLICT: 409,
    ErrorKind.UNAVAILABLE: 503,
}

# Scripts need one distinction above all: "fix the command" (2, as Click uses for usage errors) against
# "nothing is wrong with the command, try again later" (75, sysexits' EX_TEMPFAIL). The message says which
# thing was wrong; 1 stays "the job ran but found a problem" (a partial scan, a broken audit chain).
EXIT_CODE: dict[ErrorKind, int] = {
    ErrorKind.INVALID: 2,
    ErrorKind.NOT_FOUND: 2,
    ErrorKind.FORBIDDEN: 2,
    ErrorKind.CONFLICT: 2,
    ErrorKind.UNAVAILABLE: 75,
}


class NciiError(Exception):
    """An error with a message fit to show a user, and a hint on what to do next."""

    kind: ErrorKind = ErrorKind.INVALID

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.kind]

    @property
    def exit_code(self) -> int:
        return EXIT_CODE[self.kind]


class NotFound(NciiError):
    """What was named does not exist (a case, a notice, a bank, a user)."""

    kind = ErrorKind.NOT_FOUND


class Forbidden(NciiError):
    """Not allowed for this user, token or key; said the same way whether the thing exists or not."""

    kind = ErrorKind.FORBIDDEN


class Conflict(NciiError):
    """Clashes with what is stored: exists already, or is in a state that does not allow it."""

    kind = ErrorKind.CONFLICT


class Unavailable(NciiError):
    """A component is down or busy (SMTP server, database lock, worker): nothing is wrong with the input."""

    kind = ErrorKind.UNAVAILABLE


class SourceError(NciiError):
    """A source could not be read further (malformed or truncated export, missing file)."""


class MediaError(NciiError):
    """A media file was refused: corrupt, not an image, too large, unsafe path."""
