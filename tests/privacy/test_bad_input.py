"""Hostile input against the running app: oversized uploads and path traversal are refused."""

from __future__ import annotations

import httpx


def test_oversized_upload_is_refused(shared_app):
    app = shared_app
    big = b"\0" * (26 * 1024 * 1024)
    response = httpx.post(app.url + "/gradio_api/upload", files={"files": ("card.png", big, "image/png")}, timeout=60)
    assert response.status_code == 413


def test_file_routes_refuse_paths_outside_the_app(shared_app):
    app = shared_app
    secret = app.data_dir / "avatar.db"
    for path in ("/etc/passwd", str(secret), "../../../../etc/passwd", "%2e%2e/%2e%2e/etc/passwd"):
        response = httpx.get(f"{app.url}/gradio_api/file={path}", timeout=10)
        assert response.status_code in (403, 404), (path, response.status_code)
        assert b"root:" not in response.content and b"SQLite format" not in response.content
