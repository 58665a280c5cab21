"""The boto3 `mturk` client, always with an explicit endpoint, and retries for transient errors.

boto3 talks to the LIVE marketplace when no endpoint_url is given; this module never lets that
happen: the sandbox is the default and live needs `live=True` (the CLI asks for a flag and a typed
confirmation). Credentials come only from the environment / AWS config files, never from us, and are
never logged.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError, ConnectionError, EndpointConnectionError, ReadTimeoutError

log = logging.getLogger(__name__)

SANDBOX_ENDPOINT = "https://mturk-requester-sandbox.us-east-1.amazonaws.com"
LIVE_ENDPOINT = "https://mturk-requester.us-east-1.amazonaws.com"
REGION = "us-east-1"
SANDBOX_SUBMIT = "https://workersandbox.mturk.com"
LIVE_SUBMIT = "https://www.mturk.com"

TRANSIENT_CODES = frozenset(
    {"ThrottlingException", "Throttling", "ServiceUnavailable", "ServiceUnavailableException", "RequestError"}
)
"""Error codes worth retrying. MTurk's RequestError also covers permanent problems, so only the
throttling-flavoured ones (checked in `is_transient`) are retried for it."""


class MTurkError(RuntimeError):
    """An MTurk call failed for good (after retries); the message is safe to show."""


def endpoint_for(live: bool) -> str:
    return LIVE_ENDPOINT if live else SANDBOX_ENDPOINT


def make_client(*, live: bool = False, **kwargs: Any) -> Any:
    """A boto3 mturk client on the sandbox (or live) endpoint; credentials from the environment."""
    import boto3

    return boto3.client("mturk", region_name=REGION, endpoint_url=endpoint_for(live), **kwargs)


def client_is_live(client: Any) -> bool:
    return str(client.meta.endpoint_url).rstrip("/") == LIVE_ENDPOINT


def error_code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def is_transient(exc: BaseException) -> bool:
    """Throttling, a service outage, a dropped connection: try again later. Anything else: give up."""
    if isinstance(exc, EndpointConnectionError | ConnectionError | ReadTimeoutError):
        return True
    code = error_code(exc)
    if code not in TRANSIENT_CODES:
        return False
    if code == "RequestError":
        message = str(exc).lower()
        return any(word in message for word in ("throttl", "rate", "too many", "try again"))
    return True


def call_with_retry(
    client: Any,
    operation: str,
    params: Mapping[str, Any],
    *,
    max_attempts: int = 5,
    base_delay: float = 1.0,
    max_delay: float = 30.0,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> dict[str, Any]:
    """Call `client.<operation>(**params)`, retrying transient errors with capped exponential backoff.

    Raises MTurkError (with MTurk's own message) when the call fails for good.
    """
    method = getattr(client, operation)
    jitter = rng or random.Random()
    for attempt in range(1, max_attempts + 1):
        try:
            return method(**params)
        except Exception as exc:
            if not is_transient(exc) or attempt == max_attempts:
                reason = str(exc) if isinstance(exc, ClientError) else f"{type(exc).__name__}: {exc}"
                raise MTurkError(f"{operation} failed after {attempt} attempt(s): {reason}") from exc
            delay = min(max_delay, base_delay * 2 ** (attempt - 1)) * (0.5 + jitter.random() / 2)
            log.warning(
                "MTurk %s: %s; retry %d/%d in %.1fs",
                operation,
                error_code(exc) or exc,
                attempt,
                max_attempts - 1,
                delay,
            )
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def paginate(
    client: Any, operation: str, params: Mapping[str, Any], key: str, **retry: Any
) -> list[dict[str, Any]]:
    """Every item of a NextToken-paginated list call (each page retried on its own)."""
    items: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        page_params = dict(params)
        if token:
            page_params["NextToken"] = token
        page = call_with_retry(client, operation, page_params, **retry)
        items.extend(page.get(key, []))
        token = page.get("NextToken")
        if not token or not page.get(key):
            return items
