"""What the parts of one mail say about each other: whose a quote or forward is (ours or
someone else's), whether a reply continues our case, whether the text takes back what the
subject asks, and a request further down a forwarded thread."""

from __future__ import annotations

import dataclasses
import re

from worker.judge.decide import REQUEST_CATEGORIES
from worker.judge.rules import RuleSet
from worker.judge.rules.phrases import Hit
from worker.judge.zones import Zones, normalize

# The line of a quoted or forwarded mail that names its author.
_AUTHOR_LINE = re.compile(
    r"^\s*>?\s*(?:from|van|von|de|od|da|fra|fr[åa]n|afzender|sender)\s*:"
    r"|\b(?:schreef|wrote|schrieb|a [ée]crit|escribi[óo]|ha scritto|napisa[łl]\w*|skrev)\b",
    re.IGNORECASE,
)


def blocks(thread: str) -> list[str]:
    """The mails of a quoted or forwarded thread, each from its author line on; text before
    the first author line (a reply's subject, an unattributed quote) has no known author."""
    blocks: list[list[str]] = []
    for line in thread.splitlines():
        if _AUTHOR_LINE.search(line):
            blocks.append([])
        if blocks:
            blocks[-1].append(line.lstrip("> "))
    return ["\n".join(b) for b in blocks]


class Threads:
    """Reads a mail's quotes, forwards and subject against its new text; holds only rules."""

    def __init__(self, rules: RuleSet, zone_weights: dict[str, float]) -> None:
        self.rules = rules
        self.zone_weights = zone_weights

    def taken_back(self, found: dict[int, list[Hit]], new: str) -> set[str]:
        # The request types the subject asks and the new text takes back: subject "Verwijder
        # mijn gegevens", text "eerst een overzicht ... dus nog NIET verwijderen"; or that the
        # text does not ask while it clearly asks another: subject "Verwijderen", text "mijn
        # oude adres vervangen door dit". The body decides: the subject's words go, and a
        # person checks.
        asked = {
            index: h.target
            for index, hits in found.items()
            for h in hits
            if h.zone == "subject" and not h.negated and h.target in REQUEST_CATEGORIES
        }
        if not asked or not new:
            return set()
        targets = set(asked.values())
        denied: set[str] = set()
        for index, _ in self.rules.gate.candidates(new):
            rule = self.rules.phrases[index]
            if rule.target in targets - denied and rule.denied(new, self.rules.negation):
                denied.add(rule.target)
        body: dict[str, float] = {}
        for hits in found.values():
            for h in hits:
                if h.zone == "new" and not h.negated:
                    body[h.target] = body.get(h.target, 0.0) + h.score
        thresholds = self.rules.policy.thresholds
        other = {c for c in REQUEST_CATEGORIES if body.get(c, 0.0) >= thresholds.confident}
        unasked = {t for t in targets if body.get(t, 0.0) < thresholds.intent and other - {t}}
        return denied | unasked

    def thread_request(self, hits: tuple[Hit, ...], zones: Zones) -> tuple[Hit, ...]:
        # A request at the bottom of a thread the writer sends on ("zie hieronder", a contract
        # thread with a PS, the agency's "mail Carerix for that" above her own earlier mail):
        # when her new words ask nothing, the thread's mails not written by us count, as a
        # forwarded request does, and a person checks.
        intent = self.rules.policy.thresholds.intent
        asked = {t: 0.0 for t in REQUEST_CATEGORIES}
        for h in hits:
            if h.target in asked and not h.negated and h.zone in ("subject", "new", "forwarded"):
                asked[h.target] += h.score
        if max(asked.values()) >= intent:
            return ()
        weight = self.zone_weights["forwarded"]
        best: dict[str, Hit] = {}
        for block in blocks(f"{zones.forwarded}\n{zones.quoted}"):
            if self.from_us(block):
                continue
            text = normalize(block)
            for index, start in self.rules.gate.candidates(text):
                rule = self.rules.phrases[index]
                if rule.target not in asked:
                    continue
                hit = rule.check("thread", text, weight, self.rules.negation, start)
                if hit is None or hit.negated:
                    continue
                if rule.name not in best or hit.score > best[rule.name].score:
                    best[rule.name] = hit
        scores = {t: sum(h.score for h in best.values() if h.target == t) for t in asked}
        if max(scores.values()) < intent:
            return ()
        return tuple(best.values())

    def answers_our_mail(self, zones: Zones) -> bool:
        # The quote starts with a mail from us ("Op ... schreef Carerix Privacy
        # <privacy@carerix.com>"): the writer answers what we asked about her request.
        return self.from_us(zones.quoted)

    def our_case(self, hits: tuple[Hit, ...]) -> tuple[Hit, ...]:
        # "Here is my ID as you asked; please go ahead" asks nothing new: the request is the one
        # our quoted mail names, so its words count as much as a forwarded request's. A new
        # request in the writer's own words decides instead.
        policy = self.rules.policy
        asked = sum(
            h.score
            for h in hits
            if h.target in REQUEST_CATEGORIES and h.zone != "quoted" and not h.negated
        )
        # A thank-you under our "done" mail continues nothing: the writer must say something
        # of the request herself (a word of it, or the ID copy she sends).
        acting = any(
            h.zone in ("subject", "new") and not h.negated
            for h in hits
            if h.target in (*REQUEST_CATEGORIES, "id-copy")
        )
        if asked >= policy.thresholds.intent or not acting:
            return hits
        scale = self.zone_weights["forwarded"] / self.zone_weights["quoted"]
        return tuple(
            dataclasses.replace(h, zone="our quoted mail", score=round(h.score * scale, 2))
            if h.zone == "quoted" and h.target in REQUEST_CATEGORIES
            else h
            for h in hits
        )

    def from_us(self, text: str) -> bool:
        # Who wrote a quoted or forwarded mail is in its header lines ("Van: ...", "Op ...
        # schreef ..."): our address in its text ("mail privacy@carerix.com") says nothing.
        lines = text.splitlines()[:12]
        for number, line in enumerate(lines):
            if _AUTHOR_LINE.search(line):
                # A mail program may wrap the address onto the next line.
                low = " ".join(lines[number : number + 2]).lower()
                return any(f"@{domain}" in low for domain in self.rules.policy.own_domains)
        return False

    def own_forward_as_quote(self, zones: Zones) -> Zones:
        # A forward of a mail we sent ("Van: events@carerix.com") is our text, like a quote: a
        # newsletter's "mail us to have your data deleted" must not count as the sender's wish.
        if not self.from_us(zones.forwarded):
            return zones
        quoted = f"{zones.quoted}\n{zones.forwarded}".strip("\n")
        return dataclasses.replace(zones, quoted=quoted, forwarded="")
