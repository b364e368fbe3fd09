"""Issue 11 §2, the scope matrix: every route of the real app × every role × inside and outside the scope.

A small province is imported with the tree CSV: two units (An Khánh, Bình Minh), an office and a counter
each, a terminal at each counter, ratings at each, and alerts of both rules about both units. Each role has
two accounts: one scoped to unit A, one for the whole server. Three columns per role:

``in``
    the account scoped to A asks about A (its site filter, an account of A);
``out``
    the account scoped to A asks about B (B's site filter, an account of B); a route that names nothing
    asks the same as ``in`` — what it must not show is B;
``wide``
    the whole-server account asks about B (control: B is there to be shown).

Every cell is one request to a real uvicorn on loopback (SQLite and PostgreSQL): the account's API token
on ``/api/``, its dashboard session elsewhere. The status must be :data:`EXPECTED`'s, and every answer to an
account scoped to A — JSON, CSV, the report's XLSX, pages — must hold nothing of B (its terminal's id, its
counter's name, and its unit's name unless the request itself named it), while a 200 of a route that shows
data holds A's (``in``) or B's (``wide``), so the check cannot pass on an empty answer. Routes come from
``app.routes``: a route added later without a row fails :func:`test_every_route_of_the_app_has_a_row`.
The table is the README's ("Roles and scopes").
"""

from __future__ import annotations

import io
import re
import time
import zipfile
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
import requests

from dashboard_fixtures import at, login_form, rating, send
from server_fixtures import *  # noqa: F403
from server_fixtures import EnrolledTerminal, FakeClock, make_batch, make_rating
from test_auth_matrix import EXPECTED as AUTH_MATRIX_ROWS
from test_auth_matrix import app_routes, render_cell

README = Path(__file__).parent.parent / "README.md"
HEADING = "### Roles and scopes"

ROLES = ("province_admin", "unit_admin", "viewer", "technician", "inspector")
SHORT = {"province_admin": "PA", "unit_admin": "UA", "viewer": "V", "technician": "T", "inspector": "I"}
WHERES = ("in", "out", "wide")
COLUMNS = tuple(f"{role} {where}" for role in ROLES for where in WHERES)

