"""Schema 3: What the customer noticed in a turn beyond its scores (a repeated reply, a restated refusal).

Shipped: never edit this file. A later change to the schema is a new revision after the newest one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection

from simulator.store.ddl import add_column as _add_column

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _migrate(op.get_bind())


def downgrade() -> None:
    raise NotImplementedError("Frontline's schema is never downgraded: restore a backup taken before the upgrade")


def _migrate(conn: Connection) -> None:
    """What the customer noticed in a turn beyond its scores (a repeated reply, a restated refusal)."""
    _add_column(conn, "turns", sa.Column("notes", sa.JSON, nullable=True))
