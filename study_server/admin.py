"""Admin: login, a dashboard per study, and the responses export (CSV/JSON). Everything needs login."""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from study_server.export import frame_from_session, participant_records, to_csv, to_json
from study_server.models import AdminUser, Participant, Stimulus, Study, TrialList, db
from study_server.models import Response as TrialResponse

bp = Blueprint("admin", __name__, url_prefix="/admin")

# A real hash to compare against when the user does not exist, so timing does not reveal user names.
_DUMMY_HASH = generate_password_hash("not-a-password")


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        uid = session.get("admin_id")
        user = db.session.get(AdminUser, uid) if isinstance(uid, int) else None
        if user is None:
            return redirect(url_for("admin.login", next=request.path))
        g.admin = user
        return view(*args, **kwargs)

    return wrapped


def create_admin(username: str, password: str) -> AdminUser:
    """Create or reset an admin user (the password is stored only as a werkzeug hash)."""
    if not username or len(username) > 64:
        raise ValueError("the user name must have 1-64 characters")
    if len(password) < 8:
        raise ValueError("the password must have at least 8 characters")
    user = db.session.scalars(select(AdminUser).where(AdminUser.username == username)).one_or_none()
    if user is None:
        user = AdminUser(username=username, password_hash="")
        db.session.add(user)
    user.password_hash = generate_password_hash(password)
    db.session.commit()
    return user


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    if request.method == "POST":
        username = request.form.get("username", "")
        password = request.form.get("password", "")
        user = db.session.scalars(select(AdminUser).where(AdminUser.username == username)).one_or_none()
        ok = check_password_hash(user.password_hash if user else _DUMMY_HASH, password)
        if user is not None and ok:
            session.clear()
            session["admin_id"] = user.id
            target = request.args.get("next", "")
            if not target.startswith("/admin") or target.startswith("//"):
                target = url_for("admin.index")
            return redirect(target)
        error = "Wrong user name or password."
        current_app.logger.info("failed admin login")
    return make_response(render_template("admin/login.html", error=error), 401 if error else 200)


@bp.post("/logout")
def logout() -> Any:
    session.pop("admin_id", None)
    return redirect(url_for("admin.login"))


@bp.get("/")
@login_required
def index() -> str:
    rows = db.session.execute(
        select(Study, func.count(Participant.id))
        .outerjoin(Participant, Participant.study_id == Study.id)
        .group_by(Study.id)
        .order_by(Study.created_at)
    ).all()
    return render_template("admin/index.html", rows=rows)


def study_summary(study: Study) -> dict[str, Any]:
    """Dashboard numbers: statuses, completed per list, accuracy and median RT per condition."""
    by_status = dict(
        db.session.execute(
            select(Participant.status, func.count(Participant.id))
            .where(Participant.study_id == study.id)
            .group_by(Participant.status)
        ).all()
    )
    per_list = db.session.execute(
        select(TrialList.index, TrialList.n_assigned, func.count(Participant.id))
        .outerjoin(
            Participant,
            (Participant.list_id == TrialList.id)
            & Participant.status.in_(["completed", "submitted", "approved", "bonused"]),
        )
        .where(TrialList.study_id == study.id)
        .group_by(TrialList.id)
        .order_by(TrialList.index)
    ).all()
    rows = db.session.execute(
        select(Stimulus.condition, TrialResponse.catch, TrialResponse.correct, TrialResponse.rt_ms)
        .join(Participant, TrialResponse.participant_id == Participant.id)
        .join(
            Stimulus,
            (Stimulus.study_id == Participant.study_id) & (Stimulus.stimulus_id == TrialResponse.stimulus_id),
        )
        .where(Participant.study_id == study.id)
    ).all()
    groups: dict[str, list[tuple[bool, float | None]]] = {}
    for condition, catch, correct, rt in rows:
        groups.setdefault("catch" if catch else condition, []).append((bool(correct), rt))
    conditions = []
    for name in sorted(groups):
        items = groups[name]
        rts = [rt for _, rt in items if rt is not None]
        conditions.append(
            {
                "condition": name,
                "n": len(items),
                "correct": sum(c for c, _ in items),
                "accuracy": sum(c for c, _ in items) / len(items),
                "median_rt": statistics.median(rts) if rts else None,
            }
        )
    all_rts = [rt for *_, rt in rows if rt is not None]
    return {
        "by_status": by_status,
        "per_list": per_list,
        "conditions": conditions,
        "n_responses": len(rows),
        "median_rt": statistics.median(all_rts) if all_rts else None,
    }


def _study(slug: str) -> Study:
    study = db.session.scalars(select(Study).where(Study.slug == slug)).one_or_none()
    if study is None:
        abort(404)
    return study


@bp.get("/study/<slug>")
@login_required
def study_dashboard(slug: str) -> str:
    study = _study(slug)
    return render_template("admin/study.html", study=study, s=study_summary(study))


@bp.get("/study/<slug>/participants.json")
@login_required
def export_participants(slug: str) -> Response:
    study = _study(slug)
    body = json.dumps(participant_records(db.session, current_app.config["SECRET_KEY"], study.slug), indent=1)
    resp = make_response(body)
    resp.headers["Content-Type"] = "application/json"
    resp.headers["Content-Disposition"] = f'attachment; filename="{study.slug}-participants.json"'
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/study/<slug>/responses.<fmt>")
@login_required
def export(slug: str, fmt: str) -> Response:
    study = _study(slug)
    frame = frame_from_session(db.session, current_app.config["SECRET_KEY"], study.slug)
    if fmt == "csv":
        body, mime = to_csv(frame), "text/csv; charset=utf-8"
    elif fmt == "json":
        body, mime = to_json(frame), "application/json"
    else:
        abort(404)
    resp = make_response(body)
    resp.headers["Content-Type"] = mime
    resp.headers["Content-Disposition"] = f'attachment; filename="{study.slug}-responses.{fmt}"'
    resp.headers["Cache-Control"] = "no-store"
    return resp
