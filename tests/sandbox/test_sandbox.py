"""The sandbox, driven over HTTP on a loopback port, as a client of CommBox would see it."""

from __future__ import annotations

import logging
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
import requests

from commbox_core.cli.sandbox import main
from commbox_core.sandbox import AgentRecord, SandboxConfig, SandboxServer, load_agents_csv
from commbox_core.sandbox.agents import DEFAULT_AGENTS

from ..support import ROOT_DIR

API_KEY = "test-key-4f1c"
CHANNEL = "nex9tHPKdBkD_fAfbuUPABg=="
JOHN = {"brand": "demo", "username": "john.d"}
SCRIPT_NAME = "<script>alert(1)</script>"
DEFAULT_SETTINGS = SandboxConfig().tunables()
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{90,140}$")


@pytest.fixture(scope="module")
def sandbox():
    agents = {
        **DEFAULT_AGENTS,
        "acme": (AgentRecord("eve", "eve@acme.test", "+1 555 0100", SCRIPT_NAME, "O'Hara & Co"),),
    }
    with SandboxServer(SandboxConfig(api_key=API_KEY, agents=agents)) as server:
        yield server


@pytest.fixture(scope="module")
def http():
    with requests.Session() as session:
        yield session


@pytest.fixture(autouse=True)
def fresh(sandbox, http):
    """Every test starts with no faults, no tickets and zeroed counters."""
    configure(sandbox, http, **DEFAULT_SETTINGS)
    http.post(f"{sandbox.url}/_sandbox/reset").raise_for_status()


def configure(sandbox, http, **settings):
    response = http.post(f"{sandbox.url}/_sandbox/config", json=settings)
    assert response.status_code == 200, response.text
    return response.json()


def ticket(sandbox, http, data=None, *, key=API_KEY, body=None):
    """POST /auth/ticket with {"data": data}, or with the raw bytes `body`."""
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    if body is None:
        return http.post(f"{sandbox.url}/auth/ticket", json={"data": data}, headers=headers, timeout=10)
    headers["Content-Type"] = "application/json"
    return http.post(f"{sandbox.url}/auth/ticket", data=body, headers=headers, timeout=10)


def token_for(sandbox, http, data):
    response = ticket(sandbox, http, data)
    assert response.status_code == 200, response.text
    return response.json()["data"]["encpryptedString"]


def open_link(sandbox, http, path, token, *, as_json=True):
    headers = {"Accept": "application/json"} if as_json else {}
    return http.get(f"{sandbox.url}{path}", params={"ta": token}, headers=headers, timeout=10)


def stats(sandbox, http):
    return http.get(f"{sandbox.url}/_sandbox/stats").json()


def advance_clock(sandbox, http, seconds):
    http.post(f"{sandbox.url}/_sandbox/clock", json={"advance": seconds}).raise_for_status()


# --- issuing tickets ---------------------------------------------------------------------


def test_agent_ticket_has_the_vendors_shape(sandbox, http):
    response = ticket(sandbox, http, JOHN)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "200"  # a string on success, like the vendor's example
    assert body["description"] == "Operation successful"
    assert body["response_time"].endswith("Z")
    datetime.fromisoformat(body["response_time"])
    assert TOKEN_SHAPE.match(body["data"]["encpryptedString"])


def test_every_ticket_gets_a_new_token(sandbox, http):
    tokens = {token_for(sandbox, http, JOHN) for _ in range(5)}
    tokens.add(token_for(sandbox, http, {"brand": "demo", "uniqueId": "c-1"}))
    assert len(tokens) == 6


def test_username_and_brand_match_without_regard_to_case(sandbox, http):
    assert ticket(sandbox, http, {"brand": " DEMO ", "username": "John.D"}).status_code == 200
    assert stats(sandbox, http)["issued_per_subject"] == {"demo/agent:john.d": 1}


