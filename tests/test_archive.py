"""The archive actor: listing, summaries and archiving, driven the pykka way (PROTOCOL.md §5, §8;
CONVERSATIONS.md §9). The last tests compare our answers with the 0.58.0 binary when it is present."""

from __future__ import annotations

import errno
import itertools
import json
import os
import queue
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pykka
import pytest
from recorders import QueueRecorder as Recorder

from actors.archive import ArchiveActor
from actors.rollout_store import open_binary
from messages.internal import (
    Call,
    ConversationShutDown,
    Failure,
    FindRollout,
    Peers,
    Reply,
    ShutdownConversation,
)

FIXTURE = Path(__file__).parent / "fixtures" / "rollouts" / "home"
REFERENCE = Path("/work/ref058/node_modules/.bin/codex")
_ids = itertools.count(1)


def uid(n: int) -> str:
    return f"01a20b1c-0008-73b2-ae01-{n:012d}"


class FakeManager(pykka.ThreadingActor):
    """The conversations manager's stand-in: records ShutdownConversation and answers it."""

    def __init__(self, seen: queue.Queue[Any], answer: bool = True) -> None:
        super().__init__()
        self.seen = seen
        self.answer = answer

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, ShutdownConversation):
            self.seen.put(message)
            if self.answer:
                message.reply_to.tell(ConversationShutDown(message.token, was_loaded=True))
        return None


class Harness:
    def __init__(self, home: Path, **injected: Any) -> None:
        self.home = home
        self.inbox: queue.Queue[Any] = queue.Queue()
        outgoing = Recorder.start(self.inbox)
        config = SimpleNamespace(codex_home=home, model_provider_id=injected.pop("provider", "openai"))
        self.archive = ArchiveActor.start(outgoing, config, **injected)

    def call(self, handler: str, **params: Any) -> Any:
        request_id = next(_ids)
        self.archive.tell(Call(0, request_id, handler, handler, SimpleNamespace(**params), "ua"))
        while True:
            message = self.inbox.get(timeout=20)
            if isinstance(message, (Reply, Failure)) and message.request_id == request_id:
                return message

    def ok(self, handler: str, **params: Any) -> Any:
        answer = self.call(handler, **params)
        assert isinstance(answer, Reply), answer
        return answer.result

    def error(self, handler: str, **params: Any) -> tuple[int, str]:
        answer = self.call(handler, **params)
        assert isinstance(answer, Failure), answer
        return answer.code, answer.message


@pytest.fixture
def home(tmp_path: Path) -> Path:
    target = tmp_path / "home"
    shutil.copytree(FIXTURE, target, symlinks=True)
    (target / "sessions/2025/01/13" / f"rollout-2025-01-13T09-00-42-{uid(42)}.jsonl").mkdir()
    return Path(os.path.realpath(target))


def list_params(**params: Any) -> dict[str, Any]:
    return {"page_size": None, "cursor": None, "model_providers": None, **params}


def thread_params(**params: Any) -> dict[str, Any]:
    return {"limit": None, "cursor": None, "model_providers": None, **params}


def walk(h: Harness, handler: str, size: int, providers: list[str] | None) -> list[dict[str, Any]]:
    key, size_key = ("items", "page_size") if handler == "list_conversations" else ("data", "limit")
    found: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        page = h.ok(handler, **{size_key: size, "cursor": cursor, "model_providers": providers})
        found.extend(page[key])
        cursor = page["nextCursor"]
        if cursor is None:
            return found
    raise AssertionError("paging did not end")


def case(item: dict[str, Any]) -> int:
    return int((item.get("conversationId") or item["id"])[-12:])


# -- listing ---------------------------------------------------------------------------------------
def test_first_page_lists_interactive_sessions_of_the_configured_provider(home: Path) -> None:
    h = Harness(home)
    page = h.ok("list_conversations", **list_params())
    assert page["nextCursor"] is None
    assert [case(item) for item in page["items"]] == [
        40,
        9,
        5,
        2,
        1,
        20,
        19,
        17,
        16,
        15,
        14,
        13,
        11,
        31,
        30,
        26,
        24,
        33,
        34,
    ]
    first = next(item for item in page["items"] if case(item) == 1)
    assert list(first) == [
        "conversationId",
        "path",
        "preview",
        "timestamp",
        "modelProvider",
        "cwd",
        "cliVersion",
        "source",
        "gitInfo",
    ]
    assert first["gitInfo"] == {
        "sha": "9c32526d0e0a5bd5c0e1f2a3b4c5d6e7f8091a2b",
        "branch": "master",
        "origin_url": "https://example.invalid/repo.git",
    }
    assert first["path"] == str(home / "sessions/2025/01/13" / f"rollout-2025-01-13T09-00-01-{uid(1)}.jsonl")
    assert (first["preview"], first["timestamp"], first["source"]) == (
        "Say hi please",
        "2025-01-12T08:00:00.120Z",
        "vscode",
    )
    nameless = next(item for item in page["items"] if case(item) == 5)
    assert nameless["modelProvider"] == "openai"  # a meta without provider counts as the configured one


