"""Counterbalanced trial lists and their race-safe assignment.

A Latin square over the study's K conditions gives K lists: list j shows source image i in condition
conditions[(i + j) % K], so each participant sees every source image at most once and, across K
participants, every source appears in every condition. Catch trials go into every list.

Lists are also the between-subject groups of an FRI study (Srivastava et al. 2019): both crops of a pair
share one source_id and differ in condition (fri, fri_partner), so the two lists hold one crop of each
pair each and no participant sees both. Each stimulus lies in exactly one list, so "every crop seen by N
people" is "every list given to N people": the study setting ``viewers_per_stimulus`` (20 by default for
a set with pairs, the paper's group size) caps each list, and a person who arrives when every list is
full is turned away politely.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from study_server.db import AnySession, write_lock
from study_server.lifecycle import NOT_STARTED, idle_participants, release_idle, set_status
from study_server.models import Participant, Stimulus, Study, TrialList, utcnow
from study_server.recruiters.base import EntryRefused
from study_server.settings import effective

DEFAULT_VIEWERS_PER_STIMULUS = 20
"""People per crop in Srivastava et al. 2019's FRI study ("separate groups of 20"), as model_eval cites it."""


STUDY_FULL = "This study already has all the participants it needs. Thank you!"


def _open_lists(study: Study, lists: Sequence[TrialList]) -> list[TrialList]:
    """The lists below the study's ``viewers_per_stimulus`` cap (all of them without a cap)."""
    quota = (study.config or {}).get("viewers_per_stimulus")
    return [tl for tl in lists if quota is None or tl.n_assigned < int(quota)]


def study_is_full(session: AnySession, study: Study) -> bool:
    """Every list has reached the cap and no idle place is due back: read only, so the link's GET can
    say so before consent."""
    lists = session.scalars(select(TrialList).where(TrialList.study_id == study.id)).all()
    if not lists or _open_lists(study, lists):
        return False
    minutes = effective(study.config)["idle_release_minutes"]
    if minutes is None:
        return True
    cutoff = utcnow() - timedelta(minutes=int(minutes))
    return not idle_participants(session, study.id, NOT_STARTED, cutoff, lock=False)


class StudyFull(EntryRefused):
    """Every list already has the study's ``viewers_per_stimulus`` participants."""


@dataclass(frozen=True)
class StimulusRow:
    stimulus_id: str
    source_id: str
    condition: str
    catch: bool
    pair_id: str = ""


def check_pairs(rows: Sequence[StimulusRow], lists: Sequence[Sequence[str]]) -> None:
    """Refuse lists in which one participant would see both members of a pair (ValueError, clear).

    The Latin square guarantees it when a pair's members share a source_id and differ in condition;
    this checks that guarantee on the lists actually built.
    """
    pair_of = {r.stimulus_id: r.pair_id for r in rows if r.pair_id and not r.catch}
    members: dict[str, list[StimulusRow]] = {}
    for r in rows:
        if r.pair_id and not r.catch:
            members.setdefault(r.pair_id, []).append(r)
    for pair, group in members.items():
        if len({r.source_id for r in group}) != 1 or len({r.condition for r in group}) != len(group):
            raise ValueError(
                f"pair {pair!r}: its members must share one source_id and differ in condition, so that "
                "no participant sees two of them"
            )
    for j, ids in enumerate(lists):
        seen: set[str] = set()
        for sid in ids:
            shown = pair_of.get(sid)
            if shown is not None:
                if shown in seen:
                    raise ValueError(f"list {j} would show two members of pair {shown!r}")
                seen.add(shown)


def latin_square_lists(rows: Sequence[StimulusRow]) -> tuple[list[str], list[list[str]]]:
    """Return (conditions, lists): K lists of stimulus ids in canonical (source, then catch) order."""
    main = [r for r in rows if not r.catch]
    catch = sorted(r.stimulus_id for r in rows if r.catch)
    conditions = sorted({r.condition for r in main})
    sources = sorted({r.source_id for r in main})
    by_key: dict[tuple[str, str], str] = {}
    for r in sorted(main, key=lambda r: r.stimulus_id):
        by_key.setdefault((r.source_id, r.condition), r.stimulus_id)
    k = len(conditions)
    lists: list[list[str]] = []
    for j in range(max(k, 1)):
        chosen = []
        for i, source in enumerate(sources):
            sid = by_key.get((source, conditions[(i + j) % k])) if k else None
            if sid is not None:
                chosen.append(sid)
        lists.append(chosen + catch)
    return conditions, lists


def participant_order(stimulus_ids: Sequence[str], rng: random.Random) -> list[str]:
    """The participant's own random trial order, drawn from `rng` (a secret source in the study)."""
    order = list(stimulus_ids)
    rng.shuffle(order)
    return order


def with_repeats(order: Sequence[str], fraction: float, seed: int, catch: set[str]) -> list[str]:
    """The order with round(fraction x its non-catch stimuli) of them shown a second time, for
    test-retest consistency. The repeated stimuli come from the first half of the order and their second
    showings are shuffled into the second half, so the two showings are always apart and the second
    never comes first; catch trials are never repeated."""
    out = list(order)
    n_main = sum(1 for sid in out if sid not in catch)
    k = round(fraction * n_main)
    if k <= 0:
        return out
    half = len(out) // 2
    rng = random.Random(f"repeat-{seed}")
    candidates = [sid for sid in out[:half] if sid not in catch]
    second = out[half:] + rng.sample(candidates, min(k, len(candidates)))
    rng.shuffle(second)
    return out[:half] + second


