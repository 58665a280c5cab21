"""A small client for Prolific's public REST API v1 (https://docs.prolific.com/api-reference/).

Authentication is the header `Authorization: Token <token>` (every endpoint page, "Authentication").
The token comes from the environment (PROLIFIC_TOKEN) and is never printed, logged or put in an error
message: errors carry the method, the path and Prolific's own `error.title/detail` only.

Rate limits and outages: 429 is retried after Retry-After (the request was refused, so it never ran);
5xx and dropped connections are retried with capped exponential backoff only for requests that are
safe to repeat. The bulk bonus *pay* call is never repeated: Prolific's docs warn it "is not
idempotent" (api-reference/bonuses/pay-bonus-payments).
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable, Iterator, Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

log = logging.getLogger(__name__)

API_URL = "https://api.prolific.com/api/v1/"
TOKEN_ENV = "PROLIFIC_TOKEN"
URL_ENV = "PROLIFIC_API_URL"
"""Overrides API_URL (a local fake Prolific in tests); only https, or http on the loopback."""
TIMEOUT_S = 30.0
MAX_PAGES = 1000


class ProlificError(RuntimeError):
    """A Prolific call failed for good (after retries); the message is safe to show (no token)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def api_url_from_env(environ: Mapping[str, str] | None = None) -> str:
    """The API base URL: Prolific's, or PROLIFIC_API_URL when it is https or a loopback http URL."""
    env = os.environ if environ is None else environ
    url = (env.get(URL_ENV) or API_URL).strip()
    parts = urlsplit(url)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ProlificError(f"{URL_ENV} must be an https URL (or http on 127.0.0.1), got {url!r}")
    if parts.username or parts.password:
        raise ProlificError(f"{URL_ENV} must not carry credentials")
    return url if url.endswith("/") else url + "/"


def token_from_env(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    token = (env.get(TOKEN_ENV) or "").strip()
    if not token:
        raise ProlificError(
            f"set {TOKEN_ENV} to your Prolific API token (Prolific: Settings > API tokens); nothing was sent"
        )
    return token


def retry_after_s(value: str | None, default: float) -> float:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return default
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, when.timestamp() - time.time())


def _error_text(resp: requests.Response) -> str:
    """Prolific's error envelope is {"error": {"title", "detail"}}; fall back to the status line."""
    try:
        body = resp.json()
    except ValueError:
        return resp.reason or ""
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        parts = [str(err.get(k)) for k in ("title", "detail") if err.get(k)]
        return ": ".join(parts)[:500]
    return str(body)[:500]


class ProlificClient:
    """requests.Session with the token header, retries and pagination; one per command run."""

    def __init__(
        self,
        token: str,
        base_url: str = API_URL,
        *,
        max_attempts: int = 5,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"
        self.session.headers["Accept"] = "application/json"
        self.max_attempts, self.base_delay, self.max_delay = max_attempts, base_delay, max_delay
        self.sleep = sleep
        self.rng = rng or random.Random()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> ProlificClient:
        return cls(token_from_env(environ), api_url_from_env(environ), **kwargs)

    def __repr__(self) -> str:  # never shows the token
        return f"ProlificClient({self.base_url!r})"

    def url(self, path: str) -> str:
        return urljoin(self.base_url, path.lstrip("/"))

    def _backoff(self, attempt: int) -> float:
        delay = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return delay * (0.5 + self.rng.random() / 2)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        repeatable: bool = True,
    ) -> Any:
        """One call; returns the decoded JSON body (None when empty). Raises ProlificError.

        `repeatable=False` (a payment) retries only 429, which Prolific answers without running the
        request; a 5xx or a dropped connection is then reported, never sent again.
        """
        url = path if path.startswith(("http://", "https://")) else self.url(path)
        what = f"{method} {urlsplit(url).path}"
        for attempt in range(1, self.max_attempts + 1):
            last = attempt == self.max_attempts
            try:
                resp = self.session.request(method, url, json=json, params=params, timeout=TIMEOUT_S)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if not repeatable or last:
                    raise ProlificError(f"{what}: no answer from Prolific ({type(exc).__name__})") from None
                delay = self._backoff(attempt)
                log.warning("Prolific %s: %s; retry %d in %.1fs", what, type(exc).__name__, attempt, delay)
                self.sleep(delay)
                continue
            if resp.status_code == 429 or (resp.status_code >= 500 and repeatable):
                if last:
                    raise ProlificError(
                        f"{what} failed after {attempt} attempt(s): HTTP {resp.status_code} "
                        f"{_error_text(resp)}",
                        resp.status_code,
                    )
                delay = self._backoff(attempt)
                if resp.status_code == 429:
                    delay = min(self.max_delay, retry_after_s(resp.headers.get("Retry-After"), delay))
                log.warning("Prolific %s: HTTP %d; retry %d in %.1fs", what, resp.status_code, attempt, delay)
                self.sleep(delay)
                continue
            if resp.status_code >= 400:
                raise ProlificError(
                    f"{what}: HTTP {resp.status_code} {_error_text(resp)}".rstrip(), resp.status_code
                )
            if not resp.content:
                return None
            try:
                return resp.json()
            except ValueError:  # e.g. bulk approve answers "Bulk approve in progress": it succeeded
                return None
        raise AssertionError("unreachable")  # pragma: no cover

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None)

    def post(self, path: str, body: Any = None, *, repeatable: bool = True) -> Any:
        return self.request("POST", path, json=body if body is not None else {}, repeatable=repeatable)

    def pages(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a list: `results` on each page; a next page is followed at `_links.next.href`
        or a plain `next` URL (the stored docs show `results` but not the paging links, so both common
        forms are read; a page without a link ends the list)."""
        url: str | None = path
        query: dict[str, Any] | None = params or None
        for _ in range(MAX_PAGES):
            if url is None:
                return
            page = self.request("GET", url, params=query)
            query = None  # the next link carries its own query string
            yield from (page or {}).get("results", [])
            links = (page or {}).get("_links") or {}
            nxt = (links.get("next") or {}).get("href") if isinstance(links.get("next"), dict) else None
            url = nxt or (page or {}).get("next") or None
        raise ProlificError(f"GET {path}: more than {MAX_PAGES} pages; stopped")
