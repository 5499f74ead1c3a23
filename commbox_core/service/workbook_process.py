"""results.xlsx written in a helper process for a run's process (service/run_child.py).

xlsxwriter is pure Python: writing each row's cells took a fifth of the run's interpreter, which
sending the requests needs whole (a run is bound by its GIL). So the run's process hands every
result over a socket pair, in batches ten times a second (service/batched.py), to `python -m
commbox_core.service.workbook_process FD`, which writes them with the same WorkbookStream a
thread would use. The helper holds links in memory only, as the run's process does, and ends
when the run's process does.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection

from commbox_core.runs.results import RowResult
from commbox_core.service.batched import BatchedSender
from commbox_core.service.sandbox_process import BACKGROUND_NICENESS, start_with_socket


class WorkbookProcess:
    """A WorkbookStream's face (add, finish) over one in a helper process."""

    def __init__(self, headers: list[str], values: dict[int, list[str]], rows: list[int]):
        self._connection, self._process = start_with_socket("commbox_core.service.workbook_process")
        self._connection.send((headers, values, rows))
        self._given: set[int] = set()
        self._sender = BatchedSender(self._deliver, "results-xlsx-sender").start()
        self.add = self._sender.add

    def finish(self, results: Sequence[RowResult]) -> bytes | None:
        """The workbook of these final results (every row of the run); None if the helper failed
        (the run's outputs then build it from the results, as for a run without a stream)."""
        try:
            self._sender.stop()
            with self._sender.lock:
                self._connection.send(("finish", [r for r in results if r.row not in self._given]))
            return self._connection.recv()
        except (EOFError, OSError):
            return None
        finally:
            self._connection.close()
            self._process.wait()

    def _deliver(self, batch: list[RowResult]) -> None:
        if batch:
            self._given.update(result.row for result in batch)
            self._connection.send(("rows", batch))


def main(fd: int) -> int:
    # As the run's process: the server's pages come first while rows land (at the normal priority,
    # History loaded during a run took 1.42-1.49x its idle time, against 1.00-1.23x). But the zip
    # at the end is what a person waits for: Linux keeps a nice value per thread, and a thread
    # takes its creator's, so the zip runs in a thread made before this one goes below the pages.
    finisher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="results-xlsx-zip")
    finisher.submit(int).result()  # its thread exists from now on, at the normal priority
    os.nice(BACKGROUND_NICENESS)
    from commbox_core.outputs.lines import tail_cells
    from commbox_core.outputs.workbook import WorkbookStream

    connection = Connection(fd)
    try:
        headers, values, rows = connection.recv()
        stream = WorkbookStream(headers, values, rows, tail_cells)
        while (message := connection.recv())[0] == "rows":
            for result in message[1]:
                stream.add(result)
        connection.send(finisher.submit(stream.finish, message[1]).result())
    except (EOFError, OSError):  # the run's process is gone: nobody wants the workbook
        return 0
    except Exception as exc:  # noqa: BLE001 - never a traceback: it could quote a cell, even a link
        print(f"results.xlsx could not be written: {type(exc).__name__}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
