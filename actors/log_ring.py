"""The server's recent log lines, kept in memory for `feedback/upload` (never written anywhere else)."""

from __future__ import annotations

import logging
import threading
from collections import deque

CAPACITY = 2000


class LogRing(logging.Handler):
    """A bounded in-memory log handler; formatting happens only when a bundle asks for the lines."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        super().__init__(level=logging.INFO)
        self._records: deque[logging.LogRecord] = deque(maxlen=capacity)
        self._guard = threading.Lock()
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        with self._guard:
            self._records.append(record)

    def lines(self) -> list[str]:
        with self._guard:
            records = list(self._records)
        out = []
        for record in records:
            try:
                out.append(self.format(record))
            except Exception:  # noqa: BLE001 - one bad record must not lose the others
                out.append(f"{record.levelname} {record.name}: <unformattable message>")
        return out


RING = LogRing()
