"""Temporary copies of the user's data (uploads, exports, Gradio's cache) stay in the data directory and go away.

Before, every export zip (all conversations) and every file Gradio served stayed in the system temp
folder after the app stopped.
"""

from __future__ import annotations

import signal
from pathlib import Path

import httpx

from avatar.privacy.ui import PrivacyTab
from tests.privacy.test_privacy_ui import chat


def run_folders(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "tmp").glob("run-*"))


def upload_card(url: str) -> Path:
    """What the Personas tab's card drop does first: the file goes into Gradio's cache."""
    response = httpx.post(
        url + "/gradio_api/upload", files={"files": ("my-card.json", b'{"name": "Secret"}', "application/json")}
    )
    response.raise_for_status()
    return Path(response.json()[0])


def test_uploads_stay_in_the_data_dir_and_go_when_the_app_stops_or_at_the_next_start(launch_app, tmp_path):
    """(One scenario with two apps: starting one takes 8-10 s.)"""
    system_temp = tmp_path / "system-temp"
    system_temp.mkdir()
    data_dir = tmp_path / "data"
    first = launch_app(env={"TMPDIR": str(system_temp)})
    uploaded = upload_card(first.url)
    [first_run] = run_folders(data_dir)
    assert uploaded.is_relative_to(first_run) and uploaded.read_bytes() == b'{"name": "Secret"}'
    assert (first_run.stat().st_mode & 0o077) == 0  # private to the user

    # A killed run's folder is swept by the next start, but not a running app's.
    killed_run = data_dir / "tmp" / "run-killed"
    killed_run.mkdir()
    (killed_run / ".running").touch()  # its lock died with its process
    (killed_run / "local-avatar-export.zip").write_bytes(b"every conversation")
    launch_app()  # a second app on the same data directory
    assert not killed_run.exists()
    assert first_run in run_folders(data_dir) and len(run_folders(data_dir)) == 2
    assert upload_card(first.url).is_relative_to(first_run)  # the first app still works

    first.process.send_signal(signal.SIGTERM)  # what `kill` and service managers send
    assert first.process.wait(timeout=30) == 0, first.output
    assert first_run not in run_folders(data_dir) and not uploaded.exists()
    assert list(system_temp.iterdir()) == []  # nothing left in the system temp folder either


def test_erasing_everything_removes_earlier_exports(ctx, fake_ollama):
    tab = PrivacyTab(ctx)
    chat(ctx, "aria", "my secret is 42")
    archive = Path(tab.export_all()[0]["value"])
    assert archive.is_file()
    tab.erase("everything", None)
    assert not archive.exists()
