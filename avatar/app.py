"""build_app(): the Gradio Blocks with its tabs. Only light imports here: the first page must not wait
for torch, sentence-transformers, whisper or piper."""

from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
import threading
import time

import gradio as gr
from starlette.middleware import Middleware

from avatar.chat.api import register_api
from avatar.context import AppContext, create_context
from avatar.conversations.ui import ChatTab
from avatar.core import scratch
from avatar.core.settings import Settings
from avatar.expressions.ui import FACE_CSS
from avatar.memory.ui import MemoryTab
from avatar.personas.ui import PersonasTab
from avatar.privacy.auth import BasicAuthMiddleware
from avatar.privacy.lan import LanSetup
from avatar.privacy.no_remote_assets import NoRemoteAssetsMiddleware
from avatar.privacy.ui import PrivacyTab
from avatar.scenes.chat_view import SCENE_CSS
from avatar.theme import CSS, make_theme
from avatar.voice.call_screen import CALL_CSS, CALL_JS
from avatar.voice.ui import VoiceTab

log = logging.getLogger(__name__)


def build_app(settings: Settings, ctx: AppContext | None = None) -> gr.Blocks:
    scratch.use_data_dir(settings.data_dir)  # before any Blocks: Gradio's cache goes there too
    ctx = ctx or create_context(settings)
    with gr.Blocks(
        title="Local Avatar",
        theme=make_theme(),
        css=CSS + FACE_CSS + SCENE_CSS + CALL_CSS,
        js=CALL_JS,
        analytics_enabled=False,
    ) as demo:
        gr.Markdown("## Local Avatar\nYour characters, on your computer. Nothing you say leaves this machine.")
        chat_tab = ChatTab(ctx)
        personas_tab = PersonasTab(ctx)
        voice_tab = VoiceTab(ctx, chat_tab)
        with gr.Tabs():
            chat_tab.build()
            voice_tab.build()  # after the Chat tab: it shares its character picker and conversation
            personas_tab.build()
            MemoryTab(ctx, chat_tab).build()  # its "What did you remember?" follows the Chat tab's conversation
            PrivacyTab(ctx).build(chat_tab.components["persona_picker"])
        chat_tab.wire_load(demo)
        personas_tab.wire_load(demo)
        personas_tab.wire_persona_refresh(chat_tab.components["persona_picker"])
        chat_tab.scenes.follow_personas(personas_tab.revision)
        # Your name can be given in the Chat tab (first run) or under About you: each refreshes the other.
        for name_saved in chat_tab.components["name_saved"]:
            personas_tab.profile_section.reload_after(name_saved)
        personas_tab.profile_section.saved.then(
            chat_tab.name_prompt, None, [chat_tab.components["name_row"]], show_progress="hidden", api_name=False
        )
        register_api(ctx)
    demo.avatar_context = ctx  # type: ignore[attr-defined]  (tests and benchmarks reach the services)
    return demo


# Gradio's queue polls for work every 50 ms when idle, which adds ~25 ms on average to every event
# (every chat turn). Polling every 5 ms costs nothing measurable and takes that off each turn.
QUEUE_POLL_S = 0.005
MAX_UPLOAD_BYTES = 25 * 1024 * 1024  # a character card or an avatar picture; nothing bigger is needed
SHUTDOWN_GRACE_S = 1.0  # how long a stop waits for open requests (a tab's event stream never ends by itself)


def launch(
    demo: gr.Blocks, settings: Settings, lan: LanSetup | None = None, *, prevent_thread_lock: bool = False
) -> None:
    """Serve the app, then warm the heavy models up; unless prevent_thread_lock, until Ctrl+C or SIGTERM."""
    stops_here = not prevent_thread_lock
    if stops_here:
        stop_on_sigterm()  # from the start: a stop while the first page is served still closes cleanly
    context: AppContext | None = getattr(demo, "avatar_context", None)
    try:
        serve(demo, settings, lan)
        if context is not None:
            context.warm_up()
        if stops_here:
            wait_for_stop()
    except KeyboardInterrupt:
        if not stops_here:
            raise
        print("Stopping Local Avatar...", flush=True)
    finally:
        if stops_here:
            # Gradio's own block_thread() closes only the server, which then waits for the tabs' event
            # streams; close() stops the queue and the heartbeats first.
            demo.close(verbose=False)
            if context is not None:
                # The memory write under way finishes (the rest at the next start); a model still loading does not.
                context.close(wait_for_warm_up=False)
                leave_while_models_load(context)


def leave_while_models_load(context: AppContext) -> None:
    """End the process now if the embedding model is still loading (or embedding); everything is saved and closed.

    A stop in the first seconds after a start waited for the load to finish (10-20 s on a 2-core machine, up to 30):
    a thread still inside torch when the interpreter tears down aborts the process ("terminate called without an
    active exception", exit -6). So the app leaves without that teardown: its exit handlers run (the run's scratch
    folder goes, the logs are flushed), the database is closed, and the process ends with 0."""
    if not context.memory.embedder.busy:
        return
    context.engine.dispose()  # SQLite's connections closed as at a normal exit (its write-ahead log folded in)
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def serve(demo: gr.Blocks, settings: Settings, lan: LanSetup | None) -> None:
    """Start serving (in the background) on the configured address; in LAN mode with TLS and the login."""
    demo.queue(default_concurrency_limit=8)
    queue = getattr(demo, "_queue", None)
    if queue is not None and hasattr(queue, "sleep_when_free"):
        queue.sleep_when_free = QUEUE_POLL_S
    # The first middleware is the outermost: in LAN mode nothing is answered before the login.
    middleware = [Middleware(NoRemoteAssetsMiddleware)]
    tls: dict = {}
    if lan is not None:
        middleware.insert(0, Middleware(BasicAuthMiddleware, credentials=lan.credentials))
        tls = {
            "ssl_certfile": str(lan.certificate.cert_path),
            "ssl_keyfile": str(lan.certificate.key_path),
            "ssl_verify": False,  # Gradio checks its own URL at startup; the certificate is self-signed
        }
    demo.launch(
        prevent_thread_lock=True,  # serve first, then warm the heavy models up: the page never waits
        server_name=settings.bind_host,
        server_port=settings.port,
        share=False,
        inbrowser=False,
        show_api=True,
        ssr_mode=False,
        quiet=True,
        max_file_size=MAX_UPLOAD_BYTES,  # larger uploads are refused before they reach a handler
        app_kwargs={"middleware": middleware},
        **tls,
    )
    server = getattr(demo, "server", None)
    if server is not None:
        # An open browser tab keeps Gradio's event stream open: at a stop uvicorn would wait for it until
        # Gradio gives up on the server thread (5 s). Whatever a request was doing is saved as it goes.
        server.config.timeout_graceful_shutdown = SHUTDOWN_GRACE_S


def wait_for_stop() -> None:
    """Until Ctrl+C (or SIGTERM, see stop_on_sigterm): KeyboardInterrupt."""
    while True:
        time.sleep(0.1)


def stop_on_sigterm() -> None:
    """`kill` or a service manager stops the app the way Ctrl+C does.

    Python's default SIGTERM ends the process at once: pending memory writes were lost and the run's
    scratch folder (exports, Gradio's cached files) was left behind. Gradio's block_thread closes the
    server on KeyboardInterrupt, then launch() closes the context and atexit removes the folder.
    """

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)
