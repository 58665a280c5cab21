"""`python -m study_server.recruiters mturk|prolific CMD` (also `flask --app study_server mturk CMD`).

The Prolific commands live in prolific_cli; this module parses and dispatches both platforms.

Every command that talks to MTurk prints the endpoint first. The sandbox is the default; `--live`
works only after typing LIVE at the prompt. Paid commands take `--dry-run`, which prints each action
and its cost (worker pay + MTurk fees) and sends nothing.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import click
from flask import Flask, current_app
from sqlalchemy import select

from study_server.models import Participant, Study, db
from study_server.recruiters import mturk_review as review
from study_server.recruiters import prolific_cli
from study_server.recruiters.exclusion import exclusion_group_studies
from study_server.recruiters.models import MTurkHIT, PaymentLedger
from study_server.recruiters.mturk import client_factory
from study_server.recruiters.mturk_client import MTurkError, call_with_retry, endpoint_for
from study_server.recruiters.mturk_fees import NO_COST, Cost, bonus_cost, hit_cost, parse_amount
from study_server.recruiters.mturk_hits import HITConfigError, build_hit, qualification_key


class CLIError(Exception):
    """A user error: printed as one line on stderr."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="study_server.recruiters", description=__doc__.splitlines()[0])
    top = parser.add_subparsers(dest="platform", required=True)
    mturk = top.add_parser("mturk", help="Amazon Mechanical Turk: HITs, review, payments")
    sub = mturk.add_subparsers(dest="command", required=True)

    def cmd(name: str, help_: str, *, paid: bool = False, remote: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.add_argument("--study", required=True, help="study slug")
        if remote:
            p.add_argument("--live", action="store_true", help="use the LIVE marketplace (asks to confirm)")
        if paid:
            p.add_argument("--dry-run", action="store_true", help="print actions and costs; send nothing")
        return p

    cmd("create-qualification", "create the 'took part' qualification that later HITs exclude")
    p = cmd("create-hit", "create one HIT (ExternalQuestion) from the study's mturk settings", paid=True)
    p.add_argument(
        "--url", required=True, help="public https URL of the study entry, e.g. https://host/s/SLUG/"
    )
    p.add_argument(
        "--batch", required=True, help="batch name; re-running the same batch never makes a 2nd HIT"
    )
    cmd("list-hits", "list the study's recorded HITs", remote=False)
    cmd("assignments", "list assignments of the study's HITs, matched to participants")
    p = cmd("approve", "approve submitted assignments", paid=True)
    p.add_argument("--assignment", action="append", default=[], help="assignment id (repeatable)")
    p.add_argument("--all-submitted", action="store_true", help="every submitted, matched assignment")
    p.add_argument("--feedback", default="", help="optional message to the worker")
    p = cmd("reject", "reject assignments (feedback required)", paid=True)
    p.add_argument("--assignment", action="append", required=True, help="assignment id (repeatable)")
    p.add_argument("--feedback", required=True, help="why: the worker reads this")
    p = cmd("bonus", "pay a bonus for an assignment (at most once per worker and assignment)", paid=True)
    p.add_argument("--assignment", action="append", required=True, help="assignment id (repeatable)")
    p.add_argument("--amount", required=True, help="dollars, e.g. 0.50")
    p.add_argument("--reason", required=True, help="the message the worker reads")
    p = cmd("expire", "expire the study's HITs now (no new workers can accept)", paid=True)
    p.add_argument("--hit", action="append", default=[], help="HIT id (default: all the study's HITs)")
    cmd("sync-qualifications", "grant the qualification to workers whose grant failed at entry")
    cmd("ledger", "print the study's payment ledger", remote=False)
    prolific_cli.add_parser(top)
    return parser


class Runner:
    """One command run: the study, the (lazily made) client and the output streams."""

    def __init__(self, args: argparse.Namespace, confirm: Callable[[str], str], out: Any) -> None:
        self.args, self.confirm, self.out = args, confirm, out
        self.live = bool(getattr(args, "live", False))
        self._client: Any = None
        study = db.session.scalars(select(Study).where(Study.slug == args.study)).one_or_none()
        if study is None:
            raise CLIError(f"no study with slug {args.study!r}")
        if study.recruiter != "mturk":
            raise CLIError(f"study {study.slug!r} recruits with {study.recruiter!r}, not mturk")
        self.study = study

    def say(self, text: str) -> None:
        print(text, file=self.out)

    @property
    def client(self) -> Any:
        if self._client is None:
            endpoint = endpoint_for(self.live)
            self.say(f"MTurk endpoint: {endpoint} ({'LIVE: real money' if self.live else 'sandbox'})")
            if self.live and not getattr(self.args, "dry_run", False):
                answer = self.confirm("This spends real money on the LIVE marketplace. Type LIVE to go on: ")
                if answer.strip() != "LIVE":
                    raise CLIError("not confirmed; nothing was sent")
            self._client = current_app.extensions.get("mturk_client_factory") or client_factory()
            self._client = self._client(live=self.live)
            if str(self._client.meta.endpoint_url).rstrip("/") != endpoint:
                raise CLIError(f"the client points at {self._client.meta.endpoint_url}, expected {endpoint}")
        return self._client

    # --- qualification -------------------------------------------------------------------------
    def set_mturk_config(self, key: str, value: Any) -> None:
        config = dict(self.study.config or {})
        mturk = dict(config.get("mturk") or {})
        mturk[key] = value
        config["mturk"] = mturk
        self.study.config = config
        db.session.commit()

    def ensure_qualification(self) -> str:
        key = qualification_key(self.live)
        existing = (self.study.config.get("mturk") or {}).get(key)
        if existing:
            return str(existing)
        for sid in exclusion_group_studies(db.session, self.study):  # share one within the group
            other = db.session.get(Study, sid)
            shared = ((other.config or {}).get("mturk") or {}).get(key) if other else None
            if shared:
                self.set_mturk_config(key, shared)
                return str(shared)
        group = self.study.config.get("exclusion_group") or self.study.slug
        result = call_with_retry(
            self.client,
            "create_qualification_type",
            {
                "Name": f"took part: {group}"[:120],
                "Description": f"Workers who started a study of '{group}'; keeps them out of repeats.",
                "QualificationTypeStatus": "Active",
            },
        )
        qid = str(result["QualificationType"]["QualificationTypeId"])
        self.set_mturk_config(key, qid)
        return qid

    def create_qualification(self) -> None:
        self.say(f"qualification type: {self.ensure_qualification()}")

    # --- HITs ----------------------------------------------------------------------------------
    def create_hit(self) -> None:
        a = self.args
        try:
            plan = build_hit(self.study.slug, self.study.config or {}, a.url, batch=a.batch, live=self.live)
        except HITConfigError as exc:
            raise CLIError(str(exc)) from None
        cost = hit_cost(plan.reward, plan.max_assignments)
        self.say(
            f"HIT '{plan.params['Title']}': {plan.max_assignments} assignments x ${plan.params['Reward']}, "
            f"entry {a.url}; at most {cost.describe()}"
        )
        if a.dry_run:
            self.say(f"[dry run] would create the HIT on {endpoint_for(self.live)}; nothing sent")
            return
        _ = self.client  # shows the endpoint and confirms live before anything is paid
        plan = build_hit(self.study.slug, self.study.config, a.url, batch=a.batch, live=self.live)
        if not (self.study.config.get("mturk") or {}).get(qualification_key(self.live)):
            self.ensure_qualification()
            plan = build_hit(self.study.slug, self.study.config, a.url, batch=a.batch, live=self.live)
        outcome, hit = review.create_hit(db.session, self.client, self.study, plan)
        if not outcome.ok:
            raise CLIError(f"HIT not created: {outcome.ledger.detail}")
        verb = "created" if outcome.sent else "already created (same batch)"
        self.say(f"HIT {hit.hit_id if hit else outcome.ledger.hit_id}: {verb}")

    def list_hits(self) -> None:
        hits = review.study_hits(db.session, self.study)
        for h in hits:
            where = "sandbox" if h.sandbox else "LIVE"
            self.say(f"{h.hit_id}\t{where}\t{h.max_assignments} x ${h.reward}\t{h.created_at:%Y-%m-%d %H:%M}")
        if not hits:
            self.say("no HITs yet: use create-hit")

    def my_hits(self) -> list[MTurkHIT]:
        return [h for h in review.study_hits(db.session, self.study) if h.sandbox != self.live]

    def matches(self) -> list[review.Match]:
        out: list[review.Match] = []
        for hit in self.my_hits():
            found = review.list_assignments(self.client, hit.hit_id)
            out.extend(review.match_assignments(db.session, self.study, found))
        return out

    def assignments(self) -> None:
        rows = self.matches()
        for m in rows:
            who = m.participant.public_id if m.participant else "NO MATCHING PARTICIPANT"
            status = m.participant.status if m.participant else "-"
            self.say(f"{m.assignment_id}\t{m.worker_id}\t{m.status}\t{who}\t{status}")
        self.say(f"{len(rows)} assignment(s)")

    def pick(self, ids: Sequence[str], *, all_submitted: bool = False) -> list[review.Match]:
        found = {m.assignment_id: m for m in self.matches()}
        if all_submitted:
            return [m for m in found.values() if m.status == "Submitted" and m.participant is not None]
        missing = [i for i in ids if i not in found]
        if missing:
            raise CLIError(f"no such assignment in this study's HITs: {', '.join(missing)}")
        if not ids:
            raise CLIError("name assignments with --assignment, or use --all-submitted")
        return [found[i] for i in ids]

    def report(self, what: str, m: review.Match, outcome: review.Outcome) -> None:
        state = outcome.ledger.status if outcome.sent else "already done (ledger), not sent again"
        self.say(f"{what} {m.assignment_id} (worker {m.worker_id}): {state}")
        if outcome.ledger.status == "failed":
            self.say(f"  {outcome.ledger.detail}")

    def paid_actions(
        self,
        what: str,
        picked: list[review.Match],
        cost_of: Callable[[review.Match], Cost],
        act: Callable[[review.Match], review.Outcome],
    ) -> None:
        total = NO_COST
        for m in picked:
            cost = cost_of(m)
            total = total + cost
            if self.args.dry_run:
                status = m.participant.status if m.participant else "no matching participant"
                self.say(
                    f"[dry run] would {what} {m.assignment_id} (worker {m.worker_id}, {status}): "
                    f"{cost.describe()}"
                )
            else:
                self.report(what, m, act(m))
        prefix = "[dry run] total" if self.args.dry_run else "total"
        self.say(f"{prefix}: {len(picked)} x {what}, {total.describe()}")
        if not self.args.dry_run:
            failed = db.session.scalars(
                select(PaymentLedger).where(
                    PaymentLedger.status == "failed",
                    PaymentLedger.assignment_id.in_([m.assignment_id for m in picked]),
                )
            ).all()
            if failed:
                raise CLIError(f"{len(failed)} action(s) failed; see above (re-run to retry them)")

    def approve(self) -> None:
        a = self.args
        picked = self.pick(a.assignment, all_submitted=a.all_submitted)
        self.paid_actions(
            "approve",
            picked,
            lambda m: review.approval_cost(db.session, m),
            lambda m: review.approve(db.session, self.client, m, a.feedback),
        )

    def reject(self) -> None:
        a = self.args
        if not a.feedback.strip():
            raise CLIError("--feedback must say why the work is rejected")
        picked = self.pick(a.assignment)
        self.paid_actions(
            "reject",
            picked,
            lambda m: NO_COST,
            lambda m: review.reject(db.session, self.client, m, a.feedback),
        )

    def bonus(self) -> None:
        a = self.args
        try:
            amount = parse_amount(a.amount, what="--amount")
        except ValueError as exc:
            raise CLIError(str(exc)) from None
        if not a.reason.strip():
            raise CLIError("--reason must not be empty")
        picked = self.pick(a.assignment)
        self.paid_actions(
            "bonus",
            picked,
            lambda m: bonus_cost(amount),
            lambda m: review.bonus(db.session, self.client, m, str(amount), a.reason),
        )

    def expire(self) -> None:
        hits = self.my_hits()
        if self.args.hit:
            known = {h.hit_id: h for h in hits}
            missing = [h for h in self.args.hit if h not in known]
            if missing:
                raise CLIError(f"not a HIT of this study on this marketplace: {', '.join(missing)}")
            hits = [known[h] for h in self.args.hit]
        for h in hits:
            if self.args.dry_run:
                self.say(f"[dry run] would expire HIT {h.hit_id} (costs nothing)")
            else:
                outcome = review.expire_hit(db.session, self.client, h)
                self.say(f"expire {h.hit_id}: {outcome.ledger.status}")
        if not hits:
            self.say("no HITs to expire")

    def sync_qualifications(self) -> None:
        qual = (self.study.config.get("mturk") or {}).get(qualification_key(self.live))
        if not qual:
            raise CLIError("the study has no qualification yet: run create-qualification")
        people = db.session.scalars(
            select(Participant).where(Participant.study_id == self.study.id, Participant.recruiter == "mturk")
        ).all()
        from study_server.recruiters.mturk import grant_qualification, participant_is_sandbox

        done = 0
        for p in people:
            data = dict(p.recruiter_data or {})
            if data.get("qualification") == "granted" or participant_is_sandbox(p) == self.live:
                continue
            try:
                grant_qualification(self.client, qual, str(p.external_id))
            except MTurkError as exc:
                self.say(f"participant {p.public_id}: still pending ({exc})")
                continue
            data["qualification"] = "granted"
            p.recruiter_data = data
            db.session.commit()
            done += 1
        self.say(f"granted the qualification to {done} worker(s)")

    def ledger(self) -> None:
        rows = db.session.scalars(
            select(PaymentLedger).where(PaymentLedger.study_id == self.study.id).order_by(PaymentLedger.id)
        ).all()
        paid = sum((r.amount or Decimal(0) for r in rows if r.status == "succeeded"), Decimal(0))
        fees = sum((r.fee or Decimal(0) for r in rows if r.status == "succeeded"), Decimal(0))
        for r in rows:
            where = "sandbox" if r.sandbox else "LIVE"
            money = f"${r.amount}+${r.fee} fee" if r.amount is not None else ""
            self.say(
                f"{r.id}\t{r.created_at:%Y-%m-%d %H:%M}\t{where}\t{r.action}\t{r.status}\t"
                f"{r.assignment_id or r.hit_id or ''}\t{money}"
            )
        self.say(
            f"{len(rows)} entries; succeeded: {Cost(paid, fees).describe()} (create_hit counts the maximum)"
        )


def run(
    app: Flask, argv: Sequence[str] | None, *, confirm: Callable[[str], str] = input, out: Any = None
) -> int:
    """Parse and run one command inside `app`; user errors become one line on stderr and exit code 2."""
    args = build_parser().parse_args(argv)
    out = out or sys.stdout
    try:
        with app.app_context():
            kind = prolific_cli.ProlificRunner if args.platform == "prolific" else Runner
            runner = kind(args, confirm, out)
            getattr(runner, args.command.replace("-", "_"))()
    except (CLIError, MTurkError, review.ReviewError, *prolific_cli.USER_ERRORS) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        from botocore.exceptions import BotoCoreError

        if isinstance(exc, BotoCoreError):  # e.g. NoCredentialsError: one clear line, no secrets
            print(f"error: {exc}", file=sys.stderr)
            return 2
        raise
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from study_server import create_app

    return run(create_app(), argv)


def register_cli(app: Flask) -> None:
    """`flask --app study_server mturk ...` runs the same commands."""

    @click.command(
        "mturk",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        add_help_option=False,
        help="MTurk HITs, review and payments; see `python -m study_server.recruiters mturk --help`",
    )
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def mturk_command(args: tuple[str, ...]) -> None:
        code = run(current_app._get_current_object(), ["mturk", *args])  # type: ignore[attr-defined]
        if code:
            raise SystemExit(code)

    app.cli.add_command(mturk_command)

    @click.command(
        "prolific",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        add_help_option=False,
        help="Prolific studies, review and payments; see `python -m study_server.recruiters prolific --help`",
    )
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def prolific_command(args: tuple[str, ...]) -> None:
        code = run(current_app._get_current_object(), ["prolific", *args])  # type: ignore[attr-defined]
        if code:
            raise SystemExit(code)

    app.cli.add_command(prolific_command)
