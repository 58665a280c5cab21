"""Fixtures for the study server: a small real stimulus set, and the app on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest
from sqlalchemy import create_engine, text

import stimuli
from study_server import create_app
from study_server.cli import upgrade_database
from study_server.importer import import_stimulus_set
from study_server.models import db

CLASS_IDS = (13, 14, 17)  # yield, stop, no entry: clearly different signs
N_SOURCES = 4
SECRET = "test-secret-key-not-for-production"
OPEN = {"researcher_contact": "Test Lab, lab@example.org", "ethics_approval": "Test committee, ref. T-1"}
"""The consent details a real (not demo) study needs before it opens (study_server.consent_check)."""


def build_small_set(out: Path) -> Path:
    """4 source images x {regular, negative} + 2 catch images, 3 classes: a real `stimuli` set."""
    src = stimuli.get_source("synthetic", split="test", n_per_class=3, seed=0)
    labels = np.asarray(src.labels)
    rows, images = [], []
    picks = []
    for k in range(N_SOURCES + 2):
        cid = CLASS_IDS[k % len(CLASS_IDS)]
        idx = np.flatnonzero(labels == cid)[k // len(CLASS_IDS)]
        picks.append((int(idx), cid))
    for k, (idx, cid) in enumerate(picks[:N_SOURCES]):
        img, _ = src[idx]
        for condition, pixels in (("regular", img), ("negative", 1.0 - img)):
            rows.append(
                {
                    "source_id": f"src{k}",
                    "label": cid,
                    "family": "regular" if condition == "regular" else "negative",
                    "condition": condition,
                    "catch": False,
                }
            )
            images.append(pixels.astype(np.float32))
    for k, (idx, cid) in enumerate(picks[N_SOURCES:]):
        img, _ = src[idx]
        rows.append(
            {
                "source_id": f"catch{k}",
                "label": cid,
                "family": "regular",
                "condition": "regular",
                "catch": True,
            }
        )
        images.append(img)
    classes = [c for c in src.classes if c.id in CLASS_IDS]
    legend = {c.id: src.legend_image(c.id) for c in classes}
    # held-out practice images: the third image of each class, which no stimulus uses
    practice = [(src[int(np.flatnonzero(labels == cid)[2])][0], cid) for cid in CLASS_IDS]
    return stimuli.write_stimulus_set(
        out,
        rows,
        images,
        classes,
        legend,
        name="tiny negative test",
        seed=7,
        source="synthetic",
        practice=practice,
    )


@pytest.fixture(scope="session")
def small_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_small_set(tmp_path_factory.mktemp("sets") / "tiny")


@pytest.fixture
def pg_schema_url(postgres_url: str) -> Iterator[str]:
    """A fresh PostgreSQL schema per test, selected through the connection's search_path."""
    schema = "t_" + secrets.token_hex(6)
    admin = create_engine(postgres_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in postgres_url else "?"
    yield f"{postgres_url}{sep}options={quote(f'-csearch_path={schema}')}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'study.sqlite3'}"
    return request.getfixturevalue("pg_schema_url")


@pytest.fixture
def app(database_url: str, tmp_path: Path, small_set: Path):
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
        import_stimulus_set(db.session, small_set, slug="tiny", config={**OPEN, "practice_trials": 2})
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()
