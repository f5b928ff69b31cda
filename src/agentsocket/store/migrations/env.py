"""Alembic environment: runs on the connection :meth:`Store.migrate` passes in.

There is no alembic.ini; migrations run at startup through
:meth:`agentsocket.store.Store.migrate`. To change the schema, add a module to
``versions/`` whose ``down_revision`` is the newest one's ``revision``, and
change ``tables.py`` to match: ``tests/store/test_migrations.py`` fails until
the migrated database and the tables agree. Migrations never import
``tables.py``: they are history, frozen as they were written.
"""

from __future__ import annotations

from alembic import context

from agentsocket.store.engine import VERSION_TABLE

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("agentsocket.store migrations run through Store.migrate(), not the CLI")

context.configure(connection=connection, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
