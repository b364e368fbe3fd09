"""The terminal's uploader: sealed ratings go to the server in batches, none dropped.

Runs in its own thread with its own SQLite connection. A rating is marked
synced only when a well-formed receipt from the server acknowledges its id;
anything else (no network, a stall, a 5xx, a captive portal's page) is a
failure, retried with capped exponential backoff and full jitter.

The server paces the fleet (issue 14). A 429 or 503 with ``Retry-After`` is
the server answering "come back later": the terminal waits that long plus a
little jitter, without counting it as a failure, and a new press does not cut
the wait (only ``send_now()``, the service screen's "sync now", and ``stop()``
do). A receipt's ``pace`` shrinks the batches and lengthens the pause until
the next receipt. After a long outage (``outage_s`` without an answer, ratings
waiting) the first request is a heartbeat, and once it is answered the backlog
starts at a random moment within ``drain_spread_s``, so a province's terminals
do not all come back in the same second.

A rating the server refuses (``refused`` in the receipt, or a whole-batch 422
naming ``ratings.N``), or one the terminal cannot even encode, is kept aside
with its cause (never deleted, never resent) and the rest keeps flowing. A
whole batch refused for itself (400, 415, 422 on the envelope) is not retried
blindly: the error is permanent and the next try waits ``auth_retry_s``.

    uploader = Uploader(local, server_url="https://hailong.example.vn", token=token,
                        stamp=clock.stamp, app_version="0.1.0")
    uploader.start()          # background thread
    uploader.stop()
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import random
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Callable

import requests
from pydantic import ValidationError
from urllib3.util.retry import Retry

from . import http
from .addresses import check_server_url
from .errors import response_message
from .http import TIMEOUT, ForeignAnswer, describe_error, describe_status, read_within
from .local import REFUSED_CAUSE, UNSENDABLE_CAUSE
from .protocol import (LAST_ERROR_MAX, MAX_BATCH_INVITATIONS, MAX_BATCH_RATINGS, MAX_BATCH_SHIFTS,
                       MAX_KEPT_ASIDE_CAUSE_CHARS, MAX_KEPT_ASIDE_CAUSES, Batch, BatchReceipt, Health, TerminalOfficers,
                       TerminalSettingsSet)

log = logging.getLogger(__name__)


def now_iso() -> str:
    now = datetime.now(timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


#: Seconds an answer may take to arrive whole (a 500-rating receipt is ~30 kB): the read timeout
#: bounds each wait for a byte, this the whole answer, so a trickling link cannot hold an upload.
ANSWER_DEADLINE_S = 60.0

#: Quick retries inside one attempt, for a refused connection or a 502/503/504 (a proxy between
#: restarts); the uploader's own backoff handles everything longer, Retry-After included (urllib3
#: would otherwise sleep it inside the request, out of reach of ``stop()``). POST is retried because
#: a batch is idempotent (ids are made on the terminal).
class QuickRetry(Retry):
    """urllib3's retry, except for an answer that says when to come back (``Retry-After``): that is the server
    pacing the fleet, handed at once to the uploader, which waits as asked instead of asking twice more."""

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        return not has_retry_after and super().is_retry(method, status_code, has_retry_after)


UPLOAD_RETRY = QuickRetry(total=2, connect=2, read=0, status=2, backoff_factor=0.5, status_forcelist=(502, 503, 504),
                          allowed_methods=None, respect_retry_after_header=False, raise_on_status=False)

#: The longest wait a ``Retry-After`` can impose (a proxy's misconfigured day must not silence a terminal).
SERVER_WAIT_MAX_S = 3600.0


def make_session(*, ca_bundle: str | None = None) -> requests.Session:
    """The terminal's session for uploads: :data:`UPLOAD_RETRY` mounted; TLS verified (``[server] ca_bundle``)."""
    return http.make_session(retries=UPLOAD_RETRY, ca_bundle=ca_bundle, user_agent=http.user_agent("terminal"))


@dataclass
class SyncState:
    """What the uploader knows; saved in the terminal's file for ``kiosk status``."""

    last_success_at: str | None = None
    last_attempt_at: str | None = None
    last_error: str | None = None
    clock_offset_s: float | None = None
    auth_refused: bool = False
    sent_total: int = 0
    conflicts: int = 0
    failures_in_a_row: int = 0
    #: Ratings kept aside because the server refused them or they could not be encoded.
    refused: int = 0
    #: The server refused a whole batch for itself: retrying soon cannot help.
    batch_refused: bool = False
    #: The officers list: when it was last fetched, and why the last fetch failed (None: it worked).
    officers_fetched_at: str | None = None
    officers_error: str | None = None
    #: The remote settings (issue 13): the version the server last wanted, when a set was last fetched, and why
    #: the last fetch failed (None: it worked; a set refused for itself is in the terminal's file, not here).
    settings_wanted: str | None = None
    settings_fetched_at: str | None = None
    settings_fetch_error: str | None = None
    #: Issue 14: the server asked this terminal to wait (``busy``: a 429/503 with Retry-After; ``spread``: the
    #: backlog's start after a long outage) until this wall-clock time (ISO UTC); None: no such wait.
    server_wait_until: str | None = None
    server_wait_cause: str | None = None
    #: The pace of the last receipt (``{"batch_size": n, "pause_s": s}``), None when it carried none.
    pace: dict | None = None


