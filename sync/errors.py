"""The sync package's errors, and how a failed request is put in words."""

import json


class SyncError(Exception):
    """Base class of errors the sync raises on purpose."""


class SyncConfigError(SyncError, ValueError):
    """A server URL, token or TLS setting cannot be used."""


class EnrollmentError(SyncError, RuntimeError):
    """The server did not enrol this terminal; the message says why."""


def response_message(response) -> str:
    """The server's own sentence from an error answer (``{"error": ...}``), else the HTTP reason."""
    try:
        return str(json.loads(response.content).get("error", ""))[:200] or response.reason
    except (ValueError, AttributeError):
        return response.reason or "no message"


def shorten(exc: Exception) -> str:
    """An exception's text, cut to a line a technician can read."""
    text = str(exc)
    return text if len(text) < 160 else text[:157] + "…"
