"""The dashboard's organisation tree and fleet actions (issue 11 §1), on both backends over real uvicorn: the
tree imported by upload (a dry run; a bad line named and nothing imported), enrolment codes that really enrol a
terminal, moving and revoking from the fleet, the fleet paged and filtered by node, CSRF refusals."""

from __future__ import annotations

import csv
import io
import re

import pytest

from dashboard_fixtures import dash, log_in  # noqa: F401
from server_fixtures import *  # noqa: F403
from server_fixtures import EnrolledTerminal
from test_tree_api import BAD_CSV, TREE_CSV, counted_by_counter, node_id, post_tree


def shown(answer) -> str:
    """A page's text with the ``<bdi>`` that isolates each name taken out."""
    return re.sub(r"</?bdi>", "", answer.text)


def page_csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


@pytest.fixture
def session(dash):
    return log_in(dash, dash.person())


def upload(dash, session, text: str, action: str):
    html = session.get(dash.url + "/tree", timeout=30).text
    return session.post(dash.url + "/tree/import", data={"csrf": page_csrf(html), "action": action},
                        files={"file": ("co-cau.csv", text.encode("utf-8"), "text/csv")}, timeout=30)


def test_the_tree_is_checked_then_imported_by_upload_and_shown_with_its_codes(dash, session):
    checked = upload(dash, session, TREE_CSV, "check")
    assert checked.status_code == 200, checked.text
    assert "Kiểm tra co-cau.csv: chưa có gì thay đổi" in shown(checked)
    assert "thêm 8," in shown(checked) and "8 thay đổi" in shown(checked)
    assert dash.count("nodes") == 0

    imported = upload(dash, session, TREE_CSV, "import")
    assert imported.status_code == 200 and "Đã nhập co-cau.csv" in shown(imported)
    assert dash.count("nodes") == 8
    html = shown(session.get(dash.url + "/tree", timeout=30))
    for text in ("Thành phố Hà Nội", "Phường Ngọc Hà", "<code>BD-Q2</code>", "Bộ phận Một cửa"):
        assert text in html
    download = session.get(dash.url + "/export/tree.csv", timeout=30)
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    assert download.content.decode("utf-8-sig").splitlines()[0] == "code,name,kind,parent_code"
    assert "BD-Q2,Quầy 2,counter,BD-MC" in download.content.decode("utf-8-sig")


def test_a_bad_file_is_named_by_its_line_and_nothing_is_imported(dash, session):
    for action in ("check", "import"):
        answer = upload(dash, session, BAD_CSV, action)
        assert answer.status_code == 422
        assert "Dòng 7 của co-cau.csv có lỗi: parent_code KHONG-CO is neither in the file nor on the server" \
               in shown(answer)
        assert "Không có gì được nhập" in shown(answer)
    assert dash.count("nodes") == 0


def test_codes_from_the_dashboard_enrol_a_terminal_over_the_api(dash, session):
    assert upload(dash, session, TREE_CSV, "import").status_code == 200
    form = shown(session.get(dash.url + "/tree/codes", params={"node": f"#{node_id(dash, 'NH-Q1')}"}, timeout=30))
    assert "selected>Thành phố Hà Nội › Phường Ngọc Hà › Bộ phận Một cửa phường Ngọc Hà › Quầy 1" in form
    answer = session.post(dash.url + "/tree/codes", timeout=30, data={
        "csrf": page_csrf(form), "node": f"#{node_id(dash, 'NH-Q1')}", "count": "2", "ttl_s": str(86400)})
    assert answer.status_code == 200, answer.text
    codes = re.findall(r'<code class="code">(hl_enr_[a-z0-9]+)</code>', answer.text)
    assert len(set(codes)) == 2 and "2 mã cho Thành phố Hà Nội › Phường Ngọc Hà" in shown(answer)
    enrolled = dash.post("/api/v1/enroll", json={"code": codes[0], "app_version": "0.1.0"})
    assert enrolled.status_code == 201, enrolled.text
    assert (enrolled.json()["site"], enrolled.json()["counter"]) == ("Phường Ngọc Hà", "Quầy 1")
    assert dash.rows("terminals")[0]["counter_id"] == node_id(dash, "NH-Q1")


