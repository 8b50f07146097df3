"""The decision chain on small mails: what wins, and when a person must look."""

from __future__ import annotations

from email.message import EmailMessage

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
    # the data, was acknowledged as a Carerix request.
    category, review, reasons = decide(
        classifier,
        "Ik kreeg een mail over Acme Staffing. Verwijder al mijn gegevens.",
    )
    assert (category, review) == ("processor_routed", True)
    assert any(r.startswith("an agency is named beside the request") for r in reasons)


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
