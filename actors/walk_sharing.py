"""The build's side of a shared walk: the `share` hook of `RootIndex._walk`, and the helper
processes (`actors.walk_helper`) it borrows.

Once a build has walked alone for a while, the hook takes a helper (a warm one from the store's
pool, else a new one), and whenever the helper is idle hands it the shallowest half of the
pending directories; a walk that runs dry asks the helper to give back half of its own. The
helper's records are merged as they arrive. A helper that cannot start or dies leaves its batch
to the build; one that ends a build idle goes back to the pool for the next build.
"""

from __future__ import annotations

import itertools
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from actors.file_index import _NO_STAMP, CHECK_EVERY, UNKNOWN_STAMP, Cancelled, RootIndex, WalkItem, _DirRecord
from actors.walk_helper import BOOT, read_frame, write_frame

_WAIT_SLICE = 0.05  # how often a walk waiting on the helper checks for cancellation
_STALL_SECONDS = 30.0  # a helper silent this long while the build waits on it is given up
# A build starts a helper of its own (none waiting in the pool) only after listing this many
# entries: a small tree is walked before a new helper could help.
SPAWN_AFTER_ENTRIES = 2048
_STAT_TIMEOUT = 10.0  # a helper this slow to stat a refresh's directories is replaced
_build_ids = itertools.count(1)


