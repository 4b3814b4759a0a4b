"""LAN mode's login: HTTP Basic auth on every route (page, config, API, files, uploads, WebRTC
signalling), checked in one ASGI middleware so no route can be forgotten; failed logins are slowed."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import secrets
import time
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Receive, Scope, Send

REALM = "Local Avatar"
MAX_DELAY_S = 8.0
# Gradio calls this on itself while launching; it only runs the app's startup events.
SELF_CALLS_FROM_LOOPBACK = frozenset({"/gradio_api/startup-events"})
LOOPBACK = frozenset({"127.0.0.1", "::1"})


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    @classmethod
    def parse(cls, text: str) -> Credentials:
        username, sep, password = text.partition(":")
        if not sep or not username or not password:
            raise ValueError("--auth takes USER:PASSWORD, both non-empty")
        return cls(username, password)

    @classmethod
    def generate(cls, username: str = "avatar") -> Credentials:
        return cls(username, secrets.token_urlsafe(12))

    def matches(self, username: str, password: str) -> bool:
        # compare_digest on both, always: no early exit that would time which part was wrong.
        user_ok = hmac.compare_digest(username.encode(), self.username.encode())
        password_ok = hmac.compare_digest(password.encode(), self.password.encode())
        return user_ok and password_ok


@dataclass
class FailedLogins:
    """Per client address: each failure doubles the wait before that address is answered again."""

    failures: dict[str, tuple[int, float]] = field(default_factory=dict)

    def delay_s(self, client: str) -> float:
        count, _ = self.failures.get(client, (0, 0.0))
        return 0.0 if count == 0 else min(MAX_DELAY_S, 0.25 * 2 ** (count - 1))

    def record_failure(self, client: str) -> None:
        count, _ = self.failures.get(client, (0, 0.0))
        self.failures[client] = (count + 1, time.monotonic())

    def record_success(self, client: str) -> None:
        self.failures.pop(client, None)


def _decode_basic(header: bytes) -> tuple[str, str] | None:
    scheme, _, encoded = header.decode("latin-1").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


class BasicAuthMiddleware:
    def __init__(self, app: ASGIApp, credentials: Credentials) -> None:
        self.app = app
        self.credentials = credentials
        self.failed = FailedLogins()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        if client in LOOPBACK and scope.get("path") in SELF_CALLS_FROM_LOOPBACK:
            await self.app(scope, receive, send)
            return
        header = dict(scope.get("headers") or []).get(b"authorization")
        given = _decode_basic(header) if header else None
        if given is not None and self.credentials.matches(*given):
            self.failed.record_success(client)
            await self.app(scope, receive, send)
            return
        if given is not None:
            self.failed.record_failure(client)
        await asyncio.sleep(self.failed.delay_s(client))
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"www-authenticate", f'Basic realm="{REALM}", charset="UTF-8"'.encode()),
                    (b"content-type", b"text/plain; charset=utf-8"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"Log in to use Local Avatar.\n"})
