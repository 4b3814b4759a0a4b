"""Keep the page local: strip the remote script, font preconnects and remote preview images that
Gradio's page template carries, so opening the app makes the browser contact nothing but this machine."""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Tags in Gradio's index.html that point off the machine: the iframe-resizer script from a CDN,
# <link rel="preconnect"> to a web-font service, and og:/twitter: preview images on remote hosts.
_REMOTE_TAGS = [
    re.compile(rb"<script[^>]*\ssrc=\"https?://[^\"]*\"[^>]*>\s*</script>", re.IGNORECASE | re.DOTALL),
    re.compile(rb"<link[^>]*\shref=\"https?://[^\"]*\"[^>]*/?>", re.IGNORECASE | re.DOTALL),
    re.compile(rb"<meta[^>]*\scontent=\"https?://[^\"]*\"[^>]*/?>", re.IGNORECASE | re.DOTALL),
]


def strip_remote_tags(html: bytes) -> bytes:
    for pattern in _REMOTE_TAGS:
        html = pattern.sub(b"", html)
    return html


class NoRemoteAssetsMiddleware:
    """ASGI middleware: rewrites HTML responses; every other response passes through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        start: Message | None = None
        body = bytearray()

        async def send_wrapper(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers", []))
                if headers.get(b"content-type", b"").startswith(b"text/html"):
                    start = message  # hold it: the length changes once the body is rewritten
                    return
                await send(message)
            elif message["type"] == "http.response.body" and start is not None:
                body.extend(message.get("body", b""))
                if message.get("more_body", False):
                    return
                cleaned = strip_remote_tags(bytes(body))
                headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
                headers.append((b"content-length", str(len(cleaned)).encode()))
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": cleaned, "more_body": False})
            else:
                await send(message)

        await self.app(scope, receive, send_wrapper)
