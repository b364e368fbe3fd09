"""Alerts by the organisation tree, on a real server (SQLite and PostgreSQL): a unit's dissatisfied share is
its own alert even when another province has a unit of the same name; each account sees the alerts of the
nodes in its scope; the webhook names the place by its path; ratings without a unit still alert by site;
and alerts of before (a site's name as subject) go on across the upgrade without firing twice."""

from __future__ import annotations

import csv
import io
import json

import pytest
import requests
from sqlalchemy import text

from dashboard_fixtures import at, rating, send
from server_fixtures import *  # noqa: F403
from server_fixtures import TEST_PASSWORD, EnrolledTerminal
from webhook_receiver import WebhookReceiver

TREE = """code,name,kind,parent_code
24,Tỉnh Bắc Ninh,province,
07420,Phường 1,unit,24
07420-MC,Bộ phận Một cửa Phường 1,office,07420
07420-Q1,Quầy 1,counter,07420-MC
07421,Xã An Bình,unit,24
07421-MC,Bộ phận Một cửa An Bình,office,07421
07421-Q1,Quầy 1,counter,07421-MC
86,Tỉnh Vĩnh Long,province,
29221,Phường 1,unit,86
29221-MC,Bộ phận Một cửa Phường 1,office,29221
29221-Q1,Quầy 1,counter,29221-MC
"""
WEDNESDAY_0930 = at("2026-11-25T02:30:00Z")  # 09:30 in Hà Nội
BAD_QUARTER = [rating("dissatisfied", reason="processing_time", age_s=100 + i) for i in range(3)] + \
    [rating("satisfied", age_s=50)]  # 3 of 4 dissatisfied: the rule fires


class Provinces:
    """Two provinces, each with a unit named "Phường 1" (and Bắc Ninh with "Xã An Bình"), a terminal at each
    unit's counter (and a spare one, which never sends, at each "Phường 1"), and accounts: a unit admin of each
    "Phường 1", a viewer of Bắc Ninh, a whole-server admin."""

    def __init__(self, server):
        from server.accounts import issue_admin_token, issue_enrollment_code
        from server.db import write_transaction
        from server.org_tree import apply_tree, find_node, parse_tree

        self.server, self.clock = server, server.app.state.clock
        with server.engine.connect() as conn, write_transaction(conn):
            apply_tree(conn, parse_tree(TREE), now_ns=self.clock())
            self.node = {code: find_node(conn, code).id for code in ("24", "86", "07420", "07421", "29221")}
            codes = {unit: issue_enrollment_code(conn, node_id=find_node(conn, f"{unit[-5:]}-Q1").id, ttl_s=3600,
                                                 now_ns=self.clock())
                     for unit in ("07420", "07421", "29221", "spare 07420", "spare 29221")}
        self.terminal = {}
        for unit, code in codes.items():
            answer = server.post("/api/v1/enroll", json={"code": code, "app_version": "0.1.0"})
            assert answer.status_code == 201, answer.text
            self.terminal[unit] = EnrolledTerminal(answer.json()["terminal_id"], answer.json()["device_token"])
        self.token = {}
        for name, role, scope in (("ua.bacninh.p1", "unit_admin", "07420"), ("ua.vinhlong.p1", "unit_admin", "29221"),
                                  ("viewer.bacninh", "viewer", "24"), ("pa.all", "province_admin", None)):
            person = server.person(name, role=role, scope_node_id=self.node[scope] if scope else None)
            with server.engine.connect() as conn, write_transaction(conn):
                self.token[name] = issue_admin_token(conn, name=name, now_ns=self.clock(), account_id=person.id)

    def headers(self, name: str) -> dict:
        return {"Authorization": f"Bearer {self.token[name]}"}

    def check(self) -> dict:
        answer = self.server.post("/api/v1/alerts/check", headers=self.headers("pa.all"))
        assert answer.status_code == 200, answer.text
        return {key: sorted((a["rule"], a["subject"]) for a in answer.json()[key]) for key in ("fired", "cleared")}

    def alerts(self, name: str) -> list[dict]:
        answer = self.server.get("/api/v1/alerts", headers=self.headers(name))
        assert answer.status_code == 200, answer.text
        return answer.json()["active"]


