"""Schema 4: Overrides that count: the session's result with the trainer's levels in force (kept beside the model's),

Shipped: never edit this file. A later change to the schema is a new revision after the newest one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection

from simulator.store.ddl import add_column as _add_column

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _migrate(op.get_bind())


def downgrade() -> None:
    raise NotImplementedError("Frontline's schema is never downgraded: restore a backup taken before the upgrade")


def _migrate(conn: Connection) -> None:
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
