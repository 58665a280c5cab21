"""Client addresses, and a per-address rate limit kept in the database.

Consent creates a participant and takes a list place, so an anonymous client that posts the consent form
in a loop could fill a capped study. Each such request is counted per client address in
`RateLimitHit` (shared by every worker and every app server, unlike memory); beyond
`CONSENT_MAX_PER_ADDRESS` within `CONSENT_WINDOW` seconds the request is refused with 429 and
Retry-After.

The address is only right when the app sees the client's own: behind a reverse proxy the app must trust
the proxy's X-Forwarded-For (`PROXY_FIX_X_FOR`, as deploy/nginx.conf sends it). A loopback address is
never limited: without a trusted proxy it is a local proxy that forwards no address (counting it would
count everyone as one client), and otherwise a client on the server's own machine.
"""

from __future__ import annotations

import ipaddress
import math
from datetime import timedelta

from flask import current_app, request
from sqlalchemy import delete, func, select

from study_server.db import write_lock
from study_server.models import RateLimitHit, db, utcnow

DEFAULTS: dict[str, int] = {"CONSENT_MAX_PER_ADDRESS": 10, "CONSENT_WINDOW": 3600}
"""Consent forms accepted per client address and window (seconds); 0 turns the limit off. App config
(e.g. env STUDY_CONSENT_MAX_PER_ADDRESS) overrides each."""


def client_address() -> str:
    """The request's client address as counted: IPv4 as is, IPv6 by its /64 (one subscriber's net)."""
    raw = request.remote_addr or "unknown"
    try:
        ip = ipaddress.ip_address(raw)
    except ValueError:
        return raw[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def _setting(name: str) -> int:
    return int(current_app.config.get(name, DEFAULTS[name]))


def address_is_known() -> bool:
    """Whether the request's address is a remote client's own (not loopback: a local proxy that
    forwards nothing, or this machine)."""
    try:
        return not ipaddress.ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


def consent_retry_after() -> int | None:
    """Count this consent request; the seconds to wait when its address is over the limit, else None."""
    limit, window_s = _setting("CONSENT_MAX_PER_ADDRESS"), _setting("CONSENT_WINDOW")
    if limit <= 0 or not address_is_known():
        return None
    address, now = client_address(), utcnow()
    window = timedelta(seconds=window_s)
    with write_lock(db.session):
        db.session.execute(delete(RateLimitHit).where(RateLimitHit.at <= now - window))
        recent = select(RateLimitHit.at).where(
            RateLimitHit.scope == "consent", RateLimitHit.address == address, RateLimitHit.at > now - window
        )
        n = int(db.session.scalar(select(func.count()).select_from(recent.subquery())) or 0)
        if n >= limit:
            oldest = db.session.scalar(recent.order_by(RateLimitHit.at).limit(1))
            db.session.commit()
            assert oldest is not None
            wait = (oldest if oldest.tzinfo else oldest.replace(tzinfo=now.tzinfo)) + window - now
            current_app.logger.warning("consent rate limit reached for %s", address)
            return max(1, math.ceil(wait.total_seconds()))
        db.session.add(RateLimitHit(scope="consent", address=address, at=now))
        db.session.commit()
    return None


__all__ = ["DEFAULTS", "address_is_known", "client_address", "consent_retry_after"]
