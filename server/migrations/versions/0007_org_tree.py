"""The organisation tree and named accounts.

A server of before this step knew flat sites and counters, and admin tokens by name. Here:
- ``nodes`` (province → unit → office → counter); every site becomes a unit under one province
  (named "Tỉnh" until a tree import gives it its name and code), with one office "Bộ phận Một cửa", and
  every counter a counter of that office; ``legacy_places`` records where each went.
- terminals, enrolment codes, ratings and tallies get their place in the tree from that mapping, so every
  stored rating keeps its unit, office and counter; the tallies are counted again with them.
- ``accounts``: every admin token name becomes a province-wide admin account (no password: it keeps
  logging in with its tokens), and its tokens and dashboard sessions belong to it.

Revision ID: 0007_org_tree
Revises: 0006_login_failures
"""

from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0007_org_tree"
down_revision = "0006_login_failures"
branch_labels = None
depends_on = None

KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ISO = sa.String(24)

#: The names given to the nodes a flat server's sites are put under, until a tree import renames them.
PROVINCE_PLACEHOLDER = "Tỉnh"
OFFICE_PLACEHOLDER = "Bộ phận Một cửa"

TALLY_KEY_BEFORE = ["hour", "terminal_id", "site", "counter", "rating", "reason", "filtered"]
TALLY_KEY = ["hour", "terminal_id", "site", "counter", "province_id", "unit_id", "office_id", "counter_id",
             "rating", "reason", "filtered"]


