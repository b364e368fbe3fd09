"""One vocabulary: levels, reasons, their labels, trend words and a rating's content fields are defined once, in
``sync/vocabulary.py``, and every other module imports them (issue 9: levels were defined in four places, labels
in two, trend words in three, and ``Rating.content()`` went unused while ingest had its own)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from server.ingest import INSERT_COLUMNS, STORED_AS
from sync import vocabulary
from sync.protocol import Rating

REPO = Path(__file__).resolve().parent.parent
#: Production code; hardware/ is left out on purpose: it may import nothing of ours (it names its buttons itself).
PACKAGES = ("kiosk", "sync", "reports", "admin", "server")
SUFFIXES = {".py", ".kv", ".html"}
HOME = REPO / "sync" / "vocabulary.py"


def production_files() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (REPO / package).rglob("*")
                  if p.suffix in SUFFIXES and p != HOME and not {"__pycache__", "migrations"} & set(p.parts))


def labels() -> list[str]:
    found = [vocabulary.NO_REASON_LABELS["vi"], *vocabulary.TREND_UNIT_LABELS_VI.values()]
    for language in vocabulary.LANGUAGES:
        found += [vocabulary.LEVEL_LABELS[language][level] for level in vocabulary.LEVELS
                  if level != vocabulary.SATISFIED]  # "Hài lòng"/"Satisfied" are words of other sentences too
        found += vocabulary.REASON_LABELS[language].values()
    return found


@pytest.mark.parametrize("label", labels())
def test_each_label_is_written_only_in_the_vocabulary(label):
    # Written as a whole string literal (Python, kv) or as a template's text between tags.
    written = re.compile(r'["\'>]\s*' + re.escape(label) + r'\s*["\'<]')
    where = [str(p.relative_to(REPO)) for p in production_files() if written.search(p.read_text(encoding="utf-8"))]
    assert where == [], f"{label!r} is written out in {where}: import it from sync.vocabulary"


def test_the_levels_are_listed_only_in_the_vocabulary():
    listing = re.compile(r'["\']very_satisfied["\'],\s*["\']satisfied["\'],\s*["\']dissatisfied["\']')
    where = [str(p.relative_to(REPO)) for p in production_files() if listing.search(p.read_text(encoding="utf-8"))]
    assert where == []


def test_the_reasons_are_listed_only_in_the_vocabulary():
    listing = re.compile(r'["\']processing_time["\'],\s*["\']staff_attitude["\']')
    where = [str(p.relative_to(REPO)) for p in production_files() if listing.search(p.read_text(encoding="utf-8"))]
    assert where == []


def test_the_trend_words_are_mapped_only_in_the_vocabulary():
    mapping = re.compile(r'["\']day["\']\s*:\s*["\']')
    where = [str(p.relative_to(REPO)) for p in production_files() if mapping.search(p.read_text(encoding="utf-8"))]
    assert where == []


def test_a_ratings_content_is_its_content_fields_and_ingest_stores_them_first():
    rating = Rating.model_validate({"id": "5f0c1d52-3c5e-4b7e-9d0e-1f2a3b4c5d6e", "terminal_id": "t1",
                                    "rating": "dissatisfied", "reason": "facilities", "reason_outcome": "given",
                                    "source": "button", "created_at": "2026-11-25T09:30:12.345Z",
                                    "boot_id": "b1", "monotonic_ns": 6, "clock_synced": 1, "filtered": 1})
    content = rating.content()
    assert tuple(content) == vocabulary.RATING_CONTENT_FIELDS
    assert content["id"] == "5f0c1d52-3c5e-4b7e-9d0e-1f2a3b4c5d6e" and content["reason"] == "facilities"
    # Stored first, each under its own name but the officer's code (beside the officer's id: issue 12).
    assert INSERT_COLUMNS[:len(vocabulary.RATING_CONTENT_FIELDS)] == tuple(
        STORED_AS.get(name, name) for name in vocabulary.RATING_CONTENT_FIELDS)
    assert STORED_AS == {"officer": "officer_code"}


def test_the_protocol_accepts_exactly_the_vocabularys_codes():
    fields = Rating.model_fields
    assert fields["rating"].annotation.__args__ == vocabulary.LEVELS
    assert fields["reason"].annotation.__args__[0].__args__ == vocabulary.REASONS
    assert fields["source"].annotation.__args__ == vocabulary.SOURCES
