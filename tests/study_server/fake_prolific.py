"""A local fake of Prolific's API v1, served on 127.0.0.1 in a thread, for tests without the network.

Each request is checked against the documented shape (method, path, JSON fields and their types, the
`Authorization: Token <token>` header); a request that breaks it is answered 400 (or 401) and recorded
in `violations`, which every test asserts is empty. Answers follow the docs (docs.prolific.com/
api-reference): studies are created UNPUBLISHED and published by the PUBLISH transition; lists page
with `limit` / `offset` (at most `max_limit` items a page), give the total in `meta.count` and a
root-relative `_links.next.href` (/api/v1/...); completion codes take only the documented code types;
a bulk approve is accepted (202) and done later (`approve_lag`, then `process()`); a bulk bonus is set
up from "<participant_id>,<amount>" CSV lines (its answer gives amount, fees, VAT and total) and paid by
a separate call which, as documented, is not idempotent (paying twice pays twice); the study cost
calculator and the workspace balance answer in the workspace's currency with its fee and VAT rates.

Faults: `fail_next` answers the next matching requests with 429 (and Retry-After) or a 5xx before they
run, `fail_after` after they ran (a lost answer); `hold` parks a matching request (before or after its
effect) until the test releases it, so a test can kill the client at a known point.
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
"""The fake's largest page (Prolific's is larger; small here so that a few submissions span pages)."""
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
CODE_TYPES = {
    "COMPLETED",
    "FAILED_ATTENTION_CHECK",
    "FOLLOW_UP_STUDY",
    "GIVE_BONUS",
    "INCOMPATIBLE_DEVICE",
    "NO_CONSENT",
    "OTHER",
    "FIXED_SCREENOUT",
}
"""The documented `code_type` values of a completion code (api-reference/studies, create a study)."""
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
        self.max_limit = PAGE_SIZE
        self.currency, self.fee_rate, self.vat_rate = "GBP", FEE, Decimal(0)
        """The workspace's currency, Prolific's fee on rewards and bonuses, and VAT on that fee."""
        self.screen_out_payments = True
        """Whether the workspace may use FIXED_SCREENOUT codes (only some workspaces can)."""
        self.approve_lag = False
        """True: bulk approvals are accepted and wait in `queued` until `process()`."""
        self.queued: list[str] = []
        self.omit_next = False
        """True: pages carry no next link (the client must page by offset up to meta.count)."""
        self.count_bias = 0
        """Added to meta.count: a total the list does not reach (the client must refuse to act)."""
        self.after_faults: list[tuple[str, str, int]] = []
        self.calls: list[tuple[str, str, Any]] = []
        self.queries: list[tuple[str, dict[str, str]]] = []
        """Each GET's path and query parameters."""
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

    def fail_after(self, method: str, pattern: str, status: int) -> None:
        """The next matching request runs, but its answer is replaced by `status` (a lost answer)."""
        self.after_faults.append((method, pattern, status))

    def process(self) -> None:
        """Prolific finishes the queued bulk approvals."""
        for i in self.queued:
            if self.submissions[i]["status"] == "AWAITING REVIEW":
                self.submissions[i]["status"] = "APPROVED"
        self.queued.clear()

    def fees(self, cents: int) -> tuple[int, int]:
        """Prolific's fee and the VAT on it, in cents, for `cents` paid to participants."""
        fee = int((Decimal(cents) * self.fee_rate).to_integral_value(rounding="ROUND_HALF_UP"))
        vat = int((Decimal(fee) * self.vat_rate).to_integral_value(rounding="ROUND_HALF_UP"))
        return fee, vat

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

    def changes(self) -> list[tuple[str, str, Any]]:
        """The calls that change something on Prolific (every POST but the cost calculator's)."""
        return [c for c in self.calls if c[0] == "POST" and not c[1].endswith("/study-cost-calculator/")]

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
                if request.method == "GET":
                    self.queries.append((request.path, dict(request.args)))
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
            for i, (method, pattern, status) in enumerate(self.after_faults):
                if method == request.method and re.search(pattern, request.path):
                    del self.after_faults[i]
                    resp = app.make_response(
                        (jsonify({"error": {"title": "fault", "detail": str(status)}}), status)
                    )
                    break
            h = self._take_hold(after_effect=True)
            if h is not None:
                h.arrived.set()
                h.release.wait(30)
            return resp

        def page_of(items: list[dict[str, Any]]) -> Any:
            """One page as the API gives it: limit / offset, meta.count, a root-relative next link."""
            unknown = set(request.args) - {"limit", "offset"}
            if unknown:
                return self._bad(f"unknown list parameters {sorted(unknown)} (lists page with limit/offset)")
            try:
                limit = int(request.args.get("limit", str(self.max_limit)))
                offset = int(request.args.get("offset", "0"))
            except ValueError:
                return self._bad("limit and offset are whole numbers")
            if limit < 1 or offset < 0:
                return self._bad("limit >= 1 and offset >= 0")
            size = min(limit, self.max_limit)
            chunk = items[offset : offset + size]
            more = offset + len(chunk) < len(items)
            nxt = (
                f"{request.path}?limit={limit}&offset={offset + len(chunk)}"
                if more and not self.omit_next
                else None
            )
            prev = f"{request.path}?limit={limit}&offset={max(0, offset - size)}" if offset else None
            return jsonify(
                {
                    "results": chunk,
                    "_links": {
                        "self": {"href": request.full_path.rstrip("?"), "title": "Current page"},
                        "next": {"href": nxt, "title": "Next page"},
                        "previous": {"href": prev, "title": "Previous page"},
                        "last": {"href": f"{request.path}?limit={limit}&offset={max(0, len(items) - size)}"},
                    },
                    "meta": {"count": len(items) + self.count_bias},
                }
            )

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
                actions = [a.get("action") for a in code["actions"]]
                if code["code_type"] == "FIXED_SCREENOUT" and "FIXED_SCREEN_OUT_PAYMENT" not in actions:
                    return self._bad("a FIXED_SCREENOUT code needs the FIXED_SCREEN_OUT_PAYMENT action")
                for action in code["actions"]:
                    if action.get("action") not in CODE_ACTIONS:
                        return self._bad(f"bad completion code action {action!r}")
                    screen_out = action["action"] == "FIXED_SCREEN_OUT_PAYMENT"
                    if screen_out and code["code_type"] != "FIXED_SCREENOUT":
                        return self._bad("FIXED_SCREEN_OUT_PAYMENT goes with code_type FIXED_SCREENOUT")
                    if screen_out:
                        if set(action) != {"action", "fixed_screen_out_reward", "slots"}:
                            return self._bad(
                                "FIXED_SCREEN_OUT_PAYMENT takes fixed_screen_out_reward and slots"
                            )
                        reward, slots = action["fixed_screen_out_reward"], action["slots"]
                        if not isinstance(reward, int) or not 0 < reward < body["reward"]:
                            return self._bad("fixed_screen_out_reward must be above 0 and below the reward")
                        if not isinstance(slots, int) or not 0 < slots <= body["total_available_places"]:
                            return self._bad("slots must lie between 1 and total_available_places")
                        if not self.screen_out_payments:
                            return jsonify(
                                {
                                    "error": {
                                        "title": "Bad request",
                                        "detail": "Screen-out payments are not enabled for this workspace.",
                                    }
                                }
                            ), 400
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
            return page_of([{k: v for k, v in s.items() if k != "bonus_payments"} for s in subs])

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
                if i not in self.submissions:
                    return self._bad(f"submission {i} does not exist")
            if any(self.submissions[i]["status"] != "AWAITING REVIEW" for i in ids):
                # as a real retry meets it: part of the batch went through already
                return jsonify({"error": {"title": "Submissions not awaiting review"}}), 400
            self.queued.extend(ids)
            if not self.approve_lag:
                self.process()
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
            # in cents with two decimals, as the docs' example answer (amount 850, fees 283.34)
            fees = (Decimal(total) * self.fee_rate).quantize(Decimal("0.01"))
            vat = (fees * self.vat_rate).quantize(Decimal("0.01"))
            self.bulk_bonuses[bid] = {"study": body["study_id"], "rows": rows, "paid": 0}
            return jsonify(
                {
                    "id": bid,
                    "study": body["study_id"],
                    "amount": total,
                    "fees": float(fees),
                    "vat": float(vat),
                    "total_amount": float(total + fees + vat),
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

        @app.post("/api/v1/study-cost-calculator/")
        def cost_calculator() -> Any:
            body = request.get_json() or {}
            values = [body.get(k) for k in ("reward", "total_available_places")]
            if set(body) != {"reward", "total_available_places"} or not all(
                isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in values
            ):
                return self._bad("the cost calculator takes {'reward': cents, 'total_available_places': n}")
            paid = int(values[0] * values[1])
            fee, vat = self.fees(paid)
            return jsonify({"total_cost": paid + fee + vat})

        @app.get("/api/v1/workspaces/<wid>/balance/")
        def balance(wid: str) -> Any:
            if not HEX24.match(wid):
                return jsonify({"error": {"title": "Not found"}}), 404
            return jsonify(
                {
                    "currency_code": self.currency,
                    "total_balance": 100000,
                    "balance_breakdown": {"rewards": 75000, "fees": 25000, "vat": 0},
                    "available_balance": 100000,
                    "available_balance_breakdown": {"rewards": 75000, "fees": 25000, "vat": 0},
                }
            )

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
