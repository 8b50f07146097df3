"""Scores `privacy-worker scan` on a labelled set of ID copies, as issue 14 measures it.

    .venv/bin/python -m benchmarks.score_ids DIR [--jobs 2]       # scans DIR, then scores
    .venv/bin/python -m benchmarks.score_ids DIR --scanned FILE   # scores earlier scan output

DIR holds the files and a labels.jsonl with, per file, `is_id_document` and `visible`
({"bsn": bool, "mrz": bool, "document_number": bool, "photo": bool}), as the blind generator
writes them. Printed: unredacted copies caught, false alarms on properly redacted copies,
`is_id_document` right, and per field recall and precision.

The generator counts a document number as visible when it can be read in the MRZ alone;
`../shared/real-world` counts only the number printed outside the MRZ ("the MRZ always encodes
one too"), as the scanner does. `document_number_printed_*` scores the latter, from the labels'
`occurrences`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIELDS = ("bsn", "mrz", "document_number", "photo")
PRINTED = "document_number_printed"
KINDS = (*FIELDS, PRINTED)
COMMAND = [str(ROOT / ".venv" / "bin" / "privacy-worker"), "scan", "--json"]


def _printed_number(label: dict[str, Any]) -> bool:
    return any(
        o["field"] == "document_number" and o["source"] == "printed" and o["state"] != "hidden"
        for o in label.get("occurrences", [])
    )


def scan(directory: Path, names: list[str], jobs: int) -> dict[str, dict[str, Any]]:
    """Each file's `scan --json` line, by file name; `jobs` commands side by side."""
    chunks = [names[i::jobs] for i in range(jobs)]
    env = os.environ | {"OMP_THREAD_LIMIT": "1"}

    def run(chunk: list[str]) -> list[str]:
        if not chunk:
            return []
        done = subprocess.run(
            [*COMMAND, *chunk], cwd=directory, env=env, capture_output=True, text=True
        )
        return done.stdout.splitlines()

    with ThreadPoolExecutor(jobs) as pool:
        lines = [line for chunk in pool.map(run, chunks) for line in chunk]
    return {Path(json.loads(line)["file"]).name: json.loads(line) for line in lines}


def score(labels: list[dict[str, Any]], found: dict[str, dict[str, Any]]) -> dict[str, Any]:
    counts: dict[str, int] = dict.fromkeys(
        ["unredacted", "caught", "redacted", "false_alarm", "id_right", "missing"], 0
    )
    field: dict[str, dict[str, int]] = {f: {"tp": 0, "fp": 0, "fn": 0} for f in KINDS}
    for label in labels:
        got = found.get(label["file"])
        if got is None:
            counts["missing"] += 1
            continue
        flagged = set(got.get("unredacted", []))
        visible = {f for f in FIELDS if label["visible"].get(f)}
        if _printed_number(label):
            visible.add(PRINTED)
        if "document_number" in flagged:
            flagged.add(PRINTED)
        counts["id_right"] += bool(got.get("is_id_document")) == label["is_id_document"]
        if label["is_id_document"] and visible:
            counts["unredacted"] += 1
            counts["caught"] += bool(flagged)
        elif label["is_id_document"]:
            counts["redacted"] += 1
            counts["false_alarm"] += bool(flagged)
        for f in KINDS:
            key = "tp" if f in flagged and f in visible else "fp" if f in flagged else "fn"
            if f in flagged or f in visible:
                field[f][key] += 1

    def ratio(a: int, b: int) -> float | None:
        return round(a / b, 3) if b else None

    return {
        "files": len(labels),
        "missing": counts["missing"],
        "unredacted_caught": ratio(counts["caught"], counts["unredacted"]),
        "false_alarms_on_redacted": ratio(counts["false_alarm"], counts["redacted"]),
        "is_id_document_right": ratio(counts["id_right"], len(labels) - counts["missing"]),
        **{f"{f}_recall": ratio(field[f]["tp"], field[f]["tp"] + field[f]["fn"]) for f in KINDS},
        **{f"{f}_precision": ratio(field[f]["tp"], field[f]["tp"] + field[f]["fp"]) for f in KINDS},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--scanned", type=Path, help="scan --json output to score instead")
    args = parser.parse_args()
    labels = [
        json.loads(line) for line in (args.directory / "labels.jsonl").read_text().splitlines()
    ]
    if args.scanned:
        lines = args.scanned.read_text().splitlines()
        found = {Path(json.loads(x)["file"]).name: json.loads(x) for x in lines if x.strip()}
    else:
        found = scan(args.directory, [x["file"] for x in labels], args.jobs)
    print(json.dumps(score(labels, found)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
