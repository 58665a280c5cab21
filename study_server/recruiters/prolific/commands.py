"""`python -m study_server.recruiters prolific CMD`: create, publish, review and pay a Prolific study.

Each command is one click function on the `prolific` group; setup, review and
studies do the work.

Every command that sends something prints the request first (method, URL, JSON body; never the token).
Prolific has no sandbox, so commands that spend money ask to type YES (or take `--yes`) and take
`--dry-run`, which prints each action with its cost (participants' pay + Prolific's service fee) and
sends nothing that changes state. The token comes from PROLIFIC_TOKEN.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import click
from flask import current_app
from sqlalchemy.orm import Session

from study_server.cli import CommandGroup, UserError
from study_server.models import Study, db
from study_server.recruiters import ledger
from study_server.recruiters.commands import find_study, prompt_and_output, study_option
from study_server.recruiters.prolific import bonuses, confirm, review, setup
from study_server.recruiters.prolific.client import ProlificClient, ProlificError, api_url_from_env
from study_server.recruiters.prolific.costs import Pricer
from study_server.recruiters.prolific.fees import Cost, FeeRates, parse_money
from study_server.recruiters.prolific.studies import StudyConfigError


def _user_errors() -> tuple[type[Exception], ...]:
    return (ProlificError, review.ReviewError, StudyConfigError, setup.SetupError)


@click.group("prolific", cls=CommandGroup, user_errors=_user_errors)
def prolific_group() -> None:
    """Prolific: create and publish studies, review, bonuses."""


class Run:
    """One Prolific command run: the study, its fee rates, the (lazily made) client and the output."""

    def __init__(self, slug: str, *, dry_run: bool = False, yes: bool = False) -> None:
        self.confirm, self.out = prompt_and_output()
        self.session: Session = db.session()  # the request's Session behind the scoped proxy
        self.slug, self.dry_run, self.yes = slug, dry_run, yes
        self._client: ProlificClient | None = None

    @functools.cached_property
    def study(self) -> Study:
        """Looked up on first use, so a command checks its own options first."""
        return find_study(self.slug, "prolific")

    @functools.cached_property
    def rates(self) -> FeeRates:
        try:
            return FeeRates.from_config(self.settings)
        except ValueError as exc:
            raise UserError(str(exc)) from None

    @property
    def settings(self) -> dict[str, Any]:
        return setup.settings(self.study)

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
        if self.dry_run or self.yes:
            return
        answer = self.confirm(f"This spends real money on Prolific (at most {cost.describe()}). Type YES: ")
        if answer.strip() != "YES":
            raise UserError("not confirmed; nothing was sent")

    def study_id(self) -> str:
        return review.prolific_study_id(self.study)

    def matches(self) -> list[review.Match]:
        sid = self.study_id()
        return review.match_submissions(self.session, self.study, review.list_submissions(self.client, sid))

    @functools.cached_property
    def pricer(self) -> Pricer:
        return Pricer(lambda: self.client, self.rates, self.settings.get("workspace_id"))

    def reward_cost(self, n: int = 1) -> Cost:
        """What `n` rewards cost, from Prolific's calculator (the fee is reckoned on the sum)."""
        try:
            reward = parse_money(self.settings.get("reward"), what="prolific.reward")
        except ValueError:
            return Cost(Decimal(0), Decimal(0), self.rates.currency)
        return self.pricer.quote(reward, n)

    def report(self, what: str, o: review.Outcome) -> None:
        state = o.ledger.status if o.sent else "already done (ledger), not sent again"
        self.say(f"{what} {o.ledger.assignment_id} ({o.ledger.worker_id}): {state}")
        if o.ledger.status == "failed":
            self.say(f"  {o.ledger.detail}")

    def note_waiting(self, n: int) -> None:
        """Approvals Prolific accepted but does not show yet: it works through them in the background."""
        if n:
            self.say(f"{n} approval(s) accepted by Prolific, not yet shown as APPROVED: run reconcile later")

    def pick(self, ids: Sequence[str]) -> list[review.Match]:
        found = {m.submission_id: m for m in self.matches()}
        missing = [i for i in ids if i not in found]
        if missing:
            raise UserError(f"no such submission in this study: {', '.join(missing)}")
        return [found[i] for i in ids]


YES = click.option("--yes", is_flag=True, help="do not ask before spending money")
DRY_RUN = click.option("--dry-run", is_flag=True, help="print actions and costs; change nothing")


