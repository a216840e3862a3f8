"""Identifiers: UUIDv7 (time-ordered, as 0.58 uses for conversations) on Python versions without it."""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def uuid7() -> uuid.UUID:
    """A UUIDv7: 48-bit Unix milliseconds, then random bits; monotonic within one process."""
    global _last_ms, _counter
    with _lock:
        now = time.time_ns() // 1_000_000
        if now <= _last_ms:
            _counter += 1
            now = _last_ms
        else:
            _counter = int.from_bytes(os.urandom(2), "big") & 0x3FF
        _last_ms = now
        counter = _counter & 0xFFF
    tail = int.from_bytes(os.urandom(8), "big") & 0x3FFF_FFFF_FFFF_FFFF
    value = (now << 80) | (0x7 << 76) | (counter << 64) | (0b10 << 62) | tail
    return uuid.UUID(int=value)


def uuid7_string() -> str:
    return str(uuid7())
