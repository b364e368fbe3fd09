"""Alerts: rules checked against the ratings and the fleet, fired and cleared in the ``alerts`` table.

Two rules, with HappyOrNot's suggested defaults (all in the settings):

``dissatisfied_share``
    At one unit of the organisation tree (the ``unit_id`` each rating keeps),
    at least ``alert_dissatisfied_pct`` % of the counted ratings of the last
    ``alert_window_s`` seconds (by ``corrected_at``) are dissatisfied, with at
    least ``alert_min_ratings`` of them: 50 %, 15 minutes, 4 ratings. Its
    subject is the unit's id, ``unit:7`` (names repeat across provinces; ids
    never change), and it names the unit by its path, ``Tỉnh … › Phường 1``.
    Ratings that have no unit (none on a server upgraded through migration
    0007, but a terminal may stand nowhere) are grouped by their site's name
    as before, and the subject is that name.
``terminal_silent``
    A terminal (not revoked) has not been heard from for
    ``terminal_silent_s`` seconds *of opening hours* (2 hours): silence at
    night or on Sunday does not count.

An alert fires when its condition starts to hold and clears when it stops; a
(rule, subject) pair has at most one active alert. :func:`evaluate_alerts`
takes the time as an argument, so tests move it by hand; :class:`AlertMonitor`
runs it in the background every ``alert_check_interval_s`` seconds (never on
the ingest path) and sends each change to ``alert_webhook_url`` as JSON,
retrying failed deliveries at the next check. With several server processes on
one PostgreSQL database, one at a time checks and one at a time delivers
(advisory locks), so an alert fires once and each event is sent by one process
(at least once: see :func:`deliver_webhook`).

For example::

    changes = evaluate_alerts(conn, AlertRules.from_settings(settings), now_ns=clock())
    [(a.subject, a.message) for a in changes.fired]
    # → [('unit:7', 'Thành phố Hà Nội › Phường Phúc La: 3 trên 5 lượt đánh giá (60,0%) '
    #              'trong 15 phút qua là không hài lòng')]
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import requests
from sqlalchemy import (ColumnElement, Connection, Engine, Select, and_, case, false, func, insert, or_, select, true,
                        update)

from sync.vocabulary import one_decimal, round_half_up

from .accounts import terminals_within
from .alert_places import place_words, places_of, unit_subject
from .background import Every
from .db import ALERT_CHECK_LOCK, WEBHOOK_LOCK, session_lock, try_transaction_lock, write_transaction
from .opening import OpeningHours
from .schema import alerts, ratings, terminals
from .settings import Settings
from .timekeeping import NS_PER_S, iso_from_ns

log = logging.getLogger("hailong.server.alerts")

DISSATISFIED_SHARE = "dissatisfied_share"
TERMINAL_SILENT = "terminal_silent"
#: Issue 13: a rollout that stopped by itself (a first-wave terminal rolled the release back or failed it); holds
#: for ROLLOUT_STOP_ALERT_S after the stop, unless the release is rolled out again (server/rollouts.py).
ROLLOUT_STOPPED = "rollout_stopped"
RULES = (DISSATISFIED_SHARE, TERMINAL_SILENT, ROLLOUT_STOPPED)
RULE_LABELS_VI = {DISSATISFIED_SHARE: "Tỷ lệ không hài lòng cao", TERMINAL_SILENT: "Thiết bị im lặng",
                  ROLLOUT_STOPPED: "Triển khai phiên bản tự dừng"}

#: Webhook events older than this are not sent any more (e.g. when a webhook is configured later).
WEBHOOK_MAX_AGE_S = 24 * 3600
WEBHOOK_TIMEOUT_S = 5


@dataclass(frozen=True)
class AlertRules:
    """The rules' thresholds and the opening hours they respect."""

    dissatisfied_pct: float = 50.0
    window_s: int = 900
    min_ratings: int = 4
    silent_s: int = 7200
    opening_hours: OpeningHours = field(default_factory=lambda: OpeningHours.parse(Settings().opening_hours))
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo(Settings().timezone))

    @classmethod
    def from_settings(cls, settings: Settings) -> "AlertRules":
        return cls(dissatisfied_pct=settings.alert_dissatisfied_pct, window_s=settings.alert_window_s,
                   min_ratings=settings.alert_min_ratings, silent_s=settings.terminal_silent_s,
                   opening_hours=OpeningHours.parse(settings.opening_hours), tz=ZoneInfo(settings.timezone))

    def local(self, now_ns: int) -> datetime:
        return datetime.fromtimestamp(now_ns / NS_PER_S, tz=self.tz)


