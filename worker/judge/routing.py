"""Finds which customer (tenant) a mail concerns, favouring no answer over a wrong one."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import ahocorasick
from rapidfuzz import fuzz, process

from worker.judge.mail import ParsedMail
from worker.judge.rules.schema import PolicyFile
from worker.judge.tenants import Registry, Tenant
from worker.judge.zones import Zones, fold, normalize

CARERIX_NET = "carerix.net"
_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
_LABEL_BEFORE = re.compile(r"([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)\.$")
_WORDS = re.compile(r"[a-z0-9&'-]+")
_ANY_WORDS = re.compile(r"\w+")
# Evidence in these zones says the mail is about the customer; a signature only says who writes.
# Misspelt names are looked for in the first part of a zone only: it is the slow search.
FUZZY_MAX_CHARS = 5000
_TOPIC_ZONES = ("subject", "new", "forwarded", "quoted")
# Zones that say who writes or receives a mail, not what it is about.
_WHO_WRITES = ("sender", "signature", "recipients")
# A quote of someone else's mail (not ours) is part of what the writer sends us.
_THEIR_QUOTE = "quoted mail of another"


@dataclass(frozen=True)
class Evidence:
    """One trace of a tenant in a mail."""

    tenant: str
    kind: str  # host, domain, name, weak-name, fuzzy
    zone: str
    text: str
    span: tuple[int, int] = (0, 0)
    through: bool = False  # right after "via", "through", "przez", ...

    @property
    def strong(self) -> bool:
        """Host, domain and properly written names are strong; lower-case or misspelt ones weak."""
        return self.kind in ("host", "domain", "name")

    def describe(self) -> str:
        """How staff see this evidence in a reason."""
        through = " (worked or applied through it)" if self.through else ""
        return f"{self.kind} \u201c{self.text}\u201d in {self.zone}{through}"


@dataclass(frozen=True)
class TenantMatch:
    """The resolved tenant (or None), what pointed at it, and how much it says about routing."""

    tenant: str | None
    evidence: tuple[Evidence, ...]
    processor_weight: float
    reasons: tuple[str, ...]
    needs_review: bool
    unknown_hosts: tuple[str, ...]
    # Named unmistakably in what the mail is about (see `_distinct`), by someone who does not
    # write from or sign for it: enough to forward a request on its own.
    distinct: bool = False
    # The writer writes from or signs for the customer: maybe Carerix's own contact person.
    insider: bool = False


class TenantResolver:
    """Matches hosts, domains and names of the registry against one mail."""

    def __init__(self, registry: Registry, policy: PolicyFile) -> None:
        self.policy = policy
        self.tenants = {t.id: t for t in registry.tenants}
        self.hosts = {h: t.id for t in registry.tenants for h in t.carerix_hosts}
        self.domains = {d: t.id for t in registry.tenants for d in t.domains}
        self.own = tuple(policy.own_domains)
        self.variants = _name_variants(registry.tenants, policy.legal_suffixes)
        self.first_words = _first_words(registry.tenants)
        # A misspelt or lower-case name counts three quarters of a properly written one.
        self.fuzzy_weight = policy.tenant_evidence.name_in_text * 0.75
        evidence = policy.tenant_evidence
        self.cues = frozenset(normalize(c) for c in evidence.lowercase_name_cues)
        self.through_before = frozenset(normalize(c) for c in evidence.through_before)
        self.through_after = frozenset(normalize(c) for c in evidence.through_after)
        minimum = policy.tenant_evidence.fuzzy_min_length
        self.fuzzy_variants = {
            v: v.replace(" ", "") for v in self.variants if len(v) >= minimum and v.count(" ") <= 2
        }
        self.finder = _finder(self.variants, [*self.hosts, *self.domains, CARERIX_NET])

    def resolve(
        self, mail: ParsedMail, zones: Zones, fuzzy: bool = True, quote_is_ours: bool = False
    ) -> TenantMatch:
        """Collects evidence and answers a tenant only when exactly one fits. Misspelt names
        are looked for only when `fuzzy` (the caller saw agency context): it is the slow part.
        A name in a quote counts half when the quote is our own mail (`quote_is_ours`: "we
        forwarded your request to X"); in another's quote (the agency's roster mail the
        writer answers, with its signature) it counts in full."""
        unknown: set[str] = set()
        evidence = [
            *self._address_evidence(mail),
            *self._text_evidence(zones, unknown),
            *self._link_evidence(mail),
        ]
        if not quote_is_ours:
            evidence = [
                dataclasses.replace(e, zone=_THEIR_QUOTE) if e.zone == "quoted" else e
                for e in evidence
            ]
        if not evidence and fuzzy and self.variants:
            evidence = self._fuzzy_evidence(zones)
        evidence = _drop_shadowed(evidence)
        return self._decide(evidence, tuple(sorted(unknown)))

    def _address_evidence(self, mail: ParsedMail) -> Iterator[Evidence]:
        for zone, addresses in (("sender", (mail.sender,)), ("recipients", mail.recipients)):
            for address in addresses:
                tenant = self._domain_owner(address.rpartition("@")[2])
                if tenant:
                    yield Evidence(tenant, "domain", zone, address)

    def _link_evidence(self, mail: ParsedMail) -> Iterator[Evidence]:
        # A link's host counts as the host or domain written in the mail: it is what the
        # requester clicked (a job alert, "complete your candidate profile").
        for host in mail.link_hosts:
            if host in self.hosts:
                yield Evidence(self.hosts[host], "host", "link", host)
            elif tenant := self._domain_owner(host):
                yield Evidence(tenant, "domain", "link", host)

    def _text_evidence(self, zones: Zones, unknown: set[str]) -> Iterator[Evidence]:
        # One Aho-Corasick pass per zone finds every name, host and domain of the registry: a
        # regex alternation of hundreds of customers' names would be tried at every position.
        for zone in ("subject", "new", "forwarded", "quoted", "signature"):
            text = fold(zones.get(zone))
            lower = text.lower()
            if len(lower) != len(text):
                text = lower  # a rare letter changed length in lower case: no case test then
            for end, key in self.finder.iter(lower):
                start = end + 1 - len(key)
                if key == CARERIX_NET:
                    host = _carerix_host(lower, start)
                    if host in self.hosts:
                        yield Evidence(self.hosts[host], "host", zone, host)
                    elif host and zone in _TOPIC_ZONES:
                        unknown.add(host)
                elif key in self.variants:
                    if _word_at(lower, start, end + 1):
                        found = text[start : end + 1]
                        # Written all in lower case, a name is as likely an ordinary word or
                        # phrase ("the next step", "goedemorgen") as the customer: weak
                        # evidence, and none at all without a word that puts an organisation
                        # there ("via flexpower").
                        kind = "name"
                        if found.islower() or self._interjection(text, start, end + 1):
                            if not self._cued(lower, start):
                                continue
                            kind = "weak-name"
                        through = self._through(lower, start, end + 1)
                        for tenant in self.variants[key]:
                            yield Evidence(tenant, kind, zone, found, (start, end + 1), through)
                elif _host_at(lower, start, end + 1):
                    owner = self.hosts.get(key) or self.domains.get(key)
                    if owner:
                        yield Evidence(owner, "host" if key in self.hosts else "domain", zone, key)

    def _cued(self, text: str, start: int) -> bool:
        words = _ANY_WORDS.findall(text[max(0, start - 24) : start])
        return bool(words) and words[-1] in self.cues

    def _interjection(self, text: str, start: int, end: int) -> bool:
        # At the start of a sentence, before a comma or "!", in sentence case: a greeting or
        # interjection ("Goedendag,", "Fair enough, ..."), however the agency writes its name.
        found = text[start:end]
        before = text[max(0, start - 3) : start].strip()
        after = text[end : end + 1]
        opening = not before or before[-1] in ".!?\n>:"
        sentence_case = found[:1].isupper() and found[1:] == found[1:].lower()
        return opening and sentence_case and after in (",", "!")

    def _through(self, text: str, start: int, end: int) -> bool:
        before = _ANY_WORDS.findall(text[max(0, start - 24) : start])
        after = _ANY_WORDS.findall(text[end : end + 24])
        return (bool(before) and before[-1] in self.through_before) or (
            bool(after) and after[0] in self.through_after
        )

    def _fuzzy_evidence(self, zones: Zones) -> list[Evidence]:
        # Spaces are ignored ("Zorg Select", "Bright Path"), and a misspelt name that also holds
        # another customer's distinctive first word ("Janssen uitzendbureau") fits both.
        found: list[Evidence] = []
        cutoff = self.policy.tenant_evidence.fuzzy_min_score
        for zone in ("subject", "new", "forwarded"):
            grams = _grams_by_length(zones.get(zone)[:FUZZY_MAX_CHARS])
            for variant, compact in self.fuzzy_variants.items():
                # A ratio of `cutoff` or more is impossible between strings whose lengths differ
                # by more than this: only grams of nearby length are compared.
                slack = int(len(compact) * (100 - cutoff) / 100) + 1
                near = [
                    g
                    for n in range(len(compact) - slack, len(compact) + slack + 1)
                    for g in grams.get(n, ())
                ]
                best = process.extractOne(compact, near, scorer=fuzz.ratio, score_cutoff=cutoff)
                if best is None:
                    continue
                gram = grams[len(best[0])][best[0]]
                others = {t for word in gram.split() for t in self.first_words.get(word, ())}
                found.extend(
                    Evidence(t, "fuzzy", zone, gram)
                    for t in sorted(set(self.variants[variant]) | others)
                )
        return found

    def _domain_owner(self, host: str) -> str | None:
        host = host.lower().rstrip(".")
        if any(host == d or host.endswith("." + d) for d in self.own):
            return None
        parts = host.split(".")
        for i in range(len(parts) - 1):
            owner = self.domains.get(".".join(parts[i:]))
            if owner:
                return owner
        return None

    def _decide(self, evidence: list[Evidence], unknown: tuple[str, ...]) -> TenantMatch:
        candidates = tuple(sorted({e.tenant for e in evidence}))
        weight = max([self._weight(e) for e in evidence] + [0.0])
        reasons: list[str] = []
        if unknown:
            weight = max(weight, self.policy.tenant_evidence.unknown_carerix_host)
            reasons.append(f"unknown-carerix-host: {', '.join(unknown)} is in no registry entry")
        if len(candidates) > 1:
            per = "; ".join(
                f"{c} ({next(e.describe() for e in evidence if e.tenant == c)})" for c in candidates
            )
            reasons.append(f"tenant-ambiguous: several customers fit: {per}")
        if len(candidates) != 1:
            return TenantMatch(
                None,
                tuple(evidence),
                weight,
                tuple(reasons),
                len(candidates) > 1,
                unknown,
            )
        tenant = candidates[0]
        shown = "; ".join(sorted({e.describe() for e in evidence})[:4])
        doubts = []
        if not any(e.strong for e in evidence):
            doubts.append("only an approximate match")
        # A sender's domain or a signature says who writes, not whose data it is: a candidate's
        # request signed by a recruiter of another agency must not go to the recruiter's.
        if not any(self._weight(e) > 0 and e.zone not in _WHO_WRITES for e in evidence):
            doubts.append("known only from who writes or receives it (addresses, signature)")
        reasons.append(f"tenant-match: {tenant} ({shown})" + "".join(f": {d}" for d in doubts))
        # "Productiemedewerker, gedetacheerd via X" under her name: she worked through X, she
        # does not speak for it.
        insider = any(e.zone in ("sender", "signature") and not e.through for e in evidence)
        return TenantMatch(
            tenant,
            tuple(evidence),
            weight,
            tuple(reasons),
            bool(doubts) or bool(unknown),
            unknown,
            not insider and any(_distinct(e) for e in evidence),
            insider,
        )

    def _weight(self, evidence: Evidence) -> float:
        policy = self.policy.tenant_evidence
        # Who else the mail went to (a request sent to "all parties", the agency in Cc) says
        # who was asked, not whose data it is. A signature says who writes, unless it says
        # through whom she worked.
        if evidence.zone in _WHO_WRITES and not (
            evidence.zone == "signature" and evidence.through and evidence.kind == "name"
        ):
            return 0.0
        by_kind = {
            "host": policy.carerix_host,
            "domain": policy.domain_in_text,
            "name": policy.name_in_text,
            "weak-name": self.fuzzy_weight,
            "fuzzy": self.fuzzy_weight,
        }
        weight = by_kind[evidence.kind]
        if evidence.through and evidence.kind == "name":
            weight += policy.through_name
        return weight * 0.5 if evidence.zone == "quoted" else weight


def _distinct(evidence: Evidence) -> bool:
    """A trace no ordinary word makes: a website of the customer written in the mail, or a name
    of two or more words written as a name ("Kiel & Vonk", "Next Step Staffing", "Ploeg 42"),
    in the subject, the new text, a forward or another's quoted mail. A one-word name
    ("Vandaag", "Atlas") or a phrase in sentence case ("Aan de slag") is not."""
    if evidence.zone not in ("subject", "new", "forwarded", _THEIR_QUOTE, "link"):
        return False
    if evidence.kind == "domain":
        return "@" not in evidence.text
    words = evidence.text.split()
    marked = any(c.isupper() or c.isdigit() or c == "&" for c in evidence.text[1:])
    return evidence.kind == "name" and len(words) >= 2 and marked


def _finder(names: Iterable[str], hosts: Iterable[str]) -> ahocorasick.Automaton:
    automaton = ahocorasick.Automaton()
    for key in {*names, *hosts}:
        automaton.add_word(key, key)
    automaton.make_automaton()
    return automaton


def _word_at(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] stands as whole words (no letter, digit or hyphen touching it)."""
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    return not (before.isalnum() or before in "-_" or after.isalnum() or after in "-_")


