"""A server that is not CommBox at all: raw sockets on 127.0.0.1 answering with garbage, endless
bodies, endless headers, a trickle, a proxy's HTML page, a redirect elsewhere, a gzip bomb.

Every case ends with the right error code, in bounded time and memory, without an exception.
"""

from __future__ import annotations

import functools
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable

import pytest

from commbox_core.api.answers import MAX_BODY_BYTES
from commbox_core.api.client import CommBoxClient, RetryPolicy
from commbox_core.fields import Kind
from commbox_core.tickets.request import TicketRequest
from commbox_core.vocabulary import ErrorCode

from ..support import ROOT_DIR

KEY = "HOSTILE-CANARY-KEY-7d3a"
REQUEST = TicketRequest(kind=Kind.AGENT, brand="demo", username="john.d")
# Generous: what matters is that memory does not grow with what the server sends (hundreds of MB).
MEMORY_BOUND = 16 * 1024 * 1024
HANG_BOUND_S = 60  # a hang check, not a timing: every case is expected to end within seconds


class RawServer:
    """Accepts connections on a loopback port; `behave(conn, request_bytes)` answers each one."""

    def __init__(self, behave: Callable[[socket.socket, bytes], None]):
        self.behave = behave
        self.requests: list[bytes] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> RawServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        with conn:
            try:
                request = _read_request(conn)
                self.requests.append(request)
                self.behave(conn, request)
            except OSError:
                pass  # the client hung up: what it should do with most of these servers

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def _forever(conn: socket.socket, piece: bytes, pause: float = 0.0, until: threading.Event | None = None) -> None:
    deadline = time.monotonic() + HANG_BOUND_S
    while time.monotonic() < deadline:
        conn.sendall(piece)
        if pause:
            time.sleep(pause)


def garbage(conn, _):
    conn.sendall(b"\x00\xff\xfe not http at all \x1b[31m\r\n\r\n")


def endless_body(conn, _):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
    _forever(conn, b'{"data": "' + b"A" * 65536)


def endless_chunked_body(conn, _):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    _forever(conn, b"10000\r\n" + b"B" * 0x10000 + b"\r\n")


def endless_headers(conn, _):
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    _forever(conn, b"X-Filler: " + b"y" * 100 + b"\r\n")


def endless_header_line(conn, _):
    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Long: ")
    _forever(conn, b"z" * 65536)


def header_trickle(conn, _):
    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    _forever(conn, b"s", pause=0.05)  # one header line, a byte at a time: each read well within the timeout


def status_trickle(conn, _):
    _forever(conn, b"H", pause=0.05)


def trickle(conn, _):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n")
    _forever(conn, b" ", pause=0.05)  # each byte well within the read timeout, the whole far beyond


def html_error_page(conn, _):
    page = b"<html><body><h1>502 Bad Gateway</h1><script>alert(1)</script></body></html>"
    conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n%s"
                 % (len(page), page))