@pytest.fixture
def provinces(start_server) -> Provinces:
    return Provinces(start_server(clock=FakeClock(WEDNESDAY_0930), alert_check_interval_s=0))


def test_two_units_of_one_name_in_two_provinces_fire_two_alerts(provinces):
    for unit in ("07420", "29221"):
        send(provinces.server, provinces.terminal[unit], provinces.clock, BAD_QUARTER)
    ids = provinces.node
    assert provinces.check() == {"fired": [("dissatisfied_share", f"unit:{ids['07420']}"),
                                           ("dissatisfied_share", f"unit:{ids['29221']}")], "cleared": []}
    by_subject = {a["subject"]: a for a in provinces.alerts("pa.all")}
    bac_ninh, vinh_long = by_subject[f"unit:{ids['07420']}"], by_subject[f"unit:{ids['29221']}"]
    assert (bac_ninh["place"], vinh_long["place"]) == ("Tỉnh Bắc Ninh › Phường 1", "Tỉnh Vĩnh Long › Phường 1")
    assert bac_ninh["message"] == ("Tỉnh Bắc Ninh › Phường 1: 3 trên 4 lượt đánh giá (75,0%) trong 15 phút qua "
                                   "là không hài lòng")
    assert (bac_ninh["unit_id"], bac_ninh["province_id"]) == (ids["07420"], ids["24"])
    assert (vinh_long["details"]["unit_code"], vinh_long["details"]["province_code"]) == ("29221", "86")
    assert vinh_long["details"]["counted"] == 4 and vinh_long["details"]["dissatisfied"] == 3

    # One unit's ratings turn fine: only its alert clears.
    send(provinces.server, provinces.terminal["29221"], provinces.clock,
         [rating("very_satisfied", age_s=10 + i) for i in range(6)])
    assert provinces.check() == {"fired": [], "cleared": [("dissatisfied_share", f"unit:{ids['29221']}")]}


def test_each_account_sees_the_alerts_of_its_own_nodes_on_the_api_the_page_and_the_export(provinces):
    provinces.clock.advance(3 * 3600)  # every terminal silent for 3 h of opening hours
    provinces.check()
    for unit in ("07420", "07421", "29221"):  # each unit's own terminal is heard from, with bad ratings
        send(provinces.server, provinces.terminal[unit], provinces.clock, BAD_QUARTER)
    provinces.check()
    ids, term = provinces.node, provinces.terminal
    share = {unit: ("dissatisfied_share", f"unit:{ids[unit]}") for unit in ("07420", "07421", "29221")}
    silent = {unit: ("terminal_silent", term[f"spare {unit}"].id) for unit in ("07420", "29221")}
    seen = {name: sorted((a["rule"], a["subject"]) for a in provinces.alerts(name)) for name in provinces.token}
    assert seen == {
        "pa.all": sorted([*share.values(), *silent.values()]),
        "ua.bacninh.p1": sorted([share["07420"], silent["07420"]]),      # its unit only, not Vĩnh Long's Phường 1
        "ua.vinhlong.p1": sorted([share["29221"], silent["29221"]]),
        "viewer.bacninh": sorted([share["07420"], share["07421"]]),      # its province; a viewer sees no fleet
    }
    # The page and the CSV export show the same, by the path.
    for name, shown, hidden in (("ua.bacninh.p1", "Tỉnh Bắc Ninh › Phường 1", "Tỉnh Vĩnh Long"),
                                ("ua.vinhlong.p1", "Tỉnh Vĩnh Long › Phường 1", "Tỉnh Bắc Ninh")):
        session = requests.Session()
        person_form = session.get(provinces.server.url + "/login", timeout=30).text
        csrf = person_form.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        logged = session.post(provinces.server.url + "/login", timeout=30, allow_redirects=False,
                              data={"username": name, "password": TEST_PASSWORD, "code": "", "csrf": csrf,
                                    "next": "/"})
        assert logged.status_code == 303, logged.text
        page = session.get(provinces.server.url + "/alerts", timeout=30)
        assert page.status_code == 200 and shown in page.text and hidden not in page.text
        export = session.get(provinces.server.url + "/export/alerts.csv", timeout=30)
        rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
        assert rows[0][:4] == ["Mã", "Quy tắc", "Đối tượng", "Nơi"]
        assert [row[3] for row in rows[1:] if row[1] == "Tỷ lệ không hài lòng cao"] == [shown]
        # the spare's, active, and the unit terminal's, cleared when it was heard from: both at its counter
        assert [row[3] for row in rows[1:] if row[1] == "Thiết bị im lặng"] == [
            f"{shown} › Bộ phận Một cửa Phường 1 › Quầy 1"] * 2
        assert hidden not in export.content.decode("utf-8-sig")


