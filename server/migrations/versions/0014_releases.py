"""Signed software releases (issue 13): releases, rollouts and their first waves, and the terminals' update state.

Only columns are added to ``terminals`` (NULL for every terminal: no update was ever offered).

Revision ID: 0014_releases
Revises: 0013_terminal_settings
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_releases"
down_revision = "0013_terminal_settings"
branch_labels = None
depends_on = None

CURSOR_KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ISO_TIME = sa.String(24)
TERMINAL_COLUMNS = ("update_state", "update_version", "update_error", "update_failed_version")


def upgrade() -> None:
    op.add_column("terminals", sa.Column("update_state", sa.String(16), nullable=True))
    op.add_column("terminals", sa.Column("update_version", sa.String(32), nullable=True))
    op.add_column("terminals", sa.Column("update_error", sa.Text(), nullable=True))
    op.add_column("terminals", sa.Column("update_failed_version", sa.String(32), nullable=True))
    op.create_table(
        "releases",
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("arch", sa.String(16), nullable=False),
        sa.Column("archive", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("signature_checked", sa.Boolean(), nullable=False),
        sa.Column("uploaded_by", sa.Text(), nullable=False),
        sa.Column("uploaded_at", ISO_TIME, nullable=False),
        sa.PrimaryKeyConstraint("version", name="pk_releases"),
    )
    op.create_table(
        "rollouts",
        sa.Column("id", CURSOR_KEY, autoincrement=True, nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("node_id", CURSOR_KEY, nullable=True),
        sa.Column("wave_pct", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("started_by", sa.Text(), nullable=False),
        sa.Column("started_at", ISO_TIME, nullable=False),
        sa.Column("all_at", ISO_TIME, nullable=True),
        sa.Column("ended_at", ISO_TIME, nullable=True),
        sa.Column("stopped_by", sa.Text(), nullable=True),
        sa.Column("stopped_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["version"], ["releases.version"], name="fk_rollouts_version_releases"),
        sa.ForeignKeyConstraint(["node_id"], ["nodes.id"], name="fk_rollouts_node_id_nodes"),
        sa.PrimaryKeyConstraint("id", name="pk_rollouts"),
    )
    op.create_index("ix_rollouts_state", "rollouts", ["state"])
    op.create_table(
        "rollout_first_wave",
        sa.Column("rollout_id", CURSOR_KEY, nullable=False),
        sa.Column("terminal_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["rollout_id"], ["rollouts.id"], name="fk_rollout_first_wave_rollout_id_rollouts"),
        sa.ForeignKeyConstraint(["terminal_id"], ["terminals.id"],
                                name="fk_rollout_first_wave_terminal_id_terminals"),
        sa.PrimaryKeyConstraint("rollout_id", "terminal_id", name="pk_rollout_first_wave"),
    )


def downgrade() -> None:
    op.drop_table("rollout_first_wave")
    op.drop_index("ix_rollouts_state", table_name="rollouts")
    op.drop_table("rollouts")
    op.drop_table("releases")
    for name in reversed(TERMINAL_COLUMNS):
        if op.get_bind().dialect.name == "sqlite":  # ALTER TABLE … DROP COLUMN (3.35+), no copy of the table
            op.execute(f"ALTER TABLE terminals DROP COLUMN {name}")
        else:
            op.drop_column("terminals", name)
