"""The one base exception of the terminal, and its subclasses.

Each subclass is also a builtin, so callers may catch either.
"""


class KioskError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(KioskError, ValueError):
    """A config file or value is wrong; the message names the key."""


class StoreError(KioskError, OSError):
    """The local rating database cannot be opened or written."""