@dataclass(frozen=True)
class Alert:
    id: int
    rule: str
    subject: str
    fired_at: str
    cleared_at: str | None
    details: dict
    #: The unit a ``dissatisfied_share`` alert is about and its province (the lineage its ratings
    #: keep), None for a site's name or a silent terminal (scoped by where the terminal stands now).
    unit_id: int | None = None
    province_id: int | None = None

    @property
    def active(self) -> bool:
        return self.cleared_at is None

    @property
    def place(self) -> str:
        """Where it is, by the tree (``Tỉnh … › Phường 1``); the site's name for an alert without a node."""
        d = self.details
        return place_words(d.get("place")) or " / ".join(p for p in (d.get("site"), d.get("counter")) if p)

    @property
    def message(self) -> str:
        """One Vietnamese sentence saying what happened."""
        d = self.details
        if self.rule == DISSATISFIED_SHARE:
            minutes = int(round_half_up(d["window_s"] / 60, 0))
            pct = f"{d['pct']:.1f}".replace(".", ",")
            return (f"{self.place or self.subject}: {d['dissatisfied']} trên {d['counted']} lượt đánh giá "
                    f"({pct}%) trong {minutes} phút qua là không hài lòng")
        if self.rule == TERMINAL_SILENT:
            since = d.get("last_seen_local") or d.get("last_seen_at") or "chưa bao giờ"
            return (f"Thiết bị {self.subject} ({self.place}) im lặng ít nhất "
                    f"{_duration_vi(d['silent_open_s'])} trong giờ làm việc (lần cuối: {since})")
        if self.rule == ROLLOUT_STOPPED:
            return f"Triển khai phiên bản {d.get('version')} đã tự dừng: {d.get('reason')}"
        return f"{self.rule}: {self.subject}"

    def to_dict(self) -> dict:
        return {"id": self.id, "rule": self.rule, "subject": self.subject, "place": self.place,
                "unit_id": self.unit_id, "province_id": self.province_id, "fired_at": self.fired_at,
                "cleared_at": self.cleared_at, "active": self.active, "details": self.details,
                "message": self.message}

    @classmethod
    def from_row(cls, row) -> "Alert":
        return cls(row.id, row.rule, row.subject, row.fired_at, row.cleared_at, json.loads(row.details),
                   row.unit_id, row.province_id)


@dataclass
class AlertChanges:
    fired: list[Alert] = field(default_factory=list)
    cleared: list[Alert] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"fired": [a.to_dict() for a in self.fired], "cleared": [a.to_dict() for a in self.cleared]}


def _duration_vi(seconds: float) -> str:
    """``2 giờ 5 phút``, ``40 phút``."""
    minutes = int(seconds // 60)
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours} giờ {minutes} phút"
    return f"{hours} giờ" if hours else f"{minutes} phút"


# -- the conditions ----------------------------------------------------------------------------------

def _parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def _local_text(iso: str | None, tz: ZoneInfo) -> str | None:
    """``25/11/2026 08:00`` in the sites' time zone."""
    return _parse_iso(iso).astimezone(tz).strftime("%d/%m/%Y %H:%M") if iso else None


def terminal_silence(last_seen_at: str | None, enrolled_at: str, rules: AlertRules, now_ns: int) -> float:
    """Seconds of opening hours since the terminal was last heard from (or enrolled), capped just above the rule."""
    since = _parse_iso(last_seen_at or enrolled_at)
    return rules.opening_hours.open_seconds(since, rules.local(now_ns), enough=rules.silent_s + 1)


