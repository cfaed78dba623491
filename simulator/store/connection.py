"""Where sessions are kept: trainees, their sessions, every scored turn, and the trainer's review of them.

SQLite by default (a file in the user's data folder), PostgreSQL for a team. The database is chosen by, first
to last: an explicit URL (`--db`, `Services.db_url`), the environment variable FRONTLINE_DB, and the SQLite file
`frontline.db` in FRONTLINE_DATA_DIR or else the platform's user data folder.

Each turn is committed the moment it is scored, so a crash loses at most the reply being scored. SQLite runs
in WAL mode with synchronous=FULL, a 10 s busy timeout and foreign keys on; every write transaction starts
with BEGIN IMMEDIATE, so concurrent writers queue instead of failing halfway.

Everything the store hands back is plain data (`StoredSession`, `StoredTurn`, `Override`), detached from the
database: callers never hold a database transaction open, and any thread may call any method.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, selectinload

from simulator import settings
from simulator.content.rubric import Rubric
from simulator.content.scenario import MODES
from simulator.engine import Conversation, SessionResult, Turn
from simulator.errors import StoreError
from simulator.store import migrations
from simulator.store import results
from simulator.store.records import (
    DamagedRecord,
    Override,
    StoredSession,
    StoredTurn,
    in_force,
    loads,
    override_record,
    session_record,
    turn_record,
)
from simulator.store.rows import ReviewRow, SessionRow, TraineeRow, TurnRow

BUSY_TIMEOUT_S = 10.0
PG_CONNECT_TIMEOUT_S = 5
URL_HINT = "sqlite:////home/me/frontline.db or postgresql+psycopg://user:password@host:5432/frontline"


class UnknownSession(StoreError, LookupError):
    pass


class UnknownTurn(StoreError, LookupError):
    pass


class DamagedSession(StoreError):
    """Stored sessions whose rows hold values Frontline never writes (edited or damaged outside Frontline)."""

    def __init__(self, problems: list[tuple[int, str]], where: str):
        self.problems = problems
        self.session_ids = [sid for sid, _ in problems]
        first_id, first = problems[0]
        if len(problems) == 1:
            head = f"session {first_id} cannot be read: {first}"
        else:
            ids = ", ".join(str(sid) for sid in self.session_ids)
            head = f"sessions {ids} cannot be read (session {first_id}: {first})"
        super().__init__(
            f"{head}. The database {where} was changed outside Frontline or is damaged; restore it from a backup. "
            "Other sessions can still be read one by one (`frontline export ID`; `frontline review` lists them)"
        )


# Rows that fail to load hold damaged values: a column of the wrong type (text where a number belongs, an
# unparseable date, JSON that is not JSON or not the shape Frontline writes).
_DAMAGE = (DamagedRecord, ValueError, TypeError, LookupError, AttributeError, ArithmeticError)

MAX_ID = 2**63 - 1
"""Ids are 64-bit; a larger (or negative) number names no row, so it is never sent to the database."""


def _valid_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable(text: object) -> str | None:
    """Why no back-end can store `text` (PostgreSQL refuses NUL; neither encodes a lone surrogate), else None.
    Looks inside lists and dicts too."""
    if isinstance(text, str):
        found = _UNSTORABLE.search(text)
        if found is None:
            return None
        if found.group() == "\x00":
            return "contains a NUL character (\\0)"
        return f"contains a lone surrogate (\\u{ord(found.group()):04x}), which is not valid text"
    if isinstance(text, dict):
        return next((why for item in text.items() for why in map(unstorable, item) if why), None)
    if isinstance(text, (list, tuple)):
        return next((why for why in map(unstorable, text) if why), None)
    return None


def check_storable(what: str, text: object) -> None:
    """StoreError before anything is written if `text` cannot be stored the same way on every back-end."""
    why = unstorable(text)
    if why:
        raise StoreError(f"{what} {why}, which the database cannot store; retype it without that character")


# -- where the database is ---------------------------------------------------------------------------------------


def resolve_url(url: str | None = None) -> str:
    """Explicit URL > FRONTLINE_DB > SQLite `frontline.db` in the data folder."""
    if url:
        return url
    configured = settings.current().db_url
    if configured:
        return configured
    return f"sqlite:///{settings.default_sqlite_path()}"


def _parse_url(text: str) -> sa.URL:
    try:
        url = sa.make_url(text)
    except (sa_exc.ArgumentError, ValueError):
        raise StoreError(f"{text!r} is not a database URL; give one like {URL_HINT}") from None
    backend = url.get_backend_name()
    if backend in ("postgresql", "postgres") and url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")  # the driver Frontline ships with
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise StoreError(
            f"Frontline keeps sessions in SQLite or PostgreSQL, not {backend!r} ({text}); give a URL like {URL_HINT}"
        )
    return url


# -- SQLite connection set-up ---------------------------------------------------------------------------------


def _sqlite_on_connect(dbapi_connection, _record) -> None:
    # Take transactions out of the driver's hands: SQLAlchemy's "begin" event below emits BEGIN itself.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _sqlite_on_begin(conn: sa.Connection) -> None:
    # A writer takes the write lock up front, so it waits (busy_timeout) rather than failing at its first write.
    write = conn.get_execution_options().get("frontline_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _make_engine(url: sa.URL) -> sa.Engine:
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        memory = database in ("", ":memory:") or database.startswith("file::memory:")
        kwargs: dict[str, Any] = {"connect_args": {"timeout": BUSY_TIMEOUT_S, "check_same_thread": False}}
        if memory:
            kwargs["poolclass"] = sa.pool.StaticPool
        elif not Path(database).expanduser().parent.is_dir():
            raise StoreError(
                f"cannot open the SQLite database {database}: the folder {Path(database).parent} does not exist; "
                "create it or give another --db"
            )
        engine = sa.create_engine(url, json_deserializer=loads, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT_S
    return sa.create_engine(url, connect_args=connect_args, pool_pre_ping=True, json_deserializer=loads)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _boundary(value: date | datetime, *, end: bool) -> datetime:
    """A filter bound: a date covers the whole (local) day; a naive datetime is local time."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.astimezone()
    day = value + timedelta(days=1) if end else value
    return datetime.combine(day, time.min).astimezone()