def test_provider_filter_has_three_meanings(home: Path) -> None:
    h = Harness(home, provider="mock")
    configured = h.ok("thread_list", **thread_params())["data"]
    assert [case(item) for item in configured] == [5, 4]  # absent provider → "mock" now
    assert next(item for item in configured if case(item) == 5)["modelProvider"] == "mock"
    everything = h.ok("thread_list", **thread_params(model_providers=[]))["data"]
    assert {4, 5, 1, 34, 33} <= {case(item) for item in everything}
    exact = h.ok("thread_list", **thread_params(model_providers=["Mock", "openai"]))["data"]
    assert 4 not in {case(item) for item in exact} and 1 in {case(item) for item in exact}


def test_threads_carry_epoch_seconds_and_key_order(home: Path) -> None:
    h = Harness(home)
    data = {case(item): item for item in h.ok("thread_list", **thread_params(limit=100))["data"]}
    assert list(data[1]) == ["id", "preview", "modelProvider", "createdAt", "path"]
    assert data[1]["createdAt"] == 1736668800
    assert data[19]["createdAt"] == 1736668800  # 17:00:00.5+09:00 is 08:00:00Z
    assert data[20]["createdAt"] == 0


def test_preview_rules(home: Path) -> None:
    h = Harness(home)
    previews = {case(item): item["preview"] for item in h.ok("thread_list", **thread_params(limit=100))["data"]}
    assert previews[11] == "after instructions"
    assert 12 not in previews  # only AGENTS.md and environment context: no qualifying message
    assert previews[13] == "fix the bug"
    assert previews[14] == ""  # image only
    assert previews[15] == "two parts"
    assert previews[16] == "  spaces kept  "
    assert previews[17] == "\n<user_instructions> is not a prefix here"
    assert 18 not in previews


def without_misfiled(home: Path) -> Path:
    """Drop the misfiled rollout: with it, 0.58's one-way anchor makes pages repeat (tested below)."""
    (home / "sessions/2025/01/10" / f"rollout-2025-01-15T10-00-01-{uid(33)}.jsonl").unlink()
    return home


def test_paging_has_no_duplicates_or_gaps_in_either_shape(home: Path) -> None:
    h = Harness(without_misfiled(home))
    whole = [case(item) for item in h.ok("list_conversations", **list_params(page_size=1000))["items"]]
    for size in (1, 2, 3, 7):
        assert [case(item) for item in walk(h, "list_conversations", size, None)] == whole
        assert [case(item) for item in walk(h, "thread_list", size, None)] == whole


def test_a_misfiled_rollout_restarts_paging_as_in_0_58(home: Path) -> None:
    h = Harness(home)
    everything = [case(item) for item in walk(h, "thread_list", 1000, [])]
    assert everything.index(33) == len(everything) - 2  # scanned in its directory, not by its name
    page = h.ok("thread_list", **thread_params(limit=1, model_providers=[], cursor=f"2025-01-15T10-00-01|{uid(33)}"))
    assert [case(item) for item in page["data"]] == [everything[0]]  # the anchor passes at the first file


def test_page_that_fills_on_the_last_file_has_no_cursor(home: Path) -> None:
    h = Harness(without_misfiled(home))
    cursor = h.ok("thread_list", **thread_params(limit=1, model_providers=[]))["nextCursor"]
    assert cursor == f"2025-01-13T09-00-40|{uid(40)}"  # from the name, in canonical lower case
    everything = walk(h, "thread_list", 1000, [])
    tail = h.ok("thread_list", **thread_params(limit=2, model_providers=[], cursor=_cursor_of(everything[-3])))
    assert [case(item) for item in tail["data"]] == [case(everything[-2]), case(everything[-1])]
    assert tail["nextCursor"] is None


