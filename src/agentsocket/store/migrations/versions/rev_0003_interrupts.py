"""Store runs' pauses for a person (approvals, questions) so they outlive a process.

Revision ID: 0003_interrupts
Revises: 0002_timeline
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_interrupts"
down_revision = "0002_timeline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "interrupts",
        sa.Column("run_id", sa.String(40), nullable=False),
        sa.Column("ordinal", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("thread_id", sa.String(40), nullable=False),
        sa.Column("node_run_id", sa.String(40), nullable=False),
        sa.Column("interrupt_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("continuation", sa.JSON(), nullable=False),
        sa.Column("resolution", sa.JSON(), nullable=True),
        sa.Column("answered_by", sa.Text(), nullable=True),
        sa.Column("answered_node", sa.Text(), nullable=True),
        sa.Column("created_at", sa.Double(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
        sa.Column("resolved_at", sa.Double(), nullable=True),
        sa.Column("continued_at", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", "ordinal", name="pk_interrupts"),
        sa.UniqueConstraint(
            "node_run_id", "interrupt_id", name="uq_interrupts_node_run_id_interrupt_id"
        ),
        sa.CheckConstraint("kind IN ('approval', 'question')", name="ck_interrupts_kind"),
        sa.CheckConstraint(
            "status IN ('pending', 'answered', 'expired')", name="ck_interrupts_status"
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="fk_interrupts_run_id_runs", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_interrupts_status_expires_at", "interrupts", ["status", "expires_at"])


def downgrade() -> None:
    op.drop_index("ix_interrupts_status_expires_at", table_name="interrupts")
    op.drop_table("interrupts")
