"""The conversation engine at actor level: manager + conversation + listener + turn worker, against
the loopback scripted model, with a recording outgoing actor in place of the writer."""

from __future__ import annotations

import base64
import itertools
import json
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from recorders import ConditionRecorder as Recorder
from recorders import wait_logged

from actors.conversations import ConversationsActor, uuid_error
from actors.rollout_writer import read_rollout
from codex_mock_model import MockModel
from config.providers import ModelProviderInfo
from messages import v1, v2
from messages.internal import Call, ConnectionClosed, ConversationShutDown, Failure, Notify, Reply, ShutdownConversation

WAIT_S = 15.0


class Harness:
    def __init__(self, tmp_path: Path, model: MockModel, approval: str = "never",
                 sandbox: dict[str, Any] | None = None, request_retries: int = 0) -> None:
        self.log: list[Any] = []
        self.cond = threading.Condition()
        self.outgoing = Recorder.start(self.log, self.cond)
        self.home = tmp_path / "home"
        self.cwd = tmp_path / "work"
        self.home.mkdir()
        self.cwd.mkdir()
        provider = ModelProviderInfo(name="mock", base_url=model.base_url, wire_api="responses",
                                     request_max_retries=request_retries, stream_max_retries=0)
        self.config = SimpleNamespace(
            codex_home=self.home, cwd=self.cwd, model="mock-model", model_provider_id="mock_provider",
            model_provider=provider, approval_policy=approval,
            sandbox_policy=sandbox or {"mode": "danger-full-access"}, shell_environment_policy=None,
            model_reasoning_effort=None, model_reasoning_summary=None, base_instructions=None,
            developer_instructions=None,
        )
        self.manager = ConversationsActor.start(self.outgoing, self.config)
        self._ids = itertools.count(1)

    # -- driving --------------------------------------------------------------------------------
    def call(self, method: str, handler: str, params: Any, connection: int = 0) -> int:
        request_id = next(self._ids)
        self.manager.tell(Call(connection, request_id, method, handler, params, "test-agent/1.0"))
        return request_id

    def wait(self, predicate: Any, what: str) -> Any:
        return wait_logged(self.cond, self.log, predicate, what, WAIT_S)

    def answer(self, request_id: int) -> Any:
        message = self.wait(lambda m: isinstance(m, Reply | Failure) and m.request_id == request_id,
                            f"answer to {request_id}")
        if isinstance(message, Failure):
            raise AssertionError(f"request {request_id} failed: {message.message}")
        return message.result

    def failure(self, request_id: int) -> Failure:
        message = self.wait(lambda m: isinstance(m, Reply | Failure) and m.request_id == request_id,
                            f"answer to {request_id}")
        assert isinstance(message, Failure), message
        return message

    def event(self, kind: str, conversation_id: str | None = None, after: int = 0) -> Notify:
        def match(m: Any) -> bool:
            return (isinstance(m, Notify) and m.method == f"codex/event/{kind}"
                    and (conversation_id is None or m.params["conversationId"] == conversation_id)
                    and self.log.index(m) >= after)
        return self.wait(match, kind)

    def notes(self, conversation_id: str | None = None) -> list[Notify]:
        with self.cond:
            return [m for m in self.log if isinstance(m, Notify)
                    and (conversation_id is None or not m.method.startswith("codex/event/")
                         or m.params["conversationId"] == conversation_id)]

    def new_conversation(self) -> str:
        result = self.answer(self.call("newConversation", "new_conversation", v1.NewConversationParams()))
        return result["conversationId"]

    def listen(self, conversation_id: str, connection: int = 0) -> str:
        params = v1.AddConversationListenerParams(conversation_id=conversation_id)
        return self.answer(self.call("addConversationListener", "add_conversation_listener", params,
                                     connection))["subscriptionId"]

    def send(self, conversation_id: str, text: str, connection: int = 0) -> int:
        item = v1.TextInputItem(data=v1.TextInputItemData(text=text))
        params = v1.SendUserMessageParams(conversation_id=conversation_id, items=[item])
        return self.call("sendUserMessage", "send_user_message", params, connection)


@pytest.fixture
def harness(tmp_path: Path, model: MockModel) -> Harness:
    return Harness(tmp_path, model)


def kinds(notes: list[Notify]) -> list[str]:
    return [n.method.removeprefix("codex/event/") if n.method.startswith("codex/event/") else n.method for n in notes]