def _cursor_of(item: dict[str, Any]) -> str:
    name = os.path.basename(item["path"])
    return f"{name[8:27]}|{name[28:-6].lower()}"


def test_invalid_cursor_is_ignored_and_an_old_one_gives_nothing(home: Path) -> None:
    h = Harness(home)
    first = h.ok("thread_list", **thread_params(limit=3))
    for bad in ("", "garbage", "2025-01-13T09-00-05|not-a-uuid", "2025-13-13T09-00-05|" + uid(1)):
        assert h.ok("thread_list", **thread_params(limit=3, cursor=bad)) == first
    old = h.ok("thread_list", **thread_params(cursor="2000-01-01T00-00-00|" + uid(1)))
    assert old == {"data": [], "nextCursor": None}


def test_missing_sessions_directory_lists_nothing(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    assert h.ok("list_conversations", **list_params()) == {"items": [], "nextCursor": None}


def test_new_rollouts_between_pages_cause_no_duplicates_or_gaps(home: Path) -> None:
    h = Harness(without_misfiled(home))
    before = [case(item) for item in walk(h, "thread_list", 1000, [])]
    seen: list[int] = []
    cursor = None
    for step in range(100):
        page = h.ok("thread_list", **thread_params(limit=2, model_providers=[], cursor=cursor))
        seen.extend(case(item) for item in page["data"])
        cursor = page["nextCursor"]
        if cursor is None:
            break
        day = home / "sessions/2026/02/01"
        day.mkdir(parents=True, exist_ok=True)
        body = (FIXTURE / "sessions/2025/01/13" / f"rollout-2025-01-13T09-00-02-{uid(2)}.jsonl").read_bytes()
        (day / f"rollout-2026-02-01T00-00-{step:02d}-{uid(100 + step)}.jsonl").write_bytes(
            body.replace(uid(2).encode(), uid(100 + step).encode())
        )
    assert seen == before
    newest = h.ok("thread_list", **thread_params(limit=1, model_providers=[]))["data"]
    assert case(newest[0]) >= 100  # the index saw the new day directory


def test_index_sees_appends_deletions_and_rewrites(home: Path) -> None:
    h = Harness(home)
    fresh = home / "sessions/2025/01/13" / f"rollout-2025-01-13T09-00-08-{uid(8)}.jsonl"
    assert 8 not in {case(item) for item in walk(h, "thread_list", 1000, [])}
    with open(fresh, "ab") as handle:  # another process appends the first user turn
        handle.write(
            (FIXTURE / "sessions/2025/01/13" / f"rollout-2025-01-13T09-00-02-{uid(2)}.jsonl")
            .read_bytes()[-2000:]
            .split(b"\n", 1)[1]
        )
    listed = {case(item): item for item in walk(h, "thread_list", 1000, [])}
    assert 8 in listed
    os.unlink(listed[8]["path"])
    assert 8 not in {case(item) for item in walk(h, "thread_list", 1000, [])}
    target = Path(listed[2]["path"])
    target.write_bytes(target.read_bytes().replace(b"from the CLI", b"FROM THE cli"))  # same size
    os.utime(target, (1, 1))
    assert {case(item): item["preview"] for item in walk(h, "thread_list", 1000, [])}[2] == "FROM THE cli"


def test_unreadable_file_is_skipped_and_the_listing_survives(home: Path) -> None:
    broken = f"rollout-2025-01-13T09-00-01-{uid(1)}.jsonl"

    def opener(path: str):
        if path.endswith(broken):
            raise PermissionError(errno.EACCES, "Permission denied")
        return open_binary(path)

    h = Harness(home, opener=opener)
    listed = [case(item) for item in walk(h, "thread_list", 3, None)]
    assert 1 not in listed and listed[:4] == [40, 9, 5, 2]
    code, message = h.error("get_conversation_summary", rollout_path=str(home / "sessions/2025/01/13" / broken))
    assert code == -32603
    assert message.endswith(": Permission denied (os error 13)")


# -- summaries -------------------------------------------------------------------------------------
def test_summary_by_path_and_by_id(home: Path) -> None:
    h = Harness(home)
    relative = f"sessions/2025/01/13/rollout-2025-01-13T09-00-03-{uid(3)}.jsonl"
    by_path = h.ok("get_conversation_summary", rollout_path=relative)["summary"]
    assert by_path["path"] == f"{home}/{relative}"
    assert (by_path["source"], by_path["preview"]) == ("exec", "an exec session")  # no source filter
    by_id = h.ok("get_conversation_summary", conversation_id=uid(3))["summary"]
    assert by_id == by_path
    upper = h.ok("get_conversation_summary", conversation_id=uid(40))["summary"]
    assert upper["conversationId"] == uid(40)  # the name holds the uuid in upper case
    code, message = h.error("get_conversation_summary", conversation_id=uid(99))
    assert (code, message) == (-32600, f"no rollout found for conversation id {uid(99)}")
    # rolloutPath wins over conversationId when both are given.
    both = h.ok("get_conversation_summary", conversation_id=uid(99), rollout_path=relative)["summary"]
    assert both["conversationId"] == uid(3)


def test_find_by_id_is_exact(home: Path) -> None:
    h = Harness(home)
    assert h.archive.ask(FindRollout(uid(43)), timeout=10) is None  # only in a non-numeric dir
    assert h.archive.ask(FindRollout(uid(44)), timeout=10) is None  # directly in sessions/
    assert h.archive.ask(FindRollout(uid(4)[:-1] + "0"), timeout=10) is None
    found = h.archive.ask(FindRollout(uid(4)), timeout=10)
    assert found == home / "sessions/2025/01/13" / f"rollout-2025-01-13T09-00-04-{uid(4)}.jsonl"


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        (f"2025/01/11/rollout-2025-01-11T10-00-02-{uid(22)}.jsonl", "rollout at {path} is empty"),
        (f"2025/01/11/rollout-2025-01-11T10-00-05-{uid(25)}.jsonl", "rollout at {path} is empty"),
        (
            f"2025/01/11/rollout-2025-01-11T10-00-01-{uid(21)}.jsonl",
            "rollout at {path} does not start with session metadata",
        ),
        (
            f"2025/01/11/rollout-2025-01-11T10-00-07-{uid(27)}.jsonl",
            "rollout at {path} does not start with session metadata",
        ),
        (
            f"2025/01/11/rollout-2025-01-11T10-00-08-{uid(28)}.jsonl",
            "rollout at {path} does not start with session metadata",
        ),
        (f"2025/01/11/rollout-2025-01-11T10-00-03-{uid(23)}.jsonl", "stream did not contain valid UTF-8"),
        (f"2025/01/13/rollout-2025-01-13T09-00-42-{uid(42)}.jsonl", "Is a directory (os error 21)"),
        ("2025/01/13/nope.jsonl", "No such file or directory (os error 2)"),
    ],
)
def test_summary_errors_are_0_58s(home: Path, name: str, reason: str) -> None:
    h = Harness(home)
    path = f"{home}/sessions/{name}"
    code, message = h.error("get_conversation_summary", rollout_path=path)
    assert code == -32603
    assert message == f"failed to load conversation summary from {path}: {reason.format(path=path)}"


