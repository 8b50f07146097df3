"""Benchmark: kill -9 the whole service at random moments, many times, and count what was lost,
doubled or left behind (issue 12). A private Dovecot and an aiosmtpd server on 127.0.0.1; a mix
of mails (the fixture mails, synthetic ID copies, hostile attachments) delivered into INBOX in
waves; `privacy-worker run` started, killed with SIGKILL a random 0.2 to `--max-life` seconds
later (seeded), started again, until `--kills` kills; then a last run to the end, stopped with
SIGTERM. Checked and printed: every delivered mail stored once (by Message-ID) with a case and
none left in INBOX; the acknowledgements the SMTP server got twice; the worker's processes
(scan children, tesseract) still alive a few seconds after each kill; the scratch folders
`privacy-worker-scan-*` left at the end.

    .venv/bin/python -m benchmarks.bench_kill_soak [--kills 50] [--seed 12] \\
        [--write docs/BENCHMARKS.md]

Needs root (Dovecot, and /proc of the worker's children) and ./dev setup.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import default
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_classify import corpus, write_section  # noqa: E402
from tests.servers import Dovecot, SmtpSink, dovecot_server, smtp_server  # noqa: E402
from worker.store.models import Case, Message, Outgoing, open_store  # noqa: E402

MARKER = "PRIVACY_SOAK_RUN"  # in the worker's environment, and so in its children's
# How long after a kill the worker's children must be gone (the watchdog looks every 0.2 s).
GRACE_SECONDS = 2.0
FINAL_SECONDS = 300.0
SCRATCH = "privacy-worker-scan-"
FOLDERS = ("Processed", "Review", "Ignored")


@dataclass
class Life:
    """One start of the worker and its kill: what ran at the kill, what was left after it."""

    seconds: float
    children: list[str] = field(default_factory=list)  # at the kill: scan child, tesseract ...
    orphans: list[str] = field(default_factory=list)  # still alive GRACE_SECONDS later
    stored: int = 0  # messages in the store after the kill
    # Replies the SMTP server took that the store had not yet recorded as sent: the one
    # window in which a kill can double a reply (the restart sends it again).
    unrecorded: int = 0


def _reheaded(raw: bytes, n: int) -> bytes:
    """The mail with a Message-ID and Reply-To of its own (no address meets the reply limit)."""
    cut = b"\r\n\r\n" if b"\r\n\r\n" in raw else b"\n\n"
    head, sep, body = raw.partition(cut)
    for name in (rb"message-id", rb"reply-to"):
        head = re.sub(rb"(?im)^" + name + rb":.*(?:\r?\n[ \t].*)*(?:\r?\n|$)", b"", head + b"\n")
        head = head.rstrip()
    extra = f"\nMessage-ID: <soak-{n}@example.nl>\nReply-To: person{n}@example.nl".encode()
    return head + extra + sep + body


def _mail(n: int, subject: str, text: str, *files: tuple[str, str, bytes]) -> bytes:
    from tests.judge.scan.test_classify_scan import mail_with

    sender = f"Proef Persoon {n} <proef{n}@example.nl>"
    return mail_with(
        *files, sender=sender, subject=subject, text=text, message_id=f"<soak-{n}@example.nl>"
    )


def _broken_mime(n: int) -> bytes:
    # A multipart whose boundary never closes, a part of bad base64 and a header cut short.
    return (
        f"From: proef{n}@example.nl\r\nTo: privacy@carerix.com\r\nSubject: =?utf-8?B?broken\r\n"
        f"Message-ID: <soak-{n}@example.nl>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="zz"\r\n\r\n'
        "--zz\r\nContent-Type: text/plain\r\n\r\nVerwijder mijn gegevens aub.\r\n"
        "--zz\r\nContent-Type: image/png; name=id.png\r\nContent-Transfer-Encoding: base64\r\n"
        "\r\niVBORw0KGgo%%%%not-base64\r\n--z"
    ).encode()


def _zipped(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(name, data)
    return out.getvalue()


def _pages_pdf(png: bytes, pages: int) -> bytes:
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    out = io.BytesIO()
    image.save(out, "PDF", save_all=True, append_images=[image] * (pages - 1), resolution=200)
    return out.getvalue()


def mails(count: int) -> list[bytes]:
    """`count` mails: synthetic ID copies and hostile ones first made, the fixtures after."""
    from tests.judge.scan.hostile import flate_bomb_pdf, huge_pages_pdf
    from tests.judge.scan.test_classify_scan import REQUEST, passport_png

    bare, covered = passport_png("none"), passport_png("full")
    zip_a, zip_b = _zipped("id.png", bare), _zipped("p.png", bare)
    made = [(REQUEST, ("paspoort.png", "image/png", bare if i % 3 else covered)) for i in range(12)]
    made += [
        ("Inzage, paspoort in de zip", ("kopie.zip", "application/zip", zip_a)),
        ("Please delete my data, ID zipped", ("id.zip", "application/zip", zip_b)),
        ("Inzage; paspoort als PDF", ("paspoort.pdf", "application/pdf", _pages_pdf(bare, 8))),
        ("Inzage", ("scan.pdf", "application/pdf", flate_bomb_pdf())),
        ("Inzage", ("groot.pdf", "application/pdf", huge_pages_pdf())),
    ]
    out = [
        _mail(n, "Inzageverzoek", text, files) if text == REQUEST else _mail(n, text, text, files)
        for n, (text, files) in enumerate(made)
    ]
    out += [_broken_mime(len(out)), _broken_mime(len(out) + 1)]
    fixtures = corpus(max(count - len(out), 0))
    out += [_reheaded(raw, len(out) + i) for i, raw in enumerate(fixtures)]
    return out[:count]


def message_id(raw: bytes) -> str:
    return str(message_from_bytes(raw, policy=default)["Message-ID"] or "").strip()


# --- the worker's processes, found by the marker in their environment ------------------------


def marked(token: str) -> dict[int, tuple[int, str, str]]:
    """pid -> (parent pid, state, command line) of the live processes with the marker."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if f"{MARKER}={token}".encode() not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        # The command name in brackets may hold spaces: the fields after it are split.
        state, ppid = stat.rpartition(")")[2].split()[:2]
        if state != "Z":
            found[int(entry.name)] = (int(ppid), state, command or stat.split()[1])
    return found