class HelperProcess:
    """One helper process, and the thread that moves its messages into `inbox`."""

    def __init__(self) -> None:
        """Start it (OSError when it cannot be)."""
        if not sys.executable:
            raise OSError("no interpreter to start")
        package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", BOOT, package_parent],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        self.inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.ready = threading.Event()  # set when the helper has read the rules of `ready_for`
        self.ready_for: tuple[int, bool] | None = None  # (build id, the root is a directory)
        self.gone = False
        try:
            threading.Thread(target=self._pump, name="walk-helper", daemon=True).start()
        except RuntimeError as error:  # no thread to read it: no helper
            self.close()
            raise OSError(str(error)) from error

    def _pump(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        try:
            while True:
                message = read_frame(stream)
                if message is None:
                    break
                if message[0] == "hello":
                    continue
                if message[0] == "ready":
                    self.ready_for = (message[1], message[2])
                    self.ready.set()
                    continue
                self.inbox.put(message)
        except Exception:  # noqa: BLE001, S110 - a dead or garbled helper is treated as gone
            pass
        self.gone = True
        self.ready_for = None
        self.ready.set()
        self.inbox.put(None)
        self.process.wait()  # reaped now, not when a build next looks at the pool

    def begin(self, build_id: int, index: RootIndex) -> bool:
        """Point the helper at a build's root."""
        self.ready.clear()
        self.ready_for = None
        return self.send(("root", build_id, index.root, index.home, index.env.get("XDG_CONFIG_HOME")))

    def send(self, message: object) -> bool:
        assert self.process.stdin is not None
        try:
            write_frame(self.process.stdin, message)
        except (OSError, ValueError):
            return False
        return True

    def alive(self) -> bool:
        return not self.gone and self.process.poll() is None

    def close(self) -> None:
        # Killed first: closing stdout while the pump thread reads it would wait for that read.
        self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass


class HelperPool:
    """At most one idle helper, kept between builds (it exits by itself after a long idle)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: HelperProcess | None = None
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def warm(self) -> None:
        """Start the idle helper now, so that the next big build finds it ready."""
        with self._lock:
            if self._closed or (self._idle is not None and self._idle.alive()):
                return
            stale, self._idle = self._idle, None
        if stale is not None:
            stale.close()
        try:
            helper = HelperProcess()
        except OSError:
            return
        self.give_back(helper)

    def take(self) -> HelperProcess | None:
        with self._lock:
            helper, self._idle = self._idle, None
        if helper is not None and not helper.alive():
            helper.close()
            return None
        return helper

    def give_back(self, helper: HelperProcess) -> None:
        with self._lock:
            if not self._closed and self._idle is None and helper.alive():
                self._idle, helper = helper, None  # type: ignore[assignment]
        if helper is not None:
            helper.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            helper, self._idle = self._idle, None
        if helper is not None:
            helper.close()


def stat_in_helper(pool: HelperPool, root: str, rels: list[str]) -> list[int] | None:
    """st_mtime_ns of each directory (-1: gone) as the pool's idle helper finds them; None when
    no helper is idle or it fails (the caller stats them itself)."""
    helper = pool.take()
    if helper is None:
        return None
    token = next(_build_ids)
    found: list[int] | None = None
    try:
        if not helper.send(("stat", token, root, rels)):
            return None
        deadline = time.monotonic() + _STAT_TIMEOUT
        while found is None:
            message = helper.inbox.get(timeout=max(0.0, deadline - time.monotonic()))
            if message is None:
                return None
            if message[0] == "stats" and message[1] == token:
                found = message[2]  # anything else is a late answer to an earlier build
        return found
    except queue.Empty:
        return None
    finally:
        if found is not None:
            pool.give_back(helper)
        else:
            helper.close()


class Sharing:
    def __init__(
        self,
        index: RootIndex,
        after: float,
        should_stop: Callable[[], bool] = lambda: False,
        pool: HelperPool | None = None,
    ) -> None:
        self.index = index
        self.start_at = time.monotonic() + after
        self.should_stop = should_stop
        self.pool = pool
        self.build_id = next(_build_ids)
        self.helper: HelperProcess | None = None
        self.checks = 0  # calls so far: CHECK_EVERY entries listed between two
        self.heard = 0.0  # when the helper last said anything
        self.batch: list[str] | None = None  # the directories handed to the helper, until "done"
        self.split_asked = False
        self.failed = False
        self.handed = 0  # batches the helper finished (tests and benchmarks read it)

    def __call__(self, stack: list[WalkItem], idle: bool) -> bool:
        if self.failed:
            return False
        if self.helper is None:
            if not idle:
                self.checks += 1
                self._start()
            return False
        while True:  # what the helper said meanwhile
            try:
                message = self.helper.inbox.get_nowait()
            except queue.Empty:
                break
            self._receive(message, stack)
        if self.failed:
            return bool(stack) if idle else False
        if idle:
            return self._wait_for_work(stack)
        self._hand_out(stack)
        return False

    def ready(self) -> bool:
        """Whether the helper has read this build's rules (tests wait on `helper.ready`)."""
        helper = self.helper
        return helper is not None and helper.ready_for == (self.build_id, True)

    def report(self) -> dict[str, Any]:
        """What the helper did, for tests and benchmarks."""
        helper = self.helper
        return {"pid": helper.process.pid if helper else None, "batches": self.handed, "failed": self.failed}

    def close(self) -> None:
        helper = self.helper
        if helper is None:
            return
        if self.pool is not None and self.batch is None and not self.failed:
            self.pool.give_back(helper)  # idle: the next build may use it
        else:
            helper.close()

    def _start(self) -> None:
        """Borrow the pool's waiting helper at once; start a new one only once the tree has
        proved big and the build has run for `after`."""
        pool = self.pool
        helper = pool.take() if pool is not None else None
        if helper is None:
            if pool is not None and pool.closed:
                return  # the store is closing
            if self.checks * CHECK_EVERY < SPAWN_AFTER_ENTRIES or time.monotonic() < self.start_at:
                return
            try:
                helper = HelperProcess()
            except OSError:
                self.failed = True
                return
        self.helper = helper
        self.heard = time.monotonic()
        if not helper.begin(self.build_id, self.index):
            self._receive(None, [])

    def _hand_out(self, stack: list[WalkItem]) -> None:
        if self.batch is not None or len(stack) < 2 or not self.ready():
            return
        assert self.helper is not None
        count = len(stack) // 2
        batch = [rel for rel, _, _ in stack[:count]]  # the bottom: the shallowest directories
        del stack[:count]
        self.batch = batch
        self.heard = time.monotonic()  # the stall clock runs from the request, not the last answer
        if not self.helper.send(("walk", self.build_id, batch)):
            self._receive(None, stack)

    def _wait_for_work(self, stack: list[WalkItem]) -> bool:
        """The walk ran dry: wait until the helper gives some back or finishes. True when the
        stack has directories again."""
        assert self.helper is not None
        while self.batch is not None and not stack:
            if not self.split_asked:
                self.split_asked = self.helper.send(("split", self.build_id))
            try:
                message = self.helper.inbox.get(timeout=_WAIT_SLICE)
            except queue.Empty:
                if self.should_stop():
                    raise Cancelled from None
                if time.monotonic() - self.heard > _STALL_SECONDS:
                    self._receive(None, stack)  # stuck (a hung file system, a stopped process)
                continue
            self._receive(message, stack)
        return bool(stack)

    def _receive(self, message: Any, stack: list[WalkItem]) -> None:
        self.heard = time.monotonic()
        if message is None:  # the helper is gone: walk what it held here
            self.failed = True
            if self.batch is not None:
                stack.extend(self.index.walk_items(self.batch))
                self.batch = None
            return
        kind, build_id = message[0], message[1]
        if build_id != self.build_id:
            return  # an answer meant for an earlier build
        if kind == "given":
            self.split_asked = False
            stack.extend(self.index.walk_items(message[2]))
        elif kind in ("part", "done"):
            dirs = self.index.dirs
            for rel, listed_ns, stamp, files in message[2]:
                stamp = _NO_STAMP if stamp == _NO_STAMP else stamp
                dirs[rel] = _DirRecord((None, None, UNKNOWN_STAMP, listed_ns, stamp, files))
            if kind == "done":
                self.batch = None
                self.handed += 1