def test_unknown_fields_are_ignored_and_null_reads_as_not_given(sandbox, http):
    data = {**JOHN, "email": None, "favouriteColour": ["teal"], "oneTimeUse": None}
    assert ticket(sandbox, http, data).status_code == 200


@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_missing_or_wrong_key_is_401(sandbox, http, key):
    response = ticket(sandbox, http, JOHN, key=key)
    assert response.status_code == 401
    body = response.json()
    assert body["status"] == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "wrong-key" not in response.text and API_KEY not in response.text


def test_key_in_another_scheme_is_401(sandbox, http):
    response = http.post(f"{sandbox.url}/auth/ticket", json={"data": JOHN}, headers={"Authorization": API_KEY})
    assert response.status_code == 401


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b"brand=demo", "not valid JSON"),
        (b'["demo"]', "JSON object"),
        (b'{"brand": "demo", "username": "john.d"}', "data must be an object"),
        (b'{"data": "demo"}', "data must be an object"),
        (b'{"data": {"brand": "demo", "phone1": 442501234567}}', "data.phone1 must be a string"),
        (
            b'{"data": {"brand": "demo", "username": "john.d", "oneTimeUse": "yes"}}',
            "data.oneTimeUse must be a boolean",
        ),
        (b'{"data": {"brand": 7, "uniqueId": "1"}}', "data.brand must be a string"),
        (b'{"data": {"username": "john.d"}}', "data.brand is required"),
        (b'{"data": {"brand": "  ", "username": "john.d"}}', "data.brand is required"),
        (b'{"data": {"brand": "demo", "firstName": "Ann"}}', "at least one of data.uniqueId, data.email, data.phone1"),
        (b'{"data": {"brand": "demo", "phone1": "n/a"}}', "data.phone1 has no digits"),
    ],
)
def test_bad_requests_are_400_naming_the_field(sandbox, http, body, named):
    response = ticket(sandbox, http, body=body)
    assert response.status_code == 400
    assert response.json()["status"] == 400
    assert named in response.json()["description"]


@pytest.mark.parametrize(
    ("data", "named"),
    [
        ({"brand": "nosuchbrand", "username": "john.d"}, "Brand nosuchbrand"),
        ({"brand": "nosuchbrand", "uniqueId": "c-1"}, "Brand nosuchbrand"),
        ({"brand": "demo", "username": "nobody"}, "Agent nobody"),
        ({**JOHN, "email": "someone.else@gmail.com"}, "email does not match"),
        ({**JOHN, "phone1": "+44 2501 234568"}, "phone1 does not match"),
        ({"brand": "acme", "username": "john.d"}, "Agent john.d"),  # on record, but in another brand
    ],
)
def test_not_on_record_is_404(sandbox, http, data, named):
    response = ticket(sandbox, http, data)
    assert response.status_code == 404
    assert named in response.json()["description"]
    assert stats(sandbox, http)["tickets_issued"] == 0


@pytest.mark.parametrize(
    "phone", ["+44 2501 234567", "00442501234567", "0044 2501-234-567", "442501234567", "+44 (2501) 23-45-67"]
)
def test_agent_phone_matches_by_digits(sandbox, http, phone):
    assert ticket(sandbox, http, {**JOHN, "phone1": phone, "email": "JOHN.D@Gmail.com"}).status_code == 200


# --- rate limit and faults ---------------------------------------------------------------


def test_over_the_rate_limit_is_429_with_retry_after_in_seconds(sandbox, http):
    configure(sandbox, http, rate_limit=0.5)  # one request every 2 s
    assert ticket(sandbox, http, JOHN).status_code == 200
    throttled = ticket(sandbox, http, JOHN)
    assert throttled.status_code == 429
    assert throttled.json()["status"] == 429
    assert throttled.headers["Retry-After"] == "2"


