"""The cost shown before a paid action, from Prolific's own calculator for the workspace.

POST /study-cost-calculator/ {"reward": cents, "total_available_places": n} answers {"total_cost": cents}:
the rewards plus the account's own fee and VAT, in the account's currency (api-reference/studies/
calculate-study-cost). The currency is read from the workspace (GET /workspaces/{id}/balance/,
`currency_code`: api-reference/workspaces/get-workspace-balance) when `prolific.workspace_id` is set.
Only when Prolific cannot be asked (no token, no network) is the fixed-rate estimate of `fees.FeeRates`
shown, and the line says so.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from study_server.recruiters.prolific.client import ProlificClient, ProlificError
from study_server.recruiters.prolific.fees import CENT, SYMBOLS, Cost, FeeRates, to_cents

CALCULATOR = "study-cost-calculator/"


class Pricer:
    """Prices rewards for one command run: Prolific's calculator, else the labelled offline estimate."""

    def __init__(
        self, client: Callable[[], ProlificClient], rates: FeeRates, workspace_id: str | None = None
    ) -> None:
        self._client, self.rates, self.workspace_id = client, rates, workspace_id
        self._currency: str | None = None
        self._quotes: dict[tuple[int, int], Cost] = {}
        self.offline: str | None = None
        """Why Prolific could not be asked (set on the first failure; later quotes do not retry)."""

    def currency(self, client: ProlificClient) -> str:
        """The workspace's currency, else the configured `prolific.currency`."""
        if self._currency is None:
            self._currency = self.rates.currency
            if self.workspace_id:
                balance = client.get(f"workspaces/{self.workspace_id}/balance/") or {}
                code = str(balance.get("currency_code") or "").upper()
                if code not in SYMBOLS:
                    raise ProlificError(f"the workspace's currency {code!r} is not GBP or USD")
                self._currency = code
        return self._currency

    def quote(self, reward: Decimal, places: int) -> Cost:
        """What `places` rewards of `reward` cost, fees and VAT included."""
        key = (to_cents(reward), places)
        if places <= 0:
            return Cost(Decimal(0), Decimal(0), self.rates.currency)
        if key not in self._quotes:
            self._quotes[key] = self._ask(reward, places)
        return self._quotes[key]

    def _ask(self, reward: Decimal, places: int) -> Cost:
        paid = reward * places
        if self.offline is None:
            try:
                client = self._client()
                body = {"reward": to_cents(reward), "total_available_places": places}
                answer = client.post(CALCULATOR, body) or {}
                total = (Decimal(str(answer["total_cost"])) / 100).quantize(CENT)
                currency = self.currency(client)
                where = "" if self.workspace_id else ", currency from prolific.currency"
                return Cost(paid, total - paid, currency, f"Prolific's cost calculator, fee and VAT{where}")
            except (ProlificError, KeyError, ArithmeticError, ValueError) as exc:
                self.offline = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        estimate = self.rates.cost(paid)
        why = f"{estimate.source}; Prolific's calculator was not reached: {self.offline}"
        return Cost(estimate.paid, estimate.fees, estimate.currency, why)