@dataclass
class Attempt:
    """The outcome of one request."""

    ok: bool
    sent: int = 0
    acks: dict = field(default_factory=dict)
    error: str | None = None
    retry_after_s: float | None = None
    auth_refused: bool = False
    #: Ratings still waiting after this attempt (counted once per batch: cheap to read).
    pending: int = 0
    #: The server's reason for each refused id.
    reasons: dict = field(default_factory=dict)
    #: Not delivered, but the queue moved (a rating kept aside, a smaller batch): try again now.
    progressed: bool = False
    #: The server refused the batch for itself: retrying soon cannot help.
    permanent: bool = False
    #: The shifts and invitations the server acknowledged (ids).
    shift_acks: list = field(default_factory=list)
    invitation_acks: list = field(default_factory=list)
    #: The version of this terminal's officers list the server holds (None: an older server).
    officers_version: str | None = None
    #: The version of the remote settings the server wants this terminal to run (None: none, or an older server).
    settings_version: str | None = None
    #: The release the receipt offers (sync.protocol.ReleaseOffer), if any.
    release: object = None
    #: The receipt's pace (sync.protocol.Pace), if any.
    pace: object = None
    #: The wait the server asked for (Retry-After with jitter), in seconds: not a failure, not escalated.
    server_wait_s: float | None = None


def reportable(error: str | None) -> str | None:
    """The terminal's last error as a heartbeat may carry it: cut to :data:`LAST_ERROR_MAX` characters.

    A long server address or answer must not make every batch invalid (nor the terminal fail to build it).

        >>> len(reportable("x" * 10_000)), reportable("cannot reach the server"), reportable(None)
        (500, 'cannot reach the server', None)
    """
    if error is None or len(error) <= LAST_ERROR_MAX:
        return error
    return error[:LAST_ERROR_MAX - 1] + "…"


