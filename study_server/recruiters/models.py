"""Tables of the paid recruiters: the MTurk HITs we created and a ledger of every payment action.

The ledger row is written (status "pending") and committed *before* the platform call and updated after
it, so a crash or a failed call never leaves money moving without a record. MTurk and Prolific share
the ledger; `platform` tells them apart.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from study_server.models import Base, utcnow

LEDGER_ACTIONS = ("create_hit", "approve", "reject", "bonus", "expire", "create_study", "publish")
LEDGER_STATUSES = ("pending", "paying", "submitted", "confirmed", "succeeded", "failed")
"""MTurk: pending -> succeeded | failed. Prolific approvals and bonuses, done asynchronously by
Prolific: pending -> ("paying": a bonus whose pay call was, or was about to be, sent with an unknown
outcome; never paid again before Prolific's state is read) -> "submitted" (Prolific accepted the call)
-> "confirmed" (the submission, read back, shows it) | failed."""
LEDGER_PLATFORMS = ("mturk", "prolific")


class MTurkHIT(Base):
    """One HIT created for a study (sandbox or live)."""

    __tablename__ = "mturk_hits"

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id", ondelete="CASCADE"), index=True)
    hit_id: Mapped[str] = mapped_column(String(64), unique=True)
    hit_type_id: Mapped[str | None] = mapped_column(String(64))
    request_token: Mapped[str] = mapped_column(String(64))
    """The UniqueRequestToken used to create it: a retried create returns this same HIT."""
    sandbox: Mapped[bool] = mapped_column(default=True)
    endpoint_url: Mapped[str] = mapped_column(String(200))
    reward: Mapped[str] = mapped_column(String(16))
    max_assignments: Mapped[int] = mapped_column(Integer)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    """The CreateHIT request (without credentials), for the record."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PaymentLedger(Base):
    """One paid (or money-related) platform action and its outcome: pending -> succeeded | failed."""

    __tablename__ = "mturk_ledger"
    __table_args__ = (UniqueConstraint("action", "request_token"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int | None] = mapped_column(ForeignKey("studies.id", ondelete="SET NULL"), index=True)
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participants.id", ondelete="SET NULL"), index=True
    )
    action: Mapped[str] = mapped_column(String(16))
    platform: Mapped[str] = mapped_column(String(16), default="mturk", server_default="mturk")
    sandbox: Mapped[bool] = mapped_column(default=True)
    worker_id: Mapped[str | None] = mapped_column(String(64))
    """MTurk workerId, or Prolific participant id (PROLIFIC_PID)."""
    assignment_id: Mapped[str | None] = mapped_column(String(64))
    """MTurk assignmentId, or Prolific submission id (SESSION_ID)."""
    hit_id: Mapped[str | None] = mapped_column(String(64))
    """MTurk HITId, or Prolific study id."""
    amount: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    """Money paid to the worker (reward x assignments for create_hit, the bonus for bonus)."""
    fee: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    """MTurk's commission on `amount`, as estimated by study_server.recruiters.mturk.fees."""
    request_token: Mapped[str] = mapped_column(String(64))
    batch_id: Mapped[str | None] = mapped_column(String(64))
    """Prolific: the bulk bonus payment id a bonus was set up in (the id the pay call uses)."""
    status: Mapped[str] = mapped_column(String(16), default="pending")
    detail: Mapped[str] = mapped_column(Text, default="")
    """Feedback/reason sent, or the error message of a failed call."""
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


__all__ = ["LEDGER_ACTIONS", "LEDGER_PLATFORMS", "LEDGER_STATUSES", "MTurkHIT", "PaymentLedger"]
