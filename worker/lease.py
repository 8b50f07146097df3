"""Leases: named locks in the store with an expiry, so two workers started by mistake on one
mailbox never both poll it (or both send the outbox). A worker that dies loses its lease when
it expires; a live one renews it while it works."""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from worker.store import Lease, now

# The holder names made by this process: a lease of this pid under another name is an
# earlier life's.
_MINE: set[str] = set()


def holder_name() -> str:
    """Who holds a lease: host, process and a random part (a pid is reused after a restart)."""
    name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    _MINE.add(name)
    return name


class Held:
    """One lease, taken and renewed through its own connection (never the caller's
    transaction, which a rollback would undo)."""

    def __init__(self, engine: Engine, name: str, holder: str, seconds: float = 300) -> None:
        self.engine, self.name, self.holder, self.seconds = engine, name, holder, seconds

    def take(self) -> bool:
        """Takes or renews the lease; False while another live worker holds it."""
        expires = now() + dt.timedelta(seconds=self.seconds)
        with Session(self.engine) as session:
            taken = session.execute(
                update(Lease)
                .where(Lease.name == self.name)
                .where((Lease.holder == self.holder) | (Lease.expires_at < now()))
                .values(holder=self.holder, expires_at=expires)
            )
            if taken.rowcount == 1:  # type: ignore[attr-defined]
                session.commit()
                return True
            current = session.get(Lease, self.name)
            if current is not None:
                return self._take_from_dead(session, current.holder, expires)
            session.add(Lease(name=self.name, holder=self.holder, expires_at=expires))
            try:
                session.commit()
            except IntegrityError:
                return False  # another worker made it meanwhile
            return True

    def _take_from_dead(self, session: Session, holder: str, expires: dt.datetime) -> bool:
        # A worker killed on this machine left its lease behind; its process is gone, so the
        # lease is taken at once instead of after it expires.
        if not _dead_here(holder):
            return False
        taken = session.execute(
            update(Lease)
            .where(Lease.name == self.name, Lease.holder == holder)
            .values(holder=self.holder, expires_at=expires)
        )
        session.commit()
        return taken.rowcount == 1  # type: ignore[attr-defined,no-any-return]

    def release(self) -> None:
        """Lets the lease go at once, for the next worker."""
        with Session(self.engine) as session:
            session.execute(
                update(Lease)
                .where(Lease.name == self.name, Lease.holder == self.holder)
                .values(expires_at=now() - dt.timedelta(seconds=1))
            )
            session.commit()


def _dead_here(holder: str) -> bool:
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        # Pid 1 in a restarted container is this process again, or an earlier life of it.
        return holder not in _MINE
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False