#: Every route × (role, where): the status, or ``→/path`` for 303 See Other to that path. Five groups of
#: three (in, out, wide), one per role in the order of :data:`ROLES`.
EXPECTED = {
    "GET /healthz": "200 200 200 | 200 200 200 | 200 200 200 | 200 200 200 | 200 200 200",
    "GET /openapi.json": "200 200 200 | 200 200 200 | 200 200 200 | 200 200 200 | 200 200 200",
    "GET /docs": "200 200 200 | 200 200 200 | 200 200 200 | 200 200 200 | 200 200 200",
    "GET /redoc": "200 200 200 | 200 200 200 | 200 200 200 | 200 200 200 | 200 200 200",
    "GET /docs/assets/redoc.standalone.js": "200 200 200 | 200 200 200 | 200 200 200 | 200 200 200 | 200 200 200",
    "GET /docs/assets/{path}": "200 200 200 | 200 200 200 | 200 200 200 | 200 200 200 | 200 200 200",
    "GET /static/{path}": "200 200 200 | 200 200 200 | 200 200 200 | 200 200 200 | 200 200 200",
    "POST /api/v1/enroll": "422 422 422 | 422 422 422 | 422 422 422 | 422 422 422 | 422 422 422",
    "POST /api/v1/batches": "403 403 403 | 403 403 403 | 403 403 403 | 403 403 403 | 403 403 403",
    "GET /api/v1/ratings": "200 200 200 | 200 200 200 | 200 200 200 | 403 403 403 | 200 200 200",
    "GET /api/v1/terminals": "200 200 200 | 200 200 200 | 403 403 403 | 200 200 200 | 200 200 200",
    "GET /api/v1/reports/summary": "200 200 200 | 200 200 200 | 200 200 200 | 403 403 403 | 200 200 200",
    "GET /api/v1/alerts": "200 200 200 | 200 200 200 | 200 200 200 | 200 200 200 | 200 200 200",
    "POST /api/v1/alerts/check": "200 200 200 | 200 200 200 | 403 403 403 | 403 403 403 | 403 403 403",
    "GET /login": "200 200 200 | 200 200 200 | 200 200 200 | 200 200 200 | 200 200 200",
    "POST /login": "→/ →/ →/ | →/ →/ →/ | →/ →/ →/ | →/ →/ →/ | →/ →/ →/",
    "POST /logout": "→/login →/login →/login | →/login →/login →/login | →/login →/login →/login | "
                    "→/login →/login →/login | →/login →/login →/login",
    "GET /": "200 200 200 | 200 200 200 | 200 200 200 | →/fleet →/fleet →/fleet | 200 200 200",
    "GET /fleet": "200 200 200 | 200 200 200 | 403 403 403 | 200 200 200 | 200 200 200",
    "GET /alerts": "200 200 200 | 200 200 200 | 200 200 200 | 200 200 200 | 200 200 200",
    "POST /alerts/check": "→/alerts →/alerts →/alerts | →/alerts →/alerts →/alerts | 403 403 403 | "
                          "403 403 403 | 403 403 403",
    "GET /export/report.{fmt}": "200 200 200 | 200 200 200 | 200 200 200 | 403 403 403 | 200 200 200",
    "GET /export/fleet.csv": "200 200 200 | 200 200 200 | 403 403 403 | 200 200 200 | 200 200 200",
    "GET /export/alerts.csv": "200 200 200 | 200 200 200 | 200 200 200 | 200 200 200 | 200 200 200",
    # The audit trail: province admins and inspectors, each the entries of their own scope.
    "GET /api/v1/audit": "200 200 200 | 403 403 403 | 403 403 403 | 403 403 403 | 200 200 200",
    "GET /audit": "200 200 200 | 403 403 403 | 403 403 403 | 403 403 403 | 200 200 200",
    "GET /export/audit.csv": "200 200 200 | 403 403 403 | 403 403 403 | 403 403 403 | 200 200 200",
    # One's own account: every role (an empty form is refused with the page and its message).
    "GET /account": "200 200 200 | 200 200 200 | 200 200 200 | 200 200 200 | 200 200 200",
    "POST /account/password": "422 422 422 | 422 422 422 | 422 422 422 | 422 422 422 | 422 422 422",
    "GET /account/totp": "200 200 200 | 200 200 200 | 200 200 200 | 200 200 200 | 200 200 200",
    "POST /account/totp": "422 422 422 | 422 422 422 | 422 422 422 | 422 422 422 | 422 422 422",
    "POST /account/totp/off": "422 422 422 | 422 422 422 | 422 422 422 | 422 422 422 | 422 422 422",
    # Accounts: an administrator (PA, UA) those of its subtree within its reach, an inspector reads them; an
    # account outside the scope is 404, a node outside it in the form 422 (server/account_reach.py).
    "GET /accounts": "200 200 200 | 200 200 200 | 403 403 403 | 403 403 403 | 200 200 200",
    "POST /accounts/new": "422 422 422 | 422 422 422 | 403 403 403 | 403 403 403 | 403 403 403",
    "POST /accounts/{account_id}/disable": "→/accounts 404 →/accounts | →/accounts 404 →/accounts | 403 403 403 | "
                                           "403 403 403 | 403 403 403",
    "POST /accounts/{account_id}/enable": "→/accounts 404 →/accounts | →/accounts 404 →/accounts | 403 403 403 | "
                                          "403 403 403 | 403 403 403",
    "POST /accounts/{account_id}/reset": "200 404 200 | 200 404 200 | 403 403 403 | 403 403 403 | 403 403 403",
    "POST /accounts/{account_id}/role": "422 404 422 | 422 404 422 | 403 403 403 | 403 403 403 | 403 403 403",
    # The tree and the fleet's actions (branch `treepages`): a node or terminal outside the scope is absent.
    "GET /api/v1/tree": "200 200 200 | 200 200 200 | 200 200 200 | 200 200 200 | 200 200 200",
    "POST /api/v1/tree": "403 403 200 | 403 403 403 | 403 403 403 | 403 403 403 | 403 403 403",
    "POST /api/v1/enrollment-codes": "201 422 201 | 201 422 201 | 403 403 403 | 201 422 201 | 403 403 403",
    "POST /api/v1/terminals/{terminal_id}/move": "200 404 200 | 200 404 200 | 403 403 403 | 200 404 200 | "
                                                 "403 403 403",
    "POST /api/v1/terminals/{terminal_id}/revoke": "200 404 200 | 200 404 200 | 403 403 403 | 200 404 200 | "
                                                   "403 403 403",
    "GET /tree": "200 200 200 | 200 200 200 | 200 200 200 | 200 200 200 | 200 200 200",
    "GET /export/tree.csv": "200 200 200 | 200 200 200 | 200 200 200 | 200 200 200 | 200 200 200",
    "POST /tree/import": "403 403 422 | 403 403 403 | 403 403 403 | 403 403 403 | 403 403 403",
    "GET /tree/codes": "200 200 200 | 200 200 200 | 403 403 403 | 200 200 200 | 403 403 403",
    "POST /tree/codes": "200 422 200 | 200 422 200 | 403 403 403 | 200 422 200 | 403 403 403",
    "POST /tree/codes/sheet.pdf": "422 422 422 | 422 422 422 | 403 403 403 | 422 422 422 | 403 403 403",
    "GET /fleet/terminal/{terminal_id}": "200 404 200 | 200 404 200 | 403 403 403 | 200 404 200 | 200 404 200",
    "POST /fleet/terminal/{terminal_id}/move": "→/fleet/terminal/{id} 404 →/fleet/terminal/{id} | "
                                               "→/fleet/terminal/{id} 404 →/fleet/terminal/{id} | 403 403 403 | "
                                               "→/fleet/terminal/{id} 404 →/fleet/terminal/{id} | 403 403 403",
    "POST /fleet/terminal/{terminal_id}/revoke": "→/fleet/terminal/{id} 404 →/fleet/terminal/{id} | "
                                                 "→/fleet/terminal/{id} 404 →/fleet/terminal/{id} | 403 403 403 | "
                                                 "→/fleet/terminal/{id} 404 →/fleet/terminal/{id} | 403 403 403",
    # Officers (issue 12): administrators (PA, UA) keep those of the units in their scope, inspectors read them,
    # viewers only with sees_officers (not these), technicians never; an officer of another unit is 404, another
    # unit in the form 422. The photo is read before the API's cells remove it.
    "GET /officers": "200 200 200 | 200 200 200 | 403 403 403 | 403 403 403 | 200 200 200",
    "POST /officers/new": "→/officers 422 →/officers | →/officers 422 →/officers | 403 403 403 | 403 403 403 | "
                          "403 403 403",
    "POST /officers/{officer_id}/edit": "→/officers 404 →/officers | →/officers 404 →/officers | 403 403 403 | "
                                        "403 403 403 | 403 403 403",
    "POST /officers/{officer_id}/pin": "→/officers 404 →/officers | →/officers 404 →/officers | 403 403 403 | "
                                       "403 403 403 | 403 403 403",
    "POST /officers/{officer_id}/photo": "422 404 422 | 422 404 422 | 403 403 403 | 403 403 403 | 403 403 403",
    "GET /officers/{officer_id}/photo": "200 404 200 | 200 404 200 | 403 403 403 | 403 403 403 | 200 404 200",
    "GET /api/v1/officers": "200 200 200 | 200 200 200 | 403 403 403 | 403 403 403 | 200 200 200",
    "POST /api/v1/officers": "201 422 201 | 201 422 201 | 403 403 403 | 403 403 403 | 403 403 403",
    "POST /api/v1/officers/{officer_id}": "200 404 200 | 200 404 200 | 403 403 403 | 403 403 403 | 403 403 403",
    "PUT /api/v1/officers/{officer_id}/photo": "200 404 200 | 200 404 200 | 403 403 403 | 403 403 403 | 403 403 403",
    "DELETE /api/v1/officers/{officer_id}/photo": "200 404 200 | 200 404 200 | 403 403 403 | 403 403 403 | "
                                                  "403 403 403",
    "GET /api/v1/terminal/officers": "403 403 403 | 403 403 403 | 403 403 403 | 403 403 403 | 403 403 403",
    # Remote terminal settings (issue 13): whoever sees the fleet reads a node's, province and unit admins change
    # them (a form or body without a key: 422) and roll back a change of their node; another unit's node or change
    # is 404. The terminals' set needs a device token.
    "GET /settings": "200 404 200 | 200 404 200 | 403 403 403 | 200 404 200 | 200 404 200",
    "POST /settings/change": "422 404 422 | 422 404 422 | 403 403 403 | 403 403 403 | 403 403 403",
    "POST /settings/rollback": "→/settings 404 →/settings | →/settings 404 →/settings | 403 403 403 | 403 403 403 | "
                               "403 403 403",
    "GET /api/v1/settings": "200 404 200 | 200 404 200 | 403 403 403 | 200 404 200 | 200 404 200",
    "POST /api/v1/settings": "422 404 422 | 422 404 422 | 403 403 403 | 403 403 403 | 403 403 403",
    "GET /api/v1/settings/history": "200 404 200 | 200 404 200 | 403 403 403 | 200 404 200 | 200 404 200",
    "POST /api/v1/settings/rollback": "200 404 200 | 200 404 200 | 403 403 403 | 403 403 403 | 403 403 403",
    "GET /api/v1/terminal/settings": "403 403 403 | 403 403 403 | 403 403 403 | 403 403 403 | 403 403 403",
    # Releases (issue 13): whoever sees the fleet sees the releases and rollouts; province and unit admins roll out
    # within their scope (the form body is refused: 415), only a whole-server account uploads.
    "POST /api/v1/releases": "403 403 415 | 403 403 415 | 403 403 403 | 403 403 403 | 403 403 403",
    "GET /api/v1/releases": "200 200 200 | 200 200 200 | 403 403 403 | 200 200 200 | 200 200 200",
    "POST /api/v1/releases/{version}/rollouts": "415 415 415 | 415 415 415 | 403 403 403 | 403 403 403 | "
                                                "403 403 403",
    "POST /api/v1/releases/{version}/stop": "415 415 415 | 415 415 415 | 403 403 403 | 403 403 403 | 403 403 403",
    "GET /api/v1/rollouts": "200 200 200 | 200 200 200 | 403 403 403 | 200 200 200 | 200 200 200",
    "GET /api/v1/terminal/releases/{version}": "403 403 403 | 403 403 403 | 403 403 403 | 403 403 403 | "
                                               "403 403 403",
    "GET /api/v1/terminal/releases/{version}/archive": "403 403 403 | 403 403 403 | 403 403 403 | 403 403 403 | "
                                                       "403 403 403",
    "GET /releases": "200 200 200 | 200 200 200 | 403 403 403 | 200 200 200 | 200 200 200",
}
TABLE = {route: dict(zip(COLUMNS, cells.replace("|", " ").split(), strict=True)) for route, cells in EXPECTED.items()}

