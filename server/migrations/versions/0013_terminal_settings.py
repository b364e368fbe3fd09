"""Remote terminal settings (issue 13): every change of a scope's settings, and what each terminal reports.

``terminal_settings_changes`` is append-only: one row per change of one scope (the whole fleet, a node of the
tree, or one terminal) holding the full values of that scope after the change, who made it, when, a note, and
for a roll back the change it restored. A scope's current values are its latest row. The terminals' rows get
the settings version they applied and the error of the one they refused, as their heartbeats report them
(plain ADD COLUMNs: the table is not copied).

Revision ID: 0013_terminal_settings
Revises: 0012_officers_dossiers
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_terminal_settings"
down_revision = "0012_officers_dossiers"
branch_labels = None
depends_on = None

CURSOR_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ISO_TIME = sa.String(24)


def upgrade() -> None:
    op.create_table(
        "terminal_settings_changes",
        sa.Column("id", CURSOR_KEY, autoincrement=True, nullable=False),
        sa.Column("scope", sa.String(80), nullable=False),
        sa.Column("node_id", CURSOR_KEY, nullable=True),
        sa.Column("terminal_id", sa.String(64), nullable=True),
        sa.Column("settings", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("changed_by", sa.Text(), nullable=False),
        sa.Column("changed_at", ISO_TIME, nullable=False),
        sa.Column("restores_id", CURSOR_KEY, nullable=True),
        sa.ForeignKeyConstraint(["node_id"], ["nodes.id"], name="fk_terminal_settings_changes_node_id_nodes"),
        sa.ForeignKeyConstraint(["terminal_id"], ["terminals.id"],
                                name="fk_terminal_settings_changes_terminal_id_terminals"),
        sa.PrimaryKeyConstraint("id", name="pk_terminal_settings_changes"),
    )
    op.create_index("ix_terminal_settings_changes_scope_id", "terminal_settings_changes", ["scope", "id"])
    op.add_column("terminals", sa.Column("settings_version", sa.String(128), nullable=True))
    op.add_column("terminals", sa.Column("settings_error", sa.Text(), nullable=True))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":  # 3.35+: no batch copy of the terminals table
        for name in ("settings_error", "settings_version"):
            op.execute(f"ALTER TABLE terminals DROP COLUMN {name}")
    else:
        op.drop_column("terminals", "settings_error")
        op.drop_column("terminals", "settings_version")
    op.drop_index("ix_terminal_settings_changes_scope_id", table_name="terminal_settings_changes")
    op.drop_table("terminal_settings_changes")
