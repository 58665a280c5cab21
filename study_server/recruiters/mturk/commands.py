"""`python -m study_server.recruiters mturk CMD` (also `flask --app study_server mturk CMD`).

Each command is one click function on the `mturk` group; recruiter, hits and review do the work, these
functions check the input, ask and print.

Every command that talks to MTurk prints the endpoint first. The sandbox is the default; `--live`
works only after typing LIVE at the prompt. Paid commands take `--dry-run`, which prints each action
and its cost (worker pay + MTurk fees) and sends nothing.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import click
from flask import current_app
from sqlalchemy.orm import Session

from study_server.cli import CommandGroup, UserError
from study_server.models import db
from study_server.recruiters import ledger
from study_server.recruiters.commands import find_study, prompt_and_output, study_option
from study_server.recruiters.models import MTurkHIT
from study_server.recruiters.mturk import recruiter as mturk
from study_server.recruiters.mturk import review
from study_server.recruiters.mturk.client import MTurkError, endpoint_for
from study_server.recruiters.mturk.fees import NO_COST, Cost, bonus_cost, hit_cost, parse_amount
from study_server.recruiters.mturk.hits import HITConfigError, build_hit, qualification_key


def _mturk_errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import BotoCoreError  # e.g. NoCredentialsError: one clear line, no secrets

    return (MTurkError, review.ReviewError, BotoCoreError)


@click.group("mturk", cls=CommandGroup, user_errors=_mturk_errors)
def mturk_group() -> None:
    """Amazon Mechanical Turk: HITs, review, payments."""


LIVE = click.option("--live", is_flag=True, help="use the LIVE marketplace (asks to confirm)")
DRY_RUN = click.option("--dry-run", is_flag=True, help="print actions and costs; send nothing")


class Run:
    """One MTurk command run: the study, the marketplace, the (lazily made) client and the output."""

    def __init__(self, slug: str, *, live: bool = False, dry_run: bool = False) -> None:
        self.confirm, self.out = prompt_and_output()
        self.session: Session = db.session()  # the request's Session behind the scoped proxy
        self.live, self.dry_run = live, dry_run
        self.study = find_study(slug, "mturk")
        self._client: Any = None

    def say(self, text: str) -> None:
        print(text, file=self.out)

    @property
    def client(self) -> Any:
        """The MTurk client; the first use prints the endpoint and, when live, asks to type LIVE."""
        if self._client is None:
            endpoint = endpoint_for(self.live)
            self.say(f"MTurk endpoint: {endpoint} ({'LIVE: real money' if self.live else 'sandbox'})")
            if self.live and not self.dry_run:
                answer = self.confirm("This spends real money on the LIVE marketplace. Type LIVE to go on: ")
                if answer.strip() != "LIVE":
                    raise UserError("not confirmed; nothing was sent")
            factory = current_app.extensions.get("mturk_client_factory") or mturk.client_factory()
            self._client = factory(live=self.live)
            if str(self._client.meta.endpoint_url).rstrip("/") != endpoint:
                raise UserError(f"the client points at {self._client.meta.endpoint_url}, expected {endpoint}")
        return self._client

    def qualification(self) -> str:
        """The study's 'took part' qualification: its own, its exclusion group's, or a new one."""
        return mturk.ensure_qualification(self.session, self.study, lambda: self.client, live=self.live)

    def matches(self) -> list[review.Match]:
        return review.study_matches(self.session, self.client, self.study, live=self.live)

    def pick(self, ids: Sequence[str], *, all_submitted: bool = False) -> list[review.Match]:
        found = {m.assignment_id: m for m in self.matches()}
        if all_submitted:
            return [m for m in found.values() if m.status == "Submitted" and m.participant is not None]
        missing = [i for i in ids if i not in found]
        if missing:
            raise UserError(f"no such assignment in this study's HITs: {', '.join(missing)}")
        if not ids:
            raise UserError("name assignments with --assignment, or use --all-submitted")
        return [found[i] for i in ids]

    def paid_actions(
        self,
        what: str,
        picked: list[review.Match],
        cost_of: Callable[[review.Match], Cost],
        act: Callable[[review.Match], review.Outcome],
    ) -> None:
        """Do (or with --dry-run, only price) `act` on each match; the total; exit 2 if any failed."""
        total = NO_COST
        for m in picked:
            cost = cost_of(m)
            total = total + cost
            if self.dry_run:
                status = m.participant.status if m.participant else "no matching participant"
                self.say(
                    f"[dry run] would {what} {m.assignment_id} (worker {m.worker_id}, {status}): "
                    f"{cost.describe()}"
                )
            else:
                outcome = act(m)
                state = outcome.ledger.status if outcome.sent else "already done (ledger), not sent again"
                self.say(f"{what} {m.assignment_id} (worker {m.worker_id}): {state}")
                if outcome.ledger.status == "failed":
                    self.say(f"  {outcome.ledger.detail}")
        prefix = "[dry run] total" if self.dry_run else "total"
        self.say(f"{prefix}: {len(picked)} x {what}, {total.describe()}")
        if not self.dry_run:
            failed = review.failed_actions(self.session, [m.assignment_id for m in picked])
            if failed:
                raise UserError(f"{failed} action(s) failed; see above (re-run to retry them)")


def mturk_command(
    name: str, *, paid: bool = False, remote: bool = True
) -> Callable[[Callable[..., None]], click.Command]:
    """Declare an MTurk command `f(run, **options)`: --study, --live (remote) and --dry-run (paid) come
    from here, the command's own options from its decorators."""

    def declare(f: Callable[..., None]) -> click.Command:
        @functools.wraps(f)
        def command(study: str, live: bool = False, dry_run: bool = False, **options: Any) -> None:
            f(Run(study, live=live, dry_run=dry_run), **options)

        if paid:
            command = DRY_RUN(command)
        if remote:
            command = LIVE(command)
        command = study_option(command)
        return mturk_group.command(name)(command)

    return declare