def upgrade() -> None:
    op.create_table(
        "nodes",
        sa.Column("id", KEY, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("code", sa.String(64)),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("parent_id", KEY),
        sa.Column("created_at", ISO, nullable=False),
        sa.Column("updated_at", ISO, nullable=False),
        sa.ForeignKeyConstraint(["parent_id"], ["nodes.id"], name="fk_nodes_parent_id_nodes"),
        sa.PrimaryKeyConstraint("id", name="pk_nodes"),
        sa.UniqueConstraint("code", name="uq_nodes_code"),
    )
    op.create_index("ix_nodes_parent_id", "nodes", ["parent_id"])
    op.create_table(
        "legacy_places",
        sa.Column("site", sa.Text(), nullable=False),
        sa.Column("counter", sa.Text(), nullable=False),
        sa.Column("node_id", KEY, nullable=False),
        sa.ForeignKeyConstraint(["node_id"], ["nodes.id"], name="fk_legacy_places_node_id_nodes"),
        sa.PrimaryKeyConstraint("site", "counter", name="pk_legacy_places"),
    )
    op.create_table(
        "accounts",
        sa.Column("id", KEY, autoincrement=True, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("scope_node_id", KEY),
        sa.Column("password_hash", sa.Text()),
        sa.Column("must_change_password", sa.Boolean(), nullable=False),
        sa.Column("password_changed_at", ISO),
        sa.Column("totp_secret", sa.Text()),
        sa.Column("totp_last_step", sa.BigInteger()),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", ISO),
        sa.Column("last_login_at", ISO),
        sa.Column("created_at", ISO, nullable=False),
        sa.Column("disabled_at", ISO),
        sa.ForeignKeyConstraint(["scope_node_id"], ["nodes.id"], name="fk_accounts_scope_node_id_nodes"),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
        sa.UniqueConstraint("username", name="uq_accounts_username"),
    )
    with op.batch_alter_table("terminals") as batch:
        batch.add_column(sa.Column("node_id", KEY))
        for column in ("province_id", "unit_id", "office_id", "counter_id"):
            batch.add_column(sa.Column(column, KEY))
        batch.create_foreign_key("fk_terminals_node_id_nodes", "nodes", ["node_id"], ["id"])
    with op.batch_alter_table("enrollment_codes") as batch:
        batch.add_column(sa.Column("node_id", KEY))
        batch.create_foreign_key("fk_enrollment_codes_node_id_nodes", "nodes", ["node_id"], ["id"])
    with op.batch_alter_table("ratings") as batch:
        for column in ("province_id", "unit_id", "office_id", "counter_id"):
            batch.add_column(sa.Column(column, KEY))
    with op.batch_alter_table("admin_tokens") as batch:
        batch.add_column(sa.Column("account_id", KEY))
        batch.create_foreign_key("fk_admin_tokens_account_id_accounts", "accounts", ["account_id"], ["id"])
    with op.batch_alter_table("dashboard_sessions") as batch:
        batch.alter_column("admin_token_id", existing_type=KEY, nullable=True)
        batch.add_column(sa.Column("account_id", KEY))
        batch.add_column(sa.Column("last_used_at", ISO))
        batch.create_foreign_key("fk_dashboard_sessions_account_id_accounts", "accounts", ["account_id"], ["id"])
    op.create_index("ix_dashboard_sessions_account_id", "dashboard_sessions", ["account_id"])

    conn = op.get_bind()
    _place_the_flat_sites(conn)
    _make_accounts_of_the_admin_tokens(conn)

    # The tallies gain the tree's columns in their key: made again, counted from the ratings, which have them now.
    op.drop_table("rating_tallies")
    _create_tallies(TALLY_KEY)
    op.execute(
        "INSERT INTO rating_tallies (hour, terminal_id, site, counter, province_id, unit_id, office_id, counter_id, "
        "rating, reason, filtered, n) "
        "SELECT SUBSTR(corrected_at, 1, 13), terminal_id, site, COALESCE(counter, ''), COALESCE(province_id, 0), "
        "COALESCE(unit_id, 0), COALESCE(office_id, 0), COALESCE(counter_id, 0), rating, COALESCE(reason, ''), "
        "filtered, COUNT(*) FROM ratings GROUP BY SUBSTR(corrected_at, 1, 13), terminal_id, site, "
        "COALESCE(counter, ''), COALESCE(province_id, 0), COALESCE(unit_id, 0), COALESCE(office_id, 0), "
        "COALESCE(counter_id, 0), rating, COALESCE(reason, ''), filtered")
    op.create_index("ix_ratings_unit_id_cursor", "ratings", ["unit_id", "cursor"])


def _create_tallies(key: list[str]) -> None:
    op.create_table(
        "rating_tallies",
        sa.Column("hour", sa.String(13), nullable=False),
        sa.Column("terminal_id", sa.String(64), nullable=False),
        sa.Column("site", sa.Text(), nullable=False),
        sa.Column("counter", sa.Text(), nullable=False),
        *[sa.Column(column, KEY, nullable=False) for column in ("province_id", "unit_id", "office_id", "counter_id")
          if column in key],
        sa.Column("rating", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("filtered", sa.SmallInteger(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["terminal_id"], ["terminals.id"], name="fk_rating_tallies_terminal_id_terminals"),
        sa.PrimaryKeyConstraint(*key, name="pk_rating_tallies"),
    )


def _place_the_flat_sites(conn) -> None:
    """Every site (of terminals, codes and ratings) a unit, each with an office and its counters."""
    places = conn.execute(sa.text(
        "SELECT site, COALESCE(counter, '') FROM terminals UNION SELECT site, COALESCE(counter, '') "
        "FROM enrollment_codes UNION SELECT DISTINCT site, COALESCE(counter, '') FROM ratings")).all()
    if not places:
        return
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:23] + "Z"

    def new_node(kind: str, name: str, parent_id: int | None) -> int:
        return conn.execute(sa.text(
            "INSERT INTO nodes (kind, name, parent_id, created_at, updated_at) "
            "VALUES (:kind, :name, :parent, :now, :now) RETURNING id"),
            {"kind": kind, "name": name, "parent": parent_id, "now": now}).scalar_one()

    province = new_node("province", PROVINCE_PLACEHOLDER, None)
    offices: dict[str, tuple[int, int]] = {}  # site -> (unit id, office id)
    for site, counter in sorted(places):
        if site not in offices:
            unit = new_node("unit", site, province)
            offices[site] = (unit, new_node("office", OFFICE_PLACEHOLDER, unit))
        unit, office = offices[site]
        node = new_node("counter", counter, office) if counter else office
        conn.execute(sa.text("INSERT INTO legacy_places (site, counter, node_id) VALUES (:s, :c, :n)"),
                     {"s": site, "c": counter, "n": node})
    # Each place's lineage, then copied to the rows that were there (one statement per table).
    lineage = ("SELECT lp.site, lp.counter, lp.node_id, o.parent_id AS unit_id, "
               "CASE WHEN n.kind = 'counter' THEN n.parent_id ELSE n.id END AS office_id, "
               "CASE WHEN n.kind = 'counter' THEN n.id END AS counter_id "
               "FROM legacy_places lp JOIN nodes n ON n.id = lp.node_id "
               "JOIN nodes o ON o.id = CASE WHEN n.kind = 'counter' THEN n.parent_id ELSE n.id END")
    for table, extra in (("terminals", ", node_id = m.node_id"), ("ratings", ""),
                         ("enrollment_codes", None)):
        if extra is None:
            conn.execute(sa.text(
                f"UPDATE {table} SET node_id = m.node_id FROM ({lineage}) AS m "
                f"WHERE m.site = {table}.site AND m.counter = COALESCE({table}.counter, '')"))
            continue
        conn.execute(sa.text(
            f"UPDATE {table} SET province_id = :province, unit_id = m.unit_id, office_id = m.office_id, "
            f"counter_id = m.counter_id{extra} FROM ({lineage}) AS m "
            f"WHERE m.site = {table}.site AND m.counter = COALESCE({table}.counter, '')"), {"province": province})


def _make_accounts_of_the_admin_tokens(conn) -> None:
    names = conn.execute(sa.text("SELECT name, MIN(created_at) FROM admin_tokens GROUP BY name ORDER BY name")).all()
    for name, created_at in names:
        account = conn.execute(sa.text(
            "INSERT INTO accounts (username, display_name, role, must_change_password, failed_logins, created_at) "
            "VALUES (:username, :display_name, 'province_admin', :no, 0, :at) RETURNING id"),
            {"username": name, "display_name": name, "no": False, "at": created_at}).scalar_one()
        conn.execute(sa.text("UPDATE admin_tokens SET account_id = :a WHERE name = :name"),
                     {"a": account, "name": name})
    conn.execute(sa.text("UPDATE dashboard_sessions SET account_id = (SELECT account_id FROM admin_tokens t "
                         "WHERE t.id = dashboard_sessions.admin_token_id)"))


def downgrade() -> None:
    op.drop_index("ix_ratings_unit_id_cursor", table_name="ratings")
    op.drop_table("rating_tallies")
    _create_tallies(TALLY_KEY_BEFORE)
    op.execute(
        "INSERT INTO rating_tallies (hour, terminal_id, site, counter, rating, reason, filtered, n) "
        "SELECT SUBSTR(corrected_at, 1, 13), terminal_id, site, COALESCE(counter, ''), rating, COALESCE(reason, ''), "
        "filtered, COUNT(*) FROM ratings GROUP BY SUBSTR(corrected_at, 1, 13), terminal_id, site, "
        "COALESCE(counter, ''), rating, COALESCE(reason, ''), filtered")
    op.execute("DELETE FROM dashboard_sessions WHERE admin_token_id IS NULL")
    op.drop_index("ix_dashboard_sessions_account_id", table_name="dashboard_sessions")
    with op.batch_alter_table("dashboard_sessions") as batch:
        batch.drop_constraint("fk_dashboard_sessions_account_id_accounts", type_="foreignkey")
        batch.drop_column("last_used_at")
        batch.drop_column("account_id")
        batch.alter_column("admin_token_id", existing_type=KEY, nullable=False)
    with op.batch_alter_table("admin_tokens") as batch:
        batch.drop_constraint("fk_admin_tokens_account_id_accounts", type_="foreignkey")
        batch.drop_column("account_id")
    with op.batch_alter_table("ratings") as batch:
        for column in ("province_id", "unit_id", "office_id", "counter_id"):
            batch.drop_column(column)
    with op.batch_alter_table("enrollment_codes") as batch:
        batch.drop_constraint("fk_enrollment_codes_node_id_nodes", type_="foreignkey")
        batch.drop_column("node_id")
    with op.batch_alter_table("terminals") as batch:
        batch.drop_constraint("fk_terminals_node_id_nodes", type_="foreignkey")
        for column in ("node_id", "province_id", "unit_id", "office_id", "counter_id"):
            batch.drop_column(column)
    op.drop_table("accounts")
    op.drop_table("legacy_places")
    op.drop_index("ix_nodes_parent_id", table_name="nodes")
    op.drop_table("nodes")
