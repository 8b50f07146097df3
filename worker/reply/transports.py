"""Where outgoing mail goes: an SMTP server (smtplib) with a copy filed in the IMAP Sent
folder, or, in the embedded default, a local Maildir that is itself the record of what left."""

from __future__ import annotations

import hashlib
import os
import smtplib
from pathlib import Path

from worker.errors import MaybeSent, SendError
from worker.intake.account import Account
from worker.intake.imap import ImapMailbox


class MaildirOutbox:
    """Sending is delivering into a Maildir, under a name made from the Message-ID, so sending
    the same mail again changes nothing."""

    def __init__(self, path: Path) -> None:
        self.path = path
        for sub in ("tmp", "new", "cur"):
            (path / sub).mkdir(parents=True, exist_ok=True)

    def send(self, raw: bytes, sender: str, recipients: list[str]) -> None:
        message_id = _message_id(raw)
        if self.was_sent(message_id):
            return
        name = self._name(message_id)
        temporary = self.path / "tmp" / name
        temporary.write_bytes(raw)
        os.replace(temporary, self.path / "new" / name)

    def was_sent(self, message_id: str) -> bool:
        name = self._name(message_id)
        return any((self.path / sub / name).exists() for sub in ("new", "cur"))

    def file(self, raw: bytes, message_id: str) -> None:
        """The Maildir is the Sent folder already."""

    def sent(self) -> list[bytes]:
        """Every mail sent, oldest first (for the summary and the tests)."""
        files = [p for sub in ("new", "cur") for p in (self.path / sub).iterdir()]
        return [p.read_bytes() for p in sorted(files, key=lambda p: p.stat().st_mtime_ns)]

    @staticmethod
    def _name(message_id: str) -> str:
        return hashlib.sha256(message_id.encode()).hexdigest()[:32] + ".eml"


class SmtpTransport:
    """SMTP submission over TLS or STARTTLS, with password or XOAUTH2, one connection per
    round; the Sent folder is the IMAP account's."""

    def __init__(self, account: Account, sent: ImapMailbox | None) -> None:
        self.account = account
        self.sent_box = sent
        self._smtp: smtplib.SMTP | None = None

    def send(self, raw: bytes, sender: str, recipients: list[str]) -> None:
        # The steps one by one, so that a failure before the data (certainly not sent) is
        # told apart from one after it (perhaps sent: MaybeSent).
        smtp = self._connection()
        try:
            smtp.ehlo_or_helo_if_needed()
            options = ["BODY=8BITMIME"] if smtp.has_extn("8bitmime") else []
            self._reply(smtp.mail(sender, options), "MAIL FROM")
            for recipient in recipients:
                self._reply(smtp.rcpt(recipient), f"RCPT TO {recipient}")
        except SendError:
            raise
        except (smtplib.SMTPServerDisconnected, OSError) as err:
            self.close()
            raise OSError(f"SMTP {self.account.host}: {err}") from err
        try:
            code, answer = smtp.data(raw)
        except smtplib.SMTPDataError as err:
            self._reset(smtp, err.smtp_code)
            raise SendError(
                f"DATA {err.smtp_code} {err.smtp_error!r}", err.smtp_code >= 500
            ) from err
        except (smtplib.SMTPException, OSError) as err:
            self.close()
            raise MaybeSent(f"SMTP {self.account.host} after DATA: {err}") from err
        if code != 250:
            raise SendError(f"DATA {code} {answer!r}", code >= 500)

    def _reply(self, reply: tuple[int, bytes], step: str) -> None:
        code, answer = reply
        if code in (250, 251):
            return
        assert self._smtp is not None
        self._reset(self._smtp, code)
        raise SendError(f"{step}: {code} {answer!r}", code >= 500)

    def _reset(self, smtp: smtplib.SMTP, code: int) -> None:
        # 421: the server is closing the connection; the next mail connects anew.
        if code == 421:
            self.close()
            return
        try:
            smtp.rset()
        except (smtplib.SMTPException, OSError):
            self.close()

    def reachable(self) -> str:
        """For doctor: connects and logs in (NOOP), sends nothing."""
        self._connection().noop()
        return f"{self.account.user}@{self.account.host}:{self.account.port} accepts a login"

    def was_sent(self, message_id: str) -> bool:
        if self.sent_box is None:
            return False
        return self.sent_box.holds(self.account.sent_folder, message_id)

    def file(self, raw: bytes, message_id: str) -> None:
        if self.sent_box is not None:
            self.sent_box.append(self.account.sent_folder, raw)

    def __enter__(self) -> SmtpTransport:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is not None:
            return self._smtp
        account = self.account
        try:
            context = account.tls()
            if account.security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    account.host, account.port, timeout=account.timeout, context=context
                )
            else:
                smtp = smtplib.SMTP(account.host, account.port, timeout=account.timeout)
        except (smtplib.SMTPException, OSError) as err:
            raise OSError(f"SMTP {account.host}:{account.port}: {err}") from err
        try:
            if account.security == "starttls":
                smtp.starttls(context=context)
            self._login(smtp)
        except (smtplib.SMTPException, OSError) as err:
            smtp.close()
            raise OSError(f"SMTP {account.host}:{account.port}: {err}") from err
        self._smtp = smtp
        return smtp

    def _login(self, smtp: smtplib.SMTP) -> None:
        account = self.account
        if account.oauth is not None:
            token = account.oauth.token(account.timeout)
            smtp.ehlo()
            smtp.auth(
                "XOAUTH2",
                lambda _=None: f"user={account.user}\x01auth=Bearer {token}\x01\x01",
                initial_response_ok=True,
            )
        elif account.secret:
            smtp.login(account.user, account.secret)


def _message_id(raw: bytes) -> str:
    from email.parser import BytesHeaderParser

    return str(BytesHeaderParser().parsebytes(raw).get("Message-ID", "")).strip()
