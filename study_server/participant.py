"""Participant pages: entry, consent, instructions, practice, trials, debrief, and the images.

Pages are server-rendered; the trial runner (static/runner.js) posts each answer to the JSON API.
Nothing a participant receives names the class or condition of the stimulus in front of them.
"""

from __future__ import annotations

import random
import re
import secrets
from datetime import UTC, datetime, timedelta
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
from werkzeug.wrappers import Response as WerkzeugResponse  # what redirect() returns

from study_server.calibration import CARD_HEIGHT_MM, CARD_WIDTH_MM, CalibrationError, calibration_record
from study_server.consent_check import NOT_OPEN, consent_details_missing
from study_server.db import write_lock
from study_server.images import clean_png
from study_server.lifecycle import LEFT, is_finished, set_status
from study_server.lists import STUDY_FULL, allocate_participant, study_is_full
from study_server.models import Participant, Study, db, utcnow
from study_server.models import Response as TrialResponse
from study_server.practice import PracticeImage, practice_images
from study_server.ratelimit import consent_retry_after
from study_server.recruiters.base import BadEntry, Entry, EntryRefused, Recruiter, get_recruiter
from study_server.settings import effective
from study_server.study_cache import choice_of_class

bp = Blueprint("participant", __name__)

COOKIE_PREFIX = "study_"
AGREE = "Please tick the box to agree."


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


def needs_calibration(p: Participant) -> bool:
    """The study calibrates the screen and this participant has not done it yet."""
    return p.calibration is None and effective(p.study.config)["calibration"] != "none"


def step_url(p: Participant) -> str:
    """Where a participant in this status belongs; pages redirect there when visited out of order."""
    if p.status == "allocated":
        return url_for("participant.consent", public_id=p.public_id)
    if p.status == "consented":
        if needs_calibration(p):
            return url_for("participant.calibrate", public_id=p.public_id)
        return url_for("participant.instructions", public_id=p.public_id)
    if p.status == "started":
        return url_for("participant.trials", public_id=p.public_id)
    if p.status in LEFT:
        return url_for("participant.ended", public_id=p.public_id)
    return url_for("participant.debrief", public_id=p.public_id)


def message(title: str, text: str, status: int) -> Response:
    return make_response(render_template("message.html", title=title, text=text), status)


def _set_cookie(resp: WerkzeugResponse, slug: str, public_id: str) -> WerkzeugResponse:
    resp.set_cookie(
        COOKIE_PREFIX + slug,
        public_id,
        max_age=30 * 24 * 3600,
        httponly=True,
        samesite="Lax",
        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
    )
    return resp


def _returning(study: Study, recruiter: Recruiter, ent: Entry) -> Participant | None:
    """The person's participant if they have one already (by platform id, or this browser's cookie);
    a read only: nobody is created here."""
    if ent.external_id is None:
        cookie = request.cookies.get(COOKIE_PREFIX + study.slug)
        if not cookie:
            return None
        return db.session.scalars(
            select(Participant).where(Participant.public_id == cookie, Participant.study_id == study.id)
        ).one_or_none()
    return db.session.scalars(
        select(Participant).where(
            Participant.study_id == study.id,
            Participant.recruiter == recruiter.name,
            Participant.external_id == ent.external_id,
        )
    ).one_or_none()


@bp.route("/s/<slug>/", methods=["GET", "POST"])
def entry(slug: str) -> Any:
    """The study link. GET shows the consent page and writes nothing (a link preview in a chat app, or
    a curl, uses no list slot); a returning person is sent back to where they were. POST (the consent
    form, same query string) creates the participant: see `_consent_and_allocate`.
    """
    study = get_study_or_404(slug)
    if consent_details_missing(study):  # a real study opens only with contact and ethics text set
        return message("This study is not open yet", NOT_OPEN, 503)
    recruiter = get_recruiter(study.recruiter)
    try:
        ent = recruiter.parse_entry(study, request.args)
    except BadEntry as exc:
        return message("This link is not complete", str(exc), 400)
    if ent.preview:
        return render_template("preview.html", study=study, settings=effective(study.config))
    participant = _returning(study, recruiter, ent)
    if participant is not None:
        if not _this_browser(study, recruiter, ent, participant):
            return _elsewhere(study, recruiter, ent, participant)
        refused = _welcome_back(study, recruiter, ent, participant)
        if refused is not None:
            return refused
        return _set_cookie(redirect(step_url(participant)), slug, participant.public_id)
    if request.method == "GET":
        try:  # a person the study must refuse (a repeat worker) learns it before reading the consent
            recruiter.admit(db.session, study, ent)
        except EntryRefused as exc:  # (it only reads; POST checks again inside the allocation lock)
            return message("Thank you for your interest", str(exc), 403)
        if study_is_full(db.session, study):  # nobody reads a consent form for a study they cannot join
            return message("Thank you for your interest", STUDY_FULL, 403)
        return _consent_page(study, action=request.full_path, error=None)
    return _consent_and_allocate(study, recruiter, ent)


