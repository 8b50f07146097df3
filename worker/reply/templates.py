"""The staff-edited reply templates in rules/templates and the words in rules/replies.yaml:
loaded, checked by a trial render at start-up, and rendered into a subject and a plain body."""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from worker.errors import RulesError
from worker.judge.rules.schema import Strict
from worker.reply.refusal import NeverReply, NeverReplySpec
from worker.yamlfile import load_model

KINDS = (
    "ack-inspection",
    "ack-correction",
    "ack-deletion",
    "receipt",
    "id-resubmit",
    "routed-requester",
    "routed-cover",
)
LANGUAGES = ("nl", "en")
# Long enough for any reference and a sentence; mail readers cut far shorter anyway.
SUBJECT_LIMIT = 200
# What the templates may show of the original subject; the trial render uses this length, so a
# template whose reference would be cut off by it fails at start-up, not on a real mail.
ORIGINAL_SUBJECT_LIMIT = 120

# Month names by hand: the system locale is whatever the server has, and a Dutch reply must
# say "december" on every machine.
_MONTHS = {
    "nl": (
        "januari",
        "februari",
        "maart",
        "april",
        "mei",
        "juni",
        "juli",
        "augustus",
        "september",
        "oktober",
        "november",
        "december",
    ),
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
}


class FieldNames(Strict):
    """Human words for the ID-copy fields the scan reports."""

    bsn: str
    mrz: str
    document_number: str
    photo: str


class RequestTypes(Strict):
    """Human words for each intent the classifier finds."""

    inspection: str
    correction: str
    deletion: str
    objection: str
    restriction: str
    portability: str
    other: str


class FieldNamesByLanguage(Strict):
    """Field names in every reply language."""

    nl: FieldNames
    en: FieldNames


class RequestTypesByLanguage(Strict):
    """Request types in every reply language."""

    nl: RequestTypes
    en: RequestTypes


RECEIPT_CASES = Literal["request-in-review", "processor-routed-in-review", "other"]


class RepliesFile(Strict):
    """The shape of rules/replies.yaml."""

    signature: str
    field_names: FieldNamesByLanguage
    request_types: RequestTypesByLanguage
    never_reply: NeverReplySpec
    # Which cases that get no specific acknowledgement still get a receipt, so that every
    # person who writes hears, once, that the mail arrived and when the answer is due.
    receipt_for: tuple[RECEIPT_CASES, ...] = (
        "request-in-review",
        "processor-routed-in-review",
        "other",
    )


@dataclass(frozen=True)
class Rendered:
    """One rendered template: a single-line subject and a plain-text body ending in a newline."""

    subject: str
    body: str


@dataclass(frozen=True)
class Templates:
    """Every reply template, compiled and trial-rendered, with the words and signature they use."""

    directory: Path
    signature: str
    field_names: Mapping[str, Mapping[str, str]]
    request_types: Mapping[str, Mapping[str, str]]
    never_reply: NeverReply
    compiled: Mapping[tuple[str, str], jinja2.Template]
    receipt_for: frozenset[str] = frozenset()

    def render(self, kind: str, language: str, values: Mapping[str, object]) -> Rendered:
        """Renders one kind in one language; the signature is added to the values."""
        template = self.compiled[(kind, language)]
        context = template.new_context({**values, "signature": self.signature})
        subject = "".join(template.blocks["subject"](context))
        body = "".join(template.blocks["body"](context))
        return Rendered(subject=one_line(subject, SUBJECT_LIMIT), body=_tidy(body))


def load_templates(rules_dir: Path) -> Templates:
    """Reads rules_dir/replies.yaml and every rules_dir/templates/LANG/KIND.txt; any problem
    raises RulesError naming the file."""
    spec = load_model(RepliesFile, rules_dir / "replies.yaml")
    folder = rules_dir / "templates"
    environment = ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader(folder),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    _refuse_strays(folder)
    compiled = {
        (kind, language): _compile(environment, folder, kind, language)
        for language in LANGUAGES
        for kind in KINDS
    }
    templates = Templates(
        directory=rules_dir,
        signature=spec.signature.strip(),
        field_names=spec.field_names.model_dump(),
        request_types=spec.request_types.model_dump(),
        never_reply=NeverReply.from_spec(spec.never_reply),
        compiled=compiled,
        receipt_for=frozenset(spec.receipt_for),
    )
    for (kind, language), template in compiled.items():
        _trial(templates, template, kind, language)
    return templates


