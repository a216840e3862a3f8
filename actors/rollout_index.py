"""An index of rollout directories and heads, so listing stays fast on tens of thousands of rollouts.

The archive actor owns one `RolloutIndex`; it is the only writer. A worker gets an `IndexView`: it
reads the index with single `dict.get` calls (atomic under the GIL, never an iteration), checks each
cached entry against a fresh `stat`, and records what it had to re-read in its own `IndexUpdates`,
which the actor merges when the worker's result comes back.

Correct while other processes add, append to or delete rollouts:
- a directory listing is reused only while the directory's (mtime, inode) is unchanged — creating,
  deleting or renaming an entry changes the directory's mtime;
- a head is reused only while the file's (size, mtime, inode) is unchanged — an append grows it;
- an entry observed within `RACY_SECONDS` of its last modification is not trusted (mtime has coarse
  granularity, so a change in the same tick would be invisible): it is re-read next time.
Never the whole rollout is read: only its head (`rollout_store.read_head`).
"""

from __future__ import annotations

import itertools
import logging
import os
import stat as stat_module
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from actors.rollout_store import (
    MONTH_DAY_MAX,
    SESSIONS_SUBDIR,
    YEAR_MAX,
    FileRef,
    FileTs,
    Head,
    Opener,
    RolloutReadError,
    find_in_day,
    io_error_text,
    open_binary,
    read_head,
    scan_day,
    scan_subdirs,
)

log = logging.getLogger(__name__)

RACY_SECONDS = 2.0
# A walk through the pages asks for page after page; a month in which one page found no file older
# than its cursor is passed over by the next pages (older cursors) for this long without re-listing
# its days. Only a file with an older name appearing in such a month meanwhile could be missed.
WALK_MEMO_SECONDS = 2.0
MAX_HEADS = 200_000


@dataclass(frozen=True, slots=True)
class DirEntry:
    """One directory's listing as of a stat: numeric subdirs (root, year, month) or files (day)."""

    mtime_ns: int
    ino: int
    trusted: bool
    subdirs: tuple[tuple[int, str], ...] = ()  # (value, full path)
    files: tuple[FileRef, ...] = ()
    others: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class HeadEntry:
    size: int
    mtime_ns: int
    ino: int
    trusted: bool
    head: Head


@dataclass(slots=True)
class IndexUpdates:
    """What a worker learnt; merged into the index by the actor."""

    dirs: dict[str, DirEntry] = field(default_factory=dict)
    heads: dict[str, HeadEntry] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)  # directories that no longer exist
    cleared: dict[str, tuple[float, tuple[FileTs, str]]] = field(default_factory=dict)  # month → (when, cursor)