#: Routes whose 200 shows ratings, terminals or alerts: it must hold A's (``in``) or B's (``wide``) names.
SHOWS_DATA = {"GET /api/v1/ratings", "GET /api/v1/terminals", "GET /api/v1/reports/summary", "GET /api/v1/alerts",
              "GET /", "GET /fleet", "GET /alerts", "GET /export/report.{fmt}", "GET /export/fleet.csv",
              "GET /export/alerts.csv", "GET /api/v1/tree", "GET /tree", "GET /export/tree.csv",
              "GET /fleet/terminal/{terminal_id}", "GET /officers"}
#: Routes that take a unit's name (``site``): ``in`` names A, ``out`` and ``wide`` name B.
BY_SITE = {"GET /api/v1/reports/summary", "GET /", "GET /export/report.{fmt}"}
#: Routes that name an account in their path: ``in`` one of A, ``out`` and ``wide`` one of B.
BY_ACCOUNT = {"POST /accounts/{account_id}/disable", "POST /accounts/{account_id}/enable",
              "POST /accounts/{account_id}/reset", "POST /accounts/{account_id}/role"}
#: Routes that name a terminal in their path: ``in`` A's, ``out`` and ``wide`` B's (revoking: a spare one of each
#: unit, so the others stay live; moving: to the counter where it stands already).
BY_TERMINAL = {"GET /fleet/terminal/{terminal_id}", "POST /fleet/terminal/{terminal_id}/move",
               "POST /fleet/terminal/{terminal_id}/revoke", "POST /api/v1/terminals/{terminal_id}/move",
               "POST /api/v1/terminals/{terminal_id}/revoke"}
