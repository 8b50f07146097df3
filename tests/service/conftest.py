"""Fixtures the service tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.servers import Dovecot, SmtpSink, dovecot_server, smtp_server


@pytest.fixture
def servers() -> Iterator[tuple[Dovecot, SmtpSink]]:
    """A Dovecot and an SMTP server of the test's own, on 127.0.0.1."""
    with dovecot_server() as imap, smtp_server() as (smtp, _):
        yield imap, smtp
