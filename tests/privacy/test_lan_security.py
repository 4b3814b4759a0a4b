"""LAN mode's building blocks: a reusable self-signed certificate and a login on every route."""

from __future__ import annotations

import asyncio
import base64

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from avatar.privacy.auth import BasicAuthMiddleware, Credentials, FailedLogins
from avatar.privacy.tls import ensure_certificate


def test_certificate_is_made_once_and_reused(tmp_path):
    first = ensure_certificate(tmp_path / "tls")
    second = ensure_certificate(tmp_path / "tls")
    assert first == second
    assert len(first.fingerprint_sha256.split(":")) == 32
    assert (first.key_path.stat().st_mode & 0o777) == 0o600
    assert b"BEGIN CERTIFICATE" in first.cert_path.read_bytes()


def test_credentials_parsing():
    assert Credentials.parse("me:s3cret:with:colons") == Credentials("me", "s3cret:with:colons")
    with pytest.raises(ValueError):
        Credentials.parse("nopassword")
    generated = Credentials.generate()
    assert len(generated.password) >= 16 and generated.matches("avatar", generated.password)


def _app() -> BasicAuthMiddleware:
    async def page(_request):
        return PlainTextResponse("secret page")

    routes = [
        Route(path, page, methods=["GET", "POST"])
        for path in ("/", "/config", "/gradio_api/queue/join", "/gradio_api/file=x", "/webrtc/offer")
    ]
    return BasicAuthMiddleware(Starlette(routes=routes), Credentials("me", "pw"))


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.mark.parametrize("path", ["/", "/config", "/gradio_api/queue/join", "/gradio_api/file=x", "/webrtc/offer"])
def test_every_route_needs_the_login(path):
    async def run():
        transport = httpx.ASGITransport(app=_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://lan") as client:
            anonymous = await client.post(path)
            wrong = await client.post(path, headers=_basic("me", "nope"))
            right = await client.post(path, headers=_basic("me", "pw"))
        return anonymous, wrong, right

    anonymous, wrong, right = asyncio.run(run())
    assert anonymous.status_code == 401 and "Basic" in anonymous.headers["www-authenticate"]
    assert wrong.status_code == 401
    assert right.status_code == 200 and right.text == "secret page"


def test_repeated_failures_are_slowed_and_success_resets():
    failed = FailedLogins()
    delays = []
    for _ in range(8):
        failed.record_failure("10.0.0.9")
        delays.append(failed.delay_s("10.0.0.9"))
    assert delays == sorted(delays) and delays[-1] == 8.0 and delays[0] > 0
    assert failed.delay_s("10.0.0.10") == 0.0
    failed.record_success("10.0.0.9")
    assert failed.delay_s("10.0.0.9") == 0.0
