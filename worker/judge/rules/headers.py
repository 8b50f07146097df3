"""The generic rule class for rules/auto.yaml: recognises machine-generated mail by its headers."""

from __future__ import annotations

import re
from dataclasses import dataclass

from worker.judge.mail import ParsedMail
from worker.judge.rules.schema import HeaderRuleSpec
from worker.judge.zones import FORWARD_PREFIX

# Bodies are long; the first lines carry what a bounce or an auto-reply says about itself.
BODY_PREFIX_CHARS = 3000


@dataclass(frozen=True)
class HeaderRule:
    """Fires when `field` of a mail matches `pattern` (or merely exists, when there is none)."""

    name: str
    description: str
    kind: str
    field: str
    pattern: re.Pattern[str] | None
    unless_forwarded: bool
    weak: bool = False

    @classmethod
    def from_spec(cls, spec: HeaderRuleSpec) -> HeaderRule:
        pattern = spec.pattern and re.compile(spec.pattern, re.IGNORECASE | re.MULTILINE)
        return cls(
            spec.name,
            spec.description,
            spec.kind,
            spec.field.lower(),
            pattern or None,
            spec.unless_forwarded,
            spec.weak,
        )

    def values(self, mail: ParsedMail) -> tuple[str, ...]:
        """The strings of the mail this rule looks at."""
        if self.field == "subject":
            return (mail.subject,)
        if self.field == "sender":
            return (mail.sender,)
        if self.field == "content-types":
            return mail.content_types
        if self.field == "body":
            return (mail.text[:BODY_PREFIX_CHARS],)
        return mail.headers.get(self.field, ())

    def check(self, mail: ParsedMail) -> str | None:
        """A reason when the rule fires, else None."""
        if self.unless_forwarded and FORWARD_PREFIX.match(mail.subject):
            return None
        for value in self.values(mail):
            if self.pattern is None or self.pattern.search(value):
                shown = " ".join(value.split())[:60]
                return f"{self.name}: {self.field} \u201c{shown}\u201d ({self.kind})"
        return None