def silence_cutoff(rules: AlertRules, now_ns: int) -> str | None:
    """The protocol's ISO text of the latest moment a terminal may have last been heard from (or enrolled) and
    be silent at ``now_ns`` by :func:`terminal_silence` — ``COALESCE(last_seen_at, enrolled_at) <= cutoff``
    counts the silent terminals in SQL. None: nobody is silent (too little opening time in the last year)."""
    moment = rules.opening_hours.open_since(rules.local(now_ns), rules.silent_s)
    if moment is None:
        return None
    micros = (moment - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)
    return iso_from_ns(micros * 1000)  # rounded down to the millisecond, as the stored times are


def silent_condition(rules: AlertRules, now_ns: int) -> ColumnElement[bool]:
    """Live terminals silent too long at ``now_ns``, as a WHERE condition on ``terminals``."""
    cutoff = silence_cutoff(rules, now_ns)
    if cutoff is None:
        return false()
    return and_(terminals.c.revoked_at.is_(None),
                func.coalesce(terminals.c.last_seen_at, terminals.c.enrolled_at) <= cutoff)


def window_counts(since: str, until: str) -> Select:
    """Counted and dissatisfied ratings between ``since`` and ``until`` (ISO times, both included) per unit,
    and per site for ratings without a unit: rows of (unit_id, site, counted, dissatisfied)."""
    dissatisfied = func.sum(case((ratings.c.rating == "dissatisfied", 1), else_=0))
    # A placed rating counts for its unit whatever its site's name was; an unplaced one for its site.
    unplaced_site = case((ratings.c.unit_id.is_(None), ratings.c.site))
    return (select(ratings.c.unit_id, unplaced_site.label("site"), func.count().label("counted"),
                   dissatisfied.label("dissatisfied"))
            .where(ratings.c.corrected_at >= since, ratings.c.corrected_at <= until, ratings.c.filtered == 0,
                   ratings.c.dossier_repeat == 0)  # a second rating of a dossier is not counted (issue 12)
            .group_by(ratings.c.unit_id, unplaced_site))


def dissatisfied_places(conn: Connection, rules: AlertRules, now_ns: int) -> dict[str, dict]:
    """Units (and sites of ratings without a unit) whose recent counted ratings are dissatisfied beyond the
    threshold: subject (``unit:7``, or the site's name) → the figures and the place.

    Reads only the window's ratings, through the index on ``corrected_at`` (bench/alerts.py).
    """
    since, until = iso_from_ns(now_ns - rules.window_s * NS_PER_S), iso_from_ns(now_ns)
    over = []
    for row in conn.execute(window_counts(since, until)):
        counted, bad = int(row.counted), int(row.dissatisfied or 0)
        if counted >= rules.min_ratings and 100.0 * bad / counted >= rules.dissatisfied_pct:
            over.append((row.unit_id, row.site, counted, bad))
    places = places_of(conn, [unit_id for unit_id, *_ in over if unit_id is not None])
    found = {}
    for unit_id, site, counted, bad in over:
        figures = {"counted": counted, "dissatisfied": bad, "pct": one_decimal(bad, counted),
                   "window_s": rules.window_s, "since": since}
        if unit_id is None:
            found[site] = {"site": site, **figures}
            continue
        place = places.get(unit_id, {"path": f"#{unit_id}", "unit": {"id": unit_id, "code": None, "name": None}})
        province = place.get("province", {})
        found[unit_subject(unit_id)] = {"site": place["unit"]["name"], "unit_id": unit_id,
                                        "unit_code": place["unit"]["code"], "province_id": province.get("id"),
                                        "province_code": province.get("code"), "place": place, **figures}
    return found


