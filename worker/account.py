"""A mail server account (IMAP or SMTP): where, how secured, and how to log in.

Microsoft 365 no longer accepts passwords for IMAP and SMTP; there the worker logs in with
XOAUTH2 and an app-only token from the client-credentials flow (msal)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Literal

from worker.errors import MailboxError

Security = Literal["tls", "starttls", "none"]

# The scope that covers IMAP and SMTP for an app registered in Entra ID.
M365_SCOPE = "https://outlook.office365.com/.default"


@dataclass(frozen=True)
class OAuth:
    """App-only credentials of a Microsoft 365 tenant (client-credentials flow)."""

    tenant_id: str
    client_id: str
    client_secret: str = field(repr=False)

    def token(self) -> str:
        """A current access token (msal caches it until shortly before it expires)."""
        result = _application(self.tenant_id, self.client_id, self.client_secret)(
            scopes=[M365_SCOPE]
        )
        token = result.get("access_token")
        if not isinstance(token, str):
            why = result.get("error_description") or result.get("error") or "no token"
            raise MailboxError(f"Microsoft 365 token for client {self.client_id}: {why}")
        return token


@functools.lru_cache(maxsize=4)
def _application(tenant_id: str, client_id: str, secret: str):  # type: ignore[no-untyped-def]
    # One msal application per credentials, so its token cache lives as long as the process.
    import msal

    application = msal.ConfidentialClientApplication(
        client_id,
        authority=f"https://login.microsoftonline.com/{tenant_id}",
        client_credential=secret,
    )
    return application.acquire_token_for_client


@dataclass(frozen=True)
class Account:
    """How to reach and log in to one server."""

    host: str
    port: int
    security: Security
    user: str
    secret: str = field(default="", repr=False)
    oauth: OAuth | None = None
    timeout: float = 60.0
    sent_folder: str = "Sent"

    def password(self) -> str:
        return self.secret
