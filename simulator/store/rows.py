"""The tables, in the newest schema (`simulator.store.migrations` builds and upgrades them)."""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# -- columns and tables (the newest schema; simulator.store.migrations builds it) -----------------------------------


class UTCDateTime(sa.TypeDecorator):
    """Stored as naive UTC (SQLite has no time zones); handed back as aware UTC."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.astimezone()  # naive means local time
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    pass


class TraineeRow(Base):
    __tablename__ = "trainees"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SessionRow(Base):
    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    trainee_id: Mapped[int] = mapped_column(sa.ForeignKey("trainees.id", ondelete="CASCADE"))
    scenario_id: Mapped[str] = mapped_column(sa.String(64))
    scenario_title: Mapped[str] = mapped_column(sa.String(300), default="")
    setting: Mapped[str] = mapped_column(sa.Text, default="")
    content_hash: Mapped[str] = mapped_column(sa.String(64), default="")
    rubric_id: Mapped[str] = mapped_column(sa.String(64))
    model_version: Mapped[str] = mapped_column(sa.String(200), default="")
    difficulty: Mapped[str] = mapped_column(sa.String(16))
    mode: Mapped[str] = mapped_column(sa.String(16))
    seed: Mapped[int] = mapped_column(sa.BigInteger)
    opening: Mapped[str] = mapped_column(sa.Text, default="")
    pass_mark: Mapped[float | None] = mapped_column(sa.Float)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ending: Mapped[str | None] = mapped_column(sa.String(64))
    ending_kind: Mapped[str | None] = mapped_column(sa.String(16))
    ending_summary: Mapped[str | None] = mapped_column(sa.Text)
    overall: Mapped[float | None] = mapped_column(sa.Float)
    passed: Mapped[bool | None] = mapped_column(sa.Boolean)
    averages: Mapped[dict[str, float] | None] = mapped_column(sa.JSON)
    reviewed: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    reviewed_by: Mapped[str | None] = mapped_column(sa.String(200))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result_rule: Mapped[dict | None] = mapped_column(sa.JSON, nullable=True)
    """How a result is computed from levels (criteria weights, floors, top levels); None before schema 4."""
    reviewed_overall: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    """The overall score with the trainer's levels in force; None while no override is in force."""
    reviewed_passed: Mapped[bool | None] = mapped_column(sa.Boolean, nullable=True)
    reviewed_averages: Mapped[dict[str, float] | None] = mapped_column(sa.JSON, nullable=True)
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    """The trainer's comment on the whole session."""
    comment_by: Mapped[str | None] = mapped_column(sa.String(200))
    comment_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    trainee: Mapped[TraineeRow] = relationship(lazy="joined")
    turns: Mapped[list[TurnRow]] = relationship(
        back_populates="session", order_by="TurnRow.number", cascade="all, delete-orphan", passive_deletes=True
    )


class TurnRow(Base):
    __tablename__ = "turns"
    __table_args__ = (sa.UniqueConstraint("session_id", "number", name="uq_turns_session_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("sessions.id", ondelete="CASCADE"))
    number: Mapped[int]
    beat: Mapped[str] = mapped_column(sa.String(64))
    customer_line: Mapped[str] = mapped_column(sa.Text)
    reply: Mapped[str] = mapped_column(sa.Text)
    scores: Mapped[dict[str, float]] = mapped_column(sa.JSON)
    levels: Mapped[dict[str, int]] = mapped_column(sa.JSON)
    evidence: Mapped[dict[str, list[str]]] = mapped_column(sa.JSON)
    feedback: Mapped[dict[str, str]] = mapped_column(sa.JSON)
    overall: Mapped[float]
    red_flags: Mapped[list[str]] = mapped_column(sa.JSON)
    goals_met: Mapped[list[str]] = mapped_column(sa.JSON)
    mood_before: Mapped[float]
    mood_after: Mapped[float]
    patience_after: Mapped[int]
    next_beat: Mapped[str | None] = mapped_column(sa.String(64))
    customer_reaction: Mapped[str] = mapped_column(sa.Text)
    ending: Mapped[str | None] = mapped_column(sa.String(64))
    nearest_model_reply: Mapped[str | None] = mapped_column(sa.Text)
    model_version: Mapped[str] = mapped_column(sa.String(200), default="")
    notes: Mapped[list[str] | None] = mapped_column(sa.JSON, nullable=True)
    """None in turns stored before notes were kept (schema 3)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    session: Mapped[SessionRow] = relationship(back_populates="turns")
    reviews: Mapped[list[ReviewRow]] = relationship(
        order_by="ReviewRow.id", cascade="all, delete-orphan", passive_deletes=True
    )


class ReviewRow(Base):
    """One trainer override of one criterion of one turn; the newest per (turn, criterion) is in force."""

    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    turn_id: Mapped[int] = mapped_column(sa.ForeignKey("turns.id", ondelete="CASCADE"), index=True)
    criterion: Mapped[str] = mapped_column(sa.String(64))
    model_level: Mapped[int]
    level: Mapped[int]
    comment: Mapped[str] = mapped_column(sa.Text, default="")
    reviewer: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    undoes_id: Mapped[int | None] = mapped_column(nullable=True)
    """Set on an undo: the id of the override it takes back (`level` is then the level in force after it)."""