def silent_terminals(conn: Connection, rules: AlertRules, now_ns: int, *,
                     within: int | None = None) -> dict[str, dict]:
    """Live terminals (standing ``within`` a node, when given) silent beyond the rule's opening time → what is
    known of them."""
    found = {}
    # A terminal heard from within silent_s of wall time cannot have silent_s of opening time.
    recent = iso_from_ns(now_ns - rules.silent_s * NS_PER_S)
    query = (select(terminals.c.id, terminals.c.site, terminals.c.counter, terminals.c.node_id,
                    terminals.c.last_seen_at, terminals.c.enrolled_at)
             .where(terminals.c.revoked_at.is_(None),
                    func.coalesce(terminals.c.last_seen_at, terminals.c.enrolled_at) <= recent))
    rows = conn.execute(terminals_within(query, conn, within))
    for row in rows:
        silent_s = terminal_silence(row.last_seen_at, row.enrolled_at, rules, now_ns)
        if silent_s >= rules.silent_s:
            found[row.id] = {"terminal_id": row.id, "site": row.site, "counter": row.counter,
                             "last_seen_at": row.last_seen_at, "silent_open_s": rules.silent_s,
                             "last_seen_local": _local_text(row.last_seen_at, rules.tz)}
            if row.node_id is not None:  # its place by the tree is added when its alert fires
                found[row.id]["node_id"] = row.node_id
    return found


def alert_conditions(conn: Connection, rules: AlertRules, *, now_ns: int) -> dict[tuple[str, str], dict]:
    """Every (rule, subject) whose condition holds at ``now_ns`` → the figures (reads only)."""
    holding = {(DISSATISFIED_SHARE, subject): d for subject, d in dissatisfied_places(conn, rules, now_ns).items()}
    holding |= {(TERMINAL_SILENT, tid): d for tid, d in silent_terminals(conn, rules, now_ns).items()}
    from .rollouts import stopped_by_themselves  # here: rollouts.py is not needed to read the alert rules

    holding |= {(ROLLOUT_STOPPED, subject): d for subject, d in stopped_by_themselves(conn, now_ns=now_ns).items()}
    return holding


def evaluate_alerts(conn: Connection, rules: AlertRules, *, now_ns: int) -> AlertChanges:
    """Fire the alerts whose condition now holds, clear those whose condition no longer does.

    Runs in the caller's transaction (use :func:`~server.db.write_transaction`).
    """
    return apply_conditions(conn, alert_conditions(conn, rules, now_ns=now_ns), now_ns=now_ns)


def apply_conditions(conn: Connection, holding: dict[tuple[str, str], dict], *, now_ns: int) -> AlertChanges:
    """Fire what ``holding`` has and the active alerts lack; clear active alerts ``holding`` lacks."""
    # Only the keys of the active alerts: with thousands active (a province's network down), reading
    # every one's details would hold the write transaction for nothing (bench/alerts.py --tree).
    active = {(row.rule, row.subject): row.id for row in conn.execute(
        select(alerts.c.id, alerts.c.rule, alerts.c.subject).where(alerts.c.cleared_at.is_(None)))}
    now = iso_from_ns(now_ns)
    changes = AlertChanges()
    new = sorted(((key, d) for key, d in holding.items() if key not in active), key=lambda kv: kv[0])
    # A silent terminal's place by the tree, read only for the alerts that fire: the fleet page counts the
    # silent terminals too, and thousands may stay silent check after check.
    places = places_of(conn, [d["node_id"] for (rule, _s), d in new
                              if rule == TERMINAL_SILENT and "node_id" in d and "place" not in d])
    for (rule, subject), details in new:
        if rule == TERMINAL_SILENT and details.get("node_id") in places and "place" not in details:
            details = {**details, "place": places[details["node_id"]]}
        # The lineage of a unit's alert, as its ratings keep it: what an account's scope is matched with.
        lineage = ((details.get("unit_id"), details.get("province_id")) if rule == DISSATISFIED_SHARE
                   else (None, None))
        new_id = conn.execute(insert(alerts).values(rule=rule, subject=subject, fired_at=now,
                                                    unit_id=lineage[0], province_id=lineage[1],
                                                    details=json.dumps(details, ensure_ascii=False))
                              .returning(alerts.c.id)).scalar_one()
        changes.fired.append(Alert(new_id, rule, subject, now, None, details, *lineage))
    ending = sorted(alert_id for key, alert_id in active.items() if key not in holding)
    for start in range(0, len(ending), 1000):
        chunk = ending[start:start + 1000]
        conn.execute(update(alerts).where(alerts.c.id.in_(chunk)).values(cleared_at=now))
        changes.cleared += map(Alert.from_row, conn.execute(select(alerts).where(alerts.c.id.in_(chunk))
                                                            .order_by(alerts.c.id)))
    for alert in changes.fired:
        log.warning("alert fired: %s", alert.message)
    for alert in changes.cleared:
        log.info("alert cleared: %s", alert.message)
    return changes


