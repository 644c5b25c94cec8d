"""Masking of personal data for console users who may not see it (marketers), by policy (spec 8). Pure: no Django
import, so it is property-tested without a database.

What is masked, for such a user:
- the values of a datamart's personal properties (`email`, `phone`, `first_name`, `address`, ...), at any depth of a
  profile or an activity, whatever their type (an `address` object is masked leaf by leaf);
- every e-mail address wherever it appears: identifiers, account ids, free text, keys, and URL-encoded forms
  (`john%40example.com`, `%2540`);
- phone identifiers (`phone:+33...`) and IPv4 / IPv6 addresses in any text.

A masked value keeps a short stable tag (an HMAC of the normalised value under the installation's secret), so two
people stay distinguishable on a page without either being revealed, and a guess cannot be confirmed by hashing it.
Matching is deliberately loose: masking something that only looks like an address is harmless, missing one is not.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

MASK = "•••"
TAG_LENGTH = 6


# The local part stops at characters that delimit it in URLs and prose (`/ ? = & : ; , ' "`), so that
# `https://x.test/?email=jo@ex.com` masks `jo@ex.com` and tags it as the person's address. It may be empty: an
# address whose local part is made only of such characters still loses its `@domain`, so it cannot survive whole.
EMAIL_RE = re.compile(
    r"(?P<local>[^\s@<>()\[\]{}\\\"',;:/?=&]*)"
    r"(?P<at>@|%40|%2540)"
    r"(?P<domain>[\w](?:[\w-]*[\w])?(?:\.[\w](?:[\w-]*[\w])?)+)",
    re.IGNORECASE,
)
PHONE_ID_RE = re.compile(r"(?P<prefix>phone:)(?P<number>\+?[\d][\d ().-]*\d)", re.IGNORECASE)
IPV6_CANDIDATE_RE = re.compile(
    r"(?<![\w:.])(?:[0-9a-f]{0,4}:){2,7}(?:[0-9a-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?![\w:])", re.I
)
IPV4_CANDIDATE_RE = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")


def personal_names_normalise(names: Iterable[str]) -> frozenset[str]:
    """Property names compare case-insensitively and without the mediarithmics `$` prefix."""
    return frozenset(name.strip().lstrip("$").lower() for name in names if name and name.strip())


@dataclass(frozen=True)
class MaskingPolicy:
    """How one datamart's data is shown to a user who may not see personal data."""

    personal_names: frozenset[str]
    secret: bytes

    def tag(self, value: str) -> str:
        """A short stable tag of a normalised value: the same person, the same tag; no way back to the value."""
        digest = hmac.new(self.secret, value.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
        return "#" + digest[:TAG_LENGTH]

    def email(self, local: str, domain: str) -> str:
        """`john.doe` + `example.com` → `j•••e@e•••.com#3f9a2c`."""
        # Shown and tagged in its normalised form (trimmed, lower-cased, as the pipeline keys it): one address
        # always reads the same, however it was typed.
        local_clear = unquote(local).strip().lower()
        domain = domain.lower()
        normalised = f"{local_clear}@{domain}"
        if len(local_clear) >= 4:
            shown_local = f"{local_clear[0]}{MASK}{local_clear[-1]}"
        else:
            shown_local = f"{local_clear[:1]}{MASK}"
        labels = domain.split(".")
        shown_domain = f"{labels[0][:1]}{MASK}.{labels[-1]}"
        return f"{shown_local}@{shown_domain}{self.tag(normalised)}"

    def identifier(self, value: str) -> str:
        """A value that is personal as a whole (an e-mail identifier): masked even where it does not look like an
        address."""
        masked = self.text(value)
        return masked if masked != value else MASK + self.tag(value.strip().lower())

    def text(self, text: str) -> str:
        """`text` with every e-mail address, phone identifier and IP address in it masked."""
        if not text:
            return text
        masked = EMAIL_RE.sub(lambda m: self.email(m.group("local"), m.group("domain")), text)
        masked = PHONE_ID_RE.sub(self._phone, masked)
        masked = IPV6_CANDIDATE_RE.sub(self._ip, masked)
        return IPV4_CANDIDATE_RE.sub(self._ip, masked)

    def _phone(self, match: re.Match[str]) -> str:
        number = match.group("number")
        tag = self.tag("phone:" + re.sub(r"[^\d+]", "", number))
        return f"{match.group('prefix')}{MASK}{number[-2:]}{tag}"

    def _ip(self, match: re.Match[str]) -> str:
        candidate = match.group(0)
        try:
            address = ipaddress.ip_address(candidate)
        except ValueError:
            return candidate  # a time, a version number: not an address
        return f"ip:{MASK}{self.tag(str(address))}"

    def value(self, value: Any) -> Any:
        """A JSON-like value as this policy shows it: personal properties masked whole, at any depth, and every
        string (keys included) through `text`. Iterative, so a deeply nested document cannot exhaust the stack."""
        return self._walk(value, personal=False)

    def personal(self, value: Any) -> Any:
        """The value of a personal property: every leaf masked, e-mail addresses keeping their tag."""
        return self._walk(value, personal=True)

    def _leaf(self, value: Any, personal: bool) -> Any:
        if isinstance(value, str):
            if not personal:
                return self.text(value)
            masked = self.text(value)
            return masked if masked != value else MASK
        if personal and value is not None:
            return MASK
        return value

    def _walk(self, root: Any, *, personal: bool) -> Any:
        if not isinstance(root, dict | list):
            return self._leaf(root, personal)
        result: Any = {} if isinstance(root, dict) else []
        # (source container, its copy, whether its values are personal)
        stack: list[tuple[Any, Any, bool]] = [(root, result, personal)]
        while stack:
            source, target, inside_personal = stack.pop()
            items = source.items() if isinstance(source, dict) else enumerate(source)
            for key, child in items:
                child_personal = inside_personal or (
                    isinstance(source, dict) and str(key).lstrip("$").lower() in self.personal_names
                )
                if isinstance(child, dict | list):
                    copy: Any = {} if isinstance(child, dict) else []
                    stack.append((child, copy, child_personal))
                else:
                    copy = self._leaf(child, child_personal)
                if isinstance(target, dict):
                    target[self.text(str(key))] = copy
                else:
                    target.append(copy)
        return result