def legend_order(class_ids: Sequence[int], rng: random.Random, *, shuffle: bool = True) -> list[int]:
    """The participant's shuffled legend, or the classes in the set's order when the study orders its
    legend by category (setting legend_order). In the study `rng` is a secret source of its own: the
    legend is on every page, so nothing else may be derivable from it."""
    order = list(class_ids)
    if shuffle:
        rng.shuffle(order)
    return order


def secret_rng() -> random.Random:
    """A generator seeded by nothing: the operating system's randomness, draw by draw (`secrets`).
    Knowing one participant's legend, trial order or list tells nothing about another draw."""
    return secrets.SystemRandom()


def new_public_id() -> str:
    return secrets.token_urlsafe(24)


def allocate_participant(
    session: AnySession,
    study: Study,
    *,
    recruiter: str,
    external_id: str | None = None,
    recruiter_data: dict | None = None,
    simulated: bool = False,
    admit: Callable[[], None] | None = None,
    consent: bool = False,
    consent_nonce: str | None = None,
) -> tuple[Participant, bool]:
    """Return (participant, created): the person's existing participant, or a new one on the
    least-filled list, committed. Race-safe under any concurrency:

    - SQLite: the transaction starts with BEGIN IMMEDIATE, so arrivals serialise on the write lock.
    - PostgreSQL: an advisory lock on (recruiter, external id) serialises one person's entries across
      studies (the repeat-worker check of an exclusion group), and the study's list rows are locked
      with SELECT ... FOR UPDATE.

    Inside that lock the person is looked up again, and `admit` (which may raise, e.g. EntryRefused
    for a repeat worker) runs before anything is written; the unique constraint on (study, recruiter,
    external id) backs this up. A list holds at most ``viewers_per_stimulus`` people (not counting
    those who left); with every list full, StudyFull (an EntryRefused) is raised and nothing written.
    Places held by people who consented but never started within the study's idle_release_minutes
    are given back first. `consent` records the consent in the same commit; a `consent_nonce` already
    used in this study (the consent form submitted twice) returns that form's participant.
    """
    study_id = study.id
    with write_lock(session):
        try:
            if external_id is not None and session.get_bind().dialect.name == "postgresql":
                person = func.hashtextextended(f"{recruiter}:{external_id}", 0)
                session.execute(select(func.pg_advisory_xact_lock(person)))
            lists = (
                session.execute(
                    select(TrialList)
                    .where(TrialList.study_id == study_id)
                    .order_by(TrialList.index)
                    .with_for_update()
                    .execution_options(populate_existing=True)  # fresh counts, never a stale copy
                )
                .scalars()
                .all()
            )
            if not lists:
                raise ValueError(f"study {study.slug!r} has no trial lists; import a stimulus set first")
            existing = _find(session, study_id, recruiter, external_id) or _by_nonce(
                session, study_id, consent_nonce
            )
            if existing is not None:
                session.commit()
                return existing, False
            if admit is not None:
                admit()
            release_idle(session, study_id, effective(study.config)["idle_release_minutes"])
            open_lists = _open_lists(study, lists)
            if not open_lists:
                raise StudyFull(STUDY_FULL)
            # the least-filled list; a tie is broken by a secret draw, so the list tells nothing of the
            # order people arrived in
            fewest = min(tl.n_assigned for tl in open_lists)
            target = secret_rng().choice([tl for tl in open_lists if tl.n_assigned == fewest])
            target.n_assigned += 1
            class_ids = [int(c["id"]) for c in study.classes]
            seed = secrets.randbits(31)  # practice images and repeats only, never the order or legend
            order = participant_order(target.stimulus_ids, secret_rng())
            fraction = float(effective(study.config)["repeat_fraction"])
            if fraction > 0:
                catch = session.scalars(
                    select(Stimulus.stimulus_id).where(Stimulus.study_id == study_id, Stimulus.catch)
                ).all()
                order = with_repeats(order, fraction, seed, set(catch))
            participant = Participant(
                public_id=new_public_id(),
                study_id=study_id,
                list_id=target.id,
                recruiter=recruiter,
                external_id=external_id,
                recruiter_data=dict(recruiter_data or {}),
                simulated=simulated,
                seed=seed,
                trial_order=order,
                legend_order=legend_order(
                    class_ids, secret_rng(), shuffle=(study.config or {}).get("legend_order") != "category"
                ),
                consent_nonce=consent_nonce,
            )
            session.add(participant)
            set_status(session, participant, "allocated")
            if consent:  # allocation and consent in one commit: a crash leaves neither
                set_status(session, participant, "consented")
            session.commit()
        except IntegrityError:
            session.rollback()  # the unique constraint caught a twin the lock missed: resume it
            existing = _find(session, study_id, recruiter, external_id) or _by_nonce(
                session, study_id, consent_nonce
            )
            session.rollback()
            if existing is None:
                raise
            return existing, False
        except BaseException:
            session.rollback()
            raise
    return participant, True


def _find(session: AnySession, study_id: int, recruiter: str, external_id: str | None) -> Participant | None:
    """The person's participant in this study (None for an anonymous entry)."""
    if external_id is None:
        return None
    return session.scalars(
        select(Participant)
        .where(
            Participant.study_id == study_id,
            Participant.recruiter == recruiter,
            Participant.external_id == external_id,
        )
        .execution_options(populate_existing=True)
    ).one_or_none()


def _by_nonce(session: AnySession, study_id: int, nonce: str | None) -> Participant | None:
    """The participant a consent form with this nonce created already (None without a nonce)."""
    if not nonce:
        return None
    return session.scalars(
        select(Participant)
        .where(Participant.study_id == study_id, Participant.consent_nonce == nonce)
        .execution_options(populate_existing=True)
    ).one_or_none()
