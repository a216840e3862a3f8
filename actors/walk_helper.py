"""The helper process that shares a big index walk (its other side is `actors.walk_sharing`).

A walk is system calls plus per-entry Python work under one interpreter lock, so a second core
only helps from another process. The helper walks the directories it is given with the same
code and rules as the build (`RootIndex._walk`), reading the ignore files above each of them,
and sends back the directory records. It imports little, so that it is ready while the build's
first directories are still being listed.

Messages are marshal frames (a 4-byte length, then the data) over the helper's stdin/stdout:
to the helper ("root", root, home, xdg_config_home), ("walk", [rel, ...]), ("split",);
from it ("ready",), ("given", [rel, ...]) in answer to "split" (half of what it has not walked
yet), and the walked directories as they pile up and at the end of a batch:
("part" or "done", [(rel, listed_ns, ignore_stamp, files), ...]).
"""

from __future__ import annotations

import gc
import marshal
import os
import select
import struct
import sys
from typing import IO, Any

from actors.file_index import RootIndex, WalkItem

_FRAME = struct.Struct(">I")
_PART_DIRS = 2000  # records go out in parts this big, so the build merges them while both walk

BOOT = "import sys; sys.path.insert(0, sys.argv[1]); from actors.walk_helper import main; main()"


def write_frame(stream: IO[bytes], message: object) -> None:
    data = marshal.dumps(message)
    stream.write(_FRAME.pack(len(data)))
    stream.write(data)
    stream.flush()


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
    gc.disable()  # a short life of acyclic lists and tuples
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    hello = read_frame(inp)
    if not hello or hello[0] != "root":
        return
    _, root, home, xdg = hello
    index = RootIndex(root, home, {"XDG_CONFIG_HOME": xdg} if xdg else {})
    index.helper_after = None
    if not index.prepare():
        return
    write_frame(out, ("ready",))

    def records() -> list[tuple[str, int, tuple[int, ...], list[str]]]:
        found = [(rel, r.listed_ns, r.ignore_stamp, r.files) for rel, r in index.dirs.items()]
        index.dirs.clear()  # the walk's own dict: later directories start the next part
        return found

    def share(stack: list[WalkItem], idle: bool) -> bool:
        if idle:
            return False
        if len(index.dirs) >= _PART_DIRS:
            write_frame(out, ("part", records()))
        # The build only writes while this walk runs to ask for a split.
        while select.select([inp], [], [], 0)[0]:
            message = read_frame(inp)
            if message is None:
                os._exit(0)  # the build ended (or was cancelled) without us
            if message[0] == "split":
                count = len(stack) // 2
                given = [rel for rel, _, _ in stack[:count]]  # the bottom: the shallowest directories
                del stack[:count]
                write_frame(out, ("given", given))
        return False

    while True:
        message = read_frame(inp)
        if message is None:
            return
        if message[0] == "split":
            write_frame(out, ("given", []))  # asked just as a batch ended: nothing left to give
        elif message[0] == "walk":
            index.dirs.clear()
            index._walk(index.walk_items(message[1]), lambda: False, share)
            write_frame(out, ("done", records()))