#: Routes whose form names a scope (``scope``: a unit's code): ``in`` A's, ``out`` and ``wide`` B's.
BY_SCOPE = {"POST /accounts/new"}
#: Routes that name an officer in their path: ``in`` one of A, ``out`` and ``wide`` one of B.
BY_OFFICER = {"POST /officers/{officer_id}/edit", "POST /officers/{officer_id}/pin", "POST /officers/{officer_id}/photo",
              "GET /officers/{officer_id}/photo", "POST /api/v1/officers/{officer_id}",
              "PUT /api/v1/officers/{officer_id}/photo", "DELETE /api/v1/officers/{officer_id}/photo"}
#: Routes that name a unit (their form's or body's ``unit``): ``in`` A's, ``out`` and ``wide`` B's.
BY_UNIT = {"POST /officers/new", "POST /api/v1/officers"}
#: Routes that name a counter (their form's or body's ``node``): ``in`` A's, ``out`` and ``wide`` B's.
BY_NODE = {"POST /api/v1/enrollment-codes", "POST /api/v1/terminals/{terminal_id}/move", "POST /tree/codes",
           "POST /fleet/terminal/{terminal_id}/move", "GET /settings", "POST /settings/change", "GET /api/v1/settings",
           "POST /api/v1/settings", "GET /api/v1/settings/history"}
#: Routes that name a settings change (their form's or body's ``change``): ``in`` one of A's counter, ``out`` and
#: ``wide`` one of B's.
BY_SETTINGS_CHANGE = {"POST /settings/rollback", "POST /api/v1/settings/rollback"}
CONCRETE = {"GET /docs/assets/{path}": "/docs/assets/swagger-ui.css", "GET /static/{path}": "/static/favicon.svg",
            "GET /export/report.{fmt}": "/export/report.csv",
            **{route: route.split(" ", 1)[1].replace("{version}", "0.0.0") for route in (
                "POST /api/v1/releases/{version}/rollouts", "POST /api/v1/releases/{version}/stop",
                "GET /api/v1/terminal/releases/{version}", "GET /api/v1/terminal/releases/{version}/archive")}}