def test_with_the_public_url_codes_come_with_a_qr_code_and_a_printable_sheet(start_server):
    server = start_server(public_url="https://hailong.example.vn")
    session = log_in(server, server.person())
    assert post_tree(server, TREE_CSV, server.admin_headers()).status_code == 200
    form = session.get(server.url + "/tree/codes", timeout=30).text
    answer = session.post(server.url + "/tree/codes", timeout=30, data={
        "csrf": page_csrf(form), "node": "BD-Q2", "count": "3", "ttl_s": str(7 * 86400)})
    assert answer.status_code == 200, answer.text
    assert len(re.findall(r'<code class="string">hailong1:', answer.text)) == 3
    assert answer.text.count("<svg") >= 3
    codes = re.findall(r'name="code" value="(hl_enr_[a-z0-9]+)"', answer.text)
    sheet = session.post(server.url + "/tree/codes/sheet.pdf", data={"csrf": page_csrf(answer.text), "code": codes},
                         timeout=60)
    assert sheet.status_code == 200 and sheet.content.startswith(b"%PDF")
    forged = session.post(server.url + "/tree/codes/sheet.pdf",
                          data={"csrf": page_csrf(answer.text), "code": ["hl_enr_" + "a" * 32]}, timeout=30)
    assert forged.status_code == 422


def enrol_with_api(server, node: str) -> EnrolledTerminal:
    admin = server.admin_headers()
    code = server.post("/api/v1/enrollment-codes", json={"node": node}, headers=admin).json()["codes"][0]
    body = server.post("/api/v1/enroll", json={"code": code}).json()
    return EnrolledTerminal(body["terminal_id"], body["device_token"])


def test_move_then_revoke_from_the_fleet_page(dash, session):
    assert post_tree(dash, TREE_CSV, dash.admin_headers()).status_code == 200
    terminal = enrol_with_api(dash, "BD-Q1")
    fleet = shown(session.get(dash.url + "/fleet", timeout=30))
    assert f'href="/fleet/terminal/{terminal.id}"' in fleet
    assert "Thành phố Hà Nội › Phường Ba Đình › Bộ phận Một cửa phường Ba Đình › Quầy 1" in fleet
    assert dash.upload(terminal, make_batch([make_rating(terminal.id) for _ in range(2)])).status_code == 200

    own = session.get(dash.url + f"/fleet/terminal/{terminal.id}", timeout=30).text
    moved = session.post(dash.url + f"/fleet/terminal/{terminal.id}/move", timeout=30,
                         data={"csrf": page_csrf(own), "node": f"#{node_id(dash, 'NH-Q1')}"})
    assert moved.status_code == 200 and "Đã chuyển thiết bị" in shown(moved)
    assert "Phường Ngọc Hà › Bộ phận Một cửa phường Ngọc Hà › Quầy 1" in shown(moved)
    later = [make_rating(terminal.id, monotonic_ns=7_000_000_000 + i) for i in range(3)]
    assert dash.upload(terminal, make_batch(later)).status_code == 200
    assert counted_by_counter(dash) == {node_id(dash, "BD-Q1"): 2, node_id(dash, "NH-Q1"): 3}

    unconfirmed = session.post(dash.url + f"/fleet/terminal/{terminal.id}/revoke", timeout=30,
                               data={"csrf": page_csrf(own)})
    assert unconfirmed.status_code == 422 and "ô xác nhận" in unconfirmed.text
    assert dash.rows("terminals", id=terminal.id)[0]["revoked_at"] is None
    revoked = session.post(dash.url + f"/fleet/terminal/{terminal.id}/revoke", timeout=30,
                           data={"csrf": page_csrf(own), "confirm": "yes"})
    assert revoked.status_code == 200 and "Đã thu hồi thiết bị" in revoked.text
    last = [make_rating(terminal.id, monotonic_ns=8_000_000_000)]
    assert dash.upload(terminal, make_batch(last)).status_code == 401
    assert dash.count("ratings") == 5


