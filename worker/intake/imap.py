"""An IMAP folder as the mailbox (imapclient): UIDs as keys, UIDVALIDITY as their epoch.

What the field taught: the \\Seen flag is never processing state (a person may read the
mailbox), bodies are fetched with BODY.PEEK so nothing is marked read; UIDs are searched first
and only unknown ones fetched, in batches; SEARCH is sent without a charset (Microsoft 365
refuses one); MOVE (RFC 6851) where offered, else COPY, \\Deleted and UID EXPUNGE (UIDPLUS), so
no other message flagged for deletion by a person is expunged with ours."""

from __future__ import annotations

import imaplib
import logging
import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from worker.errors import MailboxError, MailboxRefused
from worker.intake.account import Account
from worker.intake.maildir import FOLDERS, HEAD_BYTES

log = logging.getLogger("worker.fetch")

# UIDs whose sizes one command asks for: the command line stays short.
SIZES_PER_COMMAND = 1000
# Errors that mean the server or the connection failed, not the message.
TRANSPORT_ERRORS = (OSError, ssl.SSLError, imaplib.IMAP4.error, IMAPClientError, EOFError)


def connect(account: Account) -> IMAPClient:
    """A logged-in session; every failure is a MailboxError naming the server."""
    where = f"IMAP {account.host}:{account.port}"
    try:
        client = IMAPClient(
            account.host,
            account.port,
            ssl=account.security == "tls",
            ssl_context=account.tls(),
            timeout=account.timeout,
        )
    except TRANSPORT_ERRORS as err:
        raise MailboxError(f"{where}: {err}") from err
    try:
        if account.security == "starttls":
            client.starttls(account.tls())
        if account.oauth is not None:
            client.oauth2_login(account.user, account.oauth.token(account.timeout))
        else:
            client.login(account.user, account.password())
    except (*TRANSPORT_ERRORS, MailboxError) as err:
        with suppress(*TRANSPORT_ERRORS):
            client.shutdown()
        raise MailboxError(f"{where}: {err}") from err
    return client


