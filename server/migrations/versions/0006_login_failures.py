"""Failed dashboard logins per client address, kept in the database.

The lock-out of an address that guessed wrong too often was kept in the
server process: a restart, or a second worker, started it afresh.

Revision ID: 0006_login_failures
Revises: 0005_kept_aside
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_login_failures"
down_revision = "0005_kept_aside"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until_ns", sa.BigInteger(), nullable=False),
        sa.Column("last_failure_ns", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("address", name="pk_login_failures"),
    )


def downgrade() -> None:
    op.drop_table("login_failures")