# -- plain turn ---------------------------------------------------------------------------------------
def test_plain_streamed_reply_exact_event_order(harness: Harness, model: MockModel) -> None:
    model.enqueue({"type": "text", "text": "Hello there, friend!", "deltas": 3})
    cid = harness.new_conversation()
    harness.listen(cid)
    assert harness.answer(harness.send(cid, "hi there")) == {}
    harness.event("task_complete", cid)

    assert kinds(harness.notes(cid)) == [
        "task_started", "item_started", "item/started", "item_completed", "item/completed", "user_message",
        "background_event", "token_count", "account/rateLimits/updated",
        "item_started", "item/started",
        "agent_message_content_delta", "agent_message_delta",
        "agent_message_content_delta", "agent_message_delta",
        "agent_message_content_delta", "agent_message_delta",
        "item_completed", "item/completed", "agent_message", "token_count", "account/rateLimits/updated",
        "task_complete",
    ]
    notes = harness.notes(cid)
    assert all(n.params["id"] == "0" for n in notes if n.method.startswith("codex/event/"))
    assert list(notes[0].params) == ["id", "msg", "conversationId"]
    deltas = [n.params["msg"]["delta"] for n in notes if n.method == "codex/event/agent_message_delta"]
    assert "".join(deltas) == "Hello there, friend!"
    done = notes[-1].params["msg"]
    assert done == {"type": "task_complete", "last_agent_message": "Hello there, friend!"}
    user_item = notes[2].params["item"]
    assert user_item["type"] == "userMessage" and user_item["content"] == [{"type": "text", "text": "hi there"}]
    body = model.requests()[0]["body"]
    assert body["input"][-1] == {"type": "message", "role": "user",
                                 "content": [{"type": "input_text", "text": "hi there"}]}
    assert [t["name"] for t in body["tools"]] == ["shell", "list_mcp_resources", "list_mcp_resource_templates",
                                                  "read_mcp_resource", "update_plan", "view_image"]
    assert model.requests()[0]["headers"]["user-agent"] == "test-agent/1.0"


def test_second_turn_carries_history_and_counts_submissions(harness: Harness, model: MockModel) -> None:
    model.enqueue({"type": "text", "text": "one"}, {"type": "text", "text": "two"})
    cid = harness.new_conversation()
    harness.listen(cid)
    harness.send(cid, "first")
    first = harness.event("task_complete", cid)
    harness.send(cid, "second")
    second = harness.event("task_complete", cid, after=harness.log.index(first) + 1)
    assert second.params["id"] == "1"
    body = model.requests()[1]["body"]
    texts = [part["text"] for item in body["input"] for part in item["content"]]
    assert texts[-3:] == ["first", "one", "second"]


# -- tools --------------------------------------------------------------------------------------------
def test_multi_step_tool_loop(harness: Harness, model: MockModel) -> None:
    model.enqueue(
        {"type": "shell", "command": ["python3", "-c", "print(42)"], "call_id": "call-1"},
        {"type": "update_plan", "plan": [{"step": "look", "status": "completed"}], "call_id": "call-2"},
        {"type": "text", "text": "done"},
    )
    cid = harness.new_conversation()
    harness.listen(cid)
    harness.send(cid, "run python")
    harness.event("task_complete", cid)
    seq = kinds(harness.notes(cid))
    assert seq.index("exec_command_begin") < seq.index("exec_command_output_delta") < seq.index("exec_command_end")
    assert seq.index("exec_command_end") < seq.index("plan_update") < seq.index("agent_message")
    end = harness.event("exec_command_end", cid).params["msg"]
    assert end["stdout"] == "42\n" and end["exit_code"] == 0 and end["aggregated_output"] == "42\n"
    chunks = [n.params["msg"] for n in harness.notes(cid) if n.method == "codex/event/exec_command_output_delta"]
    assert b"".join(base64.b64decode(c["chunk"]) for c in chunks) == b"42\n"
    assert {c["call_id"] for c in chunks} == {"call-1"}
    plan = harness.event("plan_update", cid).params["msg"]
    assert plan == {"type": "plan_update", "explanation": None, "plan": [{"step": "look", "status": "completed"}]}

    requests = model.requests()
    assert len(requests) == 3
    second = requests[1]["body"]["input"]
    assert second[-2]["type"] == "function_call" and second[-2]["call_id"] == "call-1"
    output = json.loads(second[-1]["output"])
    assert second[-1]["type"] == "function_call_output" and output["output"] == "42\n"
    assert output["metadata"]["exit_code"] == 0
    third = requests[2]["body"]["input"]
    assert third[-1] == {"type": "function_call_output", "call_id": "call-2", "output": "Plan updated"}


