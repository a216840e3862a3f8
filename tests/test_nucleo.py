"""nucleo-compatible scoring: the reference scorer and the search's fast path agree with 0.58."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from calibration import CALIBRATION

from actors.file_index import IndexStore
from actors.fuzzy_search import search_roots
from actors.nucleo import Pattern, graphemes_first, score_paths, split_atoms


@pytest.mark.parametrize(("query", "path", "score", "indices"), CALIBRATION)
def test_reference_scorer_matches_calibration(query: str, path: str, score: int, indices: list[int]) -> None:
    assert Pattern(query).indices(path) == (score, indices)
    assert Pattern(query).score(path) == score


@pytest.fixture
def calibration_tree(tmp_path: Path) -> Path:
    for _query, path, _score, _indices in CALIBRATION:
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch()
    return tmp_path


@pytest.mark.parametrize(("query", "path", "score", "indices"), CALIBRATION)
def test_fast_path_matches_calibration(
    calibration_tree: Path, query: str, path: str, score: int, indices: list[int]
) -> None:
    store = IndexStore(home=None, env={})
    files = search_roots(store, query, [str(calibration_tree)], lambda: False)["files"]
    found = [f for f in files if f["path"] == path]
    assert found, f"{path} missing from {files}"
    assert (found[0]["score"], found[0]["indices"]) == (score, indices)


def test_smart_case() -> None:
    assert Pattern("MAIN").score("MAIN.md") is not None
    assert Pattern("MAIN").score("main.md") is None
    assert Pattern("main").score("MAIN.md") is not None


def test_smart_normalisation() -> None:
    assert Pattern("cafe").indices("café.txt") == Pattern("cafe").indices("cafe.txt")
    assert Pattern("café").score("cafe.txt") is None
    assert Pattern("café").score("café.txt") is not None


def test_atoms_sum_and_special_characters_are_literal() -> None:
    both = Pattern("comp but").score("src/components/Button.tsx")
    assert both == Pattern("comp").score("src/components/Button.tsx") + Pattern("but").score(
        "src/components/Button.tsx"
    )
    assert Pattern("^src").score("src/a") is None
    assert Pattern("^src").score("x^src") is not None
    assert Pattern("!x").score("a!x") is not None
    assert split_atoms("a\\ b c") == ["a\\ b", "c"]
    assert Pattern("a\\ b").atoms[0].needle == "a b"


def test_whitespace_only_query_matches_everything_with_zero() -> None:
    assert Pattern("   ").indices("anything") == (0, [])


def test_normalisation_table_quirk_of_0_3_1() -> None:
    # U+1D08 normalises to the sixth target of the first table ('A'), as the 0.58 binary does.
    assert Pattern("a").score("\u1d08.txt") is not None
    assert Pattern("e").score("\u1d08") is None


def test_graphemes_keep_first_code_point() -> None:
    assert graphemes_first("e\u0301te\u0301") == "ete"
    assert graphemes_first("a\r\nb") == "a\rb"
    assert graphemes_first("\U0001f1eb\U0001f1f7x") == "\U0001f1ebx"


def test_decomposed_name_is_matched_bytewise_like_0_58() -> None:
    # graphemes all start with ASCII, so nucleo 0.3.1 scores the raw UTF-8 bytes
    assert Pattern("ete").indices("e\u0301te\u0301") == (80, [0, 3, 4])


def test_long_needle_falls_back_to_greedy() -> None:
    path = "a" * 3000 + "b"
    assert Pattern("ab").score(path) is not None
    needle = "ab" * 60
    hay = "xa" * 900 + "b" * 5 + ("ab" * 60)
    assert Pattern(needle).score(hay) is not None


def test_fast_path_agrees_with_reference_on_random_trees(tmp_path: Path) -> None:
    rng = random.Random(7)
    alphabet = "abcdemnrstABMR019_-./é"
    made: set[str] = set()
    for _ in range(400):
        parts = [
            "".join(rng.choice(alphabet[:-2] + "é") for _ in range(rng.randint(1, 7))) for _ in range(rng.randint(1, 3))
        ]
        if any(p in (".", "..") or p.startswith(".") for p in parts):
            continue
        path = "/".join(parts)
        target = tmp_path / path
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.is_dir():
                target.touch()
                made.add(path)
        except OSError:
            continue
    all_files = sorted(
        os.path.relpath(os.path.join(d, f), tmp_path) for d, _dirs, files in os.walk(tmp_path) for f in files
    )
    store = IndexStore(home=None, env={})
    queries = ["a", "m", "ab", "mn", "abc", "Ab", "e", "é", "a b", "d_", "r/a", "mna", "st m", "0"]
    queries += ["".join(rng.choice("abdemnrst_") for _ in range(rng.randint(2, 5))) for _ in range(20)]
    for query in queries:
        expected = score_paths(query, all_files)
        got = search_roots(store, query, [str(tmp_path)], lambda: False)["files"]
        assert [f["score"] for f in got] == [e[1] for e in expected[:50]], query
        # equal scores may pick different paths at the cut, never different scores or indices
        by_path = {e[0]: e for e in expected}
        for f in got:
            assert (f["score"], f["indices"]) == (by_path[f["path"]][1], by_path[f["path"]][2]), query


def _facts(atom_needle: str, ignore_case: bool, path: str) -> tuple[int, tuple[object, ...], bool, bool] | None:
    """The facts AtomBound reads, measured directly on one path (None: the atom cannot start)."""
    from actors.nucleo import _BONUS, _BYTE_CLASS, INITIAL_CLASS

    key = path.lower() if ignore_case else path
    first = atom_needle[0]
    bonuses = [
        _BONUS[_BYTE_CLASS[ord(path[j - 1])] if j else INITIAL_CLASS][_BYTE_CLASS[ord(path[j])]]
        for j in range(len(path))
    ]
    b0s = [bonuses[j] for j in range(len(key)) if key[j] == first]
    if not b0s:
        return None
    pairs: list[object] = []
    for k in range(1, len(atom_needle)):
        a, b = atom_needle[k - 1], atom_needle[k]
        if a + b in key:
            pairs.append(True)
            continue
        gaps = [j2 - j1 - 1 for j1 in range(len(key)) if key[j1] == a for j2 in range(j1 + 1, len(key)) if key[j2] == b]
        pairs.append((min(gaps), True) if gaps else (len(key), True))
    ws = any(c in path for c in " \t\r\x0c\n")
    return max(b0s), tuple(pairs), atom_needle not in key, ws


def test_atom_bound_never_underestimates_and_is_tight_on_runs() -> None:
    from actors.nucleo import AtomBound, score_ascii

    rng = random.Random(11)
    alphabet = "abcmnsAB_-./ 1"
    for _ in range(3000):
        path = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 24)))
        needle = "".join(rng.choice("abcmnsAB_./1") for _ in range(rng.randint(1, 5)))
        atom = Pattern(needle).atoms[0] if Pattern(needle).atoms else None
        if atom is None:
            continue
        key = path.lower() if atom.ignore_case else path
        score = score_ascii(atom, path, key)
        facts = _facts(atom.needle, atom.ignore_case, path)
        if score is None or facts is None:
            continue
        b0, pairs, must_gap, ws = facts
        bound = AtomBound(atom).bound(b0, pairs, must_gap, ws)  # type: ignore[arg-type]
        assert bound >= score, (needle, path, bound, score)
        # unknown facts only loosen it
        loose = AtomBound(atom).bound(b0, (None,) * len(pairs), False, True)
        assert loose >= bound
    main = Pattern("main").atoms[0]
    assert AtomBound(main).bound(9, (True, True, True), False, False) == Pattern("main").score("src/main.py") == 109
    assert AtomBound(main).bound(10, (True, True, True), False, False) == Pattern("main").score("main.txt") == 114


def test_bonus_marks_spell_each_characters_bonus(tmp_path: Path) -> None:
    from actors.fuzzy_search import _marks, _Snapshot
    from actors.nucleo import _BONUS, _BYTE_CLASS, BONUS_CODE, INITIAL_CLASS

    names = ["src/fooBar.ts", "a b/c-d.e", "x/Y1z,w", "é/plain.txt", "q|r;s:t"]
    for name in names:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).touch()
    store = IndexStore(home=None, env={})
    snapshot = _Snapshot(store.get(str(tmp_path)))
    for ignore_case in (True, False):
        marks = _marks(snapshot, ignore_case)
        for path, mark in zip(snapshot.paths, marks, strict=True):
            if not path.isascii():
                assert mark == ""
                continue
            key = path.lower() if ignore_case else path
            bonuses = [
                _BONUS[_BYTE_CLASS[ord(path[j - 1])] if j else INITIAL_CLASS][_BYTE_CLASS[ord(path[j])]]
                for j in range(len(path))
            ]
            assert mark == "".join(c + chr(BONUS_CODE + b) for c, b in zip(key, bonuses, strict=True))


SEPARATORS = ["", "_", "-", ".", " ", "1", "X"]


def test_bucket_engine_agrees_with_reference_on_tied_and_varied_trees(tmp_path: Path) -> None:
    rng = random.Random(5)
    words = ["main", "Main", "config", "mc", "src", "Button", "fooBar", "a1b2", "ab", "a_b", "a.b", "A B", "tsx", "sub"]
    made: list[str] = []
    for i in range(300):  # many equal scores: the early stop must still find the best ones
        made.append(f"dir_{i % 7}/sub_{i % 3}/file_{i}.txt")
    for _ in range(500):
        parts = [
            "".join(rng.choice(words) + rng.choice(SEPARATORS) for _ in range(rng.randint(1, 3)))
            for _ in range(rng.randint(1, 4))
        ]
        made.append("/".join(p.strip() or "w" for p in parts))
    for path in made:
        target = tmp_path / path
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.is_dir():
                target.touch()
        except OSError:
            continue
    all_files = sorted(
        os.path.relpath(os.path.join(d, f), tmp_path) for d, _dirs, files in os.walk(tmp_path) for f in files
    )
    queries = ["file_1", "f", "fi", "12", "sub/f", "d/s/f", "main", "Main", "mc", "MC", "a b", "A B", "ab", "aB"]
    queries += ["fooBar", "fb", "a1", "s/u", "tsx", "mainconfig", "main conf", "zzz", "ma\\ in", "_", ".", "/"]
    store = IndexStore(home=None, env={})
    for query in queries:
        expected = score_paths(query, all_files)
        got = search_roots(store, query, [str(tmp_path)], lambda: False)["files"]
        assert [f["score"] for f in got] == [e[1] for e in expected[:50]], query
        by_path = {e[0]: e for e in expected}
        for f in got:
            assert (f["score"], f["indices"]) == (by_path[f["path"]][1], by_path[f["path"]][2]), query
