"""Which addresses are never answered automatically: invalid ones, our own, and software's."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from pydantic import Field

from worker.judge.rules.schema import Strict

# Written as staff write them in rules/replies.yaml: lower case, words joined by - _ or .
Word = Annotated[str, Field(pattern=r"^[a-z0-9]+(?:[-_.][a-z0-9]+)*$")]
Affix = Annotated[str, Field(pattern=r"^[a-z0-9._-]{2,}$")]

# RFC 5322 atext: what a local part may hold without quoting. Quoted local parts are legal but
# so rare from people that one is more likely a trick than a requester; a person answers those.
_ATEXT = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_SEPARATORS = re.compile(r"[-_.]")


class NeverReplySpec(Strict):
    """The `never_reply:` section of rules/replies.yaml: local parts that belong to software."""

    local_parts: tuple[Word, ...] = Field(min_length=1)
    prefixes: tuple[Affix, ...] = ()
    suffixes: tuple[Affix, ...] = ()


@dataclass(frozen=True)
class NeverReply:
    """The machine local parts, ready for matching: words without separators, and affixes."""

    words: Mapping[str, str]  # the word without separators -> as written, for the reason
    prefixes: tuple[str, ...]
    suffixes: tuple[str, ...]

    @classmethod
    def from_spec(cls, spec: NeverReplySpec) -> NeverReply:
        """Compiles the YAML section."""
        words = {_SEPARATORS.sub("", word): word for word in spec.local_parts}
        return cls(words=words, prefixes=spec.prefixes, suffixes=spec.suffixes)

    def match(self, local: str) -> str | None:
        """The entry that makes this local part a machine's, as staff wrote it; else None."""
        low = local.lower()
        for prefix in self.prefixes:
            if low.startswith(prefix):
                return f"{prefix}*"
        for suffix in self.suffixes:
            if low.endswith(suffix):
                return f"*{suffix}"
        # The detail after + (RFC 5233) is chosen by whoever receives the mail, so it says
        # nothing about whose mailbox it is: "jan+notifications" is Jan.
        base = low.split("+", 1)[0]
        tokens = [token.rstrip("0123456789") for token in _SEPARATORS.split(base)]
        # Any run of adjacent tokens, joined, may be a listed word: "do-not-reply", "shop-noreply"
        # and "noreply.nl-2" all hold one.
        for start in range(len(tokens)):
            for end in range(start + 1, len(tokens) + 1):
                found = self.words.get("".join(tokens[start:end]))
                if found is not None:
                    return found
        return None


def refusal(address: str, own_address: str, never: NeverReply) -> str | None:
    """Why an automatic mail must not go to this address, for staff to read; None when it may."""
    if not address.strip():
        return "no address: never answered"
    problem = syntax_problem(address)
    if problem is not None:
        return f"not a valid address: {problem}"
    local, domain = address.rsplit("@", 1)
    own_domain = own_address.rsplit("@", 1)[-1].lower()
    if address.lower() == own_address.lower():
        return "own address: never answered"
    # Subdomains too: they are our own systems, and answering them is how loops start.
    if domain.lower() == own_domain or domain.lower().endswith("." + own_domain):
        return f"address at our own domain ({own_domain}): never answered"
    machine = never.match(local)
    if machine is not None:
        return f"machine address ({machine}): never answered"
    return None


def syntax_problem(address: str) -> str | None:
    """What is wrong with an address as a plain addr-spec we can send to, or None."""
    if len(address) > 320:
        return "longer than 320 characters"
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in address):
        return "contains spaces or control characters"
    if not address.isascii():
        # Sending to one needs SMTPUTF8 all the way; rare enough for a person to answer by hand.
        return "non-ASCII characters (answer by hand)"
    if address.count("@") != 1:
        return "needs exactly one @"
    local, domain = address.split("@")
    if not local or len(local) > 64:
        return "the part before the @ is empty or longer than 64 characters"
    if not _ATEXT.fullmatch(local):
        return "the part before the @ has characters or dots that need quoting"
    if len(domain) > 255 or "." not in domain:
        return "the domain is not a host name such as example.nl"
    if not all(_LABEL.fullmatch(label) for label in domain.lower().split(".")):
        return "the domain is not a host name such as example.nl"
    return None
