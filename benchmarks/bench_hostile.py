"""Benchmark: peak memory and seconds of the worker's scan on hostile files (issue 12).

    .venv/bin/python -m benchmarks.bench_hostile [--write docs/BENCHMARKS.md]

Each file is scanned by an IsolatedScanner in a fresh process, as the worker scans it. The peak
resident memory of that process (RUSAGE_SELF) and of the largest process it waited for (the
scanning child or a tesseract run: RUSAGE_CHILDREN) are read by it at the end, so nothing is
sampled or missed. A process's peak starts from its parent's at fork: the files are therefore
made in a process of their own, and this one stays small.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.bench_classify import write_section

_BUILD = (
    "import sys\n"
    "from pathlib import Path\n"
    "from tests.judge.scan.hostile import HOSTILE\n"
    "for name, build in HOSTILE.items():\n"
    "    (Path(sys.argv[1]) / name).write_bytes(build())\n"
)

_ONE = (
    "import resource, sys, json\n"
    "from pathlib import Path\n"
    "from worker.judge.rules import load_rules\n"
    "from worker.judge.scan.isolated import IsolatedScanner\n"
    "with IsolatedScanner(load_rules().id_scan) as scanner:\n"
    "    result = scanner(Path(sys.argv[1]).read_bytes())\n"
    "own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "print(json.dumps({'own_kb': own, 'child_kb': child, 'unreadable': list(result.unreadable)}))\n"
)


def measure(path: Path) -> tuple[float, int, int, list[str]]:
    """Seconds, peak RSS of the worker process and of its largest child (kB), the reasons."""
    import json

    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", _ONE, str(path)], capture_output=True, text=True, check=False
    )
    seconds = time.monotonic() - start
    if done.returncode != 0:
        return seconds, 0, 0, [f"the worker process ended with {done.returncode}"]
    report = json.loads(done.stdout)
    return seconds, report["own_kb"], report["child_kb"], report["unreadable"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="replace the section in this Markdown file")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as folder:
        subprocess.run([sys.executable, "-c", _BUILD, folder], check=True)
        for path in sorted(Path(folder).iterdir()):
            name = path.name
            seconds, worker_kb, child_kb, reasons = measure(path)
            size = path.stat().st_size // 1000
            reason = "; ".join(reasons)[:90] or "(none)"
            rows.append(
                f"| {name} | {size} kB | {worker_kb // 1024} | {child_kb // 1024}"
                f" | {seconds:.1f} | {reason} |"
            )
            print(rows[-1], flush=True)
    text = "\n".join(
        [
            "## scan: hostile files, memory and time (issue 12)",
            "",
            "`.venv/bin/python -m benchmarks.bench_hostile --write docs/BENCHMARKS.md`",
            "",
            "| file | size | worker peak RSS MB | scan child peak RSS MB | s | reasons |",
            "| --- | ---: | ---: | ---: | ---: | --- |",
            *rows,
            "",
        ]
    )
    if args.write:
        write_section(args.write, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
