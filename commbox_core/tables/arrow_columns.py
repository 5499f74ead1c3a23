"""Rows of text in, columns out: Python lists for a table that fits one chunk, compact Arrow
string columns beyond (100k rows stay small). pyarrow and pandas load only when needed: a small
upload's run starts without them (their start-up is 0.1 s and 0.4 s)."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from commbox_core.tables.cells import unneutralise

if TYPE_CHECKING:
    import pyarrow as pa

CHUNK_ROWS = 16_384  # rows held as Python strings before moving into compact Arrow arrays


def text_array(values: list[str], memory_pool: pa.MemoryPool | None = None) -> pa.Array:
    """Python strings as an Arrow large_string array. Through a StringBuilder rather than
    pa.array, which looks for pandas objects and so imports pandas."""
    import pyarrow as pa
    from pyarrow.lib import StringBuilder

    # The builder's copy lives briefly: malloc gives it back at once, Arrow's own pool would keep it.
    builder = StringBuilder(pa.system_memory_pool())
    builder.append_values(values)
    return builder.finish().cast(pa.large_string(), memory_pool=memory_pool)


class ColumnBuilder:
    """Collects rows and keeps each column as Arrow chunks once the table outgrows one chunk."""

    def __init__(self, width: int) -> None:
        self._pending: list[list[str]] = []
        self._chunks: list[list[pa.Array]] = [[] for _ in range(width)]

    def add(self, row: list[str]) -> None:
        self._pending.append(row)
        if len(self._pending) >= CHUNK_ROWS:
            self._flush()

    def _columns(self) -> list[list[str]]:
        """The pending rows as columns, our export's formula guard undone."""
        cells = list(itertools.chain.from_iterable(self._pending))
        width = len(self._chunks)
        columns = [cells[j::width] for j in range(width)]  # strided slices: much faster than zip(*rows)
        return [[unneutralise(v) for v in column] if any(v[:1] == "'" for v in column) else column
                for column in columns]

    def _flush(self) -> None:
        if not self._pending:
            return
        for chunks, column in zip(self._chunks, self._columns()):
            chunks.append(text_array(column))
        self._pending = []

    def arrays(self) -> list:
        """Each column: a list of str when the table fits one chunk, else a pa.ChunkedArray."""
        if not self._chunks or not self._chunks[0]:
            return self._columns()
        import pyarrow as pa

        self._flush()
        return [pa.chunked_array(chunks, type=pa.large_string()) for chunks in self._chunks]


def text_cells(text, start: int, stop: int) -> list[str]:
    """Python strings from position start to stop of a column made by ColumnBuilder."""
    if isinstance(text, list):
        return text[start:stop]
    return text.slice(start, max(0, stop - start)).to_pylist()


def text_frame(columns: list[str], texts: list):
    """A DataFrame of the columns (Arrow ones without copying): pandas 3's default "str" dtype,
    index = row number from 1."""
    import numpy as np
    import pandas as pd

    dtype = pd.StringDtype("pyarrow", na_value=np.nan)
    rows = len(texts[0]) if texts else 0
    data = {name: pd.array(text, dtype=dtype) if isinstance(text, list) else pd.arrays.ArrowStringArray(text, dtype=dtype)
            for name, text in zip(columns, texts)}
    return pd.DataFrame(data, index=pd.RangeIndex(1, rows + 1))
