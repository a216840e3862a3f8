"""`fuzzyFileSearch`: 0.58's ranking over cached per-root file lists, cancellable by token."""

from __future__ import annotations

import bisect
import heapq
import itertools
import operator
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import pykka

from actors.base import DEFERRED, FeatureActor
from actors.file_index import Cancelled, IndexStore, RootIndex
from actors.nucleo import (
    BONUS_BOUNDARY,
    BONUS_BOUNDARY_DELIMITER,
    BONUS_BOUNDARY_WHITE,
    BONUS_FIRST_CHAR_MULTIPLIER,
    CASE_FOLD,
    DELIMITERS,
    NORMALIZE,
    SCORE_MATCH,
    Atom,
    Haystack,
    Pattern,
    score_ascii,
)
from messages.internal import Call

LIMIT = 50  # per root, as 0.58
_SURVIVOR_CACHE = 16  # per index: prefilter results kept for the next keystroke
_RESULT_CACHE = 32

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


# -- matching keys: what a path looks like to the prefilter ------------------------------------


class _Snapshot:
    """One generation of an index: its paths and the caches derived from exactly those paths."""

    __slots__ = ("derived", "paths")

    def __init__(self, index: RootIndex) -> None:
        with index.lock:
            self.paths: list[str] = index.paths
            self.derived: dict[Any, Any] = index.derived


def _keys(index: _Snapshot, ignore_case: bool) -> list[str]:
    """One string per path in which an ASCII atom is a subsequence iff nucleo could match it."""
    cache_key = ("keys", ignore_case)
    keys = index.derived.get(cache_key)
    if keys is None:
        keys = _ascii_keys(index, ignore_case)
    if keys is None:
        keys = []
        for path in index.paths:
            if path.isascii():
                keys.append(path.lower() if ignore_case else path)
                continue
            hay = Haystack(path)
            if hay.ascii:  # byte-wise quirk: only A-Z fold
                keys.append(hay.chars.translate(_ASCII_LOWER) if ignore_case else hay.chars)
                continue
            chars = []
            for c in hay.chars:
                if c.isascii():
                    chars.append(c.lower() if ignore_case else c)
                    continue
                c = NORMALIZE.get(c, c)
                chars.append(CASE_FOLD.get(c, c) if ignore_case else c)
            keys.append("".join(chars))
        index.derived[cache_key] = keys
    return keys  # type: ignore[return-value]


def _ascii_keys(index: _Snapshot, ignore_case: bool) -> list[str] | None:
    """The keys at C speed when every path is ASCII without a newline (the usual case), else None."""
    text = index.derived.get("text")
    if text is None:
        joined = "\n".join(index.paths)
        text = joined if joined.isascii() and joined.count("\n") == len(index.paths) - 1 else ""
        index.derived["text"] = text
    if not text:
        return None
    lowered = text.lower() if ignore_case else text
    keys = lowered.split("\n") if ignore_case else list(index.paths)
    index.derived[("keys", ignore_case)] = keys
    index.derived[("keys_text", ignore_case)] = lowered
    return keys


def _all_ascii(index: _Snapshot) -> bool:
    if "text" not in index.derived:
        _ascii_keys(index, True)
    return bool(index.derived["text"])


def _unicode_positions(index: _Snapshot) -> list[int]:
    """Paths nucleo matches as Unicode (the only ones a non-ASCII atom can match)."""
    found = index.derived.get("unicode")
    if found is None and _all_ascii(index):
        found = index.derived["unicode"] = []
    if found is None:
        found = [i for i, p in enumerate(index.paths) if not p.isascii() and not Haystack(p).ascii]
        index.derived["unicode"] = found
    return found  # type: ignore[return-value]


def _non_ascii(index: _Snapshot) -> list[int]:
    found = index.derived.get("non_ascii")
    if found is None and _all_ascii(index):
        found = index.derived["non_ascii"] = []
    if found is None:
        found = [i for i, p in enumerate(index.paths) if not p.isascii()]
        index.derived["non_ascii"] = found
    return found  # type: ignore[no-any-return]


