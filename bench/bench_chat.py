"""Prints the app's own overhead per text turn (model excluded) and the cold start to the first page.

Goals (issue 2): per-turn overhead p50 < 30 ms; cold start to first page < 8 s on a 2-core machine.

    poetry run python bench/bench_chat.py [--turns 50]

Overhead is measured against the fake Ollama server with zero token delay, in one process so one
clock serves all, with the tests' packaged embedding model loaded before timing (each turn recalls
memories with it, as the app does once its background warm-up is done). The memory writes a turn
starts in the background finish before the next turn, as they do while a person reads and types
(--back-to-back: no pause, so they compete with the next turn).

"submit -> request at model": from the call (or the POST to Gradio's queue, as the browser does) until
the fake server receives /api/chat. "last token -> saved": from the server sending its final chunk
until the turn reports the reply committed (in-process) or the client receives it (through Gradio,
whose event stream checks for news every 50 ms: ~25 ms of that path is Gradio's own polling).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx

from avatar.core.settings import Settings
from tests.conftest import free_port
from tests.support.fake_model_server import FakeModelServer

REPLY = "Sure! Here is a reply of a typical length, about twenty words, streamed one word at a time to you."


def percentiles(samples_s: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples_s)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"p50 {statistics.median(ms):6.1f} ms   p95 {p95:6.1f} ms   (n={len(ms)})"


def event_time(server: FakeModelServer, name: str, nth: int) -> float:
    return [t for n, t in server.events if n == name][nth]


def bench_flow(turns: int, embedder, back_to_back: bool) -> None:
    from avatar.context import create_context

    server = FakeModelServer(default_reply=REPLY).start()
    with tempfile.TemporaryDirectory() as data:
        ctx = create_context(Settings(data_dir=Path(data), ollama_host=server.url), embedder=embedder)
        conversation_id = ctx.chat.start_conversation("aria")
        to_model, to_saved = [], []

        async def one_turn(i: int) -> None:
            start = time.perf_counter()
            async for update in ctx.chat.send("aria", conversation_id, f"message {i}"):
                if update.done:
                    saved_at = time.perf_counter()
            to_model.append(server.chat_requests()[-1].at - start)
            to_saved.append(saved_at - event_time(server, "chat_finished", i))

        async def run() -> None:
            for i in range(turns):
                await one_turn(i)
                if not back_to_back:
                    await asyncio.to_thread(ctx.memory.wait_for_writes, 30)

        asyncio.run(run())
        ctx.close()  # background memory writes finish while the model server is still there
    server.stop()
    print(f"in-process turn   submit -> request at model: {percentiles(to_model)}")
    print(f"in-process turn   last token -> reply saved:  {percentiles(to_saved)}")


def bench_gradio(turns: int, embedder, back_to_back: bool) -> None:
    """The browser's path: POST /queue/join, results over the /queue/data event stream."""
    import json
    import uuid

    from avatar.app import build_app, launch
    from avatar.context import create_context

    server = FakeModelServer(default_reply=REPLY).start()
    with tempfile.TemporaryDirectory() as data:
        settings = Settings(data_dir=Path(data), ollama_host=server.url, port=free_port())
        demo = build_app(settings, create_context(settings, embedder=embedder))
        launch(demo, settings, prevent_thread_lock=True)
        base = f"http://127.0.0.1:{settings.port}/gradio_api"
        config = httpx.get(f"http://127.0.0.1:{settings.port}/config").json()
        fn_index = next(i for i, d in enumerate(config["dependencies"]) if d.get("api_name") == "chat")
        conversation_id = ""
        to_model, to_client = [], []
        with httpx.Client(timeout=30) as http:
            for i in range(turns):
                session = uuid.uuid4().hex
                start = time.perf_counter()
                http.post(
                    f"{base}/queue/join",
                    json={
                        "data": [f"message {i}", "aria", conversation_id],
                        "fn_index": fn_index,
                        "session_hash": session,
                        "event_data": None,
                        "trigger_id": None,
                    },
                )
                with http.stream("GET", f"{base}/queue/data", params={"session_hash": session}) as events:
                    for line in events.iter_lines():
                        if not line.startswith("data:"):
                            continue
                        message = json.loads(line[5:])
                        if message.get("msg") == "process_completed":
                            received = time.perf_counter()
                            conversation_id = message["output"]["data"][0]["conversation_id"]
                            break
                to_model.append(server.chat_requests()[-1].at - start)
                to_client.append(received - event_time(server, "chat_finished", i))
                if not back_to_back:
                    demo.avatar_context.memory.wait_for_writes(30)
        demo.close()
        demo.avatar_context.close()
    server.stop()
    print(f"via Gradio queue  submit -> request at model: {percentiles(to_model)}")
    print(f"via Gradio queue  last token -> client has it: {percentiles(to_client)}")


def bench_cold_start(runs: int) -> None:
    samples = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as data:
            port = free_port()
            start = time.perf_counter()
            process = subprocess.Popen(
                [sys.executable, str(ROOT / "app.py"), "--port", str(port), "--data-dir", data],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            while True:
                if process.poll() is not None:
                    raise SystemExit(f"app.py exited with code {process.returncode} before serving its page")
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.05)
            samples.append(time.perf_counter() - start)
            process.terminate()
            process.wait()
    print("cold start to first page: " + "  ".join(f"{s:.2f} s" for s in samples))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=50, help="chat turns per measurement (50)")
    parser.add_argument("--starts", type=int, default=3, help="cold starts of python app.py (3)")
    parser.add_argument(
        "--back-to-back", action="store_true", help="send each turn at once, while the last one's memory writes run"
    )
    args = parser.parse_args()
    from bench.bench_voice import loaded_embedder

    embedder = loaded_embedder()
    bench_flow(args.turns, embedder, args.back_to_back)
    bench_gradio(args.turns, embedder, args.back_to_back)
    bench_cold_start(args.starts)


if __name__ == "__main__":
    main()