def test_damaged_but_readable_files_summarise(home: Path) -> None:
    h = Harness(home)
    event_first = h.ok(
        "get_conversation_summary", rollout_path=f"sessions/2025/01/11/rollout-2025-01-11T10-00-06-{uid(26)}.jsonl"
    )
    assert event_first["summary"]["preview"] == "event first"
    late = h.ok(
        "get_conversation_summary", rollout_path=f"sessions/2025/01/11/rollout-2025-01-11T10-00-12-{uid(32)}.jsonl"
    )
    assert late["summary"]["preview"] == "u0"  # the bad bytes lie beyond the head


# -- archiving --------------------------------------------------------------------------------------
def rollout(home: Path, n: int) -> Path:
    return next((home / "sessions").rglob(f"*{uid(n)}.jsonl"))


def test_archive_moves_an_idle_conversation_flat(home: Path) -> None:
    h = Harness(home)
    source = rollout(home, 2)
    assert h.ok("archive_conversation", conversation_id=uid(2), rollout_path=str(source)) == {}
    assert not source.exists()
    assert (home / "archived_sessions" / source.name).read_bytes().startswith(b'{"timestamp"')
    assert source.parent.is_dir()  # day directories stay behind
    assert 2 not in {case(item) for item in walk(h, "thread_list", 1000, [])}
    assert h.archive.ask(FindRollout(uid(2)), timeout=10) is None
    code, message = h.error("archive_conversation", conversation_id=uid(2), rollout_path=str(source))
    assert (code, message) == (-32600, f"rollout path `{source}` must be in sessions directory")


