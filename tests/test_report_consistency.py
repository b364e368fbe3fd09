"""One consistency proof: every output of the same report shows the same numbers as a plain SQL GROUP BY.

Hypothesis makes data sets — sites, counters, terminals, the three levels, every reason and none
(skipped, timed out), filtered presses, times on the edges of days, months and years in
Asia/Ho_Chi_Minh (16:59:59.999Z / 17:00:00.000Z is local midnight) — sends them to a real server
(uvicorn on loopback) through ``POST /api/v1/batches``, and reads the report back from every
output: the API's JSON, CSV and workbook, the dashboard's overview page, ``kiosk-admin report
--server`` (table and paragraph), and the same after ``kiosk-admin pull`` with ``kiosk-admin
report --db`` (table, CSV, workbook, paragraph). Each is parsed by its own small reader
(tests/consistency_outputs.py) and compared with counts made from the ``ratings`` table.

CI runs 25 derandomized examples; ``HYPOTHESIS_PROFILE=soak`` runs 500 random ones.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consistency_outputs import (ASPECTS, GROUP_BY_SQL, VN, PeriodSpec, expected_figures, read_csv,
                                 read_dashboard, read_json, read_paragraph, read_table, read_xlsx)
from reliability import record
from server_fixtures import FakeClock, LiveServer, ServerHarness, make_batch, make_rating
from sync.vocabulary import LEVELS, REASONS

SUMMARY = "/api/v1/reports/summary"

pytestmark = pytest.mark.reliability

PROFILES = {
    "ci": {"max_examples": 25, "derandomize": True, "database": None},
    "soak": {"max_examples": 500},
}
PROFILE = PROFILES[os.environ.get("HYPOTHESIS_PROFILE", "ci")]

#: The periods asked for; each crosses or borders a month or year end in local time.
PERIODS = [
    PeriodSpec("month", "2026-12-15", None, None, date(2026, 12, 1), date(2027, 1, 1), "day"),
    PeriodSpec("range", None, "2026-11-29", "2027-01-02", date(2026, 11, 29), date(2027, 1, 3), "day"),
    PeriodSpec("week", "2026-12-31", None, None, date(2026, 12, 28), date(2027, 1, 4), "day"),  # ISO week 53
    PeriodSpec("quarter", "2026-11-15", None, None, date(2026, 10, 1), date(2027, 1, 1), "week"),
    PeriodSpec("year", "2026-06-01", None, None, date(2026, 1, 1), date(2027, 1, 1), "month"),
    PeriodSpec("day", "2026-12-31", None, None, date(2026, 12, 31), date(2027, 1, 1), "day"),
]
EDGE_DAYS = [date(2026, 12, 31), date(2027, 1, 1), date(2026, 11, 30), date(2026, 12, 1), date(2025, 12, 31),
             date(2026, 1, 1), date(2026, 9, 30), date(2026, 10, 1), date(2026, 12, 27), date(2026, 12, 28),
             date(2027, 1, 3), date(2027, 1, 4), date(2026, 2, 28), date(2026, 3, 1)]
#: Local times of day: midnight (17:00:00.000Z the day before), the last millisecond (16:59:59.999Z),
#: and the UTC day's edge (06:59:59.999 / 07:00 local).
EDGE_TIMES = [time(0, 0), time(23, 59, 59, 999_000), time(6, 59, 59, 999_000), time(7, 0), time(9, 30)]
SITES = ["UBND phường Phúc La", "UBND phường Văn Quán", "UBND xã Đông: Anh/Sóc Sơn, thành phố Hà Nội (cơ sở 2)"]
COUNTERS = ["Quầy 1", "Quầy 2", None]
OUTCOMES = ("skipped", "timeout", *REASONS)  # what a dissatisfied press ends with: no reason, or one
NOW = FakeClock(1_812_000_000_000_000_000)  # 2027-06-01: after every rating


@dataclass(frozen=True)
class Press:
    terminal: int   # index into Dataset.terminals
    level: str
    outcome: str | None  # skipped, timeout or a reason code (dissatisfied only)
    filtered: int
    at: str         # created_at, ISO UTC with milliseconds
    times: int = 1  # how many identical presses


@dataclass(frozen=True)
class Dataset:
    terminals: tuple[tuple[str, str | None], ...]  # (site, counter) per terminal
    presses: tuple[Press, ...]
    period: PeriodSpec
    group_by: str
    site: str | None


def iso(day: date, at: time) -> str:
    utc = datetime.combine(day, at, tzinfo=VN).astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def moments(days=None):
    day = st.sampled_from(EDGE_DAYS) | (st.dates(date(2025, 12, 30), date(2027, 1, 5)) if days is None else days)
    at = st.sampled_from(EDGE_TIMES) | st.integers(0, 86_399_999).map(
        lambda ms: (datetime.min + timedelta(milliseconds=ms)).time())
    return st.builds(iso, day, at)


@st.composite
def presses(draw, n_terminals: int, *, days=None, times=st.integers(1, 3)):
    level = draw(st.sampled_from(LEVELS))
    outcome = draw(st.sampled_from(OUTCOMES)) if level == "dissatisfied" else None
    return Press(draw(st.integers(0, n_terminals - 1)), level, outcome, draw(st.sampled_from([0, 0, 1])),
                 draw(moments(days)), draw(times))


@st.composite
def half_way(draw, n_terminals: int, period: PeriodSpec):
    """n ratings in the period whose satisfied share is exactly half-way between two tenths (e.g. 13/16 = 81.25 %)."""
    n = draw(st.sampled_from([16, 80, 400]))
    content = draw(st.integers(0, n // 2 - 1).map(lambda k: 2 * k + 1))
    very = draw(st.integers(0, content))
    terminal = draw(st.integers(0, n_terminals - 1))
    at = draw(moments(st.dates(period.first, period.after - timedelta(days=1))))
    parts = [("very_satisfied", None, very), ("satisfied", None, content - very),
             ("dissatisfied", draw(st.sampled_from(["skipped", "timeout"])), n - content)]
    return [Press(terminal, level, outcome, 0, at, k) for level, outcome, k in parts if k]


@st.composite
def datasets(draw):
    sites = draw(st.lists(st.sampled_from(SITES), min_size=1, max_size=3, unique=True))
    terminals = []
    for site in sites:
        for counter in draw(st.lists(st.sampled_from(COUNTERS), min_size=1, max_size=2, unique=True)):
            terminals += [(site, counter)] * draw(st.integers(1, 2))
    period = draw(st.sampled_from(PERIODS))
    inside = st.dates(period.first - timedelta(days=1), period.after)
    free = draw(st.lists(presses(len(terminals), days=inside) | presses(len(terminals)), max_size=20))
    bulk = draw(st.none() | half_way(len(terminals), period))
    return Dataset(tuple(terminals), tuple(free + (bulk or [])), period,
                   draw(st.sampled_from(["site", "counter", "terminal"])), draw(st.none() | st.sampled_from(sites)))


# -- storing, and reading every output ------------------------------------------------------------

def upload(harness: ServerHarness, data: Dataset) -> list[str]:
    """Enrol the terminals and send every press through POST /api/v1/batches; the terminals' ids."""
    ids = [harness.enroll(site=site, counter=counter) for site, counter in data.terminals]
    ratings: dict[int, list[dict]] = {}
    for press in data.presses:
        outcome = press.outcome
        for _ in range(press.times):
            mine = ratings.setdefault(press.terminal, [])
            mine.append(make_rating(
                ids[press.terminal].id, rating=press.level,
                reason=outcome if outcome in REASONS else None,
                reason_outcome=None if outcome is None else ("given" if outcome in REASONS else outcome),
                filtered=press.filtered, created_at=press.at, boot_id="earlier-boot", monotonic_ns=len(mine),
                clock_synced=1))
    for index, mine in ratings.items():
        for start in range(0, len(mine), 500):
            answer = harness.upload(ids[index], make_batch(mine[start:start + 500], sent_at="2027-06-01T00:00:00.000Z"))
            assert answer.status_code == 200, answer.text
            assert {ack["status"] for ack in answer.json()["acks"]} == {"stored"}
    return [t.id for t in ids]


