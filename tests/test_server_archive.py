"""The conversation store through the server subprocess: listing and paging, provider filters,
previews, summaries, archiving (idle and live) and hostile paths (PROTOCOL.md §5, §8; DECISIONS 10).

Most tests run on a copy of `tests/fixtures/rollouts/home`, rollouts in 0.58.0's exact format,
good and damaged (`generate.py` there says what each file is for; ids end in the case number).
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pytest_codex_app_server import AppServerClient, JsonRpcError

from codex_mock_model import MockModel

FIXTURE_HOME = Path(__file__).parent / "fixtures" / "rollouts" / "home"
ENV_CONTEXT = "<environment_context>\n  <cwd>/tmp/proj</cwd>\n</environment_context>"

# Every listed conversation of the fixture store, newest first (modelProviders: []); the damaged
# files 12, 18, 21–23, 25, 27–29, 32 and the sources exec/subagent/unknown (3, 6, 7), the fresh
# conversation (8) and the files outside YYYY/MM/DD or misnamed (41, 43, 44) are left out.
ALL_LISTED = [40, 9, 5, 4, 2, 1, 20, 19, 17, 16, 15, 14, 13, 11, 31, 30, 26, 24, 33, 34]


def uid(n: int) -> str:
    return f"01a20b1c-0008-73b2-ae01-{n:012d}"


def number(conversation_id: str) -> int:
    return int(conversation_id.rsplit("-", 1)[1])


def rollout(home: Path, day: str, stamp: str, n: int) -> Path:
    return home / "sessions" / day / f"rollout-{stamp}-{uid(n)}.jsonl"


def rpc_error(client: AppServerClient, method: str, params: Any) -> tuple[int, str]:
    with pytest.raises(JsonRpcError) as raised:
        client.request(method, params)
    return raised.value.code, raised.value.message


def without_model(factory: Callable[..., AppServerClient]) -> dict[str, Any]:
    """The plugin may point config.toml at a scripted model of its own; these tests choose their
    provider themselves."""
    return {"model": None} if "model" in inspect.signature(factory).parameters else {}


# -- writing rollouts as 0.58 does ------------------------------------------------------------------
def record(kind: str, payload: dict[str, Any]) -> str:
    return json.dumps({"timestamp": "2025-03-01T08:00:00.151Z", "type": kind, "payload": payload},
                      separators=(",", ":")) + "\n"


def user_item(text: str) -> str:
    return record("response_item", {"type": "message", "role": "user",
                                    "content": [{"type": "input_text", "text": text}]})


def user_event(text: str) -> str:
    return record("event_msg", {"type": "user_message", "message": text, "images": []})


def meta(n: int, provider: str = "openai") -> str:
    return record("session_meta", {"id": uid(n), "timestamp": "2025-03-01T08:00:00.120Z", "cwd": "/tmp/proj",
                                   "originator": "codex_cli_rs", "cli_version": "0.58.0", "instructions": None,
                                   "source": "vscode", "model_provider": provider})


def write_conversation(home: Path, day: int, second: int, n: int, text: str | None = None) -> Path:
    """One conversation of 2025-03-<day> at 10:00:<second>; without `text`, a fresh one (no user turn)."""
    path = rollout(home, f"2025/03/{day:02d}", f"2025-03-{day:02d}T10-00-{second:02d}", n)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = meta(n) + user_item(ENV_CONTEXT)
    if text is not None:
        body += user_item(text) + user_event(text)
    path.write_text(body)
    return path


# -- fixtures ---------------------------------------------------------------------------------------
@pytest.fixture
def store(codex_home: Path) -> Path:
    """CODEX_HOME holding a copy of the fixture store."""
    shutil.copytree(FIXTURE_HOME, codex_home, dirs_exist_ok=True, symlinks=True)
    return codex_home


@pytest.fixture
def start(codex_app_server_factory: Callable[..., AppServerClient]) -> Callable[..., AppServerClient]:
    def run(config: str = "", **kwargs: Any) -> AppServerClient:
        return codex_app_server_factory(config_toml=config, **without_model(codex_app_server_factory), **kwargs)

    return run


def listed(client: AppServerClient, **params: Any) -> list[int]:
    return [number(item["conversationId"]) for item in client.request("listConversations", params)["items"]]


def walk(client: AppServerClient, method: str, size: int, between: Callable[[int], None] | None = None,
         **params: Any) -> tuple[list[int], int]:
    """Every page of a listing; `between(page_number)` runs after each page. Returns the ids and the
    number of pages."""
    seen: list[int] = []
    cursor = None
    pages = 0
    size_key, items_key, id_key = (("pageSize", "items", "conversationId") if method == "listConversations"
                                   else ("limit", "data", "id"))
    while True:
        result = client.request(method, {size_key: size, "cursor": cursor, **params})
        pages += 1
        assert len(result[items_key]) <= size
        seen += [number(item[id_key]) for item in result[items_key]]
        cursor = result["nextCursor"]
        if cursor is None:
            return seen, pages
        if between is not None:
            between(pages)
        assert pages < 100, "paging never ends"


# -- listing ------------------------------------------------------------------------------------------
def test_listing_order_filters_shapes_and_previews(store: Path, start: Callable[..., AppServerClient]) -> None:
    client = start()
    everything = client.request("listConversations", {"pageSize": 100, "modelProviders": []})
    assert [number(i["conversationId"]) for i in everything["items"]] == ALL_LISTED
    assert everything["nextCursor"] is None
    first = everything["items"][ALL_LISTED.index(1)]
    home = os.path.realpath(store)
    assert first == {
        "conversationId": uid(1),
        "path": f"{home}/sessions/2025/01/13/rollout-2025-01-13T09-00-01-{uid(1)}.jsonl",
        "preview": "Say hi please",
        "timestamp": "2025-01-12T08:00:00.120Z",
        "modelProvider": "openai",
        "cwd": "/tmp/proj",
        "cliVersion": "0.58.0",
        "source": "vscode",
        "gitInfo": {"sha": "9c32526d0e0a5bd5c0e1f2a3b4c5d6e7f8091a2b", "branch": "master",
                    "origin_url": "https://example.invalid/repo.git"},
    }
    by_id = {number(i["conversationId"]): i for i in everything["items"]}
    assert by_id[2]["source"] == "cli" and by_id[2]["gitInfo"] is None
    assert by_id[5]["modelProvider"] == "openai"  # no provider recorded: the configured one
    assert by_id[20]["timestamp"] is None
    assert by_id[40]["path"].endswith(f"{uid(40).upper()}.jsonl")

    # Provider filter: absent → the configured provider (openai; a meta without one counts as it);
    # a list → exact, case-sensitive.
    assert listed(client, pageSize=100) == [n for n in ALL_LISTED if n != 4]
    assert listed(client, pageSize=100, modelProviders=None) == [n for n in ALL_LISTED if n != 4]
    assert listed(client, pageSize=100, modelProviders=["mock"]) == [4]
    assert listed(client, pageSize=100, modelProviders=["OPENAI"]) == []
    assert listed(client, pageSize=100, modelProviders=["mock", "openai"]) == ALL_LISTED

    threads = client.request("thread/list", {"limit": 100, "modelProviders": []})
    assert [number(t["id"]) for t in threads["data"]] == ALL_LISTED
    thread = threads["data"][ALL_LISTED.index(1)]
    assert list(thread) == ["id", "preview", "modelProvider", "createdAt", "path"]
    assert thread["createdAt"] == 1736668800
    created = {number(t["id"]): t["createdAt"] for t in threads["data"]}
    assert created[19] == 1736668800  # 17:00:00.5+09:00 is 08:00:00Z
    assert created[20] == 0  # empty timestamp
    # The preview rules (PROTOCOL §5.3).
    previews = {number(i["conversationId"]): i["preview"]
                for i in client.request("listConversations", {"pageSize": 100})["items"]}
    assert previews[11] == "after instructions"  # <user_instructions> message skipped
    assert 12 not in previews  # only an AGENTS.md prefix message: dropped from listings
    assert previews[13] == "fix the bug"  # after "## My request for Codex:", trimmed
    assert previews[14] == ""  # image only
    assert previews[15] == "two parts"  # input_text parts joined without separator
    assert previews[16] == "  spaces kept  "  # <user_shell_command> is case-insensitive; raw text untrimmed
    assert previews[17] == "\n<user_instructions> is not a prefix here"
    assert 18 not in previews  # no user response_item


def test_configured_provider_is_the_default_filter(store: Path, start: Callable[..., AppServerClient]) -> None:
    client = start('model_provider = "mock"\n[model_providers.mock]\nname = "mock"\nbase_url = "http://127.0.0.1:1"\n')
    # Only the mock rollout and the one without a recorded provider (it counts as the configured one).
    assert listed(client, pageSize=100) == [5, 4]
    assert client.request("thread/list", {})["data"][1]["modelProvider"] == "mock"


def test_paging_has_no_duplicates_or_gaps(store: Path, start: Callable[..., AppServerClient]) -> None:
    misfiled = rollout(store, "2025/01/10", "2025-01-15T10-00-01", 33)
    client = start()
    # As in 0.58, a rollout misfiled in an older day directory makes paging start over: its cursor
    # (the name's time, 01-15) is newer than every file of the days after it.
    cursor = f"2025-01-15T10-00-01|{uid(33)}"
    assert listed(client, pageSize=2, cursor=cursor, modelProviders=[]) == ALL_LISTED[:2]
    misfiled.unlink()
    good = [n for n in ALL_LISTED if n != 33]
    for size in (1, 3, 7):
        seen, pages = walk(client, "listConversations", size, modelProviders=[])
        assert seen == good
        assert pages > 1
    seen, _ = walk(client, "thread/list", 4, modelProviders=[])
    assert seen == good
    first = client.request("listConversations", {"pageSize": 2, "modelProviders": []})
    assert first["nextCursor"] == f"2025-01-13T09-00-09|{uid(9)}"
    # An invalid cursor is ignored; pageSize 0 is 1.
    for cursor in ("", "garbage", "2025-01-13T09-00-09|not-a-uuid"):
        assert listed(client, pageSize=2, cursor=cursor, modelProviders=[]) == ALL_LISTED[:2]
    assert listed(client, pageSize=0, modelProviders=[]) == ALL_LISTED[:1]
    older = client.request("listConversations", {"cursor": f"2000-01-01T00-00-00|{uid(1)}"})
    assert older == {"items": [], "nextCursor": None}


def test_paging_while_new_rollouts_are_written(codex_home: Path, start: Callable[..., AppServerClient]) -> None:
    originals = []
    for n in range(1, 31):  # 30 conversations over three days, one fresh (no user turn yet)
        write_conversation(codex_home, 10 + n % 3, n, n, None if n == 17 else f"message {n}")
        originals.append(n)
    expected = sorted((n for n in originals if n != 17), key=lambda n: (10 + n % 3, n), reverse=True)
    client = start()
    assert listed(client, pageSize=100) == expected  # warms the index

    def write_between(page: int) -> None:
        # Newer than anything listed: never part of this walk (the cursor only moves back in time).
        write_conversation(codex_home, 20, page, 100 + page, f"new {page}")
        if page == 1:
            # Older than every cursor still to come: the walk reaches it.
            write_conversation(codex_home, 1, 0, 200, "late but old")
            # The fresh one gets its first turn (an append, same name): listed from now on.
            path = rollout(codex_home, "2025/03/12", "2025-03-12T10-00-17", 17)
            with path.open("a") as handle:
                handle.write(user_item("now it has a turn") + user_event("now it has a turn"))
        if page == 2:
            # Deleted before the walk reaches it.
            rollout(codex_home, "2025/03/10", "2025-03-10T10-00-03", 3).unlink()

    seen, pages = walk(client, "listConversations", 4, between=write_between)
    assert pages >= 6
    assert len(seen) == len(set(seen))
    assert seen == [n for n in sorted([*expected, 17], key=lambda n: (10 + n % 3, n), reverse=True)
                    if n != 3] + [200]
    # A new listing sees the newest writes first.
    assert listed(client, pageSize=3) == [100 + pages - 1, 100 + pages - 2, 100 + pages - 3]


# -- summaries ----------------------------------------------------------------------------------------
def test_summary_by_id_and_by_path(store: Path, start: Callable[..., AppServerClient]) -> None:
    client = start()
    home = os.path.realpath(store)
    day13 = f"{home}/sessions/2025/01/13"
    summary = client.request("getConversationSummary", {"conversationId": uid(1)})["summary"]
    assert summary["path"] == f"{day13}/rollout-2025-01-13T09-00-01-{uid(1)}.jsonl"
    assert summary["preview"] == "Say hi please"
    # No source or provider filter for summaries.
    assert client.request("getConversationSummary", {"conversationId": uid(3)})["summary"]["source"] == "exec"
    assert client.request("getConversationSummary", {"conversationId": uid(4)})["summary"]["modelProvider"] == "mock"
    # The id match is exact and case-insensitive on the file name.
    assert client.request("getConversationSummary", {"conversationId": uid(40)})["summary"]["path"].endswith(
        f"{uid(40).upper()}.jsonl")
    # A fresh conversation has an empty preview here (listings drop it).
    assert client.request("getConversationSummary", {"conversationId": uid(8)})["summary"]["preview"] == ""
    # Only files under sessions/YYYY/MM/DD/ are found by id (DECISIONS 10).
    for n in (43, 44, 99):
        assert rpc_error(client, "getConversationSummary", {"conversationId": uid(n)}) == (
            -32600, f"no rollout found for conversation id {uid(n)}")

    relative = f"sessions/2025/01/13/rollout-2025-01-13T09-00-02-{uid(2)}.jsonl"
    by_path = client.request("getConversationSummary", {"rolloutPath": relative})["summary"]
    assert by_path["path"] == f"{store}/{relative}"  # joined to CODEX_HOME as given
    assert by_path["conversationId"] == uid(2)
    absolute = f"{day13}/rollout-2025-01-13T09-00-02-{uid(2)}.jsonl"
    assert client.request("getConversationSummary", {"rolloutPath": absolute})["summary"]["path"] == absolute
    # rolloutPath wins over conversationId.
    both = client.request("getConversationSummary", {"conversationId": uid(1), "rolloutPath": relative})
    assert both["summary"]["conversationId"] == uid(2)
    # Damaged files: 0.58's errors.
    day11 = f"{store}/sessions/2025/01/11"

    def failure(path: str) -> tuple[int, str]:
        return rpc_error(client, "getConversationSummary", {"rolloutPath": path})

    def named(stamp: str, n: int) -> str:
        return f"{day11}/rollout-2025-01-11T{stamp}-{uid(n)}.jsonl"

    for stamp, n in (("10-00-02", 22), ("10-00-05", 25)):  # empty; only event_msg lines
        path = named(stamp, n)
        assert failure(path) == (-32603, f"failed to load conversation summary from {path}: rollout at {path} is empty")
    for stamp, n in (("10-00-01", 21), ("10-00-07", 27), ("10-00-08", 28)):  # BOM; item first; meta lacks cwd
        path = named(stamp, n)
        assert failure(path) == (
            -32603, f"failed to load conversation summary from {path}: rollout at {path} does not start with "
                    "session metadata")
    path = named("10-00-03", 23)
    assert failure(path) == (-32603, f"failed to load conversation summary from {path}: stream did not contain "
                                     "valid UTF-8")
    assert failure("sessions/nope.jsonl") == (
        -32603, f"failed to load conversation summary from {store}/sessions/nope.jsonl: No such file or directory "
                "(os error 2)")
    assert failure("sessions") == (
        -32603, f"failed to load conversation summary from {store}/sessions: Is a directory (os error 21)")
    # An event before the meta is skipped: the summary works.
    assert client.request("getConversationSummary", {"rolloutPath": named("10-00-06", 26)})["summary"][
        "preview"] == "event first"


# -- archiving ----------------------------------------------------------------------------------------
def test_archive_idle_conversations_v1_and_v2(store: Path, start: Callable[..., AppServerClient]) -> None:
    client = start()
    source = rollout(store, "2025/01/13", "2025-01-13T09-00-01", 1)
    assert client.request("archiveConversation", {"conversationId": uid(1), "rolloutPath": str(source)}) == {}
    archived = store / "archived_sessions" / source.name
    assert archived.is_file() and not source.exists()
    assert source.parent.is_dir()  # day directories stay behind
    assert client.request("thread/archive", {"threadId": uid(2)}) == {}
    assert (store / "archived_sessions" / f"rollout-2025-01-13T09-00-02-{uid(2)}.jsonl").is_file()
    # A malformed rollout archives fine: content is never validated.
    assert client.request("thread/archive", {"threadId": uid(27)}) == {}
    assert client.take_notifications() == []
    assert listed(client, pageSize=100, modelProviders=[]) == [n for n in ALL_LISTED if n not in (1, 2)]
    for n in (1, 2):
        assert rpc_error(client, "getConversationSummary", {"conversationId": uid(n)}) == (
            -32600, f"no rollout found for conversation id {uid(n)}")
        assert rpc_error(client, "thread/archive", {"threadId": uid(n)}) == (
            -32600, f"no rollout found for conversation id {uid(n)}")
    assert rpc_error(client, "thread/archive", {"threadId": "abc"}) == (
        -32600, "invalid thread id: invalid length: expected length 32 for simple format, found 3")
    assert sorted(p.name for p in (store / "archived_sessions").iterdir()) == sorted(
        [source.name, f"rollout-2025-01-13T09-00-02-{uid(2)}.jsonl", f"rollout-2025-01-11T10-00-07-{uid(27)}.jsonl"])


def test_hostile_archive_paths_are_refused(store: Path, start: Callable[..., AppServerClient],
                                           tmp_path: Path) -> None:
    day = store / "sessions" / "2025" / "01" / "13"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    outside = store / "outside.jsonl"
    outside.write_text(meta(50))
    (day / f"rollout-2025-01-13T09-00-50-{uid(50)}.jsonl").symlink_to(outside)  # a link out of sessions/
    (store / "sessions" / "2025" / "linked").symlink_to(elsewhere)  # a directory link out of sessions/
    (elsewhere / f"rollout-2025-01-13T09-00-51-{uid(51)}.jsonl").write_text(meta(51))
    inside_link = day / f"rollout-2025-01-13T09-00-52-{uid(52)}.jsonl"  # points at conversation 4
    inside_link.symlink_to(day / f"rollout-2025-01-13T09-00-04-{uid(4)}.jsonl")
    before = sorted(str(p) for p in store.rglob("*")) + sorted(str(p) for p in elsewhere.rglob("*"))
    client = start(cwd=elsewhere)

    def refused(n: int, path: str) -> tuple[int, str]:
        return rpc_error(client, "archiveConversation", {"conversationId": uid(n), "rolloutPath": path})

    def outside_message(path: str) -> tuple[int, str]:
        return (-32600, f"rollout path `{path}` must be in sessions directory")

    cases = [
        (1, f"{store}/sessions/../config.toml"),
        (1, f"{store}/sessions/2025/../../auth.json"),
        (1, "/etc/passwd"),
        (50, str(day / f"rollout-2025-01-13T09-00-50-{uid(50)}.jsonl")),
        (51, f"{store}/sessions/2025/linked/rollout-2025-01-13T09-00-51-{uid(51)}.jsonl"),
        (1, str(day / f"rollout-2025-01-13T09-00-01-{uid(99)}.jsonl")),  # missing
        (1, ""),
        # Relative paths resolve against the server's cwd (0.58), which is not CODEX_HOME here.
        (1, f"sessions/2025/01/13/rollout-2025-01-13T09-00-01-{uid(1)}.jsonl"),
    ]
    for n, path in cases:
        assert refused(n, path) == outside_message(path), path
    mismatched = [
        (1, f"{store}/sessions"),
        (1, str(day)),
        (1, str(day / f"rollout-2025-01-13T09-00-02-{uid(2)}.jsonl")),
        (52, str(inside_link)),  # the link resolves to conversation 4's file
    ]
    for n, path in mismatched:
        assert refused(n, path) == (-32600, f"rollout path `{path}` does not match conversation id {uid(n)}"), path
    after = sorted(str(p) for p in store.rglob("*")) + sorted(str(p) for p in elsewhere.rglob("*"))
    assert after == before  # nothing moved, nothing created
    assert not (store / "archived_sessions").exists()


def test_failed_move_leaves_the_file_and_says_why(store: Path, start: Callable[..., AppServerClient]) -> None:
    source = rollout(store, "2025/01/13", "2025-01-13T09-00-01", 1)
    params = {"conversationId": uid(1), "rolloutPath": str(source)}
    (store / "archived_sessions").write_text("a file where the directory goes")
    client = start()
    assert rpc_error(client, "archiveConversation", params) == (
        -32603, "failed to archive conversation: File exists (os error 17)")
    (store / "archived_sessions").unlink()
    (store / "archived_sessions" / source.name).mkdir(parents=True)
    (store / "archived_sessions" / source.name / "occupied").write_text("")
    assert rpc_error(client, "archiveConversation", params) == (
        -32603, "failed to archive conversation: Is a directory (os error 21)")
    assert source.is_file()
    assert number(client.request("getConversationSummary", {"conversationId": uid(1)})["summary"][
        "conversationId"]) == 1


def test_archive_relative_path_and_missing_sessions(store: Path, start: Callable[..., AppServerClient],
                                                    codex_app_server_factory: Any, tmp_path: Path) -> None:
    client = start(cwd=store)
    relative = f"sessions/2025/01/13/rollout-2025-01-13T09-00-01-{uid(1)}.jsonl"
    assert client.request("archiveConversation", {"conversationId": uid(1), "rolloutPath": relative}) == {}
    assert (store / "archived_sessions" / Path(relative).name).is_file()

    empty_home = tmp_path / "empty-home"
    empty_home.mkdir()
    bare = codex_app_server_factory(config_toml="", home=empty_home, **without_model(codex_app_server_factory))
    assert bare.request("listConversations", {}) == {"items": [], "nextCursor": None}
    assert rpc_error(bare, "archiveConversation", {"conversationId": uid(1), "rolloutPath": "/x"}) == (
        -32603, "failed to archive conversation: unable to resolve sessions directory: No such file or directory "
                "(os error 2)")


def test_damaged_store_still_lists_its_good_files(store: Path, start: Callable[..., AppServerClient]) -> None:
    day = store / "sessions" / "2025" / "01" / "13"
    (day / f"rollout-2025-01-13T09-00-45-{uid(45)}.jsonl").mkdir()  # a directory named like a rollout
    (day / f"rollout-2025-01-13T09-00-46-{uid(46)}.jsonl").symlink_to(store / "nowhere")  # dangling link
    (day / f"rollout-2025-01-13T09-00-47-{uid(47)}.jsonl").write_bytes(b"\x00\xff" * 100)  # binary junk
    rollout(store, "2025/01/10", "2025-01-15T10-00-01", 33).unlink()  # misfiled: paging would start over
    client = start()
    good = [n for n in ALL_LISTED if n != 33]
    assert listed(client, pageSize=100, modelProviders=[]) == good
    seen, _ = walk(client, "listConversations", 2, modelProviders=[])
    assert seen == good
    assert "Traceback" not in client.stderr_text()


# -- archiving a live conversation ------------------------------------------------------------------------
def test_archive_live_conversation_shuts_it_down(codex_home: Path, start: Callable[..., AppServerClient],
                                                 model: MockModel, tmp_path: Path) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    config = (
        'model = "mock-model"\nmodel_provider = "mock"\napproval_policy = "never"\n'
        f'[model_providers.mock]\nname = "mock"\nbase_url = "{model.base_url}"\nwire_api = "responses"\n'
        "request_max_retries = 0\nstream_max_retries = 0\n"
    )
    client = start(config, cwd=workdir)
    conversation = client.request("newConversation", {"cwd": str(workdir)})
    cid = conversation["conversationId"]
    client.request("addConversationListener", {"conversationId": cid})
    model.enqueue({"type": "text", "text": "Hello back"})
    message = {"conversationId": cid, "items": [{"type": "text", "data": {"text": "Hello there"}}]}
    assert client.request("sendUserMessage", message) == {}
    client.wait_notification("codex/event/task_complete", where=lambda p: p.get("conversationId") == cid)

    # The live conversation is listed under the configured provider.
    assert [i["conversationId"] for i in client.request("listConversations", {})["items"]] == [cid]
    rollout_path = conversation["rolloutPath"]
    request_id = client.send("archiveConversation", {"conversationId": cid, "rolloutPath": rollout_path})
    assert client.wait_response(request_id) == {}
    client.wait_notification("codex/event/shutdown_complete", where=lambda p: p.get("conversationId") == cid)
    order = [json.loads(line) for line in list(client.lines)]
    shutdown_at = next(i for i, m in enumerate(order) if m.get("method") == "codex/event/shutdown_complete")
    reply_at = next(i for i, m in enumerate(order) if m.get("id") == request_id and "method" not in m)
    assert shutdown_at < reply_at  # shut down first, then moved, then answered
    assert not Path(rollout_path).exists()
    assert (codex_home / "archived_sessions" / Path(rollout_path).name).is_file()
    assert rpc_error(client, "sendUserMessage", message) == (-32600, f"conversation not found: {cid}")
    assert rpc_error(client, "addConversationListener", {"conversationId": cid}) == (
        -32600, f"conversation not found: {cid}")
    assert client.request("listConversations", {}) == {"items": [], "nextCursor": None}
