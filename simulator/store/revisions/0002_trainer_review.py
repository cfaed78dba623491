"""Schema 2: Trainer overrides of a turn's criterion level, and the session's reviewed flag.

Shipped: never edit this file. A later change to the schema is a new revision after the newest one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection

from simulator.store.ddl import add_column as _add_column

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _migrate(op.get_bind())


def downgrade() -> None:
    raise NotImplementedError("Frontline's schema is never downgraded: restore a backup taken before the upgrade")


def _migrate(conn: Connection) -> None:
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
