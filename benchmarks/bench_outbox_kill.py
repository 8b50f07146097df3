"""Benchmark: kill -9 the send job right after the SMTP server has taken a mail, many times,
and count the mails the restart sends twice (issue 12). A real Dovecot (the Sent folder) and
a real aiosmtpd on 127.0.0.1; the send job is `flush` in a process of its own, run from this
checkout or from a git revision (`--rev main`: that revision's `worker/`, exported to a
temporary folder). The server's hook marks the moment a mail is taken (just before it answers
250); the kill lands a random 0 to `--max-delay-ms` later, on a random mail of four. Then
the job runs again, unkilled, and every Message-ID the server received more than once is a
duplicate. The same seed gives both revisions the same kills.

    .venv/bin/python -m benchmarks.bench_outbox_kill [--kills 40] [--rev main] \\
        [--write docs/BENCHMARKS.md]

Needs root (Dovecot) and ./dev setup.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.servers import Dovecot, SmtpSink, dovecot_server, smtp_server  # noqa: E402

SENDER = "privacy@carerix.com"
MAILS = 4
FLUSH = textwrap.dedent(
    """
    import sys
    from sqlalchemy.orm import Session
    from worker.intake.account import Account
    from worker.intake.imap import ImapMailbox
    from worker.store.lease import holder_name
    from worker.reply.outbox import flush
    from worker.store.models import open_store
    from worker.reply.transports import SmtpTransport

    url, smtp_port, imap_port, password = sys.argv[1], *map(int, sys.argv[2:4]), sys.argv[4]
    imap = Account("127.0.0.1", imap_port, "none", "privacy@carerix.com", password)
    smtp = Account("127.0.0.1", smtp_port, "none", "privacy@carerix.com")
    print("ready", flush=True)
    sys.stdin.readline()
    with Session(open_store(url)) as session, ImapMailbox(imap) as sent:
        with SmtpTransport(smtp, sent) as transport:
            flush(session, transport, "privacy@carerix.com", holder=holder_name())
    """
)


@dataclass
class Kill:
    """One planned kill: after the `target`th mail is taken, `delay` seconds later."""

    target: int
    delay: float
    pid: int = 0
    taken: int = 0
    fired: threading.Event = field(default_factory=threading.Event)
    at: float = 0.0

    def received(self) -> None:
        # Called on the server's thread before it answers: only the clock is read here.
        self.taken += 1
        if self.taken == self.target:
            self.at = time.perf_counter()
            self.fired.set()


def killer(kill: Kill, done: threading.Event) -> None:
    while not kill.fired.wait(0.01):
        if done.is_set():
            return
    # Slept most of the way, then spun, for a delay accurate to some microseconds.
    until = kill.at + kill.delay
    if until - time.perf_counter() > 0.002:
        time.sleep(until - time.perf_counter() - 0.001)
    while time.perf_counter() < until:
        pass
    os.kill(kill.pid, signal.SIGKILL)


def queue_mails(url: str, trial: int) -> list[str]:
    from sqlalchemy.orm import Session

    from tests.reply.test_outbox import a_case
    from worker.reply.outbox import queue
    from worker.store.models import open_store

    engine = open_store(url)
    ids = []
    with Session(engine) as session:
        for n in range(MAILS):
            case = a_case(session, trial * 100 + n)
            message = EmailMessage()
            message["From"], message["To"] = SENDER, case.requester
            message["Subject"] = f"Ontvangen [{case.reference}]"
            message["Message-ID"] = f"<bench-{trial}-{n}@carerix.com>"
            message.set_content("Wij hebben uw verzoek ontvangen.")
            ids.append(str(message["Message-ID"]))
            queue(session, case, "ack-inspection", message)
        session.commit()
    engine.dispose()
    return ids


def run_flush(
    code: Path, url: str, sink: SmtpSink, imap: Dovecot, kill: Kill | None
) -> tuple[bool, float]:
    """Runs one send job; returns whether it was killed and how long the kill came after the
    mail was taken (seconds)."""
    command = [sys.executable, "-c", FLUSH, url, str(sink.port), str(imap.port), imap.password]
    worker = subprocess.Popen(
        command,
        cwd=code,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if not k.startswith("PRIVACY_WORKER_")},
    )
    assert worker.stdin is not None and worker.stdout is not None
    worker.stdout.readline()  # imported: the clock starts with the sending only
    done = threading.Event()
    thread = None
    if kill is not None:
        kill.pid = worker.pid
        sink.on_received = kill.received
        thread = threading.Thread(target=killer, args=(kill, done))
        thread.start()
    worker.stdin.write(b"go\n")
    worker.stdin.close()
    code_ = worker.wait(timeout=120)
    done.set()
    if thread is not None:
        thread.join()
    sink.on_received = None
    worker.stdout.close()
    killed = code_ == -signal.SIGKILL
    assert killed or code_ == 0, f"the send job failed with {code_}"
    return killed, (time.perf_counter() - kill.at if kill and killed else 0.0)


def trial(code: Path, folder: Path, sink: SmtpSink, imap: Dovecot, n: int, kill: Kill) -> int:
    """One kill and a restart; returns the mails sent twice (none may be lost)."""
    url = f"sqlite:///{folder / f'trial{n}.sqlite'}"
    ids = queue_mails(url, n)
    killed, _ = run_flush(code, url, sink, imap, kill)
    assert killed, "the kill came after the job had ended"
    run_flush(code, url, sink, imap, None)
    received = Counter(
        str(message_from_bytes(m, policy=default)["Message-ID"]) for m in sink.messages()
    )
    assert all(received[i] >= 1 for i in ids), "a mail was lost"
    return sum(received[i] - 1 for i in ids)


@contextmanager
def code_of(rev: str | None) -> Iterator[Path]:
    if rev is None:
        yield ROOT
        return
    with tempfile.TemporaryDirectory(prefix="bench-outbox-") as folder:
        archive = subprocess.run(
            ["git", "archive", rev, "worker"], cwd=ROOT, capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", folder], input=archive.stdout, check=True)
        yield Path(folder)


def plan(kills: int, max_delay: float, seed: int) -> list[Kill]:
    rng = random.Random(seed)
    return [Kill(rng.randint(1, MAILS), rng.uniform(0, max_delay)) for _ in range(kills)]


def measure(rev: str | None, kills: int, max_delay: float, seed: int) -> list[tuple[float, int]]:
    """(delay, duplicates) per kill."""
    out = []
    with (
        code_of(rev) as code,
        tempfile.TemporaryDirectory(prefix="bench-outbox-") as folder,
        dovecot_server() as imap,
        smtp_server() as (sink, _),
    ):
        for n, kill in enumerate(plan(kills, max_delay, seed)):
            out.append((kill.delay, trial(code, Path(folder), sink, imap, n, kill)))
    return out


def table(results: dict[str, list[tuple[float, int]]], max_delay: float) -> list[str]:
    buckets = 4
    width = max_delay / buckets
    heads = [f"{i * width * 1000:.1f}-{(i + 1) * width * 1000:.1f} ms" for i in range(buckets)]
    lines = [
        "| code | kills | duplicates | per kill | " + " | ".join(heads) + " |",
        "| --- | ---: | ---: | ---: | " + " | ".join("---:" for _ in heads) + " |",
    ]
    for name, rows in results.items():
        cells = []
        for i in range(buckets):
            inside = [d for delay, d in rows if i * width <= delay < (i + 1) * width]
            cells.append(f"{sum(1 for d in inside if d)}/{len(inside)}")
        total = sum(d for _, d in rows)
        lines.append(
            f"| {name} | {len(rows)} | {total} | {total / len(rows):.3f} | "
            + " | ".join(cells)
            + " |"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=40)
    parser.add_argument("--rev", action="append", default=[], help="also measure this revision")
    parser.add_argument("--max-delay-ms", type=float, default=8.0)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    max_delay = args.max_delay_ms / 1000
    results = {}
    for rev in [*args.rev, None]:
        name = rev or "this checkout"
        results[name] = measure(rev, args.kills, max_delay, args.seed)
        print(name, sum(d for _, d in results[name]), "duplicates", file=sys.stderr)
    lines = table(results, max_delay)
    print("\n".join(lines))
    if args.write:
        write(args.write, args, lines)
    return 0


def write(path: Path, args: argparse.Namespace, lines: list[str]) -> None:
    from benchmarks.bench_classify import write_section

    revs = "".join(f" --rev {r}" for r in args.rev)
    body = [
        "## outbox: duplicates after kill -9 (issue 12)",
        "",
        f"`.venv/bin/python -m benchmarks.bench_outbox_kill --kills {args.kills}{revs}"
        " --write docs/BENCHMARKS.md`",
        "",
        f"Four mails queued per kill; kill -9 of the send job 0 to {args.max_delay_ms:g} ms"
        f" (uniform, seed {args.seed}) after the SMTP server took one of the four (chosen at"
        " random), then a restart. A duplicate is a Message-ID the server received twice."
        " The columns by delay count the kills that doubled a mail, of the kills.",
        "",
        *lines,
    ]
    write_section(path, "\n".join(body))


if __name__ == "__main__":
    raise SystemExit(main())
