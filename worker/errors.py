"""The one error tree of privacy-worker.

    WorkerError                  base of everything this package raises on purpose
    ├── ConfigError              the configuration file or environment is invalid
    ├── RulesError               a rule or registry YAML file is invalid (names file, line, problem)
    ├── MailboxError (OSError)   the IMAP server or the connection failed: the poll stops, retried
    │   └── MailboxRefused       the server refused one command (NO, BAD): only that message waits
    ├── SendError (OSError)      an outgoing mail could not be handed over; `permanent` or retried
    │   └── MaybeSent            the link died after the data went: settled by the Sent folder
    ├── CaseworkError            a staff action does not fit the case (closing a closed case, ...)
    └── OcrError                 tesseract could not read a page (scan turns it into a reason)
        ├── OcrTimeout           the attachment's time for OCR ran out
        └── OcrFailed            tesseract crashed, is missing, or refused the image

"Hold for review" is not an error: it is a field of the decision.
"""

from __future__ import annotations


class WorkerError(Exception):
    """Base class of every error privacy-worker raises on purpose."""


class ConfigError(WorkerError):
    """The configuration file or environment is invalid."""


class MailboxError(WorkerError, OSError):
    """The mailbox server or the connection to it failed; the next poll connects anew."""


class MailboxRefused(MailboxError):
    """The server refused one command (NO or BAD); the connection is still good."""


class SendError(WorkerError, OSError):
    """An outgoing mail could not be handed to the mail server."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        # A permanent refusal (5xx) is not retried: a person looks at the case.
        self.permanent = permanent


class CaseworkError(WorkerError):
    """A staff action does not fit the case as it is now; the message says why, for staff."""


class MaybeSent(SendError):
    """The connection failed after the message data was sent: the server may have it."""


class OcrError(WorkerError):
    """Tesseract could not read a page; `scan` reports it as an unreadable reason."""


class OcrTimeout(OcrError):
    """The time for OCR of one attachment ran out."""


class OcrFailed(OcrError):
    """Tesseract crashed, is not installed, or refused the image."""


class RulesError(WorkerError):
    """A rules or tenant-registry file is invalid; the message names file, line and problem."""

    def __init__(self, file: str, line: int | None, problem: str) -> None:
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {problem}")
        self.file = file
        self.line = line
        self.problem = problem