def _host_at(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] is a whole host name, or the parent domain of one (mail.x.nl)."""
    before = text[start - 1] if start > 0 else " "
    return before not in _HOST_CHARS and _host_ends(text, end)


def _host_ends(text: str, end: int) -> bool:
    """Whether a host name ends at `end`: no host character follows, nor a dot and one."""
    after = text[end : end + 2]
    if not after:
        return True
    return after[0] not in _HOST_CHARS and not (after[0] == "." and after[1:] in _HOST_CHARS)


def _carerix_host(text: str, start: int) -> str:
    """The NAME.carerix.net host whose "carerix.net" starts at `start`, or '' if none."""
    if text[start - 1 : start] != "." or not _host_ends(text, start + len(CARERIX_NET)):
        return ""
    match = _LABEL_BEFORE.search(text, max(0, start - 64), start)
    host = f"{match.group(1)}.{CARERIX_NET}" if match else ""
    return "" if host == f"www.{CARERIX_NET}" else host


def _name_variants(tenants: Iterable[Tenant], suffixes: list[str]) -> dict[str, tuple[str, ...]]:
    """Every way a tenant's name may be written (lower case) mapped to the tenants it names."""
    owners: dict[str, set[str]] = {}
    for tenant in tenants:
        for name in (tenant.name, *tenant.aliases):
            for variant in {_clean(name), _clean(_strip_suffix(name, suffixes))}:
                if len(variant) >= 3:
                    owners.setdefault(variant, set()).add(tenant.id)
    return {v: tuple(sorted(ids)) for v, ids in owners.items()}


