"""The server's exceptions: one base class, each subclass also a builtin.

:class:`ApiError` is what a route raises to answer with the error envelope
(``{"ok": false, "error": "...", "field": ...}``) and a 4xx status.
"""

from __future__ import annotations


class ServerError(Exception):
    """Base class of every error the server raises on purpose."""


class SettingsError(ServerError, ValueError):
    """A setting has a bad value, or a placeholder where a secret belongs."""


class DatabaseUnavailable(ServerError, ConnectionError):
    """The database cannot be opened or reached."""


class UnknownTerminal(ServerError, LookupError):
    """No terminal has that id."""


class ApiError(ServerError):
    """An answer with an error status, a plain message and, for bad input, the field at fault.

    >>> raise ApiError(403, "ratings.0.terminal_id: not this terminal's id", field="ratings.0.terminal_id")
    Traceback (most recent call last):
    ...
    server.errors.ApiError: ratings.0.terminal_id: not this terminal's id
    """

    def __init__(self, status: int, message: str, *, field: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.headers = headers or {}
