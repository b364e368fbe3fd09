"""What the officer and dossier tests share (issue 12, the server's side): a province of two units, a terminal
at each unit's counters, accounts of every role, and the protocol documents of the new fields.

``units(server)`` imports the tree, enrols the terminals and makes the accounts, whose admin tokens are in
``.tokens[role]`` (scoped to unit A; ``"province_admin"`` is the whole server's).
"""

from __future__ import annotations

import io
import uuid

from server_fixtures import EnrolledTerminal, make_batch, make_rating

TREE = """code,name,kind,parent_code
T99,Tỉnh Thử Nghiệm,province,
U01,Phường An Khánh,unit,T99
O01,Bộ phận Một cửa An Khánh,office,U01
C01,Quầy An Khánh 1,counter,O01
C03,Quầy An Khánh 2,counter,O01
U02,Xã Bình Minh,unit,T99
O02,Bộ phận Một cửa Bình Minh,office,U02
C02,Quầy Bình Minh,counter,O02
"""
ROLES = ("province_admin", "unit_admin", "viewer", "technician", "inspector")


class Units:
    """The tree, a terminal at C01 and C03 (unit A) and at C02 (unit B), and an account per role."""

    def __init__(self, server):
        from server.accounts import issue_admin_token, issue_enrollment_code
        from server.db import write_transaction
        from server.org_tree import apply_tree, find_node, parse_tree

        self.server = server
        clock = server.app.state.clock
        with server.engine.connect() as conn, write_transaction(conn):
            apply_tree(conn, parse_tree(TREE), now_ns=clock())
            self.node = {code: find_node(conn, code).id for code in ("T99", "U01", "U02", "C01", "C02", "C03")}
            codes = {counter: issue_enrollment_code(conn, node_id=self.node[counter], ttl_s=3600, now_ns=clock())
                     for counter in ("C01", "C02", "C03")}
        self.terminal = {}
        for counter, code in codes.items():
            answer = server.post("/api/v1/enroll", json={"code": code, "app_version": "0.2.0"})
            assert answer.status_code == 201, answer.text
            self.terminal[counter] = EnrolledTerminal(answer.json()["terminal_id"], answer.json()["device_token"])
        self.people, self.tokens = {}, {}
        for role in ROLES:
            scope = None if role == "province_admin" else self.node["U01"]
            person = server.person(role.replace("_", "."), role=role, scope_node_id=scope)
            with server.engine.connect() as conn, write_transaction(conn):
                self.tokens[role] = issue_admin_token(conn, name=person.username, now_ns=clock(), account_id=person.id)
            self.people[role] = person

    def headers(self, role: str) -> dict:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def add_officer(self, unit: str = "U01", code: str = "NVA01", name: str = "Nguyễn Văn An", *,
                    counters: list[str] | None = None, pin: str | None = None, role: str = "province_admin") -> dict:
        body = {"unit": unit, "code": code, "name": name, "counters": counters or []}
        if pin is not None:
            body["pin"] = pin
        answer = self.server.post("/api/v1/officers", json=body, headers=self.headers(role))
        assert answer.status_code == 201, answer.text
        return answer.json()["officer"]

    def upload(self, counter: str, ratings: list[dict] = (), **fields):
        """One batch of the terminal at ``counter``; its answer (200 asserted)."""
        answer = self.server.upload(self.terminal[counter], make_batch(list(ratings), **fields))
        assert answer.status_code == 200, answer.text
        return answer.json()

    def rating(self, counter: str, **fields) -> dict:
        return make_rating(self.terminal[counter].id, **fields)


def shift(officer: str = "NVA01", **fields) -> dict:
    document = {"id": str(uuid.uuid4()), "officer": officer, "signed_in_at": "2026-11-25T01:00:00.000Z",
                "signed_out_at": "2026-11-25T04:30:00.000Z", "sign_in_how": "badge", "sign_out_how": "hours"}
    return document | fields


def invitation(dossier: str = "HS-2026-000123", **fields) -> dict:
    document = {"id": str(uuid.uuid4()), "dossier": dossier, "officer": "NVA01",
                "created_at": "2026-11-25T02:00:00.000Z", "closed_at": "2026-11-25T02:00:40.000Z",
                "outcome": "unanswered", "rating_id": None}
    return document | fields


def picture(kind: str = "JPEG", size: tuple[int, int] = (96, 96)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(out, kind)
    return out.getvalue()
