"""The official printed report as the server answers it: ``format=pdf`` on the reports API, and the
dashboard's "Báo cáo (PDF để ký)" link.

The letterhead comes from the ``report_*`` settings (:meth:`server.settings.Settings.letterhead`);
the date line is the server's today in its ``timezone``; the number is left for the clerk to write.
"""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from reports import Report, ReportError
from reports.official_pdf import official_pdf_bytes

from .errors import ApiError

PDF = "application/pdf"


def official_pdf(app_state, report: Report) -> bytes:
    """The PDF of ``report`` with this server's letterhead, dated today in its time zone.

    A missing font is a 503 naming the package to install (the server itself is fine)."""
    settings = app_state.settings
    today = datetime.fromtimestamp(app_state.clock() / 1e9, timezone.utc).astimezone(ZoneInfo(settings.timezone))
    try:
        return official_pdf_bytes(report, letterhead=settings.letterhead(), issued_on=today.date())
    except ReportError as exc:
        raise ApiError(503, str(exc)) from None


def pdf_filename(report: Report) -> str:
    return f"bao-cao-{report.period.kind}-{report.period.first_day.isoformat()}.pdf"
