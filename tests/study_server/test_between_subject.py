"""FRI pairs as between-subject groups: one crop of each pair per person, N people per crop, label groups."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

import stimuli
from study_server import create_app
from study_server.cli import upgrade_database
from study_server.importer import StudyImportError, import_stimulus_set
from study_server.lists import StudyFull, allocate_participant
from study_server.models import Participant, Response, Stimulus, Study, TrialList, db

from .conftest import OPEN, SECRET
from .helpers import enter, start, trial_labels

CLASSES = [stimuli.ClassInfo(i, f"sign {i}") for i in range(4)]
GROUPS = {
    "name": "two",
    "groups": [
        {"id": 0, "name": "round", "classes": [0, 2]},
        {"id": 1, "name": "pointed", "classes": [1, 3]},
    ],
}
N_PAIRS = 5


def write_pair_set(out: Path, *, groups: dict | None = None, same_source: bool = True) -> Path:
    """N_PAIRS FRI pairs (fri, fri_partner; one source_id per pair) and two catch trials."""
    rng = np.random.default_rng(0)
    rows, images = [], []
    for k in range(N_PAIRS):
        for cond in ("fri", "fri_partner"):
            source = f"img{k}#p{k}" if same_source else f"img{k}#p{k}-{cond}"
            rows.append(
                {
                    "source_id": source,
                    "label": k % 4,
                    "family": "fri",
                    "condition": cond,
                    "pair_id": f"p{k}",
                    "fri_kind": "shrink",
                    "catch": False,
                }
            )
            images.append(rng.random((8, 8, 3), dtype=np.float32))
    for k in range(2):
        rows.append(
            {"source_id": f"catch{k}", "label": k, "family": "regular", "condition": "regular", "catch": True}
        )
        images.append(rng.random((8, 8, 3), dtype=np.float32))
    legend = {c.id: np.full((8, 8, 3), c.id / 4, dtype=np.float32) for c in CLASSES}
    return stimuli.write_stimulus_set(
        out,
        rows,
        images,
        CLASSES,
        legend,
        name="pairs",
        seed=0,
        source="synthetic",
        label_groups=groups,
        progress=False,
    )


def _app(database_url: str, tmp_path: Path, set_dir: Path, config: dict | None = None):
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SECRET_KEY": SECRET,
            "WTF_CSRF_ENABLED": False,
            "INSTANCE_PATH": str(tmp_path / "instance"),
        }
    )
    upgrade_database(app.config["DATABASE_URL"])
    with app.app_context():
        import_stimulus_set(
            db.session, set_dir, slug="fri", config={**OPEN, "practice_trials": 0, **(config or {})}
        )
        db.session.remove()
    return app


@pytest.fixture
def pair_app(database_url, tmp_path):
    app = _app(database_url, tmp_path, write_pair_set(tmp_path / "pairs"), {"viewers_per_stimulus": 3})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_each_list_holds_one_crop_of_every_pair(pair_app):
    with pair_app.app_context():
        study = db.session.scalars(select(Study)).one()
        stims = {s.stimulus_id: s for s in db.session.scalars(select(Stimulus))}
        assert study.conditions == ["fri", "fri_partner"] and len(study.lists) == 2
        shown = Counter()
        for tl in study.lists:
            main = [stims[sid] for sid in tl.stimulus_ids if not stims[sid].catch]
            assert len(main) == N_PAIRS
            assert len({s.source_id for s in main}) == N_PAIRS  # one member of each pair
            shown.update(s.stimulus_id for s in main)
        # every crop lies in exactly one list: the two lists are the two groups
        assert shown == Counter(s.stimulus_id for s in stims.values() if not s.catch)
        assert study.config["viewers_per_stimulus"] == 3
        db.session.remove()


def test_concurrent_entries_fill_groups_to_the_quota_and_refuse_the_rest(pair_app):
    """Ten people enter at once for 2 groups x 3 places: 3 per group, 4 refused, nothing else written."""
    n = 10
    barrier = threading.Barrier(n)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def arrive() -> None:
        try:
            with pair_app.app_context():
                study = db.session.scalars(select(Study)).one()
                barrier.wait(timeout=30)
                try:
                    allocate_participant(db.session, study, recruiter="link")
                    outcomes.append("in")
                except StudyFull:
                    outcomes.append("full")
                db.session.remove()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=arrive) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert Counter(outcomes) == {"in": 6, "full": 4}
    with pair_app.app_context():
        lists = db.session.scalars(select(TrialList).order_by(TrialList.index)).all()
        per_list = Counter(db.session.scalars(select(Participant.list_id)).all())
        assert [tl.n_assigned for tl in lists] == [3, 3] and [per_list[tl.id] for tl in lists] == [3, 3]
        db.session.remove()


def test_a_full_study_turns_people_away_politely(pair_app):
    client = pair_app.test_client()
    for _ in range(6):
        enter(pair_app.test_client(), "fri")
    resp = client.get("/s/fri/")
    assert resp.status_code == 403 and b"all the participants it needs" in resp.data


def test_no_person_sees_both_crops_and_every_crop_reaches_its_viewers(pair_app):
    pids = [enter(pair_app.test_client(), "fri") for _ in range(6)]
    seen_by: Counter[str] = Counter()
    with pair_app.app_context():
        stims = {s.stimulus_id: s for s in db.session.scalars(select(Stimulus))}
        for pid in pids:
            p = db.session.scalars(select(Participant).where(Participant.public_id == pid)).one()
            pairs = [stims[s].source_id for s in p.trial_order if not stims[s].catch]
            assert len(pairs) == len(set(pairs)) == N_PAIRS
            seen_by.update(s for s in p.trial_order if not stims[s].catch)
        db.session.remove()
    assert set(seen_by.values()) == {3} and len(seen_by) == 2 * N_PAIRS


def test_pair_members_with_different_sources_are_refused_at_import(database_url, tmp_path):
    bad = write_pair_set(tmp_path / "bad", same_source=False)
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SECRET_KEY": SECRET,
            "INSTANCE_PATH": str(tmp_path / "i"),
        }
    )
    upgrade_database(app.config["DATABASE_URL"])
    with app.app_context():
        with pytest.raises(StudyImportError, match="must share one source_id"):
            import_stimulus_set(db.session, bad, slug="bad")
        db.session.rollback()
        assert db.session.scalars(select(Study)).all() == []
        with pytest.raises(StudyImportError, match="setting 'viewers_per_stimulus'"):
            import_stimulus_set(
                db.session, write_pair_set(tmp_path / "ok"), slug="ok", config={"viewers_per_stimulus": 0}
            )
        db.session.remove()
        db.engine.dispose()


def test_participants_answer_among_label_groups(database_url, tmp_path):
    app = _app(database_url, tmp_path, write_pair_set(tmp_path / "g", groups=GROUPS))
    client = app.test_client()
    pid = enter(client, "fri")
    start(client, pid)
    page = client.get(f"/p/{pid}/trials").get_data(as_text=True)
    assert "round" in page and "pointed" in page and "sign 3" not in page  # the choices are the groups
    # a group's legend image is its first member class's legend
    group1 = client.get("/s/fri/legend/1")
    assert group1.status_code == 200
    assert np.allclose(
        stimuli.read_png(tmp_path / "g" / "legend" / "1.png"),
        np.full((8, 8, 1), 0.25, np.float32).repeat(3, 2),
        atol=1 / 255,
    )
    assert client.get("/s/fri/legend/2").status_code == 404  # class 2 is not a choice; group 2 does not exist
    group_of = {0: 0, 2: 0, 1: 1, 3: 1}
    trials = trial_labels(app, pid)
    right = [catch or i % 2 == 0 for i, (_, _, catch) in enumerate(trials)]  # catch trials always right
    answers = [
        group_of[lab] if ok else 1 - group_of[lab] for ok, (_, lab, _) in zip(right, trials, strict=True)
    ]
    assert client.post(f"/api/p/{pid}/responses", json={"trial_index": 0, "response": 3}).status_code == 400
    for i, answer in enumerate(answers):
        r = client.post(f"/api/p/{pid}/responses", json={"trial_index": i, "response": answer, "rt_ms": 500})
        assert r.status_code in (200, 201), r.data
    with app.app_context():
        p = db.session.scalars(select(Participant).where(Participant.public_id == pid)).one()
        stored = db.session.scalars(
            select(Response).where(Response.participant_id == p.id).order_by(Response.trial_index)
        ).all()
        assert [r.correct for r in stored] == right and [r.response for r in stored] == answers
        assert p.status == "completed"
        db.session.remove()
        db.engine.dispose()
