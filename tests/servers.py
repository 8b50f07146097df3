"""Real servers on 127.0.0.1 for the tests: a private Dovecot (IMAP) and an aiosmtpd (SMTP).

Dovecot runs as root with its own config file and temporary folder; its facts of life on these
machines are in ../shared/notes/dovecot-in-tests.md (login user, uid of the userdb, short paths,
output to a file, stop by master.pid only, `ss -K` to drop connections)."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import default
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest

USER = "privacy@carerix.com"
PASSWORD = "test-password"

_CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/dovecot.log
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = dovenull
default_internal_user = dovecot
default_internal_group = dovecot
first_valid_uid = 1
mail_location = maildir:{base}/mail/%u
mail_max_userip_connections = 200
passdb {{
  driver = passwd-file
  args = {base}/passwd
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={base}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = create
  }}
}}
{extra}
"""


@dataclass(frozen=True)
class Tls:
    """A private CA (trustme) and a server certificate it issued, as PEM files."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    @classmethod
    def issue(cls, folder: Path, *names: str) -> Tls:
        import trustme

        ca = trustme.CA()
        leaf = ca.issue_cert(*(names or ("localhost", "127.0.0.1")))
        tls = cls(folder / "ca.pem", folder / "server.pem", folder / "server.key")
        ca.cert_pem.write_to_path(str(tls.ca_file))
        for blob in leaf.cert_chain_pems:
            blob.write_to_path(str(tls.cert_file), append=True)
        leaf.private_key_pem.write_to_path(str(tls.key_file))
        return tls

    def server_context(self):  # type: ignore[no-untyped-def]
        import ssl

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Dovecot:
    """A running private Dovecot: its port, its folder, and ways to hurt it."""

    base: Path
    port: int
    host: str = "127.0.0.1"
    user: str = USER
    password: str = PASSWORD
    tls_port: int = 0

    @property
    def log(self) -> str:
        path = self.base / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    @property
    def config(self) -> Path:
        return self.base / "dovecot.conf"

    def client(self):  # type: ignore[no-untyped-def]
        """A plain imapclient session, logged in: the test's own view of the mailbox."""
        from imapclient import IMAPClient

        client = IMAPClient(self.host, self.port, ssl=False, timeout=10)
        client.login(self.user, self.password)
        return client

    def deliver(self, raw: bytes, folder: str = "INBOX") -> None:
        with self.client() as client:
            client.append(folder, raw)

    def folder(self, name: str) -> list[bytes]:
        """The raw messages in a folder, in UID order."""
        with self.client() as client:
            if not client.folder_exists(name):
                return []
            client.select_folder(name, readonly=True)
            uids = client.search(["ALL"])
            found = client.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
            return [found[uid][b"BODY[]"] for uid in sorted(found)]

    def subjects(self, name: str) -> list[str]:
        return [str(message_from_bytes(r, policy=default)["Subject"]) for r in self.folder(name)]

    def drop_connections(self) -> None:
        """Resets every TCP connection to the server, as a network failure would."""
        subprocess.run(
            ["ss", "-K", f"( sport = :{self.port} or dport = :{self.port} )"],
            check=True,
            capture_output=True,
        )

    def new_uidvalidity(self, folder: str = "INBOX") -> None:
        """Gives a folder a new UIDVALIDITY, as a server restored from backup or rebuilt does."""
        subprocess.run(
            [
                "doveadm",
                "-c",
                str(self.config),
                "mailbox",
                "update",
                "-u",
                self.user,
                "--uid-validity",
                str(int(time.time()) + 1000),
                folder,
            ],
            check=True,
            capture_output=True,
        )


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    for root, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            os.chown(os.path.join(root, name), uid, gid)
    os.chown(path, uid, gid)


