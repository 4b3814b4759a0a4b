"""`--lan`: HTTPS with a self-signed certificate, and nothing answers without the login."""

from __future__ import annotations

import base64

import httpx
import pytest

PROTECTED = [
    ("GET", "/"),
    ("GET", "/config"),
    ("GET", "/gradio_api/info"),
    ("POST", "/gradio_api/queue/join"),
    ("GET", "/gradio_api/queue/data?session_hash=x"),
    ("POST", "/gradio_api/upload"),
    ("GET", "/gradio_api/file=/etc/hostname"),
    ("POST", "/gradio_api/component_server"),  # the Voice tab's WebRTC signalling goes through here
    ("POST", "/gradio_api/run/chat"),
    ("GET", "/theme.css"),
]


@pytest.fixture
def lan_app(launch_app, tmp_path):
    app = launch_app("--lan", "--auth", "sam:kite-flying-42")
    yield app
    output = app.stop()
    assert "kite-flying-42" not in output  # a chosen password is never printed


def test_lan_mode_serves_https_and_every_route_needs_the_login(lan_app):
    assert lan_app.url.startswith("https://")
    with httpx.Client(verify=False, timeout=10) as client:
        for method, path in PROTECTED:
            response = client.request(method, lan_app.url + path)
            assert response.status_code == 401, (method, path, response.status_code)
        page = client.get(lan_app.url + "/", auth=("sam", "kite-flying-42"))
        assert page.status_code == 200 and "Local Avatar" in page.text
        assert client.get(lan_app.url + "/config", auth=("sam", "wrong")).status_code == 401


def test_lan_mode_chat_works_with_the_login(lan_app, fake_ollama):
    from gradio_client import Client

    fake_ollama.script("Hello from across the network.")
    # HTTP Basic: scripts send the header themselves (gradio_client's auth= is Gradio's own login form).
    login = "Basic " + base64.b64encode(b"sam:kite-flying-42").decode()
    client = Client(lan_app.url, headers={"Authorization": login}, ssl_verify=False, verbose=False)
    final = list(client.submit("hi", "aria", "", api_name="/chat"))[-1]
    assert final["reply"] == "Hello from across the network."


def test_lan_mode_prints_a_generated_password_and_the_fingerprint(launch_app):
    app = launch_app("--lan")
    output = app.stop()
    assert "login: avatar / " in output and "fingerprint (SHA-256)" in output and "https://" in output


def test_bad_auth_is_a_clear_error(tmp_path):
    import app as app_module

    assert app_module.main(["--lan", "--auth", "nopassword", "--data-dir", str(tmp_path)]) == 2