def _grams_by_length(text: str) -> dict[int, dict[str, str]]:
    """Runs of one to three words, spaces removed, by length, each with its written form."""
    words = _WORDS.findall(fold(text).lower())
    grams: dict[int, dict[str, str]] = {}
    for size in (1, 2, 3):
        for i in range(len(words) + 1 - size):
            gram = " ".join(words[i : i + size])
            compact = gram.replace(" ", "")
            grams.setdefault(len(compact), {}).setdefault(compact, gram)
    return grams


def _first_words(tenants: Iterable[Tenant]) -> dict[str, tuple[str, ...]]:
    """The distinctive first word of each name (5 letters or more) mapped to its tenants."""
    owners: dict[str, set[str]] = {}
    for tenant in tenants:
        for name in (tenant.name, *tenant.aliases):
            first = _clean(name).split(" ")[0]
            if len(first) >= 5:
                owners.setdefault(first, set()).add(tenant.id)
    return {w: tuple(sorted(ids)) for w, ids in owners.items()}


def _clean(name: str) -> str:
    return " ".join(fold(name).lower().replace(",", " ").split())


def _strip_suffix(name: str, suffixes: list[str]) -> str:
    words = name.replace(",", " ").split()
    while len(words) > 1 and words[-1].lower() in suffixes:
        words.pop()
    return " ".join(words)


