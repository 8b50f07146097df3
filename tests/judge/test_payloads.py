"""Finding files by their bytes in every wrapper, with bounds on zip archives."""

from __future__ import annotations

import base64
import binascii
import io
import zipfile
from email.message import EmailMessage

import pytest

from worker.judge import payloads
from worker.judge.payloads import payloads_of, sniff

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def text_mail(body: str, subtype: str = "plain") -> bytes:
    message = EmailMessage()
    message["From"] = "a@example.nl"
    message.set_content(body, subtype=subtype)
    return message.as_bytes()


def zip_of(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def encrypted(data: bytes) -> bytes:
    """The archive with its member marked password-protected, as the format says it: bit 0 of
    the flags, in the local header and in the central directory."""
    out = bytearray(data)
    local, central = out.find(b"PK\x03\x04"), out.find(b"PK\x01\x02")
    out[local + 6] |= 0x1
    out[central + 8] |= 0x1
    return bytes(out)


def attached(data: bytes, maintype: str = "application", subtype: str = "zip") -> bytes:
    message = EmailMessage()
    message["From"] = "a@example.nl"
    message.set_content("zie bijlage")
    message.add_attachment(data, maintype=maintype, subtype=subtype, filename="x.zip")
    return message.as_bytes()


def test_plain_text_is_no_file_and_a_mislabelled_one_is() -> None:
    assert payloads_of(text_mail("Verwijder mijn gegevens.")) == ()
    [found] = payloads_of(attached(PNG, "text", "plain"))
    assert found.data == PNG and found.content_type == "text/plain" and found.part


def test_data_uris_in_html_and_text_and_uuencoded_blocks() -> None:
    uri = "data:image/png;base64," + base64.b64encode(PNG).decode()
    [in_html] = payloads_of(text_mail(f'<p>hoi</p><img src="{uri}">', "html"))
    [in_text] = payloads_of(text_mail(f"hoi\n{uri}\n"))
    lines = "".join(binascii.b2a_uu(PNG[i : i + 45]).decode() for i in range(0, len(PNG), 45))
    [uu] = payloads_of(text_mail(f"hoi\nbegin 644 id.png\n{lines}`\nend\n"))
    b64 = base64.encodebytes(PNG).decode()
    [uu64] = payloads_of(text_mail(f"hoi\nbegin-base64 644 id.png\n{b64}====\n"))
    assert in_html.data == in_text.data == uu.data == uu64.data == PNG
    assert uu.filename == "id.png" and in_html.content_type == "image/png"


def test_images_in_zip_and_in_a_zip_in_a_zip_are_found_with_the_outer_part() -> None:
    inner = zip_of({"scan.png": PNG, "readme.txt": b"hallo"})
    found = payloads_of(attached(zip_of({"a/inner.zip": inner})))
    assert [sniff(a.data) for a in found] == ["zip", "zip", "png"]
    assert found[2].filename == "x.zip/a/inner.zip/scan.png"
    assert len({a.part for a in found}) == 1  # all cut with the one part that holds them


@pytest.mark.parametrize(
    ("archive", "why"),
    [
        (zip_of({"zeros.png": b"\0" * 5_000_000}), "zip bomb"),
        (encrypted(zip_of({"scan.png": PNG})), "encrypted"),
        (zip_of({f"{n}.txt": b"x" for n in range(payloads.MAX_MEMBERS + 1)}), "more than"),
        (zip_of({"b.zip": zip_of({"c.zip": zip_of({"scan.png": PNG})})}), "nested"),
        (b"PK\x03\x04 broken", "cannot be opened"),
    ],
    ids=["bomb", "encrypted", "members", "depth", "broken"],
)
def test_archives_past_the_bounds_cannot_be_checked(archive: bytes, why: str) -> None:
    problems = [a.problem for a in payloads_of(attached(archive)) if a.problem]
    assert len(problems) == 1 and why in problems[0]
