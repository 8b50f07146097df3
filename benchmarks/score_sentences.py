"""Scores the request phrases on short messages nobody here wrote (fixtures/blind-sentences):
900 one-to-three-sentence bodies in 15 languages, labelled inspection, correction, deletion or
other by a helper who had read neither the rules nor the fixtures.

    .venv/bin/python -m benchmarks.score_sentences            # dev part: scores and misses
    .venv/bin/python -m benchmarks.score_sentences --holdout  # held-out part: scores only

Each body is sent as a mail without a subject. A message is handled right when the worker
would act alone with the labelled category, wrong when it would act alone otherwise, and
reviewed when a person looks. The held-out quarter is never read item by item while tuning.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "fixtures" / "blind-sentences"


def as_mail(text: str) -> bytes:
    message = EmailMessage()
    message["From"] = "Writer <writer@example.org>"
    message["To"] = "privacy@carerix.com"
    message["Subject"] = ""
    message["Message-ID"] = "<sentence@example.org>"
    message.set_content(text)
    return message.as_bytes()


def score(part: str) -> tuple[dict[str, object], list[str]]:
    from worker.judge.classify import Classifier
    from worker.judge.rules import load_rules
    from worker.judge.tenants import load_registry

    rules = load_rules(ROOT / "rules")
    classifier = Classifier(
        rules, load_registry(ROOT / "fixtures" / "tenants.yaml"), "privacy@carerix.com", scan=False
    )
    count: Counter[str] = Counter()
    misses: list[str] = []
    for line in (BASE / f"{part}.jsonl").read_text().splitlines():
        item = json.loads(line)
        got = classifier.classify(as_mail(item["text"]))
        if got.needs_review or got.auto_generated:
            outcome = "reviewed"
        else:
            outcome = "right" if got.category == item["label"] else "wrong"
        count[outcome] += 1
        count[f"{item['label']} {outcome}"] += 1
        if outcome == "wrong":
            misses.append(
                f"{item['id']} {item['lang']} {item['label']} -> {got.category}: "
                f"{item['text'][:120]}"
            )
    alone = count["right"] + count["wrong"]
    total = alone + count["reviewed"]
    summary: dict[str, object] = {
        "messages": total,
        "right_alone": count["right"],
        "wrong_alone": count["wrong"],
        "wrong_share_of_alone": round(count["wrong"] / max(alone, 1), 3),
        "reviewed": round(count["reviewed"] / max(total, 1), 3),
        "per_label": {k: v for k, v in sorted(count.items()) if " " in k},
    }
    return summary, misses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--holdout", action="store_true", help="the held-out part: summary only")
    args = parser.parse_args()
    summary, misses = score("holdout" if args.holdout else "dev")
    if not args.holdout:
        print("\n".join(misses))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
