"""A unit's officers (cán bộ): the registry its administrators keep, and the list its terminals fetch.

An officer belongs to one unit (a ``unit`` node of the tree) and is known there by the staff code on their
badge (unique in the unit), a name, optionally a photo and a PIN (for signing in on the touchscreen), and the
counters they may serve at (none listed: every counter of the unit). An officer is disabled, never deleted:
the ratings made while they were signed in keep pointing at them.

The PIN is kept only as a hash in kiosk/service_pin.py's scheme (``pbkdf2_sha256$rounds$salt$hash``), made
here when an administrator sets it, and sent to the unit's terminals, which check a typed PIN against it.

Who may see and change officers is :mod:`server.access`'s: ``read_officers`` (province and unit admins,
inspectors, viewers with ``sees_officers``) and ``manage_officers`` (province and unit admins), each within its
scope: an account sees the officers of the units inside its scope (a province's account: its units').

    >>> check_pin_shape("2468"), check_pin_shape("12")
    (None, 'Mã PIN gồm 4–8 chữ số.')
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, ColumnElement, bindparam, false, func, insert, select, true, update
from sqlalchemy.exc import IntegrityError

from sync.names import name_problem

from .access import Caller, node_in_scope
from .errors import ServerError
from .org_tree import UnknownNode, find_node, lineage_nodes
from .schema import nodes, officers
from .timekeeping import iso_from_ns

#: A staff code: what the terminal's badge pattern captures (``[A-Za-z0-9._-]{2,32}``) and ratings carry.
CODE_PATTERN = re.compile(r"[A-Za-z0-9._-]{2,32}")
PIN_PATTERN = re.compile(r"[0-9]{4,8}")
#: kiosk/service_pin.py's scheme. Fewer rounds than the service PIN's: the terminal checks an officer's PIN at
#: every touchscreen sign-in on a Raspberry Pi, and a 4–8 digit PIN is guarded by the sign-in lock-out
#: (``pin_attempts``), not by the cost of one hash.
PIN_SCHEME = "pbkdf2_sha256"
PIN_ROUNDS = 50_000
#: A photo is a JPEG or PNG of at most this many bytes and pixels a side (the terminal shows it small).
PHOTO_MAX_BYTES = 256 * 1024
PHOTO_MAX_SIDE = 1024
PHOTO_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png"}


class OfficerRefused(ServerError, ValueError):
    """An officer change that cannot be made; the message says why in Vietnamese, ``field`` names the input."""

    status = 422

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


class UnknownOfficer(OfficerRefused, LookupError):
    """No officer has this id inside the caller's scope (the same answer as none at all)."""

    status = 404


@dataclass(frozen=True)
class Officer:
    """An officer as the pages and the API show it (never the PIN's hash, nor the photo's bytes)."""

    id: int
    unit_id: int
    code: str
    name: str
    counters: tuple[int, ...]
    active: bool
    has_pin: bool
    has_photo: bool
    created_at: str
    updated_at: str

    @property
    def subject(self) -> str:
        """How the audit trail names it."""
        return f"officer {self.code} of unit #{self.unit_id}"


_COLUMNS = (officers.c.id, officers.c.unit_id, officers.c.code, officers.c.name, officers.c.counters,
            officers.c.active, officers.c.pin_hash.is_not(None).label("has_pin"),
            officers.c.photo.is_not(None).label("has_photo"), officers.c.created_at, officers.c.updated_at)


def _officer(row) -> Officer:
    return Officer(id=row.id, unit_id=row.unit_id, code=row.code, name=row.name,
                   counters=tuple(json.loads(row.counters or "[]")), active=bool(row.active),
                   has_pin=bool(row.has_pin), has_photo=bool(row.has_photo), created_at=row.created_at,
                   updated_at=row.updated_at)


# -- the PIN and the photo ----------------------------------------------------------------------------------

def check_pin_shape(pin: str) -> str | None:
    """Why ``pin`` cannot be an officer's PIN (Vietnamese), or None."""
    return None if PIN_PATTERN.fullmatch(pin or "") else "Mã PIN gồm 4–8 chữ số."


def hash_pin(pin: str, *, rounds: int = PIN_ROUNDS) -> str:
    """``pbkdf2_sha256$rounds$salt$hash`` of ``pin``: what kiosk/service_pin.py's ``check_pin`` accepts.

        >>> hash_pin("2468").split("$")[:2]
        ['pbkdf2_sha256', '50000']
    """
    if problem := check_pin_shape(pin):
        raise OfficerRefused(problem, field="pin")
    salt = secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", pin.encode(), salt.encode(), rounds).hex()
    return f"{PIN_SCHEME}${rounds}${salt}${digest}"


