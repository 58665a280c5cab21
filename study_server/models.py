"""SQLAlchemy 2.0 typed models of the study server.

Every table hangs off one `Base` whose metadata carries a naming convention, so Alembic can name
(and later drop) constraints the same way on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Timezone-aware now; every stored time is UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)


class Study(Base):
    """One experiment: a stimulus set, its trial lists and how people are recruited."""

    __tablename__ = "studies"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    recruiter: Mapped[str] = mapped_column(String(32), default="link")
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    stimulus_dir: Mapped[str] = mapped_column(Text, default="")
    """Absolute path of the imported stimulus set; images are served from here by opaque id."""
    stimulus_hash: Mapped[str] = mapped_column(String(128), default="")
    classes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    """[{"id": int, "name": str}] in the stimulus set's order."""
    conditions: Mapped[list[Any]] = mapped_column(JSON, default=list)
    """The Latin-square conditions (non-catch), sorted; list j gives source i conditions[(i + j) % K]."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    stimuli: Mapped[list[Stimulus]] = relationship(back_populates="study", cascade="all, delete-orphan")
    lists: Mapped[list[TrialList]] = relationship(
        back_populates="study", cascade="all, delete-orphan", order_by="TrialList.index"
    )


class Stimulus(Base):
    """One manifest row of the study's stimulus set (only what the server needs)."""

    __tablename__ = "stimuli"
    __table_args__ = (UniqueConstraint("study_id", "stimulus_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), index=True)
    stimulus_id: Mapped[str] = mapped_column(String(64))
    source_id: Mapped[str] = mapped_column(String(128))
    label: Mapped[int] = mapped_column(Integer)
    condition: Mapped[str] = mapped_column(String(64))
    catch: Mapped[bool] = mapped_column(Boolean, default=False)

    study: Mapped[Study] = relationship(back_populates="stimuli")


class TrialList(Base):
    """One counterbalanced list of a study; the row is locked while a participant is assigned."""

    __tablename__ = "trial_lists"
    __table_args__ = (UniqueConstraint("study_id", "index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    n_assigned: Mapped[int] = mapped_column(Integer, default=0)
    stimulus_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    """The list's stimuli (main and catch) in canonical order; each participant gets a seeded shuffle."""

    study: Mapped[Study] = relationship(back_populates="lists")


class Participant(Base):
    """A person taking a study; `public_id` is the unguessable token used in their URLs."""

    __tablename__ = "participants"
    # One participant per person and study: a second entry with the same platform id resumes the first.
    # NULL external ids (an anonymous plain link) never collide.
    __table_args__ = (
        UniqueConstraint("study_id", "recruiter", "external_id"),
        UniqueConstraint("study_id", "consent_nonce"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), index=True)
    list_id: Mapped[int | None] = mapped_column(ForeignKey("trial_lists.id"), index=True)
    status: Mapped[str] = mapped_column(String(32), default="allocated")
    recruiter: Mapped[str] = mapped_column(String(32), default="link")
    external_id: Mapped[str | None] = mapped_column(String(128), index=True)
    recruiter_data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    completion_code: Mapped[str | None] = mapped_column(String(64))
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    seed: Mapped[int] = mapped_column(Integer, default=0)
    trial_order: Mapped[list[Any]] = mapped_column(JSON, default=list)
    """Stimulus ids in the order this participant sees them (trial_index = position)."""
    legend_order: Mapped[list[Any]] = mapped_column(JSON, default=list)
    """Class ids in the order the legend buttons are shown to this participant."""
    n_answered: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Stored answers, kept in step with `responses` inside each save's transaction (no COUNT per save)."""
    n_catch_failed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Catch trials answered wrongly (or timed out); compared with the study's catch_fail_threshold."""
    calibration: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """The screen calibration (card width, viewing distance, px per degree, stimulus px, refresh rate,
    screen size); NULL until it is made. See `study_server.calibration`."""
    fullscreen_exits: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Times the participant left fullscreen during practice or trials."""
    consent_nonce: Mapped[str | None] = mapped_column(String(64))
    """The consent form's one-time nonce: a second submit of the same form finds this participant."""
    resume_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """Until when the researcher lets this session be resumed from a browser other than the one that
    started it (`participant.entry`); NULL: only that browser (or the platform's own session id)."""
    display: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """What the trial page measured just before the trials: refresh rate, device pixel ratio and the
    stimulus as drawn (scale, CSS px, degrees); NULL until then. See `study_server.display`."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    study: Mapped[Study] = relationship()
    trial_list: Mapped[TrialList | None] = relationship()
    events: Mapped[list[StatusEvent]] = relationship(
        back_populates="participant", cascade="all, delete-orphan", order_by="StatusEvent.id"
    )


class StatusEvent(Base):
    """One status change with its time; written only through `study_server.lifecycle.set_status`."""

    __tablename__ = "status_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    participant: Mapped[Participant] = relationship(back_populates="events")


class RateLimitHit(Base):
    """One counted request of a rate-limited kind (consent) from a client address, in the database so
    every worker and every app server counts the same requests."""

    __tablename__ = "rate_limit_hits"

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


NONE_ANSWER = -1
"""How a "none of these / I cannot recognise it" answer is stored: its own value, never a class id (ids
are >= 0) and never NULL (a timeout). The API takes it as the JSON string "none"; the export writes "none"."""


class Response(Base):
    """One answered trial, append-only; (participant, trial_index) is unique so retries are idempotent."""

    __tablename__ = "responses"
    __table_args__ = (UniqueConstraint("participant_id", "trial_index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"), index=True)
    trial_index: Mapped[int] = mapped_column(Integer)
    stimulus_id: Mapped[str] = mapped_column(String(64))
    response: Mapped[int | None] = mapped_column(Integer)
    """Chosen class id; NONE_ANSWER (-1) for "none of these" (studies that allow it); NULL for a timeout."""
    rt_ms: Mapped[float | None] = mapped_column(Float)
    shown_ms: Mapped[float | None] = mapped_column(Float)
    """Measured on-screen time of a timed image (display frames from onset to mask); NULL if untimed."""
    frames_requested: Mapped[int | None] = mapped_column(Integer)
    """A timed image's duration in display frames: presentation_ms / the measured frame interval."""
    frames_shown: Mapped[int | None] = mapped_column(Integer)
    """Frames from image onset to mask onset, as the page measured them (shown_ms / frame interval)."""
    frames_dropped: Mapped[int | None] = mapped_column(Integer)
    """Display frames the page missed while the image was up (0: every frame was drawn on time)."""
    catch: Mapped[bool] = mapped_column(Boolean, default=False)
    correct: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AdminUser(Base):
    __tablename__ = "admin_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """Set when `create_admin` resets the password (which also ends all the user's sessions)."""
    known_addresses: Mapped[list[Any] | None] = mapped_column(JSON, default=list)
    """Client addresses this user logged in from (the latest few): the per-user throttle, which a
    distributed guesser fills from many addresses, never locks the admin out of these."""


class AdminSession(Base):
    """One admin login. The browser's signed cookie holds a random token; only its SHA-256 is stored.

    Logout deletes the row and a password reset deletes all of a user's rows, so a copied cookie stops
    working. A session also ends after `ADMIN_SESSION_IDLE` seconds without a request, and in any case
    `ADMIN_SESSION_LIFETIME` seconds after login (`expires_at`).
    """

    __tablename__ = "admin_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("admin_users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    user: Mapped[AdminUser] = relationship()


class AdminLoginFailure(Base):
    """One failed (or still running) admin login, counted per user name and per client address.

    Shared by every worker process, unlike memory. Rows older than the throttle window are pruned; a
    successful login clears its user name's rows (`username` becomes NULL) but they keep counting
    against their addresses, so a valid account cannot be used to reset an address's counter.
    """

    __tablename__ = "admin_login_failures"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str | None] = mapped_column(String(64), index=True)
    address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)


__all__ = [
    "NONE_ANSWER",
    "AdminLoginFailure",
    "AdminSession",
    "AdminUser",
    "Base",
    "Participant",
    "RateLimitHit",
    "Response",
    "StatusEvent",
    "Stimulus",
    "Study",
    "TrialList",
    "db",
    "utcnow",
]

# The recruiters' tables (MTurk HITs, payment ledger) live on the same Base; importing them here means
# every user of the models, Alembic autogenerate included, sees the whole schema.
from study_server.recruiters import models as recruiter_models  # noqa: E402, F401