def dataset_rows(data: Dataset, ids: list[str]) -> list[tuple]:
    """What the GROUP BY should find, from the data set itself (to check that ingest kept every press)."""
    counts = Counter()
    for p in data.presses:
        site, counter = data.terminals[p.terminal]
        counts[(site, counter, ids[p.terminal], p.level, p.outcome if p.outcome in REASONS else None, p.filtered,
                p.at)] += p.times
    return [(*key, n) for key, n in counts.items()]


def log_in(harness: ServerHarness, person):
    import re

    import requests

    session = requests.Session()
    form = session.get(harness.url + "/login", timeout=30).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)[1]
    answer = session.post(harness.url + "/login", allow_redirects=False, timeout=30,
                          data={"username": person.username, "password": person.password, "csrf": csrf, "next": "/"})
    assert answer.status_code == 303, answer.text
    return session


def kiosk_admin(*args) -> str:
    from admin.cli import cli

    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def read_every_output(harness: ServerHarness, data: Dataset, folder: Path) -> dict[str, dict]:
    period = data.period
    api = {"period": period.kind, "on": period.on, "start": period.start, "end": period.end,
           "group_by": data.group_by, "site": data.site}
    api = {k: v for k, v in api.items() if v is not None}
    cli = ["--period", period.kind, "--by", data.group_by]
    for option, value in (("--on", period.on), ("--from", period.start), ("--to", period.end), ("--site", data.site)):
        if value is not None:
            cli += [option, value]
    token = harness.admin_token()
    headers = {"Authorization": f"Bearer {token}"}
    out = {}
    answer = harness.get(SUMMARY, params=api, headers=headers)
    assert answer.status_code == 200, answer.text
    out["api json"] = read_json(answer.json()["report"])
    out["api csv"] = read_csv(harness.get(SUMMARY, params={**api, "format": "csv"}, headers=headers).content)
    out["api xlsx"] = read_xlsx(harness.get(SUMMARY, params={**api, "format": "xlsx"}, headers=headers).content)
    page = log_in(harness, harness.person()).get(harness.url + "/", params=api, timeout=30)
    assert page.status_code == 200, page.text
    out["dashboard"] = read_dashboard(page.text)
    server = ["--server", harness.url, "--token", token]
    out["table (server)"] = read_table(kiosk_admin("report", *server, *cli, "--format", "table"))
    out["paragraph (server)"] = read_paragraph(kiosk_admin("report", *server, *cli, "--format", "summary"))

    pulled = folder / "pulled.db"
    kiosk_admin("pull", "--server", harness.url, "--token", token, "--out", str(pulled))
    db = ["--db", str(pulled)]
    out["table (pulled)"] = read_table(kiosk_admin("report", *db, *cli, "--format", "table"))
    kiosk_admin("report", *db, *cli, "--out", str(folder / "pulled.csv"))
    out["csv (pulled)"] = read_csv((folder / "pulled.csv").read_bytes())
    kiosk_admin("report", *db, *cli, "--out", str(folder / "pulled.xlsx"))
    out["xlsx (pulled)"] = read_xlsx((folder / "pulled.xlsx").read_bytes())
    out["paragraph (pulled)"] = read_paragraph(kiosk_admin("report", *db, *cli, "--format", "summary"))
    for name in ("api xlsx", "xlsx (pulled)", "dashboard"):  # their paragraph, read like the others
        out[f"paragraph in {name}"] = read_paragraph(out[name].pop("paragraph"))
    return out


