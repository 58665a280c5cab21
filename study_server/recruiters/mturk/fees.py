"""What an MTurk action costs the requester: the worker's money plus Amazon's commission.

Pricing facts (https://requester.mturk.com/pricing, as quoted in the requester FAQ and by
https://githubissues.com/Watts-Lab/mturk-helper/9): a 20% fee on the reward and on any bonus; HITs
with 10 or more assignments pay an additional 20% on the reward (not on bonuses), i.e. 40%; the fee
is at least $0.01 per assignment and per bonus; fees are rounded half up to the cent.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
BASE_RATE = Decimal("0.20")
LARGE_HIT_EXTRA_RATE = Decimal("0.20")
LARGE_HIT_ASSIGNMENTS = 10
MIN_FEE = Decimal("0.01")


def parse_amount(value: object, *, what: str = "amount") -> Decimal:
    """A dollar amount as MTurk wants it: positive, at most two decimals (e.g. "1.50")."""
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValueError(f"{what} must be a dollar amount like 1.50, got {value!r}") from None
    if not amount.is_finite() or amount <= 0:
        raise ValueError(f"{what} must be more than $0.00, got {value!r}")
    if amount != amount.quantize(CENT):
        raise ValueError(f"{what} may have at most two decimals (cents), got {value!r}")
    return amount.quantize(CENT)


def money_str(amount: Decimal) -> str:
    """MTurk's string form of money ("0.50"); floats never reach the API."""
    return str(amount.quantize(CENT))


def _fee(amount: Decimal, rate: Decimal) -> Decimal:
    return max(MIN_FEE, (amount * rate).quantize(CENT, rounding=ROUND_HALF_UP))


def assignment_fee(reward: Decimal, max_assignments: int) -> Decimal:
    """Amazon's commission on one assignment's reward."""
    rate = BASE_RATE + (LARGE_HIT_EXTRA_RATE if max_assignments >= LARGE_HIT_ASSIGNMENTS else 0)
    return _fee(reward, rate)


def bonus_fee(bonus: Decimal) -> Decimal:
    """Amazon's commission on one bonus (always 20%, at least a cent)."""
    return _fee(bonus, BASE_RATE)


@dataclass(frozen=True)
class Cost:
    """Money to workers, fees to Amazon, and their sum (all in dollars)."""

    paid: Decimal
    fees: Decimal

    @property
    def total(self) -> Decimal:
        return self.paid + self.fees

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.paid + other.paid, self.fees + other.fees)

    def describe(self) -> str:
        paid, fees, total = (money_str(x) for x in (self.paid, self.fees, self.total))
        return f"${paid} to workers + ${fees} MTurk fees = ${total}"


NO_COST = Cost(Decimal("0.00"), Decimal("0.00"))


def hit_cost(reward: Decimal, max_assignments: int) -> Cost:
    """The most a HIT can cost if every assignment is approved."""
    return Cost(reward * max_assignments, assignment_fee(reward, max_assignments) * max_assignments)


def bonus_cost(bonus: Decimal) -> Cost:
    return Cost(bonus, bonus_fee(bonus))
