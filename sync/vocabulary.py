"""The one rating vocabulary: levels, reasons, outcomes, their labels, and how a share is rounded.

Codes are contracts (the terminal stores them, the protocol carries them, the
server keeps them); labels are for people. Everything that names a level or a
reason imports it from here: the terminal's screens, the wire protocol, the
server, the reports and the dashboard.

    >>> LEVELS
    ('very_satisfied', 'satisfied', 'dissatisfied')
    >>> LEVEL_LABELS["vi"]["dissatisfied"], REASON_LABELS["en"]["processing_time"]
    ('Không hài lòng', 'Processing time')
    >>> one_decimal(349, 400), one_decimal(1, 8), one_decimal(0, 0) is None
    (87.3, 12.5, True)
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

VERY_SATISFIED = "very_satisfied"
SATISFIED = "satisfied"
DISSATISFIED = "dissatisfied"

#: Rating levels, best first: the terminal's screen order, left to right, and the reports' column order.
LEVELS = (VERY_SATISFIED, SATISFIED, DISSATISFIED)

#: Reason codes offered after "dissatisfied", in the default order.
REASONS = ("processing_time", "staff_attitude", "unclear_guidance", "complex_procedure", "repeat_visits",
           "facilities")

#: At most this many reasons are offered (HappyOrNot's limit, and six buttons).
MAX_REASONS = 6

#: How the reason question ended.
GIVEN, SKIPPED, TIMEOUT = "given", "skipped", "timeout"
REASON_OUTCOMES = (GIVEN, SKIPPED, TIMEOUT)

#: Where a press came from.
BUTTON, TOUCH = "button", "touch"
SOURCES = (BUTTON, TOUCH)

#: The languages of the terminal's screens.
LANGUAGES = ("vi", "en")

LEVEL_LABELS = {
    "vi": {VERY_SATISFIED: "Rất hài lòng", SATISFIED: "Hài lòng", DISSATISFIED: "Không hài lòng"},
    "en": {VERY_SATISFIED: "Very satisfied", SATISFIED: "Satisfied", DISSATISFIED: "Dissatisfied"},
}

REASON_LABELS = {
    "vi": {
        "processing_time": "Thời gian giải quyết hồ sơ",
        "staff_attitude": "Thái độ của cán bộ",
        "unclear_guidance": "Hướng dẫn chưa rõ ràng",
        "complex_procedure": "Thủ tục, giấy tờ phức tạp",
        "repeat_visits": "Phải đi lại nhiều lần",
        "facilities": "Cơ sở vật chất",
    },
    "en": {
        "processing_time": "Processing time",
        "staff_attitude": "Staff attitude",
        "unclear_guidance": "Unclear guidance",
        "complex_procedure": "Complicated procedure",
        "repeat_visits": "Too many visits",
        "facilities": "Facilities",
    },
}

#: The reports' bucket for a dissatisfied rating that came without a reason (skipped, timed out, not asked).
NO_REASON = "no_reason"
NO_REASON_LABELS = {"vi": "Không nêu lý do", "en": "No reason given"}

#: The buckets of a report's trend, and their Vietnamese column headings.
TREND_UNITS = ("day", "week", "month")
TREND_UNIT_LABELS_VI = {"day": "Ngày", "week": "Tuần", "month": "Tháng"}

#: The fields that make a rating's content: a resend is identical when all of them match. ``officer`` and
#: ``dossier`` (issue 12) are absent from older terminals' ratings, which is the same as null.
RATING_CONTENT_FIELDS = ("id", "terminal_id", "rating", "reason", "reason_outcome", "source", "created_at",
                         "boot_id", "monotonic_ns", "clock_synced", "filtered", "officer", "dossier")

#: At the counter (issue 12): how an officer's shift began and ended, and how a dossier invitation ended.
SIGN_IN_HOWS = ("badge", "pin")
SIGN_OUT_HOWS = ("badge", "screen", "hours", "service")
INVITATION_OUTCOMES = ("rated", "unanswered", "replaced")
#: A staff code and a dossier code as the protocol carries them (the terminal's patterns may be narrower).
OFFICER_CODE_MAX, DOSSIER_CODE_MAX = 32, 48
OFFICER_CODE_PATTERN = r"^[A-Za-z0-9._-]+$"
DOSSIER_CODE_PATTERN = r"^[A-Za-z0-9._/-]+$"


def one_decimal(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` in percent, rounded half up to one decimal (None when ``whole`` is 0).

    The one rounding rule of every figure shown anywhere (terminal, server, reports, alerts,
    dashboard, workbook): computed in decimal, so 349/400 = 87.25 % shows as 87.3 %.

        >>> one_decimal(2220, 2939), one_decimal(1, 8), one_decimal(349, 400)
        (75.5, 12.5, 87.3)
    """
    if not whole:
        return None
    return round_half_up(Decimal(100 * part) / Decimal(whole))


def round_half_up(value, places: int = 1) -> float:
    """``value`` (a number or a Decimal) rounded half up to ``places`` decimals, as a float.

    For figures that are not a plain share, e.g. a shrunk rate; a float is taken at its
    shortest decimal form (``0.15`` is 0.15, not 0.1499…).

        >>> round_half_up(87.25), round_half_up(0.125, 2), round_half_up(2.5, 0)
        (87.3, 0.13, 3.0)
    """
    exact = value if isinstance(value, Decimal) else Decimal(repr(value) if isinstance(value, float) else value)
    return float(exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))