@pytest.mark.parametrize("path, data", [
    ("/tree/import", {"action": "import"}),
    ("/tree/codes", {"node": "BD-Q1", "count": "1", "ttl_s": "86400"}),
    ("/fleet/terminal/{id}/move", {"node": "NH-Q1"}),
    ("/fleet/terminal/{id}/revoke", {"confirm": "yes"}),
])
def test_every_form_needs_the_sessions_csrf_token(dash, session, path, data):
    assert post_tree(dash, TREE_CSV, dash.admin_headers()).status_code == 200
    terminal = enrol_with_api(dash, "BD-Q1")
    before = (dash.count("nodes"), dash.count("enrollment_codes"), dash.rows("terminals"))
    files = {"file": ("x.csv", TREE_CSV.replace("Quầy 2", "Quầy hai").encode(), "text/csv")} \
        if path == "/tree/import" else None
    for csrf in ("", "not-the-token"):
        answer = session.post(dash.url + path.format(id=terminal.id), data={**data, "csrf": csrf}, files=files,
                              allow_redirects=False, timeout=30)
        assert answer.status_code == 403 and "CSRF" in answer.text
    assert (dash.count("nodes"), dash.count("enrollment_codes"), dash.rows("terminals")) == before
    assert dash.rows("nodes", code="BD-Q2")[0]["name"] == "Quầy 2"


def enrol_many(server, counts: dict[str, int]) -> dict[str, set[str]]:
    """Terminals enrolled straight in the database (fast): {counter code: their ids}."""
    from server.accounts import enroll_terminal, issue_enrollment_code
    from server.db import write_transaction

    enrolled = {}
    with server.engine.connect() as conn, write_transaction(conn):
        for code, count in counts.items():
            where = node_id(server, code)
            enrolled[code] = {enroll_terminal(conn, issue_enrollment_code(conn, node_id=where, ttl_s=3600,
                                                                         now_ns=server.clock()),
                                              app_version="0.1.0", now_ns=server.clock()).terminal_id
                              for _ in range(count)}
    return enrolled


def listed_ids(html: str) -> list[str]:
    return re.findall(r'<tr class="[^"]*" id="terminal-([^"]+)">', html)


def test_the_fleet_is_paged_and_filtered_by_node(dash, session):
    assert post_tree(dash, TREE_CSV, dash.admin_headers()).status_code == 200
    enrolled = enrol_many(dash, {"BD-Q1": 120, "BD-Q2": 80, "NH-Q1": 50})
    seen = []
    url, pages = "/fleet", 0
    while url:
        html = shown(session.get(dash.url + url.replace("&amp;", "&"), timeout=30))
        pages += 1
        seen += listed_ids(html)
        assert "250 thiết bị" in html
        found = re.search(r'<a href="([^"]+)" rel="next">', html)
        url = found.group(1) if found else None
    assert pages == 3 and len(seen) == len(set(seen)) == 250
    assert "Trang 3/3 (thiết bị 201–250 trên 250)" in html

    unit = shown(session.get(dash.url + "/fleet", params={"node": "00008"}, timeout=30))
    assert set(listed_ids(unit)) == enrolled["NH-Q1"] and "50 thiết bị" in unit and 'rel="next"' not in unit
    office = session.get(dash.url + "/fleet", params={"node": f"#{node_id(dash, 'BD-MC')}", "page": 2},
                         timeout=30).text
    assert len(listed_ids(office)) == 100 and "Trang 2/2" in office
    assert f'<option value="#{node_id(dash, "00008")}" selected>' in unit
    rows = list(csv.reader(io.StringIO(session.get(dash.url + "/export/fleet.csv", params={"node": "00008"},
                                                   timeout=30).content.decode("utf-8-sig"))))
    assert rows[0][3] == "Vị trí" and len(rows) == 51
    assert {row[0] for row in rows[1:]} == enrolled["NH-Q1"]
    assert {row[3] for row in rows[1:]} == {"Thành phố Hà Nội › Phường Ngọc Hà › Bộ phận Một cửa phường Ngọc Hà › "
                                            "Quầy 1"}
    unknown = session.get(dash.url + "/fleet", params={"node": "KHONG-CO"}, timeout=30)
    assert unknown.status_code == 422 and "Không có nút nào có mã “KHONG-CO”" in shown(unknown)


