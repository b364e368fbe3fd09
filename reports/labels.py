"""Vietnamese words of the reports: levels, reasons, weekdays, and how numbers are written.

Levels, reasons and their labels come from the one vocabulary (:mod:`sync.vocabulary`),
which the terminal's screen shows too. A reason code a terminal sent that is not
listed there is shown as it is.
"""

from __future__ import annotations

from sync.vocabulary import LEVELS, NO_REASON, NO_REASON_LABELS, TREND_UNIT_LABELS_VI, one_decimal  # noqa: F401
from sync.vocabulary import LEVEL_LABELS as _LEVEL_LABELS
from sync.vocabulary import REASON_LABELS as _REASON_LABELS

LEVEL_LABELS = _LEVEL_LABELS["vi"]

REASON_LABELS = {**_REASON_LABELS["vi"], NO_REASON: NO_REASON_LABELS["vi"]}

#: The known reasons in the terminals' default order; others follow, sorted.
REASON_ORDER = tuple(REASON_LABELS)

WEEKDAYS = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")
WEEKDAYS_SHORT = ("T2", "T3", "T4", "T5", "T6", "T7", "CN")

GROUPINGS_VI = {"site": "Đơn vị", "province": "Tỉnh/Thành phố", "unit": "Xã/Phường", "office": "Bộ phận Một cửa", "counter": "Quầy",
                "terminal": "Thiết bị", None: "Tổng"}

NO_COUNTER = "(không ghi quầy)"
NO_SITE = "(không ghi đơn vị)"

#: The columns that compare a row with the previous period (CSV and workbook).
CHANGE_HEADERS = ["Kỳ trước: số lượt được tính", "Kỳ trước: tỷ lệ hài lòng (%)", "Chênh lệch (điểm %)",
                  "Khoảng tin cậy 95%: từ (điểm %)", "Khoảng tin cậy 95%: đến (điểm %)", "So với kỳ trước"]


def reason_label(code: str) -> str:
    return REASON_LABELS.get(code, code)


def vi_int(value: int) -> str:
    """``2.939``: thousands separated by dots, as Vietnamese documents write them."""
    return f"{value:,}".replace(",", ".")


def vi_pct(value: float | None) -> str:
    """``75,5%`` (a decimal comma); ``–`` when there is nothing to divide."""
    return "–" if value is None else f"{value:.1f}".replace(".", ",") + "%"


def vi_points(value: float | None, *, signed: bool = True) -> str:
    """A difference in percentage points: ``+4,8``, ``−3,0`` (a true minus sign); ``–`` when there is none.

        >>> vi_points(4.8), vi_points(-3.0), vi_points(-3.0, signed=False), vi_points(None)
        ('+4,8', '−3,0', '3,0', '–')
    """
    if value is None:
        return "–"
    text = f"{abs(value):.1f}".replace(".", ",")
    if not signed or value == 0:
        return text
    return ("+" if value > 0 else "−") + text
