"""Hostile attachments made on the spot, each a few kB to a few hundred kB on disk and gigabytes
once decoded: what an outside tester sent the scanner (issue 12)."""

from __future__ import annotations

import io
import zlib

from PIL import Image


def pdf(objects: list[bytes], streams: dict[int, bytes] | None = None) -> bytes:
    """A PDF of these objects (object 1 the catalog); `streams` gives an object its stream."""
    streams = streams or {}
    body = b"%PDF-1.7\n"
    offsets = []
    for number, content in enumerate(objects, start=1):
        offsets.append(len(body))
        body += b"%d 0 obj\n" % number + content
        if number in streams:
            body += b"\nstream\n" + streams[number] + b"\nendstream"
        body += b"\nendobj\n"
    xref = len(body)
    body += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    body += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    body += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return body


def huge_pages_pdf(pages: int = 20, side: int = 14_400) -> bytes:
    """A tiny PDF whose pages each declare the largest size PDF allows (5 x 5 m)."""
    kids = b" ".join(b"%d 0 R" % (3 + i) for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages),
    ]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] >>" % (side, side)] * pages
    return pdf(objects)


def multi_frame_tiff(frames: int = 20, size: tuple[int, int] = (6_000, 6_600)) -> bytes:
    """A TIFF of bilevel frames, each just under the pixel limit, group-4 compressed."""
    out = io.BytesIO()
    blank = [Image.new("1", size, 1) for _ in range(frames)]
    blank[0].save(out, "TIFF", save_all=True, append_images=blank[1:], compression="group4")
    return out.getvalue()


def flate_bomb_pdf(megabytes: int = 100) -> bytes:
    """A one-page PDF whose few hundred kB of content stream inflate to `megabytes` of drawing
    operators: pdfium holds each as an object, some forty times the stream's size."""
    squeeze = zlib.compressobj(9)
    chunk = b"0 0 m 1 1 l S\n" * (1 << 16)
    count = megabytes * (1 << 20) // len(chunk)
    data = b"".join(squeeze.compress(chunk) for _ in range(count)) + squeeze.flush()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
        b"<< /Filter /FlateDecode /Length %d >>" % len(data),
    ]
    return pdf(objects, {4: data})


HOSTILE = {
    "huge-pages.pdf": huge_pages_pdf,
    "multi-frame.tif": multi_frame_tiff,
    "flate-bomb.pdf": flate_bomb_pdf,
}
