"""The classify pipeline: enrich a raw mail (parse, zones, hits, language, tenant), then decide."""

from __future__ import annotations

import dataclasses
import re
import time
from typing import TYPE_CHECKING, Any, Protocol

from worker.judge.decide import Decision, Enriched, IdDocument, decide
from worker.judge.language import LanguageDetector
from worker.judge.mail import ParsedMail, parse_mail
from worker.judge.payloads import Attachment, sniff
from worker.judge.routing import TenantResolver
from worker.judge.rules import RuleSet
from worker.judge.rules.phrases import Hit
from worker.judge.rules.schema import INTENTS
from worker.judge.tenants import Registry
from worker.judge.threads import Threads
from worker.judge.zones import ZONES, normalize, split_zones
from worker.store.redact import mask_numbers

# The shape of our case references ("PRIV-2026-000123", whatever the configured prefix): in a
# subject it says the mail continues one of our cases.
_CASE_REFERENCE = re.compile(r"\b[A-Z]{2,8}-\d{4}-\d{6}\b")
# "Top, bedankt voor de snelle afhandeling!": a short thank-you with no question or "but".
_THANKS = re.compile(
    r"\b(?:bedankt|dank|dankjewel|thanks|thank|cheers|merci|danke|gracias|grazie)\b"
)
_NOT_ONLY_THANKS = re.compile(r"\?|\b(?:maar|echter|alleen|but|however|only|still|nog)\b")


def _thanks_only(new: str) -> bool:
    return len(new.split()) <= 25 and bool(_THANKS.search(new)) and not _NOT_ONLY_THANKS.search(new)


if TYPE_CHECKING:
    from worker.judge.scan.scanner import ScanResult

# Formats an ID copy can come as, known by the bytes: a copy sent as text/plain, as
# application/octet-stream or without a telling name is still looked at.
_DOCUMENT_FORMATS = frozenset({"png", "jpeg", "gif", "tiff", "webp", "heic", "pdf"})

# A mail with more images and PDFs than this gets the rest checked by a person.
MAX_SCANNED_ATTACHMENTS = 10
# All scans of one mail together: no mail holds a poll longer than this.
SCAN_SECONDS_PER_MAIL = 120.0
# A file is not started with less time than this left: it could not be read in it.
MIN_SCAN_SECONDS = 5.0


class Scanner(Protocol):
    """Scans one file's bytes in at most `seconds` (an IsolatedScanner, say)."""

    def __call__(self, data: bytes, seconds: float) -> ScanResult: ...


