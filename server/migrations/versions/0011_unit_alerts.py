"""Alerts by the organisation tree: a unit's dissatisfied share, its lineage on the alert row.

Before, the ``dissatisfied_share`` rule grouped ratings by their site's name, and an alert's subject was that
name; units of the same name in two provinces ("Phường 1") made one alert. Now the rule groups by the unit
each rating keeps (``unit_id``) and the subject is ``unit:<id>``; the alert row carries the unit and its
province, which accounts' scopes are matched with.

The alerts already there are given their unit where their name says it without doubt — the site's place
from migration 0007 (``legacy_places``), else the one unit of that name — so an active alert goes on as the
same alert (same id: the webhook's ``event_id`` of its clearing is the one a receiver expects) and does not
fire a second time. A name that fits no unit or several stays as it is: if no unplaced ratings of that
site still hold it, the next check clears it once (the webhook is told) and fires each unit's own alert once.

Revision ID: 0011_unit_alerts
Revises: 0010_rollups
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0011_unit_alerts"
down_revision = "0010_rollups"
branch_labels = None
depends_on = None

CURSOR_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("province_id", CURSOR_KEY))
        batch.add_column(sa.Column("unit_id", CURSOR_KEY))
    _give_site_alerts_their_unit(op.get_bind())


def _give_site_alerts_their_unit(conn) -> None:
    rows = conn.execute(sa.text("SELECT id, subject, cleared_at, details FROM alerts "
                                "WHERE rule = 'dissatisfied_share' ORDER BY id")).all()
    if not rows:
        return
    tree = {row.id: row for row in conn.execute(sa.text("SELECT id, kind, code, name, parent_id FROM nodes"))}
    by_site: dict[str, set[int]] = {}
    for site, node_id in conn.execute(sa.text("SELECT site, node_id FROM legacy_places")):
        unit = _unit_of(tree, node_id)
        if unit is not None:
            by_site.setdefault(site, set()).add(unit)
    by_name: dict[str, list[int]] = {}
    for node in tree.values():
        if node.kind == "unit":
            by_name.setdefault(node.name, []).append(node.id)
    taken = set()  # an active alert per (rule, subject): two active alerts never map to one unit
    for row in rows:
        units = by_site.get(row.subject) or set(by_name.get(row.subject, ()))
        if len(units) != 1:
            continue  # not a unit's name without doubt: left to the next check (see above)
        unit = tree[units.pop()]
        if row.cleared_at is None:
            if unit.id in taken:
                continue
            taken.add(unit.id)
        province = tree.get(unit.parent_id) if unit.parent_id is not None else None
        place = {"path": " › ".join(n.name for n in (province, unit) if n is not None)}
        for node in (province, unit):
            if node is not None:
                place[node.kind] = {"id": node.id, "code": node.code, "name": node.name}
        details = json.loads(row.details)
        details |= {"unit_id": unit.id, "unit_code": unit.code, "province_id": province and province.id,
                    "province_code": province and province.code, "place": place}
        conn.execute(sa.text("UPDATE alerts SET subject = :subject, unit_id = :unit, province_id = :province, "
                             "details = :details WHERE id = :id"),
                     {"subject": f"unit:{unit.id}", "unit": unit.id, "province": province and province.id,
                      "details": json.dumps(details, ensure_ascii=False), "id": row.id})


def _unit_of(tree: dict, node_id: int | None) -> int | None:
    node = tree.get(node_id)
    while node is not None and node.kind != "unit":
        node = tree.get(node.parent_id) if node.parent_id is not None else None
    return node.id if node is not None else None


def downgrade() -> None:
    conn = op.get_bind()
    # Back to the names the rule of before grouped by: the unit's name as the alert recorded it.
    for row in conn.execute(sa.text("SELECT id, details FROM alerts WHERE unit_id IS NOT NULL")).all():
        site = json.loads(row.details).get("site")
        if site:
            conn.execute(sa.text("UPDATE alerts SET subject = :site WHERE id = :id"), {"site": site, "id": row.id})
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("unit_id")
        batch.drop_column("province_id")
