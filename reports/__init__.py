"""Reports: one module for ``kiosk-admin report``, the server's report API and its dashboard.

For example::

    from reports import build_report, parse_period, sqlite_source
    report = build_report(sqlite_source("ratings.db"), parse_period("quarter", on="2026-11-25"))
    report.total.counted, report.total.satisfaction_rate, report.reconciles
    # → (2939, 99.9, True)

Renderers are in :mod:`reports.render` (terminal table, CSV, Excel, the
Vietnamese paragraph).
"""

from .errors import FilterError, PeriodError, ReportError, SourceError
from .filters import check_filters
from .figures import MIN_SAMPLE, PRIOR_WEIGHT, Cell, Check, Report, build_report
from .periods import DEFAULT_TZ, PERIOD_KINDS, Period, parse_period
from .sources import sqlalchemy_source, sqlite_source

__all__ = ["Period", "parse_period", "Report", "Cell", "Check", "build_report", "sqlalchemy_source",
           "sqlite_source", "PeriodError", "FilterError", "check_filters", "ReportError", "SourceError", "PERIOD_KINDS", "DEFAULT_TZ",
           "MIN_SAMPLE", "PRIOR_WEIGHT"]