@contextmanager
def dovecot_server(extra: str = "", tls: Tls | None = None) -> Iterator[Dovecot]:
    """Starts a private Dovecot, with IMAPS and STARTTLS when given a certificate; the tests
    fail (never skip) when it cannot run here."""
    if shutil.which("dovecot") is None or os.geteuid() != 0:
        pytest.fail("Dovecot tests need Debian's dovecot-imapd and root (./dev setup installs it)")
    # Short path: Dovecot's unix socket names break on long ones.
    base = Path(tempfile.mkdtemp(prefix="dv", dir="/tmp"))
    base.chmod(0o755)
    port = free_port()
    owner = pwd.getpwnam("dovecot")
    for sub in ("run", "state", "mail", "home"):
        (base / sub).mkdir()
    _chown_tree(base / "mail", owner.pw_uid, owner.pw_gid)
    _chown_tree(base / "home", owner.pw_uid, owner.pw_gid)
    (base / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    server = Dovecot(base, port, tls_port=free_port() if tls else 0)
    ssl = (
        f"ssl = yes\nssl_cert = <{tls.cert_file}\nssl_key = <{tls.key_file}" if tls else "ssl = no"
    )
    server.config.write_text(
        _CONFIG.format(base=base, port=port, extra=extra, ssl=ssl, tls_port=server.tls_port)
    )
    with (base / "stdout.log").open("wb") as log:
        subprocess.run(["dovecot", "-c", str(server.config)], stdout=log, stderr=log, check=True)
    try:
        _wait_for(port)
        if tls:
            _wait_for(server.tls_port)
        yield server
    finally:
        pid = int((base / "run" / "master.pid").read_text())
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        shutil.rmtree(base, ignore_errors=True)


class _JsonHandler(BaseHTTPRequestHandler):
    """Answers in JSON and keeps quiet on stderr; the stand-ins below subclass it."""

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode())

    def answer(self, status: int, value: object) -> None:
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@contextmanager
def _http_server(handler: type[BaseHTTPRequestHandler], tls: Tls | None) -> Iterator[str]:
    """Serves the handler on 127.0.0.1 (over HTTPS with a certificate); yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    if tls is not None:
        server.socket = tls.server_context().wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        yield f"https://localhost:{port}" if tls else f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def token_introspection(token: str) -> Iterator[str]:
    """An OAuth2 token introspection endpoint (RFC 7662) on 127.0.0.1 that knows one bearer
    token, USER's: what Dovecot's oauth2 passdb asks whether a token is good. Yields its URL."""

    class Introspection(_JsonHandler):
        def do_POST(self) -> None:
            good = self.form().get("token") == [token]
            self.answer(200, {"active": True, "username": USER} if good else {"active": False})

    with _http_server(Introspection, None) as url:
        yield f"{url}/introspect"


@dataclass
class EntraId:
    """A stand-in for Entra ID's token endpoint (over HTTPS) that gives one app, with one
    secret, the token `token` by the client-credentials flow; it keeps the requests made."""

    url: str = ""
    requests: list[dict[str, list[str]]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


@contextmanager
def entra_id(tls: Tls, tenant: str, client: str, secret: str, token: str) -> Iterator[EntraId]:
    idp = EntraId()

    class Endpoint(_JsonHandler):
        def do_GET(self) -> None:
            # msal reads the tenant's OpenID configuration first.
            idp.paths.append(self.path)
            base = f"{idp.url}/{tenant}"
            self.answer(
                200,
                {
                    "issuer": f"{base}/v2.0",
                    "token_endpoint": f"{base}/oauth2/v2.0/token",
                    "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                },
            )

        def do_POST(self) -> None:
            form = self.form()
            idp.requests.append(form)
            idp.paths.append(self.path)
            app = (form.get("grant_type"), form.get("client_id"), form.get("client_secret"))
            if app == (["client_credentials"], [client], [secret]):
                self.answer(
                    200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600}
                )
            else:
                self.answer(401, {"error": "invalid_client", "error_description": "bad secret"})

    with _http_server(Endpoint, tls) as idp.url:
        yield idp


def oauth2_passdb(base: Path, url: str) -> str:
    """Dovecot settings that take XOAUTH2 logins, checking each token at the URL."""
    conf = base / "oauth2.conf.ext"
    conf.write_text(
        f"introspection_mode = post\nintrospection_url = {url}\n"
        "username_attribute = username\nactive_attribute = active\nactive_value = true\n"
    )
    return (
        "auth_mechanisms = plain login xoauth2 oauthbearer\n"
        f"passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = {conf}\n}}\n"
    )


def _wait_for(port: int) -> None:
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"Dovecot did not listen on port {port}")


@dataclass
class SmtpSink:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it is sent."""

    port: int
    host: str = "127.0.0.1"
    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Per mail received: whether its session was encrypted, and who had logged in.
    encrypted: list[bool] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    # Called as each mail is taken, before the server answers 250 (benchmarks/bench_outbox_kill.py).
    on_received: Callable[[], None] | None = None

    def messages(self) -> list[bytes]:
        with self.lock:
            return [raw for _, _, raw in self.received]