def test_thread_archive_finds_the_rollout_by_id(home: Path) -> None:
    h = Harness(home)
    source = rollout(home, 5)
    assert h.ok("thread_archive", thread_id="{" + uid(5).upper() + "}") == {}
    assert (home / "archived_sessions" / source.name).exists()
    assert h.error("thread_archive", thread_id=uid(5)) == (-32600, f"no rollout found for conversation id {uid(5)}")
    assert h.error("thread_archive", thread_id="abc") == (
        -32600,
        "invalid thread id: invalid length: expected length 32 for simple format, found 3",
    )


def test_hostile_archive_paths_are_refused_and_nothing_moves(home: Path, tmp_path: Path) -> None:
    h = Harness(home)
    outside = tmp_path / f"rollout-2025-01-13T09-00-50-{uid(50)}.jsonl"
    outside.write_bytes(rollout(home, 1).read_bytes())
    link = home / "sessions/2025/01/13" / outside.name
    link.symlink_to(outside)
    traversal = f"{home}/sessions/2025/../../{outside.relative_to(tmp_path)}"
    cases = [
        (uid(50), str(link), "must be in sessions directory"),
        (uid(50), str(outside), "must be in sessions directory"),
        (uid(50), traversal, "must be in sessions directory"),
        (uid(1), "/etc/passwd", "must be in sessions directory"),
        (uid(1), "", "must be in sessions directory"),
        (uid(1), str(home / "sessions/2025/01/13/missing.jsonl"), "must be in sessions directory"),
        (uid(1), str(rollout(home, 2)), f"does not match conversation id {uid(1)}"),
        (uid(1), str(home / "sessions"), f"does not match conversation id {uid(1)}"),
    ]
    for conversation_id, path, reason in cases:
        code, message = h.error("archive_conversation", conversation_id=conversation_id, rollout_path=path)
        assert (code, message) == (-32600, f"rollout path `{path}` {reason}")
    assert outside.exists() and link.is_symlink()
    assert not (home / "archived_sessions").exists()


def test_archive_without_sessions_directory_and_failed_moves(tmp_path: Path, home: Path) -> None:
    bare = Harness(tmp_path)
    code, message = bare.error("archive_conversation", conversation_id=uid(1), rollout_path="x")
    assert (code, message) == (
        -32603,
        "failed to archive conversation: unable to resolve sessions directory: No such file or directory (os error 2)",
    )
    h = Harness(home)
    (home / "archived_sessions").write_text("a file where the directory should be")
    source = rollout(home, 1)
    code, message = h.error("archive_conversation", conversation_id=uid(1), rollout_path=str(source))
    assert (code, message) == (-32603, "failed to archive conversation: File exists (os error 17)")
    assert source.exists()  # a failed move leaves the file where it was


def test_archive_of_a_loaded_conversation_waits_for_its_shutdown(home: Path) -> None:
    h = Harness(home)
    seen: queue.Queue[Any] = queue.Queue()
    h.archive.tell(Peers({"conversations": FakeManager.start(seen)}))
    source = rollout(home, 9)
    assert h.ok("archive_conversation", conversation_id=uid(9), rollout_path=str(source)) == {}
    asked = seen.get(timeout=5)
    assert asked.conversation_id == uid(9) and asked.reply_to == h.archive
    assert not source.exists()


def test_archive_proceeds_when_the_shutdown_answer_never_comes(home: Path) -> None:
    h = Harness(home, shutdown_backstop=0.2)
    seen: queue.Queue[Any] = queue.Queue()
    h.archive.tell(Peers({"conversations": FakeManager.start(seen, answer=False)}))
    source = rollout(home, 9)
    assert h.ok("archive_conversation", conversation_id=uid(9), rollout_path=str(source)) == {}
    assert seen.get(timeout=5).conversation_id == uid(9)
    assert not source.exists()