def _survivors(index: _Snapshot, atom: Atom, should_stop: Callable[[], bool]) -> list[int]:
    """Positions of the paths the atom can match, reusing an earlier keystroke's survivors."""
    if not atom.ascii:
        return _unicode_positions(index)
    from rapidfuzz import process
    from rapidfuzz.distance import LCSseq

    cache: OrderedDict[tuple[bool, str], list[int]] = index.derived.setdefault("survivors", OrderedDict())  # type: ignore[assignment]
    needle = atom.needle
    hit = cache.get((atom.ignore_case, needle))
    if hit is not None:
        cache.move_to_end((atom.ignore_case, needle))
        return hit
    keys = _keys(index, atom.ignore_case)
    base: list[int] | None = None
    for (ignore_case, previous), found in list(cache.items()):
        if ignore_case == atom.ignore_case and needle.startswith(previous):
            if base is None or len(found) < len(base):
                base = found
    n = len(needle)
    if base is None:
        matches = process.extract(needle, keys, scorer=LCSseq.similarity, score_cutoff=n, limit=None)
        found = sorted(m[2] for m in matches)
    else:
        subset = [keys[i] for i in base]
        matches = process.extract(needle, subset, scorer=LCSseq.similarity, score_cutoff=n, limit=None)
        found = sorted(base[m[2]] for m in matches)
    if should_stop():
        raise Cancelled
    cache[(atom.ignore_case, needle)] = found
    while len(cache) > _SURVIVOR_CACHE:
        cache.popitem(last=False)
    return found


def search_index(
    index: RootIndex, query: str, should_stop: Callable[[], bool] = lambda: False
) -> list[tuple[int, str, list[int]]]:
    """The top LIMIT (score, path, indices) of one root, best first, then by path."""
    snapshot = _Snapshot(index)
    paths = snapshot.paths
    results: OrderedDict[str, list[tuple[int, str, list[int]]]] = snapshot.derived.setdefault("results", OrderedDict())
    cached = results.get(query)
    if cached is not None:
        return cached
    pattern = Pattern(query)
    if not pattern.atoms:
        out: list[tuple[int, str, list[int]]] = [(0, p, []) for p in paths[:LIMIT]]
    else:
        out = _rank(snapshot, pattern, paths, should_stop)
    results[query] = out
    while len(results) > _RESULT_CACHE:
        results.popitem(last=False)
    return out


def _joined(index: _Snapshot, ignore_case: bool) -> tuple[str, list[int]]:
    """All keys in one string (one per line) and where each line starts, for C-speed scans."""
    cache_key = ("joined", ignore_case)
    found = index.derived.get(cache_key)
    if found is None:
        keys = _keys(index, ignore_case)
        # starts[i] = len(keys[0]) + … + len(keys[i-1]) + i, computed in C
        starts = [0, *map(operator.add, itertools.accumulate(map(len, keys[:-1])), range(1, len(keys)))] if keys else []
        found = (index.derived.get(("keys_text", ignore_case)) or "\n".join(keys), starts)
        index.derived[cache_key] = found
    return found  # type: ignore[no-any-return]


_WHITE_PRECEDERS = ("\n", " ", "\t", "\x0c", "\r")
_DELIMITER_PRECEDERS = tuple(DELIMITERS)


def _lines_after(joined: str, starts: list[int], literals: Sequence[str], first: str) -> Iterator[int]:
    """Ascending line numbers holding `first` right after one of `literals` (C-speed finds)."""

    def stream(literal: str) -> Iterator[int]:
        probe = literal + first
        pos = joined.find(probe)
        while pos >= 0:
            line = bisect.bisect_right(starts, pos + 1) - 1
            yield line
            following = starts[line + 1] if line + 1 < len(starts) else len(joined)
            pos = joined.find(probe, max(pos + 1, following - len(literal)))

    last = -1
    for line in heapq.merge(*(stream(literal) for literal in literals)):
        if line != last:
            last = line
            yield line


