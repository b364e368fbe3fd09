"""The reports' exceptions: one base class, each subclass also a builtin."""

from __future__ import annotations


class ReportError(Exception):
    """Base class of every error the reports raise on purpose."""


class PeriodError(ReportError, ValueError):
    """A period, date or time zone that does not make sense; ``field`` names the input at fault."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


class FilterError(ReportError, ValueError):
    """A site, counter or terminal filter that no name can match (e.g. it holds a control character)."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


class SourceError(ReportError, OSError):
    """The ratings cannot be read: a missing file, or one that is not a pulled ratings file."""
