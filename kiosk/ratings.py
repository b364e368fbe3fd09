"""The terminal's names for the rating vocabulary, which is defined once in :mod:`sync.vocabulary`.

Codes are contracts (they are stored and uploaded); labels are for people.
"""

from sync.vocabulary import (  # noqa: F401  (re-exported for the terminal's modules)
    BUTTON,
    DISSATISFIED,
    GIVEN,
    INVITATION_OUTCOMES,
    LANGUAGES,
    LEVEL_LABELS as RATING_LABELS,
    LEVELS as RATINGS,
    MAX_REASONS,
    REASON_LABELS,
    REASON_OUTCOMES,
    REASONS,
    SATISFIED,
    SIGN_IN_HOWS,
    SIGN_OUT_HOWS,
    SKIPPED,
    SOURCES,
    TIMEOUT,
    TOUCH,
    VERY_SATISFIED,
)
