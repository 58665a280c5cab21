"""Admin: login, a dashboard per study, and the responses export (CSV/JSON). Everything needs login.

Login security (issue 10):
- Sessions live on the server (`AdminSession`): the signed cookie holds only a random token, the
  database its SHA-256. Logout deletes the row, a password reset deletes all the user's rows, and a
  session ends after `ADMIN_SESSION_IDLE` seconds idle or `ADMIN_SESSION_LIFETIME` seconds after login.
- Throttling is kept in the database (`AdminLoginFailure`), so it holds across gunicorn workers and app
  servers, per user name *and* address with growing delays (`_locked_until`): a guesser who fails
  `ADMIN_LOGIN_MAX_PER_USER` times for a user name from one address waits, longer after each further
  failure, while the right password from another address still works; an address that fails for many
  names waits too, and so does a user name guessed from many addresses, except from the addresses its
  admin logged in from before. A refused login answers 429 with Retry-After and does not look at the
  password. The attempt is recorded before the password is checked, so concurrent workers never check
  more than the limit. Failures and lockouts are logged at WARNING, never with the password.
- Admin pages may not be framed (X-Frame-Options, CSP frame-ancestors) and load nothing from other
  sites (Content-Security-Policy); participant pages, which MTurk shows in a frame, are left alone.
- Passwords must be strong enough (`password_problem`).
- Behind a reverse proxy the client address is only right when the app trusts the proxy's
  X-Forwarded-For (werkzeug's ProxyFix); otherwise every client shares the proxy's address.
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
import statistics
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

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
from sqlalchemy import ColumnElement, delete, func, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from study_server.consent_check import consent_details_missing
from study_server.db import write_lock
from study_server.export import frame_from_session, participant_records, to_csv, to_json
from study_server.lifecycle import COUNTS_FOR_LIST, STATUSES
from study_server.models import (
    AdminLoginFailure,
    AdminSession,
    AdminUser,
    Participant,
    Stimulus,
    Study,
    TrialList,
    db,
    utcnow,
)
from study_server.models import Response as TrialResponse
from study_server.participant_table import participant_rows
from study_server.ratelimit import client_address
from study_server.settings import settings_table

bp = Blueprint("admin", __name__, url_prefix="/admin")

# A real hash to compare against when the user does not exist, so timing does not reveal user names.
_DUMMY_HASH = generate_password_hash("not-a-password")

SESSION_KEY = "admin_token"
"""The Flask session key holding the admin session token (the only admin data in the cookie)."""

SETTINGS: dict[str, int] = {
    "ADMIN_LOGIN_MAX_PER_USER": 5,
    "ADMIN_LOGIN_MAX_PER_ADDRESS": 20,
    "ADMIN_LOGIN_MAX_PER_USER_ALL": 50,
    "ADMIN_LOGIN_DELAY": 30,
    "ADMIN_LOGIN_WINDOW": 15 * 60,
    "ADMIN_SESSION_IDLE": 8 * 3600,
    "ADMIN_SESSION_LIFETIME": 24 * 3600,
}
"""Defaults (seconds or counts); app config (e.g. env STUDY_ADMIN_LOGIN_WINDOW) overrides each."""

_TOUCH_EVERY = timedelta(seconds=60)
"""`last_seen_at` is written at most this often, not on every request."""


def _setting(name: str) -> int:
    return int(current_app.config.get(name, SETTINGS[name]))


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)  # SQLite drops the zone


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _printable(text: str, limit: int = 64) -> str:
    """A user-supplied value made safe for a log line: control characters escaped, length capped."""
    short = text[:limit]
    return repr(short) + ("..." if len(text) > limit else "")


def current_admin_session() -> AdminSession | None:
    """The live `AdminSession` of this request's cookie, or None (an ended one is deleted)."""
    token = session.get(SESSION_KEY)
    if not isinstance(token, str) or not token:
        return None
    row = db.session.scalars(
        select(AdminSession).where(AdminSession.token_hash == _token_hash(token))
    ).one_or_none()
    if row is None:
        return None
    now, row_id = utcnow(), row.id
    last_seen = _aware(row.last_seen_at)
    idle = timedelta(seconds=_setting("ADMIN_SESSION_IDLE"))
    if _aware(row.expires_at) <= now or last_seen + idle <= now:
        with write_lock(db.session):
            db.session.execute(delete(AdminSession).where(AdminSession.id == row_id))
            db.session.commit()
        return None
    if now - last_seen >= _TOUCH_EVERY:
        with write_lock(db.session):
            db.session.execute(update(AdminSession).where(AdminSession.id == row_id).values(last_seen_at=now))
            db.session.commit()
    return row


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        row = current_admin_session()
        if row is None:
            session.pop(SESSION_KEY, None)
            return redirect(url_for("admin.login", next=request.script_root + request.path))
        g.admin = row.user
        g.admin_session = row
        return view(*args, **kwargs)

    return wrapped


