"""What a Prolific action costs the researcher: the participants' money plus Prolific's service fee.

The figures shown before spending come from Prolific itself (`costs.quote`: the study cost calculator
for the workspace; a bonus set-up's own answer). `FeeRates` is only the offline fallback, and says so:
Prolific charges "~33.33% service charge on each bonus payment + VAT where applicable", the same
structure as for rewards (researcher-help.prolific.co, "How to Resolve an Underpaying Study with Bonus
Payments"); accounts on another rate can set `prolific.fee_rate` and `prolific.vat_rate`. Minimum pay:
£6.00 / $8.00 per hour (researcher-help, "Prolific's payment principles").
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")
FEE_RATE = Decimal(1) / Decimal(3)
MIN_PER_HOUR = {"GBP": Decimal("6.00"), "USD": Decimal("8.00")}
SYMBOLS = {"GBP": "£", "USD": "$"}


def parse_money(value: object, *, what: str = "amount") -> Decimal:
    """A positive amount in the study currency with at most two decimals ("1.50" is £1.50 / $1.50)."""
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValueError(f"{what} must be an amount like 1.50, got {value!r}") from None
    if not amount.is_finite() or amount <= 0:
        raise ValueError(f"{what} must be more than 0.00, got {value!r}")
    if amount != amount.quantize(CENT):
        raise ValueError(f"{what} may have at most two decimals, got {value!r}")
    return amount.quantize(CENT)


def to_cents(amount: Decimal) -> int:
    """Prolific's API takes rewards in pence / cents (api-reference/studies: `reward`)."""
    return int((amount * 100).to_integral_value())


@dataclass(frozen=True)
class FeeRates:
    fee: Decimal = FEE_RATE
    vat: Decimal = Decimal(0)
    currency: str = "GBP"

    @classmethod
    def from_config(cls, prolific: dict[str, Any]) -> FeeRates:
        def rate(key: str, default: Decimal) -> Decimal:
            raw = prolific.get(key)
            if raw is None:
                return default
            try:
                value = Decimal(str(raw))
            except InvalidOperation:
                raise ValueError(f"prolific.{key} must be a number like 0.3333, got {raw!r}") from None
            if not value.is_finite() or not 0 <= value < 1:
                raise ValueError(f"prolific.{key} must lie in [0, 1), got {raw!r}")
            return value

        currency = str(prolific.get("currency", "GBP")).upper()
        if currency not in SYMBOLS:
            raise ValueError(f"prolific.currency must be GBP or USD, got {currency!r}")
        return cls(rate("fee_rate", FEE_RATE), rate("vat_rate", Decimal(0)), currency)

    def cost(self, paid: Decimal) -> Cost:
        """The offline estimate: the fixed rates, labelled as such."""
        fee = (paid * self.fee).quantize(CENT, rounding=ROUND_HALF_UP)
        vat = (fee * self.vat).quantize(CENT, rounding=ROUND_HALF_UP)
        label = f"estimate: fixed {self.fee * 100:.2f}% fee, VAT {self.vat * 100:.0f}%"
        return Cost(paid, fee + vat, self.currency, source=label)


@dataclass(frozen=True)
class Cost:
    """Money to participants, Prolific's fee (with VAT), and their sum, in the study currency."""

    paid: Decimal
    fees: Decimal
    currency: str = "GBP"
    source: str = ""
    """Where the figures come from (Prolific's calculator, a bonus set-up, or the offline estimate)."""

    @property
    def total(self) -> Decimal:
        return self.paid + self.fees

    def __add__(self, other: Cost) -> Cost:
        source = (
            self.source
            if self.source == other.source
            else "; ".join(filter(None, (self.source, other.source)))
        )
        return Cost(self.paid + other.paid, self.fees + other.fees, self.currency, source)

    def describe(self) -> str:
        s = SYMBOLS.get(self.currency, "")
        paid, fees, total = (f"{s}{x.quantize(CENT)}" for x in (self.paid, self.fees, self.total))
        text = f"{paid} to participants + {fees} Prolific service fee = {total}"
        return f"{text} {self.currency} ({self.source})" if self.source else text


def minimum_reward(minutes: int, currency: str) -> Decimal:
    """The least reward Prolific allows for a study of `minutes` estimated minutes."""
    return (MIN_PER_HOUR[currency] * minutes / 60).quantize(CENT, rounding=ROUND_HALF_UP)
