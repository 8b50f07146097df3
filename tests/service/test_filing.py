"""What filing writes of an error, and how stand-ins are keyed (from a review of issue 12)."""

from __future__ import annotations

import hashlib

from worker.service.filing import described
from worker.service.ingest import too_big


def test_a_store_error_is_described_by_its_first_line_masked() -> None:
    # SQLAlchemy puts the statement's parameters (addresses, raw bytes) on later lines.
    err = ValueError(
        "(sqlite3.IntegrityError) UNIQUE constraint failed 111222333\n"
        "[SQL: INSERT INTO cases ...]\n[parameters: ('jan@example.nl', b'From: ...')]"
    )
    text = described(err)
    assert text == "ValueError: (sqlite3.IntegrityError) UNIQUE constraint failed *********"


def test_two_stand_ins_alike_are_not_each_other_s_duplicate() -> None:
    # Same size, headers that could not be read: two messages all the same.
    one, two = (too_big(key, 80_000_000, b"", 50_000_000) for key in ("1:7", "1:8"))
    assert one.digest != two.digest and one.kept != two.kept
    # The stand-in's digest is of what is stored: it is never taken for a cut copy that
    # would replace the message on the server.
    assert one.digest == hashlib.sha256(one.kept or b"").hexdigest()
