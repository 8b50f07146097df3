"""The classify pipeline scans image and PDF attachments and fills `id_document`."""

from __future__ import annotations

import io
import random
import time
from email.message import EmailMessage

from PIL import Image

from tests.judge.scan.test_generator import GENERATE
from tests.judge.scan.test_load import encrypted_pdf
from worker.judge.classify import Classifier
from worker.judge.rules import RuleSet
from worker.judge.scan.scanner import ScanResult
from worker.judge.tenants import Registry

PERSON = GENERATE.Person(
    "DE PROEF", "JAN", "790101", "M", GENERATE.make_bsn(random.Random(11)), "SPECI2017"
)
REQUEST = "Graag wil ik inzage in mijn persoonsgegevens. Een kopie van mijn paspoort is bijgevoegd."


def mail_with(
    *files: tuple[str, str, bytes],
    sender: str = "Jan de Proef <jan@example.nl>",
    subject: str = "Inzageverzoek",
    text: str = REQUEST,
    message_id: str = "<scan-test@example.nl>",
) -> bytes:
    """A request mail with these files attached: (name, content type, bytes) each."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "privacy@carerix.com"
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message.set_content(text)
    for name, subtype, data in files:
        main, _, sub = subtype.partition("/")
        message.add_attachment(data, maintype=main, subtype=sub, filename=name)
    return message.as_bytes()


def passport_png(state: str) -> bytes:
    page = GENERATE.passport(PERSON)
    GENERATE.redact(page, state)
    out = io.BytesIO()
    page.image.save(out, "PNG")
    return out.getvalue()


def test_unredacted_passport_is_flagged(classifier: Classifier) -> None:
    decision = classifier.classify(mail_with(("scan001.png", "image/png", passport_png("none"))))
    assert decision.category == "inspection"
    # No name or mention was needed: the pixels say it is a passport.
    assert decision.id_document.present and decision.id_document.files == ("scan001.png",)
    assert {"bsn", "mrz", "document_number", "photo"} <= set(decision.id_document.unredacted)
    assert decision.needs_review
    assert any(r.startswith("unredacted ID copy: bsn, mrz") for r in decision.reasons)


def test_redacted_passport_still_goes_to_review_but_clean(classifier: Classifier) -> None:
    decision = classifier.classify(mail_with(("paspoort.png", "image/png", passport_png("full"))))
    assert decision.id_document.present and decision.id_document.unredacted == ()
    assert decision.needs_review
    assert "ID copy attached: no sensitive field found readable; check it" in decision.reasons
    assert not any("unredacted" in r for r in decision.reasons)


def test_broken_and_encrypted_attachments_are_reasons_not_crashes(classifier: Classifier) -> None:
    decision = classifier.classify(
        mail_with(
            ("kopie.pdf", "application/pdf", b"%PDF-1.7\n1 0 obj <<>> garbage"),
            ("beveiligd.pdf", "application/pdf", encrypted_pdf()),
        )
    )
    assert decision.needs_review
    reasons = [r for r in decision.reasons if r.startswith("attachment could not be checked")]
    assert "kopie.pdf: PDF cannot be opened" in reasons[0]
    assert "beveiligd.pdf: PDF is encrypted" in reasons[1]


def test_scanning_can_be_switched_off(rules: RuleSet, registry: Registry) -> None:
    quick = Classifier(rules, registry, "privacy@carerix.com", scan=False)
    decision = quick.classify(mail_with(("scan001.png", "image/png", passport_png("none"))))
    # Only the name and the mention are left to go on; the mention makes it an ID copy.
    assert decision.id_document.present and decision.id_document.unredacted == ()


def test_a_bsn_in_a_file_name_is_masked_in_reasons_and_files(classifier: Classifier) -> None:
    # Issue 12: the name "ID kopie BSN 111222333.png" reached the reasons and the case.
    decision = classifier.classify(
        mail_with(
            ("ID kopie BSN 111222333.png", "image/png", passport_png("none")),
            ("scan 111.222.333.pdf", "application/pdf", b"%PDF-1.4 broken"),
        )
    )
    shown = " ".join((*decision.reasons, *decision.id_document.files))
    shown += " ".join(decision.id_document.unreadable)
    assert "ID kopie BSN *********.png" in decision.id_document.files
    assert "scan ***.***.***.pdf" in shown
    assert "111" not in shown


def test_files_left_when_the_mails_scan_time_is_spent_are_not_checked(
    rules: RuleSet, registry: Registry
) -> None:
    # Each file takes 3 s; the mail has 10: the third would start with under 5 s left.
    given: list[float] = []

    def slow(data: bytes, seconds: float) -> ScanResult:
        given.append(seconds)
        time.sleep(3)
        return ScanResult(False, (), (), ())

    classifier = Classifier(rules, registry, "privacy@carerix.com", scan=slow, scan_seconds=10)
    files = [(f"scan{n}.png", "image/png", png_of(n)) for n in range(3)]
    decision = classifier.classify(mail_with(*files))
    assert len(given) == 2 and given[0] <= 10 and given[1] <= 7.1
    assert decision.id_document.unreadable == (
        "scan2.png: not checked, the mail's 10 s for scanning were spent",
    )
    assert decision.needs_review


def png_of(number: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (100 + number, 100), "white").save(out, "PNG")
    return out.getvalue()