@functools.cache
def _bomb() -> bytes:
    """200 MB of zeros as gzip, about 200 KB: made once, block by block, before memory is traced."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip framing
    block = b"0" * (1024 * 1024)
    return b"".join(packer.compress(block) for _ in range(200)) + packer.flush()


def gzip_bomb(conn, _):
    body = _bomb()
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(body) + body)


def broken_gzip(conn, _):
    body = b"\x1f\x8b\x08\x00garbage-after-the-gzip-magic"
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


def cut_short(conn, _):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{\"data\":")


def hang_up(conn, _):
    pass  # accept, read the request, close without a word


def huge_json_description(conn, _):
    body = b'{"status": 400, "description": "' + b"<b>x</b>" * 50_000 + b'"}'
    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                 % len(body) + body)


CASES = [
    (garbage, ErrorCode.BAD_RESPONSE, "not HTTP"),
    (endless_body, ErrorCode.BAD_RESPONSE, "larger than"),
    (endless_chunked_body, ErrorCode.BAD_RESPONSE, "larger than"),
    (endless_headers, ErrorCode.BAD_RESPONSE, "not HTTP"),
    (endless_header_line, ErrorCode.BAD_RESPONSE, "not HTTP"),
    (trickle, ErrorCode.NETWORK, "too slowly"),
    (header_trickle, ErrorCode.NETWORK, "too slowly"),
    (status_trickle, ErrorCode.NETWORK, "too slowly"),
    (html_error_page, ErrorCode.SERVER_ERROR, "error page, not JSON"),
    (gzip_bomb, ErrorCode.BAD_RESPONSE, "larger than"),
    (broken_gzip, ErrorCode.BAD_RESPONSE, "compression"),
    (cut_short, ErrorCode.NETWORK, "connection broke"),
    (hang_up, ErrorCode.NETWORK, "connection failed"),
    (huge_json_description, ErrorCode.BAD_REQUEST, "refused the request"),
]


def client_for(url: str) -> CommBoxClient:
    return CommBoxClient(url, KEY, connect_timeout=2, read_timeout=1,
                         retry=RetryPolicy(max_retries=1, backoff_base=0.01, backoff_max=0.02))


def run_bounded(client: CommBoxClient):
    """create_ticket in a thread, with a hang check; returns (outcome, peak traced bytes)."""
    found = {}

    def call():
        tracemalloc.start()
        try:
            found["outcome"] = client.create_ticket(REQUEST)
        except BaseException as exc:  # noqa: BLE001: reported below, with the case
            found["error"] = exc
        finally:
            found["peak"] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    worker.join(HANG_BOUND_S)
    assert not worker.is_alive(), "create_ticket hung"
    assert "error" not in found, repr(found.get("error"))
    return found["outcome"], found["peak"]


@pytest.mark.parametrize(("behave", "code", "says"), CASES, ids=[case[0].__name__ for case in CASES])
def test_a_hostile_server_ends_with_the_right_error(behave, code, says):
    _bomb()
    with RawServer(behave) as server:
        client = client_for(server.url)
        outcome, peak = run_bounded(client)
        client.close()
    assert not outcome.ok and outcome.error_code is code, outcome
    assert says in outcome.message, outcome.message
    assert KEY not in outcome.message
    assert len(outcome.message) <= 300
    assert peak < MEMORY_BOUND, f"{behave.__name__}: peak {peak / 1e6:.1f} MB"
    retried = code in (ErrorCode.NETWORK, ErrorCode.SERVER_ERROR)
    assert outcome.attempts == (2 if retried else 1)


def test_a_redirect_is_not_followed_so_the_key_goes_nowhere_else():
    with RawServer(lambda conn, _: conn.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")) as elsewhere:
        for status in (301, 302, 303, 307, 308):
            def redirect(conn, _, status=status):
                conn.sendall(b"HTTP/1.1 %d Moved\r\nLocation: %s/auth/ticket\r\nContent-Length: 0\r\n\r\n"
                             % (status, elsewhere.url.replace("127.0.0.1", "localhost").encode()))

            with RawServer(redirect) as server:
                outcome, _ = run_bounded(client_for(server.url))
            assert outcome.error_code is ErrorCode.BAD_RESPONSE and outcome.http_status == status
            assert "not followed" in outcome.message and "localhost" in outcome.message
        assert elsewhere.requests == []


def test_a_redirect_to_the_same_host_over_plain_http_is_not_followed_either():
    """requests keeps the Authorization header for the same host: only not following helps."""
    def redirect_to_self(conn, request):
        if b" /auth/ticket " in request.split(b"\r\n", 1)[0]:
            conn.sendall(b"HTTP/1.1 307 Moved\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n")
        else:
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")

    with RawServer(redirect_to_self) as server:
        outcome, _ = run_bounded(client_for(server.url))
    assert outcome.error_code is ErrorCode.BAD_RESPONSE
    assert len(server.requests) == 1


def test_the_bound_leaves_room_for_any_real_answer():
    assert MAX_BODY_BYTES >= 64 * 1024


# -- the same servers behind the CLI and the dashboard ------------------------------------------

EXAMPLES = ROOT_DIR / "examples"
THROUGH_THE_APPS = [endless_body, garbage, html_error_page, gzip_bomb]


@pytest.fixture
def hostile_env(clean_env, tmp_path):
    monkeypatch = clean_env

    def point_at(server: RawServer) -> dict[str, str]:
        env = {"COMMBOX_API_URL": server.url, "COMMBOX_API_KEY": KEY, "COMMBOX_BRAND": "demo",
               "COMMBOX_READ_TIMEOUT": "1", "COMMBOX_MAX_RETRIES": "1", "COMMBOX_BACKOFF_BASE": "0.01",
               "COMMBOX_BACKOFF_MAX": "0.02", "COMMBOX_ALLOW_OPEN_DASHBOARD": "true",
               "COMMBOX_DATA_DIR": str(tmp_path / "data")}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return env

    return point_at


@pytest.mark.parametrize("behave", THROUGH_THE_APPS, ids=[b.__name__ for b in THROUGH_THE_APPS])
def test_the_cli_reports_a_hostile_server_row_by_row(behave, hostile_env, tmp_path, capsys):
    import csv

    from commbox_core.cli import main

    _bomb()
    with RawServer(behave) as server:
        hostile_env(server)
        code = main(["bulk", str(EXAMPLES / "agents.csv"), "--kind", "agent", "--out", str(tmp_path / "out"),
                     "--quiet", "--concurrency", "4"])
        single = main(["ticket", "--kind", "agent", "--username", "john.d"])
    err = capsys.readouterr().err
    assert code == 1 and single == 1
    assert "Traceback" not in err and KEY not in err
    with (tmp_path / "out" / "errors.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 10  # every row of the file, none lost
    assert {row["error_code"] for row in rows} <= {"bad_response", "server_error", "invalid"}


@pytest.mark.parametrize("behave", THROUGH_THE_APPS, ids=[b.__name__ for b in THROUGH_THE_APPS])
def test_the_dashboard_reports_a_hostile_server(behave, hostile_env):
    from streamlit.testing.v1 import AppTest

    from ..dashboard.helpers import APP, everything_shown, plain

    _bomb()
    with RawServer(behave) as server:
        hostile_env(server)
        app = AppTest.from_file(APP, default_timeout=HANG_BOUND_S).run()
        app.button(key="check_connection").click().run()
        assert not app.exception, [e.value for e in app.exception]
        app.switch_page("app_pages/single_ticket.py").run()
        app.text_input(key="single_agent_username").set_value("john.d")
        next(b for b in app.button if b.label == "Issue ticket").click().run()
        assert not app.exception, [e.value for e in app.exception]
    shown = plain(everything_shown(app))
    assert any(code in shown for code in ("bad_response", "server error", "without a usable ticket", "error page"))
    assert KEY not in shown
