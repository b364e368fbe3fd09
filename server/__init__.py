"""The central server: ingest, enrolment, admin API and the ``kiosk-server`` CLI.

For example::

    from server import Settings, create_app
    app = create_app(Settings(db_url="sqlite:///var/server.db"))

Public API: :func:`create_app`, :class:`Settings`, :func:`open_engine`, and the
account operations in :mod:`server.accounts` that the CLI uses.
"""

from .app import create_app
from .db import open_engine
from .errors import ServerError
from .settings import Settings

__all__ = ["create_app", "open_engine", "ServerError", "Settings"]
