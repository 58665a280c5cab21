"""The admin's signed session cookie, read only when the request carries one.

Flask builds a signing serializer for every request before it looks for the cookie; participants and
their answers never carry the admin cookie, so skipping that work keeps it off the answer-saving path.
"""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface


class LazyCookieSessionInterface(SecureCookieSessionInterface):
    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)
