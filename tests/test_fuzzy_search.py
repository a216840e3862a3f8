"""The fuzzy-search actor: 0.58's results over real trees, cancellation by token, a free mailbox."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pykka
import pytest

from actors import file_index
from actors.file_index import IndexStore, RootIndex
from actors.fuzzy_search import FuzzySearchActor
from messages.internal import Call, Failure, Reply


class Recorder(pykka.ThreadingActor):
    """Stands in for the outgoing actor: keeps every message, answers `ask` with the list."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[Any] = []
        self.arrived = threading.Condition()

    def on_receive(self, message: Any) -> Any:
        if message == "get":
            return list(self.seen)
        self.seen.append(message)
        return None


@pytest.fixture(autouse=True)
def stop_actors():
    yield
    pykka.ActorRegistry.stop_all()


def wait_for(recorder: pykka.ActorRef, count: int, timeout: float = 20.0) -> list[Any]:
    import time

    deadline = time.monotonic() + timeout
    while True:
        seen = recorder.ask("get")
        if len(seen) >= count or time.monotonic() > deadline:
            return seen
        time.sleep(0.01)


def call(request_id: int, query: str, roots: list[str], token: str | None = None) -> Call:
    params = SimpleNamespace(query=query, roots=roots, cancellation_token=token)
    return Call(0, request_id, "fuzzyFileSearch", "fuzzy_file_search", params, "ua")


def start(store: IndexStore | None = None) -> tuple[pykka.ActorRef, pykka.ActorRef]:
    recorder = Recorder.start()
    actor = FuzzySearchActor.start(recorder, None, store=store or IndexStore(home=None, env={}))
    return recorder, actor


def search(query: str, roots: list[str], store: IndexStore | None = None) -> dict[str, Any]:
    recorder, actor = start(store)
    actor.tell(call(1, query, roots))
    (reply,) = wait_for(recorder, 1)
    assert isinstance(reply, Reply), reply
    return reply.result


def touch(root: Path, *paths: str) -> None:
    for rel in paths:
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("")


def test_empty_query_and_no_roots_answer_empty(tmp_path: Path) -> None:
    touch(tmp_path, "main.py")
    assert search("", [str(tmp_path)]) == {"files": []}
    assert search("main", []) == {"files": []}


def test_result_shape_and_root_echoed_verbatim(tmp_path: Path) -> None:
    touch(tmp_path, "src/main.py", "main.txt")
    odd_root = str(tmp_path) + "/./src/.."
    files = search("main", [odd_root])["files"]
    assert files == [
        {"root": odd_root, "path": "main.txt", "file_name": "main.txt", "score": 114, "indices": [0, 1, 2, 3]},
        {"root": odd_root, "path": "src/main.py", "file_name": "main.py", "score": 109, "indices": [4, 5, 6, 7]},
    ]
    assert list(files[0]) == ["root", "path", "file_name", "score", "indices"]


def test_missing_and_file_roots_contribute_nothing(tmp_path: Path) -> None:
    touch(tmp_path, "main.txt")
    files = search("main", [str(tmp_path / "nope"), str(tmp_path / "main.txt"), "relative-missing", str(tmp_path)])
    assert [(f["root"], f["path"]) for f in files["files"]] == [(str(tmp_path), "main.txt")]


def test_multiple_and_duplicate_roots_merge_by_score_then_path(tmp_path: Path) -> None:
    touch(tmp_path, "a/main.txt", "a/x/main.rs", "b/src/main.py", "b/amain.c")
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    files = search("main", [a, b, a])["files"]
    got = [(f["score"], f["path"], f["root"]) for f in files]
    assert got == [
        (114, "main.txt", a),
        (114, "main.txt", a),
        (109, "src/main.py", b),
        (109, "x/main.rs", a),
        (109, "x/main.rs", a),
        (76, "amain.c", b),
    ]


def test_top_fifty_per_root(tmp_path: Path) -> None:
    touch(tmp_path, *[f"d{i:03d}/file.txt" for i in range(80)])
    files = search("file", [str(tmp_path)])["files"]
    assert len(files) == 50
    assert [f["path"] for f in files] == sorted(f["path"] for f in files)


def test_unicode_names(tmp_path: Path) -> None:
    touch(tmp_path, "docs/café.txt", "docs/cafe.md", "naïve/Straße.rs", "e\u0301te\u0301")
    assert {f["path"] for f in search("cafe", [str(tmp_path)])["files"]} == {"docs/café.txt", "docs/cafe.md"}
    assert [f["path"] for f in search("café", [str(tmp_path)])["files"]] == ["docs/café.txt"]
    strasse = search("straße", [str(tmp_path)])["files"]
    assert [(f["path"], f["indices"]) for f in strasse] == [("naïve/Straße.rs", [6, 7, 8, 9, 10, 11])]
    # 0.58 scores a name whose graphemes start with ASCII byte-wise: byte indices
    ete = search("ete", [str(tmp_path)])["files"]
    assert [(f["path"], f["score"], f["indices"]) for f in ete] == [
        ("e\u0301te\u0301", 80, [0, 3, 4]),
        ("naïve/Straße.rs", 39, [4, 7, 11]),
    ]


