"""DDL the shipped schema revisions spell out themselves, the same on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def add_column(conn: Connection, table: str, column: sa.Column) -> None:
    """ALTER TABLE … ADD COLUMN, spelled out the same on SQLite and PostgreSQL (used by the shipped revisions)."""
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
