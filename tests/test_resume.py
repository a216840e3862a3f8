"""Resume (CONVERSATIONS.md §8), archive of a live conversation (§9), server stop (DECISIONS 13) and
the manager's bookkeeping, against the loopback scripted model.

The `resume_058_*` fixtures were recorded with codex 0.58.0 driving the same mock model:
`source` is the rollout 0.58 wrote for two turns ("hi there" → text; "run python" → shell call, then
text); after restarting 0.58 and `resumeConversation {conversationId}` it answered
`initial_messages`, and the next turn ("third" → "again") sent `request_input` to the model and
appended `appended` to the same file.
"""

from __future__ import annotations

import itertools
import json
import shutil
import signal
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import pykka
import pytest
from recorders import ConditionRecorder as Recorder
from recorders import wait_logged

from actors.archive import ArchiveActor
from actors.conversation import ConversationActor
from actors.conversations import ConversationsActor
from actors.resume import RolloutLoadError, load_rollout
from actors.rollout_writer import read_rollout
from codex_mock_model import MockModel
from config import load_config
from messages import common, v1, v2
from messages.internal import Call, Failure, LoadedConversations, Notify, Peers, Reply, ServerCall

WAIT_S = 15.0
FIXTURES = Path(__file__).parent / "fixtures"
ID_058 = "01a20fa2-b997-7bb3-9c59-bce5aa309048"
NAME_058 = f"rollout-2026-11-24T22-17-32-{ID_058}.jsonl"
UNKNOWN_ID = "01a20f9e-9d6c-7410-8a06-ecb6d0a5fb40"


def jsonl(name: str) -> list[Any]:
    return [json.loads(line) for line in (FIXTURES / name).read_text().splitlines()]


def config_toml(base_url: str, model: str = "mock-model", approval: str = "never") -> str:
    return f'''model = "{model}"
model_provider = "mock_provider"
approval_policy = "{approval}"
sandbox_mode = "danger-full-access"

[model_providers.mock_provider]
name = "mock"
base_url = "{base_url}"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
'''


def place_058(home: Path) -> Path:
    day = home / "sessions" / "2026" / "11" / "24"
    day.mkdir(parents=True, exist_ok=True)
    path = day / NAME_058
    shutil.copy(FIXTURES / "resume_058_source.jsonl", path)
    return path


