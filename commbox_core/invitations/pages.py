"""The redeem app's pages: small, self-contained HTML (no script, no outside resource), every
value escaped. Each says what happened and what the person can do next."""

from __future__ import annotations

from datetime import datetime
from html import escape

from commbox_core.fields import Kind
from commbox_core.invitations.redeem import Verdict
from commbox_core.vocabulary import ErrorCode

_STYLE = """body{font-family:system-ui,sans-serif;background:#f5f6f8;margin:0;color:#1d2330}
main{max-width:30rem;margin:12vh auto;background:#fff;border-radius:12px;padding:2rem 2.2rem;
box-shadow:0 2px 12px rgba(0,0,0,.08)}h1{font-size:1.35rem;margin:0 0 .8rem}p{line-height:1.5}
button{font-size:1rem;padding:.7rem 1.4rem;border:0;border-radius:8px;background:#2557d6;color:#fff;cursor:pointer}
input{font-size:1rem;padding:.55rem;width:100%;box-sizing:border-box;margin:.3rem 0 1rem;border:1px solid #b8bfcc;
border-radius:6px}.note{color:#5b6474;font-size:.9rem}.problem{color:#a4262c}"""

# verdict -> (status, heading, what to do)
ENDED = {
    Verdict.UNKNOWN: (404, "This link is not valid",
                      "Check that the whole link was copied, or ask the person who sent it for a new one."),
    Verdict.EXPIRED: (410, "This link has expired", "Ask the person who sent it for a new one."),
    Verdict.USED: (410, "This link has already been used",
                   "Each invitation link works once. If that was not you, tell the person who sent it; "
                   "otherwise ask them for a new one."),
    Verdict.REVOKED: (410, "This link has been withdrawn",
                      "The person who sent it withdrew it. Ask them for a new one if you still need it."),
    Verdict.BUSY: (409, "This link is being opened right now",
                   "Another click on this link is being handled. Wait a few seconds, then reload this page."),
}
_FAILURES = {
    ErrorCode.NOT_FOUND: "CommBox no longer has a record that matches this invitation. "
                         "Ask the person who sent it to check your details and send a new one.",
    ErrorCode.UNAUTHORIZED: "The console's access to CommBox was refused, so it cannot sign you in right now. "
                            "Your link still works: try again later, or tell the person who sent it.",
    ErrorCode.THROTTLED: "CommBox is busy right now. Your link still works: try again in a minute.",
    ErrorCode.SERVER_ERROR: "CommBox had a problem on its side. Your link still works: try again in a minute.",
    ErrorCode.NETWORK: "CommBox cannot be reached right now. Your link still works: try again in a minute.",
}
_REFUSED = "CommBox refused to sign you in with this invitation. Ask the person who sent it for a new one."


def page(heading: str, body: str) -> str:
    return (f"<!doctype html><html lang=en><head><meta charset=utf-8><meta name=robots content=noindex>"
            f"<meta name=viewport content='width=device-width,initial-scale=1'><title>{escape(heading)}</title>"
            f"<style>{_STYLE}</style></head><body><main><h1>{escape(heading)}</h1>{body}</main></body></html>")


def ended_page(verdict: Verdict) -> tuple[int, str]:
    status, heading, advice = ENDED[verdict]
    return status, page(heading, f"<p>{escape(advice)}</p>")


def failure_page(code: ErrorCode, retry: bool) -> tuple[int, str]:
    text = _FAILURES.get(code, _REFUSED)
    again = "<p><a href=''>Try again</a></p>" if retry else ""
    return (503 if retry else 502), page("We could not sign you in", f"<p>{escape(text)}</p>{again}")


def limited_page(wait_s: int) -> str:
    minutes = max(1, round(wait_s / 60))
    return page("Too many attempts", f"<p>Too many links that did not work were opened from your address. "
                                     f"Wait {minutes} minute{'s' if minutes != 1 else ''}, then try again.</p>")


def stale_form_page() -> str:
    return page("Please press the button again",
                "<p>This page was open too long, or your browser did not keep its cookie. "
                "<a href=''>Reload it</a> and press the button again.</p>")


def confirm_page(*, greeting: str, kind: str, expires_at: datetime, csrf: str, ask_email: bool,
                 problem: str = "") -> str:
    """The GET's answer: who the link is for, and a button whose POST mints the ticket."""
    where = "the CommBox agent console" if kind == Kind.AGENT else "your CommBox chat"
    email = ("<label for=email>Your e-mail address on record</label>"
             "<input id=email name=email type=email autocomplete=email required>") if ask_email else ""
    warning = f"<p class=problem>{escape(problem)}</p>" if problem else ""
    until = expires_at.strftime("%d %b %Y, %H:%M UTC")
    body = (f"<p>This invitation opens {where}.</p>{warning}<form method=post>"
            f"<input type=hidden name=csrf value='{escape(csrf, quote=True)}'>{email}"
            f"<button type=submit>Continue</button></form>"
            f"<p class=note>The link works until {escape(until)}. Do not forward it: whoever holds it can use it.</p>")
    return page(f"Continue to CommBox as {greeting}", body)