def _tiers(index: _Snapshot, atom: Atom, survivors: set[int]) -> Iterator[tuple[int, Iterator[int]]]:
    """Survivors grouped by an upper bound on the atom's score, best group first, each group
    in path order (produced lazily: the search stops as soon as the 50th score reaches a bound).

    The first matched character earns twice its bonus and every later one at most 10, so what
    precedes the first character's occurrences bounds the score: after whitespace or at the
    start 26n+10, after a delimiter 26n+8, anywhere else at most 26n+6 (after another non-word
    character).
    """
    n = len(atom.needle)
    top = 26 * n + 10
    first = atom.needle[0]
    if not atom.ascii or not first.isalnum() or " " in atom.needle:
        yield top, iter(sorted(survivors))
        return
    joined, starts = _joined(index, atom.ignore_case)
    # non-ASCII paths have characters these literals do not classify: keep them on top
    seen: set[int] = survivors.intersection(_non_ascii(index))
    yield top, iter(sorted(seen))

    def fresh(lines: Iterator[int]) -> Iterator[int]:
        for line in lines:
            if line in survivors and line not in seen:
                seen.add(line)
                yield line

    def bound(bonus: int) -> int:
        return SCORE_MATCH * n + BONUS_FIRST_CHAR_MULTIPLIER * bonus + BONUS_BOUNDARY_WHITE * (n - 1)

    at_start = iter([0]) if joined.startswith(first) else iter(())
    yield (
        bound(BONUS_BOUNDARY_WHITE),
        fresh(heapq.merge(at_start, _lines_after(joined, starts, _WHITE_PRECEDERS, first))),
    )
    yield bound(BONUS_BOUNDARY_DELIMITER), fresh(_lines_after(joined, starts, _DELIMITER_PRECEDERS, first))
    yield bound(BONUS_BOUNDARY), (i for i in sorted(survivors) if i not in seen)


def _rank(
    index: _Snapshot, pattern: Pattern, paths: Sequence[str], should_stop: Callable[[], bool]
) -> list[tuple[int, str, list[int]]]:
    candidates: set[int] | None = None
    for atom in pattern.atoms:
        found = _survivors(index, atom, should_stop)
        candidates = set(found) if candidates is None else candidates.intersection(found)
        if not candidates:
            return []
    assert candidates is not None
    atoms = pattern.atoms
    tiers: Iterable[tuple[int, Iterable[int]]]
    if len(atoms) == 1:
        tiers = _tiers(index, atoms[0], candidates)
    else:
        # the bound of a path is the sum of its atoms' bounds
        bound = dict.fromkeys(candidates, 0)
        for atom in atoms:
            for ub, members in _tiers(index, atom, candidates):
                for i in members:
                    bound[i] += ub
        grouped: dict[int, list[int]] = {}
        for i, ub in bound.items():
            grouped.setdefault(ub, []).append(i)
        tiers = [(ub, sorted(members)) for ub, members in sorted(grouped.items(), reverse=True)]
    keys_ci = _keys(index, True)
    keys_cs = _keys(index, False) if any(not a.ignore_case for a in atoms) else keys_ci
    # the best LIMIT so far as a min-heap whose top is the worst (lowest score, greatest path)
    heap: list[tuple[int, _Rev]] = []
    count = 0
    for ub, members in tiers:
        if len(heap) == LIMIT and heap[0][0] >= ub:
            break  # within a tier paths come in order, so an equal score cannot displace either
        for i in members:
            count += 1
            if count & 255 == 0 and should_stop():
                raise Cancelled
            if len(heap) == LIMIT and heap[0][0] >= ub:
                break
            path = paths[i]
            score = _score(pattern, path, keys_ci[i], keys_cs[i])
            if score is None:
                continue
            item = (score, _Rev(path))
            if len(heap) < LIMIT:
                heapq.heappush(heap, item)
            elif item > heap[0]:
                heapq.heapreplace(heap, item)
    ranked = sorted(((s, r.path) for s, r in heap), key=lambda t: (-t[0], t[1]))
    out = []
    for score, path in ranked:
        found_indices = pattern.indices(path)
        out.append((score, path, found_indices[1] if found_indices else []))
    return out