def kinds(records: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    return [(r["type"], r["payload"].get("type")) for r in records]


# -- actor harness ------------------------------------------------------------------------------------
class Harness:
    """A manager and a real archive actor on a real config (config.toml in a temp CODEX_HOME), with
    recording stand-ins for the outgoing actor and the router."""

    def __init__(self, tmp_path: Path, model: MockModel, shutdown_wait: float = 10.0, approval: str = "never") -> None:
        self.log: list[Any] = []
        self.router_log: list[Any] = []
        self.cond = threading.Condition()
        self.home = tmp_path / "home"
        self.cwd = tmp_path / "work"
        self.home.mkdir()
        self.cwd.mkdir()
        (self.home / "config.toml").write_text(config_toml(model.base_url, approval=approval))
        self.config = load_config(self.home, cwd=self.cwd, managed_config_path=None)
        self.outgoing = Recorder.start(self.log, self.cond)
        self.router = Recorder.start(self.router_log, self.cond)
        self.manager = ConversationsActor.start(self.outgoing, self.config, shutdown_wait=shutdown_wait)
        self.archive = ArchiveActor.start(self.outgoing, self.config)
        peers = {"conversations": self.manager, "archive": self.archive, "router": self.router}
        self.manager.tell(Peers(peers))
        self.archive.tell(Peers(peers))
        self._ids = itertools.count(1)

    def call(self, method: str, handler: str, params: Any, connection: int = 0, actor: Any = None) -> int:
        request_id = next(self._ids)
        (actor or self.manager).tell(Call(connection, request_id, method, handler, params, "test-agent/1.0"))
        return request_id

    def wait(self, predicate: Any, what: str, log: list[Any] | None = None) -> Any:
        return wait_logged(self.cond, self.log if log is None else log, predicate, what, WAIT_S)

    def outcome(self, request_id: int) -> Reply | Failure:
        return self.wait(lambda m: isinstance(m, Reply | Failure) and m.request_id == request_id,
                         f"answer to {request_id}")

    def answer(self, request_id: int) -> Any:
        message = self.outcome(request_id)
        if isinstance(message, Failure):
            raise AssertionError(f"request {request_id} failed: {message.message}")
        return message.result

    def failure(self, request_id: int) -> Failure:
        message = self.outcome(request_id)
        assert isinstance(message, Failure), message
        return message

    def event(self, kind: str, conversation_id: str, after: int = 0) -> Notify:
        def match(m: Any) -> bool:
            return (isinstance(m, Notify) and m.method == f"codex/event/{kind}"
                    and m.params["conversationId"] == conversation_id and self.log.index(m) >= after)
        return self.wait(match, kind)

    def events(self, conversation_id: str) -> list[dict[str, Any]]:
        with self.cond:
            return [m.params for m in self.log if isinstance(m, Notify) and m.method.startswith("codex/event/")
                    and m.params["conversationId"] == conversation_id]

    def resume(self, **params: Any) -> int:
        return self.call("resumeConversation", "resume_conversation", v1.ResumeConversationParams(**params))

    def thread_resume(self, **params: Any) -> int:
        return self.call("thread/resume", "thread_resume", v2.ThreadResumeParams(**params))

    def new_conversation(self, **params: Any) -> dict[str, Any]:
        return self.answer(self.call("newConversation", "new_conversation", v1.NewConversationParams(**params)))

    def listen(self, conversation_id: str, connection: int = 0) -> str:
        params = v1.AddConversationListenerParams(conversation_id=conversation_id)
        return self.answer(self.call("addConversationListener", "add_conversation_listener", params,
                                     connection))["subscriptionId"]

    def send(self, conversation_id: str, text: str) -> int:
        item = v1.TextInputItem(data=v1.TextInputItemData(text=text))
        params = v1.SendUserMessageParams(conversation_id=conversation_id, items=[item])
        return self.call("sendUserMessage", "send_user_message", params)

    def turn(self, conversation_id: str, text: str) -> Notify:
        mark = len(self.log)
        assert self.answer(self.send(conversation_id, text)) == {}
        return self.event("task_complete", conversation_id, after=mark)


@pytest.fixture
def harness(tmp_path: Path, model: MockModel) -> Harness:
    return Harness(tmp_path, model)


# -- reading rollouts ---------------------------------------------------------------------------------
def test_load_058_rollout() -> None:
    restored = load_rollout(FIXTURES / "resume_058_source.jsonl")
    assert restored.conversation_id == ID_058
    assert restored.initial_messages == jsonl("resume_058_initial_messages.jsonl")
    # what 0.58 sent after resuming, minus the new user message
    assert restored.history == jsonl("resume_058_request_input.jsonl")[:-1]
    assert restored.last_model == "mock-model"


def test_load_errors_read_as_058(tmp_path: Path) -> None:
    cases = {
        "empty.jsonl": ("", "empty session file"),
        "blank.jsonl": ("\n  \n", "empty session file"),
        "nometa.jsonl": ('{"timestamp":"x","type":"event_msg","payload":{"type":"user_message","message":"a",'
                         '"images":[]}}\n', "failed to parse conversation ID from rollout file"),
        "garbage.jsonl": ("garbage\n", "failed to parse conversation ID from rollout file"),
    }
    for name, (text, reason) in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(RolloutLoadError) as caught:
            load_rollout(tmp_path / name)
        assert str(caught.value) == reason, name
    with pytest.raises(RolloutLoadError, match=r"^No such file or directory \(os error 2\)$"):
        load_rollout(tmp_path / "missing.jsonl")
    with pytest.raises(RolloutLoadError, match=r"^Is a directory \(os error 21\)$"):
        load_rollout(tmp_path)


def test_load_skips_what_058_skips(tmp_path: Path) -> None:
    source = (FIXTURES / "resume_058_source.jsonl").read_text().splitlines()
    noise = [
        "not json",
        '{"timestamp":"t","type":"event_msg","payload":{"type":"no_such_event"}}',
        '{"timestamp":"t","type":"response_item","payload":{"type":"ghost_snapshot","ghost_commit":{"id":"a",'
        '"parent":null,"preexisting_untracked_files":[],"preexisting_untracked_dirs":[]}}}',
        '{"type":"event_msg","payload":{"type":"agent_message","message":"no timestamp"}}',
        '{"timestamp":"t","type":"session_meta","payload":{"id":"' + UNKNOWN_ID + '","timestamp":"t","cwd":"/",'
        '"originator":"o","cli_version":"0","instructions":null,"source":"vscode"}}',
    ]
    path = tmp_path / "noisy.jsonl"
    path.write_text("\r\n".join(source[:3] + noise + source[3:]) + "\r\n")
    restored = load_rollout(path)
    assert restored.conversation_id == ID_058  # the first session_meta names the conversation
    assert restored.initial_messages == jsonl("resume_058_initial_messages.jsonl")
    assert restored.history == jsonl("resume_058_request_input.jsonl")[:-1]


# -- resumeConversation (v1) ---------------------------------------------------------------------------
def _check_058_resumed(harness: Harness, model: MockModel, request_id: int, path: Path) -> None:
    result = harness.answer(request_id)
    assert list(result) == ["conversationId", "model", "initialMessages", "rolloutPath"]
    initial = jsonl("resume_058_initial_messages.jsonl")
    assert result == {"conversationId": ID_058, "model": "mock-model", "initialMessages": initial,
                      "rolloutPath": str(path)}
    reply_index = next(i for i, m in enumerate(harness.log) if isinstance(m, Reply) and m.request_id == request_id)
    configured = [(i, m) for i, m in enumerate(harness.log)
                  if isinstance(m, Notify) and m.method == "sessionConfigured"]
    assert len(configured) == 1 and configured[0][0] < reply_index
    note = configured[0][1]
    assert note.connections == (0,)
    assert note.params == {"sessionId": ID_058, "model": "mock-model", "reasoningEffort": None, "historyLogId": 0,
                           "historyEntryCount": 0, "initialMessages": initial, "rolloutPath": str(path)}

    source = path.read_text()
    harness.listen(ID_058)
    model.enqueue({"type": "text", "text": "again"})
    done = harness.turn(ID_058, "third")
    assert done.params["id"] == "0"
    assert model.requests()[-1]["body"]["input"] == jsonl("resume_058_request_input.jsonl")
    after = path.read_text()
    assert after.startswith(source)  # appended to, never rewritten
    appended = [json.loads(line) for line in after[len(source):].splitlines()]
    assert kinds(appended) == kinds(jsonl("resume_058_appended.jsonl"))
    assert appended[0] == jsonl("resume_058_appended.jsonl")[0] | {"timestamp": appended[0]["timestamp"]}
    assert appended[2]["payload"]["cwd"] == str(harness.cwd)
    assert [r["type"] for r in read_rollout(path)].count("session_meta") == 1


def test_resume_058_rollout_by_id_then_a_turn_carries_its_history(harness: Harness, model: MockModel) -> None:
    path = place_058(harness.home)
    _check_058_resumed(harness, model, harness.resume(conversation_id=ID_058.upper()), path)


def test_resume_058_rollout_by_path_wins_over_id(harness: Harness, model: MockModel, tmp_path: Path) -> None:
    path = tmp_path / "elsewhere.jsonl"  # outside sessions/: a path is taken as given
    shutil.copy(FIXTURES / "resume_058_source.jsonl", path)
    _check_058_resumed(harness, model, harness.resume(path=str(path), conversation_id=UNKNOWN_ID), path)


def test_fork_by_history(harness: Harness, model: MockModel) -> None:
    history = [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "old q"}]},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "old a"}]},
    ]
    params = v1.ResumeConversationParams(history=[
        common.MessageResponseItem(role="user", content=[common.InputTextContentItem(text="old q")]),
        common.MessageResponseItem(role="assistant", content=[common.OutputTextContentItem(text="old a")]),
    ])
    result = harness.answer(harness.call("resumeConversation", "resume_conversation", params))
    assert result["initialMessages"] == []
    fork_id = result["conversationId"]
    path = Path(result["rolloutPath"])
    assert fork_id in path.name and path.parent.parent.parent.parent == harness.home / "sessions"
    records = read_rollout(path)
    assert [r["type"] for r in records] == ["session_meta", "response_item", "response_item"]
    assert records[0]["payload"]["id"] == fork_id
    assert [r["payload"] for r in records[1:]] == history  # no environment context before or after
    harness.listen(fork_id)
    model.enqueue({"type": "text", "text": "fork answer"})
    harness.turn(fork_id, "fork q")
    assert model.requests()[-1]["body"]["input"] == history + [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "fork q"}]}]


