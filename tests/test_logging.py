"""Message text stays out of the logs unless the user opts in with --log-prompts."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from avatar.core import logging as avatar_logging

SECRET = "my secret diary entry about Bob"


@pytest.fixture
def restore_log_prompts():
    yield
    avatar_logging.configure_logging(log_prompts=False)


@pytest.mark.parametrize("opt_in", [False, True])
def test_turn_logs_text_only_with_opt_in(ctx, caplog, opt_in, restore_log_prompts):
    avatar_logging.configure_logging(log_prompts=opt_in)
    with caplog.at_level(logging.DEBUG):
        asyncio.run(_turn(ctx))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "turn: conversation=" in logged
    assert (SECRET in logged) is opt_in


async def _turn(ctx):
    async for _ in ctx.chat.send("aria", None, SECRET):
        pass


def test_launched_app_logs_no_message_text(shared_app, shared_ollama):
    from gradio_client import Client

    before = len(shared_app.lines)
    list(Client(shared_app.url, verbose=False).submit(SECRET, "aria", "", api_name="/chat"))
    deadline = time.monotonic() + 10
    while "turn: conversation=" not in "".join(shared_app.lines[before:]):  # (its log, as it comes)
        assert time.monotonic() < deadline, shared_app.output
        time.sleep(0.05)
    assert SECRET not in shared_app.output  # (nor anywhere else in what the app has printed)