def prolific_command(
    name: str, *, paid: bool = False, check: Callable[..., None] | None = None
) -> Callable[[Callable[..., None]], click.Command]:
    """Declare a Prolific command `f(run, **options)`: --study, and for paid ones --dry-run and --yes,
    come from here, the command's own options from its decorators. `check(**options)` refuses bad
    options before the study is looked up; the study and its fee settings are checked before `f` runs."""

    def declare(f: Callable[..., None]) -> click.Command:
        @functools.wraps(f)
        def command(study: str, dry_run: bool = False, yes: bool = False, **options: Any) -> None:
            if check is not None:
                check(**options)
            run = Run(study, dry_run=dry_run, yes=yes)
            _ = run.rates  # the study and its fee settings: one line if either is wrong
            f(run, **options)

        if paid:
            command = DRY_RUN(YES(command))
        command = study_option(command)
        return prolific_group.command(name)(command)

    return declare


@prolific_command("create-study")
@click.option("--url", required=True, help="public https URL of the study entry, e.g. https://host/s/SLUG/")
@click.option("--dry-run", is_flag=True, help="print the request and the cost; send nothing")
def create_study(run: Run, url: str) -> None:
    """Create the draft study on Prolific from the study's prolific settings."""
    study = run.study
    if run.settings.get("study_id"):
        raise UserError(f"study {study.slug!r} already has Prolific study {run.settings['study_id']}")
    plan, config = setup.plan_study(run.session, study, url)
    cost = run.pricer.quote(plan.reward, plan.places)
    run.say(
        f"draft study '{plan.payload['name']}': {plan.places} places x {plan.reward} "
        f"{run.rates.currency}; publishing it will cost at most {cost.describe()}"
    )
    if not setup.participant_group_id(run.session, study) and (study.config or {}).get("exclusion_group"):
        run.say("note: no participant group yet (create-group): only previous studies are blocklisted")
    run.show_request("POST", "studies/", plan.payload)
    if run.dry_run:  # this command's own --dry-run (it spends nothing, so it takes no --yes)
        run.say("[dry run] nothing sent")
        return
    sid, status = setup.create_study(run.session, run.client, study, plan, config, cost)
    run.say(f"Prolific study {sid}: created as a draft ({status})")


@prolific_command("publish", paid=True)
def publish(run: Run) -> None:
    """Publish the draft study (participants can start; Prolific reserves the cost)."""
    sid = run.study_id()
    cost = run.reward_cost(int(run.settings.get("places") or 0))
    run.say(f"publish Prolific study {sid}: at most {cost.describe()}")
    run.show_request("POST", f"studies/{sid}/transition/", setup.PUBLISH)
    if run.dry_run:
        run.say("[dry run] nothing sent")
        return
    run.confirm_spend(cost)
    _, state = setup.publish_study(run.session, run.client, run.study, sid, cost)
    run.say(f"Prolific study {sid}: {state}")


