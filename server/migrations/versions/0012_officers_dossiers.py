"""Officers and dossiers (issue 12): a unit's officers, the officer and dossier of each rating, shifts and
invitations as the terminals report them, and the accounts' ``sees_officers`` flag.

Every rating already held keeps its columns as they were: the new ones are NULL (no officer, no dossier) and
``dossier_repeat`` is 0, so no tally or rollup changes. Only columns are added to ``ratings`` (SQLite's
ALTER TABLE ADD COLUMN: the table is not copied), and no foreign key points from it at ``officers``, like its
place columns.

Revision ID: 0012_officers_dossiers
Revises: 0011_unit_alerts
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_officers_dossiers"
down_revision = "0011_unit_alerts"
branch_labels = None
depends_on = None

CURSOR_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ISO_TIME = sa.String(24)


def upgrade() -> None:
    op.create_table(
        "officers",
        sa.Column("id", CURSOR_KEY, autoincrement=True, nullable=False),
        sa.Column("unit_id", CURSOR_KEY, nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("pin_hash", sa.Text(), nullable=True),
        sa.Column("photo", sa.LargeBinary(), nullable=True),
        sa.Column("counters", sa.Text(), nullable=False, server_default="[]"),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", ISO_TIME, nullable=False),
        sa.Column("updated_at", ISO_TIME, nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["nodes.id"], name="fk_officers_unit_id_nodes"),
        sa.PrimaryKeyConstraint("id", name="pk_officers"),
        sa.UniqueConstraint("unit_id", "code", name="uq_officers_unit_id_code"),
    )
    op.create_table(
        "officer_shifts",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("terminal_id", sa.String(64), nullable=False),
        sa.Column("officer_id", CURSOR_KEY, nullable=True),
        sa.Column("officer_code", sa.String(32), nullable=False),
        sa.Column("signed_in_at", ISO_TIME, nullable=False),
        sa.Column("signed_out_at", ISO_TIME, nullable=False),
        sa.Column("sign_in_how", sa.String(8), nullable=False),
        sa.Column("sign_out_how", sa.String(8), nullable=False),
        sa.Column("unit_id", CURSOR_KEY, nullable=True),
        sa.Column("received_at", ISO_TIME, nullable=False),
        sa.ForeignKeyConstraint(["terminal_id"], ["terminals.id"], name="fk_officer_shifts_terminal_id_terminals"),
        sa.PrimaryKeyConstraint("id", name="pk_officer_shifts"),
    )
    op.create_index("ix_officer_shifts_unit_id_signed_in_at", "officer_shifts", ["unit_id", "signed_in_at"])
    op.create_index("ix_officer_shifts_terminal_id_signed_in_at", "officer_shifts", ["terminal_id", "signed_in_at"])
    op.create_table(
        "dossier_invitations",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("terminal_id", sa.String(64), nullable=False),
        sa.Column("unit_id", CURSOR_KEY, nullable=True),
        sa.Column("officer_code", sa.String(32), nullable=True),
        sa.Column("dossier", sa.String(48), nullable=True),
        sa.Column("created_at", ISO_TIME, nullable=False),
        sa.Column("closed_at", ISO_TIME, nullable=False),
        sa.Column("outcome", sa.String(10), nullable=False),
        sa.Column("rating_id", sa.String(36), nullable=True),
        sa.Column("received_at", ISO_TIME, nullable=False),
        sa.ForeignKeyConstraint(["terminal_id"], ["terminals.id"],
                                name="fk_dossier_invitations_terminal_id_terminals"),
        sa.PrimaryKeyConstraint("id", name="pk_dossier_invitations"),
    )
    op.create_index("ix_dossier_invitations_unit_id_created_at", "dossier_invitations", ["unit_id", "created_at"])
    op.create_index("ix_dossier_invitations_terminal_id_created_at", "dossier_invitations",
                    ["terminal_id", "created_at"])
    op.create_index("ix_dossier_invitations_created_at", "dossier_invitations", ["created_at"])
    # Plain ADD COLUMNs (no batch mode): a server's ratings are millions of rows, not copied.
    op.add_column("ratings", sa.Column("officer_id", CURSOR_KEY, nullable=True))
    op.add_column("ratings", sa.Column("officer_code", sa.String(32), nullable=True))
    op.add_column("ratings", sa.Column("dossier", sa.String(48), nullable=True))
    op.add_column("ratings", sa.Column("dossier_repeat", sa.SmallInteger(), nullable=False, server_default="0"))
    op.create_index("ix_ratings_dossier", "ratings", ["dossier"])
    op.add_column("accounts", sa.Column("sees_officers", sa.Boolean(), nullable=False, server_default=sa.false()))


def _drop_columns(table: str, names: tuple[str, ...]) -> None:
    """ALTER TABLE … DROP COLUMN, on SQLite too (3.35+): a batch copy of ``accounts`` would have to drop the table
    that other tables' foreign keys point at, and one of ``ratings`` would copy every rating."""
    if op.get_bind().dialect.name == "sqlite":
        for name in names:
            op.execute(f"ALTER TABLE {table} DROP COLUMN {name}")
        return
    for name in names:
        op.drop_column(table, name)


def downgrade() -> None:
    _drop_columns("accounts", ("sees_officers",))
    op.drop_index("ix_ratings_dossier", table_name="ratings")
    _drop_columns("ratings", ("dossier_repeat", "dossier", "officer_code", "officer_id"))
    op.drop_table("dossier_invitations")
    op.drop_table("officer_shifts")
    op.drop_table("officers")