class RolloutIndex:
    """Cached directory listings and heads under `<codex_home>/sessions`, keyed by path."""

    def __init__(
        self,
        codex_home: str,
        opener: Opener = open_binary,
        clock: Callable[[], float] = time.time,
        max_heads: int = MAX_HEADS,
    ) -> None:
        self.root = os.path.join(codex_home, SESSIONS_SUBDIR)
        self.opener = opener
        self.clock = clock
        self.max_heads = max_heads
        self.dirs: dict[str, DirEntry] = {}
        self.heads: dict[str, HeadEntry] = {}
        self.cleared: dict[str, tuple[float, tuple[FileTs, str]]] = {}

    def view(self) -> IndexView:
        return IndexView(self, IndexUpdates())

    def merge(self, updates: IndexUpdates) -> None:
        """Fold a worker's findings in (actor thread only)."""
        for path in updates.gone:
            self.dirs.pop(path, None)
        for path, entry in updates.dirs.items():
            previous = self.dirs.get(path)
            self.dirs[path] = entry
            if previous is not None and previous.files:
                # Drop heads of rollouts that left this day directory (archived, deleted).
                still_there = {ref.name for ref in entry.files}
                for ref in previous.files:
                    if ref.name not in still_there:
                        self.heads.pop(os.path.join(path, ref.name), None)
        self.heads.update(updates.heads)
        if updates.cleared or updates.gone:
            now = self.clock()
            self.cleared.update(updates.cleared)
            for path in [p for p, (when, _) in self.cleared.items() if now - when >= WALK_MEMO_SECONDS]:
                del self.cleared[path]
        excess = len(self.heads) - self.max_heads
        if excess > 0:
            # Oldest insertions first; evict a quarter so eviction is not paid on every merge.
            for key in list(itertools.islice(self.heads, excess + self.max_heads // 4)):
                del self.heads[key]


class IndexView:
    """A DirSource for one worker: cached entries when still valid, fresh reads otherwise."""

    def __init__(self, index: RolloutIndex, updates: IndexUpdates) -> None:
        self._index = index
        self.updates = updates

    def _cached_dir(self, path: str) -> tuple[DirEntry | None, os.stat_result | None]:
        try:
            status = os.stat(path)
        except OSError:
            self.updates.gone.add(path)
            return None, None
        entry = self.updates.dirs.get(path) or self._index.dirs.get(path)
        if entry is not None and entry.trusted and entry.mtime_ns == status.st_mtime_ns and entry.ino == status.st_ino:
            return entry, status
        return None, status

    def _trusted(self, mtime_ns: int, now: float) -> bool:
        return now - mtime_ns / 1e9 > RACY_SECONDS

    def subdirs(self, path: str, maximum: int) -> tuple[tuple[int, str], ...]:
        entry, status = self._cached_dir(path)
        if entry is not None:
            return entry.subdirs
        if status is None or not stat_module.S_ISDIR(status.st_mode):
            return ()
        now = self._index.clock()
        found = tuple(scan_subdirs(path, maximum))
        self.updates.dirs[path] = DirEntry(
            status.st_mtime_ns, status.st_ino, self._trusted(status.st_mtime_ns, now), subdirs=found
        )
        return found

    def _day(self, path: str) -> DirEntry | None:
        entry, status = self._cached_dir(path)
        if entry is not None:
            return entry
        if status is None or not stat_module.S_ISDIR(status.st_mode):
            return None
        now = self._index.clock()
        files, others = scan_day(path)
        entry = DirEntry(
            status.st_mtime_ns, status.st_ino, self._trusted(status.st_mtime_ns, now), files=files, others=others
        )
        self.updates.dirs[path] = entry
        return entry

    def day_files(self, path: str) -> tuple[FileRef, ...]:
        entry = self._day(path)
        return entry.files if entry is not None else ()

    def month_cleared(self, path: str, cursor_key: tuple[FileTs, str]) -> bool:
        """True when a page moments ago found no file older than a cursor at least as new as this one."""
        memo = self.updates.cleared.get(path) or self._index.cleared.get(path)
        return memo is not None and self._index.clock() - memo[0] < WALK_MEMO_SECONDS and cursor_key <= memo[1]

    def clear_month(self, path: str, cursor_key: tuple[FileTs, str]) -> None:
        self.updates.cleared[path] = (self._index.clock(), cursor_key)

    def first_day_with_older(self, days: Sequence[tuple[int, str]], cursor_key: tuple[FileTs, str]) -> int:
        """`rollout_store._first_day_with_older` in one loop: a deep page passes over hundreds of days,
        each still validated by a fresh stat (a day whose listing changed is re-read as usual)."""
        stat = os.stat
        fresh = self.updates.dirs
        cached = self._index.dirs
        for position, (_, path) in enumerate(days):
            try:
                status = stat(path)
            except OSError:
                entry = self._day(path)  # records the loss as usual
            else:
                entry = fresh.get(path) or cached.get(path)
                if (
                    entry is None
                    or not entry.trusted
                    or entry.mtime_ns != status.st_mtime_ns
                    or entry.ino != status.st_ino
                ):
                    entry = self._day(path)
            if entry is not None and entry.files:
                last = entry.files[-1]
                if (last.ts, last.uuid) < cursor_key:
                    return position
        return len(days)

    def head(self, path: str) -> Head:
        try:
            status = os.stat(path)
        except OSError as error:
            raise RolloutReadError(io_error_text(error)) from error
        entry = self.updates.heads.get(path) or self._index.heads.get(path)
        if (
            entry is not None
            and entry.trusted
            and entry.size == status.st_size
            and entry.mtime_ns == status.st_mtime_ns
            and entry.ino == status.st_ino
        ):
            return entry.head
        now = self._index.clock()
        # Read failures are not cached: a transient EIO must not stick to the file.
        head = read_head(path, self._index.opener)
        if head.count and not head.first_is_meta:
            log.warning("rollout %s does not start with session metadata; not listed", path)
        self.updates.heads[path] = HeadEntry(
            status.st_size, status.st_mtime_ns, status.st_ino, self._trusted(status.st_mtime_ns, now), head
        )
        return head

    def find(self, conversation_id: str) -> str | None:
        """The exact find-by-id (DECISIONS 10) over validated directory listings."""
        root = self._index.root
        for _, year_path in self.subdirs(root, YEAR_MAX):
            for _, month_path in self.subdirs(year_path, MONTH_DAY_MAX):
                for _, day_path in self.subdirs(month_path, MONTH_DAY_MAX):
                    entry = self._day(day_path)
                    if entry is None:
                        continue
                    name = find_in_day(entry.files, entry.others, conversation_id)
                    if name is not None:
                        return os.path.join(day_path, name)
        return None
