"""What the server's database may hold: every stored row checked against the rules that let it in.

Used after generated requests (tests/test_server_openapi_fuzz.py, tests/test_generated_batches.py):
:func:`invalid_rows` returns one sentence per row that breaks a rule (empty: nothing invalid is stored).
The rules are the server's own: the protocol models (``sync.protocol``), the database rules of
``server.ingest`` (real dates, no NUL), the names of ``sync.names``, and the ``rating_tallies`` that must
count exactly the stored ratings.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from uuid import UUID

from pydantic import ValidationError
from sqlalchemy import select

from server import schema
from server.ingest import STORED_AS
from server.timekeeping import ns_from_iso
from sync.names import name_problem
from sync.protocol import INT64_MAX, ISO_UTC_PATTERN, Health, Rating
from sync.vocabulary import RATING_CONTENT_FIELDS

ISO = re.compile(ISO_UTC_PATTERN)
TIME_QUALITIES = {"exact", "device", "estimated"}
ALERT_RULES = {"dissatisfied_share", "terminal_silent", "rollout_stopped"}


def _time(value, *, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    try:
        if not isinstance(value, str) or not ISO.match(value):
            raise ValueError
        ns_from_iso(value)
    except ValueError:
        return f"{value!r} is not a time"
    return None


def _name(value, *, optional: bool = False) -> str | None:
    if value is None:
        return None if optional else "missing"
    return name_problem(value) or ("is empty" if not value.strip() else None)


def _rows(conn, table) -> list[dict]:
    return [dict(row) for row in conn.execute(select(table)).mappings()]


def rollup_drift(engine) -> list[tuple[str, str]]:
    """Where the rollups (server/rollups.py) plus the deltas not yet folded differ from ``rating_tallies``,
    as (key, why) pairs; none while the rollups are not built (reports then read the tallies)."""
    from server.rollups import month_of_hour

    # One snapshot for every table: the server's refresher may fold deltas between two reads.
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            zone = conn.execute(select(schema.rollup_state.c.value)
                                .where(schema.rollup_state.c.name == "month_zone")).scalar()
            if zone is None:
                return []
            tallies = _rows(conn, schema.rating_tallies)
            deltas = _rows(conn, schema.tally_deltas)
            rolled = {"rating_months": _rows(conn, schema.rating_months),
                      "unit_months": _rows(conn, schema.unit_months),
                      "province_hours": _rows(conn, schema.province_hours),
                      "server_hours": _rows(conn, schema.server_hours)}
    keys = {"rating_months": lambda r, month: (month, r["terminal_id"], r["site"], r["counter"], r["province_id"],
                                                r["unit_id"], r["office_id"], r["counter_id"]),
            "unit_months": lambda r, month: (month, r["province_id"], r["unit_id"]),
            "province_hours": lambda r, month: (r["hour"], r["province_id"]),
            "server_hours": lambda r, month: (r["hour"],)}
    problems = []
    for table, key_of in keys.items():
        want, have = Counter(), Counter()
        for row in tallies:
            want[(*key_of(row, month_of_hour(row["hour"], zone)), row["rating"], row["reason"], row["filtered"])] += row["n"]
        for row in deltas:
            have[(*key_of(row, month_of_hour(row["hour"], zone)), row["rating"], row["reason"], row["filtered"])] += row["n"]
        for row in rolled[table]:
            have[(*key_of(row, row.get("month")), row["rating"], row["reason"], row["filtered"])] += row["n"]
        for key in set(want) | set(have):
            if want[key] != have[key]:
                problems.append((f"{table} {key}", f"counts {have[key]} with the deltas, the tallies {want[key]}"))
    return problems


def invalid_rows(engine) -> list[str]:
    """Every stored row that breaks a rule, as "table key: why" (an empty list when all hold)."""
    problems: list[str] = []
    with engine.connect() as conn:
        terminals = {row["id"]: row for row in _rows(conn, schema.terminals)}
        ratings = _rows(conn, schema.ratings)
        tallies = _rows(conn, schema.rating_tallies)
        conflicts = _rows(conn, schema.rating_conflicts)
        codes = _rows(conn, schema.enrollment_codes)
        boots = _rows(conn, schema.boot_offsets)
        alerts = _rows(conn, schema.alerts)

    def bad(table, key, why):
        if why:
            problems.append(f"{table} {key!r}: {why}")

    for tid, row in terminals.items():
        bad("terminals", tid, None if 1 <= len(tid) <= 64 else "id length")
        bad("terminals", tid, _name(row["site"]) and f"site {_name(row['site'])}")
        counter = _name(row["counter"], optional=True)
        bad("terminals", tid, counter and f"counter {counter}")
        for column in ("enrolled_at", "revoked_at", "last_seen_at"):
            bad("terminals", tid, _time(row[column], optional=column != "enrolled_at") and f"{column} not a time")
        if row["last_seen_at"] is not None:  # health as a batch told it: the Health model's rules
            try:
                Health.model_validate({"pending": row["pending"], "app_version": row["app_version"],
                                       "clock_synced": bool(row["clock_synced"]), "last_error": row["last_error"]})
            except ValidationError as exc:
                bad("terminals", tid, f"health {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}")
            bad("terminals", tid, None if row["last_boot_id"] is None or 1 <= len(row["last_boot_id"]) <= 64
                else "last_boot_id length")
    ids = set()
    for row in ratings:
        key = row["id"]
        fields = {name: row[STORED_AS.get(name, name)] for name in RATING_CONTENT_FIELDS}
        try:
            Rating.model_validate(fields)
        except ValidationError as exc:
            bad("ratings", key, "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
        try:
            canonical = str(UUID(key)) == key
        except (ValueError, TypeError):
            canonical = False
        bad("ratings", key, None if canonical else "id is not a canonical UUID")
        bad("ratings", key, None if key not in ids else "id stored twice")
        ids.add(key)
        bad("ratings", key, None if row["terminal_id"] in terminals else "terminal unknown")
        bad("ratings", key, None if 0 <= row["monotonic_ns"] <= INT64_MAX else "monotonic_ns out of range")
        for column in ("created_at", "corrected_at", "received_at"):
            bad("ratings", key, _time(row[column]) and f"{column} {_time(row[column])}")
        bad("ratings", key, None if row["time_quality"] in TIME_QUALITIES else "time_quality")
        bad("ratings", key, _name(row["site"]) and f"site {_name(row['site'])}")
        bad("ratings", key, _name(row["counter"], optional=True) and "counter")
    # The reports count tallies: they must count exactly the stored ratings.
    counted = Counter((r["corrected_at"][:13], r["terminal_id"], r["site"], r["counter"] or "", r["rating"],
                       r["reason"] or "", r["filtered"]) for r in ratings)
    tallied = Counter({(t["hour"], t["terminal_id"], t["site"], t["counter"], t["rating"], t["reason"],
                        t["filtered"]): t["n"] for t in tallies if t["n"]})
    for key in set(counted) | set(tallied):
        bad("rating_tallies", key, None if counted[key] == tallied[key]
            else f"counts {tallied[key]} ratings, the table holds {counted[key]}")
    for problem in rollup_drift(engine):
        bad("rollups", problem[0], problem[1])
    for row in conflicts:
        key = row["conflict_id"]
        try:
            Rating.model_validate_json(row["content"])
        except ValidationError as exc:
            bad("rating_conflicts", key, f"content is not a rating ({exc.errors()[0]['msg']})")
        bad("rating_conflicts", key, None if row["rating_id"] in ids else "conflicts with no stored rating")
        bad("rating_conflicts", key, None if row["terminal_id"] in terminals else "terminal unknown")
    for row in codes:
        key = row["code_hash"][:8]
        bad("enrollment_codes", key, _name(row["site"]) and f"site {_name(row['site'])}")
        bad("enrollment_codes", key, _name(row["counter"], optional=True) and "counter")
    for row in boots:
        key = (row["terminal_id"], row["boot_id"])
        bad("boot_offsets", key, None if row["terminal_id"] in terminals and 1 <= len(row["boot_id"]) <= 64
            else "unknown terminal or bad boot id")
    for row in alerts:
        bad("alerts", row["id"], None if row["rule"] in ALERT_RULES else f"rule {row['rule']!r}")
        try:
            json.loads(row["details"])
        except ValueError:
            bad("alerts", row["id"], "details are not JSON")
    return problems