def _this_browser(study: Study, recruiter: Recruiter, ent: Entry, p: Participant) -> bool:
    """Whether this request may continue `p`'s session: it comes from the browser that started it (its
    cookie), carries the platform's session id that only that person is given, or the researcher let
    the session resume elsewhere (once, until `resume_until`). A platform id alone never suffices."""
    if request.cookies.get(COOKIE_PREFIX + study.slug) == p.public_id:
        return True
    key = recruiter.session_param
    if key and ent.data.get(key) and ent.data.get(key) == (p.recruiter_data or {}).get(key):
        return True
    if p.resume_until is None or _aware(p.resume_until) <= utcnow():
        return False
    with write_lock(db.session):  # the permission is used up by this browser, which gets the cookie
        fresh = get_participant_or_404(p.public_id, lock=True)
        allowed = fresh.resume_until is not None and _aware(fresh.resume_until) > utcnow()
        fresh.resume_until = None
        db.session.commit()
    return allowed


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)  # SQLite drops the zone


ELSEWHERE = (
    "This study was started in another browser or on another device, and it can only be continued "
    "there: please go back to the browser where you started (the same link works there). If you cannot, "
    "please contact the researchers; they can let you continue here."
)


def _elsewhere(study: Study, recruiter: Recruiter, ent: Entry, p: Participant) -> Response:
    """A second browser with a started person's platform id: not let in. A different platform session
    is kept as a further attempt (never replacing the stored one)."""
    key = recruiter.session_param
    if key and ent.data.get(key):
        with write_lock(db.session):
            fresh = get_participant_or_404(p.public_id, lock=True)
            fresh.recruiter_data = _with_attempt(fresh.recruiter_data or {}, key, ent.data[key])
            db.session.commit()
    contact = str(effective(study.config)["researcher_contact"] or "").strip()
    text = ELSEWHERE + (f" Contact: {contact}" if contact else "")
    return message("Please continue where you started", text, 409)


MAX_ATTEMPTS = 20


def _with_attempt(data: dict[str, Any], key: str, value: str) -> dict[str, Any]:
    """`data` with another platform session recorded under "attempts" (the stored one is kept)."""
    if data.get(key) in (None, value):
        return data
    attempts = list(data.get("attempts") or [])
    if value not in {a.get(key) for a in attempts} and len(attempts) < MAX_ATTEMPTS:
        attempts.append({key: value, "at": utcnow().isoformat(timespec="seconds")})
    return {**data, "attempts": attempts}


NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def _consent_page(study: Study, *, action: str, error: str | None, status: int = 200) -> Response:
    """The consent form, with a fresh nonce: submitting it twice gives one participant."""
    settings = effective(study.config)
    nonce = request.form.get("nonce") if request.method == "POST" else None
    page = render_template(
        "consent.html",
        study=study,
        settings=settings,
        action=action,
        error=error,
        nonce=nonce if nonce and NONCE.match(nonce) else secrets.token_urlsafe(16),
    )
    return make_response(page, status)


def _gate_refusal(settings: dict[str, Any], form: Any) -> str | None:
    """The small-screen / touch-only gate, checked again on the server with what the page measured
    (the page already hides the form; a page without script sends nothing and is not judged here)."""
    try:
        width, height = int(form.get("screen_width", "")), int(form.get("screen_height", ""))
    except ValueError:
        return None
    if width < int(settings["min_screen_width"]) or height < int(settings["min_screen_height"]):
        return "small"
    if form.get("touch_only") == "1" and not settings["allow_touch_only"]:
        return "touch"
    return None


