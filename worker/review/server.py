"""The review page's two commands: `privacy-worker review` and `privacy-worker review-user`."""

from __future__ import annotations

import getpass
import re
import sys
from pathlib import Path
from typing import TextIO

from worker.config import Settings
from worker.errors import ConfigError
from worker.judge.rules import DEFAULT_RULES_DIR
from worker.judge.tenants import load_registry
from worker.reply.respond import Responder
from worker.review.app import ReviewApp
from worker.review.users import read_users, set_password
from worker.store.models import open_store

LISTEN = re.compile(r"^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$")


def serve(settings: Settings, listen: str | None, tenants: Path | None, out: TextIO) -> int:
    """Serves the review page until interrupted; refuses to start without a staff account."""
    import uvicorn

    listen = listen or settings.review_listen
    if not LISTEN.match(listen):
        raise ConfigError(f"--listen {listen!r}: expected host:port")
    if not read_users(settings.review_users_file):
        raise ConfigError(
            f"{settings.review_users_file}: no review users; add one with "
            "`privacy-worker review-user NAME`"
        )
    rules_dir = settings.rules_dir or DEFAULT_RULES_DIR
    registry = load_registry(tenants or settings.tenants_file or rules_dir / "tenants.yaml")
    responder = Responder.from_settings(settings, rules_dir, registry)
    app = ReviewApp(open_store(settings.store_url), settings.review_users_file, registry, responder)
    host, _, port = listen.rpartition(":")
    out.write(f"review page on http://{listen}/\n")
    out.flush()
    uvicorn.run(app.asgi(), host=host.strip("[]"), port=int(port), log_level="warning")
    return 0


def review_user(settings: Settings, name: str, out: TextIO) -> int:
    """Sets a user's password, asked twice at a terminal or read as one line from stdin."""
    if sys.stdin.isatty():
        password = getpass.getpass(f"password for {name}: ")
        if getpass.getpass("again: ") != password:
            raise ConfigError("the two passwords differ; nothing was changed")
    else:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    set_password(settings.review_users_file, name, password)
    out.write(f"{name}: password set in {settings.review_users_file}\n")
    return 0
