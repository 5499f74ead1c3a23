"""A whole run in one call, for notebooks and scripts: a DataFrame or a CSV path in, result
DataFrames out, with a progress bar (tqdm.auto: a widget in Jupyter, a text bar in a terminal)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from commbox_core.errors import ConsoleError
from commbox_core.fields import Kind
from commbox_core.outputs.files import errors_frame, success_frame, write_outputs
from commbox_core.runs.results import RunReport
from commbox_core.tables.read import InputTable, table_from_frame
from commbox_core.tickets.plan import RunPlan
from commbox_core.tickets.request import RowDefaults

if TYPE_CHECKING:
    import pandas as pd

POLL_S = 0.2


@dataclass
class RunResult:
    """What a run gave: `success` and `errors` as the CSV files hold them (one line per input row
    between them, by original row number), and the summary. `success.url` holds live links:
    credentials, to be shared only with the person each is for."""

    job_id: str
    table: InputTable = field(repr=False)
    report: RunReport = field(repr=False)

    @property
    def success(self) -> pd.DataFrame:
        return success_frame(self.table, self.report)

    @property
    def errors(self) -> pd.DataFrame:
        return errors_frame(self.table, self.report)

    @property
    def summary(self) -> dict:
        return self.report.summary()

    def write(self, out: Path | str) -> dict[str, Path]:
        """success.csv, errors.csv, results.xlsx and summary.json in the folder `out`."""
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        return write_outputs(folder, self.table, self.report)

    def __repr__(self) -> str:
        s = self.summary
        return f"RunResult(job_id={self.job_id!r}, rows={s['rows']}, succeeded={s['succeeded']}, failed={s['failed']})"


def issue(console, source: pd.DataFrame | str | Path, kind: Kind | str, *, brand: str | None = None,
          channel: str | None = None, one_time_use: bool = False, override_user_info: bool = False,
          progress: bool = True, invitations=None) -> RunResult:
    """Issue a ticket for every row of `source` (a DataFrame, or the path of a CSV file) and wait.
    With `invitations` (an InvitationOptions), each row gets an invitation link instead."""
    import pandas as pd

    kind = Kind(kind)
    if isinstance(source, pd.DataFrame):
        table = table_from_frame(source, max_rows=console.settings.max_rows)
        upload_hash = ""
    else:
        upload = console.read_file(Path(source))
        table, upload_hash = upload.table, upload.sha256
    defaults = RowDefaults(brand=brand or console.settings.brand, channel_id=channel or console.settings.channel_id,
                           one_time_use=one_time_use, override_user_info=override_user_info)
    plan = RunPlan(console.match_columns(table, kind).mapping, defaults)
    prepared = console.prepare(table, kind, plan)
    job = console.start_run(table, prepared, kind, plan, source_sha256=upload_hash, invitations=invitations)
    _wait(job, progress)
    if job.report is None:
        raise ConsoleError(job.error or "the run stopped unexpectedly")
    return RunResult(job.id, job.table, job.report)


def _wait(job, progress: bool) -> None:
    """Until the run ends (Ctrl-C, or a notebook's interrupt, cancels it), with a bar if wanted."""
    if not progress:
        job.follow(lambda _: None, every=POLL_S)
        return
    from tqdm.auto import tqdm

    with tqdm(total=len(job.prepared), unit="row", desc=f"run {job.id}") as bar:
        job.follow(lambda p: bar.update(p.done - bar.n), every=POLL_S)


__all__ = ["RunResult", "issue"]
