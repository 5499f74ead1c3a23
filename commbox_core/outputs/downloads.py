"""The downloads of a finished run, each built on first use and then kept.

For 100k rows success.csv takes about a second and results.xlsx about 18 s (xlsxwriter's own
speed), so each file is built on its own: a page that offers the CSV never waits for the workbook,
and no rerun of a page builds a file twice. Thread-safe: two browser tabs asking for the same file
at once wait for one build.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable

from commbox_core.outputs.files import errors_frame, success_frame, summary_json, to_csv_bytes, to_xlsx_bytes

FILES = ("success.csv", "errors.csv", "results.xlsx", "summary.json")


class JobOutputs:
    def __init__(self, table, report, *, workbook=None, summary: dict | None = None):
        self._table = table  # csv_io.InputTable
        self._report = report  # results.RunReport
        self._workbook = workbook  # a WorkbookStream that wrote results.xlsx while the run went on
        self._summary = summary  # summary.json's content, when not the report's own summary
        self._built: dict[str, bytes] = {}
        self._locks = {name: threading.Lock() for name in FILES}

    @property
    def success_csv(self) -> bytes:
        return self.file("success.csv")

    @property
    def errors_csv(self) -> bytes:
        return self.file("errors.csv")

    @property
    def xlsx(self) -> bytes:
        return self.file("results.xlsx")

    @property
    def summary_json(self) -> bytes:
        return self.file("summary.json")

    def file(self, name: str) -> bytes:
        """The file's bytes, built now if no one has asked for them before."""
        built = self._built.get(name)
        if built is None:
            with self._locks[name]:
                built = self._built.get(name)
                if built is None:
                    built = self._built[name] = self._build(name)
        return built

    def later(self, name: str) -> Callable[[], bytes]:
        """The file as a callable, for st.download_button's deferred data: built on the click."""
        if name not in FILES:
            raise KeyError(name)
        return functools.partial(self.file, name)

    def built(self, name: str) -> bool:
        return name in self._built

    def build_soon(self, name: str) -> None:
        """Start building the file in a background thread, so that a click later finds it ready
        (or waits only for the rest of this build)."""
        if name not in self._built:
            threading.Thread(target=self.file, args=(name,), name=f"build-{name}", daemon=True).start()

    def _build(self, name: str) -> bytes:
        table, report = self._table, self._report
        if name == "success.csv":
            return to_csv_bytes(success_frame(table, report))
        if name == "errors.csv":
            return to_csv_bytes(errors_frame(table, report))
        if name == "results.xlsx":
            streamed = self._workbook.finish(report.results) if self._workbook is not None else None
            if streamed is not None:  # written while the run went on: only the last rows and the zip were left
                return streamed
            return to_xlsx_bytes(success_frame(table, report), errors_frame(table, report))
        if name == "summary.json":
            return summary_json(report, self._summary)
        raise KeyError(name)