@mturk_command("create-qualification")
def create_qualification(run: Run) -> None:
    """Create the 'took part' qualification that later HITs exclude."""
    run.say(f"qualification type: {run.qualification()}")


@mturk_command("create-hit", paid=True)
@click.option("--url", required=True, help="public https URL of the study entry, e.g. https://host/s/SLUG/")
@click.option("--batch", required=True, help="batch name; re-running the same batch never makes a 2nd HIT")
def create_hit(run: Run, url: str, batch: str) -> None:
    """Create one HIT (ExternalQuestion) from the study's mturk settings."""
    study = run.study
    try:
        plan = build_hit(study.slug, study.config or {}, url, batch=batch, live=run.live)
    except HITConfigError as exc:
        raise UserError(str(exc)) from None
    cost = hit_cost(plan.reward, plan.max_assignments)
    run.say(
        f"HIT '{plan.params['Title']}': {plan.max_assignments} assignments x ${plan.params['Reward']}, "
        f"entry {url}; at most {cost.describe()}"
    )
    if run.dry_run:
        run.say(f"[dry run] would create the HIT on {endpoint_for(run.live)}; nothing sent")
        return
    _ = run.client  # shows the endpoint and confirms live before anything is paid
    if not (study.config.get("mturk") or {}).get(qualification_key(run.live)):
        run.qualification()
    plan = build_hit(study.slug, study.config, url, batch=batch, live=run.live)
    outcome, hit = review.create_hit(run.session, run.client, study, plan)
    if not outcome.ok:
        raise UserError(f"HIT not created: {outcome.ledger.detail}")
    verb = "created" if outcome.sent else "already created (same batch)"
    run.say(f"HIT {hit.hit_id if hit else outcome.ledger.hit_id}: {verb}")


@mturk_command("list-hits", remote=False)
def list_hits(run: Run) -> None:
    """List the study's recorded HITs."""
    hits: list[MTurkHIT] = review.study_hits(run.session, run.study)
    for h in hits:
        where = "sandbox" if h.sandbox else "LIVE"
        run.say(f"{h.hit_id}\t{where}\t{h.max_assignments} x ${h.reward}\t{h.created_at:%Y-%m-%d %H:%M}")
    if not hits:
        run.say("no HITs yet: use create-hit")


@mturk_command("assignments")
def assignments(run: Run) -> None:
    """List assignments of the study's HITs, matched to participants."""
    rows = run.matches()
    for m in rows:
        who = m.participant.public_id if m.participant else "NO MATCHING PARTICIPANT"
        status = m.participant.status if m.participant else "-"
        run.say(f"{m.assignment_id}\t{m.worker_id}\t{m.status}\t{who}\t{status}")
    run.say(f"{len(rows)} assignment(s)")


