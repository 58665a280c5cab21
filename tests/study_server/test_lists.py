"""Latin-square trial lists and race-safe assignment to the least-filled list."""

from __future__ import annotations

import random
import threading
from collections import Counter

from sqlalchemy import select

from study_server.export import frame_from_session
from study_server.importer import import_stimulus_set
from study_server.lists import (
    StimulusRow,
    allocate_participant,
    latin_square_lists,
    participant_order,
    with_repeats,
)
from study_server.models import Participant, Stimulus, Study, TrialList, db

from .conftest import OPEN, SECRET
from .helpers import enter, start, trial_labels


def test_latin_square_gives_each_source_once_and_rotates_conditions():
    conds = ["a", "b", "c"]
    rows = [StimulusRow(f"{s}-{c}", f"src{s}", c, False) for s in range(6) for c in conds]
    rows += [StimulusRow("catch-1", "x", "regular", True)]
    conditions, lists = latin_square_lists(rows)
    assert conditions == ["a", "b", "c"]
    assert len(lists) == 3
    for j, ids in enumerate(lists):
        main = [sid for sid in ids if not sid.startswith("catch")]
        assert [sid.split("-")[0] for sid in main] == [str(i) for i in range(6)]  # each source exactly once
        # hand rule from the issue: list j gives source i condition (i + j) mod K
        assert [sid.split("-")[1] for sid in main] == [conds[(i + j) % 3] for i in range(6)]
        assert ids[-1] == "catch-1"  # catch trials in every list
    # across the K lists every (source, condition) pair appears exactly once
    assert Counter(sid for ids in lists for sid in ids if "catch" not in sid) == Counter(
        r.stimulus_id for r in rows[:-1]
    )


def test_participant_order_is_a_permutation_drawn_from_its_generator():
    ids = [f"s{i}" for i in range(20)]
    a, b = participant_order(ids, random.Random(1)), participant_order(ids, random.Random(1))
    c = participant_order(ids, random.Random(2))
    assert a == b and a != c and sorted(a) == sorted(ids)


def test_repeats_are_shown_again_in_the_second_half_never_catch_trials():
    order = [f"s{i}" for i in range(10)]
    out = with_repeats(order, 0.25, seed=5, catch={"s1"})
    # 9 non-catch stimuli x 0.25 = 2.25: two repeats, taken from the first half (s0..s4, not s1)
    assert len(out) == 12 and out[:5] == order[:5] and sorted(set(out)) == sorted(order)
    twice = [sid for sid, n in Counter(out).items() if n == 2]
    assert len(twice) == 2 and all(sid in {"s0", "s2", "s3", "s4"} for sid in twice)
    assert all(out.index(sid, 5) >= 5 for sid in twice)  # the second showing is in the second half
    assert with_repeats(order, 0.0, seed=5, catch=set()) == order  # off by default


def test_repeats_reach_the_export_marked(app, client, small_set):
    with app.app_context():
        import_stimulus_set(db.session, small_set, slug="rep", config={**OPEN, "repeat_fraction": 0.5})
    pid = enter(client, "rep")
    start(client, pid)
    trials = trial_labels(app, pid)
    for i, (_, label, _) in enumerate(trials):
        assert (
            client.post(f"/api/p/{pid}/responses", json={"trial_index": i, "response": label}).status_code
            == 201
        )
    with app.app_context():
        frame = frame_from_session(db.session, SECRET, "rep")
    # 4 sources, one condition each in a list: round(0.5 x 4) = 2 repeats on top of the 6 trials, unless
    # the first half (3 trials) holds fewer than 2 non-catch stimuli
    n_first_half_main = sum(1 for _, _, catch in trials[:3] if not catch)
    assert len(frame) == 6 + min(2, n_first_half_main)
    sids = frame["stimulus_id"].tolist()
    want = [int(sid in sids[:i]) for i, sid in enumerate(sids)]  # 1 where the stimulus was shown before
    assert frame["repeat"].tolist() == want and sum(want) == len(frame) - 6


def test_imported_lists_match_the_square(app):
    with app.app_context():
        study = db.session.scalars(select(Study).where(Study.slug == "tiny")).one()
        stims = {
            s.stimulus_id: s
            for s in db.session.scalars(select(Stimulus).where(Stimulus.study_id == study.id))
        }
        assert study.conditions == ["negative", "regular"]
        for tl in study.lists:
            main = [stims[sid] for sid in tl.stimulus_ids if not stims[sid].catch]
            assert sorted(s.source_id for s in main) == ["src0", "src1", "src2", "src3"]
            for s in main:
                i = int(s.source_id[3:])
                assert s.condition == study.conditions[(i + tl.index) % 2]
            assert sum(stims[sid].catch for sid in tl.stimulus_ids) == 2


def test_concurrent_arrivals_fill_lists_evenly(app):
    """Eight threads allocate at the same moment: the two lists end with exactly 4 each."""
    n = 8
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def arrive() -> None:
        try:
            with app.app_context():
                study = db.session.scalars(select(Study).where(Study.slug == "tiny")).one()
                barrier.wait(timeout=30)
                allocate_participant(db.session, study, recruiter="link")
                db.session.remove()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=arrive) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    with app.app_context():
        lists = db.session.scalars(select(TrialList).order_by(TrialList.index)).all()
        actual = Counter(db.session.scalars(select(Participant.list_id)).all())
        assert [tl.n_assigned for tl in lists] == [4, 4]
        assert [actual[tl.id] for tl in lists] == [4, 4]
        db.session.remove()


def test_abandoned_participants_free_their_slot(app, client):
    from datetime import timedelta

    from study_server.lifecycle import mark_abandoned
    from study_server.models import StatusEvent, utcnow

    from .helpers import enter, start

    idle, active = enter(app.test_client()), enter(app.test_client())
    start(client, active)
    with app.app_context():
        study = db.session.scalars(select(Study)).one()
        old = db.session.scalars(select(Participant).where(Participant.public_id == idle)).one()
        for ev in db.session.scalars(select(StatusEvent).where(StatusEvent.participant_id == old.id)):
            ev.at = utcnow() - timedelta(hours=30)
        db.session.commit()
        assert sorted(tl.n_assigned for tl in study.lists) == [1, 1]
        assert mark_abandoned(db.session, study.id, timedelta(hours=24)) == 1
        statuses = dict(db.session.execute(select(Participant.public_id, Participant.status)).all())
        assert statuses == {idle: "abandoned", active: "started"}
        assert sorted(tl.n_assigned for tl in db.session.scalars(select(TrialList))) == [0, 1]
        events = db.session.scalars(
            select(StatusEvent.status).where(StatusEvent.participant_id == old.id)
        ).all()
        assert events[-1] == "abandoned"
        db.session.remove()
