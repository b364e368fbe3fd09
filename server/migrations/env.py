"""Alembic environment for the central database.

The server and the CLI run migrations programmatically (``server.db.migrate``)
and hand over an open connection in ``config.attributes["connection"]``; there
is no alembic.ini and no URL read from the environment.
"""

from alembic import context

from server.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through server.db.migrate(engine), which passes a connection")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
