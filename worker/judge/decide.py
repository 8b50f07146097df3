"""The decision chain: from an enriched mail to a category, intents and a review flag. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field

from worker.judge.routing import TenantMatch
from worker.judge.rules.phrases import Hit
from worker.judge.rules.schema import Thresholds

# In this order ties are broken: a copy first and deletion after means deletion is the goal.
REQUEST_CATEGORIES = ("deletion", "correction", "inspection")
# GDPR rights that have no category of their own: a person handles them.
MANUAL_INTENTS = ("objection", "restriction", "portability")


@dataclass(frozen=True)
class IdDocument:
    """Whether an identity document came with the mail, and which sensitive fields are visible."""

    present: bool
    unredacted: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    # Attachments that could not be checked, each with why ("scan.pdf: PDF cannot be opened").
    unreadable: tuple[str, ...] = ()
    # What must not be kept, as sha256 digests (hex): the MIME parts holding a file that showed
    # a sensitive field or could not be checked, and those files themselves (to verify the cut).
    parts: tuple[str, ...] = ()
    payloads: tuple[str, ...] = ()


@dataclass(frozen=True)
class Enriched:
    """Everything the chain decides on; produced by the enrich step, never changed after."""

    hits: tuple[Hit, ...]
    auto_reasons: tuple[str, ...]
    auto_weak_only: bool
    internal: bool
    tenant: TenantMatch
    language: str
    id_document: IdDocument
    problems: tuple[str, ...]
    # What the enrich step saw that a person must check ("the text takes back the subject").
    doubts: tuple[str, ...] = ()
    # The writer answers a mail of ours (our quote under her text).
    answers_us: bool = False

    def score(self, target: str) -> float:
        """The summed weight of all non-negated hits for a target."""
        return sum(h.score for h in self.hits if h.target == target and not h.negated)


@dataclass(frozen=True)
class Decision:
    """The outcome for one mail, with every reason a privacy officer may ask about."""

    category: str
    intents: tuple[str, ...]
    tenant: str | None
    language: str
    auto_generated: bool
    needs_review: bool
    reasons: tuple[str, ...]
    id_document: IdDocument
    scores: dict[str, float] = field(default_factory=dict)


def decide(mail: Enriched, thresholds: Thresholds, intents: tuple[str, ...]) -> Decision:
    """Runs the chain: machine mail, problems, processor context, request type, signals."""
    # Sorted: the same mail gives the same output whatever the hash seed.
    scores = {t: round(mail.score(t), 2) for t in sorted({h.target for h in mail.hits})}
    found = tuple(i for i in intents if scores.get(i, 0.0) >= thresholds.intent)
    reasons = [h.reason() for h in sorted(mail.hits, key=lambda h: -h.score)]
    review: list[str] = [f"parse problem: {p}" for p in mail.problems]
    review.extend(mail.doubts)
    if mail.auto_reasons:
        review.extend(_machine_review(mail, scores, thresholds))
        return Decision(
            "other",
            found,
            None,
            mail.language,
            True,
            bool(review),
            (*mail.auto_reasons, *review, *reasons),
            mail.id_document,
            scores,
        )
    category, why = _category(mail, scores, found, thresholds)
    if category == "other" and "other" not in found:
        found = (*found, "other")
    review.extend(why)
    if mail.internal:
        review.append("from our own domain: internal mail, a person handles it")
    review.extend(_signals(scores, found, category, thresholds))
    tenant = mail.tenant.tenant if category == "processor_routed" else None
    if category == "processor_routed":
        reasons = [*mail.tenant.reasons, *reasons]
        review.extend(_routing_review(mail.tenant))
    review.extend(_id_review(mail.id_document))
    if category == "other" and mail.answers_us:
        # "Ja, graag." or "Het tweede." under our question: what it asks is in our quote and
        # in its case, which the service joins it to; alone it reads as nothing.
        review.append("answers our earlier mail, asking nothing by itself: its case decides")
    elif category == "other" and _own_data_only(scores, thresholds):
        review.append(
            "speaks of the writer's own data, but no request was recognised: a person reads it"
        )
    elif category == "other" and all(h.negated for h in mail.hits):
        review.append("no rule matched: the classifier does not know what this mail is")
    return Decision(
        category,
        found,
        tenant,
        mail.language,
        False,
        bool(review),
        (*review, *reasons),
        mail.id_document,
        scores,
    )


def _own_data_only(scores: dict[str, float], t: Thresholds) -> bool:
    # Unless the mail says plainly it is something else ("this is not a request": weight 4).
    return scores.get("own-data", 0.0) >= t.signal and scores.get("other", 0.0) < 4.0


def _machine_review(mail: Enriched, scores: dict[str, float], t: Thresholds) -> list[str]:
    # Headers a person's mail can carry too (a web form, a mailing service) plus a clear
    # request: never answered automatically, but a person looks.
    strongest = max(scores.get(c, 0.0) for c in REQUEST_CATEGORIES)
    if mail.auto_weak_only and strongest >= t.confident:
        return [
            "bulk-mail headers, but a request in the text: never answered automatically; "
            "a person checks it"
        ]
    return []


def _routing_review(match: TenantMatch) -> list[str]:
    if match.tenant is None:
        return ["processor_routed without a known tenant: route by hand"]
    if match.needs_review:
        return ["tenant not certain: check before forwarding"]
    return []


def _category(
    mail: Enriched, scores: dict[str, float], found: tuple[str, ...], t: Thresholds
) -> tuple[str, list[str]]:
    requests = sorted(REQUEST_CATEGORIES, key=lambda c: -scores.get(c, 0.0))
    best, runner_up = requests[0], requests[1]
    top, second = scores.get(best, 0.0), scores.get(runner_up, 0.0)
    processor = scores.get("processor-context", 0.0) + mail.tenant.processor_weight
    # A mail whose plain purpose is something else (a support how-to about a candidate's
    # erasure, billing details, phishing) weighs more as `other` than as any request.
    any_request = (top >= t.intent and top >= scores.get("other", 0.0)) or any(
        i in found for i in MANUAL_INTENTS
    )
    # Words alone ("staffing company", "onze kandidaten") beside as much of Carerix's own
    # relation (its support portal, event, newsletter; the writer as its customer's user) say
    # nothing certain about whose data it is: the request with a person checking, not a route.
    ours = scores.get("controller-context", 0.0) + scores.get("customer-relation", 0.0)
    mixed = not mail.tenant.evidence and t.processor <= processor < t.processor + ours
    if processor >= t.processor and not mixed:
        # Only a request is forwarded on its own: an agency's host in a security report, or
        # its name in a misdirected job application, is for a person to look at.
        if not any_request:
            # A breach report or complaint that mentions agencies is that report.
            if any(scores.get(s, 0.0) >= t.signal for s in ("breach", "complaint")):
                return "other", []
            # A name or host alone (a security report, a misdirected application) does not
            # make a mail about an agency's data; the writer saying so does.
            if scores.get("processor-context", 0.0) < t.processor:
                return "other", ["names an agency but asks nothing of it: check who handles this"]
            return "processor_routed", [
                "agency context but no request found: check before forwarding"
            ]
        if mail.tenant.insider and scores.get("customer-relation", 0.0) >= t.agency_named:
            # The agency's own recruiter about her user days or account notes at Carerix.
            return "processor_routed", [
                "the writer works at the customer and names Carerix's own relation with her: "
                "check whose data this is before forwarding"
            ]
        return "processor_routed", []
    # Asymmetric on purpose: acknowledging an agency's data as ours tells the requester we will
    # act on data we do not control, so an agency named beside a request goes to a person.
    # Unless the mail itself says the relation is Carerix's own (a customer's contact person
    # asking about our newsletter or customer file names the agency she works for).
    own = scores.get("customer-relation", 0.0) >= t.agency_named
    if any_request and mail.tenant.processor_weight >= t.agency_named and not own:
        # Its website or full name, from someone who is not its staff, with nothing of
        # Carerix's own relation in the mail: the request is about that customer's data.
        if mail.tenant.distinct and not mail.tenant.needs_review and not ours:
            return "processor_routed", []
        return "processor_routed", [
            f"an agency is named beside the request, with little context ({processor:.1f}): "
            "check whose data this is before forwarding"
        ]
    # Complaints, reminders, breach reports and withdrawals often name the request they are
    # about ("my Art. 15 request of May"); they decide unless the request is clearly stronger.
    for signal in ("complaint", "reminder", "breach", "withdrawal"):
        if scores.get(signal, 0.0) >= t.signal and scores.get(signal, 0.0) >= top - t.margin:
            return "other", []
    if top < t.intent:
        return "other", []
    # When the strongest wish is one without a category of its own (an objection to direct
    # marketing that mentions deletion only as a consequence), the mail is not that request.
    manual = max((scores.get(i, 0.0) for i in (*MANUAL_INTENTS, "other")), default=0.0)
    if manual > top:
        return "other", []
    why: list[str] = []
    if top < t.confident:
        why.append(f"low confidence: {best} scored {top:.1f} (needs {t.confident:.1f})")
    if second >= t.confident:
        # Two strong requests in one mail: the category (and its reply) covers only one.
        close = "conflicting intents" if top - second < t.margin else "two requests"
        why.append(f"{close}: {best} {top:.1f} and {runner_up} {second:.1f}")
    if mixed or t.processor * 0.8 <= processor < t.processor:
        why.append(f"some processor context ({processor:.1f}): check whose data this is")
    return best, why


def _signals(
    scores: dict[str, float], found: tuple[str, ...], category: str, t: Thresholds
) -> list[str]:
    review: list[str] = []
    if scores.get("breach", 0.0) >= t.signal:
        review.append("possible breach: check the 72-hour notification duty (Art. 33)")
    if scores.get("complaint", 0.0) >= t.signal:
        review.append("complaint: a person must answer")
    if scores.get("reminder", 0.0) >= t.signal:
        review.append("reminder of an earlier request: check that case's deadline")
    if scores.get("withdrawal", 0.0) >= t.signal:
        review.append("takes back a request: close its case by hand")
    if scores.get("repeat", 0.0) >= t.signal:
        review.append("refers to an earlier answer or request: check that case before answering")
    if scores.get("procedure", 0.0) >= t.signal and category in REQUEST_CATEGORIES:
        review.append("asks how a request works or how long it takes: maybe no request yet")
    # Next to a request, an objection or portability wish is handled with it; on its own, or a
    # restriction, it has no automatic path.
    manual = [
        i for i in found if i in MANUAL_INTENTS and (category == "other" or i == "restriction")
    ]
    if manual:
        review.append(f"also asks for {', '.join(manual)}: no automatic handling")
    return review


def _id_review(document: IdDocument) -> list[str]:
    review = [f"attachment could not be checked for ID data: {u}" for u in document.unreadable]
    if document.unredacted:
        what = "unredacted ID copy" if document.present else "attachment with personal numbers"
        review.append(f"{what}: {', '.join(document.unredacted)} visible")
    elif document.present:
        review.append("ID copy attached: no sensitive field found readable; check it")
    return review


def failure(reason: str) -> Decision:
    """The decision for a mail that could not be classified at all: a person looks at it."""
    return Decision("other", (), None, "en", False, True, (reason,), IdDocument(False), {})