def test_a_short_wait_rounds_to_retry_after_0(sandbox, http):
    configure(sandbox, http, rate_limit=5)  # a burst of 1; any wait is at most 0.2 s
    responses = [ticket(sandbox, http, JOHN) for _ in range(6)]
    throttled = [r for r in responses if r.status_code == 429]
    assert throttled, "6 back-to-back requests at 5/s should meet the limit"
    assert {r.headers["Retry-After"] for r in throttled} == {"0"}


@pytest.mark.parametrize(("setting", "header"), [("none", None), ("7", "7")])
def test_retry_after_can_be_omitted_or_fixed(sandbox, http, setting, header):
    configure(sandbox, http, rate_limit=0.5, retry_after=setting)
    ticket(sandbox, http, JOHN)
    throttled = ticket(sandbox, http, JOHN)
    assert throttled.status_code == 429
    assert throttled.headers.get("Retry-After") == header


def test_bursting_from_many_threads_does_not_beat_the_limit(sandbox, http):
    rate = 20
    configure(sandbox, http, rate_limit=rate)

    def burst(_):
        with requests.Session() as session:
            return [ticket(sandbox, session, JOHN).status_code for _ in range(15)]

    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        statuses = [status for batch in pool.map(burst, range(4)) for status in batch]
    elapsed = time.monotonic() - started
    allowed = statuses.count(200)
    assert set(statuses) == {200, 429}
    assert allowed <= 2 + rate * elapsed + 1  # burst of 2 (0.1 s worth), then the rate


def test_error_rate_1_answers_500(sandbox, http):
    configure(sandbox, http, error_rate=1)
    response = ticket(sandbox, http, JOHN)
    assert response.status_code == 500
    assert response.json()["status"] == 500


def test_html_rate_1_answers_a_proxys_502_page(sandbox, http):
    configure(sandbox, http, html_rate=1)
    response = ticket(sandbox, http, JOHN)
    assert response.status_code == 502
    assert response.headers["Content-Type"].startswith("text/html")
    assert "502 Bad Gateway" in response.text
    with pytest.raises(requests.JSONDecodeError):
        response.json()


def test_not_supported_rate_1_answers_501(sandbox, http):
    configure(sandbox, http, not_supported_rate=1)
    assert ticket(sandbox, http, JOHN).status_code == 501


def test_malformed_rate_1_answers_200_that_is_not_json_and_issues_nothing(sandbox, http):
    configure(sandbox, http, malformed_rate=1)
    response = ticket(sandbox, http, JOHN)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    with pytest.raises(requests.JSONDecodeError):
        response.json()
    assert ticket(sandbox, http, {"brand": "demo", "username": "nobody"}).status_code == 404  # only successes
    assert stats(sandbox, http)["tickets_issued"] == 0


def test_no_token_rate_1_answers_200_without_a_token(sandbox, http):
    configure(sandbox, http, no_token_rate=1)
    response = ticket(sandbox, http, JOHN)
    assert response.status_code == 200
    assert response.json()["status"] == "200"
    assert "encpryptedString" not in response.json()["data"]


def test_drop_rate_1_cuts_the_connection_mid_response(sandbox, http, caplog):
    caplog.set_level(logging.WARNING)
    configure(sandbox, http, drop_rate=1)
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.exceptions.ConnectionError)) as raised:
        ticket(sandbox, http, JOHN)
    assert "IncompleteRead" in str(raised.value)  # headers and part of the body came, then the close
    configure(sandbox, http, drop_rate=0)
    assert ticket(sandbox, http, JOHN).status_code == 200  # the server itself is fine
    assert stats(sandbox, http)["connections_dropped"] == 1
    assert not [record for record in caplog.records if record.name.startswith("uvicorn")]  # a fault, not a bug


def test_latency_delays_requests_without_blocking_others(sandbox, http):
    configure(sandbox, http, latency_ms=500)

    def timed(_):
        started = time.monotonic()
        with requests.Session() as session:
            assert ticket(sandbox, session, JOHN).status_code == 200
        return time.monotonic() - started

    with ThreadPoolExecutor(4) as pool:
        waits = sorted(pool.map(timed, range(4)))
    assert waits[0] >= 0.5
    # Overlapped, the four waits are alike; in a queue the last would wait four times the first.
    assert waits[-1] < 2 * waits[0]


