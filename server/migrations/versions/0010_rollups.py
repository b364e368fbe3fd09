"""Coarser counts for national reports: ``tally_deltas``, ``rating_months``, ``unit_months``,
``province_hours``, ``server_hours`` and ``rollup_state`` (see server/rollups.py).

At national scale the hourly ``rating_tallies`` hold about as many rows as there are ratings
(bench/national.py: 15 million for 20 million), so a year's report read millions of rows. The
rollups are built by the server's background refresher the first time it runs (``rollup_state`` stays
empty until then, and reports read the hourly tallies meanwhile): the migration itself stays quick on
a large database, and the months are made in the zone the server is configured with.

Revision ID: 0010_rollups
Revises: 0009_national_indexes
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_rollups"
down_revision = "0009_national_indexes"
branch_labels = None
depends_on = None

KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _place() -> list[sa.Column]:
    return [sa.Column("terminal_id", sa.String(64), nullable=False), sa.Column("site", sa.Text, nullable=False),
            sa.Column("counter", sa.Text, nullable=False), sa.Column("province_id", KEY, nullable=False),
            sa.Column("unit_id", KEY, nullable=False), sa.Column("office_id", KEY, nullable=False),
            sa.Column("counter_id", KEY, nullable=False)]


def _count() -> list[sa.Column]:
    return [sa.Column("rating", sa.String(16), nullable=False), sa.Column("reason", sa.String(32), nullable=False),
            sa.Column("filtered", sa.SmallInteger, nullable=False), sa.Column("n", sa.BigInteger, nullable=False)]


def upgrade() -> None:
    op.create_table("tally_deltas", sa.Column("id", KEY, autoincrement=True, nullable=False),
                    sa.Column("hour", sa.String(13), nullable=False), *_place(), *_count(),
                    sa.PrimaryKeyConstraint("id", name="pk_tally_deltas"))
    op.create_table("rating_months", sa.Column("month", sa.String(7), nullable=False), *_place(), *_count(),
                    sa.PrimaryKeyConstraint("month", "terminal_id", "site", "counter", "province_id", "unit_id",
                                            "office_id", "counter_id", "rating", "reason", "filtered",
                                            name="pk_rating_months"))
    op.create_index("ix_rating_months_province_id_month", "rating_months", ["province_id", "month"])
    op.create_index("ix_rating_months_unit_id_month", "rating_months", ["unit_id", "month"])
    op.create_table("unit_months", sa.Column("month", sa.String(7), nullable=False),
                    sa.Column("province_id", KEY, nullable=False), sa.Column("unit_id", KEY, nullable=False),
                    *_count(),
                    sa.PrimaryKeyConstraint("month", "province_id", "unit_id", "rating", "reason", "filtered",
                                            name="pk_unit_months"))
    op.create_table("province_hours", sa.Column("hour", sa.String(13), nullable=False),
                    sa.Column("province_id", KEY, nullable=False), *_count(),
                    sa.PrimaryKeyConstraint("hour", "province_id", "rating", "reason", "filtered",
                                            name="pk_province_hours"))
    op.create_index("ix_province_hours_province_id_hour", "province_hours", ["province_id", "hour"])
    op.create_table("server_hours", sa.Column("hour", sa.String(13), nullable=False), *_count(),
                    sa.PrimaryKeyConstraint("hour", "rating", "reason", "filtered", name="pk_server_hours"))
    op.create_table("rollup_state", sa.Column("name", sa.String(32), nullable=False),
                    sa.Column("value", sa.Text, nullable=False),
                    sa.PrimaryKeyConstraint("name", name="pk_rollup_state"))


def downgrade() -> None:
    for table in ("rollup_state", "server_hours", "province_hours", "unit_months", "rating_months", "tally_deltas"):
        op.drop_table(table)