def kind(command: str) -> str:
    if "tesseract" in command:
        return "tesseract"
    if "resource_tracker" in command:
        return "resource tracker"
    if "multiprocessing" in command:
        return "scan child"
    return command[:60]


# --- one start of the worker --------------------------------------------------------------


@dataclass
class Run:
    """The worker's command, environment and files."""

    folder: Path
    imap: Dovecot
    smtp: SmtpSink
    token: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def store_url(self) -> str:
        return f"sqlite:///{self.folder / 'cases.sqlite'}"

    @property
    def tmp(self) -> Path:
        return self.folder / "tmp"

    def config(self, poll_seconds: int, batch: int) -> Path:
        path = self.folder / "worker.toml"
        path.write_text(
            "[worker]\n"
            f'imap_host = "127.0.0.1"\nimap_port = {self.imap.port}\nimap_security = "none"\n'
            f'smtp_host = "127.0.0.1"\nsmtp_port = {self.smtp.port}\nsmtp_security = "none"\n'
            f'store_url = "{self.store_url}"\n'
            f'tenants_file = "{ROOT / "fixtures" / "tenants.yaml"}"\n'
            f'heartbeat_file = "{self.folder / "heartbeat"}"\n'
            f"poll_seconds = {poll_seconds}\nimap_batch = {batch}\nnetwork_timeout = 10\n"
        )
        return path

    def start(self, config: Path) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PRIVACY_WORKER_")}
        env |= {
            "PRIVACY_WORKER_IMAP_PASSWORD": self.imap.password,
            "TMPDIR": str(self.tmp),
            MARKER: self.token,
        }
        command = [str(Path(sys.executable).parent / "privacy-worker"), "run", "-c", str(config)]
        with (self.folder / "worker.log").open("ab") as log:
            return subprocess.Popen(command, env=env, stdout=log, stderr=log, cwd=self.folder)

    def life(self, config: Path, seconds: float) -> Life:
        """Starts the worker, kills it with SIGKILL `seconds` later; what was left after."""
        life = Life(seconds)
        worker = self.start(config)
        time.sleep(seconds)
        life.children = [kind(c) for p, (_, _, c) in marked(self.token).items() if p != worker.pid]
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        time.sleep(GRACE_SECONDS)
        left = marked(self.token)
        life.orphans = [f"{kind(c)} (pid {p}, parent {pp}, {s})" for p, (pp, s, c) in left.items()]
        for pid in left:  # so that one life's orphans are not counted again
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        life.stored = len(stored_ids(self.store_url))
        with self._session() as session:
            sent = set(
                session.scalars(select(Outgoing.message_id).where(Outgoing.status == "sent"))
            )
        life.unrecorded = len({message_id(m) for m in self.smtp.messages()} - sent)
        return life

    def to_the_end(self, config: Path, delivered: int) -> tuple[float, int]:
        """A last run until every mail is stored, moved and answered; returns its seconds and
        exit code (after SIGTERM)."""
        start = time.monotonic()
        worker = self.start(config)
        try:
            while time.monotonic() - start < FINAL_SECONDS:
                time.sleep(2)
                if worker.poll() is not None or self._done(delivered):
                    break
        finally:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
            code = worker.wait(timeout=120)
        return time.monotonic() - start, code

    def _done(self, delivered: int) -> bool:
        with self._session() as session:
            stored = session.scalar(select(func.count(Message.id))) or 0
            moving = session.scalar(select(func.count()).where(Message.move_to.is_not(None)))
            busy = session.scalar(
                select(func.count()).where(Outgoing.status.in_(("pending", "sending")))
            )
        return stored >= delivered and not moving and not busy

    @contextmanager
    def _session(self) -> Iterator[Session]:
        engine = open_store(self.store_url)
        try:
            with Session(engine) as session:
                yield session
        finally:
            engine.dispose()


