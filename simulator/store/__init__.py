"""Where sessions are kept (SQLAlchemy: SQLite by default, PostgreSQL by URL).

`rows` are the tables, `records` the plain data the store hands out, `connection` the `Store` itself and
`migrations` the schema's history. Import what you need from here.
"""

from simulator.errors import ResumeError, StoreError
from simulator.store.connection import (
    URL_HINT,
    DamagedSession,
    Store,
    UnknownSession,
    UnknownTurn,
    resolve_url,
)
from simulator.store.records import Override, StoredSession, StoredTurn

__all__ = [
    "URL_HINT", "DamagedSession", "Override", "ResumeError", "Store", "StoreError", "StoredSession", "StoredTurn", "UnknownSession",
    "UnknownTurn", "resolve_url",
]