def check_photo(data: bytes) -> str:
    """The media type of ``data`` (``image/jpeg`` or ``image/png``) once it is a whole picture of an allowed size;
    else :class:`OfficerRefused` saying what is wrong."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise OfficerRefused("Chưa chọn ảnh.", field="photo")
    if len(data) > PHOTO_MAX_BYTES:
        raise OfficerRefused(f"Ảnh {len(data) // 1024} KB, quá giới hạn {PHOTO_MAX_BYTES // 1024} KB: hãy thu nhỏ ảnh.",
                             field="photo")
    try:
        with Image.open(io.BytesIO(data)) as picture:
            kind, size = picture.format, picture.size
            picture.verify()  # a truncated or corrupt file stops here
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise OfficerRefused("Tệp không phải ảnh JPEG hoặc PNG đọc được.", field="photo") from None
    if kind not in PHOTO_TYPES:
        raise OfficerRefused(f"Ảnh dạng {kind}: chỉ nhận JPEG hoặc PNG.", field="photo")
    if max(size) > PHOTO_MAX_SIDE:
        raise OfficerRefused(f"Ảnh {size[0]}×{size[1]} điểm ảnh: mỗi cạnh tối đa {PHOTO_MAX_SIDE}.", field="photo")
    return PHOTO_TYPES[kind]


def photo_type(data: bytes) -> str:
    """The media type of a stored photo (checked when it was set), from its first bytes."""
    return "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"


# -- who sees which ------------------------------------------------------------------------------------------

def officer_scope(conn: Connection, caller: Caller) -> ColumnElement[bool]:
    """The officers whose unit lies inside ``caller``'s scope, as a WHERE condition on ``officers``: the whole
    server's all, a province's those of its units, a unit's its own; an office or counter holds no unit."""
    if caller.whole_server:
        return true()
    scope = conn.execute(select(nodes.c.id, nodes.c.kind).where(nodes.c.id == caller.scope_node_id)).first()
    if scope is None:
        return false()
    if scope.kind == "province":
        return officers.c.unit_id.in_(select(nodes.c.id).where(nodes.c.parent_id == scope.id,
                                                               nodes.c.kind == "unit").scalar_subquery())
    if scope.kind == "unit":
        return officers.c.unit_id == scope.id
    return false()


def list_officers(conn: Connection, caller: Caller, *, unit_id: int | None = None) -> list[Officer]:
    """The officers ``caller`` may see (of ``unit_id`` only, when given), by unit and staff code."""
    query = select(*_COLUMNS).where(officer_scope(conn, caller))
    if unit_id is not None:
        query = query.where(officers.c.unit_id == unit_id)
    return [_officer(row) for row in conn.execute(query.order_by(officers.c.unit_id, officers.c.code))]


def find_officer(conn: Connection, caller: Caller, officer_id: int) -> Officer:
    """The officer with this id if ``caller`` may see it, else :class:`UnknownOfficer` (404)."""
    row = conn.execute(select(*_COLUMNS).where(officers.c.id == officer_id, officer_scope(conn, caller))).first()
    if row is None:
        raise UnknownOfficer(f"Không có cán bộ mang mã số {officer_id} trong phạm vi của bạn.")
    return _officer(row)


def unit_in_scope(conn: Connection, caller: Caller, ref: str) -> int:
    """The id of the unit ``ref`` names (its code, ``#id`` or id) when it lies in ``caller``'s scope."""
    try:
        found = find_node(conn, str(ref)) if _looked_up(str(ref)) else None
    except UnknownNode:
        found = None
    if found is None or not node_in_scope(conn, caller, found.id):
        raise OfficerRefused(f"Không có đơn vị “{ref}” trong phạm vi của bạn (nhập mã đơn vị hoặc #số).",
                             field="unit")
    if found.kind != "unit":
        raise OfficerRefused(f"“{ref}” không phải một đơn vị cấp xã (xã, phường, đặc khu): cán bộ thuộc về "
                             "một đơn vị.", field="unit")
    return found.id


def counters_of_unit(conn: Connection, unit_id: int, refs: list[str]) -> list[int]:
    """The ids of the counters ``refs`` name (codes or ``#id``), each one of ``unit_id``'s; sorted, once each."""
    found = set()
    for ref in refs:
        ref = str(ref).strip()
        if not ref:
            continue
        try:
            counter = find_node(conn, ref) if _looked_up(ref) else None
        except UnknownNode:
            counter = None
        if counter is None or counter.kind != "counter" or unit_id not in lineage_nodes(conn, counter.id):
            raise OfficerRefused(f"Không có quầy “{ref}” trong đơn vị này (nhập mã quầy hoặc #số).", field="counters")
        found.add(counter.id)
    return sorted(found)


