"""Links: the exact URL shapes of the vendor's pages, and no way for a value to escape them."""

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from commbox_core.config.settings import load_settings
from commbox_core.fields import Kind
from commbox_core.tickets.links import LinkBuilder, LinkError, agent_login_url, customer_chat_url, encode_channel
from commbox_core.tickets.request import TicketRequest


def test_agent_url_is_login_url_with_ta():
    assert agent_login_url("https://commbox.com/login", "acme", "9M3Wg_fALi") == "https://commbox.com/login?ta=9M3Wg_fALi"


def test_brand_placeholder_in_host_and_path():
    assert agent_login_url("https://{brand}.commbox.io/login", "Acme", "T") == "https://acme.commbox.io/login?ta=T"
    assert agent_login_url("https://x.io/{brand}/login", "a b/c", "T") == "https://x.io/a%20b%2Fc/login?ta=T"


@pytest.mark.parametrize("brand", ["evil.com", "a/b", "x@evil", "", "-x"])
def test_brand_cannot_change_the_host(brand):
    with pytest.raises(LinkError):
        agent_login_url("https://{brand}.commbox.io/login", brand, "T")


def test_channel_is_encoded_exactly_once():
    plain = customer_chat_url("https://apps.commbox.com", "nex9tHPKdBkD_fAfbuUPABg==", "T")
    encoded = customer_chat_url("https://apps.commbox.com/", "nex9tHPKdBkD_fAfbuUPABg%3d%3d", "T")
    assert plain == encoded == "https://apps.commbox.com/chat/nex9tHPKdBkD_fAfbuUPABg%3D%3D?ta=T"


def test_channel_and_token_cannot_change_path_or_query():
    url = customer_chat_url("https://apps.commbox.com", "../admin?x=1#", "a&b=c#d")
    parts = urlsplit(url)
    assert parts.netloc == "apps.commbox.com"
    assert parts.path.count("/") == 2 and parts.path.startswith("/chat/")
    assert parse_qs(parts.query) == {"ta": ["a&b=c#d"]}
    assert encode_channel("50%off") == "50%25off"


def test_existing_query_is_kept():
    assert agent_login_url("https://x.io/login?lang=he", "b", "T") == "https://x.io/login?lang=he&ta=T"


def test_builder_gives_expiry_from_ttl_and_refuses_missing_urls():
    settings = load_settings(environ={"COMMBOX_AGENT_TTL": "60", "COMMBOX_CUSTOMER_TTL": "300"}, dotenv_path=None)
    assert settings.login_url == "https://commbox.com/login"  # the vendor's documented defaults
    with pytest.raises(LinkError, match="COMMBOX_LOGIN_URL"):
        LinkBuilder(settings.replace(login_url=None)).check(Kind.AGENT)
    builder = LinkBuilder(settings)
    now = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    request = TicketRequest(kind=Kind.CUSTOMER, brand="demo", uniqueId="1", channelId="c==")
    link = builder.build(request, "TOKEN", now)
    assert link.expires_at - link.issued_at == timedelta(seconds=300)
    assert "TOKEN" not in repr(link)
