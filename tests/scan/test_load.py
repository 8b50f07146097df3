"""Attachment bytes to pages: hostile files give a reason, never an exception."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

from worker.scan.load import MAX_PIXELS, load


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
    loaded = load(png(40, 30))
    assert [page.image.size for page in loaded.pages] == [(40, 30)] and not loaded.unreadable


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
