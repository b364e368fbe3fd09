"""Ratings a terminal keeps aside, in their own columns of ``terminals`` (they were a sentence in ``last_error``).

Terminals that have not sent a heartbeat since have NULL here (unknown) until they do.

Revision ID: 0005_kept_aside
Revises: 0004_dashboard_sessions
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_kept_aside"
down_revision = "0004_dashboard_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch_alter_table: SQLite adds columns in place here, and PostgreSQL takes plain ALTER TABLE.
    with op.batch_alter_table("terminals") as batch:
        batch.add_column(sa.Column("kept_aside", sa.BigInteger()))
        batch.add_column(sa.Column("kept_aside_causes", sa.Text()))


def downgrade() -> None:
    with op.batch_alter_table("terminals") as batch:
        batch.drop_column("kept_aside_causes")
        batch.drop_column("kept_aside")
