"""The helper process that shares a big index walk (its other side is `actors.walk_sharing`).

A walk is system calls plus per-entry Python work under one interpreter lock, so a second core
only helps from another process. The helper walks the directories it is given with the same
code and rules as the build (`RootIndex._walk`), reading the ignore files above each of them,
and sends back the directory records. It imports little, so that it is ready while the build's
first directories are still being listed.

One helper serves many builds in turn (it exits after IDLE_EXIT_SECONDS unused, or when the
server closes its stdin). Messages are marshal frames (a 4-byte length, then the data) over its
stdin/stdout, each naming its build so that a late answer is never taken for a newer build's:
to the helper ("root", build, root, home, xdg_config_home), ("walk", build, [rel, ...]),
("split", build), and for a refresh ("stat", token, root, [rel, ...]), answered
("stats", token, [st_ctime_ns or -1, ...]); from it ("hello",) once started, ("ready", build, root_is_a_directory),
("given", build, [rel, ...]) in answer to "split" (half of what it has not walked yet), and the
walked directories as they pile up and at the end of a batch:
("part" or "done", build, [(rel, listed_ns, ignore_stamp, files), ...]).
"""

from __future__ import annotations

import gc
import marshal
import os
import select
import signal
import struct
import sys

from actors.file_index import RootIndex, stat_changes

TYPE_CHECKING = False  # typing's would cost the helper's start-up a fifth
if TYPE_CHECKING:
    from typing import IO, Any

    from actors.file_index import WalkItem

_FRAME = struct.Struct(">I")
_PART_DIRS = 2000  # records go out in parts this big, so the build merges them while both walk
IDLE_EXIT_SECONDS = 1800.0

BOOT = "import sys; sys.path.append(sys.argv[1]); from actors.walk_helper import main; main()"


def write_frame(stream: IO[bytes], message: object) -> None:
    data = marshal.dumps(message)
    stream.write(_FRAME.pack(len(data)))
    stream.write(data)
    stream.flush()


class FrameReader:
    """Frames from a file descriptor read directly, so that `select` on it is never fooled by bytes
    already taken into a buffer (a "split" arriving right behind a big "walk", say)."""

    TIMEOUT = object()  # `next` found no whole frame in time

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = bytearray()
        self.ended = False

    def _whole(self) -> bool:
        return len(self.buffer) >= _FRAME.size and len(self.buffer) >= _FRAME.size + _FRAME.unpack_from(self.buffer)[0]

    def next(self, timeout: float | None) -> Any:
        """The next message; None at the end of the input; TIMEOUT when no whole frame came in
        `timeout` seconds (0: only what has already arrived)."""
        while not self._whole():
            if self.ended:
                return None
            if not select.select([self.fd], [], [], timeout)[0]:
                return self.TIMEOUT
            chunk = os.read(self.fd, 1 << 16)
            if chunk:
                self.buffer += chunk
            else:
                self.ended = True
        (size,) = _FRAME.unpack_from(self.buffer)
        data = bytes(self.buffer[_FRAME.size : _FRAME.size + size])
        del self.buffer[: _FRAME.size + size]
        return marshal.loads(data)


def read_frame(stream: IO[bytes]) -> Any:
    """The next message, or None at the end of the stream (or a torn frame)."""
    head = stream.read(_FRAME.size)
    if len(head) < _FRAME.size:
        return None
    (size,) = _FRAME.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        return None
    return marshal.loads(data)


def main() -> None:
    """Serve builds until the server closes the pipe (or a long idle); leave quietly either way:
    the server's stderr is its log."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a terminal is the server's to handle
    try:
        _serve(FrameReader(sys.stdin.fileno()), sys.stdout.buffer)
    except BaseException:  # noqa: BLE001, S110 - the server went away mid-answer, or worse: exit quietly
        pass
    os._exit(0)  # nothing to flush: every frame is flushed as it is written


def _serve(inp: FrameReader, out: IO[bytes]) -> None:
    gc.disable()  # acyclic lists and tuples, dropped after every batch
    write_frame(out, ("hello",))
    index: RootIndex | None = None
    build_id = 0

    def records() -> list[tuple[str, int, tuple[int, ...], list[str]]]:
        assert index is not None
        found = [(rel, r.listed_ns, r.ignore_stamp, r.files) for rel, r in index.dirs.items()]
        index.dirs.clear()  # the walk's own dict: later directories start the next part
        return found

    def share(stack: list[WalkItem], idle: bool) -> bool:
        if idle:
            return False
        if index is not None and len(index.dirs) >= _PART_DIRS:
            write_frame(out, ("part", build_id, records()))
        # While a batch is walked the build only writes to ask for a split.
        while True:
            message = inp.next(0)
            if message is FrameReader.TIMEOUT:
                return False
            if message is None:
                os._exit(0)  # the server is gone
            if message[0] == "split":
                given: list[str] = []
                if message[1] == build_id:
                    count = len(stack) // 2
                    given = [rel for rel, _, _ in stack[:count]]  # the bottom: the shallowest directories
                    del stack[:count]
                write_frame(out, ("given", message[1], given))

    while True:
        message = inp.next(IDLE_EXIT_SECONDS)
        if message is None or message is FrameReader.TIMEOUT:
            return  # the server is gone, or has not needed us for long
        kind = message[0]
        if kind == "root":
            _, build_id, root, home, xdg = message
            index = RootIndex(root, home, {"XDG_CONFIG_HOME": xdg} if xdg else {})
            index.helper_after = None
            write_frame(out, ("ready", build_id, index.prepare()))
        elif kind == "split":
            write_frame(out, ("given", message[1], []))  # asked just as a batch ended: nothing left
        elif kind == "stat":
            _, token, root, rels = message
            write_frame(out, ("stats", token, stat_changes(root, rels)))
        elif kind == "walk":
            if index is None or message[1] != build_id:
                write_frame(out, ("done", message[1], []))
                continue
            index.dirs.clear()
            index._walk(index.walk_items(message[2]), lambda: False, share)
            write_frame(out, ("done", build_id, records()))