def test_resume_errors_exactly_as_058(harness: Harness, tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "nometa.jsonl").write_text("garbage\n")
    cases = [
        ({"conversation_id": UNKNOWN_ID}, f"no rollout found for conversation id {UNKNOWN_ID}"),
        ({"path": "/nonexistent/x.jsonl"},
         "failed to load rollout `/nonexistent/x.jsonl`: No such file or directory (os error 2)"),
        ({"path": str(tmp_path / "empty.jsonl")},
         f"failed to load rollout `{tmp_path}/empty.jsonl`: empty session file"),
        ({"path": str(tmp_path / "nometa.jsonl")},
         f"failed to load rollout `{tmp_path}/nometa.jsonl`: failed to parse conversation ID from rollout file"),
        ({"path": str(tmp_path)}, f"failed to load rollout `{tmp_path}`: Is a directory (os error 21)"),
        ({}, "either path, conversation id or non empty history must be provided"),
        ({"history": []}, "either path, conversation id or non empty history must be provided"),
        ({"conversation_id": "not-a-uuid"}, "Invalid request: invalid character: expected an optional prefix of "
                                            "`urn:uuid:` followed by [0-9a-fA-F-], found `n` at 1"),
        ({"path": "/nonexistent", "overrides": v1.NewConversationParams(profile="nope")},
         "error deriving config: config profile `nope` not found"),
    ]
    for params, message in cases:
        failure = harness.failure(harness.resume(**params))
        assert (failure.code, failure.message) == (-32600, message), params
    assert not [m for m in harness.log if isinstance(m, Notify)]


