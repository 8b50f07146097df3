"""Tenant resolution: one customer when exactly one fits, none (and review) otherwise."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from tests.conftest import make_mail
from worker.judge.classify import Classifier
from worker.judge.rules import RuleSet
from worker.judge.tenants import Registry, Tenant


def route(
    classifier: Classifier,
    body: str,
    sender: str = "Jan <jan@example.nl>",
    subject: str = "Verzoek",
) -> tuple[str, str | None, bool, tuple[str, ...]]:
    decision = classifier.classify(make_mail(body, subject=subject, sender=sender))
    return decision.category, decision.tenant, decision.needs_review, decision.reasons


@pytest.mark.parametrize(
    ("body", "tenant"),
    [
        (
            "Ik heb via https://acme.carerix.net gesolliciteerd, verwijder mijn gegevens.",
            "acme-staffing",
        ),
        (
            "Ik heb gesolliciteerd bij Acme Staffing B.V. en wil inzage in mijn dossier.",
            "acme-staffing",
        ),
        ("Ik ben via Flexwerk Zuid gedetacheerd. Graag inzage in mijn gegevens.", "flexwerk-zuid"),
        (
            "I applied through BrightPath Recruitment, please delete my CV.",
            "brightpath-recruitment",
        ),
    ],
)
def test_one_customer_fits(classifier: Classifier, body: str, tenant: str) -> None:
    category, found, review, _ = route(classifier, body)
    assert (category, found, review) == ("processor_routed", tenant, False)


def test_misspelt_name_routes_but_asks_review(classifier: Classifier) -> None:
    category, tenant, review, reasons = route(
        classifier, "I applied through Brigthpath Recruitmnt, please delete my CV."
    )
    assert (category, tenant, review) == ("processor_routed", "brightpath-recruitment", True)
    assert any("approximate" in r for r in reasons)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            "Ik heb bij Flexwerk Noord en daarna bij Flexwerk Zuid gewerkt via het uitzendbureau."
            " Verwijder mijn gegevens.",
            "several customers fit",
        ),
        (
            "Ik heb gesolliciteerd bij uitzendbureau Snelwerk. Verwijder mijn cv.",
            "without a known tenant",
        ),
        ("Mijn profiel staat op https://nobody.carerix.net, ik wil inzage.", "nobody.carerix.net"),
    ],
    ids=["two-customers", "unregistered-agency", "unknown-carerix-host"],
)
def test_no_single_customer_means_no_tenant_and_review(
    classifier: Classifier, body: str, reason: str
) -> None:
    category, tenant, review, reasons = route(classifier, body)
    assert (category, tenant, review) == ("processor_routed", None, True)
    assert any(reason in r for r in reasons)


def test_agency_employee_about_own_data_is_not_routed(classifier: Classifier) -> None:
    category, tenant, _, _ = route(
        classifier,
        "Graag mijn naam corrigeren in jullie nieuwsbrief: het is Anne, niet Anna.\n\n"
        "Met vriendelijke groet,\nAnne\nAcme Staffing",
        sender="Anne <anne@acme-staffing.nl>",
    )
    assert (category, tenant) == ("correction", None)


def test_single_word_alias_in_lower_case_is_weak(classifier: Classifier) -> None:
    # Written in lower case, a one-word name may be an ordinary word: route, but ask a person.
    category, tenant, review, reasons = route(
        classifier, "Ik heb via acme gewerkt als uitzendkracht. Verwijder mijn gegevens."
    )
    assert (category, tenant, review) == ("processor_routed", "acme-staffing", True)
    assert any("weak-name" in r and "approximate" in r for r in reasons)


def test_tenant_known_only_from_the_signature_needs_review(classifier: Classifier) -> None:
    # A candidate's request about an unregistered agency, signed by a recruiter elsewhere.
    category, tenant, review, reasons = route(
        classifier,
        "Ik heb bij uitzendbureau Snelwerk gesolliciteerd. Verwijder mijn gegevens.\n\n"
        "Met vriendelijke groet,\nPiet\nRecruiter bij Flexwerk Zuid",
    )
    assert category == "processor_routed" and review is True
    assert tenant == "flexwerk-zuid"
    assert any("known only from who writes" in r for r in reasons)


def test_a_name_written_in_lower_case_is_only_weak_evidence(classifier: Classifier) -> None:
    # Issue 13: "next step" or "flexwerk zuid" in lower case may be a phrase, not the agency:
    # it is never forwarded on its own.
    _, _, review, reasons = route(
        classifier, "ik heb bij flexwerk zuid gewerkt. verwijder al mijn gegevens."
    )
    assert review and any("weak-name" in r for r in reasons)


def test_an_agency_host_without_a_request_is_not_forwarded(classifier: Classifier) -> None:
    # Issue 13: a security report naming a customer's carerix.net host was forwarded to it.
    # A host alone does not make the mail about the agency's data: a person looks.
    category, tenant, review, reasons = route(
        classifier,
        "Beste, op https://acme.carerix.net staat een verouderde versie van jQuery.",
        subject="Beveiliging",
    )
    assert (category, tenant, review) == ("other", None, True)
    assert any(r.startswith("names an agency but asks nothing") for r in reasons)


def test_agency_words_without_a_request_still_go_to_a_person_as_routed(
    classifier: Classifier,
) -> None:
    # The writer says her data is at an agency but the request is not recognised.
    category, _, review, reasons = route(
        classifier,
        "Ik werkte via een uitzendbureau in Westland en kreeg een sms met een link. "
        "Kunt u mij helpen?",
    )
    assert (category, review) == ("processor_routed", True)
    assert any(r.startswith("agency context but no request found") for r in reasons)


def with_agencies(
    rules: RuleSet, registry: Registry, *agencies: tuple[str, list[str]]
) -> Classifier:
    """A classifier on the test registry plus agencies given as (id, aliases)."""
    extra = tuple(
        Tenant(
            id=key,
            name=f"{aliases[0]} B.V.",
            aliases=aliases,
            domains=[f"{key}-werk.example"],
            carerix_hosts=[f"{key}.carerix.net"],
            privacy_contact=f"privacy@{key}-werk.example",
            language="nl",
        )
        for key, aliases in agencies
    )
    return Classifier(rules, Registry(tenants=(*registry.tenants, *extra)), "privacy@carerix.com")


@pytest.fixture(scope="module")
def with_word_names(rules: RuleSet, registry: Registry) -> Classifier:
    """The test registry plus agencies named with ordinary words ("Morgen", "Next Step")."""
    return with_agencies(rules, registry, ("morgen", ["Morgen"]), ("next-step", ["Next Step"]))


@pytest.mark.parametrize(
    "body",
    [
        "Goedemorgen, tot morgen hoop ik: verwijder mijn gegevens uit jullie nieuwsbrief.",
        "As a next step, please delete my details from your newsletter list.",
        # Dutch "u" (you) is no cue, though Slavic "u" (at) would be.
        "Ik reken erop dat u morgen reageert. Verwijder mijn gegevens uit jullie nieuwsbrief.",
        # Sentence case before a comma at the start of a sentence: a greeting or interjection.
        "Morgen, zo snel mogelijk graag: verwijder mijn gegevens uit jullie nieuwsbrief.",
        "Next step, then: please delete my details from your newsletter list.",
    ],
)
def test_a_lower_case_name_that_is_an_ordinary_word_is_no_evidence(
    with_word_names: Classifier, body: str
) -> None:
    # In lower case and not after "via", "bij", "at" and the like, it is the word.
    category, tenant, review, reasons = route(with_word_names, body)
    assert (category, tenant, review) == ("deletion", None, False)
    assert not any("weak-name" in r for r in reasons)


@pytest.mark.parametrize(
    ("body", "tenant"),
    [
        ("Ik heb via morgen gewerkt als uitzendkracht. Verwijder mijn gegevens.", "morgen"),
        ("I worked at next step as a temp worker. Please delete my data.", "next-step"),
    ],
)
def test_a_lower_case_name_after_a_cue_is_weak_evidence(
    with_word_names: Classifier, body: str, tenant: str
) -> None:
    category, found, review, reasons = route(with_word_names, body)
    assert (category, found, review) == ("processor_routed", tenant, True)
    assert any("weak-name" in r for r in reasons)


def test_a_customer_host_only_in_a_link_routes_the_request(classifier: Classifier) -> None:
    # Issue 13: "Complete your profile" linked to the agency's carerix.net host, and the
    # requester was told Carerix would delete the data.
    message = EmailMessage()
    message["From"] = "Aisha <aisha@example.com>"
    message["To"] = "privacy@carerix.com"
    message["Subject"] = "Please remove my candidate profile"
    message["Message-ID"] = "<link@example.com>"
    text = "I keep getting emails to complete my profile. Please remove the profile and my data."
    message.set_content(text)
    message.add_alternative(
        f'<p>{text}</p><a href="https://acme.carerix.net/profile?id=7">Complete your profile</a>',
        subtype="html",
    )
    decision = classifier.classify(message.as_bytes())
    assert (decision.category, decision.tenant) == ("processor_routed", "acme-staffing")
    assert any("host \u201cacme.carerix.net\u201d in link" in r for r in decision.reasons)


def test_an_agency_in_the_quoted_mail_of_another_is_evidence(classifier: Classifier) -> None:
    # The writer answers the agency's roster mail (its signature names the agency) and sends it
    # to us: the request is about the agency's data, never Carerix's to acknowledge.
    body = (
        "Verwijder mijn gegevens, ik werk daar niet meer.\n\n"
        "-----Oorspronkelijk bericht-----\nVan: Karin\nOnderwerp: Uren\n\n"
        "Hoi, vergeet je uren niet.\n\nMet vriendelijke groet,\nKarin Bos\n"
        "Intercedent | Flexwerk Zuid\n"
    )
    category, tenant, _, reasons = route(classifier, body)
    assert (category, tenant) == ("processor_routed", "flexwerk-zuid")
    assert any("quoted mail of another" in r for r in reasons)


def test_an_agency_in_our_own_quoted_mail_counts_half(classifier: Classifier) -> None:
    # "We forwarded your request to Flexwerk Zuid" quoted under a thank-you is no new request
    # about the agency's data.
    body = (
        "Dank voor uw bericht, ik wil ook graag mijn gegevens bij jullie verwijderd hebben.\n\n"
        "Op 3 mrt. 2026 schreef Carerix Privacy <privacy@carerix.com>:\n"
        "> Wij hebben uw verzoek doorgestuurd naar Flexwerk Zuid.\n"
    )
    category, _, _, reasons = route(classifier, body, subject="Re: PRIV-2026-000001")
    assert category == "deletion"
    assert not any("quoted mail of another" in r for r in reasons)


@pytest.mark.parametrize(
    "body",
    [
        "Dzień dobry, pracowałam przez Flexwerk Zuid w Helmond. Proszę usunąć moje dane.",
        "Bună ziua, lucrez prin Flexwerk Zuid în Groningen. Vă rog să ștergeți datele mele.",
        "Merhaba, Flexwerk Zuid üzerinden calistim. Lütfen verilerimi silin.",  # dotless i left out
    ],
)
def test_a_name_after_through_in_any_language_routes_alone(
    classifier: Classifier, body: str
) -> None:
    # "via", "przez", "prin", "üzerinden": the data came through that agency, whatever
    # language the rest is in.
    category, tenant, review, reasons = route(classifier, body)
    assert (category, tenant, review) == ("processor_routed", "flexwerk-zuid", False)
    assert any("worked or applied through it" in r for r in reasons)


def test_a_name_after_at_is_not_enough_to_route_alone(classifier: Classifier) -> None:
    # "I work at X" may be X's own employee writing about Carerix's newsletter: a person looks.
    category, _, review, _ = route(
        classifier, "Ik werk bij Flexwerk Zuid. Verwijder mijn gegevens uit jullie nieuwsbrief."
    )
    assert (category, review) == ("processor_routed", True)


def test_an_agency_only_in_an_attached_mail_routes_the_request(classifier: Classifier) -> None:
    # The attached message/rfc822 is what the writer sends us, not her signature: its author
    # and signature name the agency.
    attached = EmailMessage()
    attached["From"] = "Recruiter <recruiter@acme-staffing.nl>"
    attached["Subject"] = "A role for you"
    attached.set_content("Hi, I found your profile in our database.\n\nBest,\nAcme Staffing")
    message = EmailMessage()
    message["From"] = "Henk <henk@example.nl>"
    message["To"] = "privacy@carerix.com"
    message["Subject"] = "Where did you get my data?"
    message.set_content(
        "I got the attached mail from a recruiter. I would like to know what personal data "
        "is stored about me.\n\nRegards,\nHenk"
    )
    message.add_attachment(attached)
    decision = classifier.classify(message.as_bytes())
    assert (decision.category, decision.tenant) == ("processor_routed", "acme-staffing")


def test_our_address_inside_a_forwarded_agency_mail_does_not_make_it_ours(
    classifier: Classifier,
) -> None:
    # The agency told the candidate to write to us: the forward is still the agency's mail,
    # and the request in it counts as forwarded.
    body = (
        "Zie hieronder.\n\n---------- Forwarded message ---------\n"
        "Van: Recruiter <r@acme-staffing.nl>\nSubject: Re: gesprek\n\n"
        "Hoi, verwijderen gaat via Carerix: mail privacy@carerix.com.\n\n"
        "> Ik wil dat jullie al mijn gegevens verwijderen.\n"
    )
    category, tenant, _, reasons = route(classifier, body, subject="Fwd: gesprek")
    assert (category, tenant) == ("processor_routed", "acme-staffing")
    assert any("in forwarded" in r and "deletion" in r for r in reasons)


def test_a_shared_name_means_the_one_named_in_full(rules: RuleSet, registry: Registry) -> None:
    # "Groenveld" is both agencies' short name; the mail names one of them in full first.
    classifier = with_agencies(
        rules,
        registry,
        ("groenveld-finance", ["Groenveld Finance", "Groenveld"]),
        ("groenveld-logistiek", ["Groenveld Logistiek", "Groenveld"]),
    )
    category, tenant, _, _ = route(
        classifier,
        "Ik kreeg een mail van Groenveld Finance. Ik heb nooit bij Groenveld gesolliciteerd; "
        "verwijder mijn gegevens.",
    )
    assert (category, tenant) == ("processor_routed", "groenveld-finance")
    only_short = classifier.classify(
        make_mail("Ik heb via Groenveld gewerkt. Verwijder mijn gegevens.", subject="Verzoek")
    )
    assert (only_short.tenant, only_short.needs_review) == (None, True)


def test_an_agency_user_s_how_to_question_is_not_forwarded(classifier: Classifier) -> None:
    # A recruiter asks how to erase a candidate in her own Carerix: a support question about
    # someone else's request, not one to forward to her own agency.
    category, _, review, reasons = route(
        classifier,
        "Quick one: a candidate has invoked her right to be forgotten. In our Carerix, how do "
        "I permanently delete a candidate rather than just archive her?\n\nOrla\nAcme Staffing",
        subject="How do I permanently delete a candidate?",
        sender="Orla <orla@acme-staffing.nl>",
    )
    assert (category, review) == ("processor_routed", True)
    assert any(r.startswith("agency context but no request found") for r in reasons)


def test_an_agency_only_among_the_recipients_is_not_whose_data_it_is(
    classifier: Classifier,
) -> None:
    # Issue 13: an access request sent "to all parties that may hold my data", the agency's
    # privacy address in Cc, was forwarded to that agency without a look.
    decision = classifier.classify(
        make_mail(
            "Ik heb bij verschillende uitzendbureaus ingeschreven gestaan. Op grond van "
            "artikel 15 AVG verzoek ik u om een kopie van mijn persoonsgegevens.",
            subject="Inzageverzoek",
            Cc="privacy@acme-staffing.nl",
        )
    )
    assert decision.needs_review
    assert any("known only from who writes or receives" in r for r in decision.reasons)


def test_a_signature_saying_through_whom_she_worked_routes(classifier: Classifier) -> None:
    # Issue 13: a temp worker signs "gedetacheerd via <agency>"; a signature otherwise only
    # says who writes, but this one says whose data her hours and assessments are.
    # Known from the signature alone, it is still checked before forwarding.
    category, tenant, review, _ = route(
        classifier,
        "Ik wil graag een overzicht van welke gegevens er over mij zijn opgeslagen, vooral over "
        "mijn uren.\n\nMet vriendelijke groet,\nRachid\nProductiemedewerker, gedetacheerd via "
        "Acme Staffing",
    )
    assert (category, tenant, review) == ("processor_routed", "acme-staffing", True)
