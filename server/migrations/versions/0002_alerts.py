"""Alerts fired by the rules (with their webhook outbox), and the server's own secrets.

Revision ID: 0002_alerts
Revises: 0001_initial
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_alerts"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

# Written out rather than taken from server.schema, so this step never changes when the schema does.
cursor_key = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
iso_time = sa.String(24)


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", cursor_key, autoincrement=True, nullable=False),
        sa.Column("rule", sa.String(32), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("fired_at", iso_time, nullable=False),
        sa.Column("cleared_at", iso_time),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("fired_sent_at", iso_time),
        sa.Column("cleared_sent_at", iso_time),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
    )
    op.create_index("ix_alerts_cleared_at_rule_subject", "alerts", ["cleared_at", "rule", "subject"])
    op.create_index("ix_alerts_fired_at", "alerts", ["fired_at"])
    op.create_table(
        "server_secrets",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_at", iso_time, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_server_secrets"),
    )


def downgrade() -> None:
    op.drop_table("server_secrets")
    op.drop_table("alerts")