TREE = """code,name,kind,parent_code
T99,Tỉnh Thử Nghiệm,province,
U01,Phường An Khánh,unit,T99
O01,Bộ phận Một cửa An Khánh,office,U01
C01,Quầy An Khánh,counter,O01
U02,Xã Bình Minh,unit,T99
O02,Bộ phận Một cửa Bình Minh,office,U02
C02,Quầy Bình Minh,counter,O02
"""
UNIT = {"A": "Phường An Khánh", "B": "Xã Bình Minh"}
COUNTER_CODE = {"A": "C01", "B": "C02"}
UNIT_CODE = {"A": "U01", "B": "U02"}
COUNTER = {"A": "Quầy An Khánh", "B": "Quầy Bình Minh"}
PERIOD = {"period": "month", "on": "2026-11-25"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def short_column(column: str) -> str:
    role, where = column.split()
    return f"{SHORT[role]} {where}"


def markdown_table(table: dict[str, dict[str, str]] = TABLE) -> str:
    """The matrix as the README shows it."""
    lines = ["| route | " + " | ".join(map(short_column, COLUMNS)) + " |", "| --- |" + " --- |" * len(COLUMNS)]
    lines += [f"| `{route}` | " + " | ".join(render_cell(cells[c]) for c in COLUMNS) + " |"
              for route, cells in table.items()]
    return "\n".join(lines)


def readme_table() -> str:
    """The README's table under :data:`HEADING` that starts ``| route |`` (the section's first is the roles')."""
    section = README.read_text(encoding="utf-8").partition(HEADING)[2].split("\n#", 1)[0]
    found = re.search(r"^\| route \|.*?(?=\n[^|]|\Z)", section, flags=re.M | re.S)
    return found.group(0).rstrip("\n") if found else ""


# -- what needs no server -------------------------------------------------------------------------------

def test_every_route_of_the_app_has_a_row():
    """The same rows as the auth matrix, whose own test walks ``app.routes`` (as the server test below does)."""
    routes = set(AUTH_MATRIX_ROWS)
    assert {"missing rows": sorted(routes - set(EXPECTED)), "rows of no route": sorted(set(EXPECTED) - routes)} \
        == {"missing rows": [], "rows of no route": []}


def test_the_readme_shows_the_matrix():
    assert readme_table() == markdown_table(), (
        f"README.md's table under {HEADING!r} differs from the test's; it must be exactly:\n\n{markdown_table()}\n")


def test_every_role_has_its_actions_and_inspectors_write_nothing():
    from server.access import ACTIONS, PERMISSIONS, RATING_ACTIONS, ROLES as ACCOUNT_ROLES, WRITES

    assert set(PERMISSIONS) == set(ACCOUNT_ROLES) == set(ROLES)
    assert all(actions <= set(ACTIONS) for actions in PERMISSIONS.values())
    assert PERMISSIONS["inspector"] & WRITES == set()
    assert PERMISSIONS["technician"] & RATING_ACTIONS == set()


# -- the province, its accounts and one request per cell ------------------------------------------------

class Province:
    """The server, the tree, a terminal with ratings at each unit, alerts, and an account of every role × scope."""

    def __init__(self, server):
        from server.accounts import issue_admin_token, issue_enrollment_code
        from server.db import write_transaction
        from server.org_tree import apply_tree, find_node, parse_tree

        self.server = server
        clock = server.app.state.clock
        clock.now_ns = at("2026-11-25T01:00:00Z")  # Wednesday 08:00 in Hà Nội
        with server.engine.connect() as conn, write_transaction(conn):
            apply_tree(conn, parse_tree(TREE), now_ns=clock())
            self.node = {key: find_node(conn, code).id for key, code in
                         (("province", "T99"), ("A", "U01"), ("B", "U02"), ("counter A", "C01"), ("counter B", "C02"))}
            codes = {unit: issue_enrollment_code(conn, node_id=self.node[f"counter {unit}"], ttl_s=3600,
                                                 now_ns=clock()) for unit in "AB"}
            codes |= {f"spare {unit}": issue_enrollment_code(conn, node_id=self.node[f"counter {unit}"], ttl_s=3600,
                                                            now_ns=clock()) for unit in "AB"}
        self.terminal = {}
        for unit, code in codes.items():
            answer = server.post("/api/v1/enroll", json={"code": code, "app_version": "0.1.0"})
            assert answer.status_code == 201, answer.text
            body = answer.json()
            self.terminal[unit] = EnrolledTerminal(body["terminal_id"], body["device_token"])
        for unit in "AB":  # 3 of 5 dissatisfied at each unit: both units' dissatisfied share fires…
            send(server, self.terminal[unit], clock, [rating("very_satisfied", age_s=300 + i) for i in range(2)]
                 + [rating("dissatisfied", reason="processing_time", age_s=100 + i) for i in range(3)])
        monitor = server.app.state.alert_monitor
        assert len(monitor.check().fired) == 2
        clock.advance(2.5 * 3600)  # …and clears; then every terminal is silent for 2 h 30 min of opening hours
        changes = monitor.check()
        assert (len(changes.fired), len(changes.cleared)) == (4, 2)  # the spare terminals are silent too

        self.people, self.tokens = {}, {}
        for role in ROLES:
            for where, scope in (("in", self.node["A"]), ("wide", None)):
                person = server.person(f"{role.replace('_', '.')}.{where}", role=role, scope_node_id=scope)
                with server.engine.connect() as conn, write_transaction(conn):
                    self.tokens[role, where] = issue_admin_token(conn, name=person.username, now_ns=clock(),
                                                                 account_id=person.id)
                self.people[role, where] = person
        self.target = {unit: server.person(f"target.{unit.lower()}", role="viewer", scope_node_id=self.node[unit])
                       for unit in "AB"}
        self.officer = self.officers_with_photos()
        self.made = 0  # officers the cells add: each a code of its own
        self.cookies = {key: self.log_in(person) for key, person in self.people.items()}

    def officers_with_photos(self) -> dict[str, int]:
        """An officer of each unit, with a photo (``GET /officers/{id}/photo`` has something to show)."""
        from officer_fixtures import picture
        from server.db import write_transaction
        from server.officers import create_officer, set_photo

        made = {}
        with self.server.engine.connect() as conn, write_transaction(conn):
            for unit in "AB":
                officer = create_officer(conn, unit_id=self.node[unit], code=f"CB{unit}01", name=f"Cán bộ {unit}",
                                         counters=[], pin=None, now_ns=self.server.app.state.clock())
                set_photo(conn, officer, picture("PNG"), now_ns=self.server.app.state.clock())
                made[unit] = officer.id
        return made

    def settings_change(self, unit: str) -> int:
        """The id of a remote settings change of ``unit``'s counter (made once)."""
        from server.db import write_transaction
        from server.terminal_settings import Scope, change_settings

        made = self.__dict__.setdefault("settings_changes", {})
        if unit not in made:
            with self.server.engine.connect() as conn, write_transaction(conn):
                made[unit] = change_settings(conn, Scope(node_id=self.node[f"counter {unit}"]),
                                             set_values={"voice.volume": 0.5}, changed_by="test",
                                             now_ns=self.server.app.state.clock()).id
        return made[unit]

    def log_in(self, person) -> str:
        session = requests.Session()
        csrf = login_form(self.server, session)
        answer = session.post(self.server.url + "/login", data={"username": person.username,
                              "password": person.password, "code": "", "csrf": csrf, "next": "/"},
                              allow_redirects=False, timeout=30)
        assert answer.status_code == 303, answer.text
        return session.cookies["hl_session"]

    def ask(self, route: str, role: str, where: str) -> tuple[requests.Response, str]:
        """One cell's answer, and everything it showed as text (the report's CSV and XLSX too)."""
        method, path = route.split(" ", 1)
        path = CONCRETE.get(route, path)
        account = "in" if where in ("in", "out") else "wide"
        unit = "A" if where == "in" else "B"
        person = self.people[role, account]
        params: dict = {}
        if route in BY_SITE:
            params = {**PERIOD, "site": UNIT[unit]}
        if route in BY_ACCOUNT:
            path = path.replace("{account_id}", str(self.target[unit].id))
        if route in BY_TERMINAL:
            standing = self.terminal[f"spare {unit}" if route.endswith("/revoke") else unit]
            path = path.replace("{terminal_id}", standing.id)
        if route in BY_OFFICER:
            path = path.replace("{officer_id}", str(self.officer[unit]))
        if route in BY_NODE and method == "GET":
            params = {"node": COUNTER_CODE[unit]}
        change_fields = {"change": self.settings_change(unit)} if route in BY_SETTINGS_CHANGE else {}
        officer_fields = {}
        if route in BY_UNIT:
            self.made += 1
            officer_fields = {"unit": UNIT_CODE[unit], "code": f"NEW{self.made:03d}", "name": "Cán bộ mới"}
        cookie = self.log_in(person) if route == "POST /logout" else self.cookies[role, account]
        csrf = self.server.app.state.dashboard_sessions.read(cookie)[1]
        kwargs: dict = {"params": params, "cookies": {"hl_session": cookie},
                        "headers": {"Authorization": f"Bearer {self.tokens[role, account]}"}}
        if route == "POST /api/v1/enroll":
            kwargs["json"] = {"app_version": "0.1.0"}
        elif route == "POST /api/v1/tree":
            kwargs["params"] = {"dry_run": "true"}
            kwargs["data"] = TREE.encode("utf-8")
            kwargs["headers"]["Content-Type"] = "text/csv"
        elif route in BY_NODE and route.startswith("POST /api/"):
            kwargs["json"] = {"node": COUNTER_CODE[unit]}
        elif route == "POST /api/v1/settings/rollback":
            kwargs["json"] = change_fields
        elif route == "POST /api/v1/officers":
            kwargs["json"] = officer_fields
        elif route == "POST /api/v1/officers/{officer_id}":
            kwargs["json"] = {"name": "Cán bộ đổi tên"}
        elif route == "PUT /api/v1/officers/{officer_id}/photo":
            from officer_fixtures import picture

            kwargs["data"] = picture("PNG")
            kwargs["headers"]["Content-Type"] = "image/png"
        elif route == "POST /api/v1/batches":
            kwargs["json"] = make_batch([make_rating(self.terminal["A"].id)])
        elif route == "POST /login":
            session = requests.Session()
            login_csrf = login_form(self.server, session)
            kwargs["cookies"] = {"hl_login_csrf": login_csrf}
            kwargs["data"] = {"username": person.username, "password": person.password, "code": "",
                              "csrf": login_csrf, "next": "/"}
        elif method == "POST":
            kwargs["data"] = {"csrf": csrf, **({"node": COUNTER_CODE[unit]} if route in BY_NODE else {}),
                              **({"scope": UNIT_CODE[unit]} if route in BY_SCOPE else {}), **officer_fields,
                              **change_fields,
                              **({"pin": "2468"} if route.endswith("/pin") else {}),
                              **({"confirm": "yes"} if route.endswith("/revoke") else {})}
        answer = requests.request(method, self.server.url + path, allow_redirects=False, timeout=60, **kwargs)
        shown = answer.text
        if answer.status_code == 200 and route in ("GET /api/v1/reports/summary", "GET /export/report.{fmt}"):
            for fmt in ("csv", "xlsx"):  # the same report in every format it comes in
                other = (requests.get(self.server.url + "/api/v1/reports/summary", params={**params, "format": fmt},
                                      headers=kwargs["headers"], timeout=60) if route.startswith("GET /api/")
                         else requests.get(self.server.url + f"/export/report.{fmt}", params=params,
                                           cookies=kwargs["cookies"], timeout=60))
                assert other.status_code == 200, other.text
                shown += xlsx_text(other.content) if fmt == "xlsx" else other.text
        return answer, shown

    def marks(self, unit: str, *, echoed: frozenset[str] = frozenset()) -> list[str]:
        """What shows that ``unit``'s data is in an answer: its terminal's id, its counter's and its unit's
        names — but not what the request named itself (``"unit"``, ``"terminal"``): it may be echoed back."""
        found = {"terminal": self.terminal[unit].id, "counter": COUNTER[unit], "unit": UNIT[unit]}
        return [mark for kind, mark in found.items() if kind not in echoed]


#: The audit trail: a unit A account's entries hold what its own requests asked for, B's names included.
AUDIT_ROUTES = {"GET /api/v1/audit", "GET /audit", "GET /export/audit.csv"}


def xlsx_text(content: bytes) -> str:
    """Every XML part of a workbook as text (shared strings, sheets): what a person opening it can read."""
    with zipfile.ZipFile(io.BytesIO(content)) as book:
        return "".join(book.read(name).decode("utf-8") for name in book.namelist() if name.endswith(".xml"))


def outcome(answer: requests.Response) -> str:
    if answer.status_code == 303:
        return "→" + re.sub(r"^/fleet/terminal/[^/]+$", "/fleet/terminal/{id}", urlsplit(answer.headers["Location"]).path)
    return str(answer.status_code)


@pytest.fixture
def province(start_server):
    server = start_server(clock=FakeClock(), alert_check_interval_s=0)
    return Province(server)


def test_every_route_for_every_role_inside_and_outside_its_scope(province):
    assert app_routes(province.server.app) == set(EXPECTED)
    found: dict[str, dict[str, str]] = {route: {} for route in EXPECTED}
    mismatches, leaks, blind = [], [], []
    seconds: dict[str, float] = {}
    for route, expected in TABLE.items():
        for column, status in expected.items():
            role, where = column.split()
            started = time.monotonic()
            answer, shown = province.ask(route, role, where)
            seconds[route] = seconds.get(route, 0.0) + time.monotonic() - started
            found[route][column] = outcome(answer)
            if found[route][column] != status:
                mismatches.append(f"{route}, {column}: {found[route][column]}, not {status} ({answer.text[:200]!r})")
            if where in ("in", "out"):  # an account of unit A: nothing of B, whatever it asked
                echoed = frozenset({"unit"} if route in BY_SITE and where == "out" else set()) | frozenset(
                    {"terminal"} if route in BY_TERMINAL and where == "out" else set())
                if route in AUDIT_ROUTES:  # the trail records what this account's own earlier requests named
                    echoed |= {"unit", "terminal"}
                leaks += [f"{route}, {column}: {mark!r}" for mark in province.marks("B", echoed=echoed) if mark in shown]
            if route in SHOWS_DATA and answer.status_code == 200 and where != "out":
                unit = "A" if where == "in" else "B"
                if not any(mark in shown for mark in province.marks(unit)):
                    blind.append(f"{route}, {column}: nothing of unit {unit}")
    cells = sum(len(row) for row in TABLE.values())
    slowest = ", ".join(f"{route} {s:.1f} s" for route, s in sorted(seconds.items(), key=lambda kv: -kv[1])[:3])
    print(f"\nscope matrix: {cells} cells, {len(mismatches)} mismatches, {len(leaks)} leaks, {len(blind)} blind; "
          f"slowest routes (15 cells each): {slowest}")
    assert mismatches == [], "the server answered otherwise:\n" + "\n".join(mismatches) + \
        "\n\nwhat it answered, as a table:\n" + markdown_table(found)
    assert leaks == [], "unit B showed to accounts of unit A:\n" + "\n".join(leaks)
    assert blind == [], "answers that should show a unit's data did not:\n" + "\n".join(blind)
    # The same server (its accounts and alerts cost a minute to make) for what the cells do not show:
    a_scoped_pull_holds_exactly_its_units_ratings(province)
    a_scoped_officer_list_holds_exactly_its_units_officers(province)
    a_scoped_report_counts_only_its_unit(province)
    refusals_say_who_may_not_do_what(province)


def a_scoped_pull_holds_exactly_its_units_ratings(province):
    """Not just nothing of B: every rating of A, and the same count through the JSON pages and the CSV."""
    token = province.tokens["viewer", "in"]
    body = requests.get(province.server.url + "/api/v1/ratings", params={"limit": 2},
                        headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
    pulled = list(body["ratings"])
    while body["next"] is not None:
        body = requests.get(province.server.url + "/api/v1/ratings", params={"after": body["next"], "limit": 2},
                            headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
        pulled += body["ratings"]
    assert {r["terminal_id"] for r in pulled} == {province.terminal["A"].id}
    assert len(pulled) == province.server.count("ratings", unit_id=province.node["A"]) == 5
    csv_text = requests.get(province.server.url + "/api/v1/ratings", params={"format": "csv"},
                            headers={"Authorization": f"Bearer {token}"}, timeout=30).text
    assert len(csv_text.strip().splitlines()) == 1 + 5


def a_scoped_officer_list_holds_exactly_its_units_officers(province):
    """The officers' names carry no unit's name: the list itself must hold A's officers and none of B's."""
    def codes(role: str, where: str) -> set[str]:
        answer = requests.get(province.server.url + "/api/v1/officers",
                              headers={"Authorization": f"Bearer {province.tokens[role, where]}"}, timeout=30)
        assert answer.status_code == 200, answer.text
        return {(o["unit_id"], o["code"]) for o in answer.json()["officers"]}

    for role in ("province_admin", "unit_admin", "inspector"):
        scoped, wide = codes(role, "in"), codes(role, "wide")
        assert scoped and {unit for unit, _ in scoped} == {province.node["A"]}
        assert scoped < wide and {unit for unit, _ in wide} == {province.node["A"], province.node["B"]}


def a_scoped_report_counts_only_its_unit(province):
    token = province.tokens["viewer", "in"]
    report = requests.get(province.server.url + "/api/v1/reports/summary?" + urlencode(PERIOD),
                          headers={"Authorization": f"Bearer {token}"}, timeout=30).json()["report"]
    assert report["total"]["counted"] == 5  # of its node, its unit: the level below ranked (its one office)
    assert (report["node"]["name"], [group["label"] for group in report["groups"]]) == (
        UNIT["A"], ["Bộ phận Một cửa An Khánh"])
    outside = requests.get(province.server.url + "/api/v1/reports/summary?" + urlencode(
        {**PERIOD, "node": province.node["B"]}), headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert outside.status_code == 422 and "in your part of the tree" in outside.json()["error"]
    wide = requests.get(province.server.url + "/api/v1/reports/summary?" + urlencode(PERIOD),
                        headers={"Authorization": f"Bearer {province.tokens['viewer', 'wide']}"}, timeout=30)
    assert wide.json()["report"]["total"]["counted"] == 10


def refusals_say_who_may_not_do_what(province):
    api = requests.get(province.server.url + "/api/v1/ratings",
                       headers={"Authorization": f"Bearer {province.tokens['technician', 'in']}"}, timeout=30)
    assert api.status_code == 403
    assert api.json() == {"ok": False, "field": None,
                          "error": "the account 'technician.in' (role technician) may not pull ratings"}
    page = requests.get(province.server.url + "/export/report.csv",
                        cookies={"hl_session": province.cookies["technician", "in"]}, timeout=30)
    assert page.status_code == 403
    assert "Tài khoản technician.in (vai trò Kỹ thuật viên) không được xuất báo cáo." in page.text