def test_thread_resume_errors_exactly_as_058(harness: Harness) -> None:
    cases = [
        ({"thread_id": "bad"}, "invalid thread id: invalid length: expected length 32 for simple format, found 3"),
        ({"thread_id": UNKNOWN_ID}, f"no rollout found for conversation id {UNKNOWN_ID}"),
        ({"thread_id": UNKNOWN_ID, "config": {"profile": "nope"}},
         "error deriving config: config profile `nope` not found"),
        ({"thread_id": UNKNOWN_ID, "path": "/nonexist"},
         "failed to load rollout `/nonexist`: No such file or directory (os error 2)"),
    ]
    for params, message in cases:
        failure = harness.failure(harness.thread_resume(**params))
        assert (failure.code, failure.message) == (-32600, message), params


def test_resuming_with_another_model_warns_like_058(harness: Harness, model: MockModel) -> None:
    place_058(harness.home)
    overrides = v1.NewConversationParams(model="other-model")
    assert harness.answer(harness.resume(conversation_id=ID_058, overrides=overrides))["model"] == "other-model"
    harness.listen(ID_058)
    warning = harness.event("warning", ID_058)
    assert warning.params["id"] == "auto-compact-0"
    assert warning.params["msg"] == {
        "type": "warning",
        "message": "This session was recorded with model `mock-model` but is resuming with `other-model`. "
                   "Consider switching back to `mock-model` as it may affect Codex performance.",
    }
    model.enqueue({"type": "text", "text": "again"})
    harness.turn(ID_058, "third")
    assert model.requests()[-1]["body"]["model"] == "other-model"


# -- thread/resume (v2) -------------------------------------------------------------------------------
def test_thread_resume_honours_overrides_and_attaches_a_listener(harness: Harness, model: MockModel,
                                                                  tmp_path: Path) -> None:
    path = place_058(harness.home)
    other = tmp_path / "other"
    other.mkdir()
    result = harness.answer(harness.thread_resume(thread_id=ID_058, model="other-model", cwd=str(other),
                                                  approval_policy="onRequest", sandbox="readOnly"))
    stamp = jsonl("resume_058_source.jsonl")[0]["payload"]["timestamp"]
    created_at = int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp())
    assert result == {"thread": {"id": ID_058, "preview": "hi there", "modelProvider": "mock_provider",
                                 "createdAt": created_at, "path": str(path)}}
    assert not [m for m in harness.log if isinstance(m, Notify) and m.method in ("sessionConfigured",
                                                                                  "thread/started")]
    source = path.read_text()
    model.enqueue({"type": "text", "text": "again"})
    params = v2.TurnStartParams(thread_id=ID_058, input=[v2.TextUserInput(text="second")])
    harness.answer(harness.call("turn/start", "turn_start", params))
    harness.event("task_complete", ID_058)  # no addConversationListener: thread/resume attached one
    body = model.requests()[-1]["body"]
    assert body["model"] == "other-model"
    assert body["input"][:-1] == jsonl("resume_058_request_input.jsonl")[:-1]  # no new environment context
    appended = [json.loads(line) for line in path.read_text()[len(source):].splitlines()]
    context = next(r["payload"] for r in appended if r["type"] == "turn_context")
    assert context == {"cwd": str(other), "approval_policy": "on-request", "sandbox_policy": {"mode": "read-only"},
                       "model": "other-model", "summary": "auto"}