# -- the comparisons: one assertion per aspect, so Hypothesis tells different defects apart ---------

def project(expected: dict, shown: dict, *, drop=("shrunk",)) -> dict:
    return {key: expected[key] for key in shown if key not in drop}


def without(row: dict, *drop) -> dict:
    return {k: v for k, v in row.items() if k not in drop}


def diff(shown, table) -> str:
    """Where ``shown`` differs from ``table`` (dicts: only the keys that differ), briefly."""
    if isinstance(shown, dict) and isinstance(table, dict):
        keys = [k for k in {**table, **shown} if shown.get(k, "(missing)") != table.get(k, "(missing)")]
        return "; ".join(f"{k}: {diff(shown.get(k, '(missing)'), table.get(k, '(missing)'))}" for k in keys)[:1500]
    return f"shows {shown!r}, the ratings table gives {table!r}"


def check_total(name, shown, expected):
    got, want = without(shown["total"], "shrunk"), project(expected["total"], shown["total"])
    assert got == want, f"{name}: the total differs: {diff(got, want)}"


def check_reasons(name, shown, expected):
    assert shown["reasons"] == expected["reasons"], \
        f"{name}: dissatisfied by reason differs: {diff(shown['reasons'], expected['reasons'])}"


def check_groups(name, shown, expected):
    got = {label: without(row, "shrunk") for label, row in shown["groups"].items()}
    want = {label: project(expected["groups"][label], row) for label, row in shown["groups"].items()
            if label in expected["groups"]}
    assert (set(shown["groups"]), got) == (set(expected["groups"]), want), \
        f"{name}: the {expected['group_by']} rows differ: {diff(got, want)}; labels {sorted(shown['groups'])}"


