"""The reliability suites' size and their figures (issue 10).

Each suite runs short in ``make test`` (CI) and long in ``make soak``, which
sets ``HAILONG_SOAK=1``: ``scale(ci, soak)`` picks the size. A suite records
one row of figures with ``record(...)``: it is printed at the end of the run
(see ``pytest_terminal_summary`` in conftest.py) and written to
``tests/output/reliability/<suite>.json``; ``bench/reliability_table.py``
turns those files into the README's Reliability table.

>>> scale(20, 200) in (20, 200)
True
"""

from __future__ import annotations

import json
import os
from pathlib import Path

SOAK = os.environ.get("HAILONG_SOAK") == "1"
OUTPUT = Path(__file__).parent / "output" / "reliability"
RECORDED: list[dict] = []  # this run's rows, for the terminal summary


def scale(ci, soak):
    """The size of a suite: ``ci`` in ``make test``, ``soak`` in ``make soak``."""
    return soak if SOAK else ci


def record(suite: str, *, cases: int, command: str, lost: int = 0, duplicated: int = 0,
           server_errors: int = 0, **extra) -> dict:
    """Keep one row of a suite's figures: how many cases were tried, what was lost,
    duplicated or answered 5xx, the command that reproduces it, and any other figure
    (e.g. ``drain_s=12.5``). Returns the row."""
    row = {"suite": suite, "mode": "soak" if SOAK else "ci", "cases": cases, "lost": lost,
           "duplicated": duplicated, "server_errors": server_errors, "command": command, **extra}
    RECORDED.append(row)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    name = suite.lower().replace(" ", "-").replace("/", "-")
    (OUTPUT / f"{name}.{row['mode']}.json").write_text(json.dumps(row, ensure_ascii=False, indent=1) + "\n")
    return row