# -- the store --------------------------------------------------------------------------------------------------


class Store:
    """Sessions, turns and reviews in one database. Cheap to open; call `close()` (or use `with`)."""

    def __init__(self, url: str | None = None, *, now: Callable[[], datetime] | None = None):
        self.url = resolve_url(url)
        self._now = now or _utcnow
        parsed = _parse_url(self.url)
        self.backend = parsed.get_backend_name()
        self.display_url = parsed.render_as_string(hide_password=True)
        if self.backend == "sqlite" and url is None and parsed.database:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)  # the default data folder
        try:
            self.engine = _make_engine(parsed)
        except (ImportError, sa_exc.NoSuchModuleError, sa_exc.ArgumentError) as exc:
            raise StoreError(f"cannot use the database URL {self.display_url}: {exc}; give a URL like {URL_HINT}") from None
        self._writer = self.engine.execution_options(frontline_write=True)
        try:
            self.schema_version = self._migrate()
        except BaseException:
            self.engine.dispose()
            raise

    # -- plumbing

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:
        return f"Store({self.display_url!r})"

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except StoreError:
            raise
        except migrations.SchemaError as exc:
            raise StoreError(f"{self.display_url}: {exc}") from None
        except sa_exc.DBAPIError as exc:
            raise StoreError(self._explain(exc, doing)) from None
        except sa_exc.SQLAlchemyError as exc:
            raise StoreError(f"database error while {doing} ({self.display_url}): {exc}") from None

    def _explain(self, exc: sa_exc.DBAPIError, doing: str) -> str:
        detail = " ".join(str(exc.orig).split()) or type(exc.orig).__name__
        low = detail.lower()
        where = self.display_url
        if self.backend == "sqlite":
            path = self.url.split("///", 1)[-1]
            if "locked" in low or "busy" in low:
                return (f"the database {path} stayed locked for {BUSY_TIMEOUT_S:.0f} s while {doing} (another "
                        "Frontline is writing to it); try again")
            if "unable to open" in low or "readonly" in low or "read-only" in low:
                return (f"cannot write to the SQLite database {path} ({detail}); check that the folder exists and "
                        "that you may write there, or give another --db")
            if "not a database" in low or "malformed" in low:
                return f"{path} is not a usable SQLite database ({detail}); give another --db or FRONTLINE_DB"
        elif isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)) and (
            exc.connection_invalidated or "connect" in low or "connection" in low or "timeout" in low
            or "resolve" in low or "translate host" in low or "authentication" in low or "does not exist" in low
        ):
            return (f"cannot reach the database at {where} ({detail.rstrip('.')}); check that the server is "
                    "running and the URL (--db or FRONTLINE_DB) is right")
        return f"database error while {doing} ({where}): {detail}"

    def _reader(self) -> Session:
        return Session(bind=self.engine, expire_on_commit=False)

    def _write(self) -> Session:
        return Session(bind=self._writer, expire_on_commit=False)

    def _migrate(self) -> int:
        with self._errors("opening the database"):
            with self.engine.connect() as conn:
                version = migrations.current_version(conn)
                current = version == migrations.LATEST and migrations.stamped(conn)
            if current:
                return version
            with self._writer.begin() as conn:
                _, version = migrations.upgrade(conn)
            return version

    # -- writing

    def _trainee_id(self, s: Session, name: str) -> int:
        name = name.strip()
        if not name:
            raise StoreError("the trainee's name is empty; give --trainee NAME")
        if self.backend == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        s.execute(insert(TraineeRow).values(name=name, created_at=self._now())
                  .on_conflict_do_nothing(index_elements=["name"]))
        return s.execute(sa.select(TraineeRow.id).where(TraineeRow.name == name)).scalar_one()

    @staticmethod
    def _check_turn(turn: Turn) -> None:
        for name in ("beat", "customer_line", "reply", "evidence", "feedback", "red_flags", "goals_met", "next_beat",
                     "customer_reaction", "ending", "nearest_model_reply", "model_version", "scores", "levels",
                     "notes"):
            check_storable(f"turn {turn.number}'s {name.replace('_', ' ')}", getattr(turn, name))

    def _turn_row(self, session_id: int, turn: Turn) -> TurnRow:
        return TurnRow(
            session_id=session_id, number=turn.number, beat=turn.beat, customer_line=turn.customer_line,
            reply=turn.reply, scores=dict(turn.scores), levels=dict(turn.levels),
            evidence={k: list(v) for k, v in turn.evidence.items()}, feedback=dict(turn.feedback),
            overall=turn.overall, red_flags=list(turn.red_flags), goals_met=list(turn.goals_met),
            mood_before=turn.mood_before, mood_after=turn.mood_after, patience_after=turn.patience_after,
            next_beat=turn.next_beat, customer_reaction=turn.customer_reaction, ending=turn.ending,
            nearest_model_reply=turn.nearest_model_reply, model_version=turn.model_version, created_at=self._now(),
            notes=list(turn.notes),
        )

    def start_session(self, *, trainee: str, conversation: Conversation, mode: str = "practice",
                      content_hash: str = "", scorer_version: str = "") -> int:
        """Store a new session (and any turns the conversation already has); returns its id. `scorer_version`
        names the scorer that scores it (else the first stored turn's)."""
        if mode not in MODES:
            raise StoreError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        scenario = conversation.scenario
        scorer_version = scorer_version or next((t.model_version for t in conversation.turns if t.model_version), "")
        check_storable("the trainee's name", trainee)
        for what, text in (("the scenario id", scenario.id), ("the scenario title", scenario.title),
                           ("the scenario's setting", scenario.setting.business), ("the rubric id", conversation.rubric.id),
                           ("the opening line", conversation.opening), ("the scorer version", scorer_version),
                           ("the content hash", content_hash)):
            check_storable(what, text)
        for turn in conversation.turns:
            self._check_turn(turn)
        with self._errors("starting a session"), self._write() as s, s.begin():
            row = SessionRow(
                trainee_id=self._trainee_id(s, trainee), scenario_id=scenario.id, scenario_title=scenario.title,
                setting=scenario.setting.business, content_hash=content_hash or "", rubric_id=conversation.rubric.id,
                model_version=scorer_version or "", difficulty=conversation.difficulty.value, mode=mode,
                seed=conversation.seed, opening=conversation.opening, pass_mark=conversation.pass_mark,
                started_at=self._now(), reviewed=False, result_rule=results.rule_of(conversation.rubric),
            )
            s.add(row)
            s.flush()
            for turn in conversation.turns:
                s.add(self._turn_row(row.id, turn))
            return row.id

    def record_turn(self, session_id: int, turn: Turn) -> int:
        """Commit one scored turn; returns the turn's id."""
        if not _valid_id(session_id):
            raise UnknownSession(f"no session with id {session_id}")
        self._check_turn(turn)
        with self._errors("saving a turn"), self._write() as s, s.begin():
            row = s.get(SessionRow, session_id)
            if row is None:
                raise UnknownSession(f"no session with id {session_id}")
            if row.ended_at is not None:
                raise StoreError(f"session {session_id} has already ended; it takes no more turns")
            taken = s.execute(sa.select(TurnRow.id).where(TurnRow.session_id == session_id,
                                                          TurnRow.number == turn.number)).first()
            if taken is not None:
                raise StoreError(f"session {session_id} already has a turn {turn.number}")
            if not row.model_version and turn.model_version:
                row.model_version = turn.model_version
            turn_row = self._turn_row(session_id, turn)
            s.add(turn_row)
            s.flush()
            return turn_row.id

    def finish_session(self, session_id: int, result: SessionResult) -> None:
        if not _valid_id(session_id):
            raise UnknownSession(f"no session with id {session_id}")
        for what, text in (("the ending", result.ending), ("the ending summary", result.ending_summary),
                           ("the ending kind", result.ending_kind), ("the averages", result.averages)):
            check_storable(what, text)
        with self._errors("finishing a session"), self._write() as s, s.begin():
            row = s.get(SessionRow, session_id)
            if row is None:
                raise UnknownSession(f"no session with id {session_id}")
            if row.ended_at is not None:
                raise StoreError(f"session {session_id} has already ended")
            row.ended_at = self._now()
            row.ending = result.ending
            row.ending_kind = result.ending_kind
            row.ending_summary = result.ending_summary
            row.overall = result.overall
            row.passed = result.passed
            row.pass_mark = result.pass_mark
            row.averages = dict(result.averages)
            s.flush()
            self._recompute(s, row, None)

    def override(self, turn_id: int, criterion: str, level: int, comment: str, reviewer: str, *,
                 rubric: Rubric | None = None) -> Override:
        """A trainer's level for one criterion of one turn; the model's level is kept beside it, and the
        session's result is recomputed with the trainer's levels in force (`simulator.store.results`). `rubric`
        is needed only for sessions stored before the rule was kept with them (schema 4)."""
        if isinstance(level, bool) or not isinstance(level, int) or level < 0:
            raise StoreError(f"a level is a whole number from 0 up, not {level!r}")
        check_storable("the comment", comment or "")
        with self._errors("saving an override"), self._write() as s, s.begin():
            turn = self._turn_for_review(s, turn_id, criterion, reviewer)
            top = self._top_level(s, turn, criterion, rubric)
            if top is not None and level > top:
                raise StoreError(f"{criterion} has levels 0 to {top}; {level} is not one of them")
            row = ReviewRow(
                turn_id=turn_id, criterion=criterion, model_level=int(turn.levels[criterion]), level=level,
                comment=comment or "", reviewer=reviewer.strip(), created_at=self._now(),
            )
            s.add(row)
            s.flush()
            self._recompute(s, turn.session, rubric)
            return override_record(row)

    def undo_override(self, turn_id: int, criterion: str, reviewer: str, *,
                      rubric: Rubric | None = None) -> Override:
        """Take back the override in force for one criterion of one turn: the one before it (or the model's
        level) is in force again. The undo is kept in the history, with who and when, beside the override."""
        with self._errors("undoing an override"), self._write() as s, s.begin():
            turn = self._turn_for_review(s, turn_id, criterion, reviewer)
            history = [override_record(r) for r in turn.reviews]
            current = in_force(history).get(criterion)
            if current is None:
                raise StoreError(f"turn {turn.number}'s {criterion} has no override to undo; it is the model's level")
            after = in_force(history + [Override(
                id=0, turn_id=turn_id, criterion=criterion, model_level=current.model_level, level=0, comment="",
                reviewer="", created_at=self._now(), undoes=current.id)]).get(criterion)
            row = ReviewRow(
                turn_id=turn_id, criterion=criterion, model_level=int(turn.levels[criterion]),
                level=after.level if after else int(turn.levels[criterion]), comment="",
                reviewer=reviewer.strip(), created_at=self._now(), undoes_id=current.id,
            )
            s.add(row)
            s.flush()
            self._recompute(s, turn.session, rubric)
            return override_record(row)

    def _turn_for_review(self, s: Session, turn_id: int, criterion: str, reviewer: str) -> TurnRow:
        if not reviewer or not reviewer.strip():
            raise StoreError("an override needs the reviewer's name")
        check_storable("the reviewer's name", reviewer)
        check_storable("the criterion", criterion)
        if not _valid_id(turn_id):
            raise UnknownTurn(f"no turn with id {turn_id}")
        turn = s.get(TurnRow, turn_id)
        if turn is None:
            raise UnknownTurn(f"no turn with id {turn_id}")
        if not isinstance(turn.levels, dict) or not all(isinstance(v, int) for v in turn.levels.values()):
            raise DamagedSession([(turn.session_id, f"turn {turn.number}'s levels are {turn.levels!r:.60}, not "
                                                    "a JSON object of whole numbers")], self.display_url)
        if criterion not in turn.levels:
            raise StoreError(f"turn {turn_id} has no criterion {criterion!r}; it has {', '.join(turn.levels)}")
        return turn

    @staticmethod
    def _rule(row: SessionRow, rubric: Rubric | None) -> dict | None:
        if results.valid_rule(row.result_rule):
            return row.result_rule
        if rubric is not None and rubric.id == row.rubric_id:
            row.result_rule = results.rule_of(rubric)
            return row.result_rule
        return None

    def _top_level(self, s: Session, turn: TurnRow, criterion: str, rubric: Rubric | None) -> int | None:
        rule = self._rule(turn.session, rubric)
        if rule is None or criterion not in rule["top"]:
            return None
        return int(rule["top"][criterion])

    def _recompute(self, s: Session, row: SessionRow, rubric: Rubric | None) -> bool:
        """Store the session's result with the overrides in force (None when none is); False when the rule
        for it is unknown (a session from before schema 4 and no rubric given)."""
        rule = self._rule(row, rubric)
        if rule is None:
            return False
        turns = s.execute(sa.select(TurnRow).where(TurnRow.session_id == row.id).order_by(TurnRow.number)
                          .options(selectinload(TurnRow.reviews))
                          .execution_options(populate_existing=True)).scalars().all()
        pairs = []
        any_override = False
        for t in turns:
            forced = {cid: o.level for cid, o in in_force([override_record(r) for r in t.reviews]).items()}
            any_override = any_override or bool(forced)
            pairs.append((t.scores, forced))
        if not any_override:
            row.reviewed_overall = row.reviewed_passed = row.reviewed_averages = None
            return True
        result = results.compute(rule, pairs, pass_mark=row.pass_mark,
                                 ending_kind=row.ending_kind if row.ended_at is not None else None)
        row.reviewed_overall = result.overall
        row.reviewed_passed = result.passed
        row.reviewed_averages = result.averages
        return True

    def refresh_results(self, rubric_for: Callable[[str], Rubric | None]) -> int:
        """Recompute the result of sessions stored before schema 4 that hold overrides (their rule is taken
        from `rubric_for(rubric_id)`, and kept); returns how many were recomputed."""
        stmt = (sa.select(SessionRow.id, SessionRow.rubric_id).where(SessionRow.result_rule.is_(None))
                .where(sa.exists().where(TurnRow.session_id == SessionRow.id)
                       .where(ReviewRow.turn_id == TurnRow.id)))
        done = 0
        with self._errors("recomputing results"):
            with self._reader() as s:
                todo = s.execute(stmt).all()
            for session_id, rubric_id in todo:
                rubric = rubric_for(rubric_id) if isinstance(rubric_id, str) else None
                if rubric is None:
                    continue
                with self._write() as s, s.begin():
                    row = s.get(SessionRow, session_id)
                    if row is not None and self._recompute(s, row, rubric):
                        done += 1
        return done

    def comment(self, session_id: int, comment: str, reviewer: str) -> None:
        """The trainer's comment on the whole session (empty clears it), with who wrote it and when."""
        check_storable("the comment", comment or "")
        check_storable("the reviewer's name", reviewer or "")
        if (comment or "").strip() and not (reviewer or "").strip():
            raise StoreError("a comment needs the reviewer's name")
        if not _valid_id(session_id):
            raise UnknownSession(f"no session with id {session_id}; `frontline review` lists them")
        with self._errors("saving a comment"), self._write() as s, s.begin():
            row = s.get(SessionRow, session_id)
            if row is None:
                raise UnknownSession(f"no session with id {session_id}; `frontline review` lists them")
            text = (comment or "").strip()
            row.comment = text
            row.comment_by = reviewer.strip() if text else None
            row.comment_at = self._now() if text else None

    def mark_reviewed(self, session_id: int, reviewer: str, *, reviewed: bool = True) -> None:
        if reviewed:
            check_storable("the reviewer's name", reviewer)
        if not _valid_id(session_id):
            raise UnknownSession(f"no session with id {session_id}; `frontline review` lists them")
        with self._errors("marking a session reviewed"), self._write() as s, s.begin():
            row = s.get(SessionRow, session_id)
            if row is None:
                raise UnknownSession(f"no session with id {session_id}; `frontline review` lists them")
            row.reviewed = reviewed
            row.reviewed_by = reviewer if reviewed else None
            row.reviewed_at = self._now() if reviewed else None

    # -- reading

    def _counts(self):
        turn_count = (sa.select(sa.func.count(TurnRow.id)).where(TurnRow.session_id == SessionRow.id)
                      .correlate(SessionRow).scalar_subquery())
        # overrides made and not undone (an undo row takes one back)
        override_count = (sa.select(sa.func.coalesce(sa.func.sum(
                              sa.case((ReviewRow.undoes_id.is_(None), 1), else_=-1)), 0))
                          .join(TurnRow, ReviewRow.turn_id == TurnRow.id)
                          .where(TurnRow.session_id == SessionRow.id).correlate(SessionRow).scalar_subquery())
        return turn_count, override_count

    def _query(self, s: Session, stmt, with_turns: bool,
               damaged: list[DamagedSession] | None = None) -> list[StoredSession]:
        """The sessions `stmt` selects. If a row will not load (a damaged value), each session is loaded on its
        own: the damaged ones are appended to `damaged` (one DamagedSession naming them all), or raised when
        `damaged` is None."""
        try:
            return self._load(s, stmt, with_turns)
        except _DAMAGE:
            s.rollback()
        ids = list(s.execute(stmt.with_only_columns(SessionRow.id)).scalars())
        found: list[StoredSession] = []
        problems: list[tuple[int, str]] = []
        for session_id in ids:
            s.expunge_all()
            try:
                found += self._load(s, sa.select(SessionRow).where(SessionRow.id == session_id), with_turns)
            except _DAMAGE as exc:
                s.rollback()
                detail = str(exc) if isinstance(exc, DamagedRecord) else (
                    f"a stored value will not load ({type(exc).__name__}: {exc})")
                problems.append((session_id, detail))
        if problems:
            error = DamagedSession(problems, self.display_url)
            if damaged is None:
                raise error
            damaged.append(error)
        return found

    def _load(self, s: Session, stmt, with_turns: bool) -> list[StoredSession]:
        turn_count, override_count = self._counts()
        stmt = stmt.add_columns(turn_count, override_count)
        if with_turns:
            stmt = stmt.options(selectinload(SessionRow.turns).selectinload(TurnRow.reviews))
        out = []
        for row, n_turns, n_overrides in s.execute(stmt).unique().all():
            turns = tuple(turn_record(t) for t in row.turns) if with_turns else ()
            out.append(session_record(row, turn_count=n_turns, override_count=n_overrides, turns=turns))
        return out

    def sessions(
        self,
        *,
        trainee: str | None = None,
        scenario: str | None = None,
        since: date | datetime | None = None,
        until: date | datetime | None = None,
        passed: bool | None = None,
        reviewed: bool | None = None,
        finished: bool | None = None,
        with_turns: bool = False,
        newest_first: bool = True,
        limit: int | None = None,
        damaged: list[DamagedSession] | None = None,
    ) -> list[StoredSession]:
        """Sessions matching every filter given. `since`/`until` are inclusive; a date means the whole day.
        `passed` True/False keeps finished sessions that passed/failed. A session whose stored values are
        damaged raises DamagedSession; with a `damaged` list it is left out and the error appended there."""
        if unstorable(trainee) or unstorable(scenario):
            return []  # no stored name holds a NUL or a lone surrogate (and PostgreSQL would refuse the query)
        stmt = sa.select(SessionRow).join(TraineeRow, SessionRow.trainee_id == TraineeRow.id)
        if trainee:
            stmt = stmt.where(TraineeRow.name == trainee)
        if scenario:
            stmt = stmt.where(SessionRow.scenario_id == scenario)
        if since is not None:
            stmt = stmt.where(SessionRow.started_at >= _boundary(since, end=False))
        if until is not None:
            bound = _boundary(until, end=True)
            stmt = stmt.where(SessionRow.started_at < bound if not isinstance(until, datetime)
                              else SessionRow.started_at <= bound)
        if passed is not None:
            final = sa.func.coalesce(SessionRow.reviewed_passed, SessionRow.passed)  # the trainer's result counts
            stmt = stmt.where(SessionRow.ended_at.is_not(None), final == sa.literal(passed))
        if reviewed is not None:
            stmt = stmt.where(SessionRow.reviewed.is_(reviewed))
        if finished is not None:
            stmt = stmt.where(SessionRow.ended_at.is_not(None) if finished else SessionRow.ended_at.is_(None))
        order = (SessionRow.started_at.desc(), SessionRow.id.desc()) if newest_first else (
            SessionRow.started_at, SessionRow.id)
        stmt = stmt.order_by(*order)
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._errors("reading sessions"), self._reader() as s:
            return self._query(s, stmt, with_turns, damaged)

    def session(self, session_id: int) -> StoredSession:
        """One session with its turns and their overrides; UnknownSession if there is none with that id,
        DamagedSession if its stored values are damaged."""
        if not _valid_id(session_id):
            raise UnknownSession(f"no session with id {session_id}; `frontline review` lists the sessions")
        with self._errors("reading a session"), self._reader() as s:
            found = self._query(s, sa.select(SessionRow).where(SessionRow.id == session_id), True)
        if not found:
            raise UnknownSession(f"no session with id {session_id}; `frontline review` lists the sessions")
        return found[0]

    def turn(self, turn_id: int) -> StoredTurn:
        if not _valid_id(turn_id):
            raise UnknownTurn(f"no turn with id {turn_id}")
        with self._errors("reading a turn"), self._reader() as s:
            session_id = s.execute(sa.select(TurnRow.session_id).where(TurnRow.id == turn_id)).scalar_one_or_none()
            if session_id is None:
                raise UnknownTurn(f"no turn with id {turn_id}")
            try:
                row = s.execute(sa.select(TurnRow).where(TurnRow.id == turn_id)
                                .options(selectinload(TurnRow.reviews))).scalar_one()
                return turn_record(row)
            except _DAMAGE as exc:
                raise DamagedSession([(session_id, str(exc) if isinstance(exc, DamagedRecord) else
                                       f"a stored value will not load ({type(exc).__name__}: {exc})")],
                                     self.display_url) from None

    def best_results(self, trainee: str) -> dict[str, float]:
        """Best overall score in force (the trainer's levels counted) of the trainee's finished sessions, per
        scenario id (damaged scores left out)."""
        if unstorable(trainee):
            return {}
        stmt = (
            sa.select(SessionRow.scenario_id,
                      sa.func.max(sa.func.coalesce(SessionRow.reviewed_overall, SessionRow.overall)))
            .join(TraineeRow, SessionRow.trainee_id == TraineeRow.id)
            .where(TraineeRow.name == trainee, SessionRow.ended_at.is_not(None), SessionRow.overall.is_not(None))
            .group_by(SessionRow.scenario_id)
        )
        with self._errors("reading results"), self._reader() as s:
            rows = s.execute(stmt).all()
        return {scenario_id: float(best) for scenario_id, best in rows
                if isinstance(best, (int, float)) and not isinstance(best, bool)}

    def last_unfinished(self, trainee: str, scenario_id: str) -> StoredSession | None:
        """The trainee's newest unfinished session of the scenario, with its turns; None if there is none."""
        if unstorable(trainee) or unstorable(scenario_id):
            return None
        stmt = (
            sa.select(SessionRow).join(TraineeRow, SessionRow.trainee_id == TraineeRow.id)
            .where(TraineeRow.name == trainee, SessionRow.scenario_id == scenario_id, SessionRow.ended_at.is_(None))
            .order_by(SessionRow.started_at.desc(), SessionRow.id.desc()).limit(1)
        )
        with self._errors("looking for an unfinished session"), self._reader() as s:
            found = self._query(s, stmt, True)
        return found[0] if found else None

    def trainees(self) -> list[str]:
        with self._errors("reading trainees"), self._reader() as s:
            return list(s.execute(sa.select(TraineeRow.name).order_by(TraineeRow.name)).scalars())


