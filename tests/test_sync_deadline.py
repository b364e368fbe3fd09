"""An answer that trickles in a byte at a time is given up at the uploader's deadline (issue 10, suite 2).

requests' read timeout bounds each wait for a byte, not the whole answer: an
answer dribbled out by a failing link or proxy kept the uploader in one
request for as long as the trickle lasted (a 500-rating receipt at one byte
per 20 ms: ten minutes), out of reach of ``stop()``. Each answer must now
arrive whole within ``answer_deadline_s``; a late one is a timeout, and the
ratings are resent (the server answers ``duplicate``).
"""

from __future__ import annotations

import random

from fault_proxy import FaultProxy
from kiosk.flow import RatingFlow
from kiosk.store import RatingStore
from kiosk.timekeeping import SystemClock
from server_fixtures import *  # noqa: F401,F403 - server_db_url, start_server, server
from sync.local import LocalRatings
from sync.uploader import Uploader, make_session


def test_a_trickled_answer_is_given_up_at_the_deadline_and_nothing_is_lost(server, tmp_path):
    enrolled = server.enroll()
    clock = SystemClock()
    store = RatingStore(tmp_path / "kiosk.db", terminal_id=enrolled.id, clock=clock)
    flow = RatingFlow(store, repeat_interval_s=0, thanks_s=0, ask_reason=False)
    ids = [flow.press("satisfied").rating_id for _ in range(20)]
    local = LocalRatings(tmp_path / "kiosk.db")
    # 20 acknowledgements and the headers, a byte every 5 ms: several seconds, each byte well inside the read timeout.
    proxy = FaultProxy(("127.0.0.1", int(server.url.rsplit(":", 1)[1])), trickle_s=0.005).start()
    uploader = Uploader(local, server_url=proxy.url, token=enrolled.token, stamp=clock.stamp, app_version="0.1.0",
                        session=make_session(), timeout=(2.0, 2.0), answer_deadline_s=1.0, pause_s=0,
                        rng=random.Random(3))
    try:
        proxy.inject("trickle")
        attempt = uploader.send_batch()
        assert not attempt.ok and attempt.error == "the server did not answer in time"
        assert local.pending_count() == 20  # the server has them; the terminal does not know yet
        assert server.count() == 20
        again = uploader.send_batch()  # no fault now: the same ratings again, acknowledged as duplicates
        assert again.ok and set(again.acks) == set(ids) and set(again.acks.values()) == {"duplicate"}
        assert local.pending_count() == 0 and server.count() == 20
    finally:
        proxy.stop()
        local.close()
        store.close()
