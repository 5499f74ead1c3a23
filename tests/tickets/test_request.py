"""Row validation: what a user sees when a row cannot be sent, and what is sent when it can."""

import pandas as pd
import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commbox_core.fields import Kind, fields_for
from commbox_core.tables.read import InputTable
from commbox_core.tickets.prepare import prepare_rows
from commbox_core.tickets.request import RowDefaults, TicketRequest, build_request, describe_problems, parse_flag

DEMO = RowDefaults(brand="demo", channel_id="demo-channel")


def problems_of(values, kind=Kind.CUSTOMER, defaults=DEMO):
    request, problems = build_request(values, kind, defaults)
    assert (request is None) == bool(problems)
    return describe_problems(problems)


def test_agent_needs_username_and_brand():
    text = problems_of({"email": "a@b.io"}, Kind.AGENT, RowDefaults())
    assert "Brand (brand): is empty" in text
    assert "Username (username): is empty" in text


def test_customer_needs_an_identifier_and_a_channel():
    text = problems_of({"firstName": "Ann"}, Kind.CUSTOMER, RowDefaults(brand="demo"))
    assert "at least one of uniqueId, email or phone1" in text
    assert "channelId" in text


@pytest.mark.parametrize("phone", ["4.42079E+11", "4,42079e+11", "4.42079E11", "9.72E+11"])
def test_scientific_notation_phone_is_refused_with_the_fix(phone):
    text = problems_of({"uniqueId": "1", "phone1": phone})
    assert "scientific notation" in text and "format the phone column as Text" in text


@pytest.mark.parametrize(
    ("phone", "reason"),
    [
        ("020 7946 0000", "no country code"),
        ("+44 20 7946", "wrong number of digits"),
        ("call me", "not a phone number"),
        ("+999 1234 5678", "known country code"),
    ],
)
def test_bad_phones_say_why(phone, reason):
    assert reason in problems_of({"uniqueId": "1", "phone1": phone})


@pytest.mark.parametrize("phone", ["+44 20 7946 0000", "0044 20 7946 0000", "+972-54-123-4567", "+1 (212) 555-0123"])
def test_phones_with_country_code_are_sent_exactly_as_given(phone):
    request, problems = build_request({"uniqueId": "1", "phone1": f"  {phone} "}, Kind.CUSTOMER, DEMO)
    assert problems == []
    assert request.payload()["data"]["phone1"] == phone


def test_ids_and_values_stay_strings():
    request, _ = build_request({"uniqueId": "000123", "firstName": "דנה"}, Kind.CUSTOMER, DEMO)
    data = request.payload()["data"]
    assert data["uniqueId"] == "000123" and data["firstName"] == "דנה"
    assert "channelId" not in data  # ours, not the API's


def test_email_syntax_is_checked():
    assert "not a valid e-mail address" in problems_of({"email": "john@@example"})
    assert problems_of({"email": "john.d@example.com"}) == ""


def test_control_characters_and_overlong_values_are_refused():
    assert "control character" in problems_of({"uniqueId": "1", "firstName": "a\x00b"})
    assert "at most 255" in problems_of({"uniqueId": "1", "lastName": "x" * 256})


def test_row_flags_override_run_defaults_and_nonsense_is_refused():
    request, _ = build_request({"uniqueId": "1", "oneTimeUse": "no"}, Kind.CUSTOMER, RowDefaults("demo", "c", True))
    assert request.oneTimeUse is False
    request, _ = build_request({"uniqueId": "1"}, Kind.CUSTOMER, RowDefaults("demo", "c", True))
    assert request.oneTimeUse is True
    assert "not a yes/no value" in problems_of({"uniqueId": "1", "oneTimeUse": "maybe"})


def test_agent_payload_never_carries_customer_only_fields():
    request, _ = build_request(
        {"brand": "demo", "username": "john.d", "uniqueId": "9", "overrideUserInfo": "true"}, Kind.AGENT, DEMO
    )
    data = request.payload()["data"]
    assert data == {"brand": "demo", "username": "john.d", "oneTimeUse": False}
    assert request.subject == "john.d"


