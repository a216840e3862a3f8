"""`fuzzyFileSearch` through the server subprocess (PROTOCOL.md §4.17, §8; DECISIONS 17, 20):
the calibration points, roots, unicode, ignore rules, cancellation and a free request queue."""

from __future__ import annotations

import inspect
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from calibration import CALIBRATION
from pytest_codex_app_server import AppServerClient

CALIBRATION_FILES = sorted({path for _, path, _, _ in CALIBRATION})


def touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")


def without_model(factory: Callable[..., AppServerClient]) -> dict[str, Any]:
    """The plugin may point config.toml at a scripted model of its own; search needs none."""
    return {"model": None} if "model" in inspect.signature(factory).parameters else {}


def search(client: AppServerClient, query: str, roots: list[str], **extra: Any) -> list[dict[str, Any]]:
    return client.request("fuzzyFileSearch", {"query": query, "roots": roots, **extra}, timeout=60)["files"]


def triples(files: list[dict[str, Any]]) -> list[tuple[str, int, list[int]]]:
    return [(f["path"], f["score"], f["indices"]) for f in files]


@pytest.fixture
def server(codex_app_server_factory: Callable[..., AppServerClient]) -> AppServerClient:
    return codex_app_server_factory(config_toml="", **without_model(codex_app_server_factory))


