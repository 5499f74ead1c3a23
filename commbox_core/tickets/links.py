"""Login and chat URLs, built so that no value can change the URL's host or path."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from commbox_core.config.settings import Settings
from commbox_core.errors import ConfigError
from commbox_core.fields import Kind
from commbox_core.tickets.request import TicketRequest

_HOST_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


class LinkError(ConfigError):
    """A link cannot be built from these settings and values."""


def encode_channel(channel: str) -> str:
    """Percent-encode a channel id exactly once: 'abc==' and 'abc%3d%3d' give the same text."""
    return quote(unquote(channel.strip()), safe="")


def with_ticket(url: str, token: str) -> str:
    """url with ?ta=<token> added, keeping any query the URL already has."""
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), ("ta", token)]
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def agent_login_url(login_url: str, brand: str, token: str) -> str:
    """<login URL>?ta=<token>, with {brand} filled in when the login URL has one."""
    if "{brand}" in login_url:
        parts = urlsplit(login_url)
        if "{brand}" in parts.netloc:
            if not _HOST_LABEL.match(brand):
                raise LinkError(f"brand {brand!r} cannot be part of a host name in COMMBOX_LOGIN_URL")
            login_url = login_url.replace("{brand}", brand.lower())
        else:
            login_url = login_url.replace("{brand}", quote(brand, safe=""))
    return with_ticket(login_url, token)


def customer_chat_url(apps_url: str, channel: str, token: str) -> str:
    """<apps URL>/chat/<channel, encoded once>?ta=<token>."""
    return with_ticket(f"{apps_url.rstrip('/')}/chat/{encode_channel(channel)}", token)


@dataclass(frozen=True, slots=True)
class Link:
    url: str
    issued_at: datetime
    expires_at: datetime

    def __repr__(self) -> str:  # the URL is a credential
        return f"Link(issued_at={self.issued_at.isoformat()}, expires_at={self.expires_at.isoformat()})"


class LinkBuilder:
    """Turns a token into the link a person clicks, with its expiry."""

    def __init__(self, settings: Settings):
        self.login_url = settings.login_url
        self.chat_url = settings.chat_url
        self.ttl = {Kind.AGENT: settings.agent_ttl, Kind.CUSTOMER: settings.customer_ttl}

    def check(self, kind: Kind) -> None:
        """Raise LinkError up front when links of this kind cannot be built."""
        if kind is Kind.AGENT and not self.login_url:
            raise LinkError("COMMBOX_LOGIN_URL is not set: agent login links cannot be built")
        if kind is Kind.CUSTOMER and not self.chat_url:
            raise LinkError("COMMBOX_CHAT_URL is not set: customer chat links cannot be built")

    def build(self, request: TicketRequest, token: str, issued_at: datetime) -> Link:
        self.check(request.kind)
        if request.kind is Kind.AGENT:
            url = agent_login_url(self.login_url, request.brand, token)
        else:
            url = customer_chat_url(self.chat_url, request.channelId or "", token)
        return Link(url, issued_at, issued_at + timedelta(seconds=self.ttl[request.kind]))
