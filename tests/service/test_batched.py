"""Results cross to another process in batches, all of them, in order, and a gone peer is told."""

from __future__ import annotations

import pytest

from commbox_core.service.batched import BatchedSender

from ..support import wait_until


def test_every_item_arrives_once_in_order_in_few_batches():
    batches = []
    sender = BatchedSender(batches.append, "test-sender", every=0.05).start()
    for item in range(1_000):
        sender.add(item)
        if item % 250 == 249:  # a tick delivers what has come so far before more comes
            wait_until(lambda: sum(map(len, batches)) == item + 1, timeout=10)
    sender.stop()
    assert [item for batch in batches for item in batch] == list(range(1_000))
    assert 4 <= len([batch for batch in batches if batch]) <= 50  # not one send per item


def test_a_gone_connection_is_raised_at_stop_and_ends_the_loop():
    failed = []

    def deliver(batch):
        if batch:
            failed.append(batch)
            raise OSError("peer gone")

    sender = BatchedSender(deliver, "test-sender", every=0.01).start()
    sender.add("a result")
    wait_until(lambda: failed, timeout=10)  # the loop met the error
    sender.add("another")
    with pytest.raises(OSError):
        sender.stop()
    assert failed == [["a result"], ["another"]]  # the loop ended: the last one came through stop()
