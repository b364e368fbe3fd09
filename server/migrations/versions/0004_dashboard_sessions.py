"""Dashboard sessions kept by the server, so logout and token revocation end them.

Sessions signed before this step (cookies that only named the admin token)
have no row and are no longer accepted: their holders log in again.

Revision ID: 0004_dashboard_sessions
Revises: 0003_reports
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_dashboard_sessions"
down_revision = "0003_reports"
branch_labels = None
depends_on = None

# Written out rather than taken from server.schema, so this step never changes when the schema does.
cursor_key = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
iso_time = sa.String(24)


def upgrade() -> None:
    op.create_table(
        "dashboard_sessions",
        sa.Column("id_hash", sa.String(64), nullable=False),
        sa.Column("admin_token_id", cursor_key, nullable=False),
        sa.Column("created_at", iso_time, nullable=False),
        sa.Column("expires_at", iso_time, nullable=False),
        sa.ForeignKeyConstraint(["admin_token_id"], ["admin_tokens.id"],
                                name="fk_dashboard_sessions_admin_token_id_admin_tokens"),
        sa.PrimaryKeyConstraint("id_hash", name="pk_dashboard_sessions"),
    )
    op.create_index("ix_dashboard_sessions_admin_token_id", "dashboard_sessions", ["admin_token_id"])


def downgrade() -> None:
    op.drop_table("dashboard_sessions")
