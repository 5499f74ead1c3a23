"""Words and numbers as a person reads them: durations, times, progress lines, status labels."""

from __future__ import annotations

from datetime import UTC, datetime

from commbox_core.runs.runner import Progress


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """"1 row", "2 rows", "1,204 invitation links": the one place words agree with their number."""
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"


def format_duration(seconds: float | None) -> str:
    if seconds is None or seconds != seconds:
        return "–"
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def progress_text(progress: Progress) -> str:
    """One line for the progress bar: counts, rate and time left."""
    parts = [
        f"{progress.done:,} of {progress.total:,} rows",
        f"{progress.ok:,} ok",
        f"{progress.failed:,} failed",
    ]
    if progress.rate > 0:
        parts.append(f"{progress.rate:,.1f} rows/s")
    if progress.eta_s is not None:
        parts.append(f"about {format_duration(progress.eta_s)} left")
    if progress.throttled:
        parts.append(f"throttled {progress.throttled:,}×")
    return " · ".join(parts)


STATUS_LABELS = {
    "queued": "queued",
    "running": "running",
    "done": "done",
    "cancelled": "cancelled",
    "stopped": "stopped: API key refused",
    "unreachable": "stopped: CommBox unreachable",
    "failed": "failed",
}


PURPOSE_LABELS = {"run": "run", "retry": "retry of failed rows", "resend": "fixed rows resent",
                  "reissue": "re-issue of expired links"}


def iso_utc(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_time(moment: datetime) -> str:
    """UTC, spelled out: the server's clock is the only one every viewer shares."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# What each error code means in general and what to do: the help of the error tables' code column
# and the line under a single ticket's error, so that a row's own cause can stand alone in its cell.
ERROR_MEANINGS = {
    "invalid": "refused here before sending: fix the value the reason names",
    "bad_request": "CommBox refused the request as invalid: fix the value it names",
    "unauthorized": "CommBox refused the API key: check COMMBOX_API_KEY, then retry",
    "not_found": "no such brand or agent at CommBox, or the email or phone does not match the agent's record",
    "throttled": "CommBox kept answering 429 (too many requests) after every retry: retry later",
    "server_error": "CommBox had a server error after every retry: retry later",
    "network": "CommBox could not be reached after every retry: check the address and the network, then retry",
    "bad_response": "CommBox answered without a usable ticket: retry",
    "not_supported": "CommBox does not support this request for the tenant (501)",
    "not_attempted": "never sent (the run was cancelled or stopped): retry sends it",
    "in_doubt": "sent, or about to be, when the run's server stopped, with no answer recorded: resume sends it again",
}


def error_glossary() -> str:
    """Every error code and its meaning, one per line (a column's help)."""
    return "\n".join(f"- **{code}**: {meaning}" for code, meaning in ERROR_MEANINGS.items())