def test_each_role_sees_and_does_what_it_may_on_the_pages(dash):
    assert post_tree(dash, TREE_CSV, dash.admin_headers()).status_code == 200
    theirs, other = enrol_with_api(dash, "NH-Q1"), enrol_with_api(dash, "BD-Q1")
    tech = log_in(dash, dash.person("ky.thuat", role="technician", scope_node_id=node_id(dash, "00008")))
    tree = shown(tech.get(dash.url + "/tree", timeout=30))
    assert "Phường Ngọc Hà" in tree and "Phường Ba Đình" not in tree and 'id="import-form"' not in tree
    assert "Cấp mã</a>" in tree
    refused = tech.post(dash.url + "/tree/import", data={"csrf": page_csrf(tree), "action": "import"},
                        files={"file": ("x.csv", TREE_CSV.replace("Quầy 2", "Quầy hai").encode(), "text/csv")},
                        timeout=30)
    assert refused.status_code == 403 and "không được nhập cây tổ chức" in refused.text
    fleet = tech.get(dash.url + "/fleet", timeout=30).text
    assert listed_ids(fleet) == [theirs.id]
    assert tech.get(dash.url + f"/fleet/terminal/{other.id}", timeout=30).status_code == 404
    outside = tech.post(dash.url + f"/fleet/terminal/{other.id}/revoke", timeout=30,
                        data={"csrf": page_csrf(fleet), "confirm": "yes"})
    assert outside.status_code == 404 and dash.rows("terminals", id=other.id)[0]["revoked_at"] is None

    inspector = log_in(dash, dash.person("thanh.tra", role="inspector"))
    fleet = inspector.get(dash.url + "/fleet", timeout=30).text
    assert set(listed_ids(fleet)) == {theirs.id, other.id} and "Chuyển quầy / Thu hồi" not in fleet
    refused = inspector.post(dash.url + f"/fleet/terminal/{other.id}/revoke", timeout=30,
                             data={"csrf": page_csrf(fleet), "confirm": "yes"})
    assert refused.status_code == 403 and dash.rows("terminals", id=other.id)[0]["revoked_at"] is None
    viewer = log_in(dash, dash.person("xem.bao.cao", role="viewer"))
    assert viewer.get(dash.url + "/fleet", timeout=30).status_code == 403


# -- national scale: the tree's grouping by default, the node picker, the fleet's counts in SQL (issue 11 §5) --

#: Two provinces: the whole server's overview ranks them.
TWO_PROVINCES_CSV = TREE_CSV + """79,Thành phố Hồ Chí Minh,province,
26734,Phường Sài Gòn,unit,79
SG-MC,Bộ phận Một cửa phường Sài Gòn,office,26734
SG-Q1,Quầy 1,counter,SG-MC
"""


def rated(dash, counters: dict[str, int]) -> dict[str, EnrolledTerminal]:
    """One terminal per counter code, each sending that many satisfied ratings now."""
    from dashboard_fixtures import rating, send

    terminals = {}
    for code, count in counters.items():
        terminals[code] = enrol_with_api(dash, code)
        send(dash, terminals[code], dash.clock, [rating("satisfied", age_s=10 + i) for i in range(count)])
    return terminals


def group_names(html: str) -> list[str]:
    groups = re.search(r'<table class="rates" id="groups">(.*?)</table>', html, re.S).group(1)
    return re.findall(r'<td data-label="Tên">(?:<a href="[^"]*">)?([^<]+)<', groups)


def node_options(html: str) -> list[str]:
    select = re.search(r'<select name="node" id="node">(.*?)</select>', html, re.S).group(1)
    return re.findall(r">([^<]+)</option>", select)


def test_the_whole_servers_overview_ranks_its_provinces_and_sites_only_when_asked(dash, session):
    assert post_tree(dash, TWO_PROVINCES_CSV, dash.admin_headers()).status_code == 200
    rated(dash, {"BD-Q1": 3, "NH-Q1": 2, "SG-Q1": 4})
    html = shown(session.get(dash.url + "/", timeout=30))
    assert group_names(html) == ["Thành phố Hồ Chí Minh", "Thành phố Hà Nội"] or \
        sorted(group_names(html)) == ["Thành phố Hà Nội", "Thành phố Hồ Chí Minh"]
    assert re.search(r'<option value="children" selected>Tỉnh/Thành phố', html)
    assert "So sánh theo tỉnh/thành phố" in html
    # Each province links to its own report, which ranks its units.
    hanoi = node_id(dash, "01")
    assert f'node={hanoi}">Thành phố Hà Nội</a>' in html
    province = shown(session.get(dash.url + "/", params={"node": hanoi}, timeout=30))
    assert sorted(group_names(province)) == ["Phường Ba Đình", "Phường Ngọc Hà"]
    # The sites by name of before the tree: still there when asked.
    by_site = shown(session.get(dash.url + "/", params={"group_by": "site"}, timeout=30))
    assert sorted(group_names(by_site)) == ["Phường Ba Đình", "Phường Ngọc Hà", "Phường Sài Gòn"]
    # A small report lists each site's counters; the select of sites is there (3 names).
    assert 'class="site-counters"' in html and '<select name="site" id="site">' in html


