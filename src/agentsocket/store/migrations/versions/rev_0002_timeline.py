"""Store each run's timeline (its events, one row each).

Revision ID: 0002_timeline
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_timeline"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_timeline_items",
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("truncated", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", "position", name="pk_run_timeline_items"),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
            name="fk_run_timeline_items_run_id_runs",
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("run_timeline_items")