class ImapMailbox:
    """One IMAP folder (the inbox) and the folders messages are moved to."""

    def __init__(self, account: Account, folder: str = "INBOX", batch: int = 200) -> None:
        self.account = account
        self.folder = folder
        self.batch = batch
        self.name = f"imap:{account.user}@{account.host}/{folder}"
        self.validity = 0
        self._client: IMAPClient | None = None
        self._move = False
        self._uidplus = False

    def open(self) -> ImapMailbox:
        """Connects, makes the target folders, selects the inbox and reads its UIDVALIDITY."""
        self._client = connect(self.account)
        with self._guard() as client:
            self._move = client.has_capability("MOVE")
            self._uidplus = client.has_capability("UIDPLUS")
            for name in (*FOLDERS, self.account.sent_folder):
                if not client.folder_exists(name):
                    _create(client, name)
            selected = client.select_folder(self.folder)
            self.validity = int(selected[b"UIDVALIDITY"])
        return self

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            # The connection may be gone already; nothing is pending on it.
            with suppress(*TRANSPORT_ERRORS):
                client.logout()

    def __enter__(self) -> ImapMailbox:
        return self.open()

    def __exit__(self, *_: object) -> None:
        self.close()

    def waiting(self) -> list[str]:
        """The UIDs in the inbox, oldest first; no charset, which Microsoft 365 rejects."""
        with self._guard() as client:
            return [str(uid) for uid in sorted(client.search(["ALL"]))]

    def sizes(self, keys: Sequence[str]) -> dict[str, int]:
        """The sizes (RFC822.SIZE) of these UIDs, read before any body is: a body too big is
        then never fetched. UIDs no longer there are absent."""
        found: dict[str, int] = {}
        with self._guard() as client:
            for start in range(0, len(keys), SIZES_PER_COMMAND):
                uids = [int(k) for k in keys[start : start + SIZES_PER_COMMAND]]
                for uid, data in client.fetch(uids, ["RFC822.SIZE"]).items():
                    size = data.get(b"RFC822.SIZE")
                    if isinstance(size, int):
                        found[str(uid)] = size
        return found

    def head(self, key: str) -> bytes:
        """The start of a message's header block (a partial fetch), never more."""
        with self._guard() as client:
            fetched = client.fetch([int(key)], [f"BODY.PEEK[HEADER]<0.{HEAD_BYTES}>"])
        for data in fetched.values():
            for name, value in data.items():
                if name.startswith(b"BODY[HEADER]") and isinstance(value, bytes):
                    return value
        return b""

    def fetch(self, keys: Sequence[str]) -> dict[str, bytes]:
        """The bodies of these UIDs, without setting \\Seen; UIDs no longer there are absent.
        A batch the server refuses is fetched one by one: only the refused message waits."""
        found: dict[str, bytes] = {}
        for start in range(0, len(keys), self.batch):
            batch = [int(k) for k in keys[start : start + self.batch]]
            try:
                found.update(self._bodies(batch))
            except MailboxRefused:
                for uid in batch:
                    try:
                        found.update(self._bodies([uid]))
                    except MailboxRefused as err:
                        log.warning("UID %s cannot be fetched now: %s", uid, err)
        return found

    def _bodies(self, uids: list[int]) -> dict[str, bytes]:
        found = {}
        with self._guard() as client:
            for uid, data in client.fetch(uids, ["BODY.PEEK[]"]).items():
                body = data.get(b"BODY[]")
                if isinstance(body, bytes):
                    found[str(uid)] = body
        return found

    def move(self, key: str, folder: str) -> None:
        """Moves one UID; a UID already gone (a retried move) is no error."""
        with self._guard() as client:
            uid = int(key)
            if self._move:
                client.move([uid], folder)
            else:
                # A copy made before a crash left the original flagged \\Deleted: done.
                if not client.search(["UID", str(uid), "UNDELETED"]):
                    return
                client.copy([uid], folder)
                self._delete(client, [uid])

    def move_many(self, keys: Sequence[str], folder: str) -> None:
        """Moves many UIDs with one command (UIDs already gone are no error)."""
        uids = [int(k) for k in keys]
        with self._guard() as client:
            if self._move:
                client.move(uids, folder)
                return
            left = client.search(["UID", ",".join(map(str, uids)), "UNDELETED"])
            if left:
                client.copy(left, folder)
                # One STORE for the whole set, so a drop cannot leave half of it unflagged
                # (each unflagged one would be copied again).
                self._delete(client, left)

    def replace(self, key: str, folder: str, raw: bytes) -> None:
        """Appends `raw` to the folder in place of the message, then deletes the original.
        Done again after a crash it appends nothing twice: the folder is searched first."""
        with self._guard() as client:
            uid = int(key)
            if not client.search(["UID", str(uid)]):
                return  # the original is gone: the replacement was made before
            message_id = _message_id(client.fetch([uid], ["BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]))
            if not message_id or not self._holds(client, folder, message_id):
                client.append(folder, raw)
            self._delete(client, [uid])

    def append(self, folder: str, raw: bytes) -> None:
        """Stores a message in a folder (our sent mail in Sent)."""
        with self._guard() as client:
            client.append(folder, raw, flags=[b"\\Seen"])

    def holds(self, folder: str, message_id: str) -> bool:
        """Whether a folder has a message with this Message-ID."""
        with self._guard() as client:
            return self._holds(client, folder, message_id)

    def _holds(self, client: IMAPClient, folder: str, message_id: str) -> bool:
        client.select_folder(folder, readonly=True)
        try:
            return bool(client.search(["HEADER", "Message-ID", message_id]))
        finally:
            client.select_folder(self.folder)

    def _delete(self, client: IMAPClient, uids: list[int]) -> None:
        client.add_flags(uids, [b"\\Deleted"])
        if self._uidplus:
            client.uid_expunge(uids)
        else:
            # Without UIDPLUS an EXPUNGE removes every message flagged \Deleted; flagged ones
            # of a person's would go too, so the flag is left and the server's own cleanup
            # (or a person) expunges it.
            log.warning("server lacks UIDPLUS: UIDs %s left flagged \\Deleted in the inbox", uids)

    @contextmanager
    def _guard(self) -> Iterator[IMAPClient]:
        # A failure of the connection is a MailboxError (an OSError): the poll stops and the
        # next one connects anew, the session dropped, never reused half-broken. A command
        # the server refused (NO, BAD: a full folder, a missing right) is a MailboxRefused: the
        # session is fine and the next message goes on.
        if self._client is None:
            raise MailboxError(f"{self.name}: not connected")
        try:
            yield self._client
        except TRANSPORT_ERRORS as err:
            if _refusal(err):
                raise MailboxRefused(f"{self.name}: {err}") from err
            self._drop()
            raise MailboxError(f"{self.name}: {err}") from err

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with suppress(*TRANSPORT_ERRORS):
                client.shutdown()


def _refusal(err: BaseException) -> bool:
    # imaplib's abort (a subclass of its error) means the connection is gone.
    return isinstance(err, imaplib.IMAP4.error) and not isinstance(err, imaplib.IMAP4.abort)


def _message_id(fetched: dict[int, dict[bytes, Any]]) -> str:
    for data in fetched.values():
        for name, value in data.items():
            if name.startswith(b"BODY[HEADER") and isinstance(value, bytes):
                text = value.decode("ascii", "replace")
                _, _, rest = text.partition(":")
                return " ".join(rest.split())
    return ""


def reachable(account: Account) -> str:
    """For doctor: logs in, reads the inbox's size, logs out."""
    with ImapMailbox(account) as mailbox:
        waiting = len(mailbox.waiting())
    return f"{account.user}@{account.host}:{account.port}, {waiting} message(s) waiting"


def _create(client: IMAPClient, name: str) -> None:
    # Another connection (the send job's, a second worker's) may make it at the same moment:
    # then the server answers NO [ALREADYEXISTS] (RFC 5530), which is what was wanted.
    try:
        client.create_folder(name)
    except IMAPClientError as err:
        if "ALREADYEXISTS" not in str(err).upper() or not client.folder_exists(name):
            raise