@contextmanager
def smtp_server(
    port: int | None = None,
    tls: Tls | None = None,
    password: str | None = None,
    bearer: str | None = None,
) -> Iterator[tuple[SmtpSink, object]]:
    """Starts aiosmtpd; yields the sink and its controller (stop() and start() it again).
    With a certificate it offers STARTTLS and requires it; with a password it requires a login
    as USER with it, with a bearer token an XOAUTH2 login as USER with that token."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    sink = SmtpSink(port or free_port())

    class Handler:
        # Addresses at refused.example get a permanent refusal, at later.example a temporary one.
        async def handle_RCPT(
            self, server: object, session: object, envelope: object, address: str, _: object
        ) -> str:
            if address.endswith("@refused.example"):
                return "550 5.1.1 no such user"
            if address.endswith("@later.example"):
                return "451 4.3.0 try again later"
            envelope.rcpt_tos.append(address)  # type: ignore[attr-defined]
            return "250 OK"

        async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
            with sink.lock:
                sink.received.append(
                    (envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)  # type: ignore[attr-defined]
                )
                sink.encrypted.append(bool(getattr(session, "ssl", None)))
                login = getattr(session, "auth_data", None)
                sink.logins.append(login.decode() if isinstance(login, bytes) else str(login))
            if sink.on_received is not None:
                sink.on_received()
            return "250 OK"

        async def auth_XOAUTH2(self, server: object, args: list[str]) -> AuthResult:
            # The initial response: base64 of "user=U^Aauth=Bearer T^A^A" (Google's and
            # Microsoft's XOAUTH2).
            expected = f"user={USER}\x01auth=Bearer {bearer}\x01\x01"
            given = base64.b64decode(args[1]).decode() if len(args) > 1 else ""
            good = bearer is not None and given == expected
            return AuthResult(
                success=good, handled=False, auth_data=USER.encode() if good else None
            )

    def authenticator(
        server: object, session: object, envelope: object, mechanism: str, data: object
    ) -> AuthResult:
        good = (
            password is not None
            and isinstance(data, LoginPassword)
            and (data.login, data.password) == (USER.encode(), password.encode())
        )
        return AuthResult(success=good, auth_data=USER.encode() if good else None)

    options: dict[str, object] = {}
    if tls is not None:
        options.update(tls_context=tls.server_context(), require_starttls=True)
    if password is not None or bearer is not None:
        options.update(authenticator=authenticator, auth_required=True)
    controller = Controller(Handler(), hostname="127.0.0.1", port=sink.port, **options)
    controller.start()
    try:
        yield sink, controller
    finally:
        # A test may have stopped it already.
        with contextlib.suppress(AssertionError, RuntimeError):
            controller.stop()


@contextmanager
def postgres_server() -> Iterator[str]:
    """A private PostgreSQL cluster on 127.0.0.1 (Debian's postgresql, run as its user);
    yields its SQLAlchemy URL. Fails (never skips) when it cannot run here."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not versions or os.geteuid() != 0:
        pytest.fail("PostgreSQL tests need Debian's postgresql and root (./dev setup installs it)")
    bindir = versions[-1].parent
    base = Path(tempfile.mkdtemp(prefix="pg", dir="/tmp"))
    base.chmod(0o755)
    owner = pwd.getpwnam("postgres")
    os.chown(base, owner.pw_uid, owner.pw_gid)
    port = free_port()

    def as_postgres(*command: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *command], check=True, capture_output=True
        )

    as_postgres(str(bindir / "initdb"), "-D", str(base / "data"), "-A", "trust", "-U", "postgres")
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
    as_postgres(
        str(bindir / "pg_ctl"),
        "-D",
        str(base / "data"),
        "-o",
        options,
        "-l",
        str(base / "log"),
        "-w",
        "start",
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        as_postgres(str(bindir / "pg_ctl"), "-D", str(base / "data"), "-m", "immediate", "stop")
        shutil.rmtree(base, ignore_errors=True)
