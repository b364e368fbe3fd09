"""Rating tallies for the reports: counts per terminal, UTC hour, level, reason and filtered flag.

Ingest keeps them from now on (in the transaction that stores the ratings);
this step creates the table and counts the ratings already stored.

Revision ID: 0003_reports
Revises: 0002_alerts
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_reports"
down_revision = "0002_alerts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rating_tallies",
        sa.Column("hour", sa.String(13), nullable=False),
        sa.Column("terminal_id", sa.String(64), nullable=False),
        sa.Column("site", sa.Text(), nullable=False),
        sa.Column("counter", sa.Text(), nullable=False),
        sa.Column("rating", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("filtered", sa.SmallInteger(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["terminal_id"], ["terminals.id"],
                                name="fk_rating_tallies_terminal_id_terminals"),
        sa.PrimaryKeyConstraint("hour", "terminal_id", "site", "counter", "rating", "reason", "filtered",
                                name="pk_rating_tallies"),
    )
    op.execute(
        "INSERT INTO rating_tallies (hour, terminal_id, site, counter, rating, reason, filtered, n) "
        "SELECT SUBSTR(corrected_at, 1, 13), terminal_id, site, COALESCE(counter, ''), rating, "
        "COALESCE(reason, ''), filtered, COUNT(*) FROM ratings "
        "GROUP BY SUBSTR(corrected_at, 1, 13), terminal_id, site, COALESCE(counter, ''), rating, "
        "COALESCE(reason, ''), filtered"
    )


def downgrade() -> None:
    op.drop_table("rating_tallies")