def test_the_webhook_payload_names_the_place_by_its_path_and_carries_the_ids_and_codes(start_server):
    hook = WebhookReceiver()
    try:
        server = start_server(clock=FakeClock(WEDNESDAY_0930), alert_check_interval_s=0, alert_webhook_url=hook.url)
        provinces = Provinces(server)
        send(server, provinces.terminal["29221"], provinces.clock, BAD_QUARTER)
        provinces.check()
        (received,) = [r["body"] for r in hook.received]
    finally:
        hook.close()
    alert = received["alert"]
    assert received["event"] == "fired" and received["event_id"] == f"{alert['id']}-fired"
    assert alert["subject"] == f"unit:{provinces.node['29221']}" and alert["place"] == "Tỉnh Vĩnh Long › Phường 1"
    assert alert["details"]["place"] == {
        "path": "Tỉnh Vĩnh Long › Phường 1",
        "province": {"id": provinces.node["86"], "code": "86", "name": "Tỉnh Vĩnh Long"},
        "unit": {"id": provinces.node["29221"], "code": "29221", "name": "Phường 1"}}
    assert alert["message"].startswith("Tỉnh Vĩnh Long › Phường 1: 3 trên 4 lượt")


def test_ratings_without_a_unit_still_alert_by_their_site_and_only_whole_server_accounts_see_it(provinces):
    server, term = provinces.server, provinces.terminal
    with server.engine.begin() as conn:  # a terminal that stands nowhere in the tree (its ratings get no unit)
        conn.execute(text("UPDATE terminals SET node_id = NULL, province_id = NULL, unit_id = NULL, "
                          "office_id = NULL, counter_id = NULL, site = 'UBND xã Cũ', counter = 'Quầy A' "
                          "WHERE id = :id"), {"id": term["07421"].id})
    send(server, term["07421"], provinces.clock, BAD_QUARTER)
    assert server.count("ratings", terminal_id=term["07421"].id, unit_id=None) == 4
    assert provinces.check() == {"fired": [("dissatisfied_share", "UBND xã Cũ")], "cleared": []}
    (alert,) = provinces.alerts("pa.all")
    assert (alert["place"], alert["unit_id"]) == ("UBND xã Cũ", None)
    assert alert["message"] == "UBND xã Cũ: 3 trên 4 lượt đánh giá (75,0%) trong 15 phút qua là không hài lòng"
    assert provinces.alerts("viewer.bacninh") == []  # like those ratings: no unit, so no province's account

    provinces.clock.advance(3 * 3600)  # silent: where it stands is told by its names, as before the tree
    provinces.check()
    silent = {a["subject"]: a for a in provinces.alerts("pa.all") if a["rule"] == "terminal_silent"}
    assert silent[term["07421"].id]["place"] == "UBND xã Cũ / Quầy A"
    assert silent[term["07420"].id]["place"] == \
        "Tỉnh Bắc Ninh › Phường 1 › Bộ phận Một cửa Phường 1 › Quầy 1"


