"""The redeem app over HTTP, as a mail scanner and a person meet it: a real `redeem` process,
the real sandbox minting the tickets, a job store file between them."""

from __future__ import annotations

import dataclasses
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import requests

from commbox_core.fields import Kind
from commbox_core.invitations.app import CSRF_COOKIE, MAX_MISSES
from commbox_core.invitations.issue import new_invitation
from commbox_core.invitations.options import InvitationOptions
from commbox_core.storage.invitations import insert_invitations
from commbox_core.tickets.request import RowDefaults, build_request

from .conftest import invite, start_redeem

_CSRF_FIELD = re.compile(r"name=csrf value='([^']+)'")


def opened(url: str) -> tuple[requests.Session, str]:
    """A browser-like session that has loaded the confirmation page: (session, its CSRF token)."""
    session = requests.Session()
    page = session.get(url, timeout=10)
    assert page.status_code == 200, page.text
    return session, _CSRF_FIELD.search(page.text).group(1)


def press(session: requests.Session, url: str, csrf: str, **fields) -> requests.Response:
    return session.post(url, data={"csrf": csrf, **fields}, allow_redirects=False, timeout=30)


def test_scanners_use_nothing_up_and_the_button_mints_one_ticket(sandbox, console):
    link = invite(console).url
    assert requests.head(link, timeout=10).status_code == 200
    first, second = requests.get(link, timeout=10), requests.get(link, timeout=10)
    assert first.status_code == second.status_code == 200
    assert "Continue to CommBox as John D." in first.text
    assert first.headers["Referrer-Policy"] == "no-referrer" and first.headers["Cache-Control"] == "no-store"
    assert sandbox.stats()["ticket_requests"] == 0  # a HEAD and two GETs asked CommBox for nothing

    session, csrf = opened(link)
    answer = press(session, link, csrf)
    assert answer.status_code == 303
    landing = session.get(answer.headers["Location"], timeout=10)
    assert landing.status_code == 200 and "john.d" in landing.text  # the sandbox's console accepts it
    assert sandbox.stats()["tickets_issued"] == 1
    assert "ta=" in answer.headers["Location"] and answer.headers["Location"].startswith(console.settings.login_url)


def test_customer_invitation_lands_in_the_chat(sandbox, console):
    link = invite(console, Kind.CUSTOMER).url
    session, csrf = opened(link)
    answer = press(session, link, csrf)
    assert answer.status_code == 303 and "/chat/" in answer.headers["Location"]
    assert session.get(answer.headers["Location"], timeout=10).status_code == 200


def test_a_second_click_an_expired_a_revoked_and_an_unknown_link_each_get_their_page(sandbox, console, redeem_app):
    used = invite(console).url
    session, csrf = opened(used)
    assert press(session, used, csrf).status_code == 303
    again = press(session, used, csrf)
    assert again.status_code == 410 and "already been used" in again.text

    revoked = invite(console)
    console.invitations.revoke([revoked.invitation_id])
    page = requests.get(revoked.url, timeout=10)
    assert page.status_code == 410 and "withdrawn" in page.text

    request, _ = build_request({"username": "john.d"}, Kind.AGENT, RowDefaults(brand="demo"))
    token, item = new_invitation(request, InvitationOptions(timedelta(hours=1)), created_by="test")
    insert_invitations(console.store, [dataclasses.replace(item, created_at=datetime.now(UTC) - timedelta(hours=2))])
    expired = f"{redeem_app.url}/invite/{token}"
    page = requests.get(expired, timeout=10)
    assert page.status_code == 410 and "expired" in page.text

    unknown = requests.get(f"{redeem_app.url}/invite/{'A' * 32}", timeout=10)
    assert unknown.status_code == 404 and "not valid" in unknown.text
    assert sandbox.stats()["tickets_issued"] == 1  # only the first click minted


def test_a_post_without_the_pages_csrf_token_mints_nothing(sandbox, console):
    link = invite(console).url
    session, csrf = opened(link)
    assert press(session, link, "forged").status_code == 403
    assert requests.post(link, data={"csrf": csrf}, allow_redirects=False, timeout=10).status_code == 403  # no cookie
    assert sandbox.stats()["ticket_requests"] == 0
    assert press(session, link, csrf).status_code == 303  # still usable


def test_fifty_racing_clicks_mint_exactly_one_ticket(sandbox, console):
    sandbox.configure(latency_ms=50)  # so the clicks overlap
    link = invite(console).url
    session, csrf = opened(link)
    cookie = session.cookies.get(CSRF_COOKIE)

    def click(_):
        return requests.post(link, data={"csrf": csrf}, cookies={CSRF_COOKIE: cookie}, allow_redirects=False,
                             timeout=30).status_code

    with ThreadPoolExecutor(50) as pool:
        statuses = list(pool.map(click, range(50)))
    assert statuses.count(303) == 1
    assert set(statuses) <= {303, 409, 410}
    assert sandbox.stats()["tickets_issued"] == 1


def test_fifty_clicks_through_two_redeem_processes_on_one_store_mint_one_ticket(sandbox, console, redeem_app,
                                                                                tmp_path):
    sandbox.configure(latency_ms=50)
    other = start_redeem(sandbox, redeem_app.db, tmp_path / "redeem-2.log")
    try:
        token = invite(console).url.rsplit("/", 1)[1]
        links = [f"{app.url}/invite/{token}" for app in (redeem_app, other)]
        sessions = [opened(link) for link in links]

        def click(n):
            session, csrf = sessions[n % 2]
            return press(session, links[n % 2], csrf).status_code

        with ThreadPoolExecutor(50) as pool:
            statuses = list(pool.map(click, range(50)))
    finally:
        other.stop()
    assert statuses.count(303) == 1
    assert sandbox.stats()["tickets_issued"] == 1


def test_agent_confirms_the_email_on_record_before_the_ticket(sandbox, console):
    values = {"username": "john.d", "email": "john.d@gmail.com"}
    link = invite(console, options=InvitationOptions(confirm_email=True), **values).url
    session, csrf = opened(link)
    wrong = press(session, link, csrf, email="someone@else.com")
    assert wrong.status_code == 403 and "does not match" in wrong.text
    assert press(session, link, csrf).status_code == 403  # a scanner that submits the form as it is
    assert sandbox.stats()["ticket_requests"] == 0
    assert press(session, link, csrf, email=" John.D@Gmail.com ").status_code == 303


def test_commbox_failing_at_the_click_says_so_and_keeps_the_invitation(sandbox, console):
    gone = invite(console, username="ghost.agent")
    session, csrf = opened(gone.url)
    answer = press(session, gone.url, csrf)
    assert answer.status_code == 502 and "no longer has a record" in answer.text
    [stored] = [i for i in console.invitations.list() if i.id == gone.invitation_id]
    assert stored.failures == 1 and stored.stored_state == "pending"

    busy = invite(console)
    sandbox.configure(error_rate=1.0)
    session, csrf = opened(busy.url)
    answer = press(session, busy.url, csrf)
    assert answer.status_code == 503 and "try again in a minute" in answer.text
    sandbox.configure(error_rate=0)
    assert press(session, busy.url, csrf).status_code == 303  # the same link works once CommBox does


def test_wrong_tokens_are_rate_limited_per_address(sandbox, redeem_app, console):
    link = invite(console).url
    for n in range(MAX_MISSES):
        assert requests.get(f"{redeem_app.url}/invite/{n:032d}", timeout=10).status_code == 404
    limited = requests.get(f"{redeem_app.url}/invite/{'B' * 32}", timeout=10)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert requests.get(link, timeout=10).status_code == 429  # even a real link, from that address, for now
