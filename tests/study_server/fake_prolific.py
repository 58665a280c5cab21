"""A local fake of Prolific's API v1, served on 127.0.0.1 in a thread, for tests without the network.

Each request is checked against the documented shape (method, path, JSON fields and their types, the
`Authorization: Token <token>` header); a request that breaks it is answered 400 (or 401) and recorded
in `violations`, which every test asserts is empty. Answers follow the docs (docs.prolific.com/
api-reference): studies are created UNPUBLISHED and published by the PUBLISH transition; submissions
are listed page by page with `_links.next.href`; a bulk bonus is set up from "<participant_id>,<amount>"
CSV lines and paid by a separate call which, as documented, is not idempotent (paying twice pays twice).

Faults: `fail_next` answers the next matching requests with 429 (and Retry-After) or a 5xx; `hold`
parks a matching request (before or after its effect) until the test releases it, so a test can kill
the client at a known point.
"""

from __future__ import annotations

import re
import secrets
import threading
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.serving import make_server

TOKEN = "test-prolific-token-0123456789"
PAGE_SIZE = 2
HEX24 = re.compile(r"^[0-9a-f]{24}$")
PLACEHOLDERS = ("{{%PROLIFIC_PID%}}", "{{%STUDY_ID%}}", "{{%SESSION_ID%}}")
STUDY_FIELDS = {
    "name": str,
    "internal_name": str,
    "description": str,
    "external_study_url": str,
    "prolific_id_option": str,
    "completion_codes": list,
    "total_available_places": int,
    "estimated_completion_time": int,
    "maximum_allowed_time": int,
    "reward": int,
    "device_compatibility": list,
    "filters": list,
    "project": str,
}
REQUIRED_STUDY = (
    "name",
    "description",
    "external_study_url",
    "prolific_id_option",
    "completion_codes",
    "total_available_places",
    "estimated_completion_time",
    "reward",
)
CODE_TYPES = {"COMPLETED", "FAILED_ATTENTION_CHECK", "NO_CONSENT", "OTHER", "SCREENED_OUT"}
CODE_ACTIONS = {
    "AUTOMATICALLY_APPROVE",
    "MANUALLY_REVIEW",
    "FIXED_SCREEN_OUT_PAYMENT",
    "ADD_TO_PARTICIPANT_GROUP",
    "REMOVE_FROM_PARTICIPANT_GROUP",
    "REQUEST_RETURN",
}
FILTER_IDS = {"participant_group_blocklist", "participant_group_allowlist", "previous_studies_blocklist"}
CATEGORIES = {
    "TOO_QUICKLY",
    "TOO_SLOWLY",
    "FAILED_INSTRUCTIONS",
    "INCOMP_LONGITUDINAL",
    "FAILED_CHECK",
    "LOW_EFFORT",
    "MALINGERING",
    "NO_CODE",
    "BAD_CODE",
    "NO_DATA",
    "UNSUPP_DEVICE",
    "OTHER",
}
FEE = Decimal(1) / 3


def new_id() -> str:
    return secrets.token_hex(12)


@dataclass
class Hold:
    method: str
    pattern: str
    after_effect: bool
    drop: bool = False
    """Released requests are answered without their effect (as if lost before Prolific ran them)."""
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


