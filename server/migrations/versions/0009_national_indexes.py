"""Indexes for reports of one province or one unit over ``rating_tallies``.

The tallies' primary key starts with the hour, so a province's or a unit's report read every tally of
the period and kept 1 in 34 (or 1 in 3,400) of them. At national scale (bench/national.py: 20 million
ratings, 10,000 terminals) the tallies hold about as many rows as the ratings, so those reads went
through millions of rows; these indexes read only the node's own.

Revision ID: 0009_national_indexes
Revises: 0008_audit_trail
"""

from alembic import op

revision = "0009_national_indexes"
down_revision = "0008_audit_trail"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_rating_tallies_province_id_hour", "rating_tallies", ["province_id", "hour"])
    op.create_index("ix_rating_tallies_unit_id_hour", "rating_tallies", ["unit_id", "hour"])


def downgrade() -> None:
    op.drop_index("ix_rating_tallies_unit_id_hour", table_name="rating_tallies")
    op.drop_index("ix_rating_tallies_province_id_hour", table_name="rating_tallies")
