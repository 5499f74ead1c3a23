"""The sandbox against its own OpenAPI document, with schemathesis.

The document is the one the running server serves at /openapi.json (the first test proves the
bytes are the same). It is loaded at import time, not through
`schemathesis.pytest.from_fixture`, which fails under pytest 9 (it reads `request.node._nodeid`,
gone from pytest 9).
"""

from __future__ import annotations

import json

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings

from commbox_core.sandbox import SandboxConfig, SandboxServer
from commbox_core.sandbox.app import OPENAPI_DOCUMENT

API_KEY = "contract-key"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
# Faults the document can describe: 429 with Retry-After, 500, 501, the proxy's 502 HTML page,
# and a 200 without a token. (A non-JSON 200 and a cut connection cannot be described.)
DECLARED_FAULTS = {
    "rate_limit": 100,
    "error_rate": 0.1,
    "not_supported_rate": 0.05,
    "html_rate": 0.1,
    "no_token_rate": 0.1,
}
EXAMPLES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

schema = schemathesis.openapi.from_dict(json.loads(OPENAPI_DOCUMENT))


@pytest.fixture(scope="module")
def sandbox():
    with SandboxServer(SandboxConfig(api_key=API_KEY)) as server:
        yield server


@pytest.fixture(scope="module")
def faulty_sandbox():
    with SandboxServer(SandboxConfig(api_key=API_KEY, seed=11, **DECLARED_FAULTS)) as server:
        yield server


def test_the_served_document_is_the_shipped_one(sandbox):
    response = requests.get(f"{sandbox.url}/openapi.json", timeout=10)
    assert response.status_code == 200
    assert response.content == OPENAPI_DOCUMENT
    document = response.json()
    assert document["servers"] == [{"url": "/", "description": "This sandbox"}]
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        **document["components"]["securitySchemes"]["bearerAuth"],
        "type": "http",
        "scheme": "bearer",
    }
    responses = document["paths"]["/auth/ticket"]["post"]["responses"]
    assert set(responses) == {"200", "400", "401", "404", "429", "500", "501", "502"}
    assert "Retry-After" in responses["429"]["headers"]
    assert "remark" in json.dumps(document["components"]["schemas"]["TicketRequest"])


@schema.parametrize()
@EXAMPLES
def test_every_answer_conforms_and_none_is_a_server_error(case, sandbox):
    case.call_and_validate(base_url=sandbox.url, headers=AUTH, timeout=10)


@schema.parametrize()
@EXAMPLES
def test_declared_faults_conform_too(case, faulty_sandbox):
    case.call_and_validate(
        base_url=faulty_sandbox.url,
        headers=AUTH,
        timeout=10,
        excluded_checks=[schemathesis.checks.not_a_server_error],  # 5xx are the point here
    )


def test_the_runs_met_every_kind_of_answer(sandbox, faulty_sandbox):
    """Guards the two runs above against passing by never reaching the interesting answers."""
    plain = requests.get(f"{sandbox.url}/_sandbox/stats", timeout=10).json()
    assert {"200", "400", "401", "404"} <= set(plain["responses"])
    assert "500" not in plain["responses"]
    faulty = requests.get(f"{faulty_sandbox.url}/_sandbox/stats", timeout=10).json()
    assert {"500", "502"} <= set(faulty["responses"])


JOHN = {"data": {"brand": "demo", "username": "john.d"}}
TICKET_ANSWERS = [
    # settings for the sandbox, body, API key, the status the answer must have
    pytest.param({}, JOHN, API_KEY, 200, id="200-issued"),
    pytest.param({}, {"data": {"brand": "demo"}}, API_KEY, 400, id="400"),
    pytest.param({}, JOHN, "wrong-key", 401, id="401"),
    pytest.param({}, {"data": {"brand": "demo", "username": "nobody"}}, API_KEY, 404, id="404"),
    pytest.param({"rate_limit": 0.5}, JOHN, API_KEY, 429, id="429-retry-after"),
    pytest.param({"rate_limit": 0.5, "retry_after": "none"}, JOHN, API_KEY, 429, id="429-no-retry-after"),
    pytest.param({"error_rate": 1}, JOHN, API_KEY, 500, id="500"),
    pytest.param({"not_supported_rate": 1}, JOHN, API_KEY, 501, id="501"),
    pytest.param({"html_rate": 1}, JOHN, API_KEY, 502, id="502-html"),
    pytest.param({"no_token_rate": 1}, JOHN, API_KEY, 200, id="200-without-token"),
]


@pytest.fixture
def tuned(sandbox):
    """Applies run-time settings for one test, then puts the defaults back."""
    session = requests.Session()

    def tune(**changes):
        session.post(f"{sandbox.url}/_sandbox/config", json=changes, timeout=10).raise_for_status()

    yield tune
    tune(**SandboxConfig().tunables())
    session.close()


def assert_conforms(case, response):
    checks = schemathesis.checks
    conformance = [
        checks.status_code_conformance,
        checks.content_type_conformance,
        checks.response_headers_conformance,
        checks.response_schema_conformance,
    ]
    case.validate_response(response, checks=conformance)


@pytest.mark.parametrize(("changes", "body", "key", "status"), TICKET_ANSWERS)
def test_each_kind_of_ticket_answer_conforms(sandbox, tuned, changes, body, key, status):
    tuned(**changes)
    case = schema["/auth/ticket"]["POST"].Case(body=body, media_type="application/json")
    headers = {"Authorization": f"Bearer {key}"}
    response = case.call(base_url=sandbox.url, headers=headers, timeout=10)
    if status == 429:  # the first request takes the only slot; the next one is throttled
        response = case.call(base_url=sandbox.url, headers=headers, timeout=10)
    assert response.status_code == status
    assert_conforms(case, response)


@pytest.mark.parametrize("accept", ["text/html", "application/json"])
def test_each_kind_of_link_answer_conforms(sandbox, tuned, accept):
    auth = {"Authorization": f"Bearer {API_KEY}"}
    agent = requests.post(
        f"{sandbox.url}/auth/ticket", json={"data": {**JOHN["data"], "oneTimeUse": True}}, headers=auth
    )
    customer = requests.post(
        f"{sandbox.url}/auth/ticket", json={"data": {"brand": "demo", "uniqueId": "1"}}, headers=auth
    )
    agent_token = agent.json()["data"]["encpryptedString"]
    customer_token = customer.json()["data"]["encpryptedString"]
    login, chat = schema["/login"]["GET"], schema["/chat/{channel}"]["GET"]
    visits = [
        (login.Case(query={"ta": agent_token}), 200),
        (login.Case(query={"ta": agent_token}), 410),  # one-time, used
        (login.Case(query={"ta": customer_token}), 401),
        (chat.Case(path_parameters={"channel": "demo-channel"}, query={"ta": customer_token}), 200),
        (chat.Case(path_parameters={"channel": "elsewhere"}, query={"ta": customer_token}), 404),
    ]
    for case, status in visits:
        response = case.call(base_url=sandbox.url, headers={"Accept": accept}, timeout=10)
        assert response.status_code == status
        assert response.headers["content-type"][0].startswith(accept)
        assert_conforms(case, response)
