"""Encrypted connections and logins against a real Dovecot (IMAPS, STARTTLS, XOAUTH2 checked
by token introspection) and a real aiosmtpd (STARTTLS, with a password or XOAUTH2), with
certificates from a private CA: the worker checks the certificate and the host name, and never
logs in over a connection it was told to encrypt but could not."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.conftest import make_mail
from tests.servers import (
    USER,
    Dovecot,
    Tls,
    dovecot_server,
    entra_id,
    free_port,
    oauth2_passdb,
    smtp_server,
    token_introspection,
)
from tests.service.test_jobs import COMMAND, environment
from worker.config import load_settings
from worker.errors import ConfigError, MailboxError
from worker.intake.account import Account, OAuth
from worker.intake.imap import ImapMailbox, reachable
from worker.reply.transports import SmtpTransport

SMTP_PASSWORD = "smtp-test-password"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return Tls.issue(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def dovecot(tls: Tls) -> Iterator[Dovecot]:
    with dovecot_server(tls=tls) as server:
        yield server


def imap(server: Dovecot, security: str, ca_file: Path | None) -> Account:
    port = server.tls_port if security == "tls" else server.port
    return Account(
        "127.0.0.1", port, security, server.user, server.password, timeout=10,  # type: ignore[arg-type]
        ca_file=str(ca_file or ""),
    )  # fmt: skip


def logins(server: Dovecot, expected: int = 0) -> list[str]:
    """The login lines in Dovecot's log, waiting (up to 5 s) for `expected` of them, since its
    log process writes them a little later."""
    deadline = time.monotonic() + 5
    while True:
        found = re.findall(r"imap-login: Info: Login: .*", server.log)
        if len(found) >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def assert_no_login_since(server: Dovecot, before: int) -> None:
    """No one logged in since `before` lines: a login of the test's own, once its line is
    written, must be the only new one (Dovecot writes its log a little later)."""
    with server.client():
        pass
    new = logins(server, before + 1)[before:]
    assert len(new) == 1, new


def a_mail(subject: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = USER
    message["To"] = "jan@example.nl"
    message["Subject"] = subject
    message["Message-ID"] = f"<{subject.replace(' ', '.')}@carerix.com>"
    message.set_content("Wij hebben uw verzoek ontvangen.")
    return message


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_imap_logs_in_over_tls_checked_against_the_configured_ca(
    dovecot: Dovecot, tls: Tls, security: str
) -> None:
    before = len(logins(dovecot))
    with ImapMailbox(imap(dovecot, security, tls.ca_file)) as mailbox:
        mailbox.append("Sent", bytes(a_mail(f"imap {security}")))
        assert mailbox.holds("Sent", f"<imap.{security}@carerix.com>")
    new = logins(dovecot, before + 1)[before:]
    # Dovecot marks a login made over an encrypted connection with "TLS".
    assert new and all(", TLS," in line for line in new), dovecot.log


def test_imap_refuses_a_certificate_from_a_ca_it_was_not_given(dovecot: Dovecot) -> None:
    before = len(logins(dovecot))
    with pytest.raises(MailboxError, match="CERTIFICATE_VERIFY_FAILED"):
        reachable(imap(dovecot, "tls", None))
    assert_no_login_since(dovecot, before)


def test_imap_refuses_a_certificate_for_another_host(tmp_path: Path) -> None:
    other = Tls.issue(tmp_path, "mail.example.nl")
    with dovecot_server(tls=other) as server:
        with pytest.raises(MailboxError, match="mismatch"):
            reachable(imap(server, "starttls", other.ca_file))
        assert_no_login_since(server, 0)


def test_imap_starttls_against_a_server_without_it_never_sends_the_password() -> None:
    with dovecot_server() as server:
        with pytest.raises(MailboxError, match="does not support STARTTLS"):
            reachable(imap(server, "starttls", None))
        assert_no_login_since(server, 0)


def test_smtp_sends_over_starttls_with_a_login(tls: Tls) -> None:
    with smtp_server(tls=tls, password=SMTP_PASSWORD) as (sink, _):
        account = Account(
            "localhost", sink.port, "starttls", USER, SMTP_PASSWORD, timeout=10,
            ca_file=str(tls.ca_file),
        )  # fmt: skip
        with SmtpTransport(account, None) as transport:
            transport.send(bytes(a_mail("smtp starttls")), USER, ["jan@example.nl"])
        assert len(sink.messages()) == 1
        assert sink.encrypted == [True] and sink.logins == [USER]


def test_smtp_refuses_a_certificate_from_a_ca_it_was_not_given(tls: Tls) -> None:
    with smtp_server(tls=tls, password=SMTP_PASSWORD) as (sink, _):
        account = Account("localhost", sink.port, "starttls", USER, SMTP_PASSWORD, timeout=10)
        with SmtpTransport(account, None) as transport, pytest.raises(OSError, match="VERIFY"):
            transport.send(bytes(a_mail("smtp unknown ca")), USER, ["jan@example.nl"])
        assert sink.messages() == []


class FixedToken(OAuth):
    """App-only credentials whose token is given, not fetched from Entra ID (which this
    network cannot reach): what is tested is the XOAUTH2 login that uses it."""

    def token(self, timeout: float = 60.0) -> str:
        return self.client_secret


@pytest.mark.parametrize("token", ["good-token", "expired-token"])
def test_imap_logs_in_with_xoauth2_over_tls(tmp_path: Path, tls: Tls, token: str) -> None:
    with (
        token_introspection("good-token") as url,
        dovecot_server(tls=tls, extra=oauth2_passdb(tmp_path, url)) as server,
    ):
        account = Account(
            "localhost", server.tls_port, "tls", USER, oauth=FixedToken("t", "c", token),
            timeout=10, ca_file=str(tls.ca_file),
        )  # fmt: skip
        if token == "good-token":
            assert reachable(account).startswith(USER)
            assert "method=XOAUTH2" in logins(server, 1)[0]
        else:
            with pytest.raises(MailboxError, match="AUTHENTICATIONFAILED"):
                reachable(account)
            assert_no_login_since(server, 0)


@pytest.mark.parametrize("token, sent", [("good-token", 1), ("expired-token", 0)])
def test_smtp_logs_in_with_xoauth2_over_starttls(tls: Tls, token: str, sent: int) -> None:
    with smtp_server(tls=tls, bearer="good-token") as (sink, _):
        oauth = FixedToken("tenant", "client", token)
        account = Account(
            "localhost", sink.port, "starttls", USER, oauth=oauth, timeout=10,
            ca_file=str(tls.ca_file),
        )  # fmt: skip
        with SmtpTransport(account, None) as transport:
            if sent:
                transport.send(bytes(a_mail("smtp xoauth2")), USER, ["jan@example.nl"])
            else:
                with pytest.raises(OSError, match="535"):
                    transport.send(bytes(a_mail("smtp xoauth2")), USER, ["jan@example.nl"])
        assert len(sink.messages()) == sent
        assert sink.logins == [USER] * sent


def test_smtp_starttls_against_a_server_without_it_sends_nothing() -> None:
    with smtp_server(password=None) as (sink, _):
        account = Account("127.0.0.1", sink.port, "starttls", USER, SMTP_PASSWORD, timeout=10)
        with SmtpTransport(account, None) as transport, pytest.raises(OSError, match="STARTTLS"):
            transport.send(bytes(a_mail("smtp plain")), USER, ["jan@example.nl"])
        assert sink.messages() == []


def test_a_ca_file_that_does_not_load_stops_start_up(tmp_path: Path) -> None:
    broken = tmp_path / "ca.pem"
    broken.write_text("not a certificate\n")
    for path in (broken, tmp_path / "missing.pem"):
        with pytest.raises(ConfigError, match="tls_ca_file"):
            load_settings(None, environ={"PRIVACY_WORKER_TLS_CA_FILE": str(path)})


def test_the_service_runs_over_imaps_and_smtp_starttls(
    tmp_path: Path, dovecot: Dovecot, tls: Tls
) -> None:
    request = "Graag wil ik inzage in alle persoonsgegevens die u van mij verwerkt."
    dovecot.deliver(make_mail(request, subject="Inzage").replace(b"<test@", b"<tls-run@"))
    with smtp_server(tls=tls, password=SMTP_PASSWORD) as (sink, _):
        env = environment(
            tmp_path, dovecot, sink,
            imap_port=str(dovecot.tls_port), imap_security="tls", imap_host="localhost",
            smtp_security="starttls", smtp_host="localhost", smtp_password=SMTP_PASSWORD,
            tls_ca_file=str(tls.ca_file),
        )  # fmt: skip
        done = subprocess.run([*COMMAND, "run", "--once"], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert "1 message(s) taken in: 1 new case" in done.stdout
        assert dovecot.folder("INBOX") == []
        # The acknowledgement went out encrypted, after a login, and was filed in Sent.
        assert len(sink.messages()) == 1 and sink.encrypted == [True] and sink.logins == [USER]
        assert b"<tls-run@example.nl>" in dovecot.folder("Sent")[-1]


def test_the_service_logs_in_to_imap_and_smtp_with_an_m365_app_token(
    tmp_path: Path, tls: Tls
) -> None:
    request = "Graag wil ik inzage in alle persoonsgegevens die u van mij verwerkt."
    with (
        entra_id(tls, "tenant-1", "client-1", "app-secret", "app-token") as idp,
        token_introspection("app-token") as url,
        dovecot_server(tls=tls, extra=oauth2_passdb(tmp_path, url)) as imap,
        smtp_server(tls=tls, bearer="app-token") as (sink, _),
    ):
        imap.deliver(make_mail(request, subject="Inzage").replace(b"<test@", b"<m365@"))
        before = len(logins(imap, 1))  # the test's own login, to deliver
        env = environment(
            tmp_path, imap, sink,
            imap_port=str(imap.tls_port), imap_security="tls", imap_host="localhost",
            smtp_security="starttls", smtp_host="localhost", tls_ca_file=str(tls.ca_file),
            auth="m365-oauth", m365_tenant_id="tenant-1", m365_client_id="client-1",
            m365_client_secret="app-secret", m365_authority=idp.url,
        )  # fmt: skip
        # msal fetches the token with requests, which trusts the CAs this names.
        env["REQUESTS_CA_BUNDLE"] = str(tls.ca_file)
        done = subprocess.run([*COMMAND, "run", "--once"], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert "1 message(s) taken in: 1 new case" in done.stdout
        worker = logins(imap, before + 1)[before:]
        assert worker and all("method=XOAUTH2" in line for line in worker), worker
        assert len(sink.messages()) == 1 and sink.logins == [USER]
        assert idp.requests and all(
            r["scope"] == ["https://outlook.office365.com/.default"] for r in idp.requests
        )
        assert set(idp.paths) == {
            "/tenant-1/v2.0/.well-known/openid-configuration",
            "/tenant-1/oauth2/v2.0/token",
        }


def test_a_token_that_cannot_be_fetched_is_a_mailbox_error(
    tls: Tls, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A sign-in host that is down, then one that refuses the secret: both are told as a
    # MailboxError, which the poll and the send round report and retry, never a crash.
    down = OAuth("tenant-1", "client-1", "app-secret", authority=f"https://127.0.0.1:{free_port()}")
    with pytest.raises(MailboxError, match="Microsoft 365 token"):
        down.token(timeout=5)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls.ca_file))
    with entra_id(tls, "tenant-1", "client-1", "app-secret", "app-token") as idp:
        refused = OAuth("tenant-1", "client-1", "wrong-secret", authority=idp.url)
        with pytest.raises(MailboxError, match="bad secret"):
            refused.token(timeout=5)
