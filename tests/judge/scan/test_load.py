"""Attachment bytes to pages: hostile files give a reason, never an exception."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

from tests.judge.scan.hostile import huge_pages_pdf, multi_frame_tiff, pdf
from worker.judge.scan.load import MAX_FILE_PIXELS, MAX_PIXELS, load


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(out, "PNG")
    return out.getvalue()


def bomb() -> bytes:
    # A PNG header that claims 100,000 x 100,000 pixels with almost no data behind it.
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 100))
        + chunk(b"IEND", b"")
    )


def test_an_image_is_one_page() -> None:
    loaded = load(png(400, 300))
    assert [page.image.size for page in loaded.pages] == [(400, 300)] and not loaded.unreadable


def test_a_sliver_or_a_stamp_is_no_page() -> None:
    for width, height in ((40, 30), (100, 5000)):
        loaded = load(png(width, height))
        assert not loaded.pages and "too small or too narrow" in loaded.unreadable[0]


def test_a_decompression_bomb_is_unreadable() -> None:
    loaded = load(bomb())
    assert not loaded.pages and "pixels" in loaded.unreadable[0]
    assert MAX_PIXELS < 100_000 * 100_000


def test_garbage_is_unreadable() -> None:
    assert load(b"\x00\x01not an image").unreadable


def test_a_broken_pdf_is_unreadable() -> None:
    loaded = load(b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF")
    assert not loaded.pages and loaded.unreadable


def test_pdf_pages_and_text_layer_are_read() -> None:
    out = io.BytesIO()
    pages = [Image.new("RGB", (300, 200), "white"), Image.new("RGB", (300, 200), "gray")]
    pages[0].save(out, "PDF", save_all=True, append_images=pages[1:])
    loaded = load(out.getvalue())
    assert [page.number for page in loaded.pages] == [1, 2]


def encrypted_pdf() -> bytes:
    """A PDF whose trailer says it is encrypted (standard handler, a user password set)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
        b"<< /Filter /Standard /V 1 /R 2 /O <"
        + b"41" * 32
        + b"> /U <"
        + b"42" * 32
        + b"> /P -4 >>",
    ]
    body = b"%PDF-1.4\n"
    offsets = []
    for number, content in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n" % number + content + b"\nendobj\n"
    xref = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    body += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    body += (
        b"trailer\n<< /Size %d /Root 1 0 R /Encrypt 4 0 R /ID [<00><00>] >>\n" % (len(objects) + 1)
        + b"startxref\n%d\n%%%%EOF\n" % xref
    )
    return body


def test_an_encrypted_pdf_is_not_opened() -> None:
    loaded = load(encrypted_pdf())
    assert not loaded.pages and "password" in loaded.unreadable[0]


def test_a_multi_page_tiff_gives_every_page() -> None:
    out = io.BytesIO()
    pages = [Image.new("RGB", (300, 200), colour) for colour in ("white", "gray", "black")]
    pages[0].save(out, "TIFF", save_all=True, append_images=pages[1:])
    loaded = load(out.getvalue())
    assert [page.number for page in loaded.pages] == [1, 2, 3] and not loaded.unreadable


def test_formats_outside_the_list_are_not_decoded() -> None:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), "white").save(out, "ICO")
    loaded = load(out.getvalue())
    assert not loaded.pages and loaded.unreadable


def test_pdf_pages_larger_than_any_document_are_not_drawn() -> None:
    loaded = load(huge_pages_pdf(pages=3))
    assert not loaded.pages
    assert loaded.unreadable == tuple(f"PDF page {n} is 508 x 508 cm: not drawn" for n in (1, 2, 3))


def test_a_pdf_image_claiming_too_many_pixels_is_not_decoded() -> None:
    # The image's data is a few bytes: only its declared size may be looked at.
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842]"
        b" /Resources << /XObject << /Im0 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length 30 >>",
        b"<< /Type /XObject /Subtype /Image /Width 20000 /Height 20000 /ColorSpace /DeviceGray"
        b" /BitsPerComponent 8 /Filter /FlateDecode /Length 11 >>",
    ]
    loaded = load(pdf(objects, {4: b"q 595 0 0 842 0 0 cm /Im0 Do Q", 5: zlib.compress(b"\0")}))
    assert not loaded.pages and "image that claims more pixels" in loaded.unreadable[0]


def test_tiff_frames_stop_at_the_file_pixel_budget() -> None:
    loaded = load(multi_frame_tiff(frames=4, size=(5_000, 6_000)))
    assert [page.number for page in loaded.pages] == [1, 2]
    assert loaded.unreadable == (
        f"the pages together claim more than {MAX_FILE_PIXELS // 1_000_000} megapixels:"
        " page 3 and later not read",
    )
