"""The review page in a real headless Chromium (Debian's), driven by Playwright, against the
real server (`privacy-worker review` in a subprocess) over a store of real ingested mails."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from http.cookiejar import CookieJar
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tests.conftest import FIXTURES, ROOT
from worker.intake.maildir import Maildir
from worker.judge.classify import Classifier
from worker.review.users import set_password
from worker.service.filing import Policy
from worker.service.ingest import ingest
from worker.store.models import Audit, Case, Outgoing, open_store

CHROMIUM = Path("/usr/bin/chromium")
# Debian's Chromium as root in a closed network: no sandbox (root), no GPU, and none of the
# background connections that this machine's network refuses.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
USER, PASSWORD = "alice", "correct horse battery staple"
MAILS = {
    "overdue": "en-correction-and-restriction.eml",  # review
    "soon": "de-inspection-auskunft.eml",  # open
    "close": "en-deletion-formal-art17.eml",
    "csrf": "nl-processor-flexwerk-ambiguous.eml",
    "stale": "en-deletion-plz-remove.eml",
    "reply": "nl-inspection-multipart-alt.eml",
}
SCRIPT_TEXT = 'Delete my data please. <script>alert("text")</script> <b>not bold</b>'


def hostile_mail() -> bytes:
    """A request whose subject, text and HTML parts all carry markup and script."""
    message = EmailMessage()
    message["From"] = "Mallory <mallory@example.nl>"
    message["To"] = "privacy@carerix.com"
    message["Subject"] = "Delete my data <script>alert('subject')</script>"
    message["Message-ID"] = "<hostile@example.nl>"
    message.set_content(SCRIPT_TEXT)
    message.add_alternative(
        "<p>Delete my data</p><script>alert('html')</script><img src=x onerror=alert('img')>",
        subtype="html",
    )
    message.add_attachment(b"a,b\n1,2\n", maintype="text", subtype="csv", filename="data.csv")
    return message.as_bytes()


@dataclass(frozen=True)
class Server:
    """The running review page and the store behind it."""

    url: str
    engine: Engine
    references: dict[str, str]

    def case(self, name: str) -> Case:
        with Session(self.engine, expire_on_commit=False) as session:
            found = session.scalar(select(Case).where(Case.reference == self.references[name]))
            assert found is not None
            return found

    def log(self, name: str) -> list[tuple[str, str, str]]:
        with Session(self.engine) as session:
            case = session.scalar(select(Case).where(Case.reference == self.references[name]))
            assert case is not None
            rows = session.scalars(select(Audit).where(Audit.case_id == case.id))
            return [(a.actor, a.action, a.detail) for a in rows]


def fill_store(url: str, root: Path, classifier: Classifier) -> dict[str, str]:
    """Ingests the fixture mails and the hostile one; the overdue and soon cases get due dates
    in the past and within the week. Returns each mail's case reference by its MAILS name."""
    engine = open_store(url)
    mailbox = Maildir(root / "mailbox")
    raws = {name: (FIXTURES / "mail" / file).read_bytes() for name, file in MAILS.items()}
    raws["hostile"] = hostile_mail()
    for raw in raws.values():
        mailbox.deliver(raw)
    with Session(engine) as session:
        by_hash = {m.content_hash: m.case for m in ingest(session, mailbox, classifier, Policy())}
        cases = {name: by_hash[hashlib.sha256(raw).hexdigest()] for name, raw in raws.items()}
        moment = dt.datetime.now(dt.UTC)
        cases["overdue"].due_at = moment - dt.timedelta(days=3)
        cases["soon"].due_at = moment + dt.timedelta(days=2, hours=1)
        session.commit()
        references = {name: case.reference for name, case in cases.items()}
    engine.dispose()
    return references


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, classifier: Classifier) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("review")
    store_url = f"sqlite:///{root / 'cases.sqlite'}"
    references = fill_store(store_url, root, classifier)
    set_password(root / "users", USER, PASSWORD)
    port = free_port()
    env = dict(
        os.environ,
        PRIVACY_WORKER_CONFIG="",
        PRIVACY_WORKER_STORE_URL=store_url,
        PRIVACY_WORKER_REVIEW_USERS_FILE=str(root / "users"),
    )
    command = [sys.executable, "-m", "worker", "review", "--listen", f"127.0.0.1:{port}"]
    command += ["--tenants", str(FIXTURES / "tenants.yaml")]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        wait_for(port, process)
        engine = open_store(store_url)
        yield Server(f"http://127.0.0.1:{port}", engine, references)
        engine.dispose()
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()