def test_shell_runs_inside_the_read_only_sandbox(tmp_path: Path, model: MockModel) -> None:
    # Under on-request + read-only the command is not refused: it runs confined, and its write fails (as 0.58).
    harness = Harness(tmp_path, model, approval="on-request", sandbox={"mode": "read-only"})
    marker = tmp_path / "work" / "ran"
    model.enqueue({"type": "shell", "command": ["touch", str(marker)], "call_id": "c"}, {"type": "text", "text": "ok"})
    cid = harness.new_conversation()
    harness.listen(cid)
    harness.send(cid, "try")
    harness.event("task_complete", cid)
    assert not marker.exists()
    assert harness.event("exec_command_end", cid).params["msg"]["exit_code"] not in (0, -1)


# -- errors -------------------------------------------------------------------------------------------
def test_model_error_ends_turn_with_error_then_task_complete(harness: Harness, model: MockModel) -> None:
    model.enqueue({"type": "http_error", "status": 400, "body": "bad things"}, {"type": "text", "text": "fine"})
    cid = harness.new_conversation()
    harness.listen(cid)
    harness.send(cid, "hi")
    done = harness.event("task_complete", cid)
    seq = [k for k in kinds(harness.notes(cid)) if not k.startswith("item")]
    assert seq == ["task_started", "user_message", "background_event", "error", "task_complete"]
    assert harness.event("error", cid).params["msg"]["message"] == "unexpected status 400 Bad Request: bad things"
    assert done.params["msg"]["last_agent_message"] is None
    harness.send(cid, "again")  # the conversation stays usable
    after = harness.event("task_complete", cid, after=harness.log.index(done) + 1)
    assert after.params["msg"]["last_agent_message"] == "fine"


def test_unknown_and_malformed_ids(harness: Harness) -> None:
    unknown = "01a20f81-578a-75f2-a1a2-78773b5d2392"
    failure = harness.failure(harness.send(unknown, "x"))
    assert (failure.code, failure.message) == (-32600, f"conversation not found: {unknown}")
    params = v2.TurnStartParams(thread_id="not-a-uuid", input=[])
    failure = harness.failure(harness.call("turn/start", "turn_start", params))
    assert failure.message == ("invalid thread id: invalid character: expected an optional prefix of `urn:uuid:` "
                               "followed by [0-9a-fA-F-], found `n` at 1")
    params = v1.RemoveConversationListenerParams(subscription_id="7678ebc4-c028-49e1-8259-442c49d20323")
    failure = harness.failure(harness.call("removeConversationListener", "remove_conversation_listener", params))
    assert failure.message == "subscription not found: 7678ebc4-c028-49e1-8259-442c49d20323"


def test_uuid_error_texts() -> None:
    assert uuid_error("01a20f81-578a-75f2-a1a2-78773b5d2392") is None
    assert uuid_error("abc") == "invalid length: expected length 32 for simple format, found 3"
    assert uuid_error("01a20f81-578a-75f2") == "invalid group count: expected 5, found 3"
    assert uuid_error("01a20f8-1578a-75f2-a1a2-78773b5d2392").startswith("invalid group length in group 0")


# -- interrupts ---------------------------------------------------------------------------------------
def test_interrupt_mid_stream_v1(harness: Harness, model: MockModel) -> None:
    model.enqueue({"type": "stall", "text": "partial answer", "deltas": 2, "after_deltas": 1},
                  {"type": "text", "text": "after"})
    cid = harness.new_conversation()
    harness.listen(cid)
    harness.send(cid, "hi")
    harness.event("agent_message_delta", cid)
    request = harness.call("interruptConversation", "interrupt_conversation",
                           v1.InterruptConversationParams(conversation_id=cid))
    assert harness.answer(request) == {"abortReason": "interrupted"}
    aborted = harness.event("turn_aborted", cid)
    reply = harness.wait(lambda m: isinstance(m, Reply) and m.request_id == request, "reply")
    assert harness.log.index(aborted) < harness.log.index(reply)
    assert aborted.params["id"] == "0"
    assert not any(n.method == "codex/event/task_complete" for n in harness.notes(cid))
    # the model server saw the stream dropped; the next input gets submission id 2
    harness.send(cid, "again")
    done = harness.event("task_complete", cid)
    assert done.params["id"] == "2"
    texts = [p.get("text") for item in model.requests()[1]["body"]["input"] for p in item["content"]]
    assert "partial answer" not in texts and "partial" not in texts


