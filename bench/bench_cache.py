"""Prints what a real local model server would charge for each turn of a long conversation with memory on:
prompt tokens, how much of each prompt its KV cache held (prefix reuse), and the time to the first token.

Goals (issue 11): prefix reuse >= 0.90 on average over turns 10-40, for a server with one slot (Ollama's
default) and for a cache per conversation, with memory on and cards being made; time to first token at
turn 40 within 1.2x of turn 5 under both rate sets.

    poetry run python bench/bench_cache.py [--turns 60] [--rates laptop-cpu|apple-m4|both] [--real-time]

The scenario, through the app's own ChatFlow (recall, prompt, stream, save, memory writes, card schedule):
a first conversation where the user tells 15 facts about themselves, then a new conversation of --turns
turns that keeps coming back to them, with two breaks (longer than the card idle time) in which memory
cards are made. The fake server (tests/support) keeps a KV cache per slot, charges prompt evaluation per
uncached token and reports what it found cached; the model answers in 40-60 words.

Time to first token = the app's own time from send to first token (measured; the fake answers at once)
+ what the server would spend loading the model and evaluating the uncached prompt at the rates below
(charged on paper, so a run takes minutes, not the hour it would at CPU rates; --real-time sleeps instead)
+ one generated token + the wait for what the server was still doing when the message arrived: work the
app gave it after the previous reply (warming its cache for a trimmed window) that took longer than the
person's --think-s (reading the reply and typing; 20 s by default). The breaks are long enough for the
cards and the re-warm after them (their server time is printed). Rates, llama.cpp's llama-bench for Llama 3.2 3B Instruct Q4_K_M:
- laptop-cpu: Framework 12, Intel Core i3-1315U, CPU backend, 2 threads: pp512 28.67 t/s, tg128 11.05 t/s
  (geerlingguy/sbc-reviews issue #107, 2026).
- apple-m4: Mac mini M4, llama.cpp Metal: Llama 3.1 8B Q4_K_M pp512 224.81 t/s, tg128 20.87 t/s
  (brand-o/normiebench issue #3, 2026), scaled by parameter count (8.0B / 3.21B) to 3B: 560 / 52 t/s.
  No published Metal figure for the 3B model was found; the scaling is an estimate.
Model load (first request, or a reload) is charged 2 s (CPU) / 1 s (M4): a 1.9 GB file from an SSD.

Before/after: run this script in a checkout of the earlier commit (with this file and tests/support/ copied
in) to get the figures of the old prompt layout.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from avatar.core.settings import Settings
from tests.support.fake_model_server import FakeModelServer
from tests.support.model_costs import Rates

RATES = {
    "laptop-cpu": Rates(prefill_s_per_token=1 / 28.67, decode_s_per_token=1 / 11.05, load_s=2.0),
    "apple-m4": Rates(
        prefill_s_per_token=1 / (224.81 * 8.0 / 3.21), decode_s_per_token=1 / (20.87 * 8.0 / 3.21), load_s=1.0
    ),
}
FACTS = [
    "My name is Ines and I work as a night nurse at the children's hospital.",
    "I have a beagle called Biscuit who is afraid of the vacuum cleaner.",
    "My sister Mia is an airline pilot and lives in Lisbon.",
    "I play the cello in a community orchestra on Thursdays.",
    "I'm learning Japanese because I want to visit Kyoto next spring.",
    "My favourite food is mushroom risotto, I make it every Sunday.",
    "I grow tomatoes and basil on my balcony.",
    "My birthday is on the third of March.",
    "I'm allergic to cats, sadly.",
    "My best friend Tom runs a bakery around the corner.",
    "I ran my first half marathon last October.",
    "My grandmother taught me to knit when I was seven.",
    "I'm saving up for a small electric car.",
    "I hate horror films but love old musicals.",
    "My flat is on the fourth floor and has no lift.",
]
TOPICS = [
    "I had a long night shift, the ward was so busy.",
    "Biscuit hid under the bed again when I cleaned.",
    "Mia sent me a photo from the cockpit today.",
    "Orchestra rehearsal was rough, my cello was out of tune.",
    "I learned twenty new kanji this week!",
    "What should I put in my risotto this Sunday?",
    "The tomatoes finally turned red on the balcony.",
    "Any idea what I could do for my birthday?",
    "Tom gave me a croissant fresh out of the oven.",
    "I'm thinking about running another half marathon.",
    "I started knitting a scarf for my grandmother.",
    "I looked at electric cars at the dealer today.",
    "We watched Singin' in the Rain last night.",
    "Carrying groceries up four floors is a workout.",
    "Do you remember what I told you about my sister?",
]
REPLY_TEXT = (
    "That sounds like quite a day, and I love hearing about it. Tell me more about how it felt, what surprised "
    "you, and what you would do differently next time. I'm always curious about the little details of your "
    "life, and I remember what matters to you, so go on whenever you like."
)
REPLY_WORDS = REPLY_TEXT.split()
CARDS = '{"cards": [{"type": "fact", "text": "The user mentioned something worth remembering.", "scope": "profile"}]}'
SHOWN_TURNS = (1, 5, 10, 20, 40, 60)


@dataclass
class TurnFigures:
    prompt_tokens: int
    cached_tokens: int
    ttft_s: float

    @property
    def reuse(self) -> float:
        return self.cached_tokens / self.prompt_tokens if self.prompt_tokens else 0.0


def reply(turn: int) -> str:
    """A reply of 40-60 words, different each turn (the cache must not match on replies alone)."""
    start = turn % 7
    return " ".join((REPLY_WORDS * 2)[start : start + 40 + turn % 20])


async def first_token_s(flow, persona_id: str, conversation_id: str | None, text: str) -> tuple[str, float]:
    started = time.perf_counter()
    first: float | None = None
    final = None
    async for update in flow.send(persona_id, conversation_id, text):
        if update.reply and first is None:
            first = time.perf_counter() - started
        final = update
    assert final is not None and final.error is None, final and final.error
    return final.conversation_id, first or 0.0


def background_s(uses, rates: Rates) -> float:
    """Server time of requests the app made on its own (cards, warm-ups): evaluation + their output."""
    return sum(u.charged_s + (40 if u.structured else 1) * rates.decode_s_per_token for u in uses)


def run(
    turns: int, rates: Rates, slots: int, real_time: bool, embedder, idle_s: float, think_s: float
) -> list[TurnFigures]:
    from avatar.context import create_context

    server = FakeModelServer(rates=rates, slots=slots, virtual_time=not real_time).start()
    figures: list[TurnFigures] = []
    with tempfile.TemporaryDirectory() as data:
        settings = Settings(data_dir=Path(data), ollama_host=server.url, card_idle_s=idle_s)
        ctx = create_context(settings, embedder=embedder)
        try:
            cards = getattr(ctx, "cards", None)
            if cards is not None:
                cards.start()
            server.script_structured(*[CARDS] * 200)
            first = None
            for index, fact in enumerate(FACTS):
                server.script(reply(index))
                first, _ = asyncio.run(first_token_s(ctx.chat, "aria", first, fact))
            ctx.memory.wait_for_writes(300)
            time.sleep(idle_s + 2.5)  # the person leaves: the first conversation's cards are made
            ctx.memory.wait_for_writes(300)
            conversation = None
            busy_s = 0.0  # server work left over from after the previous reply when the next message comes
            for turn in range(1, turns + 1):
                if turn in (21, 41):  # a break: cards of what was said so far are made, the cache is put back
                    ctx.memory.wait_for_writes(300)
                    mark = len(server.cache_log)
                    time.sleep(idle_s + 2.5)
                    ctx.memory.wait_for_writes(300)
                    spent = background_s(server.cache_log[mark:], rates)
                    print(f"  (break before turn {turn}: {spent:.0f} s of server time for cards and the re-warm)")
                    busy_s = 0.0
                server.script(reply(100 + turn))
                before = len(server.cache_log)
                conversation, measured = asyncio.run(
                    first_token_s(ctx.chat, "aria", conversation, TOPICS[turn % len(TOPICS)] + f" ({turn})")
                )
                use = next(u for u in server.cache_log[before:] if not (u.structured or u.warm_up))
                ttft = busy_s + measured + use.charged_s + rates.decode_s_per_token
                figures.append(TurnFigures(use.prompt_tokens, use.cached_tokens, ttft))
                after = len(server.cache_log)
                ctx.memory.wait_for_writes(300)  # as while the person reads and types
                busy_s = max(0.0, background_s(server.cache_log[after:], rates) - think_s)
        finally:
            ctx.close()
            server.stop()
    return figures


def report(figures: list[TurnFigures]) -> None:
    print("  turn   prompt tokens   cached   evaluated   reuse   time to first token")
    for turn in SHOWN_TURNS:
        if turn <= len(figures):
            f = figures[turn - 1]
            print(
                f"  {turn:4d}   {f.prompt_tokens:13d}   {f.cached_tokens:6d}   {f.prompt_tokens - f.cached_tokens:9d}"
                f"   {f.reuse:5.2f}   {f.ttft_s:8.2f} s"
            )
    window = figures[9:40]
    if window:
        print(f"  mean reuse, turns 10-40: {statistics.mean(f.reuse for f in window):.3f}   (goal >= 0.90)")
    if len(figures) >= 40:
        ratio = figures[39].ttft_s / figures[4].ttft_s
        print(f"  time to first token, turn 40 / turn 5: {ratio:.2f}x   (goal <= 1.2x)")
    worst = max(figures[9:], key=lambda f: f.ttft_s, default=None)
    if worst is not None:
        print(f"  slowest turn after 10: {worst.ttft_s:.2f} s (turn {figures.index(worst) + 1})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=60)
    parser.add_argument("--rates", choices=[*RATES, "both"], default="both")
    parser.add_argument("--real-time", action="store_true", help="sleep the charged time instead of adding it")
    parser.add_argument("--idle-s", type=float, default=2.0, help="card idle time used for the breaks")
    parser.add_argument("--think-s", type=float, default=20.0, help="reading a reply and typing the next message")
    args = parser.parse_args()

    from avatar.memory.embedder import Embedder
    from tests.conftest import packaged_embedding_model_dir

    embedder = Embedder(packaged_embedding_model_dir())
    embedder.load()
    names = list(RATES) if args.rates == "both" else [args.rates]
    for name in names:
        for slots, label in ((1, "one slot (Ollama's default)"), (4, "a cache per conversation (4 slots)")):
            print(f"\n{name}, {label}")
            figures = run(args.turns, RATES[name], slots, args.real_time, embedder, args.idle_s, args.think_s)
            report(figures)


if __name__ == "__main__":
    main()