def create_admin(username: str, password: str) -> AdminUser:
    """Create or reset an admin user (the password is stored only as a werkzeug hash).

    A reset ends all the user's sessions and clears the user name's failed-login counter.
    """
    if not username or len(username) > 64:
        raise ValueError("the user name must have 1-64 characters")
    problem = password_problem(username, password)
    if problem:
        raise ValueError(problem)
    password_hash = generate_password_hash(password)  # slow: before the write lock
    with write_lock(db.session):
        user = db.session.scalars(select(AdminUser).where(AdminUser.username == username)).one_or_none()
        if user is None:
            user = AdminUser(username=username, password_hash="")
            db.session.add(user)
        else:
            user.password_changed_at = utcnow()
            revoke_sessions(user)
            _clear_user_failures(username)
        user.password_hash = password_hash
        db.session.commit()
    return user


MIN_PASSWORD_LENGTH = 12
_COMMON = frozenset(
    [
        "password",
        "passw0rd",
        "password1",
        "password123",
        "123456789012",
        "qwertyuiopas",
        "qwertyuiop123",
        "letmein12345",
        "administrator",
        "admin1234567",
        "iloveyou1234",
        "changeme1234",
        "welcome12345",
        "correcthorse",
    ]
)
"""Well-known passwords of the minimum length or near it (a lower-case match is refused)."""


def password_problem(username: str, password: str) -> str | None:
    """Why `password` is too weak for an admin account, in words the user can act on; None if it is
    fine. A passphrase of a few words passes; a short, repetitive or well-known one does not."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return (
            f"the password must have at least {MIN_PASSWORD_LENGTH} characters "
            "(a passphrase of three or four words is easy to remember)"
        )
    lowered = password.lower()
    if lowered in _COMMON or lowered.startswith(("password", "qwerty", "123456")):
        return "the password is one of the most common passwords; choose another"
    if username and username.lower() in lowered:
        return "the password must not contain the user name"
    if len(set(password)) < 6:
        return "the password repeats too few different characters; choose a longer mix"
    return None


def revoke_sessions(user: AdminUser) -> int:
    """Delete all of `user`'s sessions (the caller commits); returns how many there were."""
    result = db.session.execute(delete(AdminSession).where(AdminSession.user_id == user.id))
    return int(getattr(result, "rowcount", 0) or 0)


def _clear_user_failures(username: str) -> None:
    # The rows keep counting against their addresses; only the user name's counter starts again.
    db.session.execute(
        update(AdminLoginFailure).where(AdminLoginFailure.username == username).values(username=None)
    )


def _failures(where: ColumnElement[bool], now: datetime, exclude: int | None) -> list[datetime]:
    """Times of the failures matching `where` inside the window, newest first (not counting `exclude`,
    the caller's own attempt)."""
    window = timedelta(seconds=_setting("ADMIN_LOGIN_WINDOW"))
    query = select(AdminLoginFailure.at).where(where, AdminLoginFailure.at > now - window)
    if exclude is not None:
        query = query.where(AdminLoginFailure.id != exclude)
    return [_aware(at) for at in db.session.scalars(query.order_by(AdminLoginFailure.at.desc()))]


