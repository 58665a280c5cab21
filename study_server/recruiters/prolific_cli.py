"""`python -m study_server.recruiters prolific CMD`: create, publish, review and pay a Prolific study.

Every command that sends something prints the request first (method, URL, JSON body; never the token).
Prolific has no sandbox, so commands that spend money ask to type YES (or take `--yes`) and take
`--dry-run`, which prints each action with its cost (participants' pay + Prolific's service fee) and
sends nothing that changes state. The token comes from PROLIFIC_TOKEN.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from flask import current_app
from sqlalchemy import select

from study_server.models import Participant, Study, db
from study_server.recruiters import prolific_review as review
from study_server.recruiters.exclusion import exclusion_group_studies
from study_server.recruiters.models import PaymentLedger
from study_server.recruiters.prolific_client import ProlificClient, ProlificError, api_url_from_env
from study_server.recruiters.prolific_fees import Cost, FeeRates, parse_money
from study_server.recruiters.prolific_studies import StudyConfigError, build_study, ensure_codes


class CLIError(Exception):
    """A user error: printed as one line on stderr."""


USER_ERRORS: tuple[type[Exception], ...] = (CLIError, ProlificError, review.ReviewError, StudyConfigError)
"""What `cli.run` turns into one line on stderr and exit code 2."""


def add_parser(top: Any) -> None:
    prolific = top.add_parser("prolific", help="Prolific: create and publish studies, review, bonuses")
    sub = prolific.add_subparsers(dest="command", required=True)

    def cmd(name: str, help_: str, *, paid: bool = False) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.add_argument("--study", required=True, help="study slug")
        if paid:
            p.add_argument("--dry-run", action="store_true", help="print actions and costs; change nothing")
            p.add_argument("--yes", action="store_true", help="do not ask before spending money")
        return p

    p = cmd("create-study", "create the draft study on Prolific from the study's prolific settings")
    p.add_argument(
        "--url", required=True, help="public https URL of the study entry, e.g. https://host/s/SLUG/"
    )
    p.add_argument("--dry-run", action="store_true", help="print the request and the cost; send nothing")
    cmd("publish", "publish the draft study (participants can start; Prolific reserves the cost)", paid=True)
    cmd("submissions", "list the study's submissions, matched to participants, with the review decision")
    cmd("review", "approve / reject / free slots as the server's statuses say", paid=True)
    p = cmd("approve", "approve submissions by id", paid=True)
    p.add_argument("--submission", action="append", required=True, help="submission id (repeatable)")
    p = cmd("reject", "reject a submission (category and message required)", paid=True)
    p.add_argument("--submission", action="append", required=True, help="submission id (repeatable)")
    p.add_argument("--category", required=True, help=f"one of {', '.join(review.REJECTION_CATEGORIES)}")
    p.add_argument("--message", required=True, help="why (at least 100 characters; the participant reads it)")
    p = cmd("bonus", "pay a bonus per submission (at most once per submission)", paid=True)
    p.add_argument("--submission", action="append", default=[], help="submission id (repeatable)")
    p.add_argument("--all-approved", action="store_true", help="every approved, matched submission")
    p.add_argument("--amount", required=True, help="in the study currency, e.g. 0.50")
    p.add_argument("--reason", required=True, help="why (kept in the ledger)")
    p = cmd("resolve-bonus", "record what Prolific's site shows for an unconfirmed bonus payment")
    p.add_argument("--ledger", type=int, required=True, help="ledger entry id (see `ledger`)")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--paid", action="store_true", help="Prolific shows the bonus as paid")
    how.add_argument("--unpaid", action="store_true", help="Prolific shows no such bonus: allow a new one")
    p = cmd("create-group", "create the exclusion group's Prolific participant group (blocklisted later)")
    p.add_argument("--workspace", help="Prolific workspace id (default: prolific.workspace_id)")
    cmd("sync-group", "add every participant of the exclusion group's studies to the participant group")
    cmd("ledger", "print the study's Prolific payment ledger")


class ProlificRunner:
    """One command run: the study, the (lazily made) client and the output stream."""

    def __init__(self, args: argparse.Namespace, confirm: Callable[[str], str], out: Any) -> None:
        self.args, self.confirm, self.out = args, confirm, out
        self._client: ProlificClient | None = None
        study = db.session.scalars(select(Study).where(Study.slug == args.study)).one_or_none()
        if study is None:
            raise CLIError(f"no study with slug {args.study!r}")
        if study.recruiter != "prolific":
            raise CLIError(f"study {study.slug!r} recruits with {study.recruiter!r}, not prolific")
        self.study = study
        try:
            self.rates = FeeRates.from_config(self.settings)
        except ValueError as exc:
            raise CLIError(str(exc)) from None

    @property
    def settings(self) -> dict[str, Any]:
        return dict((self.study.config or {}).get("prolific") or {})

    @property
    def dry_run(self) -> bool:
        return bool(getattr(self.args, "dry_run", False))

    def say(self, text: str) -> None:
        print(text, file=self.out)

    def show_request(self, method: str, path: str, body: Any = None) -> None:
        self.say(f"{method} {api_url_from_env()}{path}")
        if body is not None:
            self.say(json.dumps(body, indent=2, sort_keys=True))

    @property
    def client(self) -> ProlificClient:
        if self._client is None:
            factory = current_app.extensions.get("prolific_client_factory") or ProlificClient.from_env
            self._client = factory()
        return self._client

    def confirm_spend(self, cost: Cost) -> None:
        if self.dry_run or getattr(self.args, "yes", False):
            return
        answer = self.confirm(f"This spends real money on Prolific (at most {cost.describe()}). Type YES: ")
        if answer.strip() != "YES":
            raise CLIError("not confirmed; nothing was sent")

    def save_settings(self, **values: Any) -> None:
        config = dict(self.study.config or {})
        config["prolific"] = {**self.settings, **values}
        self.study.config = config
        db.session.commit()

    # --- exclusion across related studies ---------------------------------------------------------
    def group_studies(self) -> list[Study]:
        ids = exclusion_group_studies(db.session, self.study)
        return [s for s in (db.session.get(Study, i) for i in ids) if s is not None]

    def group_id(self) -> str | None:
        for s in self.group_studies():
            gid = ((s.config or {}).get("prolific") or {}).get("participant_group_id")
            if gid:
                return str(gid)
        return None

    def create_group(self) -> None:
        existing = self.group_id()
        if existing:
            self.save_settings(participant_group_id=existing)
            self.say(f"participant group: {existing} (shared by the exclusion group)")
            return
        workspace = self.args.workspace or self.settings.get("workspace_id")
        if not workspace:
            raise CLIError("give --workspace (or set prolific.workspace_id): Prolific groups live in one")
        name = (self.study.config or {}).get("exclusion_group") or self.study.slug
        body = {"name": f"took part: {name}"[:120], "workspace_id": str(workspace)}
        self.show_request("POST", "participant-groups/", body)
        result = self.client.post("participant-groups/", body, repeatable=False) or {}
        gid = str(result.get("id") or "")
        if not gid:
            raise CLIError("Prolific created no participant group (no id in the answer)")
        self.save_settings(participant_group_id=gid)
        self.say(f"participant group: {gid}")

    def sync_group(self) -> None:
        gid = self.group_id()
        if not gid:
            raise CLIError("the exclusion group has no participant group yet: run create-group")
        people = db.session.scalars(
            select(Participant).where(
                Participant.study_id.in_([s.id for s in self.group_studies()]),
                Participant.recruiter == "prolific",
            )
        ).all()
        todo = [p for p in people if (p.recruiter_data or {}).get("participant_group") != gid]
        if not todo:
            self.say("every participant is in the participant group already")
            return
        body = {"participant_ids": sorted({str(p.external_id) for p in todo})}
        self.show_request("POST", f"participant-groups/{gid}/participants/", body)
        self.client.post(f"participant-groups/{gid}/participants/", body)
        for p in todo:
            p.recruiter_data = {**(p.recruiter_data or {}), "participant_group": gid}
        db.session.commit()
        self.say(f"added {len(body['participant_ids'])} participant(s) to group {gid}")

    # --- create and publish -----------------------------------------------------------------------
    def create_study(self) -> None:
        if self.settings.get("study_id"):
            raise CLIError(
                f"study {self.study.slug!r} already has Prolific study {self.settings['study_id']}"
            )
        others = [
            str(((s.config or {}).get("prolific") or {}).get("study_id"))
            for s in self.group_studies()
            if s.id != self.study.id and ((s.config or {}).get("prolific") or {}).get("study_id")
        ]
        group = self.group_id()
        try:
            config = ensure_codes(self.study.config or {})
            plan = build_study(
                self.study.slug,
                self.study.name,
                config,
                self.args.url,
                blocklist_groups=[group] if group else None,
                blocklist_studies=others or None,
            )
        except StudyConfigError as exc:
            raise CLIError(str(exc)) from None
        self.say(
            f"draft study '{plan.payload['name']}': {plan.places} places x {plan.reward} "
            f"{self.rates.currency}; publishing it will cost at most {plan.cost.describe()}"
        )
        if not group and (self.study.config or {}).get("exclusion_group"):
            self.say("note: no participant group yet (create-group): only previous studies are blocklisted")
        self.show_request("POST", "studies/", plan.payload)
        if self.dry_run:
            self.say("[dry run] nothing sent")
            return
        if config != self.study.config:  # generated codes are stored before Prolific learns them
            self.study.config = config
            db.session.commit()
        outcome, result = review.record_action(
            db.session,
            action="create_study",
            token=f"create-{self.study.slug}"[:64],
            call=lambda: self.client.post("studies/", plan.payload, repeatable=False),
            sandbox=False,
            study_id=self.study.id,
            cost=plan.cost,
            detail=plan.payload["name"],
            platform=review.PLATFORM,
            errors=(ProlificError,),
        )
        if not outcome.ok:
            raise CLIError(f"study not created: {outcome.ledger.detail}")
        sid = str((result or {}).get("id") or outcome.ledger.hit_id or "")
        if not sid:
            raise CLIError(
                f"the ledger (entry {outcome.ledger.id}) says this study was created on Prolific, but its id "
                "was not stored: find it among your Prolific drafts and set prolific.study_id"
            )
        outcome.ledger.hit_id = sid
        self.save_settings(study_id=sid)
        # the entry page then refuses links of any other Prolific study (ProlificRecruiter.parse_entry)
        self.study.config = {**self.study.config, "prolific_study_id": sid}
        db.session.commit()
        self.say(f"Prolific study {sid}: created as a draft ({(result or {}).get('status', 'UNPUBLISHED')})")

    def publish(self) -> None:
        sid = self.study_id()
        cost = self.reward_cost(int(self.settings.get("places") or 0))
        body = {"action": "PUBLISH"}
        self.say(f"publish Prolific study {sid}: at most {cost.describe()}")
        self.show_request("POST", f"studies/{sid}/transition/", body)
        if self.dry_run:
            self.say("[dry run] nothing sent")
            return
        self.confirm_spend(cost)
        outcome, result = review.record_action(
            db.session,
            action="publish",
            token=f"publish-{sid}",
            call=lambda: self.client.post(f"studies/{sid}/transition/", body, repeatable=False),
            sandbox=False,
            study_id=self.study.id,
            hit_id=sid,
            cost=cost,
            platform=review.PLATFORM,
            errors=(ProlificError,),
        )
        if not outcome.ok:
            raise CLIError(f"not published: {outcome.ledger.detail}")
        state = (result or {}).get("status", "ACTIVE") if outcome.sent else "already published (ledger)"
        self.say(f"Prolific study {sid}: {state}")

    # --- review -----------------------------------------------------------------------------------
    def study_id(self) -> str:
        try:
            return review.prolific_study_id(self.study)
        except review.ReviewError as exc:
            raise CLIError(str(exc)) from None

    def matches(self) -> list[review.Match]:
        sid = self.study_id()
        return review.match_submissions(db.session, self.study, review.list_submissions(self.client, sid))

    def reward_cost(self, n: int = 1) -> Cost:
        """What `n` rewards cost (the fee is reckoned on the sum, as for the whole study)."""
        try:
            reward = parse_money(self.settings.get("reward"), what="prolific.reward")
        except ValueError:
            return Cost(Decimal(0), Decimal(0), self.rates.currency)
        return self.rates.cost(reward * n)

    def submissions(self) -> None:
        rows = self.matches()
        for m in rows:
            who = m.participant.public_id if m.participant else "-"
            local = m.participant.status if m.participant else "-"
            d = review.decide(self.study, m)
            self.say(f"{m.submission_id}\t{m.pid}\t{m.status}\t{who}\t{local}\t{d.action}: {d.reason}")
        counts: dict[str, int] = {}
        for m in rows:
            counts[m.status] = counts.get(m.status, 0) + 1
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        self.say(f"{len(rows)} submission(s)" + (f": {summary}" if summary else ""))

    def review(self) -> None:
        sid = self.study_id()
        rows = self.matches()
        plan = [(m, review.decide(self.study, m)) for m in rows]
        approvals = [m for m, d in plan if d.action == "approve"]
        cost, total = self.reward_cost(), self.reward_cost(len(approvals))
        for m, d in plan:
            self.say(
                f"{'[dry run] ' if self.dry_run else ''}{d.action} {m.submission_id} ({m.pid}): {d.reason}"
            )
        self.say(f"{'[dry run] ' if self.dry_run else ''}approvals: {len(approvals)}, {total.describe()}")
        if approvals:
            self.show_request(
                "POST", "submissions/bulk-approve/", {"submission_ids": [m.submission_id for m in approvals]}
            )
        if self.dry_run:
            return
        if approvals:
            self.confirm_spend(total)
        failed = 0
        if approvals:
            reasons = {m.submission_id: d.reason for m, d in plan if d.action == "approve"}
            for o in review.approve(db.session, self.client, sid, approvals, reasons, cost):
                failed += o.ledger.status == "failed"
                self.report("approve", o)
        for m, d in plan:
            if d.action == "reject":
                o = review.reject(db.session, self.client, sid, m, d.reason, d.category or "OTHER")
                failed += o.ledger.status == "failed"
                self.report("reject", o)
            elif d.action in ("returned", "abandoned"):
                review.free_slot(db.session, m, d.action)
                self.say(
                    f"{d.action} {m.submission_id}: participant {m.participant.public_id} left; slot freed"
                )
            elif d.action == "sync" and d.local_status:
                review.settle(db.session, m, d.local_status)
                self.say(f"sync {m.submission_id}: now {d.local_status} here")
        if failed:
            raise CLIError(f"{failed} action(s) failed; see above (re-run to retry them)")

    def report(self, what: str, o: review.Outcome) -> None:
        state = o.ledger.status if o.sent else "already done (ledger), not sent again"
        self.say(f"{what} {o.ledger.assignment_id} ({o.ledger.worker_id}): {state}")
        if o.ledger.status == "failed":
            self.say(f"  {o.ledger.detail}")

    def pick(self, ids: Sequence[str]) -> list[review.Match]:
        found = {m.submission_id: m for m in self.matches()}
        missing = [i for i in ids if i not in found]
        if missing:
            raise CLIError(f"no such submission in this study: {', '.join(missing)}")
        return [found[i] for i in ids]

    def approve(self) -> None:
        picked = self.pick(self.args.submission)
        cost, total = self.reward_cost(), self.reward_cost(len(picked))
        self.say(f"{'[dry run] ' if self.dry_run else ''}approve {len(picked)}: {total.describe()}")
        self.show_request(
            "POST", "submissions/bulk-approve/", {"submission_ids": [m.submission_id for m in picked]}
        )
        if self.dry_run:
            return
        self.confirm_spend(total)
        outcomes = review.approve(db.session, self.client, self.study_id(), picked, "approved by hand", cost)
        for o in outcomes:
            self.report("approve", o)
        if any(o.ledger.status == "failed" for o in outcomes):
            raise CLIError("approval failed; see above (re-run to retry)")

    def reject(self) -> None:
        a = self.args
        body = review.rejection(a.message, a.category)
        picked = self.pick(a.submission)
        for m in picked:
            self.show_request("POST", f"submissions/{m.submission_id}/transition/", body)
        if self.dry_run:
            self.say("[dry run] nothing sent (a rejection costs nothing)")
            return
        failed = 0
        for m in picked:
            o = review.reject(db.session, self.client, self.study_id(), m, a.message, a.category)
            failed += o.ledger.status == "failed"
            self.report("reject", o)
        if failed:
            raise CLIError(f"{failed} rejection(s) failed; see above")

    def bonus(self) -> None:
        a = self.args
        try:
            amount = parse_money(a.amount, what="--amount")
        except ValueError as exc:
            raise CLIError(str(exc)) from None
        if not a.reason.strip():
            raise CLIError("--reason must not be empty")
        sid = self.study_id()
        if not self.dry_run:  # a bonus whose pay call may have run: ask Prolific before anything else
            for r in review.check_unconfirmed(db.session, self.client, self.study):
                self.say(f"earlier bonus {r.row.assignment_id} ({r.row.worker_id}): {r.state}")
        rows = self.matches()
        if a.all_approved:
            picked = [m for m in rows if m.status == "APPROVED" and m.participant is not None]
        elif a.submission:
            picked = self.pick(a.submission)
        else:
            raise CLIError("name submissions with --submission, or use --all-approved")
        todo, unsettled = [], 0
        for m in picked:
            row = review.bonus_row(db.session, m.submission_id)
            if row is not None and row.status == "succeeded":
                self.say(f"bonus {m.submission_id} ({m.pid}): already paid (ledger {row.id}), not sent again")
            elif row is not None and row.status == "paying":
                unsettled += 1
                self.say(f"bonus {m.submission_id} ({m.pid}): unconfirmed (ledger {row.id}), not sent again")
            else:
                todo.append(m)
        total = self.rates.cost(amount * len(todo))
        csv = "".join(f"{m.pid},{amount}\n" for m in todo)
        self.say(f"{'[dry run] ' if self.dry_run else ''}bonus {len(todo)} x {amount}: {total.describe()}")
        if todo:
            self.show_request("POST", "submissions/bonus-payments/", {"study_id": sid, "csv_bonuses": csv})
            self.say(f"then POST {api_url_from_env()}bulk-bonus-payments/<id>/pay/ (once)")
        if todo and not self.dry_run:
            self.confirm_spend(total)
            results = review.pay_bonuses(
                db.session, self.client, self.study, sid, todo, amount, a.reason, self.rates
            )
            for r in results:
                self.say(f"bonus {r.row.assignment_id} ({r.row.worker_id}): {r.state}")
            unsettled += sum(r.state in ("failed", "unconfirmed") for r in results)
        if unsettled:
            raise CLIError(
                f"{unsettled} bonus(es) not confirmed as paid; an 'unconfirmed' one is never paid "
                "again by itself: check the submission on Prolific, then run "
                "resolve-bonus --ledger ID --paid|--unpaid"
            )

    def resolve_bonus(self) -> None:
        try:
            row = review.resolve_bonus(db.session, self.study, self.args.ledger, paid=self.args.paid)
        except review.ReviewError as exc:
            raise CLIError(str(exc)) from None
        self.say(f"ledger {row.id}: {row.status}")

    def ledger(self) -> None:
        rows = db.session.scalars(
            select(PaymentLedger)
            .where(PaymentLedger.study_id == self.study.id, PaymentLedger.platform == review.PLATFORM)
            .order_by(PaymentLedger.id)
        ).all()
        for r in rows:
            money = f"{r.amount}+{r.fee} fee" if r.amount is not None else ""
            self.say(
                f"{r.id}\t{r.created_at:%Y-%m-%d %H:%M}\t{r.action}\t{r.status}\t"
                f"{r.assignment_id or r.hit_id or ''}\t{r.batch_id or ''}\t{money}"
            )
        done = [r for r in rows if r.status == "succeeded" and r.action in ("approve", "bonus")]
        paid = sum((r.amount or Decimal(0) for r in done), Decimal(0))
        fees = sum((r.fee or Decimal(0) for r in done), Decimal(0))
        spent = Cost(paid, fees, self.rates.currency)
        self.say(f"{len(rows)} entries; paid (approvals and bonuses): {spent.describe()}")
