"""The walk's fast paths (name prefilter, skipped levels) never change what is listed."""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest

from actors import file_index
from actors.file_index import RootIndex

NAMES = [
    "a", "b", "a.log", "b.txt", "node_modules", "dist", "x.md", "keep.log", "ab", "build", ".env", "c[1].txt",
    "q?", "z",
]  # fmt: skip
PATTERNS = [
    "*.log", "!keep.log", "node_modules/", "dist", "*.md", "!x.md", "/b.txt", "build/", "sub/*.txt", "a*",
    "[ab]", "[!a]b", "a[!x]b", "a?b", "**/z", "z/**", "?", "*", "!*", "c\\[1\\].txt", "\\!x", "deep/**/y",
    "*.txt/", "**",
]  # fmt: skip


def _tree(root: Path, rng: random.Random) -> None:
    for _ in range(60):
        parts = [rng.choice(NAMES + ["sub", "deep", "y"]) for _ in range(rng.randint(1, 4))]
        target = root.joinpath(*parts)
        try:
            if rng.random() < 0.3:
                target.mkdir(parents=True, exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.touch()
        except (FileExistsError, NotADirectoryError):
            continue
    directories = [p for p in [root, *root.rglob("*")] if p.is_dir()]
    for directory in rng.sample(directories, k=min(3, len(directories))):
        name = rng.choice([".gitignore", ".ignore"])
        (directory / name).write_text("\n".join(rng.sample(PATTERNS, k=rng.randint(1, 5))) + "\n")


def _listing(root: Path, home: Path | None, prefilter: bool, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setattr(file_index, "NAME_PREFILTER", prefilter)
    index = RootIndex(str(root), str(home) if home else None, {})
    index.build()
    return index.paths


@pytest.mark.parametrize("seed", range(40))
def test_prefilter_lists_exactly_what_the_rules_decide(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(seed)
    above = tmp_path / "above"
    root = above / "root"
    root.mkdir(parents=True)
    _tree(root, rng)
    if seed % 3 == 0:
        (above / ".gitignore").write_text("\n".join(rng.sample(PATTERNS, k=3)) + "\n")
    home = None
    if seed % 4 == 0:
        home = tmp_path / "home"
        (home / ".config" / "git").mkdir(parents=True)
        (home / ".config" / "git" / "ignore").write_text("\n".join(rng.sample(PATTERNS, k=2)) + "\n")
    fast = _listing(root, home, True, monkeypatch)
    exact = _listing(root, home, False, monkeypatch)
    assert fast == exact


def test_basename_only_detection() -> None:
    assert file_index.IgnoreFile("/", ["*.log", "node_modules/", "!keep.log", "**/z"]).basename_only
    for line in ("/top.txt", "a/b", "[ab]x", "**", "z/**", "deep/**/y"):
        assert not file_index.IgnoreFile("/", [line]).basename_only, line


def test_prefilter_is_used_for_plain_gitignores(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*.log\nbuild/\n")
    for name in ("a.log", "b.txt", "build/c.txt", "src/d.log", "src/e.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).touch()
    index = RootIndex(str(tmp_path), None, {})
    index.build()
    assert index.paths == [".gitignore", "b.txt", "src/e.py"]
    assert index.dirs[""].level.names is not None
    assert index.dirs["src"].level is index.dirs[""].level  # no ignore file of its own: shared
    assert os.path.isdir(tmp_path / "build")


def test_links_odd_names_and_refresh_match_a_fresh_walk(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "real" / "deep").mkdir(parents=True)
    (root / "real" / "deep" / "f.py").touch()
    (root / "real" / "skip.log").touch()
    (root / ".gitignore").write_text("*.log\n")
    os.symlink("real", root / "link")  # a linked directory: walked
    os.symlink("../..", root / "real" / "deep" / "up")  # back into its ancestry: skipped
    os.symlink("nowhere", root / "dangling")  # dangling: skipped
    os.symlink("real/deep/f.py", root / "flink.py")  # a linked file: listed
    os.mkfifo(root / "pipe")  # not a directory: listed
    with open(os.path.join(os.fsencode(root), b"bad\xff.txt"), "wb"):
        pass  # not valid UTF-8: never listed
    index = RootIndex(str(root), None, {})
    index.build()
    assert index.paths == [
        ".gitignore", "flink.py", "link/deep/f.py", "pipe", "real/deep/f.py",
    ]  # fmt: skip
    (root / "real" / "deep" / "new.log").touch()
    (root / "real" / "deep" / "new.txt").touch()
    (root / "real" / ".gitignore").write_text("*.txt\n")
    assert index.refresh()
    fresh = RootIndex(str(root), None, {})
    fresh.build()
    assert index.paths == fresh.paths
    assert "real/deep/new.txt" not in fresh.paths and "real/deep/new.log" not in fresh.paths


def _listed_at(index: RootIndex, rel: str, listed_ns: int) -> None:
    """Pretend the walk listed `rel` at `listed_ns` (the clocks these tests cannot wait for)."""
    record = index.dirs[rel]
    index.dirs[rel] = type(record)((record[0], record[1], record[2], listed_ns, record[4], record[5]))


def test_the_walk_stats_nothing_and_the_first_refresh_settles_each_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.txt").touch()
    index = RootIndex(str(tmp_path), None, {})
    index.build()
    assert all(record.changed_ns == file_index.UNKNOWN_STAMP for record in index.dirs.values())
    monkeypatch.setattr(file_index, "RACY_NS", 0)  # the tree was made before the walk: trusted
    assert not index.refresh()  # the first refresh reads the change times: nothing re-walked
    assert index.dirs["a"].changed_ns == os.stat(tmp_path / "a").st_ctime_ns
    # An archive tool adds a file and sets the directory's mtime back: its ctime still moves.
    old = (time.time_ns() - 3600 * 10**9,) * 2
    (tmp_path / "a" / "two.txt").touch()
    os.utime(tmp_path / "a", ns=old)
    assert index.refresh()
    assert index.paths == ["a/one.txt", "a/two.txt"]


def test_a_change_a_coarse_clock_stamps_before_the_listing_is_still_seen(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    index = RootIndex(str(tmp_path), None, {})
    index.build()
    (tmp_path / "a" / "late.txt").touch()
    # The walk listed "a" a second after the change's stamp: a clock of whole seconds (or one
    # tick behind) can stamp a change made just after the listing that way.
    _listed_at(index, "a", os.stat(tmp_path / "a").st_ctime_ns + 10**9)
    _listed_at(index, "", os.stat(tmp_path).st_ctime_ns + 60 * 10**9)  # the root: long settled
    assert index.refresh()
    assert index.paths == ["a/late.txt"]


def test_a_stamp_from_a_clock_ahead_of_ours_settles_after_one_walk(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.txt").touch()
    index = RootIndex(str(tmp_path), None, {})
    index.build()
    for rel in ("", "a"):  # as if the file system's clock ran a minute ahead of ours
        _listed_at(index, rel, os.stat(tmp_path / rel).st_ctime_ns - 60 * 10**9)
    assert not index.refresh()  # walked again (nothing new), and its stamps kept this time
    assert index.dirs["a"].changed_ns == os.stat(tmp_path / "a").st_ctime_ns
    kept = dict(index.dirs)
    assert not index.refresh()
    assert all(index.dirs[rel] is record for rel, record in kept.items()), "walked again at every refresh"