def wait_for(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode() if process.stdout else ""
            pytest.fail(f"privacy-worker review exited with {process.returncode}:\n{output}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail("privacy-worker review did not listen within 30 s")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists() or shutil.which("chromium") is None:
        message = "Debian's chromium is not installed: run ./dev setup (as root or with sudo)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs it through ./dev: missing there is a failure
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()  # its own cookies: every test starts logged out
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def log_in(page: Page, server: Server, password: str = PASSWORD) -> None:
    page.goto(server.url + "/")
    page.fill("input[name=name]", USER)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def queue_rows(page: Page) -> list[dict[str, str]]:
    """The queue table as the browser shows it: reference, status, days, CSS class."""
    rows: list[dict[str, str]] = page.eval_on_selector_all(
        "#queue tbody tr[data-reference]",
        """rows => rows.map(r => ({reference: r.dataset.reference, status: r.cells[1].innerText,
            days: r.cells[2].innerText, urgency: r.className,
            colour: getComputedStyle(r.cells[2]).color}))""",
    )
    return rows


def http(
    server: Server, path: str, data: dict[str, str] | None = None, jar: CookieJar | None = None
) -> tuple[int, str, dict[str, str]]:
    """A plain HTTP request (no browser), redirects not followed: status, body, headers."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(
        NoRedirect, urllib.request.HTTPCookieProcessor(CookieJar() if jar is None else jar)
    )
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    try:
        with opener.open(server.url + path, body, timeout=10) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(), dict(err.headers)


def test_without_login_no_page_shows_case_data(page: Page, server: Server) -> None:
    case = server.case("overdue")
    page.goto(f"{server.url}/case/{case.reference}")
    assert urllib.parse.urlparse(page.url).path == "/login"
    page.goto(server.url + "/?status=review")
    assert urllib.parse.urlparse(page.url).path == "/login"
    assert case.requester not in page.content() and case.reference not in page.content()
    # Without a browser too: a redirect to the login and an empty body.
    status, body, headers = http(server, f"/case/{case.reference}")
    assert status == 303 and headers["location"].startswith("/login") and body == ""


def test_a_wrong_password_is_refused_and_logs_nobody_in(page: Page, server: Server) -> None:
    log_in(page, server, password="wrong password entirely")
    assert page.locator("#error").inner_text() == "Wrong name or password."
    assert not [c for c in page.context.cookies() if c["name"] == "review_session"]
    page.goto(server.url + "/")
    assert urllib.parse.urlparse(page.url).path == "/login"


def test_the_queue_puts_review_first_by_due_date_and_marks_overdue_and_soon(
    page: Page, server: Server
) -> None:
    log_in(page, server)
    assert page.locator("#staff-user").inner_text() == USER
    rows = queue_rows(page)
    statuses = [r["status"] for r in rows]
    assert statuses == sorted(statuses, key=["review", "open"].index), "review before open"
    for status in ("review", "open"):
        days = [r["days"] for r in rows if r["status"] == status]
        numbers = [-int(d.split()[0]) if "overdue" in d else int(d) for d in days]
        assert numbers == sorted(numbers), f"{status} cases by due date"
    first, soon = rows[0], next(r for r in rows if r["status"] == "open")
    assert first["reference"] == server.references["overdue"] and first["days"] == "3 overdue"
    assert first["urgency"] == "overdue" and first["colour"] == "rgb(176, 0, 32)"  # red
    assert soon["reference"] == server.references["soon"] and soon["urgency"] == "soon"
    assert page.locator("#overdue").inner_text() == "1 overdue"
    page.click("nav.filters a[href='/?status=open']")
    page.wait_for_url("**/?status=open")
    assert {r["status"] for r in queue_rows(page)} == {"open"}


def test_a_case_shows_its_reasons_and_the_mail_text(page: Page, server: Server) -> None:
    log_in(page, server)
    case = server.case("overdue")
    page.click(f"#queue a:text-is('{case.reference}')")
    assert page.locator("h1").inner_text() == case.reference
    assert page.locator("#reasons li").all_inner_texts() == case.reasons
    assert "also asks for restriction" in case.reasons[0]
    assert "Tomasz Kowalski" in page.locator(".message dl").first.inner_text()
    body = page.locator("pre.body").first.inner_text()
    assert "please restrict the processing of my data" in body.replace("\n", " ")
    assert page.locator("#id-findings").inner_text().count("none") == 3


def test_mail_markup_and_script_are_shown_as_text_and_never_run(page: Page, server: Server) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text))
    log_in(page, server)
    page.goto(f"{server.url}/case/{server.references['hostile']}")
    page.wait_for_timeout(300)  # time for anything that would run to run
    assert dialogs == []
    assert page.locator("script, img, b").count() == 0  # no element came from the mail
    text = page.locator("main").inner_text()
    assert SCRIPT_TEXT in text and "<script>alert('subject')</script>" in text
    attachments = page.locator("table.attachments tbody tr td").all_inner_texts()
    assert attachments == ["data.csv", "text/csv", "8"]
    assert errors == []


def test_closing_a_case_with_a_note_records_the_user_in_the_audit_log(
    page: Page, server: Server
) -> None:
    log_in(page, server)
    page.goto(f"{server.url}/case/{server.references['close']}")
    page.fill("#close-form textarea[name=note]", "Answered by letter on 2 March.")
    page.click("#close")
    assert page.locator("#status").inner_text() == "closed"
    assert "Answered by letter on 2 March." in page.locator("#audit").inner_text()
    assert server.case("close").status == "closed"
    expected = (USER, "closed", "open -> closed: Answered by letter on 2 March.")
    assert server.log("close")[-1] == expected


def test_staff_queue_an_acknowledgement_and_a_forward_that_does_not_fit_is_refused(
    page: Page, server: Server
) -> None:
    log_in(page, server)
    page.goto(f"{server.url}/case/{server.references['reply']}")
    page.select_option("#reply-form select[name=reply]", "forward")
    page.click("#reply")
    assert "forwarding needs category processor_routed" in page.content()
    page.goto(f"{server.url}/case/{server.references['reply']}")
    page.select_option("#reply-form select[name=reply]", "ack")
    page.click("#reply")
    table = page.locator("#outgoing").inner_text()
    assert "ack-inspection" in table and "pending" in table
    with Session(server.engine) as session:
        rows = list(session.scalars(select(Outgoing)))
    assert [(r.kind, r.status) for r in rows] == [("ack-inspection", "pending")]
    assert server.log("reply")[-1][:2] == (USER, "reply")


def test_a_post_without_the_csrf_token_changes_nothing(server: Server) -> None:
    jar = CookieJar()
    http(server, "/login", jar=jar)  # the login form's cookie
    login_token = next(c.value for c in jar if c.name == "review_login")
    form = {"csrf": login_token or "", "name": USER, "password": PASSWORD, "next": "/"}
    status, _, _ = http(server, "/login", form, jar)
    assert status == 303 and any(c.name == "review_session" for c in jar)
    reference = server.references["csrf"]
    before = server.log("csrf")
    for form in ({"note": "x"}, {"note": "x", "csrf": "forged"}):
        status, body, _ = http(server, f"/case/{reference}/close", form, jar)
        assert status == 403 and "Forbidden" in body
    status, _, _ = http(server, f"/case/{reference}/close", {"note": "x"})  # no session at all
    assert status == 403
    assert server.case("csrf").status == "review" and server.log("csrf") == before
    # Nor does a login form posted without its own cookie's token.
    status, _, _ = http(server, "/login", {"name": USER, "password": PASSWORD, "csrf": "x"})
    assert status == 403


def test_a_case_that_changed_after_it_was_shown_is_not_acted_on(
    browser: Browser, page: Page, server: Server
) -> None:
    log_in(page, server)
    address = f"{server.url}/case/{server.references['stale']}"
    page.goto(address)
    other = page.context.new_page()  # a colleague's tab adds a note meanwhile
    other.goto(address)
    other.fill("#note-form textarea", "Requester phoned.")
    other.click("#note-form button")
    page.click("#reopen")
    assert "changed after this page was shown" in page.locator("#error").inner_text()
    assert server.case("stale").status == "open"
    page.goto(address)
    page.select_option("select[name=category]", "inspection")
    page.click("text=Change")
    page.select_option("select[name=tenant]", "acme-staffing")
    page.click("text=Set")
    page.click("#reopen")
    page.click("#approve")
    case = server.case("stale")
    assert (case.category, case.tenant, case.status) == ("inspection", "acme-staffing", "open")
    actions = [(who, what) for who, what, _ in server.log("stale")[-5:]]
    assert actions == [(USER, a) for a in ("note", "category", "tenant", "reopened", "approved")]


def test_pages_carry_the_security_headers_and_a_strict_cookie(page: Page, server: Server) -> None:
    log_in(page, server)
    response = page.goto(f"{server.url}/case/{server.references['overdue']}")
    assert response is not None
    headers = response.headers
    assert headers["content-security-policy"].startswith("default-src 'self'")
    assert headers["x-frame-options"] == "DENY" and headers["cache-control"] == "no-store"
    [cookie] = [c for c in page.context.cookies() if c["name"] == "review_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