def test_thread_resume_fork_and_path(harness: Harness, model: MockModel, tmp_path: Path) -> None:
    item = common.MessageResponseItem(role="user", content=[common.InputTextContentItem(text="x")])
    fork = harness.answer(harness.thread_resume(thread_id=UNKNOWN_ID, history=[item], path="/nonexistent"))["thread"]
    assert fork["id"] != UNKNOWN_ID and fork["preview"] == "x" and fork["modelProvider"] == "mock_provider"
    assert fork["createdAt"] > 0 and fork["id"] in fork["path"]
    path = tmp_path / "copy.jsonl"
    shutil.copy(FIXTURES / "resume_058_source.jsonl", path)
    thread = harness.answer(harness.thread_resume(thread_id=UNKNOWN_ID, path=str(path)))["thread"]
    assert (thread["id"], thread["path"]) == (ID_058, str(path))


# -- already loaded (DECISIONS 6) ----------------------------------------------------------------------
def test_resuming_a_loaded_conversation_keeps_it_and_its_listeners(harness: Harness, model: MockModel) -> None:
    created = harness.new_conversation()
    cid, path = created["conversationId"], created["rolloutPath"]
    harness.listen(cid)
    model.enqueue({"type": "text", "text": "one"}, {"type": "text", "text": "two"})
    harness.turn(cid, "first")
    overrides = v1.NewConversationParams(model="other-model")
    result = harness.answer(harness.resume(conversation_id=cid, overrides=overrides))
    assert (result["conversationId"], result["model"], result["rolloutPath"]) == (cid, "other-model", path)
    assert [m["type"] for m in result["initialMessages"]] == ["user_message", "token_count", "agent_message",
                                                              "token_count"]
    by_path = harness.answer(harness.resume(path=path))
    assert by_path["conversationId"] == cid
    thread = harness.answer(harness.thread_resume(thread_id=cid))["thread"]
    assert thread["id"] == cid and thread["preview"] == "first"
    assert [m.count for m in harness.router_log] == [1]  # never a second copy
    done = harness.turn(cid, "second")  # the listener added before the resumes still receives
    assert done.params["id"] == "1"  # same conversation: its submission counter goes on
    assert sum(1 for e in harness.events(cid) if e["msg"]["type"] == "task_complete") == 2
    body = model.requests()[-1]["body"]
    assert body["model"] == "other-model"
    texts = [part["text"] for item in body["input"] for part in item["content"]]
    assert texts[-3:] == ["first", "one", "second"]
    assert [r["type"] for r in read_rollout(Path(path))].count("session_meta") == 1


# -- config and bookkeeping ----------------------------------------------------------------------------
def test_each_new_conversation_rereads_config_toml(harness: Harness, model: MockModel) -> None:
    assert harness.new_conversation()["model"] == "mock-model"
    (harness.home / "config.toml").write_text(config_toml(model.base_url, model="saved-model"))
    assert harness.new_conversation()["model"] == "saved-model"
    thread = harness.answer(harness.call("thread/start", "thread_start", v2.ThreadStartParams()))["thread"]
    harness.listen(thread["id"])
    model.enqueue({"type": "text", "text": "hi"})
    harness.turn(thread["id"], "hello")
    assert model.requests()[-1]["body"]["model"] == "saved-model"
    failure = harness.failure(harness.call("newConversation", "new_conversation",
                                           v1.NewConversationParams(profile="nope")))
    assert failure.message == "error deriving config: config profile `nope` not found"


def test_router_is_told_the_loaded_count(harness: Harness, model: MockModel) -> None:
    first = harness.new_conversation()
    harness.new_conversation()
    harness.new_conversation()
    params = v1.ArchiveConversationParams(conversation_id=first["conversationId"], rollout_path=first["rolloutPath"])
    assert harness.answer(harness.call("archiveConversation", "archive_conversation", params,
                                       actor=harness.archive)) == {}
    with harness.cond:
        assert harness.cond.wait_for(lambda: len(harness.router_log) == 4, WAIT_S)
    assert [m.count for m in harness.router_log] == [1, 2, 3, 2]


