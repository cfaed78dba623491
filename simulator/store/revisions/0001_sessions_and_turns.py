"""Schema 1: Trainees, their sessions and every scored turn.

Shipped: never edit this file. A later change to the schema is a new revision after the newest one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import Connection

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    _migrate(op.get_bind())


def downgrade() -> None:
    raise NotImplementedError("Frontline's schema is never downgraded: restore a backup taken before the upgrade")


def _migrate(conn: Connection) -> None:
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