def test_same_seed_same_faults_and_tokens(sandbox, http):
    def run(config):
        with SandboxServer(config) as server, requests.Session() as session:
            outcomes = []
            for n in range(25):
                response = ticket(server, session, {"brand": "demo", "uniqueId": f"c-{n}"}, key=config.api_key)
                token = response.json().get("data", {}).get("encpryptedString")
                outcomes.append((response.status_code, token))
            return outcomes

    config = SandboxConfig(seed=7, error_rate=0.3, no_token_rate=0.2)
    first = run(config)
    assert first == run(config)
    assert {status for status, _ in first} == {200, 500}
    assert None in {token for status, token in first if status == 200}  # some 200s came without a token
    assert first != run(SandboxConfig(seed=8, error_rate=0.3, no_token_rate=0.2))


def test_reset_replays_the_seed(sandbox, http):
    with SandboxServer(SandboxConfig(seed=3, error_rate=0.5)) as server, requests.Session() as session:
        key = server.config.api_key

        def statuses():
            return [ticket(server, session, JOHN, key=key).status_code for _ in range(12)]

        first = statuses()
        session.post(f"{server.url}/_sandbox/reset").raise_for_status()
        assert statuses() == first


# --- the pages behind links --------------------------------------------------------------


def test_login_link_signs_the_agent_in(sandbox, http):
    token = token_for(sandbox, http, {"brand": "demo", "username": "noa.c", "remark": "batch 7"})
    page = open_link(sandbox, http, "/login", token, as_json=False)
    assert page.status_code == 200
    assert 'data-testid="sandbox-login-ok"' in page.text
    assert "נועה כהן" in page.text and "batch 7" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert open_link(sandbox, http, "/login", token).json()["username"] == "noa.c"


def test_chat_link_shows_who_chats_on_which_channel(sandbox, http):
    token = token_for(
        sandbox, http, {"brand": "demo", "email": "ann@example.com", "firstName": "Ann", "lastName": "Lee"}
    )
    page = open_link(sandbox, http, "/chat/demo-channel", token, as_json=False)
    assert page.status_code == 200
    assert 'data-testid="sandbox-chat-ok"' in page.text
    assert "Ann Lee" in page.text and "demo-channel" in page.text


def test_agent_ticket_expires_after_60_seconds(sandbox, http):
    token = token_for(sandbox, http, JOHN)
    advance_clock(sandbox, http, 59)
    assert open_link(sandbox, http, "/login", token).status_code == 200
    advance_clock(sandbox, http, 1.5)
    expired = open_link(sandbox, http, "/login", token)
    assert expired.status_code == 410
    assert expired.json()["outcome"] == "expired"


def test_chat_ticket_expires_after_300_seconds(sandbox, http):
    token = token_for(sandbox, http, {"brand": "demo", "uniqueId": "c-1"})
    advance_clock(sandbox, http, 299)
    assert open_link(sandbox, http, f"/chat/{CHANNEL}", token).status_code == 200
    advance_clock(sandbox, http, 1.5)
    assert open_link(sandbox, http, f"/chat/{CHANNEL}", token).status_code == 410


def test_ticket_lifespans_are_configurable(sandbox, http):
    configure(sandbox, http, agent_ttl=5)
    token = token_for(sandbox, http, JOHN)
    advance_clock(sandbox, http, 6)
    assert open_link(sandbox, http, "/login", token).status_code == 410


def test_one_time_ticket_opens_once(sandbox, http):
    token = token_for(sandbox, http, {**JOHN, "oneTimeUse": True})
    assert open_link(sandbox, http, "/login", token).status_code == 200
    second = open_link(sandbox, http, "/login", token, as_json=False)
    assert second.status_code == 410
    assert 'data-testid="sandbox-refused"' in second.text


