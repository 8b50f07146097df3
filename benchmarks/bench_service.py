"""Benchmark: a text-only backlog through the whole service, end to end, against a real
Dovecot and a real SMTP server on 127.0.0.1: every message stored, classified, acknowledged
(or not, as its case says), moved, and every reply sent and filed in Sent. Next to it, in the
same run and on the same messages: a plain imapclient fetch of the mailbox and a plain
mail-parser parse. Each phase runs in a fresh process pinned to one core.

    .venv/bin/python -m benchmarks.bench_service [--messages 2000] [--write docs/BENCHMARKS.md]

Needs root (Dovecot) and ./dev setup.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_classify import corpus, write_section  # noqa: E402
from tests.servers import PASSWORD, USER, dovecot_server, smtp_server  # noqa: E402


def backlog(count: int) -> list[bytes]:
    """The fixture mails without attachments, each made a message of its own: a new
    Message-ID, and a Reply-To of its own so that no address meets the daily reply limit."""
    out = []
    for n, raw in enumerate(corpus(count, text_only=True)):
        head, sep, body = (
            raw.partition(b"\n\n") if b"\r\n\r\n" not in raw else raw.partition(b"\r\n\r\n")
        )
        head = re.sub(rb"(?im)^message-id:.*(?:\r?\n[ \t].*)*\r?\n", b"", head + b"\n").rstrip()
        head = re.sub(rb"(?im)^reply-to:.*(?:\r?\n[ \t].*)*\r?\n", b"", head + b"\n").rstrip()
        extra = f"\nMessage-ID: <bench-{n}@example.nl>\nReply-To: person{n}@example.nl".encode()
        out.append(head + extra + sep + body)
    return out


def phase_fetch(port: int) -> dict[str, float]:
    from imapclient import IMAPClient

    start = time.perf_counter()
    with IMAPClient("127.0.0.1", port, ssl=False) as client:
        client.login(USER, PASSWORD)
        client.select_folder("INBOX", readonly=True)
        uids = client.search(["ALL"])
        got = 0
        for i in range(0, len(uids), 200):
            got += len(client.fetch(uids[i : i + 200], ["BODY.PEEK[]"]))
    return _result(got, time.perf_counter() - start)


def phase_parse(count: int) -> dict[str, float]:
    import mailparser

    messages = backlog(count)
    start = time.perf_counter()
    for raw in messages:
        parsed = mailparser.parse_from_bytes(raw)
        _ = parsed.subject, parsed.text_plain, parsed.attachments
    return _result(len(messages), time.perf_counter() - start)


def phase_worker(imap_port: int, smtp_port: int, store: str) -> dict[str, float]:
    from worker.config import load_settings
    from worker.judge.rules import load_rules
    from worker.judge.tenants import load_registry
    from worker.service.jobs import Worker

    settings = load_settings(
        None,
        environ={
            "PRIVACY_WORKER_IMAP_HOST": "127.0.0.1",
            "PRIVACY_WORKER_IMAP_PORT": str(imap_port),
            "PRIVACY_WORKER_IMAP_SECURITY": "none",
            "PRIVACY_WORKER_SMTP_HOST": "127.0.0.1",
            "PRIVACY_WORKER_SMTP_PORT": str(smtp_port),
            "PRIVACY_WORKER_SMTP_SECURITY": "none",
            "PRIVACY_WORKER_STORE_URL": store,
        },
    )
    rules = load_rules()
    registry = load_registry(ROOT / "fixtures" / "tenants.yaml")
    environ = {"PRIVACY_WORKER_IMAP_PASSWORD": PASSWORD}
    # Start-up (rules, store, migrations) is not part of the backlog's time.
    with Worker(settings, rules, registry, environ) as worker:
        start, cpu = time.perf_counter(), time.process_time()
        stored, sent = worker.round()  # what `run --once` does
        seconds = time.perf_counter() - start
        cpu = time.process_time() - cpu
    result = _result(len(stored), seconds)
    result |= {"sent": sent, "cpu_seconds": round(cpu, 2)}
    return result


def _result(count: int, seconds: float) -> dict[str, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "messages": count,
        "seconds": round(seconds, 3),
        "per_second": round(count / seconds, 1),
        "peak_mb": round(max(own, children) / 1024, 1),
    }


def _in_fresh_process(*args: str) -> dict[str, float]:
    # One core for the measured process; Dovecot and the SMTP server have the other.
    out = subprocess.run(
        ["taskset", "-c", "0", sys.executable, "-m", "benchmarks.bench_service", *args],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def measure(count: int) -> dict[str, dict[str, float]]:
    with dovecot_server() as imap, smtp_server() as (smtp, _):
        messages = backlog(count)
        with imap.client() as client:
            for i in range(0, len(messages), 100):
                client.multiappend("INBOX", messages[i : i + 100])
        fetch = _in_fresh_process("--phase", "fetch", "--imap-port", str(imap.port))
        parse = _in_fresh_process("--phase", "parse", "--messages", str(count))
        with tempfile.TemporaryDirectory() as tmp:
            store = f"sqlite:///{tmp}/cases.sqlite"
            worker = _in_fresh_process(
                "--phase",
                "worker",
                "--imap-port",
                str(imap.port),
                "--smtp-port",
                str(smtp.port),
                "--store",
                store,
            )
        assert len(imap.folder("INBOX")) == 0, "the backlog was not all taken in"
        worker["received"] = len(smtp.messages())
        worker["filed"] = len(imap.folder("Sent"))
    return {"fetch": fetch, "parse": parse, "worker": worker}


def markdown(results: dict[str, dict[str, float]]) -> str:
    fetch, parse, worker = results["fetch"], results["parse"], results["worker"]
    return "\n".join(
        [
            "## service end to end (issue 4)",
            "",
            "`.venv/bin/python -m benchmarks.bench_service --messages 2000 --write "
            "docs/BENCHMARKS.md`",
            "",
            f"A backlog of {int(worker['messages'])} text-only messages (the fixture mails "
            "without attachments, each with a Message-ID and Reply-To of its own) in a private "
            "Dovecot, replies to an aiosmtpd server, both on 127.0.0.1; each phase in a fresh "
            "process pinned to one core, wall-clock time "
            f"({platform.python_implementation()} {platform.python_version()}, "
            f"{platform.machine()}).",
            "",
            "| run | messages/s | seconds | peak RSS MB |",
            "| --- | ---: | ---: | ---: |",
            f"| plain imapclient fetch (batches of 200) | {fetch['per_second']:.0f} | "
            f"{fetch['seconds']:.2f} | {fetch['peak_mb']:.0f} |",
            f"| plain mail-parser parse | {parse['per_second']:.0f} | {parse['seconds']:.2f} | "
            f"{parse['peak_mb']:.0f} |",
            f"| privacy-worker `run --once` (poll, sending alongside) | "
            f"{worker['per_second']:.0f} | "
            f"{worker['seconds']:.2f} | {worker['peak_mb']:.0f} |",
            "",
            "The worker took in, classified, stored and moved every message and sent "
            f"{int(worker['sent'])} replies ({int(worker['received'])} received by the SMTP "
            f"server, {int(worker['filed'])} filed in Sent), using {worker['cpu_seconds']:.1f} s "
            "of CPU. It runs at "
            f"{worker['per_second'] / fetch['per_second']:.3f} of the plain fetch rate and "
            f"{worker['per_second'] / parse['per_second']:.2f} of the plain parse rate "
            "(target: the backlog in under 20 s, at least 100 messages/s, peak under 300 MB).",
            "",
        ]
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--phase", choices=("fetch", "parse", "worker"))
    parser.add_argument("--imap-port", type=int)
    parser.add_argument("--smtp-port", type=int)
    parser.add_argument("--store")
    parser.add_argument("--write", type=Path, help="replace this benchmark's section in a file")
    args = parser.parse_args()
    if args.phase == "fetch":
        print(json.dumps(phase_fetch(args.imap_port)))
    elif args.phase == "parse":
        print(json.dumps(phase_parse(args.messages)))
    elif args.phase == "worker":
        print(json.dumps(phase_worker(args.imap_port, args.smtp_port, args.store)))
    else:
        results = measure(args.messages)
        text = markdown(results)
        print(text)
        print(json.dumps(results))
        if args.write:
            write_section(args.write, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
