"""A mail server account (IMAP or SMTP): where, how secured, and how to log in.

Microsoft 365 no longer accepts passwords for IMAP and SMTP; there the worker logs in with
XOAUTH2 and an app-only token from the client-credentials flow (msal)."""

from __future__ import annotations

import functools
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field

from worker.config import ENV_PREFIX, Security, Settings
from worker.errors import ConfigError, MailboxError

DEFAULT_PORTS = {
    "imap": {"tls": 993, "starttls": 143, "none": 143},
    "smtp": {"tls": 465, "starttls": 587, "none": 25},
}


@dataclass(frozen=True)
class OAuth:
    """App-only credentials of a Microsoft 365 tenant (client-credentials flow)."""

    tenant_id: str
    client_id: str
    client_secret: str = field(repr=False)
    authority: str = "https://login.microsoftonline.com"
    # The scope that covers IMAP and SMTP for an app registered in Entra ID.
    scope: str = "https://outlook.office365.com/.default"

    def token(self, timeout: float = 60.0) -> str:
        """A current access token (msal caches it until shortly before it expires); any
        failure to get one is a MailboxError, as a refused login would be."""
        authority = f"{self.authority.rstrip('/')}/{self.tenant_id}"
        try:
            fetch = _application(authority, self.client_id, self.client_secret, timeout)
            result = fetch(scopes=[self.scope])
        # msal raises ValueError for an unknown tenant or authority, requests its own errors.
        except Exception as err:
            raise MailboxError(f"Microsoft 365 token from {authority}: {err}") from err
        token = result.get("access_token")
        if not isinstance(token, str):
            why = result.get("error_description") or result.get("error") or "no token"
            raise MailboxError(f"Microsoft 365 token for client {self.client_id}: {why}")
        return token


@functools.lru_cache(maxsize=4)
def _application(authority: str, client_id: str, secret: str, timeout: float):  # type: ignore[no-untyped-def]
    # One msal application per credentials, so its token cache lives as long as the process.
    # The configured authority is used as it is: instance discovery would ask the public cloud
    # about any host msal does not know (it knows the national clouds' hosts).
    import msal

    application = msal.ConfidentialClientApplication(
        client_id,
        authority=authority,
        client_credential=secret,
        instance_discovery=False,
        timeout=timeout,
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
    ca_file: str = ""

    def password(self) -> str:
        return self.secret

    def tls(self) -> ssl.SSLContext | None:
        """How the connection is secured; None for plain text (only to a loopback host)."""
        return None if self.security == "none" else tls_context(self.ca_file)


def imap_account(settings: Settings, environ: Mapping[str, str]) -> Account | None:
    """The mailbox's IMAP account; None when the mailbox is the local Maildir."""
    if not settings.imap_host:
        return None
    return _account(settings, environ, "imap", settings.imap_host, settings.login)


def smtp_account(settings: Settings, environ: Mapping[str, str]) -> Account | None:
    """The SMTP account for outgoing mail; None when it goes to the local outbox Maildir."""
    if not settings.smtp_host:
        return None
    return _account(
        settings, environ, "smtp", settings.smtp_host, settings.smtp_user or settings.login
    )


def _account(
    settings: Settings, environ: Mapping[str, str], kind: str, host: str, user: str
) -> Account:
    security: Security = getattr(settings, f"{kind}_security")
    port = getattr(settings, f"{kind}_port") or DEFAULT_PORTS[kind][security]
    oauth = None
    secret = ""
    if settings.auth == "m365-oauth":
        client_secret = environ.get(ENV_PREFIX + "M365_CLIENT_SECRET", "")
        if not (settings.m365_tenant_id and settings.m365_client_id and client_secret):
            raise ConfigError(
                "auth = m365-oauth needs m365_tenant_id, m365_client_id and "
                f"{ENV_PREFIX}M365_CLIENT_SECRET in the environment"
            )
        oauth = OAuth(
            settings.m365_tenant_id,
            settings.m365_client_id,
            client_secret,
            settings.m365_authority,
            settings.m365_scope,
        )
    else:
        secret = environ.get(f"{ENV_PREFIX}{kind.upper()}_PASSWORD", "")
        # An SMTP relay on the local network may take mail without a login; IMAP never does.
        if not secret and kind == "imap":
            raise ConfigError(f"{kind}_host is set: {ENV_PREFIX}{kind.upper()}_PASSWORD is missing")
    return Account(
        host,
        port,
        security,
        user,
        secret,
        oauth,
        timeout=settings.network_timeout,
        sent_folder=settings.sent_folder,
        ca_file=settings.tls_ca_file,
    )


@functools.lru_cache(maxsize=4)
def tls_context(ca_file: str = "") -> ssl.SSLContext:
    """The TLS settings (the system's CAs or those in ca_file, hostname checks) for every
    connection: made once, since loading the CA certificates cost more than a whole reply (each
    send round connects). The settings checked that ca_file loads; should it have gone since,
    the OSError is a failed connection like any other."""
    return ssl.create_default_context(cafile=ca_file or None)