def test_a_server_without_a_tree_compares_its_sites_by_default(dash, session):
    assert dash.count("nodes") == 0
    html = shown(session.get(dash.url + "/", timeout=30))
    assert re.search(r'<option value="site" selected>Đơn vị</option>', html)
    assert node_options(html) == ["Tất cả"]


def test_big_reports_leave_out_the_site_detail_and_the_site_select(dash, session, monkeypatch):
    from server.dashboard import pages

    assert post_tree(dash, TWO_PROVINCES_CSV, dash.admin_headers()).status_code == 200
    rated(dash, {"BD-Q1": 1, "NH-Q1": 1, "SG-Q1": 1})
    monkeypatch.setattr(pages, "MAX_DETAIL_TERMINALS", 2)
    monkeypatch.setattr(pages, "MAX_SITE_CHOICES", 2)
    html = shown(session.get(dash.url + "/", timeout=30))
    assert 'class="site-counters"' not in html and 'id="site-detail-note"' in html and "có 3 thiết bị" in html
    assert 'name="site"' not in html
    # A unit's report is small again: its counters are listed.
    unit = shown(session.get(dash.url + "/", params={"node": node_id(dash, "00004")}, timeout=30))
    assert 'class="site-counters"' in unit and "Các quầy của Phường Ba Đình" in unit


def test_the_picker_lists_the_path_and_the_children_never_the_whole_tree(dash, session):
    assert post_tree(dash, TWO_PROVINCES_CSV, dash.admin_headers()).status_code == 200
    top = shown(session.get(dash.url + "/", timeout=30))
    assert node_options(top) == ["Tất cả", "\u2003Thành phố Hà Nội", "\u2003Thành phố Hồ Chí Minh"]
    office = shown(session.get(dash.url + "/", params={"node": node_id(dash, "BD-MC")}, timeout=30))
    assert node_options(office) == ["Tất cả", "↑ Thành phố Hà Nội", "↑ Phường Ba Đình",
                                    "Bộ phận Một cửa phường Ba Đình", "\u2003Quầy 1", "\u2003Quầy 2"]
    assert "Phường Ngọc Hà" not in re.search(r'<select name="node" id="node">(.*?)</select>', office, re.S).group(1)
    fleet = shown(session.get(dash.url + "/fleet", params={"node": "00004"}, timeout=30))
    assert re.search(r'<nav class="breadcrumb" id="picker-path"[^>]*>\s*<a href="/fleet">Tất cả</a>\s*›\s*'
                     r'<a href="/fleet\?node=%23\d+">Thành phố Hà Nội</a>\s*›\s*<strong aria-current="page">'
                     r'Phường Ba Đình</strong>', fleet)
    assert f'<a href="/fleet?node=%23{node_id(dash, "BD-MC")}">Bộ phận Một cửa phường Ba Đình</a>' in fleet


@pytest.mark.parametrize("find, expected", [
    ("00008", ["Thành phố Hà Nội › Phường Ngọc Hà"]),                       # a unit's code
    ("ngọc hà", ["Thành phố Hà Nội › Phường Ngọc Hà",                       # a name, in any case
                 "Thành phố Hà Nội › Phường Ngọc Hà › Bộ phận Một cửa phường Ngọc Hà"]),
    ("100%_", []),                                                          # LIKE's wildcards are text
])
def test_the_picker_finds_nodes_by_code_or_name(dash, session, find, expected):
    assert post_tree(dash, TWO_PROVINCES_CSV, dash.admin_headers()).status_code == 200
    html = shown(session.get(dash.url + "/fleet", params={"find": find}, timeout=30))
    found = re.search(r'<div id="picker-found" role="status">(.*?)</div>', html, re.S).group(1)
    assert re.findall(r'<a href="/fleet\?node=%23\d+">([^<]+)</a>', found) == expected
    if not expected:
        assert "không có nút nào trong phạm vi của bạn" in found


