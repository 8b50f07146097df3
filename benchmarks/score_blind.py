"""Scores the classifier on the blind corpora (fixtures/blind-a to -g): mails written
and labelled by helpers who had read neither the rules nor the fixtures.

    .venv/bin/python -m benchmarks.score_blind            # dev parts: scores and every miss
    .venv/bin/python -m benchmarks.score_blind --holdout  # held-out parts: scores only

The held-out quarter is never looked at mail by mail while rules are tuned: only its summary
is printed. Besides macro-F1 it counts what the issue calls harm: a wrong automatic action is
one the worker would take alone (no review, not machine mail) that differs from what the
label calls for: an acknowledgement for an agency's data, silence on a request, an
acknowledgement of the wrong kind, or a forward to the wrong agency (a misroute).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ("blind-a", "blind-b", "blind-c", "blind-d", "blind-e", "blind-f", "blind-g")
CLASSES = ("inspection", "correction", "deletion", "processor_routed", "other")
REQUESTS = ("inspection", "correction", "deletion")


def due(label: dict[str, Any]) -> str:
    """What the label calls for, named as `classify`'s action names it."""
    category, tenant = label["category"], label["tenant"]
    if category == "processor_routed":
        return f"forward:{tenant}" if tenant else "review"
    return f"ack-{category}" if category in REQUESTS else "none"


def macro_f1(pairs: list[tuple[str, str]]) -> float:
    scores = []
    for cls in CLASSES:
        tp = sum(1 for g, p in pairs if g == p == cls)
        fp = sum(1 for g, p in pairs if g != cls and p == cls)
        fn = sum(1 for g, p in pairs if g == cls and p != cls)
        if tp + fp + fn:
            scores.append(2 * tp / (2 * tp + fp + fn))
    return sum(scores) / len(scores)


def score(part: str, corpora: tuple[str, ...] = CORPORA) -> tuple[dict[str, Any], list[str]]:
    from worker.judge.classify import Classifier
    from worker.judge.rules import load_rules
    from worker.judge.tenants import load_registry
    from worker.reply.respond import action, first_reply

    rules = load_rules(ROOT / "rules")
    pairs: list[tuple[str, str]] = []
    count: Counter[str] = Counter()
    misses: list[str] = []
    for corpus in corpora:
        base = ROOT / "fixtures" / corpus
        registry = load_registry(base / "tenants.yaml")
        tenants = {t.id for t in registry.tenants}
        classifier = Classifier(rules, registry, "privacy@carerix.com", scan=False)
        for line in (base / part / "labels.jsonl").read_text().splitlines():
            label = json.loads(line)
            got = classifier.classify((base / part / label["file"]).read_bytes())
            pairs.append((label["category"], got.category))
            count["mails"] += 1
            count["language right"] += got.language == label["language"]
            count["auto right"] += got.auto_generated == label["auto_generated"]
            routed = label["category"] == "processor_routed" and label["tenant"]
            count["agency mails"] += bool(routed)
            count["agency right"] += bool(routed) and got.tenant == label["tenant"]
            if label["auto_generated"]:
                continue
            count["human"] += 1
            if got.needs_review:
                count["human reviewed"] += 1
                continue
            if got.auto_generated:
                continue
            count["human alone"] += 1
            # What the service would send (receipts left out: they promise nothing).
            did = action(first_reply(got, tenants, receipt_for=()), got.tenant)
            if did != due(label):
                count["wrong action"] += 1
                count["misroute"] += did.startswith("forward:")
                misses.append(f"{corpus}/{label['file']}: did {did}, due {due(label)}")
    summary = {
        "mails": count["mails"],
        "macro_f1": round(macro_f1(pairs), 3),
        "wrong_automatic_actions": count["wrong action"],
        "misroutes": count["misroute"],
        "handled_alone": f"{count['human alone']} of {count['human']}",
        "review_rate_human": round(count["human reviewed"] / count["human"], 3),
        "tenant_recall": round(count["agency right"] / count["agency mails"], 3),
        "auto_generated": round(count["auto right"] / count["mails"], 3),
        "language": round(count["language right"] / count["mails"], 3),
    }
    wrong = [f"{c}: {g} -> {p}" for (g, p), c in Counter(pairs).items() if g != p]
    return summary, sorted(misses) + sorted(wrong)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--holdout", action="store_true", help="the held-out parts: summary only")
    parser.add_argument("--corpus", action="append", choices=CORPORA, help="only these corpora")
    args = parser.parse_args()
    corpora = tuple(args.corpus or CORPORA)
    summary, details = score("holdout" if args.holdout else "dev", corpora)
    if not args.holdout:
        print("\n".join(details))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