def list_alerts(conn: Connection, *, now_ns: int, recent_s: int = 7 * 24 * 3600, limit: int = 200,
                where: ColumnElement[bool] | None = None) -> tuple[list[Alert], list[Alert]]:
    """(active alerts, newest first; alerts cleared within ``recent_s``, newest first), of those ``where``
    selects (a caller's scope: :func:`server.alert_scope.alert_scope`) when given."""
    where = true() if where is None else where
    active = conn.execute(select(alerts).where(alerts.c.cleared_at.is_(None), where)
                          .order_by(alerts.c.fired_at.desc(), alerts.c.id.desc()).limit(limit))
    since = iso_from_ns(now_ns - recent_s * NS_PER_S)
    recent = conn.execute(select(alerts).where(alerts.c.cleared_at >= since, where)
                          .order_by(alerts.c.cleared_at.desc(), alerts.c.id.desc()).limit(limit))
    return [Alert.from_row(r) for r in active], [Alert.from_row(r) for r in recent]


# -- the webhook -------------------------------------------------------------------------------------

def webhook_body(event: str, alert: Alert) -> dict:
    """What the webhook receives: ``{"event": "fired"|"cleared", "event_id": "12-fired", "alert": {...}}``.

    ``event_id`` is the same each time one event is sent: a receiver drops one it has seen (see
    :func:`deliver_webhook` for when an event can come twice).
    """
    return {"event": event, "event_id": f"{alert.id}-{event}", "alert": alert.to_dict(),
            "rule_label": RULE_LABELS_VI.get(alert.rule, alert.rule)}


def deliver_webhook(engine: Engine, url: str, *, now_ns: int, session: requests.Session | None = None,
                    timeout_s: float = WEBHOOK_TIMEOUT_S) -> int:
    """POST every undelivered fire/clear event of the last day to ``url``, oldest first; return how many went.

    A failure is logged and ends this round: the rest wait for the next check.
    No transaction is held while the request is on the wire.

    Several server processes on one PostgreSQL database: one at a time delivers, the holder of an
    advisory lock (:func:`~server.db.session_lock`); the others return 0 at once, and the holder
    reads the undelivered events only once it has the lock, after the previous holder marked what it
    sent. So no two processes send the same event. Delivery is at least once, not exactly once: a
    process that dies between the receiver's answer and marking the event sent (a few milliseconds)
    leaves it unmarked, and the next round sends it again, with the same ``event_id``.
    """
    with session_lock(engine, WEBHOOK_LOCK) as held:
        if not held:
            return 0  # another server process is delivering: what is waiting goes with its round
        return _deliver_waiting(engine, url, now_ns=now_ns, session=session, timeout_s=timeout_s)


