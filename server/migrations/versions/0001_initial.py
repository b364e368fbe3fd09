"""The first central schema: terminals, enrolment codes, admin tokens, ratings, conflicts, boot offsets.

Revision ID: 0001_initial
Revises: (none)
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

# Written out rather than taken from server.schema, so this step never changes when the schema does.
cursor_key = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
iso_time = sa.String(24)


def upgrade() -> None:
    op.create_table(
        "terminals",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("site", sa.Text(), nullable=False),
        sa.Column("counter", sa.Text()),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("enrolled_at", iso_time, nullable=False),
        sa.Column("revoked_at", iso_time),
        sa.Column("last_seen_at", iso_time),
        sa.Column("app_version", sa.String(32)),
        sa.Column("pending", sa.BigInteger()),
        sa.Column("clock_synced", sa.Boolean()),
        sa.Column("clock_offset_s", sa.Float()),
        sa.Column("last_error", sa.Text()),
        sa.Column("last_boot_id", sa.String(64)),
        sa.PrimaryKeyConstraint("id", name="pk_terminals"),
        sa.UniqueConstraint("token_hash", name="uq_terminals_token_hash"),
    )
    op.create_table(
        "enrollment_codes",
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("site", sa.Text(), nullable=False),
        sa.Column("counter", sa.Text()),
        sa.Column("created_at", iso_time, nullable=False),
        sa.Column("expires_at", iso_time, nullable=False),
        sa.Column("used_at", iso_time),
        sa.Column("terminal_id", sa.String(64)),
        sa.PrimaryKeyConstraint("code_hash", name="pk_enrollment_codes"),
        sa.ForeignKeyConstraint(["terminal_id"], ["terminals.id"],
                                name="fk_enrollment_codes_terminal_id_terminals"),
    )
    op.create_table(
        "admin_tokens",
        sa.Column("id", cursor_key, autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", iso_time, nullable=False),
        sa.Column("revoked_at", iso_time),
        sa.PrimaryKeyConstraint("id", name="pk_admin_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_admin_tokens_token_hash"),
    )
    op.create_table(
        "ratings",
        sa.Column("cursor", cursor_key, autoincrement=True, nullable=False),
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("terminal_id", sa.String(64), nullable=False),
        sa.Column("rating", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32)),
        sa.Column("reason_outcome", sa.String(8)),
        sa.Column("source", sa.String(8), nullable=False),
        sa.Column("created_at", iso_time, nullable=False),
        sa.Column("boot_id", sa.String(64), nullable=False),
        sa.Column("monotonic_ns", sa.BigInteger(), nullable=False),
        sa.Column("clock_synced", sa.SmallInteger(), nullable=False),
        sa.Column("filtered", sa.SmallInteger(), nullable=False),
        sa.Column("site", sa.Text(), nullable=False),
        sa.Column("counter", sa.Text()),
        sa.Column("received_at", iso_time, nullable=False),
        sa.Column("corrected_at", iso_time, nullable=False),
        sa.Column("time_quality", sa.String(9), nullable=False),
        sa.PrimaryKeyConstraint("cursor", name="pk_ratings"),
        sa.UniqueConstraint("id", name="uq_ratings_id"),
        sa.ForeignKeyConstraint(["terminal_id"], ["terminals.id"], name="fk_ratings_terminal_id_terminals"),
    )
    op.create_index("ix_ratings_terminal_id_corrected_at", "ratings", ["terminal_id", "corrected_at"])
    op.create_index("ix_ratings_corrected_at", "ratings", ["corrected_at"])
    op.create_table(
        "rating_conflicts",
        sa.Column("conflict_id", cursor_key, autoincrement=True, nullable=False),
        sa.Column("rating_id", sa.String(36), nullable=False),
        sa.Column("terminal_id", sa.String(64), nullable=False),
        sa.Column("received_at", iso_time, nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("conflict_id", name="pk_rating_conflicts"),
        sa.UniqueConstraint("rating_id", "content_sha256", name="uq_rating_conflicts_rating_id_content_sha256"),
        sa.ForeignKeyConstraint(["terminal_id"], ["terminals.id"],
                                name="fk_rating_conflicts_terminal_id_terminals"),
    )
    op.create_table(
        "boot_offsets",
        sa.Column("terminal_id", sa.String(64), nullable=False),
        sa.Column("boot_id", sa.String(64), nullable=False),
        sa.Column("base_ns", sa.BigInteger(), nullable=False),
        sa.Column("first_seen_at", iso_time, nullable=False),
        sa.Column("updated_at", iso_time, nullable=False),
        sa.PrimaryKeyConstraint("terminal_id", "boot_id", name="pk_boot_offsets"),
        sa.ForeignKeyConstraint(["terminal_id"], ["terminals.id"],
                                name="fk_boot_offsets_terminal_id_terminals"),
    )


def downgrade() -> None:
    for table in ("boot_offsets", "rating_conflicts", "ratings", "admin_tokens", "enrollment_codes",
                  "terminals"):
        op.drop_table(table)