# -- archive of a live conversation (§9) ---------------------------------------------------------------
def test_archive_a_conversation_mid_turn(harness: Harness, model: MockModel) -> None:
    created = harness.new_conversation()
    cid, path = created["conversationId"], Path(created["rolloutPath"])
    harness.listen(cid)
    model.enqueue({"type": "stall", "text": "partial answer", "deltas": 2, "after_deltas": 1})
    harness.send(cid, "take your time")
    model.wait_for_stall()
    params = v1.ArchiveConversationParams(conversation_id=cid, rollout_path=str(path))
    assert harness.answer(harness.call("archiveConversation", "archive_conversation", params,
                                       actor=harness.archive)) == {}
    kinds_seen = [e["msg"]["type"] for e in harness.events(cid)]
    assert kinds_seen[-2:] == ["turn_aborted", "shutdown_complete"]
    archived = harness.home / "archived_sessions" / path.name
    assert not path.exists() and archived.exists()
    last = read_rollout(archived)[-1]
    assert (last["type"], last["payload"]) == ("event_msg", {"type": "turn_aborted", "reason": "interrupted"})
    assert harness.failure(harness.send(cid, "still there?")).message == f"conversation not found: {cid}"
    harness.wait(lambda m: m == LoadedConversations(0), "count 0", harness.router_log)


def test_archive_resolves_a_pending_approval(tmp_path: Path, model: MockModel) -> None:
    harness = Harness(tmp_path, model, approval="untrusted")
    created = harness.new_conversation()
    cid, path = created["conversationId"], Path(created["rolloutPath"])
    harness.listen(cid)
    marker = tmp_path / "ran"
    model.enqueue({"type": "shell", "command": ["python3", "-c", f"open({str(marker)!r}, 'w')"], "call_id": "c1"},
                  {"type": "text", "text": "never reached"})
    harness.send(cid, "run it")
    harness.wait(lambda m: isinstance(m, ServerCall) and m.method == "execCommandApproval", "the approval request")
    params = v1.ArchiveConversationParams(conversation_id=cid, rollout_path=str(path))
    assert harness.answer(harness.call("archiveConversation", "archive_conversation", params,
                                       actor=harness.archive)) == {}
    assert [e["msg"]["type"] for e in harness.events(cid)][-2:] == ["turn_aborted", "shutdown_complete"]
    assert not marker.exists() and len(model.requests()) == 1


def test_shutdown_answered_even_when_the_conversation_never_confirms(tmp_path: Path, model: MockModel) -> None:
    harness = Harness(tmp_path, model, shutdown_wait=0.2)
    created = harness.new_conversation()
    for ref in pykka.ActorRegistry.get_by_class(ConversationActor):
        ref.stop()  # gone behind the manager's back: it will never confirm
    params = v1.ArchiveConversationParams(conversation_id=created["conversationId"],
                                          rollout_path=created["rolloutPath"])
    assert harness.answer(harness.call("archiveConversation", "archive_conversation", params,
                                       actor=harness.archive)) == {}
    assert (harness.home / "archived_sessions" / Path(created["rolloutPath"]).name).exists()


# -- server stop (DECISIONS 13) ------------------------------------------------------------------------
def test_stopping_the_manager_ends_running_turns(harness: Harness, model: MockModel) -> None:
    created = harness.new_conversation()
    cid, path = created["conversationId"], Path(created["rolloutPath"])
    harness.listen(cid)
    model.enqueue({"type": "stall", "text": "partial answer", "deltas": 2, "after_deltas": 1})
    harness.send(cid, "take your time")
    model.wait_for_stall()
    harness.manager.stop(timeout=10)
    aborted = harness.event("turn_aborted", cid)
    assert aborted.params["msg"] == {"type": "turn_aborted", "reason": "interrupted"}
    last = read_rollout(path)[-1]
    assert (last["type"], last["payload"]["type"]) == ("event_msg", "turn_aborted")