def _score(pattern: Pattern, path: str, key_ci: str, key_cs: str) -> int | None:
    if not path.isascii():
        return pattern.score(path)
    total = 0
    for atom in pattern.atoms:
        if not atom.ascii:
            return None  # an ASCII path never matches a non-ASCII atom
        s = score_ascii(atom, path, key_ci if atom.ignore_case else key_cs)
        if s is None:
            return None
        total += s
    return total


class _Rev:
    """Orders paths in reverse, so a min-heap on (score, _Rev(path)) drops the greatest path first."""

    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path

    def __lt__(self, other: _Rev) -> bool:
        return self.path > other.path

    def __gt__(self, other: _Rev) -> bool:
        return self.path < other.path

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Rev) and self.path == other.path


def search_roots(
    store: IndexStore, query: str, roots: Sequence[str], should_stop: Callable[[], bool]
) -> dict[str, list[dict[str, Any]]]:
    """The `fuzzyFileSearch` result: every root's top LIMIT, merged by score then path."""
    merged: list[tuple[int, str, str, list[int]]] = []
    for root in roots:
        index = store.get(root, should_stop)
        for score, path, indices in search_index(index, query, should_stop):
            merged.append((score, path, root, indices))
        if should_stop():
            raise Cancelled
    merged.sort(key=lambda t: (-t[0], t[1]))
    return {
        "files": [
            {
                "root": root,
                "path": path,
                "file_name": os.path.basename(path) or path,
                "score": score,
                "indices": indices,
            }
            for score, path, root, indices in merged
        ]
    }


# -- the actor --------------------------------------------------------------------------------


class _Job:
    __slots__ = ("call", "cancelled", "token")

    def __init__(self, call: Call, token: str | None) -> None:
        self.call = call
        self.token = token
        self.cancelled = threading.Event()


class FuzzySearchActor(FeatureActor):
    """Owns the per-root file indexes (an IndexStore) and the searches running over them.

    Accepts `Call(handler="fuzzy_file_search")` with params `.query`, `.roots`,
    `.cancellation_token`. Each search runs in a worker; a newer search with the same token
    cancels the running one, which is answered `{"files": []}` at once (DECISIONS 17), before
    the newer one. Indexes idle for `idle_seconds` are dropped.
    """

    store: IndexStore
    running: dict[str, _Job]

    def __init__(
        self,
        outgoing: pykka.ActorRef,
        config: Any = None,
        *,
        store: IndexStore | None = None,
        home: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        super().__init__(outgoing)
        self.config = config
        environment = env if env is not None else dict(os.environ)
        self.store = store or IndexStore(home=home if home is not None else environment.get("HOME"), env=environment)
        self.running = {}

    def fuzzy_file_search(self, call: Call) -> Any:
        params = call.params
        query: str = params.query
        roots: list[str] = list(params.roots or [])
        token: str | None = getattr(params, "cancellation_token", None)
        if token is not None:
            previous = self.running.pop(token, None)
            if previous is not None:
                previous.cancelled.set()
                self.reply(previous.call, {"files": []})
        if not query or not roots:
            return {"files": []}
        job = _Job(call, token)
        if token is not None:
            self.running[token] = job
        store = self.store

        def work() -> dict[str, list[dict[str, Any]]] | None:
            try:
                return search_roots(store, query, roots, job.cancelled.is_set)
            except Cancelled:
                return None

        def then(_call: Call | None, value: Any) -> Any:
            if job.token is not None and self.running.get(job.token) is job:
                del self.running[job.token]
            if job.cancelled.is_set():
                return DEFERRED  # already answered when it was superseded
            self.store.evict_idle()
            return value if value is not None else {"files": []}

        return self.run_in_worker(call, work, then, name="fuzzy-search")
