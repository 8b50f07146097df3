"""Turns attachment bytes into page images, treating every file as hostile: pixel, page and size
caps, no decryption, and a reason instead of an exception when a file cannot be read."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageOps

# A 6000 x 6000 photo is the largest honest ID copy; a bomb claims far more pixels than that.
MAX_PIXELS = 40_000_000
MAX_BYTES = 25_000_000
MAX_PAGES = 20
# All pages of one file together, as drawn or decoded: twenty A4 pages at 200 dpi. Checked
# against what each page declares before it is decoded, so that a small file cannot claim
# gigabytes (a TIFF of twenty 40-megapixel frames, a PDF of twenty 5 x 5 m pages).
MAX_FILE_PIXELS = 80_000_000
# A PDF page is drawn at no more pixels than this (A2 at 200 dpi), and not at all when that
# would mean under 72 dpi: a page over 1.4 m across is no document.
MAX_PDF_PAGE_PIXELS = 16_000_000
# The shortest side and the most elongated shape a page of a document can have.
MIN_SIDE = 64
MAX_ASPECT = 12
# Only these decoders are let near attachment bytes (Pillow knows many more, some of them old
# and rarely exercised). HEIC is not among them: the wheels that decode it bundle GPL code.
IMAGE_FORMATS = ("PNG", "JPEG", "TIFF", "WEBP", "GIF", "BMP")
# PDF pages are drawn at this resolution: enough for OCR-B in an MRZ, cheap in memory.
PDF_DPI = 200


@dataclass(frozen=True)
class Page:
    """One image to look at, and where it came from (page number, or an embedded thumbnail)."""

    image: Image.Image
    number: int
    source: str = "page"


@dataclass(frozen=True)
class Loaded:
    """The pages of a file, text a PDF carries in its text layer, and why a file was unreadable."""

    pages: tuple[Page, ...] = ()
    text: str = ""
    unreadable: tuple[str, ...] = field(default=())


def load(data: bytes) -> Loaded:
    """Pages of an image or PDF; never raises on bad input."""
    if len(data) > MAX_BYTES:
        return Loaded(unreadable=(f"file larger than {MAX_BYTES // 1_000_000} MB",))
    if data.lstrip()[:5] == b"%PDF-":
        return _pdf(data)
    return _image(data)


def _image(data: bytes) -> Loaded:
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    frames: list[Image.Image] = []
    problems: list[str] = []
    try:
        with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as opened:
            if opened.width * opened.height > MAX_PIXELS:
                return Loaded(unreadable=("image claims more pixels than any ID copy has",))
            thumbnail = _exif_thumbnail(opened)
            frames.append(ImageOps.exif_transpose(opened).convert("RGB"))
            # A multi-page TIFF holds front and back as frames; an animated GIF is not a scan.
            count = getattr(opened, "n_frames", 1) if opened.format == "TIFF" else 1
            if count > MAX_PAGES:
                problems.append(f"image has {count} pages: only the first {MAX_PAGES} were read")
            total = opened.width * opened.height
            for index in range(1, min(count, MAX_PAGES)):
                opened.seek(index)
                pixels = opened.width * opened.height
                if pixels > MAX_PIXELS:
                    problems.append(f"page {index + 1} claims more pixels than any ID copy has")
                    continue
                total += pixels
                if total > MAX_FILE_PIXELS:
                    problems.append(_too_many_pixels(index + 1))
                    break
                frames.append(opened.convert("RGB"))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return Loaded(unreadable=("image claims more pixels than any ID copy has",))
    except Exception as err:  # a hostile file can make any decoder fail in any way
        if not frames:
            return Loaded(unreadable=(f"not a readable image ({type(err).__name__})",))
        problems.append(f"image page {len(frames) + 1} cannot be read ({type(err).__name__})")
    pages = [Page(frame, index + 1) for index, frame in enumerate(frames) if _shaped(frame)]
    if len(pages) < len(frames):
        problems.append("a page is too small or too narrow to be a document")
    if thumbnail is not None:
        # A thumbnail stored by the camera can still show the original before it was redacted.
        pages.append(Page(thumbnail, 1, "exif-thumbnail"))
    return Loaded(tuple(pages), unreadable=tuple(problems))


def _too_many_pixels(page: int) -> str:
    return (
        f"the pages together claim more than {MAX_FILE_PIXELS // 1_000_000} megapixels:"
        f" page {page} and later not read"
    )


def _shaped(image: Image.Image) -> bool:
    # An ID copy is at least a stamp's size and not a sliver; anything else is no document.
    short, long = sorted(image.size)
    return short >= MIN_SIDE and long <= MAX_ASPECT * short


def _exif_thumbnail(image: Image.Image) -> Image.Image | None:
    # The EXIF block as stored in the file holds the thumbnail as a complete JPEG.
    raw = image.info.get("exif", b"")
    start = raw.find(b"\xff\xd8\xff", 1) if isinstance(raw, bytes) else -1
    if start < 0:
        return None
    try:
        with Image.open(io.BytesIO(raw[start:])) as thumb:
            return thumb.convert("RGB")
    except Exception:  # a broken thumbnail is no thumbnail; the picture itself is still read
        return None


# At most this many embedded images per page are looked at on their own.
MAX_IMAGES_PER_PAGE = 3


def _covered_images(page: Any, number: int) -> list[Page]:
    """Embedded images of a page that also has drawings: a black box drawn over an intact
    image hides it on screen, but anyone can extract the image. Plain scans have no drawings
    and are not read twice."""
    import pypdfium2.raw as pdfium_c

    objects = list(page.get_objects(max_depth=3))
    if not any(o.type == pdfium_c.FPDF_PAGEOBJ_PATH for o in objects):
        return []
    found = []
    for image in [o for o in objects if o.type == pdfium_c.FPDF_PAGEOBJ_IMAGE][
        :MAX_IMAGES_PER_PAGE
    ]:
        width, height = image.get_px_size()
        if width * height > MAX_PIXELS or min(width, height) < 200:
            continue
        found.append(Page(image.get_bitmap().to_pil().convert("RGB"), number, "pdf-image"))
    return found


def _pdf_scale(page: Any) -> tuple[float, str]:
    """The scale to draw a page at, or why it is not drawn: both from what the page declares
    (its size, the pixels of its images), before anything is decoded."""
    import pypdfium2.raw as pdfium_c

    width, height = page.get_size()
    scale = min(PDF_DPI / 72, (MAX_PDF_PAGE_PIXELS / max(width * height, 1.0)) ** 0.5)
    if scale < 1:
        return scale, f"is {width / 72 * 2.54:.0f} x {height / 72 * 2.54:.0f} cm"
    for image in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=3):
        image_width, image_height = image.get_px_size()
        if image_width * image_height > MAX_PIXELS:
            return scale, "holds an image that claims more pixels than any ID copy has"
    return scale, ""


def _pdf(data: bytes) -> Loaded:
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as err:
        # Encrypted PDFs are not opened without a password: a person handles them.
        if "password" in str(err).lower():
            return Loaded(unreadable=(f"PDF is encrypted with a password ({err})",))
        return Loaded(unreadable=(f"PDF cannot be opened ({err})",))
    pages: list[Page] = []
    texts: list[str] = []
    problems: list[str] = []
    try:
        if len(document) > MAX_PAGES:
            problems.append(f"PDF has {len(document)} pages: only the first {MAX_PAGES} were read")
        total = 0
        for index in range(min(len(document), MAX_PAGES)):
            page = document[index]
            scale, refused = _pdf_scale(page)
            if refused:
                problems.append(f"PDF page {index + 1} {refused}: not drawn")
                continue
            width, height = page.get_size()
            total += int(width * height * scale * scale)
            if total > MAX_FILE_PIXELS:
                problems.append(_too_many_pixels(index + 1))
                break
            drawn = page.render(scale=scale).to_pil().convert("RGB")
            if _shaped(drawn):
                pages.append(Page(drawn, index + 1))
            else:
                problems.append(f"PDF page {index + 1} is too small or too narrow to read")
            # A text layer can hold the number a black box hides on screen.
            texts.append(page.get_textpage().get_text_range())
            pages.extend(_covered_images(page, index + 1))
    except Exception as err:  # pdfium on a hostile file: keep the pages drawn so far
        problems.append(f"PDF page cannot be drawn ({type(err).__name__}: {err})")
    finally:
        document.close()
    return Loaded(tuple(pages), "\n".join(texts), tuple(problems))
