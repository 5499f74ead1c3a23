"""The phone fast path (country code and length) agrees with phonenumbers on every answer."""

from __future__ import annotations

import random

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from commbox_core.tickets.phones import plainly_possible, parsed_phone_problem, phone_problem, phone_problems

COUNTRY_CODES = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)
WRITINGS = ("+{cc}{n}", "00{cc} {n}", "+{cc} ({n})", "+ {cc}-{n}")


def spaced(digits: str, rng: random.Random) -> str:
    """The digits with separators where people put them."""
    out = []
    for i, digit in enumerate(digits):
        if i and rng.random() < 0.25:
            out.append(rng.choice([" ", "-", ".", " ", "/", ") ", " ("]))
        out.append(digit)
    return "".join(out)


def test_every_country_code_and_length_agrees_with_phonenumbers():
    rng = random.Random(6)
    checked = fast = accepted = 0
    texts, expected = [], []
    for cc in COUNTRY_CODES:
        for length in range(1, 19):
            for lead in ("0", "1", "7"):
                body = (lead + "".join(rng.choice("0123456789") for _ in range(length)))[:length]
                for writing in WRITINGS:
                    text = writing.format(cc=cc, n=spaced(body, rng)).strip()
                    problem = parsed_phone_problem(text)
                    assert phone_problem(text) == problem, text
                    texts.append(text)
                    expected.append(problem)
                    checked += 1
                    accepted += problem is None
                    fast += plainly_possible(text)
    assert phone_problems(texts) == expected  # the vectorised way too
    assert checked > 40_000
    # Not vacuous: the fast path answers most (the rest are written "+ 44").
    assert fast > accepted // 2, (fast, accepted)


@settings(max_examples=1500, deadline=None)
@given(st.text(alphabet="+0123456789 ().-/", max_size=24))
def test_any_string_of_phone_characters_agrees_with_phonenumbers(text):
    text = text.strip()
    assert phone_problem(text) == parsed_phone_problem(text) == phone_problems([text])[0]


@settings(max_examples=1000, deadline=None)
@given(st.sampled_from(COUNTRY_CODES), st.text(alphabet="0123456789", min_size=1, max_size=18),
       st.sampled_from(["+", "00", "+ ", "++", "0", "+0"]))
def test_numbers_built_from_real_country_codes_agree_with_phonenumbers(cc, national, start):
    text = f"{start}{cc} {national}"
    assert phone_problem(text) == parsed_phone_problem(text) == phone_problems([text])[0]


@pytest.mark.parametrize(
    "text",
    ["+44 20 7946 0000", "0044 20 7946 0000", "+972-54-123-4567", "+1 (212) 555-0123", "+44 (0)20 7946 0000",
     "+33 (0)6 12 34 56 78", "+39 06 1234 5678"],
)
def test_plain_numbers_take_the_fast_path(text):
    assert plainly_possible(text)
    assert phone_problem(text) is None
    assert phone_problems([text, "+44 20", ""]) == [None, parsed_phone_problem("+44 20"), parsed_phone_problem("")]
    assert phone_problems([]) == []


@pytest.mark.parametrize("text", ["+٤٤ 20 7946 0000", "+ 44 20 7946 0000", "(+44) 20 7946 0000", "+44 20 7946 0000 ext 1"])
def test_numbers_phonenumbers_must_read_itself_are_left_to_it(text):
    assert not plainly_possible(text)
    assert phone_problem(text) == parsed_phone_problem(text)