@pytest.fixture(scope="module")
def big_tree() -> Iterator[Path]:
    """100,000 files in 500 directories, plus a large ignored directory (on tmpfs when there is one:
    creating and deleting that many files on disk costs seconds)."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    top = Path(tempfile.mkdtemp(prefix="codex-fuzzy-", dir=base))
    root = top / "big"
    for d in range(500):
        folder = root / f"pkg{d:03d}" / f"mod{d % 7}"
        folder.mkdir(parents=True)
        for f in range(200):
            os.close(os.open(folder / f"file_{f:03d}_{d}.py", os.O_CREAT | os.O_WRONLY, 0o644))
    ignored = root / "node_modules" / "dep"
    ignored.mkdir(parents=True)
    for f in range(2000):
        os.close(os.open(ignored / f"file_{f}.js", os.O_CREAT | os.O_WRONLY, 0o644))
    (root / ".gitignore").write_text("node_modules/\n")
    yield root
    shutil.rmtree(top, ignore_errors=True)


# -- scores and indices -------------------------------------------------------------------------------
def test_the_calibration_points(server: AppServerClient, tmp_path: Path) -> None:
    touch(tmp_path, *CALIBRATION_FILES)
    root = str(tmp_path)
    answers: dict[str, list[dict[str, Any]]] = {}
    for query, path, score, indices in CALIBRATION:
        files = answers.setdefault(query, search(server, query, [root]))
        found = [f for f in files if f["path"] == path]
        assert found, f"{query!r} did not find {path}"
        assert (found[0]["score"], found[0]["indices"]) == (score, indices), (query, path)
        assert found[0]["root"] == root and found[0]["file_name"] == os.path.basename(path)
        assert list(found[0]) == ["root", "path", "file_name", "score", "indices"]
    # Every result list is sorted by score descending, then path.
    for files in answers.values():
        assert [(-f["score"], f["path"]) for f in files] == sorted((-f["score"], f["path"]) for f in files)
    # Smart case: an uppercase letter makes the atom case-sensitive.
    assert [f["path"] for f in search(server, "README", [root])] == ["README.md"]
    # No special syntax: ^, $, ! and ' are literal characters.
    for literal in ("^src", "py$", "!main", "'main"):
        assert search(server, literal, [root]) == [], literal


def test_roots_empty_query_and_whitespace(server: AppServerClient, tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    touch(one, "main.txt", "src/main.py")
    touch(two, "tests/test_main.py", "domain.rs")
    merged = search(server, "main", [str(one), str(two)])
    assert [(f["root"], f["path"], f["score"]) for f in merged] == [
        (str(one), "main.txt", 114), (str(one), "src/main.py", 109), (str(two), "tests/test_main.py", 104),
        (str(two), "domain.rs", 76),
    ]
    # Roots are echoed verbatim; duplicates give duplicate results (their order among equal
    # score and path is unspecified: 0.58 itself differs from run to run).
    spellings = [f"{one}/", f"{one}/./src/.."]
    duplicated = search(server, "main", spellings)
    assert sorted((f["path"], f["root"]) for f in duplicated) == sorted(
        (path, root) for path in ("main.txt", "src/main.py") for root in spellings)
    assert [f["path"] for f in duplicated] == ["main.txt", "main.txt", "src/main.py", "src/main.py"]
    # Missing, relative-and-missing and file-valued roots contribute nothing, without an error.
    odd = [str(tmp_path / "missing"), "relative/missing", str(one / "main.txt"), str(two)]
    assert [(f["root"], f["path"]) for f in search(server, "main", odd)] == [
        (str(two), "tests/test_main.py"), (str(two), "domain.rs")]
    assert search(server, "main", [str(tmp_path / "missing")]) == []
    # An empty query, no roots, a whitespace query.
    three = tmp_path / "three"
    touch(three, "b.txt", "a/c.txt", *(f"many/f{i:02d}.txt" for i in range(60)))
    assert server.request("fuzzyFileSearch", {"query": "", "roots": [str(three)]}) == {"files": []}
    # 0.58 panics on this one (PROTOCOL §8); the server answers and keeps running.
    assert server.request("fuzzyFileSearch", {"query": "abc", "roots": []}) == {"files": []}
    assert server.request("getUserAgent")["userAgent"]
    everything = search(server, "   ", [str(three)])
    assert len(everything) == 50  # the top 50 per root
    assert all(f["score"] == 0 and f["indices"] == [] for f in everything)
    assert [f["path"] for f in everything] == sorted(f["path"] for f in everything)
    assert [f["path"] for f in everything][:2] == ["a/c.txt", "b.txt"]


def test_unicode_names(server: AppServerClient, tmp_path: Path) -> None:
    touch(tmp_path, "docs/café.txt", "docs/cafe.md", "naïve/Straße.rs", "日本語/ファイル.txt")
    root = [str(tmp_path)]
    assert triples(search(server, "cafe", root)) == [
        ("docs/cafe.md", 109, [5, 6, 7, 8]), ("docs/café.txt", 109, [5, 6, 7, 8])]
    assert triples(search(server, "café", root)) == [("docs/café.txt", 109, [5, 6, 7, 8])]
    # Indices count characters, not bytes.
    assert triples(search(server, "ファイル", root)) == [("日本語/ファイル.txt", 109, [4, 5, 6, 7])]
    assert triples(search(server, "本フ", root)) == [("日本語/ファイル.txt", 37, [1, 4])]
    assert triples(search(server, "straße", root)) == [("naïve/Straße.rs", 159, [6, 7, 8, 9, 10, 11])]
    assert triples(search(server, "na str", root)) == [("naïve/Straße.rs", 146, [0, 1, 6, 7, 8])]
    # The response is UTF-8 JSON the client decodes back to the same names.
    raw = [line for line in server.lines if "ファイル" in line or "\\u30d5" in line]
    assert raw and json.loads(raw[-1])["result"]["files"][0]["file_name"] == "ファイル.txt"


IGNORE_TREE = {
    ".gitignore": "*.log\n!keep.log\nbuild/\n/top_only.txt\n",
    ".ignore": "by_ignore.txt\n",
    "sub/.gitignore": "!*.log\nlocal.txt\n",
    ".git/HEAD": "ref: refs/heads/main\n",
}
IGNORE_FILES = ["a.txt", "x.log", "keep.log", "by_ignore.txt", "top_only.txt", "sub/top_only.txt", "build/out.js",
                "sub/x.log", "sub/local.txt", ".hidden/h.txt", ".env", "real/f.txt"]
# What 0.58.0 lists for this tree: hidden files and .git/ included, symlinks followed.
IGNORE_EXPECTED = [".env", ".git/HEAD", ".gitignore", ".hidden/h.txt", ".ignore", "a.txt", "keep.log", "link/f.txt",
                   "real/f.txt", "sub/.gitignore", "sub/top_only.txt", "sub/x.log"]


def test_ignore_rules_hidden_files_and_symlinks(server: AppServerClient, tmp_path: Path) -> None:
    root = tmp_path / "r"
    for name, text in IGNORE_TREE.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    touch(root, *IGNORE_FILES)
    (root / "link").symlink_to("real")
    listed = sorted(f["path"] for f in search(server, " ", [str(root)]))
    assert listed == IGNORE_EXPECTED
    rignore = pytest.importorskip("rignore")
    oracle = sorted(
        os.path.relpath(str(entry), root)
        for entry in rignore.walk(str(root), ignore_hidden=False, read_parents_ignores=False, require_git=False,
                                  follow_links=True, read_global_git_ignore=False)
        if not os.path.isdir(entry)
    )
    assert listed == oracle


# -- concurrency ----------------------------------------------------------------------------------------
def test_cancellation_and_a_free_queue_during_a_cold_index(server: AppServerClient, big_tree: Path,
                                                           tmp_path: Path) -> None:
    touch(tmp_path / "small", "main.txt", "src/main.py")
    small = str(tmp_path / "small")
    server.request("fuzzyFileSearch", {"query": "main", "roots": [small]})  # the small index is warm
    slow = server.send("fuzzyFileSearch", {"query": "file_12", "roots": [str(big_tree)], "cancellationToken": "t"})
    other = server.send("fuzzyFileSearch", {"query": "main", "roots": [small], "cancellationToken": "u"})
    agent = server.send("getUserAgent")
    assert server.wait_response(agent)["userAgent"]
    assert [f["path"] for f in server.wait_response(other)["files"]] == ["main.txt", "src/main.py"]
    replacing = server.send("fuzzyFileSearch", {"query": "src", "roots": [small], "cancellationToken": "t"})
    assert server.wait_response(slow, timeout=120) == {"files": []}
    assert [f["path"] for f in server.wait_response(replacing)["files"]] == ["src/main.py"]

    def answered_at(request_id: int) -> int:
        for index, line in enumerate(list(server.lines)):
            message = json.loads(line)
            if message.get("id") == request_id and "method" not in message:
                return index
        raise AssertionError(f"no answer to {request_id}")

    # The user agent and the other token's search were answered while the cold index was building;
    # the superseded search answered empty, before the search that replaced it.
    assert answered_at(agent) < answered_at(slow)
    assert answered_at(other) < answered_at(slow)
    assert answered_at(slow) < answered_at(replacing)

    # The big tree searched for real, as 0.58 answers on the same tree: 23 matches, the eleven best
    # tied at 284 in path order; the ignored directory left out.
    files = search(server, "file_123_45", [str(big_tree)])
    assert len(files) == 23
    best = ["pkg045/mod3/file_123_45.py"] + [f"pkg45{i}/mod{(45 * 10 + i) % 7}/file_123_45{i}.py" for i in range(10)]
    assert [(f["path"], f["score"]) for f in files[:12]] == [(path, 284) for path in best] + [
        ("pkg405/mod6/file_123_405.py", 272)]
    assert search(server, "node_modules", [str(big_tree)]) == []


def _children(pid: int) -> dict[int, str]:
    """The processes whose parent is `pid`, with their command lines (from /proc)."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                found[int(entry)] = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError, IndexError):
            continue
    return found


def test_a_warm_walk_helper_shares_big_cold_indexes_and_leaves_with_the_server(
    server: AppServerClient, big_tree: Path
) -> None:
    deadline = time.monotonic() + 30
    helpers: list[int] = []
    while not helpers and time.monotonic() < deadline:
        helpers = [pid for pid, cmd in _children(server.process.pid).items() if "actors.walk_helper" in cmd]
        time.sleep(0.1)
    assert len(helpers) == 1, "the server should warm one walk helper once it has settled"
    assert [f["path"] for f in search(server, "file_123_45", [str(big_tree)])][0] == "pkg045/mod3/file_123_45.py"
    # The same helper is still there, waiting for the next cold index.
    assert [pid for pid, cmd in _children(server.process.pid).items() if "actors.walk_helper" in cmd] == helpers
    assert server.close() == 0
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{helpers[0]}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{helpers[0]}"), "the walk helper outlived the server"