class FakeProlific:
    def __init__(self) -> None:
        self.studies: dict[str, dict[str, Any]] = {}
        self.submissions: dict[str, dict[str, Any]] = {}
        self.bulk_bonuses: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str, Any]] = []
        self.violations: list[str] = []
        self.faults: list[tuple[str, str, int, str | None]] = []
        self.holds: list[Hold] = []
        """Waiting for their request; each holds one request only."""
        self.all_holds: list[Hold] = []
        self.lock = threading.Lock()
        self.app = self._build()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # --- test controls ----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/api/v1/"

    def start(self) -> FakeProlific:
        self.thread.start()
        return self

    def stop(self) -> None:
        for h in self.all_holds:
            h.release.set()
        self.server.shutdown()
        self.server.server_close()

    def fail_next(self, method: str, pattern: str, status: int, retry_after: str | None = None) -> None:
        self.faults.append((method, pattern, status, retry_after))

    def hold(self, method: str, pattern: str, *, after_effect: bool, drop: bool = False) -> Hold:
        h = Hold(method, pattern, after_effect, drop)
        self.holds.append(h)
        self.all_holds.append(h)
        return h

    def _take_hold(self, after_effect: bool) -> Hold | None:
        with self.lock:
            for h in self.holds:
                if (
                    h.method == request.method
                    and re.search(h.pattern, request.path)
                    and h.after_effect == after_effect
                ):
                    self.holds.remove(h)
                    return h
        return None

    def add_study(self, status: str = "ACTIVE") -> str:
        sid = new_id()
        self.studies[sid] = {"id": sid, "status": status}
        return sid

    def add_submission(self, study_id: str, pid: str, status: str, sub_id: str | None = None) -> str:
        sub_id = sub_id or new_id()
        self.submissions[sub_id] = {
            "id": sub_id,
            "study_id": study_id,
            "participant_id": pid,
            "status": status,
            "started_at": "2026-11-26T08:00:00Z",
            "bonus_payments": [],
        }
        return sub_id

    def paid_calls(self) -> list[str]:
        return [p for m, p, _ in self.calls if m == "POST" and p.endswith("/pay/")]

    # --- the app ----------------------------------------------------------------------------------
    def _bad(self, text: str, status: int = 400) -> Any:
        self.violations.append(f"{request.method} {request.path}: {text}")
        return jsonify({"error": {"title": "Bad request", "detail": text}}), status

    def _build(self) -> Flask:
        app = Flask("fake_prolific")

        @app.before_request
        def check() -> Any:
            body = request.get_json(silent=True) if request.method == "POST" else None
            with self.lock:
                self.calls.append((request.method, request.path, body))
            if request.headers.get("Authorization") != f"Token {TOKEN}":
                return self._bad("missing or wrong 'Authorization: Token <token>' header", 401)
            if request.method == "POST" and not request.is_json:
                return self._bad("POST bodies are JSON (Content-Type: application/json)")
            for i, (method, pattern, status, retry_after) in enumerate(self.faults):
                if method == request.method and re.search(pattern, request.path):
                    del self.faults[i]
                    headers = {"Retry-After": retry_after} if retry_after is not None else {}
                    return jsonify({"error": {"title": "fault", "detail": str(status)}}), status, headers
            h = self._take_hold(after_effect=False)
            if h is not None:
                h.arrived.set()
                h.release.wait(30)
                if h.drop:
                    return jsonify({"error": {"title": "lost"}}), 503
            return None

        @app.after_request
        def park(resp: Any) -> Any:
            h = self._take_hold(after_effect=True)
            if h is not None:
                h.arrived.set()
                h.release.wait(30)
            return resp

        @app.post("/api/v1/studies/")
        def create_study() -> Any:
            body = request.get_json()
            if not isinstance(body, dict):
                return self._bad("the body must be a JSON object")
            for key in body:
                if key not in STUDY_FIELDS:
                    return self._bad(f"unknown study field {key!r}")
            for key in REQUIRED_STUDY:
                if key not in body:
                    return self._bad(f"missing study field {key!r}")
            for key, value in body.items():
                kind = STUDY_FIELDS[key]
                if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                    return self._bad(f"{key} must be {kind.__name__}, got {type(value).__name__}")
            if body["prolific_id_option"] != "url_parameters":
                return self._bad("prolific_id_option must be url_parameters")
            if not all(p in body["external_study_url"] for p in PLACEHOLDERS):
                return self._bad("external_study_url lacks the PROLIFIC_PID/STUDY_ID/SESSION_ID placeholders")
            if not set(body["device_compatibility"]) <= {"desktop", "tablet", "mobile"}:
                return self._bad("device_compatibility holds desktop, tablet, mobile")
            for code in body["completion_codes"]:
                if set(code) != {"code", "code_type", "actions"} or code["code_type"] not in CODE_TYPES:
                    return self._bad(f"bad completion code {code!r}")
                for action in code["actions"]:
                    if action.get("action") not in CODE_ACTIONS:
                        return self._bad(f"bad completion code action {action!r}")
                    if action["action"] == "ADD_TO_PARTICIPANT_GROUP" and action.get(
                        "participant_group"
                    ) not in (self.groups):
                        return self._bad("ADD_TO_PARTICIPANT_GROUP names an unknown participant_group")
            for f in body.get("filters", []):
                if set(f) != {"filter_id", "selected_values"} or f["filter_id"] not in FILTER_IDS:
                    return self._bad(f"bad filter {f!r}")
                if not isinstance(f["selected_values"], list) or not f["selected_values"]:
                    return self._bad("selected_values must be a non-empty list")
            sid = new_id()
            self.studies[sid] = {**body, "id": sid, "status": "UNPUBLISHED"}
            return jsonify(self.studies[sid]), 201

        @app.post("/api/v1/studies/<sid>/transition/")
        def transition_study(sid: str) -> Any:
            body = request.get_json()
            if sid not in self.studies:
                return jsonify({"error": {"title": "Not found"}}), 404
            if body != {"action": "PUBLISH"}:
                return self._bad(f"a study transition is {{'action': 'PUBLISH'}}, got {body!r}")
            if self.studies[sid]["status"] != "UNPUBLISHED":
                return jsonify({"error": {"title": "Study is not a draft"}}), 400
            self.studies[sid]["status"] = "ACTIVE"
            return jsonify(self.studies[sid])

        @app.get("/api/v1/studies/<sid>/submissions/")
        def list_submissions(sid: str) -> Any:
            if sid not in self.studies:
                return jsonify({"error": {"title": "Not found"}}), 404
            subs = [s for s in self.submissions.values() if s["study_id"] == sid]
            page = int(request.args.get("page", "1"))
            chunk = subs[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
            more = page * PAGE_SIZE < len(subs)
            nxt = f"{request.base_url}?page={page + 1}" if more else None
            return jsonify(
                {
                    "results": [{k: v for k, v in s.items() if k != "bonus_payments"} for s in chunk],
                    "_links": {"next": {"href": nxt, "title": "Next page"}},
                    "meta": {"count": len(subs)},
                }
            )

        @app.get("/api/v1/submissions/<sub_id>/")
        def get_submission(sub_id: str) -> Any:
            if sub_id not in self.submissions:
                return jsonify({"error": {"title": "Not found"}}), 404
            s = self.submissions[sub_id]
            return jsonify({**s, "participant": s["participant_id"]})

        @app.post("/api/v1/submissions/bulk-approve/")
        def bulk_approve() -> Any:
            body = request.get_json()
            ids = body.get("submission_ids") if isinstance(body, dict) else None
            if set(body or {}) != {"submission_ids"} or not isinstance(ids, list) or not ids:
                return self._bad("bulk approve takes {'submission_ids': [...]} here")
            for i in ids:
                if self.submissions.get(i, {}).get("status") != "AWAITING REVIEW":
                    return self._bad(f"submission {i} is not awaiting review")
            for i in ids:
                self.submissions[i]["status"] = "APPROVED"
            return "Bulk approve in progress", 202

        @app.post("/api/v1/submissions/<sub_id>/transition/")
        def transition_submission(sub_id: str) -> Any:
            body = request.get_json() or {}
            if sub_id not in self.submissions:
                return jsonify({"error": {"title": "Not found"}}), 404
            if body.get("action") not in ("APPROVE", "REJECT"):
                return self._bad("action must be APPROVE or REJECT")
            if body["action"] == "REJECT":
                if set(body) != {"action", "message", "rejection_category"}:
                    return self._bad("REJECT takes action, message and rejection_category")
                if len(body["message"]) < 100 or body["rejection_category"] not in CATEGORIES:
                    return self._bad("a rejection needs a 100+ character message and a known category")
            if self.submissions[sub_id]["status"] != "AWAITING REVIEW":
                return jsonify({"error": {"title": "Submission is not awaiting review"}}), 400
            self.submissions[sub_id]["status"] = "APPROVED" if body["action"] == "APPROVE" else "REJECTED"
            return jsonify(self.submissions[sub_id])

        @app.post("/api/v1/submissions/bonus-payments/")
        def setup_bonus() -> Any:
            body = request.get_json() or {}
            if set(body) != {"study_id", "csv_bonuses"} or not all(isinstance(v, str) for v in body.values()):
                return self._bad("bonus set-up takes {'study_id': str, 'csv_bonuses': str}")
            rows = []
            pids = {
                s["participant_id"] for s in self.submissions.values() if s["study_id"] == body["study_id"]
            }
            for line in body["csv_bonuses"].strip().split("\n"):
                pid, _, amount = line.partition(",")
                try:
                    value = Decimal(amount)
                except InvalidOperation:
                    return self._bad(f"bad CSV line {line!r}: '<participant_id>,<amount>'")
                if pid not in pids or value <= 0 or value != value.quantize(Decimal("0.01")):
                    return self._bad(f"bad CSV line {line!r}")
                rows.append((pid, int(value * 100)))
            bid = new_id()
            total = sum(c for _, c in rows)
            fees = int((Decimal(total) * FEE).to_integral_value())
            self.bulk_bonuses[bid] = {"study": body["study_id"], "rows": rows, "paid": 0}
            return jsonify(
                {
                    "id": bid,
                    "study": body["study_id"],
                    "amount": total,
                    "fees": fees,
                    "total_amount": total + fees,
                }
            ), 201

        @app.post("/api/v1/bulk-bonus-payments/<bid>/pay/")
        def pay_bonus(bid: str) -> Any:
            if bid not in self.bulk_bonuses:
                return jsonify({"error": {"title": "Not found"}}), 404
            bulk = self.bulk_bonuses[bid]
            bulk["paid"] += 1  # not idempotent, as documented: every call pays
            for pid, cents in bulk["rows"]:
                for s in self.submissions.values():
                    if s["participant_id"] == pid and s["study_id"] == bulk["study"]:
                        s["bonus_payments"].append(cents)
            return jsonify({}), 202

        @app.post("/api/v1/participant-groups/")
        def create_group() -> Any:
            body = request.get_json() or {}
            if not isinstance(body.get("name"), str) or not set(body) <= {
                "name",
                "workspace_id",
                "description",
            }:
                return self._bad("a participant group takes name (and workspace_id, description)")
            gid = new_id()
            self.groups[gid] = {"id": gid, "name": body["name"], "members": set()}
            return jsonify({"id": gid, "name": body["name"], "workspace_id": body.get("workspace_id")}), 201

        @app.post("/api/v1/participant-groups/<gid>/participants/")
        def add_members(gid: str) -> Any:
            body = request.get_json() or {}
            ids = body.get("participant_ids")
            if gid not in self.groups:
                return jsonify({"error": {"title": "Not found"}}), 404
            if (
                set(body) != {"participant_ids"}
                or not isinstance(ids, list)
                or not all(HEX24.match(i) for i in ids)
            ):
                return self._bad("adding members takes {'participant_ids': [24-hex ids]}")
            self.groups[gid]["members"].update(ids)
            return jsonify({"results": [{"participant_id": i} for i in sorted(self.groups[gid]["members"])]})

        return app
