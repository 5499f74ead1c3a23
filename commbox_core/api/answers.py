"""One answer of CommBox classified: success with its token, or an ErrorCode with what went wrong.

Bodies are read with a size bound and a deadline of their own; `status` may be a string or a
number; the token key really is spelled `encpryptedString`.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests
import urllib3.exceptions

from commbox_core.vocabulary import ErrorCode

# A ticket answer is a few hundred bytes; a bigger one is refused before it can fill memory.
MAX_BODY_BYTES = 1024 * 1024


_READ_CHUNK = 64 * 1024


_STATUS_CODES = {
    400: ErrorCode.BAD_REQUEST,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.UNAUTHORIZED,
    404: ErrorCode.NOT_FOUND,
    429: ErrorCode.THROTTLED,
    501: ErrorCode.NOT_SUPPORTED,
}


@dataclass(slots=True)
class Answer:
    """One attempt's classification."""

    code: ErrorCode | None
    message: str = ""
    status: int | None = None
    token: str | None = field(default=None, repr=False)
    retry_after: float | None = None


def read_bounded(response: requests.Response, *, deadline: float) -> Answer | None:
    """Read the body into response (for .json()), at most MAX_BODY_BYTES and until `deadline`.

    The read timeout bounds each read only: a server trickling a byte at a time would never
    trip it, so the whole body has a deadline too. Counted after decompression, so a
    compressed bomb is stopped as well.
    """
    chunks, size = [], 0
    try:
        while True:
            if time.monotonic() > deadline:
                return Answer(ErrorCode.NETWORK, "timed out: CommBox's answer came too slowly", response.status_code)
            chunk = response.raw.read1(_READ_CHUNK, decode_content=True)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                return Answer(
                    ErrorCode.BAD_RESPONSE,
                    f"the answer was larger than {MAX_BODY_BYTES / 1024 / 1024:g} MB, so it was not read",
                    response.status_code,
                )
            chunks.append(chunk)
    except (urllib3.exceptions.ReadTimeoutError, requests.Timeout, TimeoutError):
        return Answer(ErrorCode.NETWORK, "timed out waiting for CommBox", response.status_code)
    except urllib3.exceptions.DecodeError:
        return Answer(ErrorCode.BAD_RESPONSE, "the answer's compression was broken", response.status_code)
    except (urllib3.exceptions.HTTPError, requests.RequestException, http.client.HTTPException, OSError) as exc:
        return Answer(ErrorCode.NETWORK, f"the connection broke during the answer ({type(exc).__name__})",
                       response.status_code)
    response._content = b"".join(chunks)  # what requests' .content/.json() read from
    return None


def not_http(exc: BaseException) -> bool:
    """True when the server answered with something that is not an HTTP response at all
    (garbage, a header section that never ends); a connection closed without an answer is not."""
    seen: set[int] = set()
    pending: list[object] = [exc]
    while pending:
        current = pending.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, http.client.RemoteDisconnected):
            return False
        if isinstance(current, http.client.HTTPException):
            return True
        pending.extend(current.args)
        pending.extend([current.__cause__, current.__context__])
    return False


def classify(response: requests.Response) -> Answer:
    """Map one HTTP response to success (code None, with token) or an ErrorCode."""
    status = response.status_code
    body = _json_or_none(response)
    description = _description(body)
    if status == 200:
        if body is None:
            return Answer(ErrorCode.BAD_RESPONSE, "the answer was not JSON", status)
        inner = _body_status(body)
        if inner is not None and inner != 200:
            # A 200 whose body carries an error status: trust the body.
            return Answer(_code_for(inner), description, inner, retry_after=_retry_after(response))
        data = body.get("data") if isinstance(body.get("data"), dict) else {}
        # The vendor really spells it "encpryptedString"; accept the correct spelling too.
        token = data.get("encpryptedString") or data.get("encryptedString")
        if not isinstance(token, str) or not token.strip():
            return Answer(ErrorCode.BAD_RESPONSE, "the answer had no encpryptedString", status)
        return Answer(None, status=status, token=token.strip())
    if 200 < status < 300:
        return Answer(ErrorCode.BAD_RESPONSE, f"unexpected success status {status}", status)
    if 300 <= status < 400:
        return Answer(ErrorCode.BAD_RESPONSE, _redirect_note(response), status)
    if body is None and status >= 500:
        description = "the answer was an error page, not JSON (a proxy or gateway?)"
    return Answer(_code_for(status), description, status, retry_after=_retry_after(response))


def _redirect_note(response: requests.Response) -> str:
    target = urlsplit(response.headers.get("Location", "")[:500])
    where = f" to {target.scheme}://{target.hostname}"[:120] if target.scheme and target.hostname else ""
    return f"a redirect{where}, not followed so that the key goes nowhere else: check COMMBOX_API_URL"


def _code_for(status: int) -> ErrorCode:
    if status in _STATUS_CODES:
        return _STATUS_CODES[status]
    if status >= 500:
        return ErrorCode.SERVER_ERROR
    return ErrorCode.BAD_REQUEST


def _json_or_none(response: requests.Response) -> dict | None:
    try:
        body = response.json()
    except (ValueError, json.JSONDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _body_status(body: dict) -> int | None:
    """`status` comes as "200" in one vendor example and 200 in others: accept both."""
    value = body.get("status")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _description(body: dict | None) -> str:
    if not body:
        return ""
    text = body.get("description") or body.get("message") or ""
    return " ".join(str(text).split())[:200]


def _retry_after(response: requests.Response) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
