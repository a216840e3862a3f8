"""A small incremental Server-Sent Events parser fed with raw byte chunks.

Fed from `iter_content(chunk_size=None)` rather than `iter_lines()`, which holds the last line
back until the next chunk arrives and so delays the final event of a stream. Follows the
WHATWG event-stream rules that matter for model APIs: `event:`/`data:`/`id:` fields, one
optional space after the colon, multi-line `data` joined with `\\n`, `:` comment lines, `\\n`
or `\\r\\n` line ends; an event is dispatched on its terminating blank line, and an unterminated
event at end of stream is discarded.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SseEvent:
    event: str
    data: str
    id: str | None = None


class SseParser:
    """Turns byte chunks into complete events. State: the unfinished line and the pending event."""

    __slots__ = ("_tail", "_event", "_data", "_id", "_has_data")

    def __init__(self) -> None:
        self._tail = b""
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None
        self._has_data = False

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """Consumes a chunk; returns the events it completed, in order."""
        if not chunk:
            return []
        buf = self._tail + chunk if self._tail else chunk
        lines = buf.split(b"\n")
        # The last piece has no newline yet; a UTF-8 sequence never contains 0x0A, so splitting
        # bytes before decoding cannot cut a character in half.
        self._tail = lines.pop()
        out: list[SseEvent] = []
        for raw in lines:
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            if not raw:
                if self._has_data:
                    out.append(SseEvent(self._event or "message", "\n".join(self._data), self._id))
                self._event = ""
                self._data = []
                self._has_data = False
                continue
            self._field(raw.decode("utf-8", "replace"))
        return out

    def _field(self, line: str) -> None:
        if line[0] == ":":
            return
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._has_data = True
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._id = value
        # `retry:` and unknown fields are ignored: reconnection is the client's own policy.
