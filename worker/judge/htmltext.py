"""Turns an HTML mail body into plain text, keeping line breaks and marking quotes with '> '."""

from __future__ import annotations

import html.parser
import re

_BLOCK_TAGS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "dd",
        "div",
        "dl",
        "dt",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "li",
        "main",
        "nav",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "tbody",
        "td",
        "th",
        "thead",
        "tr",
        "ul",
    ]
)
_SKIPPED_TAGS = frozenset({"script", "style", "head", "title", "template"})
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
# Hostile markup (30,000 nested blockquotes) must not grow the text quadratically: the quote
# marker stops at this depth and markup past this size is not read.
MAX_QUOTE_DEPTH = 5
MAX_MARKUP_CHARS = 2_000_000


class _TextCollector(html.parser.HTMLParser):
    """Collects text lines; a blockquote (a quoted earlier message) prefixes its lines with '> '."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.quote_depth = 0
        self.skip_depth = 0

    def _break(self) -> None:
        line = _SPACES.sub(" ", "".join(self.current)).strip()
        self.current = []
        if line or (self.lines and self.lines[-1]):
            depth = min(self.quote_depth, MAX_QUOTE_DEPTH)
            self.lines.append(("> " * depth + line) if line else "")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self.skip_depth += 1
        elif tag in _BLOCK_TAGS:
            self._break()
            if tag == "blockquote":
                self.quote_depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag in _BLOCK_TAGS:
            self._break()
            if tag == "blockquote":
                self.quote_depth = max(0, self.quote_depth - 1)

    def handle_data(self, data: str) -> None:
        if not self.skip_depth:
            self.current.append(data.replace("\n", " "))


def html_to_text(markup: str) -> str:
    """Plain text of an HTML document; broken markup yields whatever text could be read."""
    collector = _TextCollector()
    try:
        collector.feed(markup[:MAX_MARKUP_CHARS])
        collector.close()
    except (AssertionError, ValueError):
        pass
    collector._break()
    return "\n".join(collector.lines).strip()