def test_the_picker_of_a_units_account_never_shows_another_unit(dash):
    assert post_tree(dash, TWO_PROVINCES_CSV, dash.admin_headers()).status_code == 200
    unit_admin = log_in(dash, dash.person("qt.ngoc.ha", role="unit_admin", scope_node_id=node_id(dash, "00008")))
    for path in ("/", "/fleet"):
        html = shown(unit_admin.get(dash.url + path, params={"find": "phường"}, timeout=30))
        assert "Phường Ngọc Hà" in html
        for other in ("Phường Ba Đình", "Phường Sài Gòn", "Thành phố Hồ Chí Minh"):
            assert other not in html, (path, other)
        found = re.search(r'<div id="picker-found" role="status">(.*?)</div>', html, re.S).group(1)
        assert "Bộ phận Một cửa phường Ngọc Hà" in found
    html = shown(unit_admin.get(dash.url + "/fleet", params={"find": "nh-q"}, timeout=30))
    found = re.search(r'<div id="picker-found" role="status">(.*?)</div>', html, re.S).group(1)
    assert re.findall(r">([^<]+)</a>", found) == ["Thành phố Hà Nội › Phường Ngọc Hà › Bộ phận Một cửa phường "
                                                   "Ngọc Hà › Quầy 1"]
    html = shown(unit_admin.get(dash.url + "/fleet", params={"find": "BD-Q1"}, timeout=30))  # another unit's code
    assert "không có nút nào trong phạm vi của bạn" in html and "Quầy 1" not in html
    # Its breadcrumb starts at its own node; a node outside it is refused like an unknown one.
    fleet = shown(unit_admin.get(dash.url + "/fleet", timeout=30))
    assert re.search(r'id="picker-path"[^>]*>\s*<strong aria-current="page">Phường Ngọc Hà</strong>', fleet)
    assert unit_admin.get(dash.url + "/fleet", params={"node": "00004"}, timeout=30).status_code == 422
    assert unit_admin.get(dash.url + "/", params={"node": node_id(dash, "00004")}, timeout=30).status_code == 422


def test_the_fleets_counts_are_those_of_its_filter(dash, session):
    from dashboard_fixtures import KNOWN_START

    assert post_tree(dash, TWO_PROVINCES_CSV, dash.admin_headers()).status_code == 200
    dash.clock.now_ns = KNOWN_START  # Wednesday 08:00 in Hà Nội
    terminals = rated(dash, {"BD-Q1": 1, "BD-Q2": 1, "NH-Q1": 1, "SG-Q1": 1})
    dash.clock.advance(3 * 3600)  # 11:00: three hours of opening time later
    from dashboard_fixtures import rating, send

    send(dash, terminals["BD-Q2"], dash.clock, [rating("satisfied")])  # heard from: not silent
    whole = shown(session.get(dash.url + "/fleet", timeout=30))
    assert "4 thiết bị; ⚠ 3 thiết bị im lặng quá lâu." in " ".join(whole.split())
    unit = shown(session.get(dash.url + "/fleet", params={"node": "00004"}, timeout=30))
    assert "2 thiết bị; ⚠ 1 thiết bị im lặng quá lâu." in " ".join(unit.split())
    assert re.search(rf'<tr class="silent" id="terminal-{terminals["BD-Q1"].id}">', unit)
    assert re.search(rf'<tr class="" id="terminal-{terminals["BD-Q2"].id}">', unit)
    tech = log_in(dash, dash.person("ky.thuat.sg", role="technician", scope_node_id=node_id(dash, "79")))
    theirs = shown(tech.get(dash.url + "/fleet", timeout=30))
    assert "1 thiết bị; ⚠ 1 thiết bị im lặng quá lâu." in " ".join(theirs.split())


def test_the_codes_form_of_a_big_tree_offers_the_counters_of_the_node_browsed_to(dash, session, monkeypatch):
    from server.dashboard import tree_pages

    assert post_tree(dash, TWO_PROVINCES_CSV, dash.admin_headers()).status_code == 200
    monkeypatch.setattr(tree_pages, "MAX_CODE_CHOICES", 3)  # the tree has 7 counters and offices
    top = shown(session.get(dash.url + "/tree/codes", timeout=30))
    select = re.search(r'<select name="node" required>(.*?)</select>', top, re.S).group(1)
    assert "Quầy" not in select and 'id="node-picker"' in top
    office = shown(session.get(dash.url + "/tree/codes", params={"at": node_id(dash, "BD-MC")}, timeout=30))
    select = re.search(r'<select name="node" required>(.*?)</select>', office, re.S).group(1)
    assert re.findall(r">([^<]+)</option>", select)[1:] == [
        "Thành phố Hà Nội › Phường Ba Đình › Bộ phận Một cửa phường Ba Đình (bộ phận)",
        "Thành phố Hà Nội › Phường Ba Đình › Bộ phận Một cửa phường Ba Đình › Quầy 1",
        "Thành phố Hà Nội › Phường Ba Đình › Bộ phận Một cửa phường Ba Đình › Quầy 2"]
    # The tree page's link to a counter still preselects it.
    linked = shown(session.get(dash.url + "/tree/codes", params={"node": f"#{node_id(dash, 'SG-Q1')}"}, timeout=30))
    assert "selected>Thành phố Hồ Chí Minh › Phường Sài Gòn › Bộ phận Một cửa phường Sài Gòn › Quầy 1" in linked


