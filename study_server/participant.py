"""Participant pages: entry, consent, instructions, practice, trials, debrief, and the images.

Pages are server-rendered; the trial runner (static/runner.js) posts each answer to the JSON API.
Nothing a participant receives names the class or condition of the stimulus in front of them.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, make_response, redirect, render_template, request, url_for
from sqlalchemy import select

from study_server.images import clean_png
from study_server.lists import allocate_participant
from study_server.models import Participant, Stimulus, Study, db
from study_server.models import Response as TrialResponse
from study_server.recruiters.base import BadEntry, EntryRefused, get_recruiter
from study_server.status import set_status

bp = Blueprint("participant", __name__)

FINISHED = {"completed", "submitted", "approved", "rejected", "bonused"}
COOKIE_PREFIX = "study_"


def get_study_or_404(slug: str) -> Study:
    study = db.session.scalars(select(Study).where(Study.slug == slug)).one_or_none()
    if study is None:
        abort(404, description="There is no study at this address.")
    return study


def get_participant_or_404(public_id: str) -> Participant:
    p = db.session.scalars(select(Participant).where(Participant.public_id == public_id)).one_or_none()
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
    return url_for("participant.debrief", public_id=p.public_id)


def message(title: str, text: str, status: int) -> Response:
    return make_response(render_template("message.html", title=title, text=text), status)


@bp.get("/s/<slug>/")
def entry(slug: str) -> Any:
    """The study link: resume a returning person, or allocate a new participant to a list."""
    study = get_study_or_404(slug)
    recruiter = get_recruiter(study.recruiter)
    try:
        ent = recruiter.parse_entry(study, request.args)
    except BadEntry as exc:
        return message("This link is not complete", str(exc), 400)
    if ent.preview:
        return render_template("preview.html", study=study)
    existing = None
    if ent.external_id is not None:
        existing = db.session.scalars(
            select(Participant).where(
                Participant.study_id == study.id,
                Participant.recruiter == recruiter.name,
                Participant.external_id == ent.external_id,
            )
        ).first()
    else:  # no person id from the platform: the same browser resumes through its cookie
        cookie = request.cookies.get(COOKIE_PREFIX + slug)
        if cookie:
            existing = db.session.scalars(
                select(Participant).where(Participant.public_id == cookie, Participant.study_id == study.id)
            ).one_or_none()
    if existing is not None and _new_platform_session(existing, ent.data):
        if existing.status in FINISHED or existing.status == "screened_out":
            try:  # e.g. a worker who finished this study accepts another of its assignments
                recruiter.admit(db.session, study, ent)
            except EntryRefused as exc:
                return message("Thank you for your interest", str(exc), 403)
        else:  # returned and re-accepted: hand back through the live assignment/session
            existing.recruiter_data = {**existing.recruiter_data, **ent.data}
            db.session.commit()
    if existing is None:
        try:
            recruiter.admit(db.session, study, ent)
        except EntryRefused as exc:
            return message("Thank you for your interest", str(exc), 403)
        existing = allocate_participant(
            db.session,
            study,
            recruiter=recruiter.name,
            external_id=ent.external_id,
            recruiter_data=dict(ent.data),
        )
        recruiter.on_start(db.session, existing)
        db.session.commit()
    resp = redirect(step_url(existing))
    resp.set_cookie(
        COOKIE_PREFIX + slug, existing.public_id, max_age=30 * 24 * 3600, httponly=True, samesite="Lax"
    )
    return resp


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
        set_status(db.session, p, "consented")
        db.session.commit()
        return redirect(step_url(p))
    return render_template("consent.html", p=p, study=p.study, error=None)


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
        },
    )


@bp.post("/p/<public_id>/start")
def start(public_id: str) -> Any:
    p = get_participant_or_404(public_id)
    if p.status == "consented":
        set_status(db.session, p, "started")
        db.session.commit()
    return redirect(step_url(p))


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
        {"index": i, "src": url_for("participant.stimulus_image", slug=study.slug, stimulus_id=sid)}
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
        },
    )


@bp.get("/p/<public_id>/debrief")
def debrief(public_id: str) -> Any:
    p = get_participant_or_404(public_id)
    screened_out = p.status == "screened_out"
    if not screened_out and p.status not in FINISHED:
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


@bp.get("/s/<slug>/img/<stimulus_id>")
def stimulus_image(slug: str, stimulus_id: str) -> Response:
    """A stimulus by its opaque id; only ids of this study's manifest are served (no path tricks)."""
    study = get_study_or_404(slug)
    known = db.session.scalar(
        select(Stimulus.id).where(Stimulus.study_id == study.id, Stimulus.stimulus_id == stimulus_id)
    )
    if known is None:
        abort(404, description="image not found")
    return _png(clean_png(_study_file(study, "images", f"{stimulus_id}.png")))


@bp.get("/s/<slug>/legend/<int:class_id>")
def legend_image(slug: str, class_id: int) -> Response:
    study = get_study_or_404(slug)
    if class_id not in {int(c["id"]) for c in study.classes}:
        abort(404, description="image not found")
    return _png(clean_png(_study_file(study, "legend", f"{class_id}.png")))