def test_ordinary_ticket_opens_until_it_expires(sandbox, http):
    token = token_for(sandbox, http, JOHN)
    assert [open_link(sandbox, http, "/login", token).status_code for _ in range(3)] == [200, 200, 200]


def test_ticket_of_the_wrong_kind_is_401_and_not_used_up(sandbox, http):
    agent_token = token_for(sandbox, http, {**JOHN, "oneTimeUse": True})
    customer_token = token_for(sandbox, http, {"brand": "demo", "uniqueId": "c-1"})
    assert open_link(sandbox, http, f"/chat/{CHANNEL}", agent_token).status_code == 401
    assert open_link(sandbox, http, "/login", customer_token).status_code == 401
    assert open_link(sandbox, http, "/login", agent_token).status_code == 200


@pytest.mark.parametrize("token", ["", "not-a-ticket"])
def test_unknown_ticket_is_401(sandbox, http, token):
    response = open_link(sandbox, http, "/login", token, as_json=False)
    assert response.status_code == 401
    assert 'data-testid="sandbox-refused"' in response.text


def test_missing_ticket_is_401(sandbox, http):
    assert http.get(f"{sandbox.url}/login").status_code == 401


@pytest.mark.parametrize(
    ("channel_in_url", "status"),
    [
        ("nex9tHPKdBkD_fAfbuUPABg%3D%3D", 200),  # encoded once, as a link should be
        ("nex9tHPKdBkD_fAfbuUPABg%3d%3d", 200),  # the vendor's own example spelling
        ("nex9tHPKdBkD_fAfbuUPABg==", 200),
        ("nex9tHPKdBkD_fAfbuUPABg%253D%253D", 404),  # encoded twice
        ("no-such-channel", 404),
    ],
)
def test_chat_channel_must_be_known_and_encoded_once(sandbox, http, channel_in_url, status):
    token = token_for(sandbox, http, {"brand": "demo", "uniqueId": "c-1"})
    response = http.get(f"{sandbox.url}/chat/{channel_in_url}?ta={token}", headers={"Accept": "application/json"})
    assert response.status_code == status
    if status == 200:
        assert response.json()["channel"] == CHANNEL


def test_pages_escape_everything_user_supplied(sandbox, http):
    customer = {"brand": "demo", "uniqueId": "x", "firstName": SCRIPT_NAME, "remark": "<b>bold</b>"}
    chat = open_link(sandbox, http, "/chat/demo-channel", token_for(sandbox, http, customer), as_json=False)
    agent = open_link(
        sandbox, http, "/login", token_for(sandbox, http, {"brand": "acme", "username": "eve"}), as_json=False
    )
    unknown_channel = http.get(f"{sandbox.url}/chat/%3Cscript%3Ealert(1)%3C%2Fscript%3E?ta=x")
    for page in (chat, agent, unknown_channel):
        assert "<script>" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<b>" not in chat.text
    assert "O&#x27;Hara &amp; Co" in agent.text


# --- customers ---------------------------------------------------------------------------


def customers(sandbox, http):
    return http.get(f"{sandbox.url}/_sandbox/customers", params={"brand": "demo"}).json()["customers"]


def test_first_chat_ticket_creates_the_customer_record(sandbox, http):
    ticket(sandbox, http, {"brand": "demo", "phone1": "+972 50-765-4321", "firstName": "Dana"})
    [record] = customers(sandbox, http)
    assert record["key"] == "phone1=972507654321"
    assert record["firstName"] == "Dana"