# -- the upgrade: alerts named by their site before migration 0011 --------------------------------------

def _migrate(engine, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    from server.db import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as conn:
        config.attributes["connection"] = conn
        if revision == "head":
            command.upgrade(config, "head")
        else:
            command.downgrade(config, revision)
        conn.commit()


def test_alerts_named_by_site_before_the_upgrade_go_on_without_firing_twice(start_server):
    hook = WebhookReceiver()
    try:
        server = start_server(clock=FakeClock(WEDNESDAY_0930), alert_check_interval_s=0, alert_webhook_url=hook.url)
        provinces = Provinces(server)
        for unit in ("07420", "07421", "29221"):
            send(server, provinces.terminal[unit], provinces.clock, BAD_QUARTER)
        # The database as the rule of before left it (revision 0009): an alert per site name, both "Phường 1"
        # merged into one, each already sent to the webhook.
        _migrate(server.engine, "0009_national_indexes")
        fired_at = "2026-11-25T02:25:00.000Z"
        with server.engine.begin() as conn:
            for subject in ("Phường 1", "Xã An Bình"):
                details = {"site": subject, "counted": 8 if subject == "Phường 1" else 4, "dissatisfied": 6,
                           "pct": 75.0, "window_s": 900, "since": "2026-11-25T02:10:00.000Z"}
                conn.execute(text("INSERT INTO alerts (rule, subject, fired_at, details, fired_sent_at) "
                                  "VALUES ('dissatisfied_share', :s, :f, :d, :f)"),
                             {"s": subject, "f": fired_at, "d": json.dumps(details, ensure_ascii=False)})
        _migrate(server.engine, "head")
        ids = provinces.node
        an_binh = server.rows("alerts", subject=f"unit:{ids['07421']}")
        assert [(a["unit_id"], a["province_id"], a["cleared_at"]) for a in an_binh] == [(ids["07421"], ids["24"], None)]
        assert json.loads(an_binh[0]["details"])["place"]["path"] == "Tỉnh Bắc Ninh › Xã An Bình"
        assert server.rows("alerts", subject="Phường 1")[0]["unit_id"] is None  # two units have that name

        # The next check: An Bình's alert goes on (not fired again); the merged "Phường 1" clears once and
        # each Phường 1 fires its own alert once.
        assert provinces.check() == {
            "fired": [("dissatisfied_share", f"unit:{ids['07420']}"), ("dissatisfied_share", f"unit:{ids['29221']}")],
            "cleared": [("dissatisfied_share", "Phường 1")]}
        assert provinces.check() == {"fired": [], "cleared": []}
        assert [a["id"] for a in server.rows("alerts", subject=f"unit:{ids['07421']}")] == [an_binh[0]["id"]]
        events = sorted((r["body"]["alert"]["subject"], r["body"]["event"]) for r in hook.received)
        assert events == sorted([("Phường 1", "cleared"), (f"unit:{ids['07420']}", "fired"),
                                 (f"unit:{ids['29221']}", "fired")])  # An Bình's was sent before: not again

        # The unit admin of Bắc Ninh's Phường 1 sees its alert and An Bình's not; the province's viewer both.
        assert [a["subject"] for a in provinces.alerts("ua.bacninh.p1")
                if a["rule"] == "dissatisfied_share"] == [f"unit:{ids['07420']}"]
        assert sorted(a["subject"] for a in provinces.alerts("viewer.bacninh")) == sorted(
            [f"unit:{ids['07420']}", f"unit:{ids['07421']}"])

        # When An Bình's ratings turn fine, it clears as the alert it was (the id the receiver knows).
        send(server, provinces.terminal["07421"], provinces.clock,
             [rating("very_satisfied", age_s=5 + i) for i in range(8)])
        assert provinces.check()["cleared"] == [("dissatisfied_share", f"unit:{ids['07421']}")]
        assert f"{an_binh[0]['id']}-cleared" in {r["body"]["event_id"] for r in hook.received}
    finally:
        hook.close()
