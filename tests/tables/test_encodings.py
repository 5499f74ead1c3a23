"""Files in an encoding that cannot be told apart without guessing are refused with the fix,
never read as silent gibberish; Western European and Hebrew Windows files still read."""

import pytest

from commbox_core.errors import InputFileError
from commbox_core.tables.read import read_table

HEADER = "brand,uniqueId,firstName\n"


@pytest.mark.parametrize(
    ("codec", "names"),
    [
        ("shift_jis", ["山田太郎", "佐藤花子"]),
        ("gbk", ["李伟", "王芳"]),
        ("big5", ["陳大文", "林美玲"]),
        ("cp1251", ["Иван Петров", "Ольга"]),
        ("cp1253", ["Γιώργος", "Ελένη"]),
        ("cp500", ["John", "Noa"]),  # EBCDIC: even its ASCII letters are high bytes
    ],
)
def test_undecidable_encodings_are_refused_with_the_fix(codec, names):
    data = (HEADER + "".join(f"demo,{n},{name}\n" for n, name in enumerate(names))).encode(codec)
    with pytest.raises(InputFileError) as refused:
        read_table(data, filename="people.csv")
    message = str(refused.value)
    assert "not UTF-8" in message and "CSV UTF-8" in message


@pytest.mark.parametrize(
    ("codec", "names"),
    [
        ("cp1252", ["José", "Müller", "Conceição", "Gonçalves", "Ærø", "Straße", "€uro"]),
        ("cp1255", ["דנה לוי", "נועה כהן", "אבי"]),
    ],
)
def test_windows_western_and_hebrew_files_read_exactly(codec, names):
    data = (HEADER + "".join(f"demo,{n},{name}\n" for n, name in enumerate(names))).encode(codec)
    table = read_table(data, filename="people.csv")
    assert table.encoding == codec
    assert table.frame["firstName"].tolist() == names


def test_a_long_unquoted_cell_is_not_blamed_on_a_quote():
    with pytest.raises(InputFileError) as refused:
        read_table(b"brand,username\ndemo," + b"x" * 200_000 + b"\n")
    assert "or a cell is far longer than any name" in str(refused.value)
