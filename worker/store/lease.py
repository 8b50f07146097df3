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

from worker.store.models import Lease, now

# The holder names made by this process: its own leases are never taken as a dead one's.
_MINE: set[str] = set()


def holder_name() -> str:
    """Who holds a lease: host, process id, the process-id namespace it counts in (two
    containers may share a host name and pid 1), and a random part."""
    name = f"{socket.gethostname()}:{os.getpid()}:{_pid_namespace()}:{uuid.uuid4().hex[:8]}"
    _MINE.add(name)
    return name


def _pid_namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid").strip("pid:[]")
    except OSError:
        return "-"


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
        if not dead_here(holder):
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


def dead_here(holder: str) -> bool:
    """Whether a holder is known dead: a process of this host and pid namespace that is gone."""
    # Only a holder in this very host and pid namespace can be known dead: a pid elsewhere
    # (another container, even with the same host name) says nothing here.
    parts = holder.split(":")
    if len(parts) != 4 or parts[0] != socket.gethostname() or parts[2] != _pid_namespace():
        return False
    if not parts[1].isdigit() or holder in _MINE:
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return True  # an earlier life of this process id, by a name this process did not make
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False
