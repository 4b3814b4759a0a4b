"""`--lan` without a chosen login prints a generated one; a bad --auth is one clear line. (A LAN app's HTTPS,
its login on every route, a chat and a call through it: tests/e2e/test_lan_browser.py, which shares one.)"""

from __future__ import annotations


def test_lan_mode_prints_a_generated_password_and_the_fingerprint(launch_app):
    app = launch_app("--lan")
    output = app.stop()
    assert "login: avatar / " in output and "fingerprint (SHA-256)" in output and "https://" in output


def test_bad_auth_is_a_clear_error(tmp_path):
    import app as app_module

    assert app_module.main(["--lan", "--auth", "nopassword", "--data-dir", str(tmp_path)]) == 2