class Classifier:
    """Decides what one raw mail is. Holds only compiled, immutable knowledge; safe to reuse."""

    def __init__(
        self,
        rules: RuleSet,
        registry: Registry,
        mailbox_address: str,
        scan: bool | Scanner = True,
        scan_seconds: float = SCAN_SECONDS_PER_MAIL,
    ) -> None:
        self.rules = rules
        # OCR of images and PDFs: True scans in this process, a callable (an IsolatedScanner)
        # elsewhere; False leaves only names and mentions to tell of an ID copy.
        self.scan = scan
        self.scan_seconds = scan_seconds
        self.resolver = TenantResolver(registry, rules.policy)
        self.languages = LanguageDetector(rules.languages)
        self.mailbox_address = mailbox_address.lower()
        self.zone_weights = {str(zone): weight for zone, weight in rules.policy.zones.items()}
        self.threads = Threads(rules, self.zone_weights)
        self.intents = tuple(
            t for t, spec in rules.policy.targets.items() if spec.kind == "intent" and t in INTENTS
        )

    def classify(self, raw: bytes) -> Decision:
        """The decision for raw message bytes; never raises on bad input."""
        return decide(self.enrich(parse_mail(raw)), self.rules.policy.thresholds, self.intents)

    def enrich(self, mail: ParsedMail) -> Enriched:
        """Everything the chain needs, computed once."""
        auto = self._auto_reasons(mail)
        zones = self.threads.own_forward_as_quote(
            split_zones(mail.subject, mail.text, self.rules.markers)
        )
        texts = {zone: normalize(zones.get(zone)) for zone in ZONES}
        hits, back = self._hits(texts)
        ours = self.threads.answers_our_mail(zones)
        if ours:
            hits = self.threads.our_case(hits)
        doubts = [
            f"the subject asks {target}, the text takes it back or asks another: the text decides"
            for target in sorted(back)
        ]
        thread = self.threads.thread_request(hits, zones)
        if thread:
            hits = (*hits, *thread)
            doubts.append(
                "the request stands further down the thread, in a mail not from us: "
                "check whose it is"
            )
        own = texts["subject"] + " " + texts["new"]
        rest = texts["forwarded"] + " " + texts["quoted"]
        language = self.languages.guess_mail(own, rest, mail.sender)
        return Enriched(
            hits=hits,
            auto_reasons=tuple(reason for reason, _ in auto),
            auto_weak_only=bool(auto) and all(weak for _, weak in auto),
            internal=self._internal(mail),
            tenant=self.resolver.resolve(
                mail,
                zones,
                fuzzy=self._fuzzy_can_matter(hits),
                quote_is_ours=ours,
            ),
            language=language.reply,
            id_document=self._id_document(mail, hits),
            problems=mail.problems,
            doubts=tuple(doubts),
            answers_us=(ours or bool(_CASE_REFERENCE.search(mail.subject)))
            and not _thanks_only(texts["new"]),
        )

    def _hits(self, texts: dict[str, str]) -> tuple[tuple[Hit, ...], set[str]]:
        # Each rule counts once: in the zone where it weighs most. Rules whose leading words
        # are absent from a zone are not run there (the gate): that halves the time per mail.
        found: dict[int, list[Hit]] = {}
        for zone, weight in self.zone_weights.items():
            text = texts[zone]
            if not text or weight <= 0:
                continue
            for index, start in self.rules.gate.candidates(text):
                rule = self.rules.phrases[index]
                if zone in rule.zones:
                    hit = rule.check(zone, text, weight, self.rules.negation, start)
                    if hit is not None:
                        found.setdefault(index, []).append(hit)
        back = self.threads.taken_back(found, texts["new"])
        chosen: list[Hit] = []
        for index in sorted(found):
            hits = [
                dataclasses.replace(h, negated=True, score=0.0)
                if h.zone == "subject" and h.target in back and not h.negated
                else h
                for h in found[index]
            ]
            positive = [h for h in hits if not h.negated]
            chosen.append(max(positive, key=lambda h: h.score) if positive else hits[0])
        return tuple(chosen), back

    def _fuzzy_can_matter(self, hits: tuple[Hit, ...]) -> bool:
        # A misspelt customer name only matters when it can make the mail processor_routed:
        # the search for one (the slowest part of routing) is skipped when it cannot.
        context = sum(h.score for h in hits if h.target == "processor-context" and not h.negated)
        # The decision already asks for review from 80% of the threshold.
        needed = 0.8 * self.rules.policy.thresholds.processor - self.resolver.fuzzy_weight
        return context > 0 and context >= needed

    def _auto_reasons(self, mail: ParsedMail) -> list[tuple[str, bool]]:
        reasons = [(r, rule.weak) for rule in self.rules.headers if (r := rule.check(mail))]
        if mail.sender and mail.sender == self.mailbox_address:
            reasons.append(
                (f"loop: the mail comes from our own address {self.mailbox_address}", False)
            )
        return reasons

    def _internal(self, mail: ParsedMail) -> bool:
        domain = mail.sender.rpartition("@")[2]
        return any(domain == d or domain.endswith("." + d) for d in self.rules.policy.own_domains)

    def _id_document(self, mail: ParsedMail, hits: tuple[Hit, ...]) -> IdDocument:
        documents = [a for a in mail.attachments if self._may_be_document(a)]
        # A file name is kept in the reasons and the case: a BSN in it ("ID kopie BSN
        # 111222333.png") is masked as the name is taken.
        named = [
            mask_numbers(a.filename) for a in documents if self.rules.id_filename.search(a.filename)
        ]
        mentioned = any(h.target == "id-copy" and not h.negated for h in hits)
        files = named or ([mask_numbers(a.filename) for a in documents] if mentioned else [])
        if not self.scan:
            return IdDocument(present=bool(files), files=tuple(files))
        return self._scanned(documents, files)

    def _may_be_document(self, attachment: Attachment) -> bool:
        # The bytes decide; a declared type or name only adds to them (a broken "scan.png" is
        # looked at, and fails closed). An archive is looked into, not at.
        kind = sniff(attachment.data)
        if attachment.problem or kind in _DOCUMENT_FORMATS:
            return True
        return kind != "zip" and (
            attachment.content_type in self.rules.id_types
            or attachment.filename.lower().endswith(self.rules.id_extensions)
        )

    def _scanned(self, documents: list[Attachment], files: list[str]) -> IdDocument:
        from worker.judge.scan.scanner import ORDER, TIME_LIMIT_SECONDS, scan

        def in_process(data: bytes, seconds: float) -> ScanResult:
            return scan(data, self.rules.id_scan, min(seconds, TIME_LIMIT_SECONDS))

        scanner = self.scan if callable(self.scan) else in_process
        ends = time.monotonic() + self.scan_seconds
        seen: dict[str, ScanResult] = {}
        kinds: set[str] = set()
        unreadable: list[str] = []
        found = list(files)
        parts: dict[str, None] = {}
        flagged: dict[str, None] = {}
        for index, attachment in enumerate(documents):
            name = mask_numbers(attachment.filename) or f"attachment {index + 1}"
            result = self._result(index, attachment, scanner, seen, ends - time.monotonic())
            unreadable.extend(f"{name}: {problem}" for problem in result.unreadable)
            shown = result.unredacted or result.personal_numbers
            kinds.update(shown)
            if (result.is_id_document or shown) and name not in found:
                found.append(name)
            if shown or result.unreadable:
                # Cut whatever wraps it: the part itself, the zip, the HTML or the text.
                parts[attachment.part] = None
                if attachment.data:
                    flagged[attachment.digest] = None
        return IdDocument(
            present=bool(files) or any(r.is_id_document for r in seen.values()),
            unredacted=tuple(k for k in ORDER if k in kinds),
            files=tuple(found),
            unreadable=tuple(unreadable),
            parts=tuple(parts),
            payloads=tuple(flagged),
        )

    def _result(
        self,
        index: int,
        attachment: Attachment,
        scanner: Scanner,
        seen: dict[str, ScanResult],
        left: float,
    ) -> ScanResult:
        """The scan of one file, with what is left of the mail's scanning time (`left`)."""
        from worker.judge.scan.scanner import ScanResult

        if attachment.problem:
            return ScanResult.failed(attachment.problem)
        if index >= MAX_SCANNED_ATTACHMENTS:
            return ScanResult.failed(f"more than {MAX_SCANNED_ATTACHMENTS} attachments")
        if attachment.digest not in seen and left < MIN_SCAN_SECONDS:
            return ScanResult.failed(
                f"not checked, the mail's {self.scan_seconds:.0f} s for scanning were spent"
            )
        if attachment.digest not in seen:
            try:
                seen[attachment.digest] = scanner(attachment.data, left)
            except Exception as err:  # a scanner bug must not lose the mail
                seen[attachment.digest] = ScanResult.failed(f"{type(err).__name__}: {err}")
        return seen[attachment.digest]


def decision_json(decision: Decision, file: str) -> dict[str, Any]:
    """The JSON object `classify --json` prints for one file."""
    return {
        "file": file,
        "category": decision.category,
        "intents": list(decision.intents),
        "tenant": decision.tenant,
        "language": decision.language,
        "auto_generated": decision.auto_generated,
        "needs_review": decision.needs_review,
        "reasons": list(decision.reasons),
        "id_document": {
            "present": decision.id_document.present,
            "unredacted": list(decision.id_document.unredacted),
            "files": list(decision.id_document.files),
            "unreadable": list(decision.id_document.unreadable),
        },
        "scores": decision.scores,
    }


__all__ = ["Classifier", "decision_json"]
