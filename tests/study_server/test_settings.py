"""Typed study settings: `--set`, the importer and the admin read one schema; a bad value or a change that
would mix two designs is refused with the setting's name, before anything is written."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from study_server import create_app
from study_server.cli import main
from study_server.importer import StudyImportError, import_stimulus_set
from study_server.models import Study, db
from study_server.settings import SETTINGS, SettingError, coerce, effective, parse_assignment, validate

from .conftest import SECRET
from .helpers import enter


@pytest.fixture
def env(tmp_path, monkeypatch, database_url):
    monkeypatch.setenv("STUDY_DATABASE_URL", database_url)
    monkeypatch.setenv("STUDY_SECRET_KEY", SECRET)
    monkeypatch.setenv("STUDY_INSTANCE_PATH", str(tmp_path / "instance"))
    assert main(["init-db"]) == 0
    return database_url


def stored_study(slug: str = "tiny") -> Study:
    app = create_app()
    with app.app_context():
        study = db.session.scalars(select(Study).where(Study.slug == slug)).one()
        db.session.expunge(study)
        db.session.remove()
        db.engine.dispose()
    return study


@pytest.mark.parametrize(
    ("item", "words"),
    [
        ("presentation_ms=abc", ["'presentation_ms'", "'abc' is not an integer"]),
        ("presentation_ms=5", ["'presentation_ms'", "out of range"]),
        ("presentation_ms=20.5", ["'presentation_ms'", "not an integer"]),
        ("stimulus_deg=nan", ["'stimulus_deg'", "finite"]),
        ("fullscreen=maybe", ["'fullscreen'", "not true or false"]),
        ("legend_order=alphabetical", ["'legend_order'", "shuffled, category"]),
        ("mask_ms=null", ["'mask_ms'", "may not be null"]),
        ("prolific_study_id=xyz", ["'prolific_study_id'", "does not match"]),
        ("presentaton_ms=200", ["unknown study setting 'presentaton_ms'", "presentation_ms"]),
        ("no_equals_sign", ["--set expects KEY=VALUE"]),
    ],
)
def test_bad_set_is_one_line_naming_the_setting_and_writes_nothing(env, small_set, capsys, item, words):
    assert main(["import-stimuli", str(small_set), "--slug", "tiny", "--set", item]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --set: ") and err.count("\n") == 1, err
    for w in words:
        assert w in err, err
    assert main(["list-studies"]) == 0
    assert "no studies yet" in capsys.readouterr().out  # refused before the import began


def test_values_are_typed_whatever_way_they_are_written():
    assert parse_assignment("presentation_ms=200") == ("presentation_ms", 200)
    assert parse_assignment("presentation_ms=null") == ("presentation_ms", None)
    assert parse_assignment("stimulus_deg=3") == ("stimulus_deg", 3.0)
    assert isinstance(parse_assignment("stimulus_deg=3")[1], float)
    assert parse_assignment("fullscreen=false") == ("fullscreen", False)
    assert parse_assignment("calibration=none") == ("calibration", "none")  # a choice, not null
    assert parse_assignment("response_deadline_ms=none") == ("response_deadline_ms", None)
    assert parse_assignment("public_title=Road signs") == ("public_title", "Road signs")  # plain text
    assert parse_assignment('completion_code="C1A2B3"') == ("completion_code", "C1A2B3")  # JSON text
    assert parse_assignment("completion_code=123456") == ("completion_code", "123456")  # stays text
    assert parse_assignment('mturk={"reward": "1.50"}') == ("mturk", {"reward": "1.50"})
    with pytest.raises(SettingError, match="'breaks_every'"):
        validate({"breaks_every": -1})
    with pytest.raises(SettingError, match="unknown study setting"):
        validate({"practise_trials": 3})
    assert coerce("practice_trials", 4.0) == 4  # a JSON 4.0 is the integer 4


def test_every_default_passes_its_own_schema():
    for s in SETTINGS.values():
        if s.default is not None or s.nullable:
            assert coerce(s.name, s.default) == s.default, s.name
    # a value stored before the schema existed and now invalid: pages get the default
    assert effective({"presentation_ms": "abc"})["presentation_ms"] is None
    assert effective({"presentation_ms": 150})["presentation_ms"] == 150


def test_reimport_applies_or_refuses_each_change(env, small_set, capsys):
    assert main(["import-stimuli", str(small_set), "--slug", "tiny", "--set", "presentation_ms=200"]) == 0
    assert stored_study().config["presentation_ms"] == 200
    capsys.readouterr()
    # no participant yet: a new recruiter and a new design setting are applied, and said so
    assert main(["import-stimuli", str(small_set), "--slug", "tiny", "--recruiter", "prolific",
                 "--set", "presentation_ms=100"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "presentation_ms 200 -> 100" in out and "recruiter link -> prolific" in out
    study = stored_study()
    assert study.recruiter == "prolific" and study.config["presentation_ms"] == 100
    # a re-import without --recruiter keeps the study's recruiter
    assert main(["import-stimuli", str(small_set), "--slug", "tiny"]) == 0
    assert "unchanged" in capsys.readouterr().out and stored_study().recruiter == "prolific"
    assert main(["import-stimuli", str(small_set), "--slug", "tiny", "--recruiter", "link",
                 "--set", "demo=true"]) == 0  # fmt: skip
    capsys.readouterr()

    app = create_app({"WTF_CSRF_ENABLED": False})
    enter(app.test_client())  # somebody takes part
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    for argv, words in (
        (["--recruiter", "mturk"], "cannot switch to 'mturk'"),
        (["--set", "presentation_ms=50"], "changing presentation_ms would mix two designs"),
        (["--set", "legend_order=category"], "changing legend_order"),
    ):
        assert main(["import-stimuli", str(small_set), "--slug", "tiny", *argv]) == 2
        err = capsys.readouterr().err
        assert words in err and err.count("\n") == 1, err
    study = stored_study()
    assert study.recruiter == "link" and study.config["presentation_ms"] == 100  # nothing changed
    # the pages' texts may still change, and the change is reported
    assert main(["import-stimuli", str(small_set), "--slug", "tiny",
                 "--set", "researcher_contact=Dr Ada Lovelace, ada@example.org"]) == 0  # fmt: skip
    assert "researcher_contact '' -> 'Dr Ada Lovelace, ada@example.org'" in capsys.readouterr().out
    assert stored_study().config["researcher_contact"] == "Dr Ada Lovelace, ada@example.org"


def test_importer_refuses_bad_values_from_python_too(app, small_set):
    with app.app_context():
        with pytest.raises(StudyImportError, match="'practice_trials'"):
            import_stimulus_set(db.session, small_set, slug="other", config={"practice_trials": "three"})
        assert db.session.scalars(select(Study).where(Study.slug == "other")).one_or_none() is None


def test_a_new_study_stores_every_default_explicitly(app):
    with app.app_context():
        config = db.session.scalars(select(Study)).one().config
    for s in SETTINGS.values():
        if s.default is not None:
            assert s.name in config, s.name  # a later change of a default never changes a running study
    assert config["completion_code"] and config["screened_out_code"]


def test_admin_lists_the_settings_with_their_help(app, client):
    from study_server.admin import create_admin

    with app.app_context():
        create_admin("ada", "correct horse battery")
    login = client.post("/admin/login", data={"username": "ada", "password": "correct horse battery"})
    assert login.status_code == 302
    page = client.get("/admin/study/tiny").get_data(as_text=True)
    assert 'id="settings"' in page
    for s in SETTINGS.values():
        assert f"<code>{s.name}</code>" in page
    assert SETTINGS["response_deadline_ms"].help.split(",")[0] in page
