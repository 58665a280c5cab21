"""Importing a stimulus set validates it, content hash included, exactly once; a bad set changes nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

import stimuli.stimulus_set as stimulus_set
from study_server.importer import StudyImportError, import_stimulus_set
from study_server.models import Study, db


def test_import_hashes_the_set_once(app, small_set: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hashed: list[Path] = []
    real = stimulus_set.compute_content_hash

    def counting(root, *args, **kwargs):  # the real hash, counted
        hashed.append(Path(root))
        return real(root, *args, **kwargs)

    monkeypatch.setattr(stimulus_set, "compute_content_hash", counting)
    with app.app_context():
        study, changed = import_stimulus_set(db.session, small_set, slug="again")
        assert changed
        stored = study.stimulus_hash
    assert hashed == [small_set.resolve()]
    assert stored == real_hash(small_set)


def real_hash(root: Path) -> str:
    return stimulus_set.load_stimulus_set(root).meta["content_hash"]


def test_tampered_set_is_refused_in_one_line_and_changes_nothing(
    app, small_set: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "tampered"
    shutil.copytree(small_set, bad)
    image = next((bad / "images").glob("*.png"))
    image.write_bytes(next(p for p in (bad / "images").glob("*.png") if p != image).read_bytes())
    with app.app_context():
        before = db.session.scalars(select(Study.slug)).all()
        with pytest.raises(StudyImportError) as err:
            import_stimulus_set(db.session, bad, slug="tampered")
        assert db.session.scalars(select(Study.slug)).all() == before
    message = str(err.value)
    assert message.startswith(f"invalid stimulus set {bad}") and "content hash mismatch" in message
    assert "\n" not in message