def _locked_until(
    username: str, address: str, now: datetime, *, known: bool = False, exclude: int | None = None
) -> datetime | None:
    """Until when this login is refused (None: it is not).

    Three counters, each with growing delays: once a counter holds `limit` failures within the window,
    its newest failure starts a wait of ADMIN_LOGIN_DELAY seconds, doubled with every further failure
    (at most the window):
    - this user name from this address (ADMIN_LOGIN_MAX_PER_USER): a guesser locks out only themselves;
    - this address, any user name (ADMIN_LOGIN_MAX_PER_ADDRESS);
    - this user name from addresses it never logged in from (ADMIN_LOGIN_MAX_PER_USER_ALL), against
      guessing from many addresses; the admin's own `known` addresses are never held up by it.
    """
    window = _setting("ADMIN_LOGIN_WINDOW")
    by_user = AdminLoginFailure.username == username
    by_address = AdminLoginFailure.address == address
    counters: list[tuple[ColumnElement[bool], int]] = [
        (by_user & by_address, _setting("ADMIN_LOGIN_MAX_PER_USER")),
        (by_address, _setting("ADMIN_LOGIN_MAX_PER_ADDRESS")),
    ]
    if not known:
        counters.append((by_user, _setting("ADMIN_LOGIN_MAX_PER_USER_ALL")))
    until = None
    for where, limit in counters:
        times = _failures(where, now, exclude)
        if len(times) >= limit:
            wait = min(window, _setting("ADMIN_LOGIN_DELAY") * 2 ** (len(times) - limit))
            end = times[0] + timedelta(seconds=wait)
            if end > now:
                until = max(until or end, end)
    return until


def _known(user: AdminUser | None, address: str) -> bool:
    return user is not None and address in (user.known_addresses or [])


KNOWN_ADDRESSES = 10
"""Addresses remembered per admin user (the most recent logins)."""


def _too_many(username: str, address: str, until: datetime, now: datetime) -> Response:
    seconds = max(1, math.ceil((until - now).total_seconds()))
    current_app.logger.warning(
        "admin login refused (locked out for %d s): user %s from %s", seconds, _printable(username), address
    )
    minutes = math.ceil(seconds / 60)
    error = (
        "Too many failed logins for this user name or from this address. "
        f"Try again in {minutes} minute{'s' if minutes != 1 else ''}."
    )
    resp = make_response(render_template("admin/login.html", error=error), 429)
    resp.headers["Retry-After"] = str(seconds)
    return resp


ADMIN_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
"""Sent with every admin response: no framing (clickjacking), nothing from other sites."""


@bp.after_request
def _admin_headers(resp: Response) -> Response:
    for name, value in ADMIN_HEADERS.items():
        resp.headers.setdefault(name, value)
    return resp


def _safe_next(target: str) -> str:
    """`target` when it is a plain path inside the admin area of this site, else the admin index."""
    index: str = url_for("admin.index")
    if not target or "\\" in target or any(not 0x21 <= ord(c) < 0x7F for c in target):
        return index  # control characters, spaces, non-ASCII, and backslashes (browsers read them as "/")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith(index):
        return index
    if any(segment in (".", "..") for segment in parts.path.split("/")):
        return index
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    if request.method == "POST":
        username = request.form.get("username", "")
        password = request.form.get("password", "")
        key, address, now = username[:64], client_address(), utcnow()
        user = db.session.scalars(select(AdminUser).where(AdminUser.username == username)).one_or_none()
        known = _known(user, address)
        until = _locked_until(key, address, now, known=known)
        if until is not None:
            return _too_many(username, address, until, now)
        # Count this attempt before the password is checked, then look again at everyone else's: of
        # several workers racing for the last allowed attempt, none gets more than the limit. (Each
        # write takes SQLite's write lock up front, so a read snapshot is never upgraded after another
        # worker wrote.)
        with write_lock(db.session):
            attempt = AdminLoginFailure(username=key, address=address, at=now)
            db.session.add(attempt)
            db.session.flush()
            attempt_id = attempt.id
            db.session.commit()
        mine = delete(AdminLoginFailure).where(AdminLoginFailure.id == attempt_id)
        until = _locked_until(key, address, now, known=known, exclude=attempt_id)
        if until is not None:
            with write_lock(db.session):
                db.session.execute(mine)
                db.session.commit()
            return _too_many(username, address, until, now)

        ok = check_password_hash(user.password_hash if user else _DUMMY_HASH, password)
        if user is not None and ok:
            user_id = user.id
            with write_lock(db.session):
                db.session.execute(mine)
                # this address's failures for the user start again; elsewhere they keep counting
                db.session.execute(
                    update(AdminLoginFailure)
                    .where(AdminLoginFailure.username == key, AdminLoginFailure.address == address)
                    .values(username=None)
                )
                fresh = db.session.get(AdminUser, user_id, populate_existing=True)
                assert fresh is not None
                others = [a for a in (fresh.known_addresses or []) if a != address]
                fresh.known_addresses = [address, *others][:KNOWN_ADDRESSES]
                token = _start_session(user_id, now)
                db.session.commit()
            session.clear()
            session[SESSION_KEY] = token
            return redirect(_safe_next(request.args.get("next", "")))

        window = timedelta(seconds=_setting("ADMIN_LOGIN_WINDOW"))
        with write_lock(db.session):
            db.session.execute(delete(AdminLoginFailure).where(AdminLoginFailure.at <= now - window))
            db.session.commit()
        current_app.logger.warning("failed admin login: user %s from %s", _printable(username), address)
        until = _locked_until(key, address, now, known=known)
        if until is not None:
            current_app.logger.warning(
                "admin login locked until %s: user %s from %s",
                until.isoformat(timespec="seconds"),
                _printable(username),
                address,
            )
        error = "Wrong user name or password."
    return make_response(render_template("admin/login.html", error=error), 401 if error else 200)


