"""A run's link to the tenant board: while the run sends, a thread tells the board what its pacer
sends (and any cut it made) and gives the pacer what the other runs on the tenant said.

The pacer never waits for the store: the link reads and writes beside it, a few times a second.
A store that fails now and then costs only this run's view of the others for that moment.
"""

from __future__ import annotations

import threading

from commbox_core.api.pacing import Pacer
from commbox_core.storage.tenants import TenantBoard

SHARE_EVERY_S = 0.1  # how often a run tells the board and hears back (the others' lag)


class TenantLink:
    def __init__(self, board: TenantBoard, tenant: str, job_id: str, pacer: Pacer, *, every: float = SHARE_EVERY_S):
        self.board, self.tenant, self.job_id, self.pacer = board, tenant, job_id, pacer
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"tenant-{job_id}", daemon=True)

    def start(self) -> TenantLink:
        self._share()  # a run that starts beside others starts from their cut, not from a slow start
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        try:
            self.board.leave(self.tenant, self.job_id)
        except Exception:  # noqa: BLE001 - a store that is down: the others stop counting us after SENDER_TTL_S
            pass

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self._share()

    def _share(self) -> None:
        cut = self.pacer.take_cut()
        try:
            view = self.board.report(self.tenant, self.job_id, self.pacer.send_rate(), self.pacer.accept_rate(), cut)
        except Exception:  # noqa: BLE001 - the run goes on alone until the store answers again
            return
        self.pacer.share(view.others, view.others_rate, view.others_accepted, view.cut)
