"""The vectorised e-mail fast path accepts only what email-validator accepts."""

from __future__ import annotations

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from commbox_core.tickets.emails import BATCH, email_problem, email_problems, plainly_valid

TRICKY = "abcXYZ019._+-'@\"() <>!#%é.-\u200b"
# Mostly well-formed pieces, so the fast path often says yes; mixed with pieces it must refuse.
ATOMS = st.lists(st.text(alphabet="abzAZ09_+'-", min_size=1, max_size=12), min_size=1, max_size=4)
LOCAL = st.one_of(ATOMS.map(".".join), ATOMS.map(".".join), st.text(alphabet="abzAZ09._+-'!#é\"", max_size=70))
HOST_PARTS = st.lists(st.text(alphabet="abzAZ09", min_size=1, max_size=22), min_size=1, max_size=3)
LABEL = st.one_of(HOST_PARTS.map("-".join), HOST_PARTS.map("--".join), st.text(alphabet="abzAZ09-_é", max_size=70))
TLD = st.sampled_from(["com", "io", "co", "x", "c0m", "test", "local", "TEST", "onion", "arpa", "museum", "e"])


def accepted_by_email_validator(text: str) -> bool:
    try:
        validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True


@st.composite
def addresses(draw):
    labels = draw(st.lists(LABEL, min_size=0, max_size=4))
    return draw(LOCAL) + "@" + ".".join([*labels, draw(TLD)])


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.one_of(addresses(), st.text(alphabet=TRICKY, max_size=40)), min_size=1, max_size=10))
def test_the_fast_path_never_accepts_what_email_validator_refuses(texts):
    for text, plain in zip(texts, plainly_valid(texts)):
        if plain:
            assert accepted_by_email_validator(text), text


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(addresses(), st.text(alphabet=TRICKY, max_size=40)), min_size=1, max_size=10))
def test_a_full_batch_through_arrow_answers_as_one_address_at_a_time(texts):
    # A small file's addresses are checked one by one (re), a big file's a batch at a time (Arrow).
    full = (texts * (BATCH // len(texts) + 1))[:BATCH]
    assert plainly_valid(full) == [plainly_valid([text])[0] for text in full]


def test_long_addresses_and_labels_are_left_to_email_validator():
    long_label = "a" * 64
    texts = [f"x@{long_label}.com", "x@" + "a." * 126 + "com", "y" * 250 + "@b.co", "ab--c@x.com", "a@xn--bcher-kva.ch"]
    assert not any(plainly_valid(texts))
    assert not any(plainly_valid(texts * BATCH))  # the Arrow pass over a full batch too
    assert [email_problem(t) for t in texts] == email_problems(texts)


@pytest.mark.parametrize("text", ["john.d@example.com", "o'brien+tag@mail.example.co.uk", "A_B-9@x-y.io"])
def test_ordinary_addresses_take_the_fast_path(text):
    assert plainly_valid([text]) == [True]
    assert email_problems([text]) == [None] == [email_problem(text)]


def test_refused_addresses_keep_email_validators_message():
    texts = ["john@@example", "dana@example.test", "josé@example.com", ""]
    problems = email_problems(texts)
    assert problems[:2] == [email_problem(texts[0]), email_problem(texts[1])]
    assert "not a valid e-mail address" in problems[0] and "special-use" in problems[1]
    assert problems[2] is None  # internationalised, valid: email-validator said so
    assert email_problems([]) == []