def stored_ids(url: str) -> list[str]:
    engine = open_store(url)
    with Session(engine) as session:
        ids = list(session.scalars(select(Message.message_id)))
    engine.dispose()
    return ids


# --- the soak and its checks -----------------------------------------------------------------


@dataclass
class Soak:
    """What one soak found."""

    seed: int
    lives: list[Life]
    delivered: list[str]
    final_seconds: float = 0.0
    final_code: int = 0
    checks: dict[str, object] = field(default_factory=dict)


def soak(count: int, kills: int, seed: int, max_life: float, batch: int) -> Soak:
    rng = random.Random(seed)
    raws = mails(count)
    # Mixed, so that a kill may land on any kind of mail at any stage of the soak.
    rng.shuffle(raws)
    ids = [message_id(raw) for raw in raws]
    assert len(set(ids)) == len(ids), "the mails need a Message-ID each"
    # A third at once, the rest in waves before each start, so that kills land while new
    # mail is being read, not only on an idle worker.
    first = count // 3
    with (
        tempfile.TemporaryDirectory(prefix="bench-soak-") as folder,
        dovecot_server() as imap,
        smtp_server() as (smtp, _),
    ):
        run = Run(Path(folder), imap, smtp)
        run.tmp.mkdir()
        config = run.config(poll_seconds=5, batch=batch)
        _deliver(imap, raws[:first])
        lives = []
        for n in range(kills):
            _deliver(imap, [raws[first + i] for i in range(n, count - first, kills)])
            lives.append(run.life(config, rng.uniform(0.2, max_life)))
            print(_line(n, lives[-1]), file=sys.stderr, flush=True)
        result = Soak(seed, lives, ids)
        result.final_seconds, result.final_code = run.to_the_end(config, count)
        result.checks = check(run, ids)
    return result


def _deliver(imap: Dovecot, raws: list[bytes]) -> None:
    if raws:
        with imap.client() as client:
            client.multiappend("INBOX", raws)


def _line(n: int, life: Life) -> str:
    children = ", ".join(sorted(life.children)) or "-"
    return (
        f"kill {n + 1}: after {life.seconds:.1f} s, running {children}; "
        f"stored {life.stored}; taken by SMTP, not recorded: {life.unrecorded}; "
        f"left alive: {', '.join(life.orphans) or 'none'}"
    )


def check(run: Run, delivered: list[str]) -> dict[str, object]:
    stored = Counter(stored_ids(run.store_url))
    received = Counter(message_id(raw) for raw in run.smtp.messages())
    with run._session() as session:
        cases = session.scalar(select(func.count(Case.id))) or 0
        case_ids = set(session.scalars(select(Case.id)))
        without_case = sum(1 for m in session.scalars(select(Message)) if m.case_id not in case_ids)
        outgoing = {
            row.message_id: (row.case_id, row.kind, row.status)
            for row in session.scalars(select(Outgoing))
        }
        set_aside = sum(
            1
            for reasons in session.scalars(select(Case.reasons))
            if any("the worker stopped twice" in r for r in reasons)
        )
        statuses = Counter(status for _, _, status in outgoing.values())
    per_case = Counter((outgoing[i][0], outgoing[i][1]) for i in received if i in outgoing)
    folders = {name: len(run.imap.folder(name)) for name in ("INBOX", *FOLDERS)}
    return {
        "delivered": len(delivered),
        "stored once": sum(1 for i in delivered if stored[i] == 1),
        "stored twice or more": sum(1 for i in delivered if stored[i] > 1),
        "lost (not stored)": sum(1 for i in delivered if stored[i] == 0),
        "messages without a case": without_case,
        "cases": cases,
        "set aside after two deaths": set_aside,
        "folders": folders,
        "replies in the store": dict(statuses),
        "received by SMTP": sum(received.values()),
        "Message-IDs received twice": sum(n - 1 for n in received.values()),
        "received, not in the store": sum(1 for i in received if i not in outgoing),
        "cases answered twice (same kind)": sum(1 for n in per_case.values() if n > 1),
        "in Sent": len(run.imap.folder("Sent")),
        "scratch folders left": sorted(p.name for p in run.tmp.glob(SCRATCH + "*")),
        "temp entries left": sorted(p.name for p in run.tmp.iterdir()),
    }


