"""The web plumbing of the review page: security headers, form bodies, templates, redirects."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from worker.review.views import utc

TEMPLATES = Path(__file__).parent / "templates"
MAX_FORM_BYTES = 64 * 1024
# Pages hold personal data: only this origin's own files, never framed, never cached, and no
# Referer that could carry a case reference to another site.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class SecurityHeaders:
    """ASGI middleware that puts HEADERS on every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def read_form(request: Request) -> dict[str, str] | None:
    """The fields of a URL-encoded form body, or None when it is no such form or too large.

    The forms here are small and URL-encoded only; reading them with the standard library
    spares a multipart parser dependency and refuses file uploads outright."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    try:
        fields = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        return None
    return dict(fields)


def templates() -> Environment:
    """The page templates, every value HTML-escaped unless a template says otherwise (none
    does), and a missing value an error rather than an empty string."""
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined
    )
    environment.filters["when"] = _when
    return environment


def render(
    environment: Environment, name: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """A rendered template as an HTML response."""
    return HTMLResponse(environment.get_template(name).render(**context), status_code)


def see_other(path: str) -> RedirectResponse:
    """A redirect after a POST, so that reloading the page does not post again."""
    return RedirectResponse(path, status_code=303)


def local_path(target: str | None) -> str:
    """A redirect target after login, only ever a path on this site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _when(moment: dt.datetime | None) -> str:
    return utc(moment).strftime("%Y-%m-%d %H:%M UTC") if moment else ""
