"""The spoken prompts: their names, what each says, and which are spoken together (no Kivy here).

Each prompt is one sound file per language, ``<language>/<name>.wav`` under
``assets/voice/`` (made by ``assets/make_voices.py``); an office may replace any
of them with its own recording of the same name (``[voice] folder``). The words
are the screens' own (:mod:`kiosk.texts`, :mod:`kiosk.ratings`), so what is shown
is also what is spoken.

    >>> script("thanks", "vi")
    'Cảm ơn Quý khách! Ý kiến của Quý khách đã được ghi nhận.'
    >>> HOME_HELP[0], len(HOME_HELP)
    ('question', 4)
    >>> reason_list(["staff_attitude", "facilities"])
    ('reason_question', 'staff_attitude', 'facilities')
"""

from __future__ import annotations

from .ratings import LANGUAGES, RATINGS, REASONS
from .texts import screen_texts

QUESTION = "question"
REASON_QUESTION = "reason_question"
THANKS = "thanks"
#: Spoken a few seconds before the reason screen gives up (flow event ``warning``).
REASON_WARNING = "reason_warning"
#: The dossier invitation, without the dossier's code (flow event ``invited``).
INVITATION = "invitation"

#: Every prompt, in the order the service screen lists them.
PROMPTS: tuple[str, ...] = (QUESTION, *RATINGS, REASON_QUESTION, *REASONS, THANKS, REASON_WARNING, INVITATION)

#: What the home screen's "listen" button speaks: the question, then the three choices.
HOME_HELP: tuple[str, ...] = (QUESTION, *RATINGS)

#: The words of prompts that no screen shows as such.
_OWN_WORDS = {
    "vi": {
        REASON_WARNING: "Màn hình sắp tự đóng. Quý khách vui lòng chọn lý do, hoặc chọn {skip}.",
        INVITATION: "Mời Quý khách đánh giá việc giải quyết hồ sơ.",
    },
    "en": {
        REASON_WARNING: "This screen will close soon. Please choose a reason, or choose {skip}.",
        INVITATION: "Please rate how your application was handled.",
    },
}


def script(name: str, language: str) -> str:
    """The words prompt ``name`` speaks in ``language``."""
    if name not in PROMPTS:
        raise ValueError(f"no spoken prompt {name!r}; expected one of {', '.join(PROMPTS)}")
    texts = screen_texts(language)
    if name == THANKS:
        return f"{texts['thanks']} {texts['thanks_line']}"
    if name in _OWN_WORDS[language]:
        return _OWN_WORDS[language][name].format(skip=texts["skip"])
    return texts[name]


def reason_list(reasons) -> tuple[str, ...]:
    """What the reason screen speaks: its question, then the terminal's reasons in their order."""
    return (REASON_QUESTION, *reasons)


def file_name(name: str, language: str, extension: str = "wav") -> str:
    """The prompt's file, relative to the voice folder: ``vi/thanks.wav``.

        >>> file_name("satisfied", "en")
        'en/satisfied.wav'
    """
    if language not in LANGUAGES:
        raise ValueError(f"no language {language!r}; expected one of {', '.join(LANGUAGES)}")
    return f"{language}/{name}.{extension}"
