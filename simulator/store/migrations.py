"""The store's schema, version by version.

The database keeps its version in `schema_version` (one row). Opening a database runs every migration above
that version, in order, inside one transaction that holds a lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: an
advisory lock), so several Frontlines opening an old or new database at once upgrade it exactly once.

Each migration spells out its own tables and columns instead of reusing the ORM classes in `simulator.store`:
those describe the newest schema, and a migration must keep doing what it did when it was written.

To change the schema: append a function to MIGRATIONS, then change the ORM classes to match. Never edit a
migration that has shipped.
"""

from __future__ import annotations

from typing import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

# Any 64-bit number that other users of a PostgreSQL database are unlikely to lock.
_PG_LOCK_KEY = 0x46524F4E544C4E  # "FRONTLN"


class SchemaError(Exception):
    """The database cannot be used by this Frontline (newer schema, not a Frontline database, …)."""


def _v1_sessions_and_turns(conn: Connection) -> None:
    """Trainees, their sessions and every scored turn."""
    md = sa.MetaData()
    sa.Table(
        "trainees", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    sa.Table(
        "sessions", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("trainee_id", sa.Integer, sa.ForeignKey("trainees.id", ondelete="CASCADE"), nullable=False),
        sa.Column("scenario_id", sa.String(64), nullable=False),
        sa.Column("scenario_title", sa.String(300), nullable=False, server_default=""),
        sa.Column("setting", sa.Text, nullable=False, server_default=""),
        sa.Column("content_hash", sa.String(64), nullable=False, server_default=""),
        sa.Column("rubric_id", sa.String(64), nullable=False),
        sa.Column("model_version", sa.String(200), nullable=False, server_default=""),
        sa.Column("difficulty", sa.String(16), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("opening", sa.Text, nullable=False, server_default=""),
        sa.Column("pass_mark", sa.Float, nullable=True),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("ended_at", sa.DateTime, nullable=True),
        sa.Column("ending", sa.String(64), nullable=True),
        sa.Column("ending_kind", sa.String(16), nullable=True),
        sa.Column("ending_summary", sa.Text, nullable=True),
        sa.Column("overall", sa.Float, nullable=True),
        sa.Column("passed", sa.Boolean, nullable=True),
        sa.Column("averages", sa.JSON, nullable=True),
        sa.Index("ix_sessions_trainee_scenario", "trainee_id", "scenario_id"),
        sa.Index("ix_sessions_started_at", "started_at"),
    )
    sa.Table(
        "turns", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("session_id", sa.Integer, sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("beat", sa.String(64), nullable=False),
        sa.Column("customer_line", sa.Text, nullable=False),
        sa.Column("reply", sa.Text, nullable=False),
        sa.Column("scores", sa.JSON, nullable=False),
        sa.Column("levels", sa.JSON, nullable=False),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("feedback", sa.JSON, nullable=False),
        sa.Column("overall", sa.Float, nullable=False),
        sa.Column("red_flags", sa.JSON, nullable=False),
        sa.Column("goals_met", sa.JSON, nullable=False),
        sa.Column("mood_before", sa.Float, nullable=False),
        sa.Column("mood_after", sa.Float, nullable=False),
        sa.Column("patience_after", sa.Integer, nullable=False),
        sa.Column("next_beat", sa.String(64), nullable=True),
        sa.Column("customer_reaction", sa.Text, nullable=False),
        sa.Column("ending", sa.String(64), nullable=True),
        sa.Column("nearest_model_reply", sa.Text, nullable=True),
        sa.Column("model_version", sa.String(200), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("session_id", "number", name="uq_turns_session_number"),
    )
    md.create_all(conn)


def _v2_trainer_review(conn: Connection) -> None:
    """Trainer overrides of a turn's criterion level, and the session's reviewed flag."""
    md = sa.MetaData()
    sa.Table("turns", md, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table(
        "reviews", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("turn_id", sa.Integer, sa.ForeignKey("turns.id", ondelete="CASCADE"), nullable=False),
        sa.Column("criterion", sa.String(64), nullable=False),
        sa.Column("model_level", sa.Integer, nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("comment", sa.Text, nullable=False, server_default=sa.text("''")),
        sa.Column("reviewer", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Index("ix_reviews_turn", "turn_id"),
    )
    md.tables["reviews"].create(conn)
    _add_column(conn, "sessions", sa.Column("reviewed", sa.Boolean, nullable=False, server_default=sa.false()))
    _add_column(conn, "sessions", sa.Column("reviewed_by", sa.String(200), nullable=True))
    _add_column(conn, "sessions", sa.Column("reviewed_at", sa.DateTime, nullable=True))


def _v3_turn_notes(conn: Connection) -> None:
    """What the customer noticed in a turn beyond its scores (a repeated reply, a restated refusal)."""
    _add_column(conn, "turns", sa.Column("notes", sa.JSON, nullable=True))


def _v4_overrides_count(conn: Connection) -> None:
    """Overrides that count: the session's result with the trainer's levels in force (kept beside the model's),
    the rule that result is computed with, undoing an override, and a trainer's comment on the whole session."""
    _add_column(conn, "sessions", sa.Column("result_rule", sa.JSON, nullable=True))
    _add_column(conn, "sessions", sa.Column("reviewed_overall", sa.Float, nullable=True))
    _add_column(conn, "sessions", sa.Column("reviewed_passed", sa.Boolean, nullable=True))
    _add_column(conn, "sessions", sa.Column("reviewed_averages", sa.JSON, nullable=True))
    _add_column(conn, "sessions", sa.Column("comment", sa.Text, nullable=False, server_default=sa.text("''")))
    _add_column(conn, "sessions", sa.Column("comment_by", sa.String(200), nullable=True))
    _add_column(conn, "sessions", sa.Column("comment_at", sa.DateTime, nullable=True))
    _add_column(conn, "reviews", sa.Column("undoes_id", sa.Integer, nullable=True))


MIGRATIONS: list[tuple[int, Callable[[Connection], None]]] = [
    (1, _v1_sessions_and_turns),
    (2, _v2_trainer_review),
    (3, _v3_turn_notes),
    (4, _v4_overrides_count),
]
LATEST = MIGRATIONS[-1][0]


def _add_column(conn: Connection, table: str, column: sa.Column) -> None:
    dialect = conn.dialect
    preparer = dialect.identifier_preparer
    ddl = f"ALTER TABLE {preparer.quote(table)} ADD COLUMN {preparer.quote(column.name)} "
    ddl += column.type.compile(dialect=dialect)
    if column.server_default is not None:
        default = column.server_default.arg
        text = default if isinstance(default, str) else str(
            default.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
        )
        ddl += f" DEFAULT {text}"
    if not column.nullable:
        ddl += " NOT NULL"
    conn.exec_driver_sql(ddl)


def _version_table() -> sa.Table:
    return sa.Table("schema_version", sa.MetaData(), sa.Column("version", sa.Integer, nullable=False))


def current_version(conn: Connection) -> int | None:
    """The database's schema version; 0 for an empty database, None when it holds tables but is not ours."""
    inspector = sa.inspect(conn)
    if not inspector.has_table("schema_version"):
        return None if inspector.has_table("sessions") else 0
    version = conn.execute(sa.select(_version_table().c.version)).scalar()
    return int(version) if version is not None else 0


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    # SQLite: the caller's transaction began with BEGIN IMMEDIATE and already holds the write lock.


def upgrade(conn: Connection, target: int | None = None) -> tuple[int, int]:
    """Bring the database on `conn` (inside a write transaction) up to `target` (default: the newest).

    Returns (version before, version after).
    """
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
    table = _version_table()
    if not sa.inspect(conn).has_table("schema_version"):
        table.create(conn)
    if conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 0:
        conn.execute(table.insert().values(version=0))
    version = before
    for number, migrate in MIGRATIONS:
        if version < number <= target:
            migrate(conn)
            conn.execute(table.update().values(version=number))
            version = number
    return before, version
