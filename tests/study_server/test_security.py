"""Participants never learn a stimulus's class or condition; links are unguessable; images are bare."""

from __future__ import annotations

import io
import json
import re
import stat
import struct

from PIL import Image
from sqlalchemy import select

from study_server import create_app
from study_server.models import Participant, Stimulus, db

from .helpers import enter, start


def png_chunk_types(data: bytes) -> list[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, types = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        types.append(data[pos + 4 : pos + 8])
        pos += 12 + length
    return types


def test_trial_page_and_images_reveal_no_class_or_condition(app, client, small_set):
    pid = enter(client)
    assert len(pid) >= 32  # secrets.token_urlsafe(24)
    start(client, pid)
    page = client.get(f"/p/{pid}/trials").get_data(as_text=True)
    cfg = json.loads(re.search(r'id="runner-config">(.*?)</script>', page, re.S).group(1))
    assert set(cfg["trials"][0]) == {"index", "src"}
    for word in ("negative", "regular", "condition", "catch", "label"):
        assert word not in page.lower().replace("aria-label", "")
    dom_legend = [int(x) for x in re.findall(r'data-class="(\d+)"', page)]
    with app.app_context():
        stims = {s.stimulus_id: s for s in db.session.scalars(select(Stimulus))}
        p = db.session.scalars(select(Participant).where(Participant.public_id == pid)).one()
        assert dom_legend == p.legend_order  # the shuffled legend order is recorded as shown
        assert sorted(dom_legend) == [13, 14, 17]
    for trial in cfg["trials"]:
        sid = trial["src"].rsplit("/", 1)[1]
        assert sid in stims and re.fullmatch(r"[0-9a-f]{32}", sid)
        assert trial["src"] == f"/p/{pid}/img/{sid}"  # two random tokens, nothing else
        resp = client.get(trial["src"])
        assert resp.status_code == 200 and resp.mimetype == "image/png"
        assert "Content-Disposition" not in resp.headers
        assert set(png_chunk_types(resp.data)) <= {b"IHDR", b"IDAT", b"IEND", b"PLTE"}
        # pixels identical to the stimulus set's file
        served = Image.open(io.BytesIO(resp.data)).convert("RGB")
        original = Image.open(small_set / "images" / f"{sid}.png").convert("RGB")
        assert served.tobytes() == original.tobytes()
        assert " ".join(f"{k}: {v}" for k, v in resp.headers.items()).lower().count("negative") == 0


def test_image_routes_refuse_unknown_and_traversal(client):
    pid = enter(client)
    assert client.get(f"/p/{pid}/img/00000000000000000000000000000000").status_code == 404
    assert client.get(f"/p/{pid}/img/..%2Fmanifest.csv").status_code == 404
    assert client.get("/s/tiny/legend/99").status_code == 404
    assert client.get("/p/nope/img/abc").status_code == 404
    assert client.get("/p/not-a-participant/trials").status_code == 404


def test_reentry_resumes_instead_of_a_new_list(app, client):
    pid = enter(client)
    assert enter(client) == pid  # same browser: cookie
    labelled = enter(client, query="?label=alice")
    assert enter(client, query="?label=alice") == labelled  # same label, same browser: same participant
    bad = app.test_client().get("/s/tiny/?label=%3Cscript%3E")
    assert bad.status_code == 400


def test_secret_key_is_generated_once_with_mode_0600(tmp_path, monkeypatch):
    monkeypatch.delenv("STUDY_SECRET_KEY", raising=False)
    inst = tmp_path / "instance"
    app1 = create_app({"INSTANCE_PATH": str(inst), "DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}"})
    app2 = create_app({"INSTANCE_PATH": str(inst), "DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}"})
    key_file = inst / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert app1.config["SECRET_KEY"] == app2.config["SECRET_KEY"] == key_file.read_text()
    assert len(app1.config["SECRET_KEY"]) == 64


def test_unknown_study_is_a_clear_404(client):
    resp = client.get("/s/no-such-study/")
    assert resp.status_code == 404 and b"no study at this address" in resp.data


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    from sqlalchemy import text

    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}",
            "INSTANCE_PATH": str(tmp_path / "i"),
            "SECRET_KEY": "k",
            "TESTING": True,  # a short key is allowed only in testing or debug
        }
    )
    with app.app_context():
        with db.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        db.engine.dispose()