def test_interrupt_mid_stream_v2_and_turn_completed(harness: Harness, model: MockModel) -> None:
    model.enqueue({"type": "stall", "text": "partial answer", "deltas": 2, "after_deltas": 1})
    result = harness.answer(harness.call("thread/start", "thread_start", v2.ThreadStartParams()))
    thread = result["thread"]
    assert list(thread) == ["id", "preview", "modelProvider", "createdAt", "path"]
    assert thread["modelProvider"] == "mock_provider" and Path(thread["path"]).exists()
    tid = thread["id"]
    started = harness.wait(lambda m: isinstance(m, Notify) and m.method == "thread/started", "thread/started")
    assert started.params == {"thread": thread}
    params = v2.TurnStartParams(thread_id=tid, input=[v2.TextUserInput(text="hi")], model="other-model")
    turn = harness.answer(harness.call("turn/start", "turn_start", params))["turn"]
    user = {"type": "userMessage", "id": "1", "content": [{"type": "text", "text": "hi"}]}
    assert turn == {"id": "1", "items": [user],
                    "status": "inProgress", "error": None}
    delta = harness.wait(lambda m: isinstance(m, Notify) and m.method == "item/agentMessage/delta", "v2 delta")
    assert delta.params["threadId"] == tid and delta.params["turnId"] == "1"
    request = harness.call("turn/interrupt", "turn_interrupt", v2.TurnInterruptParams(thread_id=tid, turn_id="1"))
    assert harness.answer(request) == {}
    completed = harness.wait(lambda m: isinstance(m, Notify) and m.method == "turn/completed", "turn/completed")
    assert completed.params["turn"]["status"] == "interrupted" and completed.params["turn"]["id"] == "1"
    assert model.requests()[0]["body"]["model"] == "other-model"


def test_idle_interrupt_is_answered(harness: Harness) -> None:
    cid = harness.new_conversation()
    request = harness.call("interruptConversation", "interrupt_conversation",
                           v1.InterruptConversationParams(conversation_id=cid))
    assert harness.answer(request) == {"abortReason": "interrupted"}


# -- listeners ----------------------------------------------------------------------------------------
def test_events_buffer_until_a_listener_attaches(harness: Harness, model: MockModel) -> None:
    model.enqueue({"type": "text", "text": "queued"})
    cid = harness.new_conversation()
    harness.send(cid, "hi")
    model.wait_for_requests(1)
    # nothing is delivered before someone listens; then the whole turn arrives in order
    harness.listen(cid)
    harness.event("task_complete", cid)
    seq = [k for k in kinds(harness.notes(cid)) if k.startswith(("task", "user", "agent_message"))]
    assert seq[0] == "task_started" and seq[-1] == "task_complete"


def test_two_listeners_one_connection_receive_each_event_once(harness: Harness, model: MockModel) -> None:
    model.enqueue({"type": "text", "text": "once", "deltas": 2})
    cid = harness.new_conversation()
    harness.listen(cid)
    harness.listen(cid)
    harness.send(cid, "hi")
    harness.event("task_complete", cid)
    notes = [n for n in harness.notes(cid) if n.method.startswith("codex/event/")]
    assert [n.params["msg"]["type"] for n in notes].count("agent_message") == 1
    assert all(n.connections == (0,) for n in notes)


def test_two_connections_each_receive_every_event(harness: Harness, model: MockModel) -> None:
    model.enqueue({"type": "text", "text": "both"})
    cid = harness.new_conversation()
    harness.listen(cid, connection=0)
    harness.listen(cid, connection=1)
    harness.send(cid, "hi")
    harness.event("task_complete", cid)
    note = harness.event("agent_message", cid)
    assert note.connections == (0, 1)
    harness.manager.tell(ConnectionClosed(1))
    model.enqueue({"type": "text", "text": "only zero"})
    harness.send(cid, "again")
    last = harness.wait(lambda m: isinstance(m, Notify) and m.method == "codex/event/agent_message"
                        and m.params["msg"]["message"] == "only zero", "second answer")
    assert last.connections == (0,)