def _drop_shadowed(evidence: list[Evidence]) -> list[Evidence]:
    """Drops a name found inside a longer name of another tenant ("Flexwerk" in "Flexwerk Zuid")."""
    names = [e for e in evidence if e.kind in ("name", "weak-name")]

    def shadowed(e: Evidence) -> bool:
        return any(
            o.zone == e.zone
            and o.tenant != e.tenant
            and o.span[0] <= e.span[0]
            and e.span[1] <= o.span[1]
            and (o.span[1] - o.span[0]) > (e.span[1] - e.span[0])
            for o in names
        )

    kept = [e for e in evidence if e.kind not in ("name", "weak-name") or not shadowed(e)]
    return _resolve_shared(kept)


def _resolve_shared(evidence: list[Evidence]) -> list[Evidence]:
    """A name two tenants share ("Heldergroen") names the one the mail names in full
    elsewhere ("Heldergroen Finance & Office ... I never applied to Heldergroen"): when only
    one of them is named by a name of its own, the shared name's other readings go."""
    names = [e for e in evidence if e.kind == "name"]
    shared = {
        e.text.lower() for e in names if sum(o.text.lower() == e.text.lower() for o in names) > 1
    }
    if not shared:
        return evidence
    specific = {e.tenant for e in names if e.text.lower() not in shared}
    if len(specific) != 1:
        return evidence
    return [
        e
        for e in evidence
        if not (e.kind == "name" and e.text.lower() in shared and e.tenant not in specific)
    ]