def unit_counters(conn: Connection, unit_ids: set[int]) -> dict[int, list[tuple[int, str]]]:
    """``{unit id: [(counter id, its name), …]}``: the counters below each unit (for the page's choices)."""
    offices = select(nodes.c.id, nodes.c.parent_id).where(nodes.c.parent_id.in_(sorted(unit_ids)),
                                                         nodes.c.kind == "office").subquery()
    rows = conn.execute(select(offices.c.parent_id, nodes.c.id, nodes.c.name)
                        .select_from(nodes.join(offices, nodes.c.parent_id == offices.c.id))
                        .where(nodes.c.kind == "counter").order_by(nodes.c.name)).all() if unit_ids else []
    found: dict[int, list[tuple[int, str]]] = {unit_id: [] for unit_id in unit_ids}
    for unit_id, counter_id, name in rows:
        found[unit_id].append((counter_id, name))
    return found


def counter_names(conn: Connection, counter_ids: set[int]) -> dict[int, str]:
    if not counter_ids:
        return {}
    return dict(conn.execute(select(nodes.c.id, nodes.c.name).where(nodes.c.id.in_(sorted(counter_ids)))).all())


# -- changes (the caller commits: write_transaction) ---------------------------------------------------------

def _storable(text: str) -> bool:
    """Whether a database can store ``text`` (no NUL, no lone surrogate, which JSON and forms let through)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _looked_up(ref: str) -> bool:
    """Whether ``ref`` may be looked up as a node (storable text; an id that fits a 64-bit integer)."""
    digits = ref.strip().lstrip("#")
    return _storable(ref) and not (digits.isdigit() and len(digits) > 18)


def _check_code_and_name(code: str, name: str) -> None:
    if not CODE_PATTERN.fullmatch(code):
        raise OfficerRefused("Mã cán bộ gồm 2–32 ký tự: chữ không dấu, chữ số, dấu chấm, gạch dưới, gạch ngang "
                             "(như in trên thẻ, sau tiền tố CB).", field="code")
    if not name.strip():
        raise OfficerRefused("Chưa nhập họ tên cán bộ.", field="name")
    if not _storable(name):
        raise OfficerRefused("Họ tên chứa ký tự không lưu được.", field="name")
    if (problem := name_problem(name.strip())) is not None:
        raise OfficerRefused(f"Họ tên không hợp lệ (the name {problem}).", field="name")


def create_officer(conn: Connection, *, unit_id: int, code: str, name: str, counters: list[int],
                   pin: str | None, now_ns: int) -> Officer:
    """A new active officer of ``unit_id`` (whose scope and counters the caller checked)."""
    code, name = code.strip(), name.strip()
    _check_code_and_name(code, name)
    pin_hash = hash_pin(pin) if pin else None
    now = iso_from_ns(now_ns)
    try:
        with conn.begin_nested():
            new_id = conn.execute(insert(officers).values(
                unit_id=unit_id, code=code, name=name, pin_hash=pin_hash, counters=json.dumps(sorted(counters)),
                active=True, created_at=now, updated_at=now).returning(officers.c.id)).scalar_one()
    except IntegrityError:
        raise OfficerRefused(f"Đơn vị đã có cán bộ mang mã {code}.", field="code") from None
    return _officer(conn.execute(select(*_COLUMNS).where(officers.c.id == new_id)).one())


#: ``change_officer``'s "not given" (a PIN of None clears it).
KEEP = object()


def change_officer(conn: Connection, officer: Officer, *, name: str | None = None, counters: list[int] | None = None,
                   active: bool | None = None, pin=KEEP, now_ns: int) -> tuple[Officer, dict]:
    """Change what is given; (the officer as it is now, what changed for the audit trail — never the PIN)."""
    values, changes = {}, {}
    if name is not None and name.strip() != officer.name:
        _check_code_and_name(officer.code, name)
        values["name"] = name.strip()
        changes["name"] = {"from": officer.name, "to": name.strip()}
    if counters is not None and tuple(sorted(counters)) != officer.counters:
        values["counters"] = json.dumps(sorted(counters))
        changes["counters"] = {"from": list(officer.counters), "to": sorted(counters)}
    if active is not None and active != officer.active:
        values["active"] = active
        changes["active"] = active
    if pin is not KEEP:
        values["pin_hash"] = hash_pin(pin) if pin else None
        changes["pin"] = "set" if pin else "cleared"
    if values:
        values["updated_at"] = iso_from_ns(now_ns)
        conn.execute(update(officers).where(officers.c.id == officer.id).values(**values))
    return _officer(conn.execute(select(*_COLUMNS).where(officers.c.id == officer.id)).one()), changes


def set_photo(conn: Connection, officer: Officer, data: bytes | None, *, now_ns: int) -> dict:
    """Store ``data`` (checked by :func:`check_photo`) as the officer's photo, or remove it (None); what changed."""
    kind = check_photo(data) if data is not None else None
    conn.execute(update(officers).where(officers.c.id == officer.id).values(photo=data, updated_at=iso_from_ns(now_ns)))
    return {"photo": {"type": kind, "bytes": len(data)} if data is not None else "removed"}