def check_sites(name, shown, expected):
    for site, parts in shown["sites"].items():
        for kind in ("counters", "terminals"):
            if kind not in parts:
                continue
            got = {label: without(row, "shrunk") for label, row in parts[kind].items()}
            want = {label: project(expected["sites"][site][kind][label], row) for label, row in parts[kind].items()
                    if label in expected["sites"].get(site, {}).get(kind, {})}
            assert (set(parts[kind]), got) == (set(expected["sites"].get(site, {}).get(kind, {})), want), \
                f"{name}: the {kind} of {site} differ: {diff(got, want)}"
    assert set(shown["sites"]) == set(expected["sites"]), f"{name}: not the same sites as the ratings table"


def check_trend(name, shown, expected):
    got = {label: row for label, row in shown["trend"].items()}
    want = {label: project(expected["trend"][label], row) for label, row in shown["trend"].items()
            if label in expected["trend"]}
    assert (list(shown["trend"]), got) == (list(expected["trend"]), want), \
        f"{name}: the trend (by local {expected['unit']}, with its reasons) differs: {diff(got, want)}"


def check_heatmap(name, shown, expected):
    for kind, cells in shown["heatmap"].items():
        assert cells == expected["heatmap"][kind], \
            f"{name}: the (weekday, local hour) map of {kind} differs: {diff(cells, expected['heatmap'][kind])}"


def check_ranking_rates(name, shown, expected):
    """The shrunk rates and the overall average: half up to one decimal, like every other percentage."""
    got = {"average": shown.get("average", expected["average"]),
           **{label: row["shrunk"] for label, row in shown["groups"].items() if "shrunk" in row}}
    want = {"average": expected["average"],
            **{label: expected["groups"][label]["shrunk"] for label, row in shown["groups"].items()
               if "shrunk" in row}}
    for site, parts in shown.get("sites", {}).items():
        for kind, rows in parts.items():
            if kind in ("counters", "terminals"):
                got |= {(site, label): row["shrunk"] for label, row in rows.items() if "shrunk" in row}
                want |= {(site, label): expected["sites"][site][kind][label]["shrunk"] for label, row in rows.items()
                         if "shrunk" in row}
    assert got == want, f"{name}: a ranking rate is not the exact rate rounded half up: {diff(got, want)}"


