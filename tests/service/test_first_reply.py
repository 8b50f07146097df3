"""Issue 13's end-to-end promise, through a real Dovecot and SMTP server: every person who
writes gets exactly one first reply, and no machine gets any. Run on a blind corpus (mails
written by a helper who had read neither the rules nor the fixtures), as a user runs it."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from email import message_from_bytes
from email.policy import default
from email.utils import getaddresses, parseaddr
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tests.conftest import FIXTURES
from tests.servers import Dovecot, SmtpSink
from tests.service.test_jobs import COMMAND, environment
from worker.store.models import Case, open_store

CORPUS = FIXTURES / "blind-a" / "dev"
# The mail a new case sends to its requester on its own: one of these, once.
FIRST_REPLIES = (
    "ack-inspection",
    "ack-correction",
    "ack-deletion",
    "receipt",
    "routed-requester",
    "id-resubmit",
)


def delivered_to(smtp: SmtpSink) -> Counter[str]:
    """How many mails the SMTP server took for each recipient address."""
    count: Counter[str] = Counter()
    for raw in smtp.messages():
        message = message_from_bytes(raw, policy=default)
        for _, address in getaddresses([str(message["To"] or "")]):
            count[address.lower()] += 1
    return count


def test_every_person_gets_exactly_one_first_reply_and_no_machine_any(
    tmp_path: Path,
    servers: tuple[Dovecot, SmtpSink],
) -> None:
    imap, smtp = servers
    labels = [json.loads(line) for line in (CORPUS / "labels.jsonl").read_text().splitlines()]
    sender_of = {}
    for label in labels:
        raw = (CORPUS / label["file"]).read_bytes()
        imap.deliver(raw)
        sender = parseaddr(str(message_from_bytes(raw, policy=default)["From"]))[1].lower()
        sender_of[label["file"]] = sender
    env = environment(tmp_path, imap, smtp, tenants_file=str(CORPUS.parent / "tenants.yaml"))
    done = subprocess.run([*COMMAND, "run", "--once"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert f"{len(labels)} message(s) taken in: {len(labels)} new case" in done.stdout

    engine = open_store(f"sqlite:///{tmp_path / 'cases.sqlite'}")
    with Session(engine) as session:
        cases = session.scalars(select(Case).options(selectinload(Case.outgoing))).all()
        first = {
            c.requester.lower(): [o.kind for o in c.outgoing if o.kind in FIRST_REPLIES]
            for c in cases
        }
        machine = {c.requester.lower() for c in cases if c.status == "ignored"}
        refused = {
            c.requester.lower()
            for c in cases
            if any(r.startswith("no automatic reply") for r in c.reasons)
        }
        replied = {c.requester.lower(): [o.recipient for o in c.outgoing] for c in cases}
    engine.dispose()
    assert len(first) == len(labels), "each writer of this corpus writes once"

    # What the worker itself judged: a machine gets nothing at all; a person exactly one first
    # reply, unless the address may never be answered (then the case says so, for a person).
    assert all(replied[address] == [] for address in machine)
    for address, kinds in first.items():
        if address not in machine:
            assert len(kinds) == (0 if address in refused else 1), (address, kinds)
    # And what the SMTP server got matches: one mail per person answered, none to machines.
    delivered = delivered_to(smtp)
    assert all(delivered[a] == len(first[a]) for a in first)

    # Against the labels: a person is left without a reply only where the worker took her
    # mail for a machine's (or her address is one never answered), and the reverse is rare.
    humans = [sender_of[x["file"]] for x in labels if not x["auto_generated"]]
    machines = [sender_of[x["file"]] for x in labels if x["auto_generated"]]
    unanswered = [a for a in humans if delivered[a] != 1]
    assert all(a in machine or a in refused for a in unanswered)
    assert len(unanswered) <= 3, unanswered
    assert sum(1 for a in machines if delivered[a]) <= 1
