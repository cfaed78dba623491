"""The store's schema, revision by revision, with Alembic.

The revisions live in `simulator/store/revisions/` (0001 … 0004 are the schemas Frontline has shipped); Alembic
keeps the database's revision in `alembic_version`. Opening a database runs every revision above its own, in
order, inside one transaction that holds a lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock), so
several Frontlines opening an old or new database at once upgrade it exactly once.

Databases from before Alembic keep their version in `schema_version` (one row); such a database is stamped
with the matching revision and upgraded from there, with nothing to do by hand. `schema_version` is still kept
in step, so an older Frontline opening a newer database refuses it instead of writing to a schema it does
not know.

Each revision spells out its own tables and columns instead of reusing the ORM classes in `simulator.store`:
those describe the newest schema, and a revision must keep doing what it did when it was written.

To change the schema: add a revision file after the newest one (copy it; `revision` is the next number,
four digits, and `down_revision` the newest), then change the ORM classes to match. Never edit a revision
that has shipped.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

# Any 64-bit number that other users of a PostgreSQL database are unlikely to lock.
_PG_LOCK_KEY = 0x46524F4E544C4E  # "FRONTLN"

REVISIONS = Path(__file__).resolve().parent / "revisions"


class SchemaError(Exception):
    """The database cannot be used by this Frontline (newer schema, not a Frontline database, …)."""


def _script():
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(REVISIONS), version_locations=[str(REVISIONS)])


def _number(revision: str) -> int:
    return int(revision) if revision.isdigit() else -1


def _latest() -> int:
    """The newest revision's number, from the file names (`0004_….py`): reading them needs no Alembic."""
    return max(int(p.name[:4]) for p in REVISIONS.glob("[0-9][0-9][0-9][0-9]_*.py"))


LATEST = _latest()
"""The newest schema this Frontline knows (the number of its newest revision)."""


def _version_table() -> sa.Table:
    return sa.Table("schema_version", sa.MetaData(), sa.Column("version", sa.Integer, nullable=False))


def _alembic_revision(conn: Connection) -> str | None:
    table = sa.Table("alembic_version", sa.MetaData(), sa.Column("version_num", sa.String(32)))
    return conn.execute(sa.select(table.c.version_num)).scalar()


def current_version(conn: Connection) -> int | None:
    """The database's schema version; 0 for an empty database, None when it holds tables but is not ours.

    A revision this Frontline does not know reads as newer than LATEST."""
    inspector = sa.inspect(conn)
    versions: list[int] = []
    if inspector.has_table("alembic_version"):
        revision = _alembic_revision(conn)
        if revision is not None:
            number = _number(revision)
            versions.append(number if number >= 0 else LATEST + 1)
    if inspector.has_table("schema_version"):  # a database from before Alembic (also kept in step since)
        version = conn.execute(sa.select(_version_table().c.version)).scalar()
        versions.append(int(version) if version is not None else 0)
    if versions:
        return max(versions)
    if inspector.has_table("alembic_version"):
        return 0
    return None if inspector.has_table("sessions") else 0


def stamped(conn: Connection) -> bool:
    """Whether Alembic knows the database's revision (a database from before Alembic is stamped on opening)."""
    return sa.inspect(conn).has_table("alembic_version") and _alembic_revision(conn) is not None


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    # SQLite: the caller's transaction began with BEGIN IMMEDIATE and already holds the write lock.


def upgrade(conn: Connection, target: int | None = None) -> tuple[int, int]:
    """Bring the database on `conn` (inside a write transaction) up to `target` (default: the newest).

    Returns (version before, version after).
    """
    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    target = LATEST if target is None else target
    _lock(conn)
    before = current_version(conn)
    if before is None:
        raise SchemaError("this database holds tables that are not Frontline's (no schema_version table)")
    if before > LATEST:
        raise SchemaError(
            f"this database was written by a newer Frontline (schema version {before}; this one knows up to "
            f"{LATEST}); upgrade Frontline to open it"
        )
    if before >= target and (before == 0 or stamped(conn)):
        return before, before
    script = _script()
    destination = f"{target:04d}"

    def revisions(current, context):
        return script._upgrade_revs(destination, current)

    # Inside the caller's transaction: Alembic adds none of its own, so the lock above covers every step.
    context = MigrationContext.configure(conn, opts={"fn": revisions, "destination_rev": destination})
    if before > 0 and context.get_current_revision() is None:  # stamped by schema_version only (pre-Alembic)
        context.stamp(script, f"{before:04d}")
    if before < target:
        with Operations.context(context):
            context.run_migrations()
    heads = script.get_heads()
    assert len(heads) == 1 and _number(heads[0]) == LATEST, f"the schema revisions do not end at {LATEST}: {heads}"
    after = _number(context.get_current_revision() or "0")

    table = _version_table()  # kept in step for Frontlines from before Alembic
    if not sa.inspect(conn).has_table("schema_version"):
        table.create(conn)
    if conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 0:
        conn.execute(table.insert().values(version=after))
    else:
        conn.execute(table.update().values(version=after))
    return before, after