def test_a_servers_only_province_ranks_its_units_by_default(dash, session):
    assert post_tree(dash, TREE_CSV, dash.admin_headers()).status_code == 200
    rated(dash, {"BD-Q1": 3, "NH-Q1": 2})
    html = shown(session.get(dash.url + "/", timeout=30))
    assert re.search(r'<option value="unit" selected>Xã/Phường</option>', html)
    assert group_names(html) == ["Phường Ba Đình", "Phường Ngọc Hà"]
    assert f'node={node_id(dash, "00004")}">Phường Ba Đình</a>' in html


def test_a_server_of_before_the_tree_ranks_its_sites_as_units_the_same_way(dash, session):
    """Sites enrolled by name sit as units under the placeholder province: the default ranks them as before."""
    from dashboard_fixtures import SITE_A, SITE_B, load_known_data_set

    load_known_data_set(dash, dash.clock)
    default = shown(session.get(dash.url + "/", timeout=30))
    by_site = shown(session.get(dash.url + "/", params={"group_by": "site"}, timeout=30))
    assert group_names(default) == group_names(by_site) == [SITE_A, SITE_B]
    summary = re.search(r'<p class="summary" id="summary">(.*?)</p>', default, re.S).group(1)
    assert summary == re.search(r'<p class="summary" id="summary">(.*?)</p>', by_site, re.S).group(1)
    assert summary.startswith("Trong kỳ (Tháng 11/2026), bộ phận Một cửa của 2 đơn vị nhận được 40 lượt đánh giá")


def test_the_tree_page_of_a_big_tree_shows_one_branch_with_its_counts(dash, session, monkeypatch):
    from server.dashboard import tree_pages

    assert post_tree(dash, TWO_PROVINCES_CSV, dash.admin_headers()).status_code == 200
    rated(dash, {"BD-Q1": 1, "BD-Q2": 1, "NH-Q1": 1, "SG-Q1": 1})
    whole = shown(session.get(dash.url + "/tree", timeout=30))
    assert 'id="tree-branch"' not in whole and len(re.findall(r'<tr class="kind-', whole)) == 12
    monkeypatch.setattr(tree_pages, "MAX_TREE_ROWS", 5)

    def rows(html):
        return [(name, count) for name, count in re.findall(
            r'<tr class="kind-\w+" id="node-\d+">\s*<td[^>]*>(?:<a href="[^"]*">)?([^<]+)(?:</a>)?</td>.*?'
            r'data-label="Thiết bị" class="num">(?:<a href="[^"]*">)?(\d+)', html, re.S)]

    top = shown(session.get(dash.url + "/tree", timeout=30))
    assert 'id="tree-branch"' in top and rows(top) == [("Thành phố Hà Nội", "3"), ("Thành phố Hồ Chí Minh", "1")]
    unit = shown(session.get(dash.url + "/tree", params={"at": node_id(dash, "00004")}, timeout=30))
    assert rows(unit) == [("Thành phố Hà Nội", "3"), ("Phường Ba Đình", "2"), ("Bộ phận Một cửa phường Ba Đình", "2")]
    found = shown(session.get(dash.url + "/tree", params={"find": "sài gòn"}, timeout=30))
    assert "Thành phố Hồ Chí Minh › Phường Sài Gòn</a>" in found
    # A unit's account: its own branch only, even when it asks for another.
    monkeypatch.setattr(tree_pages, "MAX_TREE_ROWS", 2)
    unit_admin = log_in(dash, dash.person("qt.ba.dinh", role="unit_admin", scope_node_id=node_id(dash, "00004")))
    theirs = shown(unit_admin.get(dash.url + "/tree", params={"at": node_id(dash, "79")}, timeout=30))
    assert rows(theirs) == [("Phường Ba Đình", "2"), ("Bộ phận Một cửa phường Ba Đình", "2")]
    assert "Hồ Chí Minh" not in theirs and "Thành phố Hà Nội" not in theirs
