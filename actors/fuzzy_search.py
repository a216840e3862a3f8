"""`fuzzyFileSearch`: 0.58's ranking over cached per-root file lists, cancellable by token."""

from __future__ import annotations

import bisect
import heapq
import itertools
import operator
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import pykka

from actors.base import DEFERRED, FeatureActor
from actors.file_index import Cancelled, IndexStore, RootIndex
from actors.nucleo import (
    BONUS_BOUNDARY,
    BONUS_BOUNDARY_DELIMITER,
    BONUS_BOUNDARY_WHITE,
    BONUS_CAMEL123,
    BONUS_CODE,
    BONUS_CODE_TABLE,
    CASE_FOLD,
    CLASS_TABLE,
    NORMALIZE,
    Atom,
    AtomBound,
    Haystack,
    PairFact,
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


def _survivors(index: _Snapshot, atom: Atom, should_stop: Callable[[], bool], within: list[int]) -> list[int]:
    """Positions among `within` (the special paths) that the atom can match."""
    if not atom.ascii:
        return sorted(set(_unicode_positions(index)).intersection(within))
    from rapidfuzz import process
    from rapidfuzz.distance import LCSseq

    keys = _keys(index, atom.ignore_case)
    subset = [keys[i] for i in within]
    matches = process.extract(atom.needle, subset, scorer=LCSseq.similarity, score_cutoff=len(atom.needle), limit=None)
    if should_stop():
        raise Cancelled
    return sorted(within[m[2]] for m in matches)


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


def _special(index: _Snapshot) -> list[int]:
    """Paths the bucket engine leaves to the reference scorer: non-ASCII or holding a newline."""
    found = index.derived.get("special")
    if found is None:
        if _all_ascii(index):
            found = []
        else:
            found = [i for i, p in enumerate(index.paths) if not p.isascii() or "\n" in p]
        index.derived["special"] = found
    return found  # type: ignore[no-any-return]


def _whitespace(index: _Snapshot) -> set[int]:
    """Paths holding whitespace: only there can a later character earn the whitespace bonus."""
    found = index.derived.get("whitespace")
    if found is None:
        found = set()
        _keys(index, True)  # leaves the keys' joined text in `derived` when every path is plain
        text = index.derived.get(("keys_text", True))
        if text is not None and not any(c in text for c in " \t\x0c\r"):  # type: ignore[operator]
            index.derived["whitespace"] = found
            return found
        joined, starts = _joined(index, True)
        for c in " \t\x0c\r":
            pos = joined.find(c)
            while pos >= 0:
                found.add(bisect.bisect_right(starts, pos) - 1)
                pos = joined.find(c, pos + 1)
        found.update(i for i in _special(index) if "\n" in index.paths[i])
        index.derived["whitespace"] = found
    return found  # type: ignore[no-any-return]


_RUN_SEPARATOR = "\n" + chr(BONUS_CODE + BONUS_BOUNDARY_WHITE)  # a newline and its bonus code


def _marks(index: _Snapshot, ignore_case: bool) -> list[str]:
    """Per path, each key character followed by its bonus code (chr(BONUS_CODE + bonus)), so
    "has an occurrence of c with bonus b" is one substring test. Built over all paths at once
    with `bytes.translate` and big-integer arithmetic; special paths get an empty string."""
    cache_key = ("marks", ignore_case)
    found = index.derived.get(cache_key)
    if found is not None:
        return found  # type: ignore[no-any-return]
    paths = index.paths
    special = set(_special(index))
    if special:
        raw = "\n".join([("" if i in special else p) for i, p in enumerate(paths)]).encode("ascii")
    else:  # every path plain: the joined text is already made
        raw = (index.derived.get("text") or "\n".join(paths)).encode("ascii")  # type: ignore[union-attr]
    if not raw:
        found = [""] * len(paths)
    else:
        classes = raw.translate(CLASS_TABLE)
        # each byte becomes previous class * 8 + class (no carries: classes are below 8), and a
        # line's first character follows the separator, a newline, the class of a string start
        as_int = int.from_bytes(classes, "big")
        pairs = ((as_int >> 8) << 3) | as_int
        codes = pairs.to_bytes(len(raw), "big").translate(BONUS_CODE_TABLE)
        both = bytearray(2 * len(raw))
        both[0::2] = raw.lower() if ignore_case else raw
        both[1::2] = codes
        found = both.decode("latin-1").split(_RUN_SEPARATOR)
    assert len(found) == len(paths)
    index.derived[cache_key] = found
    return found


class _AtomFacts:
    """One atom's view of the paths for the bucket engine, and its windowed exact scorer."""

    __slots__ = (
        "atom",
        "bound",
        "dense",
        "eager",
        "first",
        "keys",
        "last",
        "marks",
        "masks",
        "pairs",
        "paths",
        "scores",
    )

    def __init__(self, atom: Atom, index: _Snapshot) -> None:
        self.atom = atom
        self.bound = AtomBound(atom)
        needle = atom.needle
        self.first = needle[0]
        self.last = needle[-1]
        self.pairs = [needle[k - 1 : k + 1] for k in range(1, len(needle))]
        self.keys = _keys(index, atom.ignore_case)
        self.marks = _marks(index, atom.ignore_case)
        self.paths = index.paths
        self.scores: dict[str, int] = {}
        self.masks: OrderedDict[tuple[str, bool, str], bytes] = index.derived.setdefault("masks", OrderedDict())  # type: ignore[assignment]
        # atoms (case, needle) found in most paths: their extensions test matching last, not first
        self.dense: set[tuple[bool, str]] = index.derived.setdefault("dense", set())  # type: ignore[assignment]
        self.eager = len(needle) >= 3 and not any(
            (atom.ignore_case, needle[:k]) in self.dense for k in range(1, len(needle) + 1)
        )

    def matching(self, members: list[int]) -> list[int]:
        """The members whose key holds the needle as a subsequence: rapidfuzz's LCSseq similarity
        equals the needle's length exactly then, and its cost grows with the matches only."""
        from rapidfuzz import process
        from rapidfuzz.distance import LCSseq

        keys = self.keys
        everything = len(members) == len(keys)
        chosen = keys if everything else [keys[i] for i in members]
        needle = self.atom.needle
        found = process.extract(needle, chosen, scorer=LCSseq.similarity, score_cutoff=len(needle), limit=None)
        positions = map(operator.itemgetter(2), found)
        hits = sorted(positions if everything else map(members.__getitem__, positions))
        if len(hits) >= 0.8 * len(keys):
            self.dense.add((self.atom.ignore_case, needle))
        return hits

    def test(self, members: list[int], kind: str, probe: str) -> tuple[list[int], _Complement]:
        """Split members on whether their key ("keys") or bonus-marked key ("marks") holds
        `probe`, or matches the regular expression `probe` ("regex", "marks-regex"). Over all paths (the first
        keystrokes on a big tree) the answers are kept: the next keystrokes ask them again."""
        key = (kind, self.atom.ignore_case, probe)
        mask = self.masks.get(key)
        if mask is not None:
            self.masks.move_to_end(key)
            if len(members) == len(mask):
                return _split(members, mask)
            return _split(members, map(mask.__getitem__, members))
        texts = self.marks if kind.startswith("marks") else self.keys
        chosen: Iterable[str] = texts if len(members) == len(texts) else map(texts.__getitem__, members)
        if kind.endswith("regex"):
            found: Iterable[object] = map(re.compile(probe).search, chosen)
        else:
            found = map(operator.contains, chosen, itertools.repeat(probe))
        if len(members) != len(texts):
            return _split(members, found)
        mask = bytes(map(bool, found))
        self.masks[key] = mask
        while len(self.masks) > _MASK_CACHE:
            self.masks.popitem(last=False)
        return _split(members, mask)

    def exact(self, members: Sequence[int]) -> list[int]:
        """Exact scores (-1: no match). A score depends only on the window from just before the
        first occurrence of the first character to the last occurrence of the last one, so equal
        windows are scored once."""
        pick = operator.itemgetter(*members) if len(members) > 1 else (lambda seq: (seq[members[0]],))
        keys = pick(self.keys)
        repeat = itertools.repeat
        firsts = map(str.find, keys, repeat(self.first))
        starts = map(max, map(operator.sub, firsts, repeat(1)), repeat(0))  # one character of context
        ends = map(operator.add, map(str.rfind, keys, repeat(self.last)), repeat(1))
        windows = list(map(operator.getitem, pick(self.paths), map(slice, starts, ends)))
        cache = self.scores
        atom = self.atom
        for window in dict.fromkeys(windows):
            if window not in cache:
                score = score_ascii(atom, window, window.lower() if atom.ignore_case else window)
                cache[window] = -1 if score is None else score
        return list(map(cache.__getitem__, windows))


# What is known about a candidate for one atom: (matches, b0, b0 exact, contiguous, pair facts).
# contiguous: None, False, or (cap, exact): the atom occurs contiguously, and the best first-character
# bonus of such an occurrence is at most cap (exactly cap when exact).
# b0 is the first character's best bonus, or while not exact an upper bound on it.
_AtomState = tuple[bool | None, int, bool, bool | tuple[int, bool] | None, tuple[PairFact, ...]]
_B0_LEVELS = (BONUS_BOUNDARY_WHITE, BONUS_BOUNDARY_DELIMITER, BONUS_BOUNDARY, BONUS_CAMEL123, 0)
_MASK_CACHE = 48  # per index: answers over all paths kept for the next keystrokes (one byte a path)
_GAP_STEPS = 4  # how far the minimum gap between two characters is measured
_SMALL = 256  # a bucket this small is exact-scored rather than split further
_STREAM = 64  # a bucket's first members are exact-scored before it is split: often they settle it


class _Bucket:
    """Candidates sharing what is known about them, and the bound that knowledge implies."""

    __slots__ = ("bound", "members", "state", "tried", "ws")

    def __init__(self, members: _Members, state: tuple[_AtomState, ...], ws: bool, bound: int, tried: bool) -> None:
        self.members = members
        self.state = state
        self.ws = ws
        self.bound = bound
        self.tried = tried


class _Complement:
    """The members a split left out, computed only if their bucket comes up."""

    __slots__ = ("mask", "members", "size")

    def __init__(self, members: list[int], mask: Sequence[object], hits: int) -> None:
        self.members = members
        self.mask = mask
        self.size = len(members) - hits

    def __call__(self) -> list[int]:
        return list(itertools.compress(self.members, map(operator.not_, self.mask)))


def _split(members: list[int], found: Iterable[object]) -> tuple[list[int], _Complement]:
    mask = found if isinstance(found, bytes) else list(found)
    hit = list(itertools.compress(members, mask))
    return hit, _Complement(members, mask, len(hit))


_Members = list[int] | _Complement  # a bucket's members, or what computes them


def _rank(
    index: _Snapshot, pattern: Pattern, paths: Sequence[str], should_stop: Callable[[], bool]
) -> list[tuple[int, str, list[int]]]:
    """The top LIMIT by score then path. Plain (ASCII) paths go through the bucket engine; the
    few others are scored by the reference."""
    atoms = pattern.atoms
    # the best LIMIT so far as a min-heap of (score, -position): its top is the one to drop
    heap: list[tuple[int, int]] = []
    held: set[int] = set()  # the -positions in the heap: a member may be offered twice

    def offer(members: Sequence[int], scores: Iterable[int]) -> None:
        """Consider members with their scores (-1: no match)."""
        items: Iterable[tuple[int, int]] = zip(scores, map(operator.neg, members), strict=True)
        if len(members) > 4 * LIMIT:
            items = heapq.nlargest(LIMIT, items)  # at C speed
        for item in items:
            if item[0] < 0 or item[1] in held:
                continue
            if len(heap) < LIMIT:
                heapq.heappush(heap, item)
                held.add(item[1])
            elif item > heap[0]:
                held.discard(heapq.heapreplace(heap, item)[1])
                held.add(item[1])

    special = _special(index)
    if special:
        candidates: set[int] = set(special)
        for atom in atoms:
            candidates.intersection_update(_survivors(index, atom, should_stop, special))
        keys_ci = _keys(index, True)
        keys_cs = _keys(index, False) if any(not a.ignore_case for a in atoms) else keys_ci
        ordered = sorted(candidates)
        scores = [_score(pattern, paths[i], keys_ci[i], keys_cs[i]) for i in ordered]
        offer(ordered, [-1 if score is None else score for score in scores])
    if all(a.ascii for a in atoms):
        _rank_plain(index, atoms, offer, heap, should_stop)
    ranked = sorted(((s, paths[-i]) for s, i in heap), key=lambda t: (-t[0], t[1]))
    out = []
    for score, path in ranked:
        found_indices = pattern.indices(path)
        out.append((score, path, found_indices[1] if found_indices else []))
    return out


def _universe(index: _Snapshot, atoms: Sequence[Atom]) -> tuple[list[int], list[bool]]:
    """Plain paths that may match (a superset kept from an earlier keystroke, or all of them),
    and per atom whether they are known to match."""
    cache: OrderedDict[tuple[bool, str], list[int]] = index.derived.setdefault("universe", OrderedDict())  # type: ignore[assignment]
    chosen: list[list[int]] = []
    known = []
    for atom in atoms:
        exact = cache.get((atom.ignore_case, atom.needle))
        if exact is not None:
            cache.move_to_end((atom.ignore_case, atom.needle))
            chosen.append(exact)
            known.append(True)
            continue
        known.append(False)
        best: list[int] | None = None
        for (ignore_case, previous), found in cache.items():
            if ignore_case == atom.ignore_case and atom.needle.startswith(previous):
                if best is None or len(found) < len(best):
                    best = found
        if best is not None:
            chosen.append(best)
    if not chosen:
        special = _special(index)
        if not special:
            return list(range(len(index.paths))), known
        excluded = set(special)
        return [i for i in range(len(index.paths)) if i not in excluded], known
    chosen.sort(key=len)
    if len(chosen) == 1:
        return chosen[0], known
    rest = set(chosen[0]).intersection(*chosen[1:])
    return [i for i in chosen[0] if i in rest], known


def _remember(index: _Snapshot, atom: Atom, members: list[int], complete: bool) -> None:
    """Keep what may match the atom for the next keystroke (`complete`: exactly what matches)."""
    cache: OrderedDict[tuple[bool, str], list[int]] = index.derived.setdefault("universe", OrderedDict())  # type: ignore[assignment]
    key = (atom.ignore_case, atom.needle)
    if complete or key not in cache:
        cache[key] = members
    while len(cache) > _SURVIVOR_CACHE:
        cache.popitem(last=False)


def _rank_plain(
    index: _Snapshot,
    atoms: Sequence[Atom],
    offer: Callable[[Sequence[int], Iterable[int]], None],
    heap: list[tuple[int, int]],
    should_stop: Callable[[], bool],
) -> None:
    """Best bound first: a bucket is either split on its first unknown fact (tested at C speed
    over its members) or, when everything is known, exact-scored. It stops once the 50th best
    score reaches the best bound left."""
    facts = [_AtomFacts(atom, index) for atom in atoms]
    universe, known = _universe(index, atoms)
    if not universe:
        return

    def bound_of(state: tuple[_AtomState, ...], ws: bool) -> int:
        total = 0
        for fact, (_matches, b0, _exact, contiguous, flags) in zip(facts, state, strict=True):
            bound = fact.bound.bound
            if isinstance(contiguous, tuple) and fact.pairs:
                # the best contiguous occurrence, or an alignment with a gap
                total += max(bound(min(contiguous[0], b0), flags, False, ws), bound(b0, flags, True, ws))
            else:
                total += bound(b0, flags, contiguous is False, ws)
        return total

    queue: list[tuple[int, int, _Bucket]] = []
    order = itertools.count()

    def push(members: _Members, state: tuple[_AtomState, ...], ws: bool, tried: bool = False) -> None:
        if isinstance(members, _Complement) and members.size or members:
            bucket = _Bucket(members, state, ws, bound_of(state, ws), tried)
            heapq.heappush(queue, (-bucket.bound, next(order), bucket))

    start = tuple(
        # a one-character atom known to match is known to be contiguous
        (
            True if k else None,
            f.bound.first_cap,
            f.bound.first_cap == 0,
            (BONUS_BOUNDARY_WHITE, True) if k and not f.pairs else None,
            (None,) * len(f.pairs),
        )
        for f, k in zip(facts, known, strict=True)
    )
    whitespace = _whitespace(index)
    if whitespace:
        with_ws, without = _split(universe, map(whitespace.__contains__, universe))  # type: ignore[arg-type]
        push(with_ws, start, True)
        push(without(), start, False)
    else:
        push(universe, start, False)

    def exact(members: Sequence[int]) -> list[int]:
        scores = facts[0].exact(members)
        for fact in facts[1:]:
            more = fact.exact(members)
            scores = [-1 if a < 0 or b < 0 else a + b for a, b in zip(scores, more, strict=True)]
        return scores

    scored: list[int] = []
    seen: set[int] = set()  # streamed: a child bucket streams its first members not scored yet
    while queue:
        if should_stop():
            raise Cancelled
        if len(heap) == LIMIT and heap[0][0] >= -queue[0][0]:
            break  # nothing left can beat the 50th (an equal score only ties at the cut)
        _neg, _seq, bucket = heapq.heappop(queue)
        if isinstance(bucket.members, _Complement):
            bucket.members = bucket.members()
        members = bucket.members
        if not members:
            continue
        if not bucket.tried:
            # the streamed members stay in the bucket (whole buckets reuse the masks of earlier
            # keystrokes); offering them again later changes nothing
            part = list(itertools.islice(itertools.filterfalse(seen.__contains__, members), _STREAM))
            if part:
                offer(part, exact(part))
                scored.extend(part)
                seen.update(part)
            if len(members) > len(part):
                push(members, bucket.state, bucket.ws, tried=True)
            continue
        if len(members) > _SMALL and _refine(bucket, facts, push, heap[0][0] if len(heap) == LIMIT else -1):
            continue
        offer(members, exact(members))
        scored.extend(members)
    if len(atoms) == 1:
        # what may still match: every bucket left, plus what was scored (non-matches included)
        left = [b.members for _n, _s, b in queue]
        if sum(m.size if isinstance(m, _Complement) else len(m) for m in left) + len(scored) < 0.8 * len(universe):
            rest = {i for m in left for i in (m() if isinstance(m, _Complement) else m)}
            _remember(index, atoms[0], sorted(rest.union(scored)), complete=False)


def _refine(bucket: _Bucket, facts: Sequence[_AtomFacts], push: Callable[..., None], floor: int) -> bool:
    """Split the bucket on the next unknown fact worth a pass; False when none is left.
    `floor` is the 50th best score so far (-1 while there are fewer). Facts go from the most
    telling to the least, across atoms; whether a short atom matches at all comes last, as
    exact scoring finds that out too."""
    members = bucket.members
    ws = bucket.ws
    state = bucket.state
    for step in range(5):
        for a, (fact, (matches, b0, b0_exact, contiguous, flags)) in enumerate(zip(facts, state, strict=True)):

            def put(found: _Members, new: _AtomState, a: int = a) -> None:
                push(found, state[:a] + (new,) + state[a + 1 :], ws)

            # a longer atom's subsequence test is usually selective: it goes first and shrinks the
            # universe of the next keystroke (unless a shorter prefix was found nearly everywhere)
            if matches is None and (step == 4 or step == 0 and fact.eager):
                put(fact.matching(members), (True, b0, b0_exact, contiguous, flags))
                return True
            if step == 0 and not b0_exact and (fact.pairs or matches):
                hit, rest = fact.test(members, "marks", fact.first + chr(BONUS_CODE + b0))
                put(hit, (matches, b0, True, contiguous, flags))
                lower = next(level for level in _B0_LEVELS if level < b0)
                put(rest, (matches, lower, lower == 0, contiguous, flags))
                return True
            # a one-character atom is contiguous exactly where it matches: drop the rest first
            if step == 1 and contiguous is None or step == 0 and not fact.pairs and contiguous is None:
                hit, rest = fact.test(members, "keys", fact.atom.needle)
                if len(hit) >= 0.8 * len(fact.keys):
                    fact.dense.add((fact.atom.ignore_case, fact.atom.needle))
                put(hit, (True, b0, b0_exact, (b0, not fact.pairs), (True,) * len(flags)))
                if fact.pairs:  # a one-character atom that is not a substring does not match
                    put(rest, (matches, b0, b0_exact, False, flags))
                return True
            if step == 2 and b0_exact and isinstance(contiguous, tuple) and not contiguous[1]:
                # is there a contiguous occurrence whose first character has this bonus?
                cap = min(contiguous[0], b0)
                run = "".join(
                    re.escape(c) + (chr(BONUS_CODE + cap) if i == 0 else ".") for i, c in enumerate(fact.atom.needle)
                )
                hit, rest = fact.test(members, "marks-regex", run)
                put(hit, (matches, b0, b0_exact, (cap, True), flags))
                lower = next(level for level in _B0_LEVELS if level < cap) if cap else 0
                put(rest, (matches, b0, b0_exact, (lower, lower == 0), flags))
                return True
            if step == 2 and None in flags:
                # the pair whose absence would lower the bound most
                def apart(
                    k: int, flags: tuple[PairFact, ...] = flags, pairs: list[str] = fact.pairs
                ) -> tuple[PairFact, ...]:
                    return tuple((1, False) if pairs[j] == pairs[k] else f for j, f in enumerate(flags))

                unknown = [k for k, f in enumerate(flags) if f is None]
                k = min(unknown, key=lambda k: fact.bound.bound(b0, apart(k), True, ws))
                pair = fact.pairs[k]
                hit, rest = fact.test(members, "keys", pair)
                yes = tuple(True if fact.pairs[j] == pair else f for j, f in enumerate(flags))
                put(hit, (matches, b0, b0_exact, contiguous, yes))
                put(rest, (matches, b0, b0_exact, contiguous, apart(k)))
                return True
            if step == 3 and bucket.bound - floor <= _GAP_STEPS:
                # longer gaps lower the bound by one a step: only worth a pass near the floor
                for k, flag in enumerate(flags):
                    if isinstance(flag, tuple) and not flag[1]:
                        gap = flag[0]
                        pair = fact.pairs[k]
                        hit, rest = fact.test(members, "regex", re.escape(pair[0]) + "." * gap + re.escape(pair[1]))
                        longer = (gap + 1, gap + 1 >= _GAP_STEPS)
                        put(hit, (matches, b0, b0_exact, contiguous, flags[:k] + ((gap, True),) + flags[k + 1 :]))
                        put(rest, (matches, b0, b0_exact, contiguous, flags[:k] + (longer,) + flags[k + 1 :]))
                        return True
    return False


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


WARM_HELPER_AFTER_SECONDS = 1.0


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
        self._warming: threading.Timer | None = None

    def on_start(self) -> None:
        # The walk helper (a second process for big cold indexes) starts once the server has
        # settled, so that the first file-picker keystroke finds it ready.
        self._warming = threading.Timer(WARM_HELPER_AFTER_SECONDS, self.store.warm_helper)
        self._warming.daemon = True
        self._warming.start()

    def on_stop(self) -> None:
        if self._warming is not None:
            self._warming.cancel()
        self.store.close()

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
