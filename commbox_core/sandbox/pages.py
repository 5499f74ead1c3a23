"""The HTML the sandbox shows people: the pages behind login and chat links, and a proxy error.

Everything that came from a request or a record is escaped; nothing is trusted as markup.
"""

from __future__ import annotations

from html import escape

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1b1f24}"
    ".badge{display:inline-block;padding:.1rem .5rem;border-radius:.3rem;background:#ffd33d;font-weight:600}"
    "dt{font-weight:600;margin-top:.6rem}dd{margin:0}"
)


def _page(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f'<body><p><span class="badge">SANDBOX</span> CommBox emulator</p>{body}</body></html>'
    )


def _details(items: dict[str, str]) -> str:
    rows = "".join(
        f'<dt>{escape(label)}</dt><dd data-testid="sandbox-{escape(label.lower().replace(" ", "-"))}">{escape(value)}</dd>'
        for label, value in items.items()
        if value
    )
    return f"<dl>{rows}</dl>"


def login_ok_page(*, brand: str, username: str, name: str, remark: str, expires: str) -> str:
    return _page(
        f"Signed in as {name}",
        f'<main data-testid="sandbox-login-ok"><h1>Agent console</h1>'
        f"<p>Signed in as <strong>{escape(name)}</strong> by ticket, without a password.</p>"
        + _details({"Brand": brand, "Username": username, "Remark": remark, "Ticket expires": expires})
        + "</main>",
    )


def chat_ok_page(*, brand: str, channel: str, name: str, customer: str, remark: str, expires: str) -> str:
    return _page(
        f"Chat with {name}",
        f'<main data-testid="sandbox-chat-ok"><h1>Customer chat</h1>'
        f"<p><strong>{escape(name)}</strong> is chatting on channel <code>{escape(channel)}</code>.</p>"
        + _details(
            {"Brand": brand, "Channel": channel, "Customer": customer, "Remark": remark, "Ticket expires": expires}
        )
        + "</main>",
    )


def refused_page(*, heading: str, reason: str) -> str:
    return _page(
        heading,
        f'<main data-testid="sandbox-refused"><h1>{escape(heading)}</h1><p>{escape(reason)}</p></main>',
    )


def index_page(*, base_url: str) -> str:
    links = {
        "/openapi.json": "the sandbox's OpenAPI document",
        "/_sandbox/stats": "counters: requests, tickets issued, redemptions",
        "/_sandbox/config": "the run-time settings (POST JSON to change latency, faults, rate limit)",
        "/_sandbox/customers": "customer records created by chat tickets",
    }
    items = "".join(
        f'<li><a href="{escape(path)}">{escape(path)}</a>: {escape(text)}</li>' for path, text in links.items()
    )
    return _page(
        "CommBox sandbox",
        f"<h1>CommBox sandbox</h1><p>API: <code>POST {escape(base_url)}/auth/ticket</code>. "
        f"Agent links: <code>{escape(base_url)}/login?ta=…</code>; chat links: "
        f"<code>{escape(base_url)}/chat/&lt;channel&gt;?ta=…</code>.</p><ul>{items}</ul>",
    )


# What a reverse proxy in front of the API answers when the API behind it fails: HTML, not JSON.
BAD_GATEWAY_PAGE = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
