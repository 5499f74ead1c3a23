"""Why a phone number cannot be sent, or None; fast for the plainly written numbers bulk files hold.

phonenumbers.parse costs about 80 µs a number, and a file of people has as many distinct numbers
as rows. But whether a number is possible depends only on its country code and the length of its
national number. So a number written plainly (`+` or `00`, the country code, then digits with
spaces, dashes, dots, slashes or brackets) is split here as phonenumbers would split it (with its
own step that drops a trunk prefix, the 0 of "+44 (0)20"), and the answer is cached by (country
code, length). Anything else, and every number that is not possible, goes through phonenumbers
itself, so every message stays exactly what it always was.
tests/tickets/test_phones.py checks that both ways agree on every country code and length and on
generated numbers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import phonenumbers
from phonenumbers import phonenumberutil

from commbox_core.tables.arrow_columns import text_array

# What Excel does to a long number it was not told is text: 4.42079E+11.
_SCIENTIFIC = re.compile(r"^[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+$")
_PHONE_CHARS = re.compile(r"^[+\d\s().\-/]+$")
# ASCII only: phonenumbers also reads other scripts' digits, which the fast path leaves to it.
_PLAIN = re.compile(r"\+[0-9][0-9 ().\-/]*")  # phonenumbers trims what trails the last digit
_NOT_DIGIT = re.compile(r"[^0-9]")
BATCH = 8192  # a full batch goes through Arrow at once; a smaller one (a small file) through re
_MAX_COUNTRY_CODE_DIGITS = 3
_MIN_NATIONAL_DIGITS = 2  # phonenumbers refuses shorter national numbers outright
_MAX_NATIONAL_DIGITS = 17  # ... and longer ones
# parse keeps the number as written when dropping the trunk prefix would leave one of these.
_KEEP_UNSTRIPPED = (
    phonenumbers.ValidationResult.TOO_SHORT,
    phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    phonenumbers.ValidationResult.INVALID_LENGTH,
)


def phone_problem(text: str) -> str | None:
    """Why a phone number (already trimmed) cannot be sent, or None."""
    if plainly_possible(text):
        return None
    return parsed_phone_problem(text)


def phone_problems(texts: Sequence[str]) -> list[str | None]:
    """phone_problem for many numbers: their shape and digits in one vectorised pass."""
    problems: list[str | None] = []
    for start in range(0, len(texts), BATCH):  # batches bound the memory the vectorised pass takes
        batch = texts[start : start + BATCH]
        if len(batch) < BATCH:  # pyarrow's start-up (0.1 s) pays off only for many numbers
            problems.extend(phone_problem(text) for text in batch)
            continue
        plain, digits = _shapes(batch)
        problems.extend(
            None if is_plain and _possible_digits(number) else parsed_phone_problem(text)
            for text, is_plain, number in zip(batch, plain, digits)
        )
    return problems


def _shapes(batch: Sequence[str]) -> tuple[list[bool], list[str]]:
    """For each number: whether it is written plainly, and its digits (after + or 00)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    pool = pa.system_memory_pool()  # brief buffers: malloc gives them back, Arrow's own pool would keep them
    column = text_array(list(batch), pool)
    international = pc.replace_substring_regex(column, "^00", "+", max_replacements=1, memory_pool=pool)
    plain = pc.match_substring_regex(international, "^" + _PLAIN.pattern + "$", memory_pool=pool).to_pylist()
    digits = pc.replace_substring_regex(international, _NOT_DIGIT.pattern, "", memory_pool=pool).to_pylist()
    return plain, digits


def plainly_possible(text: str) -> bool:
    """True only when phonenumbers would parse the text and call the number possible; False
    means "ask phonenumbers", not "impossible"."""
    international = "+" + text[2:] if text.startswith("00") else text
    return bool(_PLAIN.fullmatch(international)) and _possible_digits(_NOT_DIGIT.sub("", international))


def _possible_digits(digits: str) -> bool:
    """The digits of a plainly written number (after its + or 00), split as phonenumbers would."""
    split = _country_code(digits[:_MAX_COUNTRY_CODE_DIGITS])
    if split is None:
        return False
    country_code, size = split
    national = digits[size:]
    if len(digits) <= 2 or len(national) < _MIN_NATIONAL_DIGITS:
        return False
    if _national_prefix(country_code) is not None and _national_prefix(country_code).match(national):
        national = _without_trunk_prefix(national, country_code)
    if not _MIN_NATIONAL_DIGITS <= len(national) <= _MAX_NATIONAL_DIGITS:
        return False
    return _possible_length(country_code, len(national))


def _without_trunk_prefix(national: str, country_code: int) -> str:
    """The national number after parse's own step that drops a trunk prefix (the 0 of
    "+44 (0)20"): phonenumbers' function, and parse's rule for keeping its result."""
    metadata = _metadata(country_code)
    _, stripped, _ = phonenumberutil._maybe_strip_national_prefix_carrier_code(national, metadata)
    if phonenumberutil._test_number_length(stripped, metadata) in _KEEP_UNSTRIPPED:
        return national
    return stripped


@lru_cache(maxsize=None)
def _country_code(head: str) -> tuple[int, int] | None:
    """(country code, its digits) at the start of `head`, as phonenumbers finds it."""
    if not head or head[0] == "0":
        return None
    for size in range(1, len(head) + 1):  # country codes are prefix-free
        if int(head[:size]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return int(head[:size]), size
    return None


@lru_cache(maxsize=None)
def _metadata(country_code: int):
    region = phonenumbers.region_code_for_country_code(country_code)
    return phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)


@lru_cache(maxsize=None)
def _national_prefix(country_code: int) -> re.Pattern | None:
    """The pattern phonenumbers strips as a national (trunk) prefix when parsing, if any."""
    metadata = _metadata(country_code)
    pattern = metadata.national_prefix_for_parsing if metadata is not None else None
    return re.compile(pattern) if pattern else None


@lru_cache(maxsize=None)
def _possible_length(country_code: int, length: int) -> bool:
    number = phonenumbers.PhoneNumber(country_code=country_code, national_number=int("1" * length))
    return phonenumbers.is_possible_number_with_reason(number) == phonenumbers.ValidationResult.IS_POSSIBLE


@lru_cache(maxsize=4096)  # a bulk file's rows are mostly distinct: a bigger cache only holds memory
def parsed_phone_problem(text: str) -> str | None:
    """The whole check, through phonenumbers: the reference the fast path must agree with."""
    if _SCIENTIFIC.match(text):
        return (
            f"'{text}' is a number a spreadsheet turned into scientific notation, so digits were lost; "
            "format the phone column as Text and type the full numbers again (with + and the country code)"
        )
    if not _PHONE_CHARS.match(text):
        return f"'{text}' is not a phone number: use digits, spaces, dashes, and + or 00 before the country code"
    if text.startswith("00"):
        international = "+" + text[2:]
    elif text.startswith("+"):
        international = text
    else:
        return f"'{text}' has no country code: start it with + or 00, for example +44 20 7946 0000"
    try:
        number = phonenumbers.parse(international, None)
    except phonenumbers.NumberParseException:
        return f"'{text}' is not a phone number with a known country code"
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
        region = phonenumbers.region_code_for_number(number) or f"+{number.country_code}"
        hint = {
            phonenumbers.ValidationResult.TOO_LONG: " (too many)",
            phonenumbers.ValidationResult.TOO_SHORT: " (too few)",
            phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: " (too few: area code missing?)",
        }.get(reason, "")
        return f"'{text}' has the wrong number of digits for {region}{hint}"
    return None