def _compile(
    environment: jinja2.Environment, folder: Path, kind: str, language: str
) -> jinja2.Template:
    path = folder / language / f"{kind}.txt"
    if not path.is_file():
        raise RulesError(str(path), None, "template missing: every kind needs nl and en")
    try:
        template = environment.get_template(f"{language}/{kind}.txt")
    except jinja2.TemplateSyntaxError as err:
        raise RulesError(err.filename or str(path), err.lineno, f"template: {err.message}") from err
    except (OSError, UnicodeDecodeError) as err:
        raise RulesError(str(path), None, f"cannot read: {err}") from err
    missing = {"subject", "body"} - set(template.blocks)
    if missing:
        wanted = " and ".join(f"{{% block {name} %}}" for name in sorted(missing))
        raise RulesError(str(path), None, f"template needs {wanted}")
    return template


def _refuse_strays(folder: Path) -> None:
    """A file named for no kind is most likely a typo of one that then never gets used."""
    known = ", ".join(KINDS)
    for path in sorted(folder.glob("*/*.txt")):
        if path.stem not in KINDS and not path.name.startswith("_"):
            problem = f"not a template kind (known: {known}; name shared pieces _*.txt)"
            raise RulesError(str(path), None, problem)


def _trial(templates: Templates, template: jinja2.Template, kind: str, language: str) -> None:
    """Renders with sample values, so that a mistyped variable stops start-up."""
    path = str(templates.directory / "templates" / language / f"{kind}.txt")
    values = sample_values(templates, language)
    try:
        rendered = templates.render(kind, language, values)
    except Exception as err:  # whatever a template does wrong, staff need file and line
        line = _template_line(err, template)
        raise RulesError(path, line, f"template: {type(err).__name__}: {err}") from err
    if str(values["reference"]) not in rendered.subject:
        # Replies join their case by the reference in the subject.
        raise RulesError(path, None, "the subject must contain {{ reference }} (in full)")
    if not rendered.body.strip():
        raise RulesError(path, None, "the body is empty")


def sample_values(templates: Templates, language: str) -> dict[str, Any]:
    """Every variable a template may use, with worst-case lengths: for the trial render."""
    return {
        "reference": "PRIV-2026-000123",
        "due_date": long_date(dt.date(2026, 12, 29), language),
        "received_date": long_date(dt.date(2026, 12, 1), language),
        "tenant_name": "Voorbeeld Uitzendbureau B.V.",
        "fields": list(templates.field_names[language].values()),
        "request_types": [templates.request_types[language]["deletion"]],
        "original_subject": "x" * ORIGINAL_SUBJECT_LIMIT,
        "mailbox": "privacy@example.com",
    }


def _template_line(err: BaseException, template: jinja2.Template) -> int | None:
    """The template line an error came from: Jinja's code runs under the template's file name."""
    line = None
    trace = err.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == template.filename:
            line = template.get_corresponding_lineno(trace.tb_lineno)
        trace = trace.tb_next
    return line


def long_date(day: dt.date, language: str) -> str:
    """A date written out: "29 december 2026" in Dutch, "29 December 2026" in English."""
    return f"{day.day} {_MONTHS[language][day.month - 1]} {day.year}"


def one_line(value: str, limit: int) -> str:
    """Text safe for a header: line breaks and control characters become spaces (no header
    injection), invisible format characters such as bidi overrides go, and it is cut at a word."""
    cleaned = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch
        for ch in value
        if unicodedata.category(ch) != "Cf"
    )
    text = " ".join(cleaned.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip() + "…"


def _tidy(body: str) -> str:
    """Trailing spaces and blank lines at either end go; the body ends in one newline."""
    lines = [line.rstrip() for line in body.splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n"
