"""The build's side of a shared walk: the `share` hook of `RootIndex._walk`, owning one helper
process (`actors.walk_helper`).

When a build has walked alone for a while, the hook starts the helper and, whenever the helper
is idle, hands it the shallowest half of the pending directories; a walk that runs dry asks the
helper to give back half of its own. The helper's records are merged as they arrive. If the
helper cannot start or dies, the build walks the helper's batch itself.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, Any

from actors.file_index import _NO_STAMP, UNKNOWN_MTIME, Cancelled, RootIndex, WalkItem, _DirRecord
from actors.walk_helper import BOOT, read_frame, write_frame

_WAIT_SLICE = 0.05  # how often a walk waiting on the helper checks for cancellation


def _pump(stream: IO[bytes], inbox: queue.SimpleQueue[Any], ready: threading.Event) -> None:
    """Move the helper's frames into `inbox` (None once it is gone); set `ready` when it is."""
    try:
        while True:
            message = read_frame(stream)
            if message is None:
                break
            if message == ("ready",):
                ready.set()
                continue
            inbox.put(message)
    except (OSError, ValueError, EOFError, TypeError):
        pass  # a dead or garbled helper: treated as gone
    inbox.put(None)


class Sharing:
    def __init__(self, index: RootIndex, after: float, should_stop: Callable[[], bool] = lambda: False) -> None:
        self.index = index
        self.start_at = time.monotonic() + after
        self.should_stop = should_stop
        self.process: subprocess.Popen[bytes] | None = None
        self.inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.ready = threading.Event()  # the helper has read the rules above the root
        self.batch: list[str] | None = None  # the directories handed to the helper, until "done"
        self.split_asked = False
        self.failed = False
        self.handed = 0  # batches the helper finished (tests and benchmarks read it)

    def __call__(self, stack: list[WalkItem], idle: bool) -> bool:
        if self.failed:
            return False
        if self.process is None:
            if not idle and time.monotonic() >= self.start_at:
                self._start()
            return False
        while True:  # what the helper said meanwhile
            try:
                message = self.inbox.get_nowait()
            except queue.Empty:
                break
            self._receive(message, stack)
        if idle:
            return self._wait_for_work(stack)
        self._hand_out(stack)
        return False

    def report(self) -> dict[str, Any]:
        """What the helper did, for tests and benchmarks."""
        return {"pid": self.process.pid if self.process else None, "batches": self.handed, "failed": self.failed}

    def close(self) -> None:
        process = self.process
        if process is None:
            return
        for stream in (process.stdin, process.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        process.kill()
        process.wait()

    def _start(self) -> None:
        package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        index = self.index
        try:
            if not sys.executable:
                raise OSError("no interpreter to start")
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", BOOT, package_parent],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                close_fds=True,
            )
            assert self.process.stdin is not None
            write_frame(self.process.stdin, ("root", index.root, index.home, index.env.get("XDG_CONFIG_HOME")))
        except (OSError, ValueError):
            self.failed = True
            return
        threading.Thread(
            target=_pump, args=(self.process.stdout, self.inbox, self.ready), name="walk-helper", daemon=True
        ).start()

    def _send(self, message: object) -> bool:
        assert self.process is not None and self.process.stdin is not None
        try:
            write_frame(self.process.stdin, message)
        except (OSError, ValueError):
            return False
        return True

    def _hand_out(self, stack: list[WalkItem]) -> None:
        if not self.ready.is_set() or self.batch is not None or len(stack) < 2:
            return
        count = len(stack) // 2
        batch = [rel for rel, _, _ in stack[:count]]  # the bottom: the shallowest directories
        del stack[:count]
        self.batch = batch
        if not self._send(("walk", batch)):
            self._receive(None, stack)

    def _wait_for_work(self, stack: list[WalkItem]) -> bool:
        """The walk ran dry: wait until the helper gives some back or finishes. True when the
        stack has directories again."""
        while self.batch is not None and not stack:
            if not self.split_asked:
                self.split_asked = self._send(("split",))
            try:
                message = self.inbox.get(timeout=_WAIT_SLICE)
            except queue.Empty:
                if self.should_stop():
                    raise Cancelled from None
                continue
            self._receive(message, stack)
        return bool(stack)

    def _receive(self, message: Any, stack: list[WalkItem]) -> None:
        if message is None:  # the helper is gone: walk what it held here
            self.failed = True
            if self.batch is not None:
                stack.extend(self.index.walk_items(self.batch))
                self.batch = None
            return
        kind = message[0]
        if kind == "given":
            self.split_asked = False
            stack.extend(self.index.walk_items(message[1]))
        elif kind in ("part", "done"):
            dirs = self.index.dirs
            for rel, listed_ns, stamp, files in message[1]:
                stamp = _NO_STAMP if stamp == _NO_STAMP else stamp
                dirs[rel] = _DirRecord((None, None, UNKNOWN_MTIME, listed_ns, stamp, files))
            if kind == "done":
                self.batch = None
                self.handed += 1
