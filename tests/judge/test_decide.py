"""The decision chain on small mails: what wins, and when a person must look."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from tests.conftest import make_mail
from worker.judge.classify import Classifier


def decide(
    classifier: Classifier, body: str, subject: str = "Vraag", **headers: str
) -> tuple[str, bool, tuple[str, ...]]:
    decision = classifier.classify(make_mail(body, subject=subject, **headers))
    return decision.category, decision.needs_review, decision.reasons


def test_breach_report_is_other_and_reviewed(classifier: Classifier) -> None:
    category, review, reasons = decide(
        classifier, "Ik kreeg van jullie per ongeluk het cv van iemand anders toegestuurd."
    )
    assert (category, review) == ("other", True)
    assert any("possible breach" in r for r in reasons)


def test_complaint_is_other_and_reviewed(classifier: Classifier) -> None:
    category, review, reasons = decide(
        classifier, "Ik ben ontevreden over hoe mijn inzageverzoek is behandeld.", subject="Klacht"
    )
    assert (category, review) == ("other", True)
    assert any(r.startswith("complaint") for r in reasons)


def test_objection_alone_is_other_and_reviewed(classifier: Classifier) -> None:
    category, review, reasons = decide(classifier, "Ik maak bezwaar tegen direct marketing.")
    assert (category, review) == ("other", True)
    assert any("objection" in r for r in reasons)


def test_negated_deletion_leaves_the_correction(classifier: Classifier) -> None:
    category, _, _ = decide(
        classifier, "Verwijder mijn gegevens niet, maar corrigeer mijn achternaam."
    )
    assert category == "correction"


def test_two_strong_requests_are_reviewed(classifier: Classifier) -> None:
    category, review, reasons = decide(
        classifier, "Stuur mij een kopie van al mijn gegevens. Verwijder daarna al mijn gegevens."
    )
    assert (category, review) == ("deletion", True)
    assert any("inspection" in r and "deletion" in r for r in reasons[:2])


def test_auto_reply_is_never_a_request(classifier: Classifier) -> None:
    decision = classifier.classify(
        make_mail(
            "Ik ben afwezig. Voor het verwijderen van gegevens: zie website.",
            subject="Automatisch antwoord: verwijder mijn gegevens",
            Auto_Submitted="auto-replied",
        )
    )
    assert (decision.category, decision.auto_generated, decision.needs_review) == (
        "other",
        True,
        False,
    )


def test_unknown_mail_is_reviewed(classifier: Classifier) -> None:
    category, review, reasons = decide(classifier, "Hoi, hoe gaat het?")
    assert (category, review) == ("other", True)
    assert any("no rule matched" in r for r in reasons)


def test_id_copy_attachment_is_present_and_reviewed(classifier: Classifier) -> None:
    message = EmailMessage()
    message["From"] = "jan@example.nl"
    message["To"] = "privacy@carerix.com"
    message["Subject"] = "Inzageverzoek"
    message.set_content(
        "Graag inzage in mijn gegevens. Een kopie van mijn paspoort zit in de bijlage."
    )
    message.add_attachment(
        b"\x89PNG\r\n\x1a\n", maintype="image", subtype="png", filename="scan1.png"
    )
    decision = classifier.classify(message.as_bytes())
    assert decision.category == "inspection"
    assert decision.id_document.present and decision.id_document.files == ("scan1.png",)
    assert decision.needs_review


def test_unrelated_attachment_is_no_id(classifier: Classifier) -> None:
    message = EmailMessage()
    message["From"] = "jan@example.nl"
    message["To"] = "privacy@carerix.com"
    message["Subject"] = "Verwijderen"
    message.set_content("Verwijder mijn gegevens, mijn cv zit erbij.")
    message.add_attachment(b"%PDF-1.4", maintype="application", subtype="pdf", filename="cv.pdf")
    decision = classifier.classify(message.as_bytes())
    assert not decision.id_document.present


def test_an_agency_named_beside_a_request_is_never_acknowledged_as_ours(
    classifier: Classifier,
) -> None:
    # Issue 13: an agency's name in running text, with no other sign of whose system holds
    # the data, was acknowledged as a Carerix request. A one-word name may be a word.
    category, review, reasons = decide(
        classifier,
        "Ik kreeg een mail over Acme. Verwijder al mijn gegevens.",
    )
    assert (category, review) == ("processor_routed", True)
    assert any(r.startswith("an agency is named beside the request") for r in reasons)


@pytest.mark.parametrize(
    "body",
    [
        "Ik kreeg een mail over Acme Staffing. Verwijder al mijn gegevens.",
        "Ik solliciteerde op acme-staffing.nl. Verwijder al mijn gegevens.",
    ],
)
def test_an_agency_named_in_full_beside_a_request_is_forwarded(
    classifier: Classifier, body: str
) -> None:
    # Its full name or its website, written by someone outside it: no doubt whose data.
    decision = classifier.classify(make_mail(body, subject="Vraag"))
    assert (decision.category, decision.tenant, decision.needs_review) == (
        "processor_routed",
        "acme-staffing",
        False,
    )


@pytest.mark.parametrize(
    ("sender", "signature"),
    [
        ("Jan <jan@acme-staffing.nl>", ""),
        ("Jan <jan@example.nl>", "\n\n-- \nJan de Vries\nAcme Staffing B.V."),
    ],
)
def test_an_agency_s_own_staff_naming_it_is_checked(
    classifier: Classifier, sender: str, signature: str
) -> None:
    # Who writes from or signs for the agency may be Carerix's own customer contact.
    body = "Ik kreeg een mail over Acme Staffing. Verwijder al mijn gegevens." + signature
    category, review, _ = decide(classifier, body, sender=sender)
    assert (category, review) == ("processor_routed", True)


def test_a_full_name_beside_carerix_s_own_relation_is_checked(classifier: Classifier) -> None:
    category, review, _ = decide(
        classifier,
        "Ik kreeg jullie nieuwsbrief en een mail over Acme Staffing. Verwijder al mijn gegevens.",
    )
    assert review
    assert category in ("processor_routed", "deletion")


def test_a_customer_s_contact_person_naming_her_agency_is_ours_to_answer(
    classifier: Classifier,
) -> None:
    # The agency is where she works; the customer file is Carerix's own.
    category, _, _ = decide(
        classifier,
        "Ik was bij Acme Staffing jullie contactpersoon. Verwijder mijn gegevens uit jullie "
        "klantbestand.",
    )
    assert category == "deletion"


def test_agency_words_beside_carerix_s_own_relation_are_the_request_reviewed(
    classifier: Classifier,
) -> None:
    # "staffing company" says where the writer worked, not whose data: the support portal is
    # Carerix's own. No agency from the registry is named, so no route: the request, checked.
    category, review, reasons = decide(
        classifier,
        "I used to be a Carerix admin user at a staffing company. Please delete my support "
        "portal account and my support tickets.",
        subject="Delete my account",
    )
    assert (category, review) == ("deletion", True)
    assert any(r.startswith("some processor context") for r in reasons)


def test_registered_with_an_address_is_no_agency_context(classifier: Classifier) -> None:
    category, review, reasons = decide(
        classifier,
        "I attended your webinar and registered with this email address. "
        "Please send me a copy of my personal data.",
        subject="Access request",
    )
    assert (category, review) == ("inspection", False)
    assert not any("processor" in r for r in reasons)


@pytest.mark.parametrize(
    ("body", "subject"),
    [
        (
            "Yes, it is me; my ID copy with the number blacked out is attached.\n\n"
            "From: Carerix Privacy <privacy@carerix.com>\nSent: Monday\n"
            "Subject: PRIV-2026-000112\n\nWe received your request to delete your data. "
            "Please confirm your identity.",
            "RE: PRIV-2026-000112",
        ),
        (
            "Hierbij mijn rijbewijs, zoals gevraagd.\n\n"
            "Op 12 feb. 2026 schreef Carerix Privacy <privacy@carerix.com>:\n"
            "> Wij hebben uw verzoek tot verwijdering van uw gegevens ontvangen.\n"
            "> Stuurt u een kopie van uw identiteitsbewijs?",
            "Re: [PRIV-2026-000087] Uw verzoek",
        ),
    ],
)
def test_an_answer_to_our_mail_is_about_the_request_it_quotes(
    classifier: Classifier, body: str, subject: str
) -> None:
    category, _, reasons = decide(classifier, body, subject=subject)
    assert category == "deletion"
    assert any("in our quoted mail" in r for r in reasons)


def test_a_request_of_one_s_own_beats_the_one_our_mail_quotes(classifier: Classifier) -> None:
    category, _, _ = decide(
        classifier,
        "Please correct my surname, it is Smit and not Smid.\n\n"
        "From: Carerix Privacy <privacy@carerix.com>\nSent: Monday\n\n"
        "We received your request to delete your data.",
        subject="RE: PRIV-2026-000112",
    )
    assert category == "correction"


def test_the_same_quote_from_someone_else_stays_quoted(classifier: Classifier) -> None:
    # Only our own mail names the writer's request; another's quoted words are context.
    _, _, reasons = decide(
        classifier,
        "Ik stuur dit even door ter info.\n\n"
        "Op 12 feb. 2026 schreef Piet <piet@example.nl>:\n"
        "> Ik wil dat mijn gegevens verwijderd worden.",
        subject="Re: vraag",
    )
    assert not any("our quoted mail" in r for r in reasons)


def test_a_security_researcher_s_report_is_reviewed_as_a_possible_breach(
    classifier: Classifier,
) -> None:
    category, review, reasons = decide(
        classifier,
        "Ik ben ethisch hacker. De loginpagina geeft een andere melding voor een bestaand "
        'e-mailadres ("wachtwoord onjuist") dan voor een onbekend adres. Hebben jullie een '
        "responsible disclosure-programma?",
        subject="Beveiligingsprobleem",
    )
    assert (category, review) == ("other", True)
    assert any("possible breach" in r for r in reasons)
    assert not any(r.startswith("nl-correction") for r in reasons)


def test_dsar_as_a_topic_in_a_sales_pitch_is_no_request(classifier: Classifier) -> None:
    category, _, reasons = decide(
        classifier,
        "Most teams spend hours on access requests. Our platform automates them. Happy to "
        'discuss a demo. Not interested? Reply "no".',
        subject="Automate your DSAR workload",
    )
    assert category == "other"
    assert not any(r.startswith("en-inspection") for r in reasons)


def test_a_polite_if_is_no_condition(classifier: Classifier) -> None:
    # "If you could fix this" asks; "if this leads to" only says what may come.
    _, _, polite = decide(
        classifier,
        "I entered my surname wrong. If you could fix this please, I would appreciate it.",
    )
    _, _, conditional = decide(classifier, "Maybe I will ask you to fix this later.")
    assert any(r.startswith("en-correction-verb") and "conditional" not in r for r in polite)
    assert any(r.startswith("en-correction-verb") and "conditional" in r for r in conditional)


def test_a_subject_the_text_agrees_with_stands(classifier: Classifier) -> None:
    category, review, _ = decide(
        classifier, "Graag al mijn gegevens verwijderen.", subject="Verwijder mijn gegevens"
    )
    assert (category, review) == ("deletion", False)


def test_mail_from_an_agency_s_carerix_is_agency_context(classifier: Classifier) -> None:
    # A job alert "powered by Carerix" from an agency the writer cannot name: the agency's
    # data, routed by hand; never acknowledged as Carerix's own.
    category, review, _ = decide(
        classifier,
        "I keep getting job alerts, at the bottom it says powered by Carerix. There is no "
        "agency name in them. Who has my data and can I have it removed?",
        subject="Who are you",
    )
    assert (category, review) == ("processor_routed", True)


def test_a_thank_you_under_our_done_mail_is_no_request(classifier: Classifier) -> None:
    # Nothing of the request in the writer's own words: our quoted words stay quoted.
    category, _, reasons = decide(
        classifier,
        "Top, bedankt voor de snelle afhandeling!\n\n"
        "Op 26 okt. 2026 schreef Carerix Privacy <privacy@carerix.com>:\n"
        "> Uw verzoek tot verwijdering van uw persoonsgegevens hebben wij uitgevoerd.",
        subject="Re: Uw verzoek tot verwijdering [PRIV-2026-000113]",
    )
    assert category == "other"
    assert not any("our quoted mail" in r for r in reasons)


@pytest.mark.parametrize(
    ("body", "language"),
    [
        # "en" (Spanish "in") and "de" are Dutch words too: Spanish and Turkish get English.
        (
            "Hola buenas, soy de Sevilla y quiero trabajar en Holanda en hosteleria. Tienen "
            "ofertas? Les adjunto mi CV.",
            "en",
        ),
        (
            "Merhaba, Havenstaf uzerinden Rotterdam'da cal\u0131s\u0131yorum. Sistemdeki banka hesap "
            "numaram yanl\u0131s, adresim de hala eski.",
            "en",
        ),
        ("Zie bijgevoegde brief.", "nl"),
    ],
)
def test_the_reply_language_of_short_and_foreign_mail(
    classifier: Classifier, body: str, language: str
) -> None:
    decision = classifier.classify(make_mail(body, subject="Vraag", sender="x@example.com"))
    assert decision.language == language


def test_our_own_words_down_a_thread_are_no_request(classifier: Classifier) -> None:
    body = (
        "Dank!\n\n---------- Forwarded message ---------\n"
        "Van: Carerix Privacy <privacy@carerix.com>\nOnderwerp: Uw verzoek\n\n"
        "Wij hebben uw verzoek tot verwijdering van uw gegevens uitgevoerd.\n"
    )
    category, _, _ = decide(classifier, body, subject="FW: Uw verzoek")
    assert category == "other"


@pytest.mark.parametrize(
    ("body", "subject", "category"),
    [
        # The dots of "oud@werk.example" and "a.u.b." once cut the sentence, so "verwijderen
        # en vervangen door" was read as a deletion.
        (
            "Kunnen jullie a.u.b. mijn oude e-mailadres (jan.de.vries@oudwerk.example) "
            "verwijderen en vervangen door dit adres? Ik wil de nieuwsbrief blijven ontvangen.",
            "Nieuwsbrief",
            "correction",
        ),
        # The writer says it is no request.
        (
            "In jullie privacyverklaring staat dat een verzoek om inzage een kopie van een "
            "identiteitsbewijs vraagt. Waarom? Ik doe (nog) geen verzoek, ik wil het begrijpen.",
            "Vraag over jullie privacyverklaring",
            "other",
        ),
        # A company's billing details are no personal data.
        (
            "Please update the billing details on our Carerix account. Invoices should go to "
            "finance@northgate.example from now on.",
            "Updated billing details",
            "other",
        ),
    ],
    ids=["address-in-sentence", "says-no-request", "billing-details"],
)
def test_the_category_of_one_mail(
    classifier: Classifier, body: str, subject: str, category: str
) -> None:
    assert decide(classifier, body, subject=subject)[0] == category


@pytest.mark.parametrize(
    ("body", "subject", "category", "why"),
    [
        # Subject "delete", text "first an overview; do NOT delete yet": the body decides.
        (
            "Voordat jullie iets verwijderen: ik wil eerst een overzicht van alles wat jullie "
            "over mij hebben. Dus nog NIET verwijderen graag.",
            "Verwijder mijn gegevens",
            "inspection",
            "the subject asks deletion, the text takes it back",
        ),
        # "hoeven" goes with a negation: "verwijderen hoeft nu nog niet".
        (
            "Kunt u mij een overzicht sturen van alle gegevens die u van mij bewaart? "
            "Verwijderen hoeft nu nog niet.",
            "Verwijderen gegevens?",
            "inspection",
            "the subject asks deletion, the text takes it back",
        ),
        # Subject "Verwijderen", text: replace my old address by this one.
        (
            "Kunnen jullie mijn oude adres vervangen door dit adres? Ik wil de nieuwsbrief wel "
            "blijven ontvangen.",
            "Verwijderen a.u.b.",
            "correction",
            "the subject asks deletion",
        ),
        # "Their system" is often an agency's, but may be a partner's: a person checks whose.
        (
            "Ik word nog steeds gebeld door hun accountmanagers. Ik verzoek u mijn e-mailadres "
            "uit hun systeem te verwijderen.",
            "Verwijdering",
            "deletion",
            "some processor context",
        ),
        # "See below": the writer's own earlier mail, under our sales rep's, holds the
        # request. A mail of ours in the thread does not count.
        (
            "Zie hieronder.\n\n---------- Forwarded message ---------\n"
            "Van: Jorien <jorien@carerix.com>\nOnderwerp: RE: Verlenging\n\n"
            "Hoi, ik pas de offerte aan.\n\n"
            "Van: Monique <monique@klant.example>\nOnderwerp: Verlenging\n\n"
            "Kun je een offerte sturen? PS: wil je mijn privénummer uit jullie systeem "
            "verwijderen?\n",
            "FW: Verlenging",
            "deletion",
            "the request stands further down the thread",
        ),
        # Asking how it works: maybe no request yet.
        (
            "Kan ik eigenlijk ook vragen wat jullie allemaal van mij hebben? Hoe werkt dat en "
            "hoe lang duurt zoiets?",
            "inzage?",
            "inspection",
            "asks how a request works",
        ),
    ],
    ids=[
        "taken-back",
        "hoeft-niet",
        "asks-another",
        "their-system",
        "down-the-thread",
        "how-does-it-work",
    ],
)
def test_a_person_checks_and_why(
    classifier: Classifier, body: str, subject: str, category: str, why: str
) -> None:
    found, review, reasons = decide(classifier, body, subject=subject)
    assert (found, review) == (category, True)
    assert any(r.startswith(why) for r in reasons), reasons


@pytest.mark.parametrize(
    "body",
    [
        "Jullie bevestigden in maart dat alles gewist was. Verwijder nu echt al mijn gegevens.",
        "You told me you hold no data about me, yet your newsletter came. Delete my data.",
    ],
)
def test_a_request_repeated_after_an_answer_is_checked(classifier: Classifier, body: str) -> None:
    # Issue 13, class 5: the earlier case decides what to answer, so a person looks.
    category, review, reasons = decide(classifier, body)
    assert (category, review) == ("deletion", True)
    assert any(r.startswith("refers to an earlier answer") for r in reasons)


def test_an_agency_recruiter_asking_about_carerix_s_own_relation_is_checked(
    classifier: Classifier,
) -> None:
    # Agency words ("our candidates") route on their own; but she writes from the agency
    # about Carerix's newsletter and user days, which are Carerix's own relation with her.
    category, review, reasons = decide(
        classifier,
        "I'm a recruiter at Acme Staffing. This is not about our candidates. What does "
        "Carerix hold about me from your user days and your newsletter? Please send me a copy "
        "of my personal data.",
        sender="Jan <jan@acme-staffing.nl>",
    )
    assert (category, review) == ("processor_routed", True)
    assert any(r.startswith("the writer works at the customer") for r in reasons)


@pytest.mark.parametrize(
    ("body", "subject"),
    [
        # Our question quoted under a one-word answer, with our author line.
        (
            "Ja, graag.\n\nOp ma 26 jan. 2026 10:14 schreef Carerix Privacy "
            "<privacy@carerix.com>:\n> Wilt u dat wij ook uw overige gegevens verwijderen?",
            "Re: Uitschrijving nieuwsbrief",
        ),
        # No author line, but our case reference in the subject.
        (
            "Het tweede.\n\n> Wilt u een overzicht, of ook een kopie?",
            "RE: Uw verzoek PRIV-2026-000158",
        ),
    ],
)
def test_an_answer_to_our_mail_that_asks_nothing_itself_is_read_by_a_person(
    classifier: Classifier, body: str, subject: str
) -> None:
    # Issue 13: alone it reads as nothing ('other', a receipt); its case says what it means.
    category, review, reasons = decide(classifier, body, subject=subject)
    assert (category, review) == ("other", True)
    assert any(r.startswith("answers our earlier mail") for r in reasons)


def test_a_withdrawn_request_is_no_request_and_a_person_closes_its_case(
    classifier: Classifier,
) -> None:
    category, review, reasons = decide(
        classifier,
        "Please disregard my SAR of last week; my former employer had the data.",
        subject="SAR - please disregard",
    )
    assert (category, review) == ("other", True)
    assert any(r.startswith("takes back a request") for r in reasons)


def test_a_thank_you_under_our_mail_is_not_read_again(classifier: Classifier) -> None:
    category, review, _ = decide(
        classifier,
        "Top, bedankt voor de snelle afhandeling!\n\nOp ma 26 okt. 2026 om 15:04 schreef "
        "Carerix Privacy <privacy@carerix.com>:\n> Uw gegevens zijn verwijderd.",
        subject="Re: Uw verzoek PRIV-2026-000113",
    )
    assert (category, review) == ("other", False)


@pytest.mark.parametrize(
    "body",
    [
        # Wording no request rule knows, about the writer's own data.
        "Ik vind het maar raar dat mijn gegevens nog rondzwerven bij jullie, regel dat even.",
        "Not happy that my details are still floating around in your systems, sort it out.",
    ],
)
def test_own_data_without_a_known_request_goes_to_a_person(
    classifier: Classifier, body: str
) -> None:
    # Issue 13: silence ('other', a receipt) on a request in new words is a wrong action.
    category, review, reasons = decide(classifier, body)
    assert (category, review) == ("other", True)
    assert any(r.startswith("speaks of the writer's own data") for r in reasons)