def check_ranks(name, shown, expected):
    ranks = shown["ranks"]
    exact = expected["shrunk_exact"]
    order = [exact[label] for _rank, label in ranks]
    known = [value for value in order if value is not None]
    assert ([rank for rank, _label in ranks] == list(range(1, len(ranks) + 1))
            and known == sorted(known, reverse=True) and order == known + [None] * (len(order) - len(known))), \
        f"{name}: ranked {ranks}, not best shrunk rate first: {order}"


def check_reconciles(name, shown, _expected):
    assert shown["reconciles"] is True, f"{name}: says the figures do not reconcile"


CHECKS = [("total", check_total), ("reasons", check_reasons), ("groups", check_groups), ("sites", check_sites),
          ("heatmap", check_heatmap), ("trend", check_trend), ("ranks", check_ranks),
          ("groups", check_ranking_rates), ("reconciles", check_reconciles)]


class OutputDisagrees(AssertionError):
    """An output of a report shows other numbers than the ratings table."""


#: One exception class per check, so that Hypothesis shrinks (and reports) each kind of disagreement apart.
DISAGREEMENTS = {check.__name__: type(f"{check.__name__.title().replace('_', '')}Fails", (OutputDisagrees,), {})
                 for _aspect, check in CHECKS}


def compare(outputs: dict[str, dict], expected: dict) -> None:
    """Every check on every output that shows its aspect; raise for the first check any output fails,
    saying every disagreement found."""
    failed: dict[str, list[str]] = {}
    for aspect, check in CHECKS:
        for name, shown in outputs.items():
            if aspect in shown:
                try:
                    check(name, shown, expected)
                except AssertionError as exc:
                    failed.setdefault(check.__name__, []).append(str(exc))
    if failed:
        first = next(iter(failed))
        raise DISAGREEMENTS[first]("\n".join(message for messages in failed.values() for message in messages))


COMMAND = ("HAILONG_SOAK=1 HYPOTHESIS_PROFILE=soak .venv/bin/python -m pytest -m reliability "
           "tests/test_report_consistency.py")
#: Examples run and ratings sent by this run's proof, for its recorded figures.
TALLY = Counter()


def test_every_output_of_a_report_shows_the_numbers_of_the_ratings_table():
    TALLY.clear()
    _every_output_shows_the_numbers_of_the_ratings_table()
    assert TALLY["examples"] > 0
    record("Report consistency", cases=TALLY["examples"], ratings=TALLY["ratings"],
           outputs_compared=TALLY["outputs"], command=COMMAND)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], **PROFILE)
@given(data=datasets())
def _every_output_shows_the_numbers_of_the_ratings_table(data):
    from server import Settings, create_app

    with tempfile.TemporaryDirectory(prefix="hl-consistency-") as folder:
        app = create_app(Settings(db_url=f"sqlite:///{folder}/server.db"), clock=NOW)
        harness = ServerHarness(app, LiveServer(app))
        try:
            ids = upload(harness, data)
            with app.state.engine.connect() as conn:
                stored = [tuple(row) for row in conn.exec_driver_sql(GROUP_BY_SQL)]
                sent = conn.exec_driver_sql("SELECT count(*) FROM ratings").scalar()
            assert set(stored) == set(dataset_rows(data, ids)), "the ratings table does not hold what the batches sent"
            expected = expected_figures(stored, data.period, group_by=data.group_by, site=data.site)
            expected |= {"group_by": data.group_by, "unit": data.period.unit}
            outputs = read_every_output(harness, data, Path(folder))
        finally:
            harness.http.close()
            harness.live.stop()
            app.state.engine.dispose()
    assert len(outputs) == 13 and all(set(shown) & set(ASPECTS) for shown in outputs.values())
    compare(outputs, expected)
    TALLY.update(examples=1, ratings=sent, outputs=len(outputs))
