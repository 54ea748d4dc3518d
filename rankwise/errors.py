"""The one exception hierarchy that services raise and doors translate (form error, HTTP 4xx, exit code)."""

from __future__ import annotations

import errno

from django.db import DataError


class RankwiseError(Exception):
    """A request Rankwise refuses, with a message meant for the person who made it."""

    status_code = 400

    def __init__(self, message: str, *, details: list[dict] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class ValidationFailed(RankwiseError):
    """Input that does not fit; `details` lists each problem as {"line"?, "field", "reason"}."""


def invalid(field: str, reason: str) -> ValidationFailed:
    """One field's problem, as "field: reason." with that one detail."""
    return ValidationFailed(f"{field}: {reason}.", details=[{"field": field, "reason": reason}])


class NotAllowed(RankwiseError):
    status_code = 403


class NotFound(RankwiseError):
    status_code = 404


class Conflict(RankwiseError):
    """The request clashes with the current state (an expired lease, a finished run)."""

    status_code = 409


# What doors answer (HTTP 503) when the database cannot be reached: the request may simply be retried.
DATABASE_UNAVAILABLE = (
    "Rankwise cannot reach its database right now, so this request may not have been carried out. "
    "Try again in a moment: a retried submission is recorded only once."
)


_STORAGE_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EFBIG: "the file grew past the size allowed",
}


# SQLSTATEs of values the database refuses to store: the request's input, not a fault of ours.
_REFUSED_VALUES = {
    "22001": "a text is longer than its column allows",
    "22003": "a number is out of range",
    "22021": "a text holds a character the database cannot store",
    "22P02": "a value is not valid for its type",
    "22P05": "a text holds a character the database cannot store (NUL)",
}


def value_refused(exc: Exception) -> ValidationFailed | None:
    """A 400 for a DataError that the request's input caused (NUL, an out-of-range number, ...);
    None for any other error. The last line of defence, behind the door's checks that name the
    field: by now the database no longer says which field it was."""
    if not isinstance(exc, DataError):
        return None
    cause = exc.__cause__
    reason = _REFUSED_VALUES.get(getattr(cause, "sqlstate", None) or "")
    if reason is None and "NUL (0x00)" in str(cause or exc):
        # psycopg refuses NUL in text itself, before the query reaches the server.
        reason = "a text holds a NUL character"
    if reason is None:
        return None
    return ValidationFailed(f"A value in this request cannot be stored: {reason}.", details=[])


def storage_error(exc: OSError, *, writing: str) -> str:
    """A sentence for a failed write (the disk is full, read-only, ...), naming what was being written."""
    reason = _STORAGE_REASONS.get(exc.errno, "the system refused the write")
    return f"Could not write {writing}: {reason} ({exc.strerror or exc})."
