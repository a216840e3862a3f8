"""Stand-ins for the outgoing actor in actor-level tests: they keep every message they are told."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import pykka


class ConditionRecorder(pykka.ThreadingActor):
    """Appends each message to `log` and wakes tests waiting on `cond`."""

    def __init__(self, log: list[Any], cond: threading.Condition) -> None:
        super().__init__()
        self.log = log
        self.cond = cond

    def on_receive(self, message: Any) -> Any:
        with self.cond:
            self.log.append(message)
            self.cond.notify_all()
        return None


class QueueRecorder(pykka.ThreadingActor):
    """Puts each message on a queue the test reads."""

    def __init__(self, inbox: queue.Queue[Any]) -> None:
        super().__init__()
        self.inbox = inbox

    def on_receive(self, message: Any) -> Any:
        self.inbox.put(message)
        return None


def wait_logged(
    cond: threading.Condition,
    log: Sequence[Any],
    predicate: Callable[[Any], bool],
    what: str,
    timeout: float,
    after: int = 0,
) -> Any:
    """The first message of `log[after:]` that `predicate` accepts, waiting on `cond` (a
    ConditionRecorder's) for up to `timeout` seconds; AssertionError naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    with cond:
        while True:
            for message in log[after:]:
                if predicate(message):
                    return message
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {what}")
            cond.wait(left)
