"""Invitation tokens and links: random, hashed for the store, never logged.

A link is `<COMMBOX_PUBLIC_URL>/invite/<token>`. The token is the credential; the invitation's
id (`inv_…`) is public and names it in files, the audit log and commands.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from commbox_core.fields import Kind
from commbox_core.tickets.request import TicketRequest

TOKEN_BYTES = 24  # 192 bits: far beyond guessing, and 32 URL-safe characters
PATH_PREFIX = "/invite/"
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{32}")


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_id() -> str:
    return f"inv_{secrets.token_hex(8)}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def well_formed(token: str) -> bool:
    """Could this be one of our tokens? (Anything else is not looked up at all.)"""
    return _TOKEN_SHAPE.fullmatch(token) is not None


def invitation_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}{PATH_PREFIX}{token}"


def greeting(request: TicketRequest) -> str:
    """How the confirmation page names the person: "Dana K.", else their identifier half hidden
    (whoever opens a forwarded link learns little)."""
    first, last = (request.firstName or "").strip(), (request.lastName or "").strip()
    if first:
        return f"{first} {last[0]}." if last else first
    return _half_hidden(request.username if request.kind is Kind.AGENT else request.subject)


def _half_hidden(text: str | None) -> str:
    text = (text or "").strip()
    if not text:
        return "you"
    name, at, domain = text.partition("@")
    shown = max(1, len(name) // 3)
    return f"{name[:shown]}{'•' * min(6, len(name) - shown)}{at}{domain}"
