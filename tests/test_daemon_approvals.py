"""Daemon mode: approvals across connections and re-attaching to a running turn (issue 9, DECISIONS 5, 6).

An approval request goes to the connection that sent the turn's input; when that connection leaves,
a pending request moves to another subscribed connection; when none is left it resolves as `abort`.
Each request is decided once. A client that leaves mid-turn does not stop the turn, and a client
that comes back with `thread/resume` attaches to the loaded thread and receives the rest.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pytest_codex_app_server import Daemon, ServerRequest, SocketClient

from codex_mock_model import MockModel

SHELL = {"type": "shell", "command": ["python3", "-c", "print(6 * 7)"], "call_id": "call-a"}


def _config(model: MockModel, approval: str) -> str:
    return f"""model = "mock-model"
model_provider = "mock"
approval_policy = "{approval}"
sandbox_mode = "danger-full-access"

[model_providers.mock]
name = "mock"
base_url = "{model.base_url}"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
"""


@pytest.fixture
def daemon(codex_daemon_factory: Callable[..., Daemon], model: MockModel) -> Daemon:
    """A daemon whose commands need approval (`untrusted`)."""
    return codex_daemon_factory(config_toml=_config(model, "untrusted"))


def _shared_conversation(owner: SocketClient, others: list[SocketClient], cwd: Path) -> str:
    conversation = owner.request("newConversation", {"cwd": str(cwd)})["conversationId"]
    for client in (owner, *others):
        client.request("addConversationListener", {"conversationId": conversation})
    return conversation


def _say(client: SocketClient, conversation: str, text: str) -> None:
    assert client.request("sendUserMessage", {"conversationId": conversation,
                                              "items": [{"type": "text", "data": {"text": text}}]}) == {}


def _approvals(client: SocketClient) -> list[ServerRequest]:
    """Server requests this client received and did not take yet."""
    with client._inbox.lock:  # noqa: SLF001 - the plugin keeps untaken requests there
        return list(client._inbox.requests)  # noqa: SLF001


def _rollout(daemon: Daemon) -> list[dict[str, Any]]:
    (path,) = (daemon.process.codex_home / "sessions").rglob("rollout-*.jsonl")
    return [json.loads(line) for line in path.read_text().splitlines()]


def _wait_rollout(daemon: Daemon, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not predicate(_rollout(daemon)):
        assert time.monotonic() < deadline, "the rollout never got there"
        time.sleep(0.05)


def _events(records: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r["payload"] for r in records if r["type"] == "event_msg" and r["payload"]["type"] == kind]


def test_an_approval_goes_to_the_connection_that_sent_the_input(daemon: Daemon, model: MockModel,
                                                                tmp_path: Path) -> None:
    owner, sender = daemon.connect(name="owner"), daemon.connect(name="sender")
    conversation = _shared_conversation(owner, [sender], tmp_path)
    model.enqueue(SHELL, {"type": "text", "text": "done"})
    _say(sender, conversation, "run it")
    request = sender.next_server_request()
    assert request.method == "execCommandApproval"
    assert (request.params["conversationId"], request.params["callId"]) == (conversation, "call-a")
    sender.answer(request, {"decision": "approved"})
    for client in (owner, sender):
        assert client.wait_notification("codex/event/task_complete")["msg"]["last_agent_message"] == "done"
    assert _approvals(owner) == [] and _approvals(sender) == []
    output = [i for i in model.requests()[1]["body"]["input"] if i["type"] == "function_call_output"]
    assert json.loads(output[0]["output"])["output"] == "42\n"


def test_a_pending_approval_moves_to_another_subscriber_when_its_connection_leaves(
        daemon: Daemon, model: MockModel, tmp_path: Path) -> None:
    sender, other = daemon.connect(name="sender"), daemon.connect(name="other")
    conversation = _shared_conversation(sender, [other], tmp_path)
    model.enqueue(SHELL, {"type": "text", "text": "done after the hand-over"})
    _say(sender, conversation, "run it")
    first = sender.next_server_request()
    assert first.method == "execCommandApproval" and _approvals(other) == []
    sender.close()  # leaves without answering
    moved = other.next_server_request()
    assert (moved.method, moved.params) == (first.method, first.params)
    other.answer(moved, {"decision": "approved"})
    complete = other.wait_notification("codex/event/task_complete")
    assert complete["msg"]["last_agent_message"] == "done after the hand-over"
    ends = [p["msg"] for m, p in other.all_notifications if m == "codex/event/exec_command_end"]
    assert [(end["call_id"], end["exit_code"], end["stdout"]) for end in ends] == [("call-a", 0, "42\n")]
    # decided once: the request was not sent a second time, and the conversation goes on
    model.enqueue({"type": "text", "text": "next turn"})
    _say(other, conversation, "again")
    nxt = other.wait_notification("codex/event/task_complete")
    assert nxt["msg"]["last_agent_message"] == "next turn"
    assert _approvals(other) == []
    assert len(model.requests()) == 3


def test_a_pending_approval_resolves_as_abort_when_no_connection_is_left(daemon: Daemon, model: MockModel,
                                                                         tmp_path: Path) -> None:
    sender, other = daemon.connect(name="sender"), daemon.connect(name="other")
    conversation = _shared_conversation(sender, [other], tmp_path)
    model.enqueue(SHELL, {"type": "text", "text": "never asked for"})
    _say(sender, conversation, "run it")
    sender.next_server_request()
    sender.close()
    other.next_server_request()  # handed over
    other.close()  # nobody is left to ask
    _wait_rollout(daemon, lambda records: bool(_events(records, "turn_aborted")))
    assert _events(_rollout(daemon), "turn_aborted") == [{"type": "turn_aborted", "reason": "interrupted"}]
    assert len(model.requests()) == 1  # the command never ran, the model was not asked again
    # The conversation outlives its clients: a new one picks it up.
    late = daemon.connect(name="late")
    late.request("addConversationListener", {"conversationId": conversation})
    model.reset()
    model.enqueue({"type": "text", "text": "still here"})
    _say(late, conversation, "hello again")
    assert late.wait_notification("codex/event/task_complete")["msg"]["last_agent_message"] == "still here"
    assert _approvals(late) == []


def test_a_client_leaving_mid_turn_and_resuming_the_thread_gets_the_rest(
        codex_daemon_factory: Callable[..., Daemon], model: MockModel) -> None:
    daemon = codex_daemon_factory(config_toml=_config(model, "never"))
    leaver = daemon.connect(name="leaver")
    thread = leaver.request("thread/start", {})["thread"]
    model.enqueue({"type": "stall", "text": "the whole answer", "deltas": 4, "after_deltas": 2})
    started = leaver.request("turn/start", {"threadId": thread["id"], "input": [{"type": "text", "text": "go"}]})
    model.wait_for_stall()
    leaver.close()
    back = daemon.connect(name="back")
    resumed = back.request("thread/resume", {"threadId": thread["id"]})
    assert resumed["thread"]["id"] == thread["id"]
    model.release()
    complete = back.wait_notification("codex/event/task_complete")
    assert (complete["id"], complete["msg"]["last_agent_message"]) == (started["turn"]["id"], "the whole answer")
    done = back.wait_notification("turn/completed")
    assert (done["threadId"], done["turn"]["id"], done["turn"]["status"]) == (
        thread["id"], started["turn"]["id"], "completed")
    deltas = [p["msg"]["delta"] for m, p in back.all_notifications if m == "codex/event/agent_message_delta"]
    assert deltas and "".join(deltas) in "the whole answer" and "the whole answer".endswith("".join(deltas))
    _wait_rollout(daemon, lambda records: bool(_events(records, "agent_message")))
    assert [e["message"] for e in _events(_rollout(daemon), "agent_message")] == ["the whole answer"]
    # Attached to the loaded thread, not a second copy: its submission counter goes on.
    model.enqueue({"type": "text", "text": "second turn"})
    again = back.request("turn/start", {"threadId": thread["id"], "input": [{"type": "text", "text": "more"}]})
    assert int(again["turn"]["id"]) > int(started["turn"]["id"])
    assert back.wait_notification("codex/event/task_complete")["msg"]["last_agent_message"] == "second turn"
    sent = model.requests()[-1]["body"]["input"]
    assert [i["content"][0]["text"] for i in sent if i.get("role") == "assistant"] == ["the whole answer"]
