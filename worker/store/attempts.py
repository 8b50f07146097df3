"""The poison-message counter: each message is counted, and the count committed, before it is
decided, and the count is deleted once it was decided. A count still there at the next poll
means the worker died while deciding that message (an out-of-memory kill, say); after two such
deaths it is set aside for a person instead of being read a third time."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, delete, select, update
from sqlalchemy.orm import Session

from worker.store.models import Attempt, now


class Attempts:
    """The counts of one mailbox (one UIDVALIDITY), kept in the poll's session."""

    def __init__(self, session: Session, source: str, validity: int) -> None:
        self.session = session
        self.source = source
        self.validity = validity
        # Decided, their counts not yet deleted.
        self._decided: list[str] = []

    def begin(self, key: str) -> int:
        """Counts one more attempt at deciding this message and commits it; returns how many
        earlier attempts never ended."""
        self.settle()
        before = self.session.scalar(select(Attempt.count).where(self._of(key)))
        if before is None:
            row = Attempt(source=self.source, validity=self.validity, source_key=key)
            row.count, row.last_at = 1, now()
            self.session.add(row)
        else:
            changed = {"count": before + 1, "last_at": now()}
            self.session.execute(update(Attempt).where(self._of(key)).values(changed))
        self.session.commit()
        return before or 0

    def decided(self, key: str) -> None:
        """The message was decided: its count is deleted with the next attempt's commit (or
        the last `settle`). It is not kept until the message is filed: a later message that
        kills the worker would otherwise count against every one decided before it and still
        waiting in its group. A count left for a message filed meanwhile is harmless: a filed
        message is never decided again."""
        self._decided.append(key)

    def settle(self) -> None:
        """Deletes the counts of the messages decided, in the caller's transaction: called
        just before a commit, so the store is never held locked (SQLite) between messages, nor
        while a group is filed."""
        keys, self._decided = self._decided, []
        if keys:
            self.session.execute(
                delete(Attempt).where(
                    Attempt.source == self.source,
                    Attempt.validity == self.validity,
                    Attempt.source_key.in_(keys),
                )
            )

    def _of(self, key: str) -> ColumnElement[bool]:
        return and_(
            Attempt.source == self.source,
            Attempt.validity == self.validity,
            Attempt.source_key == key,
        )