def test_removing_a_listener_stops_its_notifications(harness: Harness, model: MockModel) -> None:
    model.enqueue({"type": "text", "text": "a"}, {"type": "text", "text": "b"})
    cid = harness.new_conversation()
    sub = harness.listen(cid)
    harness.send(cid, "one")
    harness.event("task_complete", cid)
    params = v1.RemoveConversationListenerParams(subscription_id=sub)
    assert harness.answer(harness.call("removeConversationListener", "remove_conversation_listener", params)) == {}
    harness.send(cid, "two")
    model.wait_for_requests(2)
    # The second turn is held for the next listener: none of it goes out before that listener's answer.
    request = harness.call("addConversationListener", "add_conversation_listener",
                           v1.AddConversationListenerParams(conversation_id=cid))
    answered = harness.wait(lambda m: isinstance(m, Reply) and m.request_id == request, "listener answer")
    second = harness.wait(lambda m: isinstance(m, Notify) and m.method == "codex/event/agent_message"
                          and m.params["msg"]["message"] == "b", "second answer")
    assert harness.log.index(second) > harness.log.index(answered)
    failure = harness.failure(harness.call("removeConversationListener", "remove_conversation_listener", params))
    assert failure.message == f"subscription not found: {sub}"


def test_twenty_conversations_at_once_without_cross_talk(tmp_path: Path, model: MockModel) -> None:
    # The scripted model's listen backlog is small: let a refused connect be retried.
    harness = Harness(tmp_path, model, request_retries=5)
    ids = [harness.new_conversation() for _ in range(20)]
    for index in range(len(ids)):
        model.enqueue({"type": "text", "text": f"answer {index} " * 5, "deltas": 10, "match": f"<q{index}>"})
    for cid in ids:
        harness.listen(cid)
    for index, cid in enumerate(ids):
        harness.send(cid, f"question <q{index}>")
    for cid in ids:
        harness.event("task_complete", cid)
    for index, cid in enumerate(ids):
        notes = [n for n in harness.notes() if n.method.startswith("codex/event/")
                 and n.params["conversationId"] == cid]
        deltas = "".join(n.params["msg"]["delta"] for n in notes if n.method == "codex/event/agent_message_delta")
        assert deltas == f"answer {index} " * 5, [n.params["msg"] for n in notes][-8:]
        assert [n.params["msg"]["type"] for n in notes].count("task_complete") == 1


# -- rollout and shutdown -----------------------------------------------------------------------------
def test_rollout_written_before_response_and_after_turn(harness: Harness, model: MockModel) -> None:
    model.enqueue({"type": "text", "text": "Hello there, friend!", "deltas": 3})
    result = harness.answer(harness.call("newConversation", "new_conversation", v1.NewConversationParams()))
    path = Path(result["rolloutPath"])
    records = read_rollout(path)
    assert [r["type"] for r in records] == ["session_meta", "response_item"]
    assert records[0]["payload"]["id"] == result["conversationId"]
    harness.listen(result["conversationId"])
    harness.send(result["conversationId"], "hi there")
    harness.event("task_complete", result["conversationId"])
    kinds_written = [(r["type"], r["payload"].get("type")) for r in read_rollout(path)]
    assert kinds_written[2:] == [
        ("response_item", "message"), ("event_msg", "user_message"), ("turn_context", None),
        ("event_msg", "token_count"), ("event_msg", "agent_message"), ("event_msg", "token_count"),
        ("response_item", "message"),
    ]


def test_shutdown_conversation(harness: Harness, model: MockModel) -> None:
    cid = harness.new_conversation()
    harness.listen(cid)
    log: list[Any] = []
    cond = threading.Condition()
    catcher = Recorder.start(log, cond)
    harness.manager.tell(ShutdownConversation(cid, catcher, "tok"))
    with cond:
        assert cond.wait_for(lambda: log, WAIT_S)
    assert log[0] == ConversationShutDown("tok", True)
    harness.event("shutdown_complete", cid)
    failure = harness.failure(harness.send(cid, "x"))
    assert failure.message == f"conversation not found: {cid}"
