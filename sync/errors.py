"""The sync package's one base exception."""


class SyncError(Exception):
    """Base class of errors the sync raises on purpose."""


class SyncConfigError(SyncError, ValueError):
    """A server URL, token or TLS setting cannot be used."""


class EnrollmentError(SyncError, RuntimeError):
    """The server did not enrol this terminal; the message says why."""
