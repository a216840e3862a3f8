"""A big index walk shared with a helper process lists exactly what one process lists, refreshes
the same afterwards, and survives a helper that dies or a build that is cancelled."""

from __future__ import annotations

import marshal
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from actors import file_index, walk_helper, walk_sharing
from actors.file_index import Cancelled, RootIndex

WORDS = ["src", "lib", "app", "test", "build", "dist", "docs", "node_modules", "core", "util", "main", "view"]


def _big_tree(root: Path, seed: int = 7) -> None:
    """About 5,000 entries: enough checkpoints for the helper to join, ignore files at every
    depth (some edited in place later), a nested repository with info/exclude, and links."""
    rng = random.Random(seed)
    root.mkdir(exist_ok=True)
    (root / ".gitignore").write_text("*.log\nbuild/\n!keep.log\n")
    for top in range(48):
        top_dir = root / f"{rng.choice(WORDS)}{top:02d}"
        for sub in range(5):
            directory = top_dir / f"{rng.choice(WORDS)}{sub}"
            directory.mkdir(parents=True)
            for n in range(18):
                ext = rng.choice([".py", ".ts", ".log", ".tmp", ".md"])
                (directory / f"{rng.choice(WORDS)}_{n}{ext}").touch()
            if rng.random() < 0.2:
                (directory / "keep.log").touch()
        if top % 5 == 0:
            (top_dir / ".gitignore").write_text("*.tmp\n!important.tmp\n")
            (top_dir / "important.tmp").touch()
        if top % 7 == 0:
            (top_dir / ".ignore").write_text("*.md\n")
        if top % 11 == 0:
            (top_dir / ".git" / "info").mkdir(parents=True)
            (top_dir / ".git" / "info" / "exclude").write_text("*.ts\n")
            (top_dir / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    first = sorted(p for p in root.iterdir() if p.is_dir())[0]
    os.symlink("..", first / "up")  # back into its own ancestry: skipped
    os.symlink(first.name, root / "alias")  # a second way into a directory: walked


def _takes_a_batch_then(statement: str) -> str:
    """A stand-in helper program: takes the root, says it is ready, takes one batch, then runs
    `statement` instead of answering."""
    return (
        "import sys; sys.path.insert(0, sys.argv[1]); from actors.walk_helper import read_frame, write_frame; "
        "m = read_frame(sys.stdin.buffer); write_frame(sys.stdout.buffer, ('ready', m[1], True)); "
        f"read_frame(sys.stdin.buffer); {statement}"
    )


class _Recording(walk_sharing.Sharing):
    made: list[walk_sharing.Sharing] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _Recording.made.append(self)


@pytest.fixture
def sharings(monkeypatch: pytest.MonkeyPatch) -> list[walk_sharing.Sharing]:
    _Recording.made = []
    monkeypatch.setattr(walk_sharing, "Sharing", _Recording)
    return _Recording.made


def _patient(sharings: list[walk_sharing.Sharing], then: Callable[[int], bool] = lambda _n: False) -> Any:
    """A `should_stop` that, once a helper is starting, waits until it is ready: the build's own
    walk would otherwise finish a tree this small before the helper could take a batch."""
    calls = 0

    def should_stop() -> bool:
        nonlocal calls
        calls += 1
        for sharing in sharings:
            if sharing.helper is not None:
                assert sharing.helper.ready.wait(30), "the helper never got ready"
        return then(calls)

    return should_stop


def _single(root: Path) -> RootIndex:
    index = RootIndex(str(root), None, {})
    index.helper_after = None
    index.build()
    return index


def _shared(root: Path, sharings: list[walk_sharing.Sharing], pool: walk_sharing.HelperPool | None = None) -> RootIndex:
    index = RootIndex(str(root), None, {})
    index.helper_after = 0.0
    index.helper_pool = pool
    index.build(_patient(sharings))
    return index


def test_a_shared_walk_lists_exactly_what_one_process_lists(tmp_path: Path, sharings: list[Any]) -> None:
    _big_tree(tmp_path)
    alone = _single(tmp_path)
    shared = _shared(tmp_path, sharings)
    assert shared.helper_report is not None and shared.helper_report["batches"] >= 1
    helper_walked = [rel for rel, record in shared.dirs.items() if record.level is None]
    assert helper_walked, "the helper walked nothing"
    assert shared.paths == alone.paths
    assert sorted(shared.dirs) == sorted(alone.dirs)
    assert "alias" in shared.dirs  # a link to a directory is walked...
    assert not any(rel.endswith("/up") for rel in shared.dirs)  # ...unless it leads back up
    assert any(p.endswith("important.tmp") for p in shared.paths)
    assert not any(p.endswith(".log") and not p.endswith("keep.log") for p in shared.paths)


@pytest.fixture
def trusting(monkeypatch: pytest.MonkeyPatch) -> None:
    """A refresh trusts every directory made before the walk (a just-made one is otherwise
    listed again by the first refresh, see RACY_NS), so it re-walks only what changes after."""
    monkeypatch.setattr(file_index, "RACY_NS", 0)


def test_a_refresh_after_a_shared_walk_equals_a_fresh_walk(
    tmp_path: Path, sharings: list[Any], trusting: None
) -> None:
    _big_tree(tmp_path)
    shared = _shared(tmp_path, sharings)
    assert not shared.refresh()  # stats every directory once: all old, nothing re-walked
    helper_walked = sorted(rel for rel, record in shared.dirs.items() if record.level is None and "/" in rel)
    assert len(helper_walked) >= 3
    one, two, three = helper_walked[0], helper_walked[len(helper_walked) // 2], helper_walked[-1]
    (tmp_path / one / "fresh_file.py").touch()
    (tmp_path / two / ".gitignore").write_text("*.py\n")  # new rules deep in the helper's part
    top = three.split("/")[0]
    rules = tmp_path / top / ".gitignore"
    rules.write_text("*.md\n")  # created or edited in place: either way the stamp or mtime moves
    st = os.stat(rules)
    os.utime(rules, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert shared.refresh()
    assert shared.paths == _single(tmp_path).paths
    assert not shared.refresh() or shared.paths == _single(tmp_path).paths


def test_a_helper_that_dies_leaves_its_directories_to_the_build(
    tmp_path: Path, sharings: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(walk_sharing, "BOOT", _takes_a_batch_then("pass"))  # and exits without an answer
    _big_tree(tmp_path)
    shared = _shared(tmp_path, sharings)
    assert shared.helper_report is not None and shared.helper_report["failed"]
    assert shared.paths == _single(tmp_path).paths
    assert all(record.level is not None for record in shared.dirs.values())


def test_a_helper_that_cannot_start_changes_nothing(
    tmp_path: Path, sharings: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(walk_sharing.sys, "executable", str(tmp_path / "no-such-python"))
    _big_tree(tmp_path)
    index = RootIndex(str(tmp_path), None, {})
    index.helper_after = 0.0
    index.build()
    assert index.helper_report is not None and index.helper_report["failed"]
    assert index.paths == _single(tmp_path).paths


def test_a_cancelled_build_stops_its_helper(tmp_path: Path, sharings: list[Any]) -> None:
    _big_tree(tmp_path)
    index = RootIndex(str(tmp_path), None, {})
    index.helper_after = 0.0
    with pytest.raises(Cancelled):
        index.build(_patient(sharings, then=lambda calls: calls >= 12))
    (sharing,) = sharings
    assert sharing.helper is not None and sharing.helper.process.returncode is not None
    _assert_gone(sharing.helper.process.pid)


def _assert_gone(pid: int) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the helper outlived its cancelled build")


def test_a_warm_helper_serves_build_after_build_and_ends_with_its_pool(tmp_path: Path, sharings: list[Any]) -> None:
    _big_tree(tmp_path / "one")
    _big_tree(tmp_path / "two", seed=8)
    pool = walk_sharing.HelperPool()
    try:
        pool.warm()
        pids = set()
        for root in (tmp_path / "one", tmp_path / "two", tmp_path / "one"):
            shared = _shared(root, sharings, pool)
            assert shared.helper_report is not None and shared.helper_report["batches"] >= 1
            assert shared.paths == _single(root).paths
            pids.add(shared.helper_report["pid"])
        assert len(pids) == 1, "each build should have borrowed the same warm helper"
    finally:
        pool.close()
    _assert_gone(pids.pop())


def test_a_helper_left_mid_batch_by_a_cancelled_build_is_not_reused(
    tmp_path: Path, sharings: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    sits = _takes_a_batch_then("__import__('time').sleep(60)")
    _big_tree(tmp_path)
    pool = walk_sharing.HelperPool()
    try:
        index = RootIndex(str(tmp_path), None, {})
        index.helper_after = 0.0
        index.helper_pool = pool
        with monkeypatch.context() as patched, pytest.raises(Cancelled):
            patched.setattr(walk_sharing, "BOOT", sits)
            index.build(_patient(sharings, then=lambda _calls: sharings[0].batch is not None))
        first = sharings[0].helper
        assert first is not None
        _assert_gone(first.process.pid)
        shared = _shared(tmp_path, sharings, pool)
        assert shared.helper_report is not None and shared.helper_report["pid"] != first.process.pid
        assert shared.paths == _single(tmp_path).paths
    finally:
        pool.close()


def test_a_refresh_has_an_idle_helper_stat_the_directories(
    tmp_path: Path, sharings: list[Any], monkeypatch: pytest.MonkeyPatch, trusting: None
) -> None:
    _big_tree(tmp_path)
    monkeypatch.setattr(file_index, "HELPER_STAT_MIN", 10)
    pool = walk_sharing.HelperPool()
    try:
        shared = _shared(tmp_path, sharings, pool)
        some = sorted(rel for rel in shared.dirs if rel.count("/") == 1)[5]
        (tmp_path / some / "added_later.py").touch()

        def not_here(root: str, rels: list[str]) -> list[int]:
            raise AssertionError("the helper should have done the stats")

        with monkeypatch.context() as patched:
            patched.setattr(file_index, "stat_changes", not_here)
            assert shared.refresh()
        assert f"{some}/added_later.py" in shared.paths
        assert shared.paths == _single(tmp_path).paths
    finally:
        pool.close()


def test_a_helper_too_slow_to_stat_is_replaced_and_the_refresh_stats_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, trusting: None
) -> None:
    sits = "import time; time.sleep(60)"
    monkeypatch.setattr(walk_sharing, "BOOT", sits)
    monkeypatch.setattr(walk_sharing, "_STAT_TIMEOUT", 0.5)
    monkeypatch.setattr(file_index, "HELPER_STAT_MIN", 1)
    _big_tree(tmp_path)
    pool = walk_sharing.HelperPool()
    try:
        index = RootIndex(str(tmp_path), None, {})
        index.helper_after = None
        index.build()
        index.helper_pool = pool
        pool.warm()
        (tmp_path / "late.py").touch()
        assert index.refresh()
        assert "late.py" in index.paths
        assert pool.take() is None  # the slow one was killed, not kept
    finally:
        pool.close()


# -- the review's cases: frames behind frames, deep chains, Ctrl-C, small trees, a stuck helper --------


def test_frames_that_arrive_together_are_each_read(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    try:
        big = ("walk", 1, [f"dir{i:05d}/sub" for i in range(3000)])  # far more than one pipe read
        with os.fdopen(os.dup(write_end), "wb") as stream:
            for message in (big, ("split", 1), ("stat", 2, "/", [""])):
                stream.write(walk_helper._FRAME.pack(len(marshal.dumps(message))) + marshal.dumps(message))
        reader = walk_helper.FrameReader(read_end)
        assert reader.next(5) == big
        assert reader.next(0) == ("split", 1)  # already here: no wait, no select fooled by a buffer
        assert reader.next(0) == ("stat", 2, "/", [""])
        assert reader.next(0) is walk_helper.FrameReader.TIMEOUT
        os.close(write_end)
        write_end = -1
        assert reader.next(5) is None
    finally:
        os.close(read_end)
        if write_end >= 0:
            os.close(write_end)


def test_two_stat_requests_in_one_write_are_both_answered(tmp_path: Path) -> None:
    helper = walk_sharing.HelperProcess()
    try:
        assert helper.process.stdin is not None
        payload = b""
        for token in (1, 2):
            data = marshal.dumps(("stat", token, str(tmp_path), ["", "missing"]))
            payload += walk_helper._FRAME.pack(len(data)) + data
        helper.process.stdin.write(payload)
        helper.process.stdin.flush()
        answers = [helper.inbox.get(timeout=10), helper.inbox.get(timeout=10)]
        assert [(kind, token, stamps[1]) for kind, token, stamps in answers] == [("stats", 1, -1), ("stats", 2, -1)]
    finally:
        helper.close()


def test_the_rules_of_a_deep_chain_a_helper_walked_are_read_again_without_recursion(tmp_path: Path) -> None:
    # Deeper than the recursion limit in force below (a chain deeper than the default limit would
    # also defeat the recursive clean-up of pytest's own temporary directories).
    deep = tmp_path.joinpath(*(["d"] * 600))
    deep.mkdir(parents=True)
    (deep / "keep.txt").touch()
    (deep / "skip.log").touch()
    (tmp_path.joinpath(*(["d"] * 300)) / ".gitignore").write_text("*.log\n")
    index = RootIndex(str(tmp_path), None, {})
    index.helper_after = None
    index.build()
    rel = "/".join(["d"] * 600)
    expected = [(kind, rules.base) for kind, rules, _ in index.dirs[rel].level.active]
    for name, record in list(index.dirs.items()):  # as if the helper had walked all of it
        index.dirs[name] = type(record)((None, None, *record[2:]))
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(400)
    try:
        got = index.level_of(rel)
    finally:
        sys.setrecursionlimit(limit)
    assert got is not None and [(kind, rules.base) for kind, rules, _ in got.active] == expected
    assert rel + "/keep.txt" in index.paths and rel + "/skip.log" not in index.paths


def test_ctrl_c_leaves_the_helper_running_and_its_stderr_empty(tmp_path: Path) -> None:
    package_parent = str(Path(walk_helper.__file__).resolve().parent.parent)
    process = subprocess.Popen(
        [sys.executable, "-I", "-S", "-c", walk_helper.BOOT, package_parent],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None and process.stdin is not None
    assert walk_helper.read_frame(process.stdout) == ("hello",)
    process.send_signal(signal.SIGINT)
    walk_helper.write_frame(process.stdin, ("stat", 7, str(tmp_path), [""]))
    assert walk_helper.read_frame(process.stdout)[:2] == ("stats", 7)
    process.stdin.close()
    assert process.wait(10) == 0
    assert process.stderr is not None and process.stderr.read() == b""


def test_a_small_tree_starts_no_helper(tmp_path: Path) -> None:
    for name in ("a.py", "b/c.py", "b/d/e.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).touch()
    index = RootIndex(str(tmp_path), None, {})
    index.helper_after = 0.0
    index.build()
    assert index.helper_report == {"pid": None, "batches": 0, "failed": False}
    assert index.paths == ["a.py", "b/c.py", "b/d/e.py"]


def test_a_stuck_helper_is_given_up_and_its_batch_walked_here(
    tmp_path: Path, sharings: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(walk_sharing, "BOOT", _takes_a_batch_then("__import__('time').sleep(60)"))
    monkeypatch.setattr(walk_sharing, "_STALL_SECONDS", 0.5)
    _big_tree(tmp_path)
    shared = _shared(tmp_path, sharings)  # no should_stop ever says stop: only the stall ends the wait
    assert shared.helper_report is not None and shared.helper_report["failed"]
    assert shared.paths == _single(tmp_path).paths
    _assert_gone(shared.helper_report["pid"])  # type: ignore[arg-type]


def test_a_closed_store_keeps_no_helper() -> None:
    store = file_index.IndexStore(home=None, env={})
    store.close()
    store.warm_helper()  # a warm-up timer firing just after the actor stopped
    assert store.helper_pool().closed and store.helper_pool().take() is None
