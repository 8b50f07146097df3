"""The review app: its routes, the login, and the staff actions, each calling casework.

Every page but the login needs a logged-in member of staff, even on localhost: the pages show
personal data. Every POST needs the session's CSRF token; an action also carries the version of
the case it was shown, so a case that changed meanwhile (a follow-up arrived) is not acted on
blind."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import Route

from worker.errors import CaseworkError
from worker.judge.tenants import Registry
from worker.reply.respond import Responder
from worker.review import casework, views
from worker.review.auth import COOKIE, LOGIN_COOKIE, Sessions, StaffSession, new_token, same
from worker.review.web import SecurityHeaders, local_path, read_form, render, see_other, templates
from worker.store.models import Case, now

STATIC = Path(__file__).parent / "static"


@dataclass(frozen=True)
class Tools:
    """What actions may need besides the case: the registry, and the responder for mail."""

    registry: Registry
    responder: Responder | None


# One staff action: changes the case through casework, from the form's fields.
Action = Callable[[Session, Case, str, dict[str, str], Tools], None]

ACTIONS: dict[str, Action] = {
    "close": lambda s, c, who, f, _: casework.close(s, c, who, f.get("note", "")),
    "reopen": lambda s, c, who, f, _: casework.reopen(s, c, who, f.get("note", "")),
    "approve": lambda s, c, who, f, _: casework.approve(s, c, who, f.get("note", "")),
    "category": lambda s, c, who, f, _: casework.set_category(s, c, who, f.get("category", "")),
    "tenant": lambda s, c, who, f, t: casework.set_tenant(
        s, c, who, f.get("tenant") or None, t.registry
    ),
    "note": lambda s, c, who, f, _: casework.add_note(s, c, who, f.get("note", "")),
    "reply": lambda s, c, who, f, t: casework.send_reply(
        s, c, who, f.get("reply", ""), t.responder
    ),
}


class ReviewApp:
    """The review page over one store, one users file and one tenant registry."""

    def __init__(
        self,
        engine: Engine,
        users_file: Path,
        registry: Registry,
        responder: Responder | None = None,
    ) -> None:
        self.engine = engine
        self.registry = registry
        self.tools = Tools(registry, responder)
        self.sessions = Sessions(users_file)
        self.templates = templates()

    def asgi(self) -> Starlette:
        """The ASGI application, security headers on every response."""
        routes = [
            Route("/", self.queue_page),
            Route("/login", self.login_page, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", self.logout, methods=["POST"]),
            Route("/case/{reference}", self.case_page),
            Route("/case/{reference}/{action}", self.act, methods=["POST"]),
            Route("/static/review.css", self.stylesheet),
        ]
        return Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)])

    def staff(self, request: Request) -> StaffSession | None:
        """The logged-in member of staff making the request, or None."""
        return self.sessions.get(request.cookies.get(COOKIE))

    async def stylesheet(self, request: Request) -> Response:
        return FileResponse(STATIC / "review.css", media_type="text/css")

    async def login_page(self, request: Request, error: str = "", code: int = 200) -> Response:
        # The login form's own CSRF token is a cookie repeated in the form (double submit):
        # another site can make a browser post, but cannot read or set this cookie.
        token = new_token()
        response = render(
            self.templates,
            "login.html",
            code,
            csrf=token,
            error=error,
            next=local_path(request.query_params.get("next")),
            staff=None,
        )
        _cookie(response, request, LOGIN_COOKIE, token, path="/login")
        return response

    async def login(self, request: Request) -> Response:
        form = await read_form(request)
        if form is None or not same(form.get("csrf"), request.cookies.get(LOGIN_COOKIE, "")):
            return PlainTextResponse("Forbidden: the login form has expired; reload it.", 403)
        name, password = form.get("name", "").strip().lower(), form.get("password", "")
        token = await run_in_threadpool(self.sessions.login, name, password)
        if token is None:
            # A pause after a wrong password slows a guesser down; staff hardly notice.
            await asyncio.sleep(1)
            return await self.login_page(request, "Wrong name or password.", 401)
        response = see_other(local_path(form.get("next")))
        _cookie(response, request, COOKIE, token, path="/")
        response.delete_cookie(LOGIN_COOKIE, path="/login")
        return response

    async def logout(self, request: Request) -> Response:
        form = await read_form(request)
        staff = self.staff(request)
        if staff is None or form is None or not same(form.get("csrf"), staff.csrf):
            return PlainTextResponse("Forbidden", 403)
        self.sessions.logout(request.cookies.get(COOKIE))
        response = see_other("/login")
        response.delete_cookie(COOKIE, path="/")
        return response

    async def queue_page(self, request: Request) -> Response:
        staff = self.staff(request)
        if staff is None:
            return see_other("/login?next=/")
        status = request.query_params.get("status") or None
        if status is not None and status not in casework.STATUSES:
            return PlainTextResponse("Unknown status", 400)
        return await run_in_threadpool(self._queue, staff, status)

    def _queue(self, staff: StaffSession, status: str | None) -> Response:
        moment = now()
        with Session(self.engine) as session:
            rows = views.queue(session, status, moment.date())
            overdue = views.overdue_count(session, moment)
            return render(
                self.templates,
                "queue.html",
                rows=rows,
                overdue=overdue,
                status=status,
                statuses=casework.STATUSES,
                staff=staff,
            )

    async def case_page(self, request: Request) -> Response:
        staff = self.staff(request)
        reference = request.path_params["reference"]
        if staff is None:
            return see_other(f"/login?next=/case/{reference}")
        return await run_in_threadpool(self._case, staff, reference, "", 200)

    def _case(self, staff: StaffSession, reference: str, error: str, code: int) -> Response:
        with Session(self.engine) as session:
            case = views.case_by_reference(session, reference)
            if case is None:
                return PlainTextResponse("No such case", 404)
            return render(
                self.templates,
                "case.html",
                code,
                case=case,
                days_left=views.days_left(case, now().date()),
                messages=[views.message_view(m) for m in case.messages],
                log=views.audit_log(session, case),
                version=views.version(session, case),
                categories=casework.CATEGORIES,
                replies=casework.REPLIES if self.tools.responder else {},
                outgoing=list(case.outgoing),
                tenants=self.registry.tenants,
                error=error,
                staff=staff,
            )

    async def act(self, request: Request) -> Response:
        staff = self.staff(request)
        form = await read_form(request)
        if staff is None or form is None or not same(form.get("csrf"), staff.csrf):
            return PlainTextResponse("Forbidden: log in and use the page's own forms.", 403)
        action = ACTIONS.get(request.path_params["action"])
        if action is None:
            return PlainTextResponse("No such action", 404)
        reference = request.path_params["reference"]
        error = await run_in_threadpool(self._act, staff, reference, action, form)
        if error is None:
            return see_other(f"/case/{reference}")
        return await run_in_threadpool(self._case, staff, reference, error, 409)

    def _act(
        self, staff: StaffSession, reference: str, action: Action, form: dict[str, str]
    ) -> str | None:
        """Runs one action and its audit row in one transaction; the error to show, or None."""
        try:
            with Session(self.engine) as session, session.begin():
                case = views.case_by_reference(session, reference)
                if case is None:
                    return "No such case."
                if form.get("version") != str(views.version(session, case)):
                    raise CaseworkError(
                        "The case changed after this page was shown; nothing was done. "
                        "Read it again and repeat the action if it still fits."
                    )
                action(session, case, staff.user, form, self.tools)
        except CaseworkError as err:
            return str(err)
        return None


def _cookie(response: Response, request: Request, name: str, value: str, path: str) -> None:
    # SameSite=Strict: the browser sends no session cookie with a request another site starts.
    # Secure whenever the page is served over HTTPS (a proxy in front); plain HTTP on localhost
    # would otherwise drop the cookie.
    response.set_cookie(
        name,
        value,
        path=path,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
