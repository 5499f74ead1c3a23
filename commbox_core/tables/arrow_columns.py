"""Rows of text in, compact Arrow string columns out (100k rows stay small)."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from commbox_core.tables.cells import unneutralise

CHUNK_ROWS = 16_384  # rows held as Python strings before moving into compact Arrow arrays
TEXT = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas 3's default "str" dtype
_BRIEF = pa.system_memory_pool()  # for a chunk's flat array, freed at once: malloc gives it back, Arrow's pool keeps it


class ColumnBuilder:
    """Collects rows and keeps each column as Arrow chunks, so 100k rows stay compact."""

    def __init__(self, width: int) -> None:
        self._pending: list[list[str]] = []
        self._chunks: list[list[pa.Array]] = [[] for _ in range(width)]

    def add(self, row: list[str]) -> None:
        self._pending.append(row)
        if len(self._pending) >= CHUNK_ROWS:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        # One conversion of all cells, then a strided take per column: much faster than zip(*rows).
        cells = list(itertools.chain.from_iterable(self._pending))
        flat = pa.array(cells, type=pa.large_string(), memory_pool=_BRIEF)
        quoted = pc.starts_with(flat, "'")
        if pc.any(quoted).as_py():  # rare: undo our export's formula neutralisation
            for i in pc.indices_nonzero(quoted).to_pylist():
                cells[i] = unneutralise(cells[i])
            flat = pa.array(cells, type=pa.large_string(), memory_pool=_BRIEF)
        width = len(self._chunks)
        for j, chunks in enumerate(self._chunks):
            chunks.append(flat.take(np.arange(j, len(cells), width)))
        self._pending = []

    def arrays(self) -> list[pd.api.extensions.ExtensionArray]:
        self._flush()
        return [
            pd.arrays.ArrowStringArray(pa.chunked_array(chunks, type=pa.large_string()), dtype=TEXT)
            for chunks in self._chunks
        ]