@pytest.mark.parametrize(("raw", "expected"), [("TRUE", True), (" yes ", True), ("0", False), ("", None)])
def test_parse_flag(raw, expected):
    value, problem = parse_flag(raw, default=None)
    assert problem is None and value is expected


# ---- the fast ways give exactly what the plain ways give ----------------------------------------

@pytest.mark.parametrize(
    "values",
    [
        {"brand": "demo", "username": "john.d", "oneTimeUse": True, "overrideUserInfo": False},
        {"brand": "demo", "uniqueId": "000123", "email": "a@b.io", "phone1": "+44 20 7946 0000", "channelId": "c",
         "firstName": "דנה", "remark": "r", "oneTimeUse": False, "overrideUserInfo": True},
    ],
)
def test_a_request_from_checked_values_is_the_validated_one(values):
    kind = Kind.AGENT if "username" in values else Kind.CUSTOMER
    fast, validated = TicketRequest.from_checked(kind, values), TicketRequest(kind=kind, **values)
    assert fast == validated and hash(fast) == hash(validated) and repr(fast) == repr(validated)
    assert fast.model_fields_set == validated.model_fields_set
    assert fast.model_dump(mode="json") == validated.model_dump(mode="json")
    assert fast.payload() == validated.payload()
    assert TicketRequest.model_validate(fast.model_dump(mode="json")) == fast
    changed = fast.model_copy(update={"remark": "changed"})
    assert changed.remark == "changed" and "remark" in changed.model_fields_set
    assert fast.model_fields_set == validated.model_fields_set  # shared with other requests: untouched
    with pytest.raises(pydantic.ValidationError):
        fast.brand = "other"  # frozen, as validated requests are


CELLS = st.sampled_from([
    "", " ", "demo", " demo ", "john.d", "a@b.io", "john@@example", "x@y.test", "+44 20 7946 0000",
    "0044 20 7946", "4.42079E+11", "020 7946 0000", "+1 (212) 555-0123", "yes", "no", "maybe", "TRUE",
    "a\tb", "x" * 256, "c==", "000123", "דנה",
])
FIELDS = ("brand", "username", "email", "uniqueId", "firstName", "lastName", "phone1", "remark",
          "channelId", "oneTimeUse", "overrideUserInfo")


@st.composite
def tables(draw):
    names = draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=6, unique=True))
    rows = draw(st.lists(st.lists(CELLS, min_size=len(names), max_size=len(names)), min_size=1, max_size=12))
    frame = pd.DataFrame(rows, columns=names, dtype="str", index=pd.RangeIndex(1, len(rows) + 1))
    broken = draw(st.sets(st.integers(1, len(rows)), max_size=2))
    return InputTable(names, names, frame, {row: f"ragged line {row}" for row in broken}, "utf-8", ",")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), st.sampled_from(list(Kind)), st.sampled_from([None, "demo", " "]), st.sampled_from([None, "c"]),
       st.booleans())
def test_prepare_rows_answers_exactly_as_build_request_row_by_row(table, kind, brand, channel, once):
    defaults = RowDefaults(brand=brand, channel_id=channel, one_time_use=once)
    mapping = {name: name for name in table.columns}
    prepared = prepare_rows(table, mapping, kind, defaults)
    allowed = set(fields_for(kind))
    assert [p.row for p in prepared] == table.frame.index.tolist()
    for item in prepared:
        if item.row in table.row_problems:
            assert (item.request, item.problem) == (None, table.row_problems[item.row])
            continue
        values = {name: table.frame.at[item.row, name] for name in mapping if name in allowed}
        request, problems = build_request(values, kind, defaults)
        assert item.request == request and item.problem == describe_problems(problems)
        if request is not None:
            assert item.request.model_fields_set == request.model_fields_set