@prolific_command("submissions")
def submissions(run: Run) -> None:
    """List the study's submissions, matched to participants, with the review decision."""
    rows = run.matches()
    for m in rows:
        who = m.participant.public_id if m.participant else "-"
        local = m.participant.status if m.participant else "-"
        d = review.decide(run.study, m)
        run.say(f"{m.submission_id}\t{m.pid}\t{m.status}\t{who}\t{local}\t{d.action}: {d.reason}")
    counts: dict[str, int] = {}
    for m in rows:
        counts[m.status] = counts.get(m.status, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    run.say(f"{len(rows)} submission(s)" + (f": {summary}" if summary else ""))


@prolific_command("review", paid=True)
def review_all(run: Run) -> None:
    """Approve / reject / free slots as the server's statuses say."""
    sid = run.study_id()
    plan = [(m, review.decide(run.study, m)) for m in run.matches()]
    approvals = [m for m, d in plan if d.action == "approve"]
    total = run.reward_cost(len(approvals))
    cost = run.reward_cost() if approvals else total
    dry = "[dry run] " if run.dry_run else ""
    for m, d in plan:
        run.say(f"{dry}{d.action} {m.submission_id} ({m.pid}): {d.reason}")
    run.say(f"{dry}approvals: {len(approvals)}, {total.describe()}")
    if approvals:
        run.show_request(
            "POST", "submissions/bulk-approve/", {"submission_ids": [m.submission_id for m in approvals]}
        )
    if run.dry_run:
        return
    if approvals:
        run.confirm_spend(total)
    failed, waiting = 0, 0
    for step in review.carry_out(run.session, run.client, sid, plan, cost):
        m = step.match
        if step.outcome is not None:
            failed += step.outcome.ledger.status == "failed"
            waiting += step.outcome.ledger.status == "submitted"
            run.report(step.action, step.outcome)
        elif step.action in ("returned", "abandoned"):
            who = m.participant.public_id if m.participant else m.pid
            run.say(f"{step.action} {m.submission_id}: participant {who} left; slot freed")
        else:
            run.say(f"sync {m.submission_id}: now {step.decision.local_status} here")
    run.note_waiting(waiting)
    if failed:
        raise UserError(f"{failed} action(s) failed; see above (re-run to retry them)")


@prolific_command("approve", paid=True)
@click.option("--submission", multiple=True, required=True, help="submission id (repeatable)")
def approve(run: Run, submission: Sequence[str]) -> None:
    """Approve submissions by id."""
    picked = run.pick(submission)
    cost, total = run.reward_cost(), run.reward_cost(len(picked))
    run.say(f"{'[dry run] ' if run.dry_run else ''}approve {len(picked)}: {total.describe()}")
    body = {"submission_ids": [m.submission_id for m in picked]}
    run.show_request("POST", "submissions/bulk-approve/", body)
    if run.dry_run:
        return
    run.confirm_spend(total)
    outcomes = review.approve(run.session, run.client, run.study_id(), picked, "approved by hand", cost)
    for o in outcomes:
        run.report("approve", o)
    run.note_waiting(sum(o.ledger.status == "submitted" for o in outcomes))
    if any(o.ledger.status == "failed" for o in outcomes):
        raise UserError("approval failed; see above (re-run to retry)")


@prolific_command("reject", paid=True)
@click.option("--submission", multiple=True, required=True, help="submission id (repeatable)")
@click.option("--category", required=True, help=f"one of {', '.join(review.REJECTION_CATEGORIES)}")
@click.option("--message", required=True, help="why (at least 100 characters; the participant reads it)")
def reject(run: Run, submission: Sequence[str], category: str, message: str) -> None:
    """Reject a submission (category and message required)."""
    body = review.rejection(message, category)
    picked = run.pick(submission)
    for m in picked:
        run.show_request("POST", f"submissions/{m.submission_id}/transition/", body)
    if run.dry_run:
        run.say("[dry run] nothing sent (a rejection costs nothing)")
        return
    failed = 0
    for m in picked:
        o = review.reject(run.session, run.client, run.study_id(), m, message, category)
        failed += o.ledger.status == "failed"
        run.report("reject", o)
    if failed:
        raise UserError(f"{failed} rejection(s) failed; see above")


@prolific_command("bonus", paid=True)
@click.option("--submission", multiple=True, help="submission id (repeatable)")
@click.option("--all-approved", is_flag=True, help="every approved, matched submission")
@click.option("--amount", required=True, help="in the study currency, e.g. 0.50")
@click.option("--reason", required=True, help="why (kept in the ledger)")
def bonus(run: Run, submission: Sequence[str], all_approved: bool, amount: str, reason: str) -> None:
    """Pay a bonus per submission (at most once per submission)."""
    try:
        money = parse_money(amount, what="--amount")
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if not reason.strip():
        raise UserError("--reason must not be empty")
    sid = run.study_id()
    if not run.dry_run:  # a bonus whose pay call may have run: ask Prolific before anything else
        for s in confirm.reconcile(run.session, run.client, run.study, ("bonus",)):
            run.say(f"earlier bonus {s.row.assignment_id} ({s.row.worker_id}): {s.state}")
    rows = run.matches()
    if all_approved:
        picked = [m for m in rows if m.status == "APPROVED" and m.participant is not None]
    elif submission:
        picked = run.pick(submission)
    else:
        raise UserError("name submissions with --submission, or use --all-approved")
    todo, unsettled = [], 0
    for m in picked:
        row = bonuses.bonus_row(run.session, m.submission_id)
        if row is not None and row.status in confirm.DONE:
            run.say(f"bonus {m.submission_id} ({m.pid}): already paid (ledger {row.id}), not sent again")
        elif row is not None and row.status in ("paying", "submitted"):
            unsettled += 1
            run.say(f"bonus {m.submission_id} ({m.pid}): unconfirmed (ledger {row.id}), not sent again")
        else:
            todo.append(m)
    estimate = run.pricer.quote(money, len(todo))
    csv = "".join(f"{m.pid},{money}\n" for m in todo)
    run.say(f"{'[dry run] ' if run.dry_run else ''}bonus {len(todo)} x {money}: {estimate.describe()}")
    if todo:
        run.show_request("POST", "submissions/bonus-payments/", {"study_id": sid, "csv_bonuses": csv})
        run.say(f"then POST {api_url_from_env()}bulk-bonus-payments/<id>/pay/ (once)")
    if todo and not run.dry_run:

        def confirm_set_up(cost: Cost) -> None:
            run.say(f"bulk bonus set up on Prolific: {cost.describe()}")
            try:
                run.confirm_spend(cost)
            except UserError:
                raise UserError(
                    "not confirmed; nothing was paid (the bulk bonus set up stays unpaid)"
                ) from None

        results = bonuses.pay_bonuses(
            run.session, run.client, run.study, sid, todo, money, reason, estimate.currency, confirm_set_up
        )
        for r in results:
            run.say(f"bonus {r.row.assignment_id} ({r.row.worker_id}): {r.state}")
        unsettled += sum(r.state in bonuses.UNSETTLED for r in results)
    if unsettled:
        raise UserError(
            f"{unsettled} bonus(es) not confirmed as paid; an unconfirmed one is never paid again by "
            "itself: run reconcile later, or check the submission on Prolific and run "
            "resolve-bonus --ledger ID --paid|--unpaid"
        )


def _paid_or_unpaid(*, paid: bool, unpaid: bool, **_: Any) -> None:
    if paid == unpaid:
        raise click.UsageError("give exactly one of --paid and --unpaid")


@prolific_command("resolve-bonus", check=_paid_or_unpaid)
@click.option("--ledger", "ledger_id", type=int, required=True, help="ledger entry id (see `ledger`)")
@click.option("--paid", is_flag=True, help="Prolific shows the bonus as paid")
@click.option("--unpaid", is_flag=True, help="Prolific shows no such bonus: allow a new one")
def resolve_bonus(run: Run, ledger_id: int, paid: bool, unpaid: bool) -> None:
    """Record what Prolific's site shows for an unconfirmed bonus payment."""
    row = bonuses.resolve_bonus(run.session, run.study, ledger_id, paid=paid)
    run.say(f"ledger {row.id}: {row.status}")


@prolific_command("create-group")
@click.option("--workspace", help="Prolific workspace id (default: prolific.workspace_id)")
def create_group(run: Run, workspace: str | None) -> None:
    """Create the exclusion group's Prolific participant group (blocklisted later)."""
    existing = setup.participant_group_id(run.session, run.study)
    if existing:
        setup.save_settings(run.session, run.study, participant_group_id=existing)
        run.say(f"participant group: {existing} (shared by the exclusion group)")
        return
    workspace = workspace or run.settings.get("workspace_id")
    if not workspace:
        raise UserError("give --workspace (or set prolific.workspace_id): Prolific groups live in one")
    body = setup.participant_group_request(run.study, workspace)
    run.show_request("POST", "participant-groups/", body)
    run.say(f"participant group: {setup.create_participant_group(run.session, run.client, run.study, body)}")


@prolific_command("sync-group")
def sync_group(run: Run) -> None:
    """Add every participant of the exclusion group's studies to the participant group."""
    gid = setup.participant_group_id(run.session, run.study)
    if not gid:
        raise UserError("the exclusion group has no participant group yet: run create-group")
    todo = setup.outside_group(run.session, run.study, gid)
    if not todo:
        run.say("every participant is in the participant group already")
        return
    run.show_request("POST", f"participant-groups/{gid}/participants/", setup.group_members_request(todo))
    added = setup.add_to_group(run.session, run.client, todo, gid)
    run.say(f"added {added} participant(s) to group {gid}")


@prolific_command("ledger")
def ledger_command(run: Run) -> None:
    """Print the study's Prolific payment ledger."""
    rows = ledger.study_rows(run.session, run.study, review.PLATFORM)
    for r in rows:
        money = f"{r.amount}+{r.fee} fee" if r.amount is not None else ""
        run.say(
            f"{r.id}\t{r.created_at:%Y-%m-%d %H:%M}\t{r.action}\t{r.status}\t"
            f"{r.assignment_id or r.hit_id or ''}\t{r.batch_id or ''}\t{money}"
        )
    done = [r for r in rows if r.status in confirm.DONE and r.action in ("approve", "bonus")]
    paid = sum((r.amount or Decimal(0) for r in done), Decimal(0))
    fees = sum((r.fee or Decimal(0) for r in done), Decimal(0))
    spent = Cost(paid, fees, run.rates.currency)
    run.say(f"{len(rows)} entries; paid (approvals and bonuses): {spent.describe()}")
    still = [r for r in rows if r.status in confirm.OPEN and r.action in confirm.LOCAL]
    if still:
        run.say(f"{len(still)} not confirmed on Prolific yet: run reconcile")


@prolific_command("reconcile")
def reconcile(run: Run) -> None:
    """Read every unconfirmed approval, rejection and bonus back from Prolific and settle it."""
    settled = confirm.reconcile(run.session, run.client, run.study)
    for s in settled:
        run.say(f"{s.row.action} {s.row.assignment_id} ({s.row.worker_id}): {s.state}")
    left = [s for s in settled if s.row.status in confirm.OPEN]
    run.say(f"{len(settled)} unconfirmed row(s) read back; {len(left)} still open")
    if left:
        raise UserError(
            f"{len(left)} row(s) still not shown on Prolific: run reconcile again later (Prolific "
            "works through approvals and payments in the background); a bonus never shown can be "
            "settled with resolve-bonus"
        )