def test_override_user_info_updates_the_customer_record(sandbox, http):
    ticket(sandbox, http, {"brand": "demo", "uniqueId": "u-1", "firstName": "Ann", "lastName": "Lee"})
    ticket(sandbox, http, {"brand": "demo", "uniqueId": "u-1", "firstName": "Anne"})
    assert customers(sandbox, http)[0]["firstName"] == "Ann"  # without the flag, the record stays

    data = {
        "brand": "demo",
        "uniqueId": "u-1",
        "firstName": "Anne",
        "email": "anne@example.com",
        "overrideUserInfo": True,
    }
    token = token_for(sandbox, http, data)
    [record] = customers(sandbox, http)
    assert (record["firstName"], record["lastName"], record["email"]) == ("Anne", "Lee", "anne@example.com")
    assert open_link(sandbox, http, "/chat/demo-channel", token).json()["name"] == "Anne Lee"


# --- controls ----------------------------------------------------------------------------


def test_stats_count_every_request_and_every_ticket(sandbox, http):
    token = token_for(sandbox, http, JOHN)
    ticket(sandbox, http, JOHN, key="wrong")
    ticket(sandbox, http, body=b"{}")
    ticket(sandbox, http, {"brand": "demo", "username": "nobody"})
    ticket(sandbox, http, {"brand": "demo", "uniqueId": "c-1"})
    open_link(sandbox, http, "/login", token)
    open_link(sandbox, http, "/login", "nope")
    counts = stats(sandbox, http)
    assert counts["ticket_requests"] == 5
    assert counts["tickets_issued"] == 2
    assert counts["responses"] == {"200": 2, "400": 1, "401": 1, "404": 1}
    assert counts["issued_per_subject"] == {"demo/agent:john.d": 1, "demo/customer:uniqueId=c-1": 1}
    assert counts["redemptions"] == {"ok": 1, "unknown_token": 1}


def test_reset_forgets_tickets_customers_and_counts(sandbox, http):
    token = token_for(sandbox, http, {"brand": "demo", "uniqueId": "c-1"})
    http.post(f"{sandbox.url}/_sandbox/reset").raise_for_status()
    assert open_link(sandbox, http, f"/chat/{CHANNEL}", token).status_code == 401
    assert customers(sandbox, http) == []
    counts = stats(sandbox, http)
    assert (counts["ticket_requests"], counts["tickets_issued"], counts["responses"]) == (0, 0, {})


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"error_rate": 2}, "error_rate"),
        ({"api_key": "x"}, "cannot change api_key"),
        ({"latency_ms": "slow"}, "latency_ms"),
    ],
)
def test_config_refuses_bad_settings(sandbox, http, settings, named):
    response = http.post(f"{sandbox.url}/_sandbox/config", json=settings)
    assert response.status_code == 400
    assert named in response.json()["error"]


def test_config_shows_settings_but_never_the_key(sandbox, http):
    settings = http.get(f"{sandbox.url}/_sandbox/config").json()
    assert settings["agent_ttl"] == 60
    assert API_KEY not in str(settings)


def test_clock_only_moves_forward(sandbox, http):
    assert http.post(f"{sandbox.url}/_sandbox/clock", json={"advance": -5}).status_code == 400


def test_logs_hold_neither_tokens_nor_the_key(sandbox, http, caplog):
    caplog.set_level(logging.DEBUG)
    token = token_for(sandbox, http, JOHN)
    open_link(sandbox, http, "/login", token)
    ticket(sandbox, http, JOHN, key="guessed-key")
    server_side = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("urllib3"))
    assert token not in server_side and API_KEY not in server_side and "guessed-key" not in server_side


# --- the server --------------------------------------------------------------------------


def test_servers_are_independent_and_restartable():
    server = SandboxServer(SandboxConfig())
    with requests.Session() as session:
        for _ in range(3):
            server.start()
            with SandboxServer(SandboxConfig()) as other:
                token = ticket(server, session, JOHN, key="sandbox-key").json()["data"]["encpryptedString"]
                assert open_link(other, session, "/login", token).status_code == 401
                assert open_link(server, session, "/login", token).status_code == 200
            stopping = threading.Thread(target=server.stop, daemon=True)
            stopping.start()
            stopping.join(30)  # a guard against a hang, not a timing: stop() returns once it has stopped
            assert not stopping.is_alive()
            with pytest.raises(requests.ConnectionError):
                session.get(f"{server.url}/_sandbox/stats", timeout=2)


