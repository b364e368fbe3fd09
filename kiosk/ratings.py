"""The rating levels and the reasons for dissatisfaction, with their labels.

Codes are contracts (they are stored and uploaded); labels are for people.
"""

from sync.protocol import REASON_LABELS_VI

VERY_SATISFIED = "very_satisfied"
SATISFIED = "satisfied"
DISSATISFIED = "dissatisfied"

#: Rating codes in screen order, left to right.
RATINGS = (VERY_SATISFIED, SATISFIED, DISSATISFIED)

RATING_LABELS = {
    "vi": {
        VERY_SATISFIED: "Rất hài lòng",
        SATISFIED: "Hài lòng",
        DISSATISFIED: "Không hài lòng",
    },
    "en": {
        VERY_SATISFIED: "Very satisfied",
        SATISFIED: "Satisfied",
        DISSATISFIED: "Dissatisfied",
    },
}

#: Reason codes offered after "dissatisfied", in the default order.
REASONS = (
    "processing_time",
    "staff_attitude",
    "unclear_guidance",
    "complex_procedure",
    "repeat_visits",
    "facilities",
)

#: At most this many reasons are offered (HappyOrNot's limit, and six buttons).
MAX_REASONS = 6

REASON_LABELS = {
    "vi": dict(REASON_LABELS_VI),
    "en": {
        "processing_time": "Processing time",
        "staff_attitude": "Staff attitude",
        "unclear_guidance": "Unclear guidance",
        "complex_procedure": "Complicated procedure",
        "repeat_visits": "Too many visits",
        "facilities": "Facilities",
    },
}

#: How the reason question ended.
GIVEN, SKIPPED, TIMEOUT = "given", "skipped", "timeout"
REASON_OUTCOMES = (GIVEN, SKIPPED, TIMEOUT)

#: Where a press came from.
BUTTON, TOUCH = "button", "touch"
SOURCES = (BUTTON, TOUCH)

LANGUAGES = ("vi", "en")
