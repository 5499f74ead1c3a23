"""Headers to fields: a file of the other kind is named as such, with what to do."""

from __future__ import annotations

import pytest

from commbox_core.errors import InputFileError
from commbox_core.fields import Kind
from commbox_core.tables.columns import check_columns, match_columns


def test_customer_columns_under_agents_say_switch_to_customers():
    columns = ["Customer ID", "E-mail", "Mobile"]
    with pytest.raises(InputFileError, match=r"These look like customer columns .+: switch to Customers") as caught:
        check_columns(match_columns(columns, Kind.AGENT), Kind.AGENT, default_brand="demo")
    assert str(caught.value).index("switch to Customers") < str(caught.value).index("For agents: ")


def test_a_file_of_neither_kind_still_lists_what_is_accepted():
    columns = ["Colour", "Size"]
    with pytest.raises(InputFileError, match="None of the columns in this file is recognised for agent tickets"):
        check_columns(match_columns(columns, Kind.AGENT), Kind.AGENT, default_brand="demo")


def test_hebrew_names_in_the_accepted_list_are_isolated_so_the_list_reads_in_order():
    with pytest.raises(InputFileError) as caught:
        check_columns(match_columns(["brand", "email"], Kind.AGENT), Kind.AGENT, default_brand=None)
    message = str(caught.value)
    assert "\u2068שם משתמש\u2069" in message  # its own unit in a left-to-right list
    assert "\u2068username" not in message and "\u2068" not in message.split("or:")[0]  # English names untouched
