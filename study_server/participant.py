"""Participant pages: entry, consent, instructions, practice, trials, debrief, and the images.

Pages are server-rendered; the trial runner (static/runner.js) posts each answer to the JSON API.
Nothing a participant receives names the class or condition of the stimulus in front of them.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select

from study_server.db import write_lock
from study_server.images import clean_png
from study_server.lifecycle import LEFT, is_finished, set_status
from study_server.lists import allocate_participant
from study_server.models import Participant, Study, db
from study_server.models import Response as TrialResponse
from study_server.recruiters.base import BadEntry, EntryRefused, Recruiter, get_recruiter

bp = Blueprint("participant", __name__)

COOKIE_PREFIX = "study_"


def get_study_or_404(slug: str) -> Study:
    study = db.session.scalars(select(Study).where(Study.slug == slug)).one_or_none()
    if study is None:
        abort(404, description="There is no study at this address.")
    return study


def get_participant_or_404(public_id: str, *, lock: bool = False) -> Participant:
    """The participant behind a URL token; `lock` re-reads the row FOR UPDATE (PostgreSQL) inside a
    write transaction, so a status change never works on a stale copy."""
    query = select(Participant).where(Participant.public_id == public_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    p = db.session.scalars(query).one_or_none()
    if p is None:
        abort(404, description="This study link is not valid.")
    return p


def step_url(p: Participant) -> str:
    """Where a participant in this status belongs; pages redirect there when visited out of order."""
    if p.status == "allocated":
        return url_for("participant.consent", public_id=p.public_id)
    if p.status == "consented":
        return url_for("participant.instructions", public_id=p.public_id)
    if p.status == "started":
        return url_for("participant.trials", public_id=p.public_id)
    if p.status in LEFT:
        return url_for("participant.ended", public_id=p.public_id)
    return url_for("participant.debrief", public_id=p.public_id)


def message(title: str, text: str, status: int) -> Response:
    return make_response(render_template("message.html", title=title, text=text), status)


@bp.get("/s/<slug>/")
def entry(slug: str) -> Any:
    """The study link: resume a returning person, or allocate a new participant to a list.

    The same person (platform id, or this browser's cookie) always gets the same participant, even
    when they open the link many times at once: see `allocate_participant`.
    """
    study = get_study_or_404(slug)
    recruiter = get_recruiter(study.recruiter)
    try:
        ent = recruiter.parse_entry(study, request.args)
    except BadEntry as exc:
        return message("This link is not complete", str(exc), 400)
    if ent.preview:
        return render_template("preview.html", study=study)
    participant = None
    if ent.external_id is None:  # no person id from the platform: the same browser resumes by cookie
        cookie = request.cookies.get(COOKIE_PREFIX + slug)
        if cookie:
            participant = db.session.scalars(
                select(Participant).where(Participant.public_id == cookie, Participant.study_id == study.id)
            ).one_or_none()
    if participant is None:
        try:
            participant, created = allocate_participant(
                db.session,
                study,
                recruiter=recruiter.name,
                external_id=ent.external_id,
                recruiter_data=dict(ent.data),
                admit=lambda: recruiter.admit(db.session, study, ent),
            )
        except EntryRefused as exc:
            return message("Thank you for your interest", str(exc), 403)
        if created and type(recruiter).on_start is not Recruiter.on_start:
            _run_on_start(recruiter, participant.public_id)
        elif _new_platform_session(participant, ent.data):
            if is_finished(participant.status) or participant.status == "screened_out":
                try:  # e.g. a worker who finished this study accepts another of its assignments
                    recruiter.admit(db.session, study, ent)
                except EntryRefused as exc:
                    return message("Thank you for your interest", str(exc), 403)
            else:  # returned and re-accepted: hand back through the live assignment/session
                with write_lock(db.session):
                    fresh = get_participant_or_404(participant.public_id, lock=True)
                    fresh.recruiter_data = {**fresh.recruiter_data, **ent.data}
                    db.session.commit()
    resp = redirect(step_url(participant))
    resp.set_cookie(
        COOKIE_PREFIX + slug,
        participant.public_id,
        max_age=30 * 24 * 3600,
        httponly=True,
        samesite="Lax",
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
    )
    return resp


def _run_on_start(recruiter: Recruiter, public_id: str) -> None:
    """The recruiter's once-per-participant hook (MTurk: grant the "took part" qualification).

    It may call the platform, so it runs outside the database lock; what it changes is then written
    in a short write transaction of its own.
    """
    p = get_participant_or_404(public_id)
    before = dict(p.recruiter_data or {})
    recruiter.on_start(db.session, p)
    after = dict(p.recruiter_data or {})
    db.session.rollback()  # drop the read transaction; the change is re-applied under the write lock
    if after != before:
        with write_lock(db.session):
            fresh = get_participant_or_404(public_id, lock=True)
            fresh.recruiter_data = {**(fresh.recruiter_data or {}), **after}
            db.session.commit()


def _new_platform_session(p: Participant, data: dict[str, str]) -> bool:
    """True when a returning person arrives with different platform ids (a new assignment or session)."""
    return any(p.recruiter_data.get(k) not in (None, v) for k, v in data.items())


@bp.route("/p/<public_id>/", methods=["GET"])
def resume(public_id: str) -> Any:
    return redirect(step_url(get_participant_or_404(public_id)))


@bp.route("/p/<public_id>/consent", methods=["GET", "POST"])
def consent(public_id: str) -> Any:
    p = get_participant_or_404(public_id)
    if p.status != "allocated":
        return redirect(step_url(p))
    if request.method == "POST":
        if request.form.get("agree") != "yes":
            return render_template("consent.html", p=p, study=p.study, error="Please tick the box to agree.")
        return redirect(_advance(public_id, "allocated", "consented"))
    return render_template("consent.html", p=p, study=p.study, error=None)


def _advance(public_id: str, expected: str, new: str) -> str:
    """Move the participant from `expected` to `new` (a double click or second tab changes nothing)
    and return where they belong now. The write transaction starts before the row is read (SQLite:
    BEGIN IMMEDIATE), so simultaneous participants wait for the lock instead of failing "locked"."""
    with write_lock(db.session):
        p = get_participant_or_404(public_id, lock=True)
        if p.status == expected:
            set_status(db.session, p, new)
        db.session.commit()
    return step_url(p)


def legend_items(study: Study, order: list[int]) -> list[dict[str, Any]]:
    names = {int(c["id"]): str(c["name"]) for c in study.classes}
    return [
        {
            "id": cid,
            "name": names[cid],
            "src": url_for("participant.legend_image", slug=study.slug, class_id=cid),
        }
        for cid in order
    ]


@bp.get("/p/<public_id>/instructions")
def instructions(public_id: str) -> Any:
    p = get_participant_or_404(public_id)
    if p.status != "consented":
        return redirect(step_url(p))
    n_practice = int(p.study.config.get("practice_trials") or 0)
    return render_template(
        "instructions.html",
        p=p,
        study=p.study,
        legend=legend_items(p.study, p.legend_order),
        n_trials=len(p.trial_order),
        n_practice=n_practice,
    )


@bp.get("/p/<public_id>/practice")
def practice(public_id: str) -> Any:
    """Practice with feedback on legend images (not in the main list); nothing is stored."""
    p = get_participant_or_404(public_id)
    if p.status != "consented":
        return redirect(step_url(p))
    study = p.study
    n = min(int(study.config.get("practice_trials") or 0), len(p.legend_order))
    chosen = random.Random(f"practice-{p.seed}").sample(list(p.legend_order), n)
    items = [
        {"src": url_for("participant.legend_image", slug=study.slug, class_id=cid), "answer": cid}
        for cid in chosen
    ]
    return render_template(
        "runner.html",
        p=p,
        study=study,
        mode="practice",
        legend=legend_items(study, p.legend_order),
        runner={
            "mode": "practice",
            "trials": items,
            "presentation_ms": study.config.get("presentation_ms"),
            "allow_none": bool(study.config.get("allow_none")),
        },
    )


@bp.post("/p/<public_id>/start")
def start(public_id: str) -> Any:
    get_participant_or_404(public_id)  # an unknown token is a 404 before any write lock is taken
    return redirect(_advance(public_id, "consented", "started"))


@bp.get("/p/<public_id>/trials")
def trials(public_id: str) -> Any:
    p = get_participant_or_404(public_id)
    if p.status != "started":
        return redirect(step_url(p))
    study = p.study
    answered = db.session.scalars(
        select(TrialResponse.trial_index).where(TrialResponse.participant_id == p.id)
    ).all()
    items = [
        {"index": i, "src": url_for("participant.stimulus_image", public_id=p.public_id, stimulus_id=sid)}
        for i, sid in enumerate(p.trial_order)
    ]
    return render_template(
        "runner.html",
        p=p,
        study=study,
        mode="main",
        legend=legend_items(study, p.legend_order),
        runner={
            "mode": "main",
            "pid": p.public_id,
            "api": url_for("api.post_response", public_id=p.public_id),
            "debrief": url_for("participant.debrief", public_id=p.public_id),
            "trials": items,
            "answered": sorted(answered),
            "presentation_ms": study.config.get("presentation_ms"),
            "allow_none": bool(study.config.get("allow_none")),
        },
    )


@bp.get("/p/<public_id>/ended")
def ended(public_id: str) -> Any:
    """For someone who returned the study or was idle too long: their slot went to someone else."""
    p = get_participant_or_404(public_id)
    if p.status not in LEFT:
        return redirect(step_url(p))
    return message(
        "This session has ended",
        "This study session was closed because it was returned or inactive for too long, and its place "
        "has gone to someone else. Thank you for your interest; please contact the researchers if you "
        "think this is a mistake.",
        410,
    )


@bp.get("/p/<public_id>/debrief")
def debrief(public_id: str) -> Any:
    p = get_participant_or_404(public_id)
    screened_out = p.status == "screened_out"
    if not screened_out and not is_finished(p.status):
        return redirect(step_url(p))
    finish = get_recruiter(p.recruiter).finish(p.study, p, screened_out=screened_out)
    return render_template("debrief.html", p=p, study=p.study, finish=finish, screened_out=screened_out)


def _study_file(study: Study, *parts: str) -> Path:
    path = Path(study.stimulus_dir, *parts)
    if not path.is_file():
        abort(404, description="image not found")
    return path


def _png(data: bytes) -> Response:
    resp = make_response(data)
    resp.headers["Content-Type"] = "image/png"
    resp.headers["Cache-Control"] = "private, max-age=86400"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


@bp.get("/p/<public_id>/img/<stimulus_id>")
def stimulus_image(public_id: str, stimulus_id: str) -> Response:
    """A stimulus by its opaque id, served only to a participant whose own trial list holds it: nobody
    can page through a study's images, and a URL shows nothing but two random tokens."""
    p = get_participant_or_404(public_id)
    if stimulus_id not in p.trial_order:
        abort(404, description="image not found")
    return _png(clean_png(_study_file(p.study, "images", f"{stimulus_id}.png")))


@bp.get("/s/<slug>/legend/<int:class_id>")
def legend_image(slug: str, class_id: int) -> Response:
    study = get_study_or_404(slug)
    choice = next((c for c in study.classes if int(c["id"]) == class_id), None)
    if choice is None:
        abort(404, description="image not found")
    # a label group (importer.answer_choices) is shown by one member class's legend image
    return _png(clean_png(_study_file(study, "legend", f"{int(choice.get('legend', class_id))}.png")))
