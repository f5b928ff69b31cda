"""The store's tables (SQLAlchemy Core); migrations/ must create exactly these.

``tests/store/test_migrations.py`` compares this metadata with the migrated
database, so a change here without a migration fails the tests.

Timestamps are epoch seconds in double precision, so SQLite and PostgreSQL
sort and return them identically.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

threads = sa.Table(
    "threads",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("user_id", sa.Text(), nullable=False),
    sa.Column("title", sa.String(200), nullable=True),
    sa.Column("created_at", sa.Double(), nullable=False),
    sa.Column("updated_at", sa.Double(), nullable=False),
    # Position of the newest message; bumping it serialises appends per thread.
    sa.Column("last_position", sa.Integer(), nullable=False, server_default="0"),
    sa.Index(None, "user_id", "updated_at", "id"),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column(
        "thread_id",
        sa.String(40),
        sa.ForeignKey("threads.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("user_id", sa.Text(), nullable=False),
    sa.Column("agent_name", sa.Text(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", sa.Double(), nullable=False),
    sa.Column("ended_at", sa.Double(), nullable=True),
    sa.Column("error_code", sa.Text(), nullable=True),
    sa.Column("error_message", sa.Text(), nullable=True),
    sa.Column("client_message_id", sa.Text(), nullable=True),
    sa.CheckConstraint("status IN ('running', 'completed', 'error', 'cancelled')", name="status"),
    # Idempotency of start_run; NULLs never collide, on both backends.
    sa.UniqueConstraint("user_id", "client_message_id"),
    sa.Index(None, "user_id", "status"),
)

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column(
        "thread_id",
        sa.String(40),
        sa.ForeignKey("threads.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("user_id", sa.Text(), nullable=False, index=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("content", sa.Text(), nullable=False),
    # No foreign key: runs and messages both go with their thread, and a key
    # here would make PostgreSQL scan messages for every run a cascade deletes.
    sa.Column("run_id", sa.String(40), nullable=True),
    sa.Column("metadata", sa.JSON(), nullable=False),
    sa.Column("position", sa.Integer(), nullable=False),
    sa.Column("created_at", sa.Double(), nullable=False),
    sa.CheckConstraint("role IN ('user', 'assistant')", name="role"),
    # Also the index history pages walk.
    sa.UniqueConstraint("thread_id", "position"),
)

# A run's timeline: one row per stored event of the run and its sub-runs, in
# the order they were emitted. Rows are only ever appended (a checkpoint is one
# multi-row INSERT), so a run cut short keeps a consistent prefix. ``position``
# counts every event the recorder saw, so positions a cap left out show as gaps.
run_timeline_items = sa.Table(
    "run_timeline_items",
    metadata,
    sa.Column(
        "run_id",
        sa.String(40),
        sa.ForeignKey("runs.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("position", sa.Integer(), nullable=False),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("data", sa.JSON(), nullable=False),
    # Names of the fields of ``data`` cut to a preview; NULL when none was.
    sa.Column("truncated", sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint("run_id", "position"),
)

# A run's pauses for a person (tool approvals, questions): one row each, written
# before the request is sent, so a pause outlives the process that asked.
# ``status`` leaves ``pending`` exactly once, for ``answered`` or ``expired``: a
# conditional UPDATE is the arbiter between nodes. ``request`` holds what was
# asked; ``continuation`` what a node needs to run the agent again after the
# asking process died (agent, prompt, whether the client can answer).
interrupts = sa.Table(
    "interrupts",
    metadata,
    sa.Column(
        "run_id",
        sa.String(40),
        sa.ForeignKey("runs.id", ondelete="CASCADE"),
        nullable=False,
    ),
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
    # The audit: which connection answered, on which node, when.
    sa.Column("answered_by", sa.Text(), nullable=True),
    sa.Column("answered_node", sa.Text(), nullable=True),
    sa.Column("created_at", sa.Double(), nullable=False),
    sa.Column("expires_at", sa.Double(), nullable=False),
    sa.Column("resolved_at", sa.Double(), nullable=True),
    # Set by the one node that continues the run after this pause (its process gone).
    sa.Column("continued_at", sa.Double(), nullable=True),
    sa.PrimaryKeyConstraint("run_id", "ordinal"),
    sa.UniqueConstraint("node_run_id", "interrupt_id"),
    sa.CheckConstraint("kind IN ('approval', 'question')", name="kind"),
    sa.CheckConstraint("status IN ('pending', 'answered', 'expired')", name="status"),
    # The sweep for expired pauses.
    sa.Index(None, "status", "expires_at"),
)