# -- through the server ----------------------------------------------------------------------------------
def test_server_resumes_a_058_rollout_by_id(codex_app_server_factory: Any, codex_home: Path, model: MockModel,
                                           tmp_path: Path) -> None:
    path = place_058(codex_home)
    work = tmp_path / "w"
    work.mkdir()
    client = codex_app_server_factory(config_toml(model.base_url), cwd=work)
    result = client.request("resumeConversation", {"conversationId": ID_058})
    initial = jsonl("resume_058_initial_messages.jsonl")
    assert result == {"conversationId": ID_058, "model": "mock-model", "initialMessages": initial,
                      "rolloutPath": str(path)}
    notes = client.take_notifications()
    assert [method for method, _ in notes] == ["sessionConfigured"]  # sent before the response
    assert notes[0][1]["initialMessages"] == initial
    client.request("addConversationListener", {"conversationId": ID_058})
    model.enqueue({"type": "text", "text": "again"})
    item = {"type": "text", "data": {"text": "third"}}
    client.request("sendUserMessage", {"conversationId": ID_058, "items": [item]})
    client.wait_notification("codex/event/task_complete")
    assert model.requests()[-1]["body"]["input"] == jsonl("resume_058_request_input.jsonl")
    listed = client.request("listConversations", {"modelProviders": []})["items"]
    assert [item["conversationId"] for item in listed] == [ID_058]


def test_server_thread_resume_by_path_then_sigterm_ends_the_turn(codex_app_server_factory: Any, codex_home: Path,
                                                                 model: MockModel, tmp_path: Path) -> None:
    path = tmp_path / "copied.jsonl"
    shutil.copy(FIXTURES / "resume_058_source.jsonl", path)
    client = codex_app_server_factory(config_toml(model.base_url), cwd=tmp_path)
    thread = client.request("thread/resume", {"threadId": UNKNOWN_ID, "path": str(path)})["thread"]
    assert (thread["id"], thread["preview"], thread["path"]) == (ID_058, "hi there", str(path))
    model.enqueue({"type": "stall", "text": "partial answer", "deltas": 2, "after_deltas": 1})
    client.request("turn/start", {"threadId": ID_058, "input": [{"type": "text", "text": "slow one"}]})
    client.wait_notification("codex/event/task_started")
    model.wait_for_stall()
    client.process.send_signal(signal.SIGTERM)
    assert client.process.wait(10) == 0
    last = read_rollout(path)[-1]
    assert (last["type"], last["payload"]) == ("event_msg", {"type": "turn_aborted", "reason": "interrupted"})


REF_058 = Path("/work/ref058/node_modules/@openai/codex/vendor/x86_64-unknown-linux-musl/codex/codex")


@pytest.mark.skipif(not REF_058.exists(), reason="the codex 0.58.0 reference binary is not installed here")
def test_058_lists_and_resumes_a_rollout_we_wrote(codex_app_server_factory: Any, codex_home: Path,
                                                  model: MockModel, tmp_path: Path) -> None:
    from pytest_codex_app_server import AppServerClient

    client = codex_app_server_factory(config_toml(model.base_url), cwd=tmp_path)
    cid = client.request("newConversation", {})["conversationId"]
    client.request("addConversationListener", {"conversationId": cid})
    model.enqueue({"type": "text", "text": "Hello there, friend!"}, {"type": "reasoning", "text": "hm", "answer": "ok"})
    for text in ("hi there", "and again"):
        client.request("sendUserMessage", {"conversationId": cid, "items": [{"type": "text", "data": {"text": text}}]})
        client.wait_notification("codex/event/task_complete")
    assert client.close() == 0
    path = next((codex_home / "sessions").rglob(f"*{cid}.jsonl"))
    records = read_rollout(path)

    reference = AppServerClient([str(REF_058), "app-server"], codex_home, cwd=tmp_path)
    try:
        reference.initialize()
        listed = reference.request("listConversations", {})["items"]
        assert [(item["conversationId"], item["preview"]) for item in listed] == [(cid, "hi there")]
        resumed = reference.request("resumeConversation", {"conversationId": cid})
        assert (resumed["conversationId"], resumed["rolloutPath"]) == (cid, str(path))
        assert resumed["initialMessages"] == [r["payload"] for r in records if r["type"] == "event_msg"]
        reference.request("addConversationListener", {"conversationId": cid})
        model.enqueue({"type": "text", "text": "again"})
        item = {"type": "text", "data": {"text": "third"}}
        reference.request("sendUserMessage", {"conversationId": cid, "items": [item]})
        reference.wait_notification("codex/event/task_complete")
    finally:
        reference.close()
    sent = model.requests()[-1]["body"]["input"]
    assert sent[:-1] == [r["payload"] for r in records if r["type"] == "response_item"]
    assert [r["type"] for r in read_rollout(path)].count("session_meta") == 1