# --- agents file and command line --------------------------------------------------------


AGENTS_CSV = "\ufeffbrand,username,email,phone1,firstName,lastName\nbetaco,dov.l,dov@beta.test,+972 3 555 0100,דב,לוי\n"


def test_load_agents_csv_reads_utf8_with_bom(tmp_path):
    path = tmp_path / "agents.csv"
    path.write_text(AGENTS_CSV, encoding="utf-8")
    assert load_agents_csv(path) == {"betaco": (AgentRecord("dov.l", "dov@beta.test", "+972 3 555 0100", "דב", "לוי"),)}


def test_agents_from_a_file_get_tickets(tmp_path):
    path = tmp_path / "agents.csv"
    path.write_text(AGENTS_CSV.lstrip("\ufeff"), encoding="utf-8")
    with SandboxServer(SandboxConfig(agents=load_agents_csv(path))) as server, requests.Session() as session:
        data = {"brand": "BetaCo", "username": "DOV.L", "phone1": "0097235550100"}
        assert ticket(server, session, data, key="sandbox-key").status_code == 200


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"brand,username,email\ndemo,a,a@b.c\n", "missing column(s) phone1, firstName, lastName"),
        (b"", "empty"),
        (b"brand,username,email,phone1,firstName,lastName\n", "no agent rows"),
        (b"brand,username,email,phone1,firstName,lastName\ndemo,,a@b.c,1,A,B\n", "line 2: username is empty"),
        (b"brand,username,email,phone1,firstName,lastName\nd,a,,,,\nd,A,,,,\n", "line 3: username A appears twice"),
        (b"brand,username,email,phone1,firstName,lastName\nd,a,,,,,extra\n", "more cells than the header"),
        ("brand,username,email,phone1,firstName,lastName\nd,a,,,Zoë,\n".encode("latin-1"), "not UTF-8"),
    ],
)
def test_load_agents_csv_explains_a_bad_file(tmp_path, content, message):
    path = tmp_path / "agents.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=re.escape(message)):
        load_agents_csv(path)


def test_load_agents_csv_explains_a_missing_file(tmp_path):
    with pytest.raises(ValueError, match="cannot be read"):
        load_agents_csv(tmp_path / "missing.csv")


@pytest.mark.parametrize(
    "argv",
    [
        ["--port", "0", "--agents", "{missing}"],
        ["--port", "0", "--agents", "{bad}"],
        ["--port", "zero"],
        ["--port", "0", "--error-rate", "1.5"],
        ["--port", "0", "--retry-after", "soon"],
        ["--port", "0", "--no-such-flag"],
        [],
    ],
)
def test_main_rejects_bad_flags_with_one_line_and_exit_2(tmp_path, capsys, argv):
    bad = tmp_path / "bad.csv"
    bad.write_text("who,what\n1,2\n", encoding="utf-8")
    argv = [arg.format(missing=tmp_path / "missing.csv", bad=bad) for arg in argv]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1
    assert captured.err.startswith("sandbox: ")


def test_main_serves_until_interrupted():
    root = ROOT_DIR
    command = [sys.executable, "-m", "commbox_core", "sandbox"]
    argv = ["--port", "0", "--api-key", "cli-key", "--seed", "1"]
    process = subprocess.Popen([*command, *argv], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()
    try:
        line = lines.get(timeout=30)
        base_url = re.search(r"at (http://127\.0\.0\.1:\d+) ", line).group(1)
        assert f"login URL {base_url}/login" in line and f"apps URL {base_url}" in line and "API key cli-key" in line
        response = requests.post(
            f"{base_url}/auth/ticket", json={"data": JOHN}, headers={"Authorization": "Bearer cli-key"}, timeout=10
        )
        assert response.status_code == 200
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
        assert "Traceback" not in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()
