"""Parsing raw bytes into a ParsedMail: decoded headers, text, attachments, problems; never raises."""

from __future__ import annotations

from email.message import EmailMessage

from worker.judge.mail import MAX_HEADER_BYTES, parse_mail


def test_encoded_words_and_html_only_body() -> None:
    raw = (
        b"From: =?utf-8?q?Jos=C3=A9_Mar=C3=ADa?= <jose@example.es>\r\n"
        b"Subject: =?iso-8859-1?q?Verwijder_mijn_gegevens_=E9?=\r\nContent-Type: text/html\r\n\r\n"
        b"<html><body><p>Beste,</p><blockquote>oud bericht</blockquote><script>x()</script></body></html>"
    )
    mail = parse_mail(raw)
    assert mail.sender_name == "José María" and mail.sender == "jose@example.es"
    assert mail.subject == "Verwijder mijn gegevens é"
    assert mail.html_only and "Beste," in mail.text and "> oud bericht" in mail.text
    assert "x()" not in mail.text


def test_attachments_keep_their_bytes() -> None:
    message = EmailMessage()
    message["From"] = "a@example.nl"
    message.set_content("zie bijlage")
    message.add_attachment(
        b"\x00\x01binary", maintype="application", subtype="pdf", filename="id.pdf"
    )
    mail = parse_mail(message.as_bytes())
    assert [(a.filename, a.content_type, a.data) for a in mail.attachments] == [
        ("id.pdf", "application/pdf", b"\x00\x01binary")
    ]


def test_over_long_header_is_cut_and_reported() -> None:
    raw = b"From: a@example.nl\nSubject: " + b"x" * (MAX_HEADER_BYTES * 4) + b"\n\nverwijder mij\n"
    mail = parse_mail(raw)
    assert len(mail.subject) < MAX_HEADER_BYTES
    assert any("Subject" in p and "cut" in p for p in mail.problems)
    assert "verwijder mij" in mail.text


def test_deep_nesting_falls_back_and_keeps_text() -> None:
    depth = 3000
    raw = 'From: a@example.nl\nContent-Type: multipart/mixed; boundary="b0"\n\n'
    raw += "".join(
        f'--b{i}\nContent-Type: multipart/mixed; boundary="b{i + 1}"\n\n' for i in range(depth)
    )
    raw += f"--b{depth}\nContent-Type: text/plain\n\nverwijder mijn gegevens\n"
    mail = parse_mail(raw.encode())
    assert any("could not be parsed fully" in p for p in mail.problems)
    assert "verwijder mijn gegevens" in mail.text


def test_non_mail_bytes_are_text_with_a_problem() -> None:
    mail = parse_mail(b"\x89PNG\r\n\x1a\n\x00\x00garbage")
    assert any("not an e-mail" in p for p in mail.problems)


def test_unknown_charset_is_a_problem_not_a_crash() -> None:
    mail = parse_mail(b"From: a@example.nl\nContent-Type: text/plain; charset=x-nope\n\nhallo\n")
    assert "hallo" in mail.text
    assert any("x-nope" in p for p in mail.problems)