def photo_of(conn: Connection, officer_id: int) -> bytes | None:
    return conn.execute(select(officers.c.photo).where(officers.c.id == officer_id)).scalar()


# -- what the terminals fetch --------------------------------------------------------------------------------

#: Everything the terminals get but the photo's bytes (its length stands for it), and ``updated_at``, which
#: every change moves: two changes within one millisecond still change the version. Built once: every batch
#: receipt reads it, and a statement built per call costs more than the read itself.
_VERSION_ROWS = (select(officers.c.id, officers.c.code, officers.c.name, officers.c.pin_hash, officers.c.active,
                        officers.c.counters, func.length(officers.c.photo), officers.c.updated_at)
                 .where(officers.c.unit_id == bindparam("unit_id")).order_by(officers.c.id))


def _version_rows(conn: Connection, unit_id: int | None) -> list:
    if unit_id is None:
        return []
    return conn.execute(_VERSION_ROWS, {"unit_id": unit_id}).all()


def _version(rows: list, names: dict[int, str], retention_days: int) -> str:
    document = json.dumps([retention_days, [list(row) for row in rows], sorted(names.items())],
                          ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(document.encode("utf-8")).hexdigest()[:16]


def _names_in(conn: Connection, rows: list) -> dict[int, str]:
    wanted = {counter for row in rows for counter in json.loads(row.counters or "[]")}
    return counter_names(conn, wanted)


def officers_version(conn: Connection, unit_id: int | None, *, retention_days: int) -> str:
    """The version of the list the terminals of ``unit_id`` fetch: it changes with every change of an officer
    of the unit (each one moves its ``updated_at``), of a name of the counters they are limited to, and of the
    dossier retention the list carries."""
    rows = _version_rows(conn, unit_id)
    return _version(rows, _names_in(conn, rows), retention_days)


def unit_has_officers(conn: Connection, unit_id: int | None) -> bool:
    if unit_id is None:
        return False
    return conn.execute(select(officers.c.id).where(officers.c.unit_id == unit_id).limit(1)).first() is not None


def terminal_officers(conn: Connection, unit_id: int | None, *, retention_days: int) -> dict:
    """``GET /api/v1/terminal/officers``'s answer for a terminal of ``unit_id``: its version, the dossier
    retention, and every active officer of the unit with the PIN's hash, the counters by name (the terminal
    knows its own counter by name; empty: every counter) and the photo in base64 (or null)."""
    import base64

    rows = _version_rows(conn, unit_id)
    names = _names_in(conn, rows)
    listed = []
    if unit_id is not None:
        for row in conn.execute(select(officers.c.code, officers.c.name, officers.c.pin_hash, officers.c.counters,
                                       officers.c.photo).where(officers.c.unit_id == unit_id, officers.c.active.is_(True))
                                .order_by(officers.c.code)):
            listed.append({"code": row.code, "name": row.name, "pin_hash": row.pin_hash,
                           "counters": [names[c] for c in json.loads(row.counters or "[]") if c in names],
                           "photo": base64.b64encode(row.photo).decode("ascii") if row.photo is not None else None})
    return {"version": _version(rows, names, retention_days), "dossier_retention_days": retention_days,
            "officers": listed}


def receipt_version(conn: Connection, unit_id: int | None, *, retention_days: int, asked: bool) -> str | None:
    """The ``officers_version`` of a batch receipt: when the unit has officers, or the batch used what issue 12
    added (``asked``: an officer, a dossier, shifts or invitations). Else None, left out of the receipt, so a
    terminal older than officers is answered exactly as before."""
    rows = _version_rows(conn, unit_id)
    if not rows and not asked:
        return None
    return _version(rows, _names_in(conn, rows), retention_days)


def uses_officers(batch) -> bool:
    """Whether a batch carries anything of issue 12 (the terminal knows officers and dossiers)."""
    return bool(batch.shifts or batch.invitations
                or any(r.officer is not None or r.dossier is not None for r in batch.ratings))
