"""privacy-worker: runs a company's GDPR privacy mailbox unattended."""

from __future__ import annotations

__version__ = "0.1.0"