def test_archives_a_rollout_written_by_our_conversation_writer(home: Path) -> None:
    writer_module = pytest.importorskip("actors.rollout_writer")
    conversation_id = uid(77)
    path = writer_module.rollout_path(home, conversation_id, 1767225600.0)
    meta = writer_module.session_meta(conversation_id, "2026-01-01T00:00:00.000Z", Path("/tmp/w"), None, "openai", None)
    writer = writer_module.RolloutWriter.create(path, meta, [])
    writer.write(
        "response_item", {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "ours"}]}
    )
    writer.persist_event({"type": "user_message", "message": "ours", "images": []})
    writer.close()
    h = Harness(home)
    assert h.ok("thread_list", **thread_params(limit=1))["data"][0]["preview"] == "ours"
    assert h.ok("thread_archive", thread_id=conversation_id) == {}
    assert (home / "archived_sessions" / path.name).exists()


# -- parity with the 0.58.0 binary -------------------------------------------------------------------
def _reference_answers(home: Path, requests: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    lines = [json.dumps({"id": 0, "method": "initialize", "params": {"clientInfo": {"name": "t", "version": "1"}}})]
    lines += [json.dumps({"id": i + 1, "method": m, "params": p}) for i, (m, p) in enumerate(requests)]
    done = subprocess.run(
        [str(REFERENCE), "app-server"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "CODEX_HOME": str(home), "RUST_LOG": "error"},
        check=False,
    )
    by_id = {msg["id"]: msg for msg in map(json.loads, done.stdout.splitlines()) if "id" in msg}
    return [by_id[i + 1].get("result", by_id[i + 1].get("error")) for i in range(len(requests))]


_SNAKE = {
    "pageSize": "page_size",
    "modelProviders": "model_providers",
    "rolloutPath": "rollout_path",
    "conversationId": "conversation_id",
    "threadId": "thread_id",
}
_HANDLER = {
    "listConversations": "list_conversations",
    "thread/list": "thread_list",
    "getConversationSummary": "get_conversation_summary",
    "archiveConversation": "archive_conversation",
    "thread/archive": "thread_archive",
}


@pytest.mark.skipif(not REFERENCE.exists(), reason="the 0.58.0 reference binary is not installed")
def test_listing_summaries_and_archive_errors_match_the_reference_binary(home: Path) -> None:
    requests: list[tuple[str, dict[str, Any]]] = []
    for providers in (None, [], ["mock"], ["openai", "mock"]):
        for size in (1, 3, 25):
            requests.append(("listConversations", {"pageSize": size, "modelProviders": providers}))
            requests.append(("thread/list", {"limit": size, "modelProviders": providers}))
    for cursor in (
        "",
        "x",
        f"2025-01-12T10-00-05|{uid(15)}",
        f"2025-01-15T10-00-01|{uid(33)}",
        f"2025-01-13T09-00-05|{uid(5).upper()}",
    ):
        requests.append(("thread/list", {"limit": 4, "cursor": cursor, "modelProviders": []}))
    for path in sorted((home / "sessions").rglob("*")):
        if path.is_file() or path.name.endswith(".jsonl"):
            requests.append(("getConversationSummary", {"rolloutPath": str(path)}))
            requests.append(("getConversationSummary", {"rolloutPath": str(path.relative_to(home))}))
    mismatched = str(next((home / "sessions").rglob(f"*{uid(2)}.jsonl")))
    for conversation_id, path in ((uid(1), "/etc/passwd"), (uid(1), mismatched), (uid(1), str(home / "sessions"))):
        requests.append(("archiveConversation", {"conversationId": conversation_id, "rolloutPath": path}))
    requests.append(("archiveConversation", {"conversationId": uid(1), "rolloutPath": "sessions/x.jsonl"}))
    for thread_id in (
        "abc",
        "a-b",
        "{abc}",
        "{00000000-0000-4000-8000-00000000000g}",
        "urn:uuid:xyz",
        "0000000-0000-4000-8000-0000000000001",
        "é",
        uid(99),
    ):
        requests.append(("thread/archive", {"threadId": thread_id}))
    expected = _reference_answers(home, requests)
    h = Harness(home)
    for (method, params), want in zip(requests, expected, strict=True):
        handler = _HANDLER[method]
        fields: dict[str, Any] = {}
        if handler in ("list_conversations", "thread_list"):
            fields = {"cursor": None, "model_providers": None, "page_size": None, "limit": None}
        fields.update({_SNAKE.get(k, k): v for k, v in params.items()})
        answer = h.call(handler, **fields)
        got = answer.result if isinstance(answer, Reply) else {"code": answer.code, "message": answer.message}
        assert json.dumps(got) == json.dumps(want), (method, params)