# -- ignore rules ------------------------------------------------------------------------------

IGNORE_TREE = {
    ".gitignore": "*.log\n!keep.log\nbuild/\n/top_only.txt\ndocs/**/*.tmp\nsp\\ ace.txt\nfoo/**\n"
    "\\#hash.txt\ntrail.txt   \n[ab]x.txt\n**/deep/z.txt\n",
    ".ignore": "ign_by_ignore.txt\n!unignored_by_ignore.log\n",
    "sub/.gitignore": "!*.log\nlocal.txt\n/a.txt\n",
    "sub/sub2/.ignore": "*.md\n",
    "nested/.git/HEAD": "ref: refs/heads/main\n",
    "nested/.git/info/exclude": "excluded.txt\n",
}
IGNORE_FILES = [
    "a.txt", "x.log", "keep.log", "unignored_by_ignore.log", "ign_by_ignore.txt", "top_only.txt",
    "sub/top_only.txt", "build/out.js", "sub/build/o.js", "docs/a/b.tmp", "docs/c.tmp", "sp ace.txt",
    "foo/x.txt", "#hash.txt", "trail.txt", "ax.txt", "cx.txt", "q/deep/z.txt", "deep/z.txt", ".hidden/h.txt",
    ".env", "sub/x.log", "sub/local.txt", "sub/a.txt", "local.txt", "sub/sub2/r.md", "sub/sub2/s.txt",
    "nested/x.log", "nested/excluded.txt", "nested/ok.txt", "real/f.txt",
]  # fmt: skip
# What codex app-server 0.58.0 lists for this tree (observed).
IGNORE_EXPECTED = sorted([
    ".env", ".gitignore", ".hidden/h.txt", ".ignore", "a.txt", "alink.txt", "cx.txt", "fifo", "keep.log",
    "link/f.txt", "local.txt", "nested/.git/HEAD", "nested/.git/info/exclude", "nested/ok.txt", "real/f.txt",
    "sub/.gitignore", "sub/sub2/.ignore", "sub/sub2/s.txt", "sub/top_only.txt", "sub/x.log",
    "unignored_by_ignore.log",
])  # fmt: skip


@pytest.fixture
def ignore_tree(tmp_path: Path) -> Path:
    root = tmp_path / "r"
    for rel, text in IGNORE_TREE.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    touch(root, *IGNORE_FILES)
    os.symlink("real", root / "link")
    os.symlink("..", root / "real" / "loop")  # a loop: skipped
    os.symlink("nowhere", root / "dangling")  # dangling: skipped
    os.symlink("a.txt", root / "alink.txt")
    os.mkfifo(root / "fifo")
    return root


def test_walk_honours_ignore_rules_like_0_58(ignore_tree: Path) -> None:
    index = RootIndex(str(ignore_tree), None, {})
    index.build()
    assert index.paths == IGNORE_EXPECTED


def test_gitignore_above_the_root_applies(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*.bak\nr/anch.txt\n")
    root = tmp_path / "r"
    touch(root, "x.bak", "ok.txt", "anch.txt", "sub/anch.txt")
    index = RootIndex(str(root), None, {})
    index.build()
    # 0.58's ignore crate matches parent rules against <root>/<file name>, so sub/anch.txt goes too
    assert index.paths == ["ok.txt"]


def test_global_excludes_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".config" / "git").mkdir(parents=True)
    (home / ".config" / "git" / "ignore").write_text("*.swp\n")
    touch(tmp_path / "r", "a.swp", "a.txt")
    index = RootIndex(str(tmp_path / "r"), str(home), {})
    index.build()
    assert index.paths == ["a.txt"]


def test_walk_matches_rignore_oracle(ignore_tree: Path, tmp_path: Path) -> None:
    rignore = pytest.importorskip("rignore")
    found = []
    walker = iter(
        rignore.walk(
            str(ignore_tree), ignore_hidden=False, read_parents_ignores=False, require_git=False,
            follow_links=True, read_global_git_ignore=False,
        )
    )  # fmt: skip
    while True:
        try:
            entry = next(walker)
        except StopIteration:
            break
        except OSError:
            continue  # the dangling link and the loop are errors there too
        if not os.path.isdir(entry):
            found.append(os.path.relpath(str(entry), ignore_tree))
    index = RootIndex(str(ignore_tree), None, {})
    index.build()
    assert index.paths == sorted(found)


