"""Vietnamese words of the reports: levels, reasons, weekdays, and how numbers are written.

The reason labels are the protocol's (``sync.protocol.REASON_LABELS_VI``), which the
terminal's screen shows too. A reason code a terminal sent that is not listed
here is shown as it is.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from ..protocol import REASON_LABELS_VI

LEVELS = ("very_satisfied", "satisfied", "dissatisfied")

#: The reason bucket of a dissatisfied rating that came without a reason (skipped, timed out, not asked).
NO_REASON = "no_reason"

LEVEL_LABELS = {"very_satisfied": "Rất hài lòng", "satisfied": "Hài lòng", "dissatisfied": "Không hài lòng"}

REASON_LABELS = {**REASON_LABELS_VI, NO_REASON: "Không nêu lý do"}

#: The known reasons in the terminals' default order; others follow, sorted.
REASON_ORDER = tuple(REASON_LABELS)

WEEKDAYS = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")
WEEKDAYS_SHORT = ("T2", "T3", "T4", "T5", "T6", "T7", "CN")

GROUPINGS_VI = {"site": "Đơn vị", "counter": "Quầy", "terminal": "Thiết bị", None: "Tổng"}

NO_COUNTER = "(không ghi quầy)"
NO_SITE = "(không ghi đơn vị)"


def reason_label(code: str) -> str:
    return REASON_LABELS.get(code, code)


def one_decimal(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` in percent, rounded half up to one decimal (None when ``whole`` is 0).

        >>> one_decimal(2220, 2939), one_decimal(1, 8)
        (75.5, 12.5)
    """
    if not whole:
        return None
    return float((Decimal(100 * part) / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def vi_int(value: int) -> str:
    """``2.939``: thousands separated by dots, as Vietnamese documents write them."""
    return f"{value:,}".replace(",", ".")


def vi_pct(value: float | None) -> str:
    """``75,5%`` (a decimal comma); ``–`` when there is nothing to divide."""
    return "–" if value is None else f"{value:.1f}".replace(".", ",") + "%"