def _deliver_waiting(engine: Engine, url: str, *, now_ns: int, session: requests.Session | None,
                     timeout_s: float) -> int:
    oldest = iso_from_ns(now_ns - WEBHOOK_MAX_AGE_S * NS_PER_S)
    with engine.connect() as conn:
        rows = conn.execute(select(alerts).where(or_(
            and_(alerts.c.fired_sent_at.is_(None), alerts.c.fired_at >= oldest),
            and_(alerts.c.cleared_at.is_not(None), alerts.c.cleared_sent_at.is_(None),
                 alerts.c.cleared_at >= oldest)))).all()
    events = []
    for row in rows:
        alert = Alert.from_row(row)
        if row.fired_sent_at is None and row.fired_at >= oldest:
            events.append((row.fired_at, "fired", alert))
        if row.cleared_at is not None and row.cleared_sent_at is None:
            events.append((row.cleared_at, "cleared", alert))
    events.sort(key=lambda e: (e[0], e[2].id, e[1] == "cleared"))
    http = session or requests.Session()
    sent = 0
    try:
        for _when, event, alert in events:
            try:
                answer = http.post(url, json=webhook_body(event, alert), timeout=timeout_s)
                answer.raise_for_status()
            except requests.RequestException as exc:
                log.warning("alert webhook %s failed (%s); %d event(s) wait for the next check",
                            url, exc, len(events) - sent)
                break
            column = alerts.c.fired_sent_at if event == "fired" else alerts.c.cleared_sent_at
            with engine.connect() as conn, write_transaction(conn):
                conn.execute(update(alerts).where(alerts.c.id == alert.id).values({column: iso_from_ns(now_ns)}))
            sent += 1
    finally:
        if session is None:
            http.close()
    return sent


# -- in the app -------------------------------------------------------------------------------------

class AlertMonitor:
    """Checks the rules for one app: on demand (:meth:`check`) and every interval in the background."""

    def __init__(self, engine: Engine, settings: Settings, clock):
        self.engine = engine
        self.settings = settings
        self.rules = AlertRules.from_settings(settings)
        self.clock = clock
        self._check_lock = threading.Lock()
        self._webhook_lock = threading.Lock()
        self._loop: Every | None = None

    def check(self, *, wait: bool = True) -> AlertChanges:
        """Evaluate the rules now (the app's clock), then deliver webhook events. Thread-safe.

        On PostgreSQL, every server process on the database runs a monitor; one at a time evaluates,
        under an advisory lock held to the commit, so an alert fires once, not once per process.
        ``wait=False`` (the background round) skips the evaluation when another process is at it;
        ``wait=True`` (on demand) waits for it and then evaluates, finding what it fired.
        SQLite is served by one process: the thread lock is enough.
        """
        with self._check_lock:
            if self.engine.dialect.name == "postgresql":
                with self.engine.connect() as conn, write_transaction(conn):
                    if not try_transaction_lock(conn, ALERT_CHECK_LOCK, wait=wait):
                        changes = AlertChanges()  # another server process is checking right now
                    else:
                        now_ns = self.clock()  # read once the lock is held: never older than the last check's
                        changes = apply_conditions(conn, alert_conditions(conn, self.rules, now_ns=now_ns),
                                                   now_ns=now_ns)
            else:
                now_ns = self.clock()
                # The conditions are read outside the write transaction: on SQLite the write lock,
                # which every batch upload needs too, is held only for the few inserts and updates.
                with self.engine.connect() as conn:
                    holding = alert_conditions(conn, self.rules, now_ns=now_ns)
                with self.engine.connect() as conn, write_transaction(conn):
                    changes = apply_conditions(conn, holding, now_ns=now_ns)
        self.deliver()
        return changes

    def deliver(self) -> int:
        url = self.settings.alert_webhook_url.strip()
        if not url or not self._webhook_lock.acquire(blocking=False):
            return 0  # no webhook, or another thread is delivering already
        try:
            return deliver_webhook(self.engine, url, now_ns=self.clock())
        finally:
            self._webhook_lock.release()

    def start(self) -> None:
        if self.settings.alert_check_interval_s > 0:
            self._loop = Every("alert-monitor", lambda: self.check(wait=False),
                               interval_s=self.settings.alert_check_interval_s, wait_first=True,
                               failure="checking the alert rules failed; trying again at the next interval")
            self._loop.start()

    async def stop(self) -> None:
        if self._loop is not None:
            await self._loop.stop()
            self._loop = None