def test_refresh_sees_new_removed_and_newly_ignored_files(tmp_path: Path) -> None:
    touch(tmp_path, "a/one.txt", "b/two.txt")
    index = RootIndex(str(tmp_path), None, {})
    index.build()
    assert index.paths == ["a/one.txt", "b/two.txt"]
    touch(tmp_path, "a/new/three.txt")
    os.remove(tmp_path / "b/two.txt")
    (tmp_path / ".gitignore").write_text("one.txt\n")
    st = os.stat(tmp_path)
    os.utime(tmp_path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # coarse clocks
    assert index.refresh()
    assert index.paths == [".gitignore", "a/new/three.txt"]
    assert not index.refresh()


# -- cancellation and a free mailbox --------------------------------------------------------------


class GatedStore(IndexStore):
    """An IndexStore whose first build of `slow_root` waits for `release` (a slow cold index)."""

    def __init__(self, slow_root: str) -> None:
        super().__init__(home=None, env={})
        self.slow_root = slow_root
        self.release = threading.Event()
        self.entered = threading.Event()

    def get(self, root: str, should_stop: Any = lambda: False) -> RootIndex:
        if root == self.slow_root:
            self.entered.set()
            while not self.release.wait(0.01):
                if should_stop():
                    from actors.file_index import Cancelled

                    raise Cancelled
        return super().get(root, should_stop)


def test_new_search_with_same_token_cancels_the_running_one(tmp_path: Path) -> None:
    touch(tmp_path, "slow/main.txt", "fast/main.py")
    slow = str(tmp_path / "slow")
    store = GatedStore(slow)
    recorder, actor = start(store)
    actor.tell(call(1, "main", [slow], token="picker"))
    assert store.entered.wait(10)
    actor.tell(call(2, "mai", [str(tmp_path / "fast")], token="picker"))
    first, second = wait_for(recorder, 2)
    assert first == Reply(0, 1, {"files": []})
    assert isinstance(second, Reply) and second.request_id == 2
    assert [f["path"] for f in second.result["files"]] == ["main.py"]
    store.release.set()
    actor.ask(call(3, "", [slow]))  # synchronise: nothing more arrives for request 1
    assert [m.request_id for m in wait_for(recorder, 3)] == [1, 2, 3]


def test_other_tokens_and_requests_run_while_a_cold_index_builds(tmp_path: Path) -> None:
    touch(tmp_path, "slow/main.txt", "fast/main.py")
    slow = str(tmp_path / "slow")
    store = GatedStore(slow)
    recorder, actor = start(store)
    actor.tell(call(1, "main", [slow], token="a"))
    assert store.entered.wait(10)
    actor.tell(call(2, "", [slow], token="b"))
    actor.tell(call(3, "main", [str(tmp_path / "fast")], token="c"))
    replies = wait_for(recorder, 2)
    assert [r.request_id for r in replies] == [2, 3]
    store.release.set()
    replies = wait_for(recorder, 3)
    assert replies[2].request_id == 1
    assert [f["path"] for f in replies[2].result["files"]] == ["main.txt"]
    assert not any(isinstance(r, Failure) for r in replies)


def test_keystrokes_reuse_earlier_work_without_changing_results(tmp_path: Path) -> None:
    from actors.fuzzy_search import search_roots

    touch(tmp_path, *[f"dir_{i % 9}/sub_{i % 4}/file_{i}.txt" for i in range(400)])
    touch(tmp_path, "src/main.py", "src/mainConfig.ts", "docs/main_config.md", "maincfg.txt")
    typing = IndexStore(home=None, env={})
    root = str(tmp_path)
    for query in ["f", "fi", "fil", "file", "file_", "file_1", "file_12", "file_1", "m", "ma", "mai", "main", "mainc"]:
        warm = search_roots(typing, query, [root], lambda: False)
        cold = search_roots(IndexStore(home=None, env={}), query, [root], lambda: False)
        assert warm == cold, query
    index = typing.get(root)
    assert index.derived["universe"], "selective keystrokes leave what may match for the next one"
    for kept in index.derived["universe"].values():
        assert kept == sorted(set(kept)), "positions kept once each, in order"


def test_the_store_refreshes_a_used_index_in_the_background_once_searches_pause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(file_index, "QUIET_SECONDS", 0.2)
    touch(tmp_path, "a.py")
    store = IndexStore(home=None, env={}, refresh_seconds=0.0)
    try:
        index = store.get(str(tmp_path))
        assert index.paths == ["a.py"]
        touch(tmp_path, "sub/b.py")
        assert store.get(str(tmp_path)) is index  # a search: the refresh starts after a pause
        deadline = time.monotonic() + 10
        while "sub/b.py" not in index.paths and time.monotonic() < deadline:
            time.sleep(0.05)
        assert index.paths == ["a.py", "sub/b.py"]
    finally:
        store.close()