def _consent_and_allocate(study: Study, recruiter: Recruiter, ent: Entry) -> Any:
    """Consent given: create the participant (race-free: one per platform id, see
    `allocate_participant`), run the recruiter's once-per-participant hook, and record the consent."""
    settings = effective(study.config)
    if request.form.get("agree") != "yes":
        return _consent_page(study, action=request.full_path, error=AGREE)
    if _gate_refusal(settings, request.form):
        return render_template("gate.html", study=study, settings=settings), 403
    nonce = request.form.get("nonce", "")
    retry = consent_retry_after()
    if retry is not None:
        resp = message(
            "Please wait a little",
            "Many people have joined from your network in a short time. Please try again later.",
            429,
        )
        resp.headers["Retry-After"] = str(retry)
        return resp
    try:
        participant, created = allocate_participant(
            db.session,
            study,
            recruiter=recruiter.name,
            external_id=ent.external_id,
            recruiter_data=dict(ent.data),
            admit=lambda: recruiter.admit(db.session, study, ent),
            consent=True,
            consent_nonce=nonce if NONCE.match(nonce) else None,
        )
    except EntryRefused as exc:
        return message("Thank you for your interest", str(exc), 403)
    public_id = participant.public_id
    if created and type(recruiter).on_start is not Recruiter.on_start:
        _run_on_start(recruiter, public_id)
    # (a consent given before allocation and consent were one commit may still be "allocated")
    return _set_cookie(redirect(_advance(public_id, "allocated", "consented")), study.slug, public_id)


def _welcome_back(study: Study, recruiter: Recruiter, ent: Entry, participant: Participant) -> Any:
    """A returning person with new platform ids (a new assignment or session): check them again if they
    finished, else hand back through the live assignment. Returns a refusal page, or None."""
    if not _new_platform_session(participant, ent.data):
        return None
    if is_finished(participant.status) or participant.status == "screened_out":
        try:  # e.g. a worker who finished this study accepts another of its assignments
            recruiter.admit(db.session, study, ent)
        except EntryRefused as exc:
            return message("Thank you for your interest", str(exc), 403)
        return None
    with write_lock(db.session):  # returned and re-accepted: hand back through the live assignment
        fresh = get_participant_or_404(participant.public_id, lock=True)
        data, key = dict(ent.data), recruiter.session_param
        stored = fresh.recruiter_data or {}
        if key and not recruiter.new_session_replaces and stored.get(key) not in (None, data.get(key)):
            stored = _with_attempt(stored, key, data.pop(key))  # Prolific: the first session stays
        fresh.recruiter_data = {**stored, **data}
        db.session.commit()
    return None


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
            return _consent_page(p.study, action=request.path, error=AGREE)
        return redirect(_advance(public_id, "allocated", "consented"))
    return _consent_page(p.study, action=request.path, error=None)


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


@bp.route("/p/<public_id>/calibrate", methods=["GET", "POST"])
def calibrate(public_id: str) -> Any:
    """Screen calibration (credit-card outline; optionally the blind spot), before the instructions.
    The server recomputes the record from the raw measurements (`study_server.calibration`)."""
    p = get_participant_or_404(public_id)
    settings = effective(p.study.config)
    if p.status != "consented" or settings["calibration"] == "none":
        return redirect(step_url(p))
    error = None
    if request.method == "POST":
        try:
            record = calibration_record(request.form, settings)
        except CalibrationError as exc:
            error = f"That measurement did not work ({exc}). Please try again."
        else:
            with write_lock(db.session):
                fresh = get_participant_or_404(public_id, lock=True)
                if fresh.calibration is None:  # a second tab or a double click keeps the first
                    fresh.calibration = record
                db.session.commit()
            return redirect(step_url(p))
    return render_template(
        "calibrate.html",
        p=p,
        study=p.study,
        settings=settings,
        error=error,
        card_mm=[CARD_WIDTH_MM, CARD_HEIGHT_MM],
        blind_spot=settings["calibration"] == "card+blindspot",
    ), (400 if error else 200)


@bp.get("/p/<public_id>/instructions")
def instructions(public_id: str) -> Any:
    p = get_participant_or_404(public_id)
    if p.status != "consented" or step_url(p).endswith("/calibrate"):
        return redirect(step_url(p))
    settings = effective(p.study.config)
    return render_template(
        "instructions.html",
        p=p,
        study=p.study,
        settings=settings,
        legend=legend_items(p.study, p.legend_order),
        n_trials=len(p.trial_order),
        n_practice=len(_practice_choice(p, settings)),
    )


def _practice_choice(p: Participant, settings: dict[str, Any]) -> list[PracticeImage]:
    """This participant's practice images: a seeded sample of the set's held-out practice images."""
    pool = practice_images(p.study.stimulus_dir)
    n = min(int(settings["practice_trials"]), len(pool))
    return random.Random(f"practice-{p.seed}").sample(pool, n)