class Uploader:
    """Sends batches from :class:`sync.local.LocalRatings` to the server."""

    def __init__(self, local, *, server_url: str, token: str, stamp: Callable, app_version: str,
                 session: requests.Session | None = None, batch_size: int = MAX_BATCH_RATINGS,
                 pause_s: float = 0.01, heartbeat_s: float = 300.0, backoff_base_s: float = 1.0,
                 backoff_cap_s: float = 300.0, auth_retry_s: float = 3600.0,
                 allow_http: bool = False, timeout=TIMEOUT, answer_deadline_s: float = ANSWER_DEADLINE_S,
                 rng: random.Random | None = None, monotonic: Callable[[], float] = time.monotonic,
                 drain_spread_s: float = 60.0, outage_s: float = 600.0):
        self.local = local
        self.server_url = check_server_url(server_url, allow_http=allow_http)
        self.batches_url = http.api_url(self.server_url, "batches")
        self.token = token
        self.stamp = stamp
        self.app_version = app_version
        self.session = session or make_session()
        self.batch_size = max(1, min(batch_size, MAX_BATCH_RATINGS))
        self.pause_s = pause_s
        self.heartbeat_s = heartbeat_s
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.auth_retry_s = auth_retry_s
        self.timeout = timeout
        self.answer_deadline_s = answer_deadline_s
        self.rng = rng or random.Random()
        self.monotonic = monotonic
        self.drain_spread_s = max(0.0, drain_spread_s)
        self.outage_s = max(0.0, outage_s)
        self.state = SyncState(**{k: v for k, v in local.load_state().items()
                                  if k in SyncState.__dataclass_fields__})
        # A wait or pace from a run before this one is not this run's: the server is asked afresh.
        self.state.server_wait_until = self.state.server_wait_cause = self.state.pace = None
        #: The receipt's pace until the next receipt (sync.protocol.Pace), or None: the own settings.
        self.pace = None
        #: Monotonic time until which the server asked to wait (Retry-After, the drain's spread), or None.
        self._resume_at: float | None = None
        #: Monotonic time the server last answered (a server-requested wait counts as contact until it ends);
        #: from the saved last success at the start, so a terminal restarted after a day offline knows it.
        self._heard_at: float | None = _since_start(self.state.last_success_at, monotonic())
        #: Answers that asked to wait (429/503 with Retry-After), for the benches.
        self.busy_answers = 0
        #: Ratings waiting after the last attempt of :meth:`run` (None before it): read from any thread, no query.
        self.last_pending: int | None = None
        self.officers_url = http.api_url(self.server_url, "terminal/officers")
        #: False once the server refused shifts or invitations (a server older than them): for this run,
        #: ratings go without them, and they wait on the terminal.
        self.send_links = True
        #: How often the dossiers' retention is applied on the terminal.
        self.retention_every_s = 3600.0
        self._retention_at: float | None = None
        self.when_changed: Callable[[SyncState, int], None] | None = None
        # The remote settings (issue 13): ``check_settings(values)`` gives the Config the terminal would run (its
        # local file with ``values`` on top) or raises ValueError saying why not; ``when_settings(version, values,
        # config)`` hands a good set to the app, which applies it at a quiet moment and notes it as applied.
        # Without them (``kiosk sync --once``) the uploader leaves the settings alone.
        self.settings_url = http.api_url(self.server_url, "terminal/settings")
        self.check_settings: Callable[[dict], object] | None = None
        self.when_settings: Callable[[str, dict, object], None] | None = None
        #: The version last handed to the app and not yet applied: not fetched again meanwhile.
        self.settings_handed: str | None = None
        #: A refused version is checked once more per start (the technician may have fixed the local file since),
        #: then left alone until the server wants another.
        self._refusal_rechecked = False
        #: The terminal's updates (kiosk.updates.Updater): its state rides on every heartbeat, it hears of
        #: each acknowledged batch (the trial's proof of health) and of the release a receipt offers.
        self.updates = None
        self.recount_s = 30.0
        self._pending_estimate: int | None = None
        self._counted_at = 0.0
        self._answered_at: float | None = None
        self._last_contact: float | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        # Set by send_now() and stop() only: the one thing that cuts a wait the server asked for.
        self._cut = threading.Event()
        self._thread: threading.Thread | None = None

    # -- one request --------------------------------------------------------
    def send_batch(self, *, heartbeat: bool = False) -> Attempt:
        """Send the next batch of pending ratings (a heartbeat when there are none, or with ``heartbeat``)."""
        ratings = [] if heartbeat else self.local.pending(self.current_batch_size())
        pending = self.local.pending_count() if heartbeat else self._pending_now(len(ratings))
        stamp = self.stamp()
        kept_aside = self.local.quarantined()
        # Waiting because the server asked is no fault of the terminal's: the fleet page need not list it.
        error = None if self.state.server_wait_cause == "busy" else reportable(self.state.last_error)
        health = Health(pending=pending, app_version=self.app_version,
                        clock_synced=bool(stamp.clock_synced), last_error=error,
                        kept_aside=kept_aside or None,
                        kept_aside_causes=heartbeat_causes(self.local.kept_aside_causes()) if kept_aside else None,
                        settings_version=self.local.applied_settings_version(),
                        settings_error=self.local.settings_error(),
                        **(self.updates.health_fields() if self.updates is not None else {}))
        # The envelope goes through the protocol model; the ratings are the
        # terminal's own rows, dumped as they are (the server validates them).
        envelope = Batch(sent_at=stamp.created_at, boot_id=stamp.boot_id, monotonic_ns=stamp.monotonic_ns,
                         health=health).model_dump(mode="json")
        if not kept_aside:  # a server older than kept_aside refuses the fields: send them only when they say something
            del envelope["health"]["kept_aside"], envelope["health"]["kept_aside_causes"]
        for name in ("settings_version", "settings_error", "update_state", "update_version", "update_error"):
            if envelope["health"].get(name) is None:  # likewise: an older server refuses the fields
                envelope["health"].pop(name, None)
        envelope["ratings"] = ratings
        # Shifts and invitations likewise: only when there are closed ones (an older server refuses the fields).
        del envelope["shifts"], envelope["invitations"]
        links = self.send_links and not heartbeat
        shifts = self.local.pending_shifts(MAX_BATCH_SHIFTS) if links else []
        invitations = self.local.pending_invitations(MAX_BATCH_INVITATIONS) if links else []
        if shifts:
            envelope["shifts"] = shifts
        if invitations:
            envelope["invitations"] = invitations
        try:
            body = _encode(envelope)
        except (TypeError, ValueError):  # a damaged row (bytes, an infinite number) that JSON cannot carry
            self._set_aside_unsendable(ratings)
            envelope["ratings"] = ratings = [r for r in ratings if _unsendable(r) is None]
            body = _encode(envelope)
        self._hold()  # the batch is ready; what is left of the pause passes now
        self._cut.clear()  # a "sync now" asked before this request (it cut the pause) is answered by it
        attempt = self._post(body, ratings)
        self.state.last_attempt_at = now_iso()
        self.state.server_wait_until = self.state.server_wait_cause = None
        if attempt.ok or attempt.progressed or attempt.permanent or attempt.auth_refused \
                or attempt.server_wait_s is not None:
            self._heard_at = self.monotonic()  # the server answered: not out of contact
        if attempt.ok:
            self._follow_pace(attempt.pace)
            self.local.acknowledge(list(attempt.acks.items()), now_iso(), attempt.reasons)
            self._acknowledge_links(attempt, shifts, invitations)
            # Conflicts and refusals leave the queue too (kept aside), so every sent rating is off it.
            attempt.pending = pending - len(ratings)
            self._pending_estimate = attempt.pending
            conflicts = sum(1 for s in attempt.acks.values() if s == "conflict")
            if conflicts:
                log.warning("%d rating(s) conflict with what the server holds; kept aside locally", conflicts)
            if attempt.reasons:
                log.warning("%d rating(s) refused by the server, kept aside locally: %s", len(attempt.reasons),
                            "; ".join(sorted(set(attempt.reasons.values()))[:3]))
            self.state.sent_total += len(ratings)
            self.state.conflicts += conflicts
            self.state.refused += len(attempt.reasons)
            self.state.last_success_at = self.state.last_attempt_at
            self.state.last_error = None
            self.state.auth_refused = False
            self.state.batch_refused = False
            self.state.failures_in_a_row = 0
            self._last_contact = self.monotonic()
            if attempt.officers_version is not None and self.local.has_counter_tables \
                    and attempt.officers_version != self.local.officers_version():
                self.fetch_officers()
            try:
                self.follow_settings(attempt.settings_version)
            except Exception as exc:  # the settings must never stop the uploads (e.g. the file refuses a write)
                self.state.settings_fetch_error = f"the remote settings cannot be followed: {exc}"
                log.exception("the remote settings cannot be followed")
            self._apply_retention()
            self._tell_updates(attempt)
        elif attempt.server_wait_s is not None:
            # The server answered "come back later": honest, not a failure; the backoff does not grow.
            attempt.pending = pending
            self.busy_answers += 1
            self._wait_asked(attempt.server_wait_s, "busy")
            self.state.last_error = (f"{attempt.error}; the next try is at "
                                     f"{self.state.server_wait_until[11:19]} UTC, as the server asked")
            log.info("sync: %s", self.state.last_error)
        else:
            self.state.last_error = attempt.error
            self.state.auth_refused = attempt.auth_refused
            self.state.batch_refused = attempt.permanent
            attempt.pending = pending
            if attempt.progressed:  # the server answered and the queue moved: not a failure to back off from
                attempt.pending = self.local.pending_count()
                self._pending_estimate = None
                self._last_contact = self.monotonic()
            else:
                self.state.failures_in_a_row += 1
            log.warning("sync failed: %s", attempt.error)
        self._save()
        return attempt

    def _set_aside_unsendable(self, ratings: list[dict]) -> None:
        causes = {str(r["id"]): UNSENDABLE_CAUSE.format(reason=why)
                  for r in ratings if (why := _unsendable(r)) is not None}
        self.local.keep_aside(causes, now_iso())
        self.state.refused += len(causes)
        log.warning("%d rating(s) cannot be encoded, kept aside locally: %s", len(causes),
                    "; ".join(sorted(set(causes.values()))[:3]))

    def _pending_now(self, batch_len: int) -> int:
        """How many ratings wait, this batch included.

        A short batch is the whole queue. Behind a full batch the count is
        carried from the last batch, and counted afresh every
        ``recount_s`` (a count walks the whole backlog: ~5 ms per 100,000).
        """
        if batch_len < self.current_batch_size():
            return batch_len
        now = self.monotonic()
        estimate = self._pending_estimate
        if estimate is None or estimate < batch_len or now - self._counted_at >= self.recount_s:
            estimate = self.local.pending_count()
            self._counted_at = now
        return estimate

    def _hold(self) -> None:
        """Leave the server ``pause_s`` (or its pace's longer pause) between its last answer and the next request.

        The pause runs from the answer, so the terminal's own work in between
        (acknowledging, reading and encoding the next batch) happens inside it.
        A new press does not cut it; ``send_now()`` and ``stop()`` do.
        """
        if self._answered_at is not None:
            remaining = self._answered_at + self.current_pause_s() - self.monotonic()
            if remaining > 0:
                self._wait_for_server(remaining)

    # -- the server's pace (issue 14) ------------------------------------------------------
    def current_batch_size(self) -> int:
        """Ratings in the next batch: the own ``batch_size``, or the receipt's pace when smaller.

            >>> from sync.protocol import Pace
            >>> uploader = Uploader.__new__(Uploader)
            >>> uploader.batch_size, uploader.pace = 500, Pace(batch_size=50, pause_s=2)
            >>> uploader.current_batch_size()
            50
        """
        return min(self.batch_size, self.pace.batch_size) if self.pace is not None else self.batch_size

    def current_pause_s(self) -> float:
        """Seconds between an answer and the next batch: the own ``pause_s``, or the receipt's pace when longer."""
        return max(self.pause_s, self.pace.pause_s) if self.pace is not None else self.pause_s

    def _follow_pace(self, pace) -> None:
        if pace != self.pace:  # said when it starts and ends (info), when it changes (debug: the server tunes it)
            level = logging.INFO if (pace is None) != (self.pace is None) else logging.DEBUG
            log.log(level, "sync: %s", f"the server paces this terminal: at most {pace.batch_size} rating(s) per "
                    f"batch, {pace.pause_s:g} s apart" if pace is not None else "the server's pace is lifted")
        self.pace = pace
        self.state.pace = pace.model_dump() if pace is not None else None

    def server_wait(self, retry_after_s: float) -> float:
        """The wait for a ``Retry-After``: that, plus jitter of up to a quarter of it (at least up to 1 s), so
        terminals refused together do not come back together; at most :data:`SERVER_WAIT_MAX_S`.

            >>> import random
            >>> uploader = Uploader.__new__(Uploader); uploader.rng = random.Random(1)
            >>> 8.0 <= uploader.server_wait(8) <= 10.0, 0.0 <= uploader.server_wait(0) <= 1.0
            (True, True)
        """
        wait = min(max(0.0, retry_after_s), SERVER_WAIT_MAX_S)
        return wait + self.rng.uniform(0.0, max(0.25 * wait, 1.0))

    def long_outage(self) -> bool:
        """Out of contact with the server for ``outage_s`` or more (``0``: never) with ratings waiting: the next
        request is a heartbeat, and the backlog follows at a random moment within ``drain_spread_s``."""
        if self.outage_s <= 0 or self._heard_at is None or self.monotonic() - self._heard_at < self.outage_s:
            return False
        return bool(self.local.pending(1))

    def _wait_asked(self, seconds: float, cause: str) -> None:
        """Note a wait the server asked for (or the drain's spread): until then no request; counted as contact."""
        now = self.monotonic()
        self._resume_at = now + seconds if self._resume_at is None else max(self._resume_at, now + seconds)
        self._heard_at = self._resume_at if self._heard_at is None else max(self._heard_at, self._resume_at)
        until = datetime.now(timezone.utc) + timedelta(seconds=self._resume_at - now)
        self.state.server_wait_until = until.strftime("%Y-%m-%dT%H:%M:%S.") + f"{until.microsecond // 1000:03d}Z"
        self.state.server_wait_cause = cause

    def _spread_drain(self) -> None:
        """The heartbeat after a long outage was answered: the backlog starts within ``drain_spread_s``."""
        delay = self.rng.uniform(0.0, self.drain_spread_s)
        busy_left = 0.0 if self._resume_at is None else self._resume_at - self.monotonic()
        self._wait_asked(delay, "spread" if delay >= busy_left else "busy")
        log.info("sync: back in contact after a long outage; the backlog starts in %.1f s (spread over %g s)",
                 self._resume_at - self.monotonic(), self.drain_spread_s)
        self._save()

    def _wait_for_server(self, seconds: float) -> None:
        """Wait ``seconds`` as the server asked: a new press does not cut it, ``send_now()`` and ``stop()`` do."""
        if not self._stop.is_set():
            self._cut.wait(seconds)

    def _post(self, body: bytes, ratings: list[dict]) -> Attempt:
        ids = {r["id"] for r in ratings}
        deadline = time.monotonic() + self.answer_deadline_s  # real time, whatever clock the pauses use
        try:
            response = self.session.post(
                self.batches_url, data=body, timeout=self.timeout, stream=True,
                headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
            )
            read_within(response, deadline)
        except (requests.RequestException, OSError) as exc:
            return Attempt(False, error=describe_error(exc))
        self._answered_at = self.monotonic()
        status = response.status_code
        if status in (401, 403):
            return Attempt(False, error=f"the server refused this terminal's token ({status}: "
                           f"{response_message(response)}); re-provision it (`kiosk provision --force` with a new "
                           "enrolment)", auth_refused=True)
        if status == 429 or status >= 500:
            retry_after = _retry_after(response)
            if retry_after is not None and status in (429, 503):  # the server paces: come back when it says
                return Attempt(False, error=f"the server is busy ({status}: {response_message(response)})",
                               retry_after_s=retry_after, server_wait_s=self.server_wait(retry_after))
            return Attempt(False, error=describe_status(response), retry_after_s=retry_after)
        if status != 200:
            return self._refused_batch(status, response, ratings)
        try:
            receipt = BatchReceipt.model_validate_json(response.content)
        except ValidationError:
            return Attempt(False, error=describe_error(
                ForeignAnswer("not a receipt: a captive portal or a proxy page?")))
        acks = {str(ack.id): ack.status for ack in receipt.acks}
        if set(acks) != ids:
            return Attempt(False, error="the receipt does not acknowledge exactly the ratings sent")
        self.state.clock_offset_s = receipt.clock_offset_s
        reasons = {str(ack.id): ack.reason or "no reason given" for ack in receipt.acks if ack.status == "refused"}
        return Attempt(True, sent=len(ids), acks=acks, reasons=reasons,
                       shift_acks=[str(i) for i in receipt.shift_acks or ()],
                       invitation_acks=[str(i) for i in receipt.invitation_acks or ()],
                       officers_version=receipt.officers_version, settings_version=receipt.settings_version,
                       release=receipt.release, pace=receipt.pace)

    def _tell_updates(self, attempt: Attempt) -> None:
        if self.updates is None:
            return
        try:
            self.updates.server_reached()
            if attempt.release is not None:
                self.updates.offer(attempt.release)
        except Exception:  # an update's trouble never stops the ratings
            log.exception("updates: cannot handle the receipt")

    def _acknowledge_links(self, attempt: Attempt, shifts: list[dict], invitations: list[dict]) -> None:
        """Mark the shifts and invitations sent that the receipt acknowledges; the rest are sent again."""
        sent_shifts = {str(s["id"]) for s in shifts}
        sent_invitations = {str(i["id"]) for i in invitations}
        shift_ids = [i for i in attempt.shift_acks if i in sent_shifts]
        invitation_ids = [i for i in attempt.invitation_acks if i in sent_invitations]
        if shift_ids or invitation_ids:
            self.local.acknowledge_links(shift_ids, invitation_ids, now_iso())

    # -- the officers list (issue 12) ---------------------------------------------
    def fetch_officers(self) -> bool:
        """Fetch this terminal's officers list (``GET /api/v1/terminal/officers``, ``If-None-Match`` with the
        version held) and keep it in the terminal's file. True when the list held is now the server's; a
        failure is noted (``officers_error``) and tried again after the next batch."""
        held = self.local.officers_version()
        headers = {"Authorization": f"Bearer {self.token}"}
        if held:
            headers["If-None-Match"] = f'"{held}"'
        try:
            response = self.session.get(self.officers_url, headers=headers, timeout=self.timeout)
        except (requests.RequestException, OSError) as exc:
            return self._officers_failed(describe_error(exc))
        if response.status_code == 304:
            self.state.officers_error = None
            return True
        if response.status_code != 200:
            return self._officers_failed(describe_status(response))
        try:
            payload = TerminalOfficers.model_validate_json(response.content)
        except ValidationError as exc:
            return self._officers_failed(f"the officers list is not in the expected form ({exc.error_count()} "
                                         "problem(s)): a captive portal or a proxy page?")
        officers = []
        for officer in payload.officers:
            try:
                photo = base64.b64decode(officer.photo, validate=True) if officer.photo else None
            except (binascii.Error, ValueError):
                log.warning("officer %s: the photo is not base64; shown without it", officer.code)
                photo = None
            officers.append({"code": officer.code, "name": officer.name, "pin_hash": officer.pin_hash,
                             "counters": [str(c) for c in officer.counters], "photo": photo})
        self.local.replace_officers(officers, version=payload.version, retention_days=payload.dossier_retention_days)
        self.state.officers_fetched_at = now_iso()
        self.state.officers_error = None
        log.info("officers list %s received: %d officer(s)", payload.version, len(officers))
        self._retention_at = None  # the retention may have changed: apply it now
        self._apply_retention()
        return True

    def _officers_failed(self, error: str) -> bool:
        self.state.officers_error = error
        log.warning("cannot fetch the officers list: %s", error)
        return False

    # -- the remote settings (issue 13) ------------------------------------------------
    def follow_settings(self, wanted: str | None) -> str | None:
        """After a receipt: when the server wants a settings version this terminal neither runs, nor refused,
        nor handed to the app already, fetch the set and check it. Returns what became of it (``applied``
        stays for the app to say): None (nothing to do), ``"handed"``, ``"refused"``, ``"unchanged"`` (304) or
        ``"failed"`` (noted in ``settings_fetch_error``, tried again after the next batch)."""
        if wanted is None or self.check_settings is None or self.when_settings is None:
            return None
        self.state.settings_wanted = wanted
        if wanted in (self.local.applied_settings_version(), self.settings_handed):
            return None
        if wanted == self.local.refused_settings_version():
            if self._refusal_rechecked:
                return None
            self._refusal_rechecked = True
            return self.fetch_settings(recheck=True)
        return self.fetch_settings()

    def fetch_settings(self, *, recheck: bool = False) -> str:
        """``GET /api/v1/terminal/settings`` with ``If-None-Match`` (the version applied), then check the set
        against the local file: refused (noted with why, the set applied stays) or handed to the app.
        ``recheck``: the version refused before is checked again (once per start)."""
        held = self.settings_handed or self.local.applied_settings_version()
        headers = {"Authorization": f"Bearer {self.token}"}
        if held:
            headers["If-None-Match"] = f'"{held}"'
        try:
            response = self.session.get(self.settings_url, headers=headers, timeout=self.timeout)
        except (requests.RequestException, OSError) as exc:
            return self._settings_failed(describe_error(exc))
        if response.status_code == 304:
            self.state.settings_fetch_error = None
            return "unchanged"
        if response.status_code != 200:
            return self._settings_failed(describe_status(response))
        try:
            payload = TerminalSettingsSet.model_validate_json(response.content)
        except ValidationError as exc:
            return self._settings_failed(f"the settings are not in the expected form ({exc.error_count()} "
                                         "problem(s)): a captive portal or a proxy page?")
        self.state.settings_fetched_at = now_iso()
        self.state.settings_fetch_error = None
        skip = {self.local.applied_settings_version(), self.settings_handed}
        if not recheck:
            skip.add(self.local.refused_settings_version())
        if payload.version in skip - {None}:
            return "unchanged"
        try:
            config = self.check_settings(payload.values)
        except Exception as exc:  # kiosk.errors.ConfigError (a ValueError): a sentence naming the key
            why = str(exc) if isinstance(exc, ValueError) else f"the set cannot be checked ({type(exc).__name__}: {exc})"
            self.local.refuse_settings(payload.version, why, now_iso())
            self._refusal_rechecked = True  # checked against this very file: not again before the next start
            log.warning("remote settings %s refused, the terminal keeps the set it runs: %s", payload.version, why)
            return "refused"
        self.settings_handed = payload.version
        log.info("remote settings %s received (%d value(s)); applied at the next quiet moment on the home screen",
                 payload.version, len(payload.values))
        try:
            self.when_settings(payload.version, dict(payload.values), config)
        except Exception:  # the app's side must not stop the uploads
            log.exception("the remote settings could not be handed to the screens")
            self.settings_handed = None
            return "failed"
        return "handed"

    def _settings_failed(self, error: str) -> str:
        self.state.settings_fetch_error = error
        log.warning("cannot fetch the remote settings: %s", error)
        return "failed"

    def _apply_retention(self) -> None:
        """Blank dossier codes older than the server's retention (synced rows only), at most hourly."""
        now = self.monotonic()
        if self._retention_at is not None and now - self._retention_at < self.retention_every_s:
            return
        self._retention_at = now
        days = self.local.dossier_retention_days()
        if days is None:
            return
        before = datetime.now(timezone.utc) - timedelta(days=days)
        blanked = self.local.blank_dossiers(before.strftime("%Y-%m-%dT%H:%M:%S.") + f"{before.microsecond // 1000:03d}Z")
        if blanked:
            log.info("blanked %d dossier code(s) kept longer than %d days", blanked, days)

    def _refused_batch(self, status: int, response, ratings: list[dict]) -> Attempt:
        """A 4xx for the whole batch: keep aside the one rating it names, send smaller, or stop retrying."""
        message = response_message(response)
        if status == 422 and self.send_links and _links_at_fault(response):
            # A server older than officers and dossiers: the ratings go on without the shifts and invitations,
            # which wait on the terminal until a server takes them (the next start tries again).
            self.send_links = False
            return Attempt(False, progressed=True, error=f"the server does not take shifts or invitations yet "
                           f"({message}); ratings are sent without them")
        at_fault = _rating_at_fault(response, len(ratings)) if status == 422 else None
        if at_fault is None and status == 413 and len(ratings) == 1:
            at_fault = 0  # a single rating too large to send ever
        if at_fault is not None:
            rating_id = str(ratings[at_fault]["id"])
            self.local.keep_aside({rating_id: REFUSED_CAUSE.format(reason=message)}, now_iso())
            self.state.refused += 1
            return Attempt(False, progressed=True, error=f"the server refused rating {rating_id} ({status}: "
                           f"{message}); it is kept aside on this terminal and the others are sent")
        if status == 413:  # too large: halve the batches (kept for the rest of this run)
            self.batch_size = max(1, len(ratings) // 2)
            return Attempt(False, progressed=True, error=f"the server found the batch too large ({message}); "
                           f"sending {self.batch_size} rating(s) at a time")
        return Attempt(False, permanent=True, error=(
            f"the server refuses this terminal's batches ({status}: {message}); retrying will not help: "
            "update the terminal's software or call support (the ratings stay on the terminal)"))

    # -- loops --------------------------------------------------------------
    def drain(self, *, max_failures: int = 1, max_busy: int = 10) -> dict:
        """Send until nothing is pending (``kiosk sync --once``); stop after ``max_failures`` failures, or after
        ``max_busy`` answers asking to wait (each waited out first: Retry-After is honoured here too)."""
        sent = failures = busy = batches = 0
        while True:
            attempt = self.send_batch()
            batches += 1
            if attempt.ok:
                sent += attempt.sent
                if attempt.pending == 0:
                    break
            elif attempt.server_wait_s is not None:
                busy += 1  # the server answered "come back later": not a failure, but not forever either
                if busy >= max_busy:
                    break
                self._stop.wait(attempt.server_wait_s)
            elif not attempt.progressed:
                failures += 1
                # A refused token or batch stays refused: waiting (an hour for a token) cannot help.
                if attempt.permanent or attempt.auth_refused or failures >= max_failures:
                    break
                self._stop.wait(self.backoff_delay())
        return {"sent": sent, "batches": batches, "pending": self.local.pending_count(),
                "quarantined": self.local.quarantined(), **asdict(self.state)}

    def backoff_delay(self, retry_after_s: float | None = None) -> float:
        """Full jitter: uniform(0, min(cap, base · 2^failures)), never below Retry-After."""
        if self.state.auth_refused or self.state.batch_refused:
            return self.auth_retry_s
        exponent = min(self.state.failures_in_a_row, 30)
        delay = self.rng.uniform(0, min(self.backoff_cap_s, self.backoff_base_s * 2 ** exponent))
        return max(delay, retry_after_s or 0.0)

    def run(self) -> None:
        """Loop until :meth:`stop`: drain, pause between batches, heartbeat when idle.

        A wait the server asked for (Retry-After, the drain's spread after a long outage) runs to its end
        whatever is pressed meanwhile; only :meth:`send_now` and :meth:`stop` cut it.
        """
        pending = None  # unknown until the first attempt
        while not self._stop.is_set():
            try:
                if self._resume_at is not None:
                    left = self._resume_at - self.monotonic()
                    if left > 0 and not self._cut.is_set():
                        self._wait_for_server(left)
                        continue  # ended, cut by send_now(), or stop()
                    self._resume_at = None
                if pending == 0:
                    pending = len(self.local.pending(1))  # anything new since the last batch?
                idle = self._last_contact is not None and self.monotonic() - self._last_contact < self.heartbeat_s
                if pending == 0 and idle:
                    self._wait(min(self.heartbeat_s, 5.0))  # look for new ratings every few seconds
                    continue
                outage = self.long_outage()
                attempt = self.send_batch(heartbeat=outage)
                pending = attempt.pending
                if outage and (attempt.ok or attempt.server_wait_s is not None):
                    self._spread_drain()
                self._notify(attempt.pending)
                if not attempt.ok and not attempt.progressed and attempt.server_wait_s is None:
                    # A failure: the backoff (a press cuts it); the server's own wait is kept at the top.
                    self._wait(self.backoff_delay(attempt.retry_after_s))
            except Exception:  # never let the thread die: the next loop tries again
                log.exception("uploader loop error")
                self._wait(self.backoff_delay())

    def wake(self) -> None:
        """New ratings were stored: look now instead of at the next poll."""
        self._wake.set()

    def send_now(self) -> None:
        """Send (or report health) now, even with nothing new and inside a back-off or a wait the server asked for
        (the service screen's "sync now")."""
        self._last_contact = None
        self._cut.set()
        self._wake.set()

    def _wait(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="uploader", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._cut.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _notify(self, pending: int) -> None:
        self.last_pending = pending
        if self.when_changed is not None:
            self.when_changed(self.state, pending)

    def _save(self) -> None:
        self.local.save_state(asdict(self.state))


_RATING_FIELD = re.compile(r"^ratings\.(\d+)(\.|$)")


def _rating_at_fault(response, batch_len: int) -> int | None:
    """The position of the rating a whole-batch 422 names (``field: ratings.N…``), if any.

    An older server refuses the whole batch for one invalid rating; so does any
    server for a rating without a usable id.
    """
    try:
        field_name = json.loads(response.content).get("field") or ""
    except (ValueError, AttributeError):
        return None
    match = _RATING_FIELD.match(str(field_name))
    if match and int(match.group(1)) < batch_len:
        return int(match.group(1))
    return None


def _links_at_fault(response) -> bool:
    """True when a whole-batch 422 names the shifts or the invitations (``field: shifts…``)."""
    try:
        field_name = str(json.loads(response.content).get("field") or "")
    except (ValueError, AttributeError):
        return False
    return field_name.split(".")[0] in ("shifts", "invitations")


def _encode(envelope: dict) -> bytes:
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def _unsendable(row: dict) -> str | None:
    """Why a stored row cannot be put in JSON (a damaged value), or None.

        >>> _unsendable({"id": "x", "monotonic_ns": float("inf")})
        'monotonic_ns: inf is not a number JSON can carry'
        >>> _unsendable({"id": "x", "monotonic_ns": b"\\x00"}) is not None
        True
    """
    for name, value in row.items():
        try:
            _encode({name: value})
        except (TypeError, ValueError):
            return f"{name}: {value!r:.40} is not a number JSON can carry" if isinstance(value, float) \
                else f"{name}: a {type(value).__name__} value, not text or a number"
    return None


def _retry_after(response) -> float | None:
    """``Retry-After`` in seconds: a number of seconds, or an HTTP date (seconds from now); None without one."""
    value = response.headers.get("Retry-After", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None  # "inf" or "nan" says nothing usable
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _since_start(last_success_at: str | None, now: float) -> float | None:
    """The monotonic time ``now - age`` of a saved last success (ISO UTC), or None when there is none.

    A clock behind the saved time counts as "just now" (it cannot be trusted to say how long ago).

        >>> _since_start(None, 100.0) is None, _since_start("2000-01-01T00:00:00.000Z", 100.0) < -1e8
        (True, True)
    """
    if not last_success_at:
        return None
    try:
        then = datetime.fromisoformat(last_success_at.replace("Z", "+00:00"))
    except ValueError:
        return None
    if then.tzinfo is None:
        then = then.replace(tzinfo=timezone.utc)
    return now - max(0.0, (datetime.now(timezone.utc) - then).total_seconds())


def heartbeat_causes(causes: dict[str, int]) -> dict[str, int]:
    """The causes of ratings kept aside as a heartbeat carries them: the most frequent first, at most
    ``MAX_KEPT_ASIDE_CAUSES`` (the rest counted as "other causes"), each cut to a storable length.

        >>> [len(cause) for cause in heartbeat_causes({"refused by the server: " + "x" * 300: 2})]
        [200]
        >>> heartbeat_causes({f"cause {i}": 1 for i in range(12)})["other causes"]
        3
    """
    cleaned: dict[str, int] = {}
    for cause, n in sorted(causes.items(), key=lambda item: -item[1]):
        # NUL and lone surrogates cannot be stored by the server (it refuses the batch): replaced.
        text = cause.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8") or "unknown"
        if len(text) > MAX_KEPT_ASIDE_CAUSE_CHARS:
            text = text[:MAX_KEPT_ASIDE_CAUSE_CHARS - 1] + "…"
        cleaned[text] = cleaned.get(text, 0) + n
    if len(cleaned) <= MAX_KEPT_ASIDE_CAUSES:
        return cleaned
    kept = dict(list(cleaned.items())[:MAX_KEPT_ASIDE_CAUSES - 1])
    return {**kept, "other causes": sum(cleaned.values()) - sum(kept.values())}
