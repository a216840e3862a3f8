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


def test_the_walk_stats_nothing_and_a_refresh_catches_a_change_a_coarse_clock_hides(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "one.txt").touch()
    old = (time.time_ns() - 3600 * 10**9,) * 2
    for directory in (tmp_path, tmp_path / "a"):
        os.utime(directory, ns=old)
    index = RootIndex(str(tmp_path), None, {})
    index.build()
    assert all(record.mtime_ns == file_index.UNKNOWN_MTIME for record in index.dirs.values())
    assert not index.refresh()  # the first refresh reads the times: old, so nothing is re-walked
    assert index.dirs["a"].mtime_ns == old[1]
    (tmp_path / "b.txt").touch()
    assert index.refresh()
    assert index.paths == ["a/one.txt", "b.txt"]
    # A change just after a walk listed "a", which a coarse file-system clock stamps just before.
    fresh = RootIndex(str(tmp_path), None, {})
    fresh.build()
    (tmp_path / "a" / "two.txt").touch()
    listed = fresh.dirs["a"].listed_ns
    os.utime(tmp_path / "a", ns=(listed - 10**9, listed - 10**9))
    assert fresh.refresh()
    assert fresh.paths == ["a/one.txt", "a/two.txt", "b.txt"]
