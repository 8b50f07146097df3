"""Scores classify decisions against labels: accuracy and per-class precision and recall."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from worker.judge.classify import Classifier, decision_json


@dataclass
class Score:
    """Counts of one labelled field over a corpus."""

    right: int = 0
    total: int = 0
    misses: list[str] = field(default_factory=list)
    pairs: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, file: str, expected: object, got: object) -> None:
        self.total += 1
        self.pairs[(str(expected), str(got))] += 1
        if expected == got:
            self.right += 1
        else:
            self.misses.append(f"{file}: expected {expected}, got {got}")

    @property
    def accuracy(self) -> float:
        return self.right / self.total if self.total else 1.0

    def per_class(self) -> dict[str, tuple[float, float]]:
        """Precision and recall per expected value."""
        classes = {e for e, _ in self.pairs} | {g for _, g in self.pairs}
        result = {}
        for c in sorted(classes):
            tp = self.pairs[(c, c)]
            predicted = sum(n for (_, g), n in self.pairs.items() if g == c)
            actual = sum(n for (e, _), n in self.pairs.items() if e == c)
            result[c] = (tp / predicted if predicted else 1.0, tp / actual if actual else 1.0)
        return result


def load_labels(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def evaluate(
    classifier: Classifier, base: Path, labels: list[dict[str, Any]], keys: tuple[str, ...]
) -> dict[str, Score]:
    """Classifies every labelled file and scores each key that its label has."""
    scores = {key: Score() for key in keys}
    for label in labels:
        decision = decision_json(
            classifier.classify((base / label["file"]).read_bytes()), label["file"]
        )
        for key in keys:
            # A null tenant is an answer ("none fits"); a null review flag means "either is fine".
            if key in label and (label[key] is not None or key == "tenant"):
                expected = label[key]
                got = decision[key]
                if key == "intents":
                    expected, got = True, set(expected) <= set(got)
                scores[key].add(label["file"], expected, got)
    return scores


def report(scores: dict[str, Score]) -> str:
    lines = []
    for key, score in scores.items():
        lines.append(f"{key}: {score.right}/{score.total} = {score.accuracy:.3f}")
        if key == "category":
            for c, (p, r) in score.per_class().items():
                lines.append(f"  {c}: precision {p:.2f} recall {r:.2f}")
        lines.extend(f"  miss {m}" for m in score.misses)
    return "\n".join(lines)