def _start_session(user_id: int, now: datetime) -> str:
    """Add a session row for the user (the caller commits) and return its token for the cookie."""
    idle = timedelta(seconds=_setting("ADMIN_SESSION_IDLE"))
    db.session.execute(
        delete(AdminSession).where(
            (AdminSession.expires_at <= now) | (AdminSession.last_seen_at <= now - idle)
        )
    )
    token = secrets.token_urlsafe(32)
    lifetime = timedelta(seconds=_setting("ADMIN_SESSION_LIFETIME"))
    db.session.add(
        AdminSession(
            token_hash=_token_hash(token),
            user_id=user_id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
        )
    )
    return token


@bp.post("/logout")
def logout() -> Any:
    token = session.get(SESSION_KEY)
    if isinstance(token, str) and token:
        with write_lock(db.session):
            db.session.execute(delete(AdminSession).where(AdminSession.token_hash == _token_hash(token)))
            db.session.commit()
    session.clear()
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
            (Participant.list_id == TrialList.id) & Participant.status.in_(sorted(COUNTS_FOR_LIST)),
        )
        .where(TrialList.study_id == study.id)
        .group_by(TrialList.id)
        .order_by(TrialList.index)
    ).all()
    # people screened out by the catch rule are left out, as the analysis leaves them out
    rows = db.session.execute(
        select(Stimulus.condition, TrialResponse.catch, TrialResponse.correct, TrialResponse.rt_ms)
        .join(Participant, TrialResponse.participant_id == Participant.id)
        .join(
            Stimulus,
            (Stimulus.study_id == Participant.study_id) & (Stimulus.stimulus_id == TrialResponse.stimulus_id),
        )
        .where(Participant.study_id == study.id, Participant.status != "screened_out")
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


def _status_filter() -> list[str]:
    """The statuses asked for (?status=completed&status=started); unknown names are ignored."""
    return sorted(set(request.args.getlist("status")) & set(STATUSES))


@bp.get("/study/<slug>")
@login_required
def study_dashboard(slug: str, note: str | None = None) -> str:
    study = _study(slug)
    settings = settings_table(study.config)
    statuses = _status_filter()
    people = participant_rows(db.session, study, current_app.config["SECRET_KEY"], statuses)
    return render_template(
        "admin/study.html",
        study=study,
        s=study_summary(study),
        settings=settings,
        people=people,
        statuses=statuses,
        all_statuses=STATUSES,
        missing=consent_details_missing(study),
        note=note,
    )


@bp.get("/study/<slug>/participants.json")
@login_required
def export_participants(slug: str) -> Response:
    study = _study(slug)
    records = participant_records(db.session, current_app.config["SECRET_KEY"], study.slug, _status_filter())
    body = json.dumps(records, indent=1)
    resp = make_response(body)
    resp.headers["Content-Type"] = "application/json"
    resp.headers["Content-Disposition"] = f'attachment; filename="{study.slug}-participants.json"'
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/study/<slug>/responses.<fmt>")
@login_required
def export(slug: str, fmt: str) -> Response:
    study = _study(slug)
    frame = frame_from_session(db.session, current_app.config["SECRET_KEY"], study.slug, _status_filter())
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


@bp.post("/study/<slug>/allow-resume")
@login_required
def allow_resume(slug: str) -> Any:
    """Let a participant who asked continue in another browser (study_server.participant.entry)."""
    from study_server.participant import allow_resume as allow

    study = _study(slug)
    external_id = request.form.get("external_id", "").strip()
    try:
        allow(study, external_id)
        note = f"{external_id} may now continue in another browser (once, within 24 hours)."
    except LookupError:
        note = f"No participant of this study has the id {external_id!r}."
    return study_dashboard(slug, note)
