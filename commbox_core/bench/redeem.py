"""Invitation clicks: redemptions per second through a `redeem` process with the sandbox at 50 ms
(each a GET of the page, then its POST, which claims, mints and answers 303), against bare ticket
requests with as many in flight, measured in the same run; and the wrong-token limit under a
flood from one address (a bounded loop on loopback)."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from commbox_core.bench.network import Sizes, payloads
from commbox_core.bench.report import Finding
from commbox_core.service.sandbox_process import SandboxProcess, child_environment
from commbox_core.fields import Kind
from commbox_core.invitations.app import CSRF_COOKIE, MAX_MISSES
from commbox_core.invitations.issue import new_invitation
from commbox_core.invitations.options import InvitationOptions
from commbox_core.storage.invitations import insert_invitations
from commbox_core.storage.store import JobStore
from commbox_core.tickets.request import RowDefaults, build_request

CLICKERS = 16
FLOOD = {"full": 2_000, "quick": 200}
_STARTED = re.compile(r"redeem app at (http://\S+?)/invite/")
_CSRF = re.compile(r"name=csrf value='([^']+)'")


def redemptions(sizes: Sizes) -> list[Finding]:
    count = max(40, sizes.latency_rows // 10)
    flood_size = FLOOD["full" if sizes.latency_rows >= 1000 else "quick"]
    with SandboxProcess(latency_ms=50) as sandbox, tempfile.TemporaryDirectory(prefix="commbox-redeem-") as folder:
        bare = _bare_requests(sandbox, count)
        store = JobStore(Path(folder) / "store.sqlite3")
        links = _invitations(store, count)
        store.close()
        with _RedeemProcess(sandbox, Path(folder) / "store.sqlite3") as url:
            before = sandbox.stats()["tickets_issued"]
            seconds, minted = _click_all([f"{url}/invite/{token}" for token in links])
            issued = sandbox.stats()["tickets_issued"] - before
            flood = _flood(url, flood_size)
    rate = count / seconds
    return [
        Finding("redeem", f"invitation clicks (GET, then POST: claim, mint, 303), {CLICKERS} at once, sandbox at "
                f"50 ms, over bare ticket requests with {CLICKERS} in flight", f"{rate / bare:.2f} of it",
                "figure only", minted == count == issued,
                f"{rate:.0f} redemptions/s ({count} in {seconds:.2f} s, {minted} answered 303); bare requests "
                f"{bare:.0f}/s; tickets minted by the clicks {issued}"),
        Finding("redeem", f"{flood_size} wrong tokens from one address, as fast as one client can send them",
                f"{flood[404]} looked up, {flood[429]} refused 429", f"{MAX_MISSES} looked up, the rest 429",
                flood[404] == MAX_MISSES and flood[429] == flood_size - MAX_MISSES,
                f"{flood['rate']:.0f} answers/s; the 429s never reach the store"),
    ]


def _bare_requests(sandbox: SandboxProcess, count: int) -> float:
    session_url = f"{sandbox.url}/auth/ticket"
    bodies = payloads("redeem-bare", count)

    def send(body):
        requests.post(session_url, json=body, headers={"Authorization": f"Bearer {sandbox.api_key}"}, timeout=30)

    started = time.perf_counter()
    with ThreadPoolExecutor(CLICKERS) as pool:
        list(pool.map(send, bodies))
    return count / (time.perf_counter() - started)


def _invitations(store: JobStore, count: int) -> list[str]:
    tokens, items = [], []
    for n in range(count):
        values = {"uniqueId": f"redeem-{n:05d}", "firstName": f"Person {n}"}
        request, _ = build_request(values, Kind.CUSTOMER, RowDefaults(brand="demo", channel_id="demo-channel"))
        token, item = new_invitation(request, InvitationOptions(), created_by="bench")
        tokens.append(token)
        items.append(item)
    insert_invitations(store, items)
    return tokens


def _click_all(links: list[str]) -> tuple[float, int]:
    def click(link: str) -> int:
        with requests.Session() as session:
            page = session.get(link, timeout=30)
            csrf = _CSRF.search(page.text).group(1)
            answer = session.post(link, data={"csrf": csrf}, cookies={CSRF_COOKIE: session.cookies[CSRF_COOKIE]},
                                  allow_redirects=False, timeout=30)
            return answer.status_code

    started = time.perf_counter()
    with ThreadPoolExecutor(CLICKERS) as pool:
        statuses = list(pool.map(click, links))
    return time.perf_counter() - started, statuses.count(303)


def _flood(url: str, size: int) -> dict:
    counts = {404: 0, 429: 0}
    started = time.perf_counter()
    with requests.Session() as session:
        for n in range(size):
            status = session.get(f"{url}/invite/{n:032d}", timeout=10).status_code
            counts[status] = counts.get(status, 0) + 1
    return counts | {"rate": size / (time.perf_counter() - started)}


class _RedeemProcess:
    def __init__(self, sandbox: SandboxProcess, db: Path):
        self._sandbox, self._db = sandbox, db
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> str:
        env = {name: value for name, value in child_environment().items() if not name.startswith("COMMBOX_")}
        env |= {"COMMBOX_API_URL": self._sandbox.url, "COMMBOX_API_KEY": self._sandbox.api_key,
                "COMMBOX_LOGIN_URL": f"{self._sandbox.url}/login", "COMMBOX_CHAT_URL": self._sandbox.url}
        self._process = subprocess.Popen([sys.executable, "-m", "commbox_core", "redeem", "--port", "0", "--db",
                                          str(self._db)], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                         text=True)
        found = _STARTED.search(self._process.stdout.readline())
        if not found:
            self.__exit__()
            raise RuntimeError("the redeem app did not start")
        return found.group(1)

    def __exit__(self, *exc) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(10)

