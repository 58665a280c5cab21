"""A small client for Prolific's public REST API v1 (https://docs.prolific.com/api-reference/).

Authentication is the header `Authorization: Token <token>` (every endpoint page, "Authentication").
The token comes from the environment (PROLIFIC_TOKEN) and is never printed, logged or put in an error
message: errors carry the method, the path and Prolific's own `error.title/detail` only.

Rate limits and outages: for requests that are safe to repeat, 429 is retried after Retry-After and
5xx and dropped connections with capped exponential backoff. A request that is not (the bulk bonus
*pay* call: "is not idempotent", api-reference/bonuses/pay-bonus-payments) is sent once: a 429 there
can come from wallet contention while payments are processed (Prolific's "managing high loads"
guidance), so it is reported like a lost answer and the caller asks Prolific whether the money moved.

Lists (`collect`) are read the way the API reference pages them and Prolific's own CLI reads them:
`limit` / `offset` query parameters, `results` on each page and the total in `meta.count`; a `next`
link, where one is given, is joined against the host root (it is root-relative: /api/v1/...).
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable, Mapping
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
PAGE_LIMIT = 100
"""Items asked for per page; a server that answers fewer is followed by offset until `meta.count`."""


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

    def link(self, href: str) -> str:
        """A link from an answer (`next`): root-relative (/api/v1/...) or absolute, joined against the
        host root, never the API base (which would give /api/v1/api/v1/...); another host is refused,
        so the token never leaves for it."""
        parts = urlsplit(self.base_url)
        url = urljoin(f"{parts.scheme}://{parts.netloc}/", href)
        if urlsplit(url).netloc != parts.netloc:
            raise ProlificError(
                f"Prolific answered a link to another host ({urlsplit(url).netloc}); not followed"
            )
        return url

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

        `repeatable=False` (a payment) is sent once: a 429, a 5xx or a dropped connection is reported
        (ProlificError with the status), never sent again.
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
            if repeatable and (resp.status_code == 429 or resp.status_code >= 500):
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

    def collect(self, path: str, *, limit: int = PAGE_LIMIT, **params: Any) -> list[dict[str, Any]]:
        """Every item of a list, page by page (limit / offset, or the answer's `next` link), until
        `meta.count` items are in or, without a count, a page comes back short.

        Raises ProlificError rather than return a list whose length differs from the reported total
        (items added or moved while paging, a link that ends early): acting on part of a study would
        leave people unapproved, unrejected or unpaid without a word.
        """
        items: list[dict[str, Any]] = []
        url: str = path
        query: dict[str, Any] | None = {**params, "limit": limit, "offset": 0}
        total: int | None = None
        what = f"GET {urlsplit(self.url(path)).path}"
        for _ in range(MAX_PAGES):
            page = self.request("GET", url, params=query) or {}
            results = list(page.get("results") or [])
            items.extend(results)
            count = (page.get("meta") or {}).get("count")
            total = int(count) if isinstance(count, int) and not isinstance(count, bool) else total
            href = _next_href(page)
            if not results or (total is not None and len(items) >= total):
                break
            if total is None and (len(results) < limit or href is None):
                break
            if href is not None:
                url, query = self.link(href), None  # the link carries its own limit / offset
            else:
                url, query = path, {**params, "limit": limit, "offset": len(items)}
        else:
            raise ProlificError(f"{what}: more than {MAX_PAGES} pages; stopped")
        distinct = len({str(i.get("id")) for i in items}) if all("id" in i for i in items) else len(items)
        if total is not None and (len(items) != total or distinct != total):
            raise ProlificError(
                f"{what}: read {distinct} distinct of the {total} items Prolific reports (the list changed "
                "while it was read, or a page was cut short); nothing was done: run the command again"
            )
        return items


def _next_href(page: dict[str, Any]) -> str | None:
    """The next page's link: `_links.next.href` or a plain `next`; None when there is none."""
    links = page.get("_links") or {}
    nxt = links.get("next") if isinstance(links, dict) else None
    href = nxt.get("href") if isinstance(nxt, dict) else None
    href = href or page.get("next")
    return str(href) if href else None
