"""IMAP IDLE (RFC 2177): a thread that waits for new mail and starts a poll at once.

Guarded against dead connections: imapclient leaves the socket blocking with no timeout after
`idle_check()`, so a connection that died silently would hang the next command forever; the
timeout is set again before every command, IDLE is renewed every half minute (servers allow 29
minutes), and any failure reconnects after a growing pause. Polling on its schedule goes on
regardless: IDLE only makes it sooner."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from worker.errors import MailboxError
from worker.intake.account import Account
from worker.intake.imap import TRANSPORT_ERRORS, connect

log = logging.getLogger("worker.fetch")

# Seconds one IDLE waits before DONE and a new IDLE: short, so a dead link is found soon.
CHECK = 30.0
PAUSES = (1.0, 5.0, 15.0, 60.0)


class IdleWatch(threading.Thread):
    """Calls `new_mail` whenever the server reports mail in the folder."""

    def __init__(
        self, account: Account, folder: str, new_mail: Callable[[], None], check: float = CHECK
    ) -> None:
        super().__init__(name="imap-idle", daemon=True)
        self.account, self.folder, self.new_mail, self.check = account, folder, new_mail, check
        self._halt = threading.Event()
        self.sessions = 0  # connections made, for the tests

    def stop(self) -> None:
        self._halt.set()

    def run(self) -> None:
        failures = 0
        while not self._halt.is_set():
            try:
                self._watch()
                failures = 0
            except (*TRANSPORT_ERRORS, MailboxError) as err:
                pause = PAUSES[min(failures, len(PAUSES) - 1)]
                failures += 1
                log.warning("IMAP IDLE: %s; again in %.0f s", err, pause)
                self._halt.wait(pause)

    def _watch(self) -> None:
        client = connect(self.account)
        self.sessions += 1
        try:
            selected = client.select_folder(self.folder, readonly=True)
            if selected.get(b"EXISTS"):
                self.new_mail()  # mail that came while no IDLE was listening
            while not self._halt.is_set():
                client.idle()
                responses = client.idle_check(timeout=self.check)
                # The guard: the socket has no timeout now; DONE on a dead link would hang.
                client.socket().settimeout(self.account.timeout)
                _, more = client.idle_done()
                if any(len(r) > 1 and r[1] == b"EXISTS" for r in (*responses, *more)):
                    self.new_mail()
        finally:
            try:
                client.socket().settimeout(self.account.timeout)
                client.logout()
            except TRANSPORT_ERRORS:
                client.shutdown()