@mturk_command("approve", paid=True)
@click.option("--assignment", multiple=True, help="assignment id (repeatable)")
@click.option("--all-submitted", is_flag=True, help="every submitted, matched assignment")
@click.option("--feedback", default="", help="optional message to the worker")
def approve(run: Run, assignment: Sequence[str], all_submitted: bool, feedback: str) -> None:
    """Approve submitted assignments."""
    run.paid_actions(
        "approve",
        run.pick(assignment, all_submitted=all_submitted),
        lambda m: review.approval_cost(run.session, m),
        lambda m: review.approve(run.session, run.client, m, feedback),
    )


@mturk_command("reject", paid=True)
@click.option("--assignment", multiple=True, required=True, help="assignment id (repeatable)")
@click.option("--feedback", required=True, help="why: the worker reads this")
def reject(run: Run, assignment: Sequence[str], feedback: str) -> None:
    """Reject assignments (feedback required)."""
    if not feedback.strip():
        raise UserError("--feedback must say why the work is rejected")
    run.paid_actions(
        "reject",
        run.pick(assignment),
        lambda m: NO_COST,
        lambda m: review.reject(run.session, run.client, m, feedback),
    )


@mturk_command("bonus", paid=True)
@click.option("--assignment", multiple=True, required=True, help="assignment id (repeatable)")
@click.option("--amount", required=True, help="dollars, e.g. 0.50")
@click.option("--reason", required=True, help="the message the worker reads")
def bonus(run: Run, assignment: Sequence[str], amount: str, reason: str) -> None:
    """Pay a bonus for an assignment (at most once per worker and assignment)."""
    try:
        dollars = parse_amount(amount, what="--amount")
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if not reason.strip():
        raise UserError("--reason must not be empty")
    run.paid_actions(
        "bonus",
        run.pick(assignment),
        lambda m: bonus_cost(dollars),
        lambda m: review.bonus(run.session, run.client, m, str(dollars), reason),
    )


@mturk_command("expire", paid=True)
@click.option("--hit", "hit_ids", multiple=True, help="HIT id (default: all the study's HITs)")
def expire(run: Run, hit_ids: Sequence[str]) -> None:
    """Expire the study's HITs now (no new workers can accept)."""
    hits = review.marketplace_hits(run.session, run.study, live=run.live)
    if hit_ids:
        known = {h.hit_id: h for h in hits}
        missing = [h for h in hit_ids if h not in known]
        if missing:
            raise UserError(f"not a HIT of this study on this marketplace: {', '.join(missing)}")
        hits = [known[h] for h in hit_ids]
    for h in hits:
        if run.dry_run:
            run.say(f"[dry run] would expire HIT {h.hit_id} (costs nothing)")
        else:
            outcome = review.expire_hit(run.session, run.client, h)
            run.say(f"expire {h.hit_id}: {outcome.ledger.status}")
    if not hits:
        run.say("no HITs to expire")


@mturk_command("sync-qualifications")
def sync_qualifications(run: Run) -> None:
    """Grant the qualification to workers whose grant failed at entry."""
    qual = (run.study.config.get("mturk") or {}).get(qualification_key(run.live))
    if not qual:
        raise UserError("the study has no qualification yet: run create-qualification")
    done, pending = mturk.sync_qualifications(run.session, run.client, run.study, str(qual), live=run.live)
    for public_id, exc in pending:
        run.say(f"participant {public_id}: still pending ({exc})")
    run.say(f"granted the qualification to {done} worker(s)")


@mturk_command("ledger", remote=False)
def ledger_command(run: Run) -> None:
    """Print the study's payment ledger."""
    rows = ledger.study_rows(run.session, run.study)
    paid = sum((r.amount or Decimal(0) for r in rows if r.status == "succeeded"), Decimal(0))
    fees = sum((r.fee or Decimal(0) for r in rows if r.status == "succeeded"), Decimal(0))
    for r in rows:
        where = "sandbox" if r.sandbox else "LIVE"
        money = f"${r.amount}+${r.fee} fee" if r.amount is not None else ""
        run.say(
            f"{r.id}\t{r.created_at:%Y-%m-%d %H:%M}\t{where}\t{r.action}\t{r.status}\t"
            f"{r.assignment_id or r.hit_id or ''}\t{money}"
        )
    run.say(f"{len(rows)} entries; succeeded: {Cost(paid, fees).describe()} (create_hit counts the maximum)")