def summary(result: Soak) -> list[str]:
    lives, checks = result.lives, result.checks
    orphans = [o for life in lives for o in life.orphans]
    running = Counter(k for life in lives for k in set(life.children))
    seconds = sorted(life.seconds for life in lives)
    folders = checks["folders"]
    assert isinstance(folders, dict)
    return [
        f"| kills (SIGKILL) | {len(lives)} |",
        f"| life before the kill, s (min / median / max) | {seconds[0]:.1f} / "
        f"{seconds[len(seconds) // 2]:.1f} / {seconds[-1]:.1f} |",
        f"| kills while a scan child ran / while tesseract ran | {running['scan child']} / "
        f"{running['tesseract']} |",
        f"| worker processes alive {GRACE_SECONDS:g} s after a kill | {len(orphans)} |",
        f"| kills that left a reply taken by SMTP, not recorded as sent | "
        f"{sum(1 for life in lives if life.unrecorded)} |",
        f"| mails delivered | {checks['delivered']} |",
        f"| stored exactly once / twice / lost | {checks['stored once']} / "
        f"{checks['stored twice or more']} / {checks['lost (not stored)']} |",
        f"| cases / set aside after two deaths | {checks['cases']} / "
        f"{checks['set aside after two deaths']} |",
        f"| left in INBOX / in Processed, Review, Ignored | {folders['INBOX']} / "
        + ", ".join(str(folders[f]) for f in FOLDERS)
        + " |",
        f"| replies received by SMTP / Message-IDs received twice | "
        f"{checks['received by SMTP']} / {checks['Message-IDs received twice']} |",
        f"| cases answered twice (two replies of one kind) | "
        f"{checks['cases answered twice (same kind)']} |",
        f"| scratch folders `{SCRATCH}*` left at the end | {len(checks['scratch folders left'])} |",  # type: ignore[arg-type]
        f"| last run to the end: s, exit code after SIGTERM | {result.final_seconds:.0f}, "
        f"{result.final_code} |",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=150)
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--max-life", type=float, default=6.0, help="seconds")
    parser.add_argument("--batch", type=int, default=10, help="imap_batch of the worker")
    parser.add_argument("--write", type=Path)
    args = parser.parse_args()
    started = time.monotonic()
    result = soak(args.mails, args.kills, args.seed, args.max_life, args.batch)
    minutes = (time.monotonic() - started) / 60
    lines = ["| measure | value |", "| --- | ---: |", *summary(result)]
    print("\n".join(lines))
    for name, value in result.checks.items():
        print(f"{name}: {value}")
    print(f"{minutes:.1f} minutes in all")
    if args.write:
        write_section(args.write, markdown(args, lines, minutes))
    return 0


def markdown(args: argparse.Namespace, lines: list[str], minutes: float) -> str:
    return "\n".join(
        [
            "## kill -9 soak of the whole service (issue 12)",
            "",
            f"`.venv/bin/python -m benchmarks.bench_kill_soak --kills {args.kills} "
            f"--seed {args.seed} --write docs/BENCHMARKS.md`",
            "",
            f"{args.mails} mails (the fixture mails with a Message-ID and Reply-To each, synthetic"
            " passport PNGs bare and covered, two zips with a passport, an 8-page PDF of one, a"
            " flate-bomb PDF, a PDF of 5 x 5 m pages, two of broken MIME) delivered into a"
            " private Dovecot, a third at once and the rest in a wave before each start;"
            f" `privacy-worker run` (poll every 5 s, imap_batch {args.batch}) killed with"
            f" SIGKILL 0.2 to {args.max_life:g} s after each start (uniform, seed {args.seed}),"
            " then a last run until every mail was stored, moved and answered, ended with"
            f" SIGTERM; {minutes:.1f} minutes in all. Worker processes are found by a marker in"
            " their environment.",
            "",
            *lines,
            "",
        ]
    )


if __name__ == "__main__":
    raise SystemExit(main())