def runner_payload(p: Participant, settings: dict[str, Any], mode: str, trials: list[dict]) -> dict[str, Any]:
    """What the trial runner (static/runner.js) reads: the mode, the trials, and every setting it
    obeys. Add a new runner option here, as one more key."""
    cal = p.calibration or {}
    return {
        "mode": mode,
        "pid": p.public_id,
        "trials": trials,
        # stimulus size: from the calibration, or a fixed CSS size when calibration is off
        "stimulus_px": cal.get("stimulus_px") or settings["stimulus_px"],
        "scaling": settings["stimulus_scaling"],
        "frame_ms": cal.get("frame_ms"),
        # timing, on display frames
        "presentation_ms": settings["presentation_ms"],
        "mask_ms": settings["mask_ms"],
        "response_deadline_ms": settings["response_deadline_ms"],
        "breaks_every": settings["breaks_every"] if mode == "main" else 0,
        "fullscreen": bool(settings["fullscreen"]),
        "fullscreen_exits": p.fullscreen_exits,
        "fullscreen_api": url_for("api.fullscreen_exits", public_id=p.public_id),
        # fooling sets: "none of these" is an answer (a property of the set, never a setting)
        "allow_none": bool(p.study.config.get("allow_none")),
    }


@bp.get("/p/<public_id>/practice")
def practice(public_id: str) -> Any:
    """Practice with feedback on held-out images of the source (never the legend icons, never a study
    stimulus); nothing is stored."""
    p = get_participant_or_404(public_id)
    if p.status != "consented" or step_url(p).endswith("/calibrate"):
        return redirect(step_url(p))
    study = p.study
    settings = effective(study.config)
    # the right answer is the choice holding the image's class (its label group when the set has groups)
    choice_of = choice_of_class(study.classes)
    items = [
        {"src": url_for("participant.practice_image", public_id=p.public_id, image_id=img.image_id),
         "answer": choice_of.get(int(img.label), int(img.label))}
        for img in _practice_choice(p, settings)
    ]  # fmt: skip
    return render_template(
        "runner.html",
        p=p,
        study=study,
        mode="practice",
        settings=settings,
        legend=legend_items(study, p.legend_order),
        runner=runner_payload(p, settings, "practice", items),
    )


@bp.post("/p/<public_id>/start")
def start(public_id: str) -> Any:
    """Start the trials; refused (back to the calibration) while a calibration the study needs is
    missing, so that nobody answers at a stimulus size nobody measured."""
    get_participant_or_404(public_id)  # an unknown token is a 404 before any write lock is taken
    with write_lock(db.session):
        p = get_participant_or_404(public_id, lock=True)
        if p.status == "consented" and not needs_calibration(p):
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
        {"index": i, "src": url_for("participant.stimulus_image", public_id=p.public_id, stimulus_id=sid)}
        for i, sid in enumerate(p.trial_order)
    ]
    settings = effective(study.config)
    payload = runner_payload(p, settings, "main", items)
    payload.update(
        api=url_for("api.post_response", public_id=p.public_id),
        display_api=url_for("api.display", public_id=p.public_id),
        debrief=url_for("participant.debrief", public_id=p.public_id),
        answered=sorted(answered),
    )
    legend = legend_items(study, p.legend_order)
    return render_template(
        "runner.html", p=p, study=study, settings=settings, mode="main", legend=legend, runner=payload
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
    settings = effective(p.study.config)
    # a plain link has nowhere to paste a code back: show it only when the researcher asks for one
    show_code = (
        finish.kind == "code"
        and bool(finish.code)
        and (p.recruiter != "link" or bool(settings["show_completion_code"]))
    )
    return render_template(
        "debrief.html",
        p=p,
        study=p.study,
        settings=settings,
        finish=finish,
        show_code=show_code,
        screened_out=screened_out,
    )


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


@bp.get("/p/<public_id>/practice-img/<image_id>")
def practice_image(public_id: str, image_id: str) -> Response:
    """A practice image by its opaque id (only the set's practice images; never a study stimulus)."""
    p = get_participant_or_404(public_id)
    if image_id not in {img.image_id for img in practice_images(p.study.stimulus_dir)}:
        abort(404, description="image not found")
    return _png(clean_png(_study_file(p.study, "practice", f"{image_id}.png")))


RESUME_HOURS = 24.0


def allow_resume(study: Study, external_id: str, hours: float = RESUME_HOURS) -> Participant:
    """Let the next browser that opens the study link with `external_id` continue that person's
    session (once, within `hours`): for a participant who had to change browser or device and asked
    the researcher. LookupError when the study has no such person."""
    if not 0 < hours <= 24 * 30:
        raise ValueError("hours must lie between 0 and 720")
    with write_lock(db.session):
        p = db.session.scalars(
            select(Participant)
            .where(Participant.study_id == study.id, Participant.external_id == external_id)
            .with_for_update()
        ).first()
        if p is None:
            db.session.rollback()
            raise LookupError(f"study {study.slug!r} has no participant with id {external_id!r}")
        p.resume_until = utcnow() + timedelta(hours=hours)
        db.session.commit()
    return p
