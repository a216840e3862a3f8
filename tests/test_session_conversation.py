"""The conversation engine end to end (issue 4), through the shipped fixture, against a scripted model.

Each test starts `codex-app-server` with a MockModel of its own configured as a custom provider, and
talks to it as an IDE does. Event orders are CONVERSATIONS.md §1.3 as observed on 0.58.0. The same
file runs against the reference binary (`--codex-app-server-cmd ".../codex app-server"`): tests of
what we deliberately do better (§12) are skipped there.
"""

from __future__ import annotations

import base64
import inspect
import json
import os
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pytest_codex_app_server import AppServerClient, JsonRpcError, server_command

from codex_mock_model import MockModel

FIXTURES = Path(__file__).parent / "fixtures"
USAGE = {"input_tokens": 10, "output_tokens": 5}
NOT_GIT = "Snapshots disabled: current directory is not a Git repository."
HIGH_DEMAND = "We're currently experiencing high demand, which may cause temporary errors."
Note = tuple[str, Any]


# -- set-up ---------------------------------------------------------------------------------------
@pytest.fixture
def reference(request: pytest.FixtureRequest) -> bool:
    """Whether the server under test is the 0.58.0 binary rather than ours."""
    return Path(server_command(request.config)[0]).name == "codex"


@pytest.fixture
def ours_only(reference: bool) -> None:
    if reference:
        pytest.skip("deliberately different from 0.58 (CONVERSATIONS.md §12)")


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "w"
    path.mkdir()
    return path


def config_toml(model: MockModel, wire: str = "responses", request_retries: int = 0, stream_retries: int = 0) -> str:
    return (
        'model = "mock-model"\nmodel_provider = "mock"\napproval_policy = "never"\n'
        'sandbox_mode = "danger-full-access"\n\n[model_providers.mock]\nname = "mock"\n'
        f'base_url = "{model.base_url}"\nwire_api = "{wire}"\nrequest_max_retries = {request_retries}\n'
        f"stream_max_retries = {stream_retries}\n"
    )


@pytest.fixture
def start(codex_app_server_factory: Callable[..., AppServerClient], model: MockModel,
          workdir: Path) -> Callable[..., AppServerClient]:
    """Start a server on the test's mock model: `start(wire=…, request_retries=…, stream_retries=…)`."""

    # Our config names the model itself: the plugin must not add (or start) a model of its own.
    own_model = {"model": None} if "model" in inspect.signature(codex_app_server_factory).parameters else {}

    def go(wire: str = "responses", request_retries: int = 0, stream_retries: int = 0) -> AppServerClient:
        env = dict(os.environ, SHELL="/bin/bash")
        return codex_app_server_factory(config_toml=config_toml(model, wire, request_retries, stream_retries),
                                        env=env, cwd=workdir, **own_model)

    return go


# -- client helpers -------------------------------------------------------------------------------
def new_conversation(client: AppServerClient, workdir: Path, listen: bool = True) -> dict[str, Any]:
    result = client.request("newConversation", {"cwd": str(workdir)})
    if listen:
        client.request("addConversationListener", {"conversationId": result["conversationId"]})
    return result


def say(client: AppServerClient, cid: str, text: str) -> None:
    assert client.request("sendUserMessage", {"conversationId": cid,
                                              "items": [{"type": "text", "data": {"text": text}}]}) == {}


def of(cid: str) -> Callable[[Any], bool]:
    return lambda params: isinstance(params, dict) and params.get("conversationId") == cid


def until(client: AppServerClient, since: int, method: str, where: Callable[[Any], bool],
          timeout: float = 30) -> list[Note]:
    """Wait for `method` (matching `where`); every notification from index `since` up to it, included."""
    client.wait_notification(method, timeout=timeout, where=where)
    notes = list(client.all_notifications[since:])
    for index, (name, params) in enumerate(notes):
        if name == method and where(params):
            return notes[: index + 1]
    raise AssertionError(f"{method} was taken but is not in the record")


def turn(client: AppServerClient, cid: str, text: str, end: str = "task_complete") -> list[Note]:
    """Send one message and return the notifications up to the turn's `end` event."""
    since = len(client.all_notifications)
    say(client, cid, text)
    return until(client, since, f"codex/event/{end}", of(cid))


def names(notes: list[Note]) -> list[str]:
    """Event types for `codex/event/*`, the method otherwise; the floating background_event left out."""
    out = []
    for method, params in notes:
        if method.startswith("codex/event/"):
            if params["msg"]["type"] != "background_event":
                out.append(params["msg"]["type"])
        else:
            out.append(method)
    return out


def ids(notes: list[Note]) -> set[str]:
    """Submission ids of the events, but for the floating background_event (it may trail a turn)."""
    return {p["id"] for m, p in notes if m.startswith("codex/event/") and m != "codex/event/background_event"}


def msgs(notes: list[Note], kind: str) -> list[dict[str, Any]]:
    return [p["msg"] for m, p in notes if m == f"codex/event/{kind}"]


def events_of(client: AppServerClient, cid: str) -> list[dict[str, Any]]:
    return [p for m, p in client.all_notifications if m.startswith("codex/event/") and p["conversationId"] == cid]


def line_index(client: AppServerClient, predicate: Callable[[dict[str, Any]], bool]) -> int:
    for index, line in enumerate(list(client.lines)):
        message = json.loads(line)
        if predicate(message):
            return index
    raise AssertionError("no such line")


STREAMED = ["agent_message_content_delta", "agent_message_delta"]
USER_ITEM = ["task_started", "item_started", "item/started", "item_completed", "item/completed", "user_message"]


# -- plain turns ----------------------------------------------------------------------------------
def test_plain_streamed_reply_responses_exact_sequence(start: Callable[..., AppServerClient], model: MockModel,
                                                       workdir: Path) -> None:
    client = start()
    model.enqueue({"type": "text", "text": "Hello there, friend!", "deltas": 3, "usage": USAGE})
    cid = new_conversation(client, workdir)["conversationId"]
    notes = turn(client, cid, "hi there")

    assert names(notes) == [
        *USER_ITEM, "token_count", "account/rateLimits/updated", "item_started", "item/started",
        *STREAMED * 3, "item_completed", "item/completed", "agent_message", "token_count",
        "account/rateLimits/updated", "task_complete",
    ]
    assert ids(notes) == {"0"}
    assert msgs(notes, "task_started") == [{"type": "task_started", "model_context_window": None}]
    assert msgs(notes, "user_message") == [{"type": "user_message", "message": "hi there", "images": []}]
    user_started, agent_started = msgs(notes, "item_started")
    assert user_started["thread_id"] == cid and user_started["turn_id"] == "0"
    assert user_started["item"]["UserMessage"]["content"] == [{"type": "text", "text": "hi there"}]
    agent_id = agent_started["item"]["AgentMessage"]["id"]
    assert agent_started["item"] == {"AgentMessage": {"id": agent_id, "content": []}}
    assert agent_id.startswith("msg_")  # the provider's item id
    deltas = msgs(notes, "agent_message_content_delta")
    assert [d["item_id"] for d in deltas] == [agent_id] * 3
    assert "".join(d["delta"] for d in msgs(notes, "agent_message_delta")) == "Hello there, friend!"
    assert [d["delta"] for d in deltas] == [d["delta"] for d in msgs(notes, "agent_message_delta")]
    assert msgs(notes, "item_completed")[1]["item"] == {
        "AgentMessage": {"id": agent_id, "content": [{"Text": {"text": "Hello there, friend!"}}]}}
    assert msgs(notes, "agent_message") == [{"type": "agent_message", "message": "Hello there, friend!"}]
    first, last = msgs(notes, "token_count")
    assert first == {"type": "token_count", "info": None, "rate_limits": {"primary": None, "secondary": None}}
    assert last["info"]["total_token_usage"] == {"input_tokens": 10, "cached_input_tokens": 0, "output_tokens": 5,
                                                 "reasoning_output_tokens": 0, "total_tokens": 15}
    assert msgs(notes, "task_complete") == [{"type": "task_complete", "last_agent_message": "Hello there, friend!"}]
    v2_items = [p["item"] for m, p in notes if m in ("item/started", "item/completed")]
    assert v2_items[2:] == [{"type": "agentMessage", "id": agent_id, "text": ""},
                            {"type": "agentMessage", "id": agent_id, "text": "Hello there, friend!"}]
    background = client.wait_notification("codex/event/background_event", where=of(cid))
    assert background["msg"] == {"type": "background_event", "message": NOT_GIT}

    (request,) = model.requests()
    assert request["path"] == "/v1/responses"
    assert request["headers"]["conversation_id"] == cid
    assert request["body"]["input"][-1] == {"type": "message", "role": "user",
                                            "content": [{"type": "input_text", "text": "hi there"}]}


def test_plain_reply_chat_wire_has_no_deltas(start: Callable[..., AppServerClient], model: MockModel,
                                             workdir: Path) -> None:
    client = start(wire="chat")
    model.enqueue({"type": "text", "text": "Hello there, friend!", "deltas": 3, "usage": USAGE})
    cid = new_conversation(client, workdir)["conversationId"]
    notes = turn(client, cid, "hi there")

    assert names(notes) == [*USER_ITEM, "item_started", "item/started", "item_completed", "item/completed",
                            "agent_message", "token_count", "task_complete"]
    assert msgs(notes, "token_count") == [{"type": "token_count", "info": None, "rate_limits": None}]
    assert msgs(notes, "agent_message") == [{"type": "agent_message", "message": "Hello there, friend!"}]
    assert msgs(notes, "task_complete")[0]["last_agent_message"] == "Hello there, friend!"
    (request,) = model.requests()
    assert request["path"] == "/v1/chat/completions"
    assert request["body"]["messages"][-1] == {"role": "user", "content": "hi there"}


def test_second_turn_takes_the_next_submission_id_and_carries_history(
        start: Callable[..., AppServerClient], model: MockModel, workdir: Path) -> None:
    client = start()
    model.enqueue({"type": "text", "text": "one"}, {"type": "text", "text": "two"})
    cid = new_conversation(client, workdir)["conversationId"]
    turn(client, cid, "first")
    notes = turn(client, cid, "second")
    assert ids(notes) == {"1"}
    texts = [json.dumps(item) for item in model.requests()[1]["body"]["input"]]
    assert any('"first"' in t for t in texts) and any('"one"' in t for t in texts)
    assert msgs(notes, "task_complete")[0]["last_agent_message"] == "two"


# -- tools ----------------------------------------------------------------------------------------
TOOL_SCRIPT = [
    {"type": "shell", "command": ["python3", "-c", "print(42)"], "call_id": "call-1", "usage": USAGE},
    {"type": "shell", "command": ["python3", "-c", "import sys; print(7); sys.exit(3)"], "call_id": "call-2",
     "usage": USAGE},
    {"type": "text", "text": "done 1", "deltas": 2, "usage": USAGE},
]


@pytest.mark.parametrize("wire", ["responses", "chat"])
def test_multi_step_tool_loop(start: Callable[..., AppServerClient], model: MockModel, workdir: Path,
                              wire: str) -> None:
    client = start(wire=wire)
    model.enqueue(*TOOL_SCRIPT)
    cid = new_conversation(client, workdir)["conversationId"]
    notes = turn(client, cid, "run python")

    order = [n for n in names(notes) if n.startswith("exec_") or n in ("agent_message", "task_complete")]
    collapsed = [n for i, n in enumerate(order) if i == 0 or n != order[i - 1]]
    assert collapsed == ["exec_command_begin", "exec_command_output_delta", "exec_command_end",
                         "exec_command_begin", "exec_command_output_delta", "exec_command_end",
                         "agent_message", "task_complete"]
    assert "exec_approval_request" not in names(notes)
    begin1, begin2 = msgs(notes, "exec_command_begin")
    assert begin1 == {"type": "exec_command_begin", "call_id": "call-1", "command": ["python3", "-c", "print(42)"],
                      "cwd": str(workdir), "parsed_cmd": [{"type": "unknown", "cmd": "python3 -c 'print(42)'"}],
                      "is_user_shell_command": False}
    assert begin2["call_id"] == "call-2"
    end1, end2 = msgs(notes, "exec_command_end")
    assert (end1["call_id"], end1["stdout"], end1["stderr"], end1["exit_code"]) == ("call-1", "42\n", "", 0)
    assert end1["aggregated_output"] == end1["formatted_output"] == "42\n"
    assert set(end1["duration"]) == {"secs", "nanos"}
    assert (end2["call_id"], end2["stdout"], end2["exit_code"]) == ("call-2", "7\n", 3)
    chunks = [d for d in msgs(notes, "exec_command_output_delta") if d["call_id"] == "call-1"]
    assert b"".join(base64.b64decode(d["chunk"]) for d in chunks) == b"42\n"
    assert {d["stream"] for d in chunks} == {"stdout"}
    assert msgs(notes, "task_complete")[0]["last_agent_message"] == "done 1"

    requests = model.requests()
    assert len(requests) == 3
    if wire == "responses":
        outputs = {i["call_id"]: json.loads(i["output"]) for i in requests[2]["body"]["input"]
                   if i["type"] == "function_call_output"}
        assert outputs["call-1"]["output"] == "42\n" and outputs["call-1"]["metadata"]["exit_code"] == 0
        assert outputs["call-2"]["output"] == "7\n" and outputs["call-2"]["metadata"]["exit_code"] == 3
        calls = [i for i in requests[1]["body"]["input"] if i["type"] == "function_call"]
        assert [(c["name"], c["call_id"]) for c in calls] == [("shell", "call-1")]
    else:
        tools = [m for m in requests[2]["body"]["messages"] if m["role"] == "tool"]
        assert [m["tool_call_id"] for m in tools] == ["call-1", "call-2"]
        assert json.loads(tools[0]["content"])["output"] == "42\n"


def test_update_plan_emits_plan_update(start: Callable[..., AppServerClient], model: MockModel,
                                       workdir: Path) -> None:
    client = start()
    plan = [{"step": "look", "status": "completed"}, {"step": "fix", "status": "in_progress"}]
    model.enqueue({"type": "update_plan", "plan": plan, "explanation": "why", "call_id": "call-p"},
                  {"type": "text", "text": "planned"})
    cid = new_conversation(client, workdir)["conversationId"]
    notes = turn(client, cid, "plan it")
    assert msgs(notes, "plan_update") == [{"type": "plan_update", "explanation": "why", "plan": plan}]
    outputs = [i for i in model.requests()[1]["body"]["input"] if i["type"] == "function_call_output"]
    assert outputs == [{"type": "function_call_output", "call_id": "call-p", "output": "Plan updated"}]


@pytest.mark.parametrize("wire", ["responses", "chat"])
def test_every_item_completed_follows_an_item_started(start: Callable[..., AppServerClient], model: MockModel,
                                                      workdir: Path, wire: str) -> None:
    client = start(wire=wire)
    model.enqueue({"type": "reasoning", "text": "thinking it over", "answer": "an answer", "deltas": 2})
    cid = new_conversation(client, workdir)["conversationId"]
    notes = turn(client, cid, "think")
    open_items: dict[str, int] = {}
    for name, params in notes:
        if name in ("codex/event/item_started", "codex/event/item_completed"):
            (kind,) = params["msg"]["item"]
            step = 1 if name.endswith("started") else -1
            open_items[kind] = open_items.get(kind, 0) + step
            assert open_items[kind] >= 0, f"{kind} completed before it started"
    assert set(open_items) == {"UserMessage", "Reasoning", "AgentMessage"}
    done = [m["item"]["Reasoning"] for m in msgs(notes, "item_completed") if "Reasoning" in m["item"]]
    if wire == "responses":
        assert [(r["summary_text"], r["raw_content"]) for r in done] == [(["thinking it over"], [])]
    else:
        # 0.58 on chat: the streamed item (one entry per chunk), then the aggregated one, no summary
        assert [(r["id"], r["summary_text"], r["raw_content"]) for r in done] == [
            ("", [], ["thinking", " it over"]), ("", [], ["thinking it over"])]
        v2 = [p["item"] for m, p in notes if m == "item/completed" and p["item"]["type"] == "reasoning"]
        assert [item["text"] for item in v2] == ["thinking\n it over", "thinking it over"]


def test_chat_reasoning_is_aggregated_as_058_does(start: Callable[..., AppServerClient], model: MockModel,
                                                  workdir: Path) -> None:
    client = start(wire="chat")
    model.enqueue({"type": "reasoning", "text": "thinking it over", "answer": "an answer", "deltas": 2})
    cid = new_conversation(client, workdir)["conversationId"]
    notes = turn(client, cid, "think")
    items = [(name.rsplit("_", 1)[1], *p["msg"]["item"]) for name, p in notes
             if name in ("codex/event/item_started", "codex/event/item_completed")]
    assert items == [("started", "UserMessage"), ("completed", "UserMessage"),
                     ("started", "Reasoning"), ("started", "AgentMessage"), ("completed", "Reasoning"),
                     ("started", "Reasoning"), ("completed", "Reasoning"),
                     ("started", "AgentMessage"), ("completed", "AgentMessage")]
    assert not {"agent_reasoning", "agent_reasoning_delta", "reasoning_content_delta",
                "agent_message_delta"} & set(names(notes))
    rollout = next((client.codex_home / "sessions").rglob("*.jsonl"))
    lines = [json.loads(line) for line in rollout.read_text().splitlines()]
    reasoning = [rec["payload"]["content"] for rec in lines
                 if rec["type"] == "response_item" and rec["payload"]["type"] == "reasoning"]
    piece = [{"type": "reasoning_text", "text": text} for text in ("thinking", " it over")]
    assert reasoning == [piece, [{"type": "reasoning_text", "text": "thinking it over"}]]


def test_reasoning_summary_section_breaks_and_content_deltas(start: Callable[..., AppServerClient],
                                                             model: MockModel, workdir: Path) -> None:
    client = start()
    model.enqueue({"type": "reasoning", "text": "thinking it over", "answer": "an answer", "deltas": 2})
    cid = new_conversation(client, workdir)["conversationId"]
    notes = turn(client, cid, "think")
    seq = names(notes)
    first = seq.index("item_started", seq.index("item_started") + 2)  # the reasoning item's, then item/started
    assert seq[first + 2:first + 7] == ["agent_reasoning_section_break", "reasoning_content_delta",
                                        "agent_reasoning_delta", "reasoning_content_delta", "agent_reasoning_delta"]
    assert msgs(notes, "agent_reasoning_section_break") == [{"type": "agent_reasoning_section_break"}]
    started = msgs(notes, "item_started")[1]["item"]["Reasoning"]
    deltas = msgs(notes, "reasoning_content_delta")
    assert [(d["thread_id"], d["turn_id"], d["item_id"], d["delta"]) for d in deltas] == [
        (cid, "0", started["id"], "thinking"), (cid, "0", started["id"], " it over")]
    assert [d["delta"] for d in msgs(notes, "agent_reasoning_delta")] == ["thinking", " it over"]


# -- model errors and retries ---------------------------------------------------------------------
@pytest.mark.parametrize(("step", "message"), [
    ({"type": "http_error", "status": 500, "body": "boom"}, HIGH_DEMAND),
    ({"type": "http_error", "status": 400, "body": "bad thing"}, "unexpected status 400 Bad Request: bad thing"),
    ({"type": "http_error", "status": 429, "body": "slow"}, "exceeded retry limit, last status: 429 Too Many Requests"),
    ({"type": "cut", "after_deltas": 2},
     "stream disconnected before completion: stream closed before response.completed"),
], ids=["500", "400", "429", "cut"])
def test_model_error_ends_the_turn_and_the_conversation_stays_usable(
        start: Callable[..., AppServerClient], model: MockModel, workdir: Path, step: dict[str, Any],
        message: str) -> None:
    client = start()
    model.enqueue(step, {"type": "text", "text": "recovered"})
    cid = new_conversation(client, workdir)["conversationId"]
    notes = turn(client, cid, "hi")
    assert names(notes)[-2:] == ["error", "task_complete"]
    assert msgs(notes, "error") == [{"type": "error", "message": message}]
    assert msgs(notes, "task_complete") == [{"type": "task_complete", "last_agent_message": None}]
    assert "agent_message" not in names(notes)
    if step["type"] == "http_error":
        assert "token_count" not in names(notes)  # failed before headers

    again = turn(client, cid, "again")
    assert msgs(again, "task_complete")[0]["last_agent_message"] == "recovered"
    assert ids(again) == {"1"}


def test_request_retry_recovers_without_an_error(start: Callable[..., AppServerClient], model: MockModel,
                                                 workdir: Path) -> None:
    client = start(request_retries=1)
    model.enqueue({"type": "http_error", "status": 503, "body": "busy"}, {"type": "text", "text": "ok now"})
    cid = new_conversation(client, workdir)["conversationId"]
    notes = turn(client, cid, "hi")
    assert "error" not in names(notes) and "stream_error" not in names(notes)
    assert msgs(notes, "task_complete")[0]["last_agent_message"] == "ok now"
    assert len(model.requests()) == 2


def test_stream_retry_reports_reconnecting_then_completes(start: Callable[..., AppServerClient], model: MockModel,
                                                          workdir: Path) -> None:
    client = start(stream_retries=1)
    model.enqueue({"type": "cut", "after_deltas": 2}, {"type": "text", "text": "ok now"})
    cid = new_conversation(client, workdir)["conversationId"]
    notes = turn(client, cid, "hi")
    assert msgs(notes, "stream_error") == [{"type": "stream_error", "message": "Reconnecting... 1/1"}]
    assert "error" not in names(notes)
    assert names(notes).index("stream_error") < names(notes).index("agent_message")
    assert msgs(notes, "task_complete")[0]["last_agent_message"] == "ok now"
    requests = model.requests()
    assert len(requests) == 2 and requests[0]["body"]["input"] == requests[1]["body"]["input"]


# -- interrupts -----------------------------------------------------------------------------------
STALL = {"type": "stall", "text": "partial answer here", "deltas": 4, "after_deltas": 2}


def _wait_disconnected(model: MockModel, index: int) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if model.requests()[index]["disconnected"]:
            return True
        time.sleep(0.02)
    return False


def test_interrupt_mid_stream_v1(start: Callable[..., AppServerClient], model: MockModel, workdir: Path,
                                 reference: bool) -> None:
    client = start()
    model.enqueue(STALL)
    cid = new_conversation(client, workdir)["conversationId"]
    say(client, cid, "hi there")
    model.wait_for_stall()
    for _ in range(2):
        client.wait_notification("codex/event/agent_message_delta", where=of(cid))

    request_id = client.send("interruptConversation", {"conversationId": cid})
    # The stalled step never ends on its own: an answer now is an answer before the stream's end.
    assert client.wait_response(request_id, timeout=10) == {"abortReason": "interrupted"}
    aborted = line_index(client, lambda m: m.get("method") == "codex/event/turn_aborted")
    answered = line_index(client, lambda m: m.get("id") == request_id)
    assert aborted < answered
    assert [e["msg"] for e in events_of(client, cid) if e["msg"]["type"] == "turn_aborted"] == [
        {"type": "turn_aborted", "reason": "interrupted"}]
    if not reference:  # 0.58 keeps a stalled stream's connection open until its idle timeout
        assert _wait_disconnected(model, 0), "the model stream was not dropped"

    model.release()  # nothing from the dropped stream may surface
    model.enqueue({"type": "text", "text": "after"})
    notes = turn(client, cid, "again")
    assert ids(notes) == {"2"}
    every = events_of(client, cid)
    assert [e["msg"]["type"] for e in every].count("task_complete") == 1
    assert [e["msg"]["message"] for e in every if e["msg"]["type"] == "agent_message"] == ["after"]
    second_input = json.dumps(model.requests()[1]["body"]["input"])
    assert "partial answer" not in second_input  # the cut answer is not kept in history


def test_interrupt_mid_stream_v2(start: Callable[..., AppServerClient], model: MockModel, reference: bool) -> None:
    client = start()
    model.enqueue(STALL)
    thread = client.request("thread/start", {})["thread"]
    started = client.request("turn/start", {"threadId": thread["id"], "input": [{"type": "text", "text": "hi"}]})
    model.wait_for_stall()
    request_id = client.send("turn/interrupt", {"threadId": thread["id"], "turnId": started["turn"]["id"]})
    assert client.wait_response(request_id, timeout=10) == {}
    aborted = line_index(client, lambda m: m.get("method") == "codex/event/turn_aborted")
    assert aborted < line_index(client, lambda m: m.get("id") == request_id)
    if not reference:  # ours drops the stream; §12: v2 threads get turn/completed
        assert _wait_disconnected(model, 0), "the model stream was not dropped"
        done = client.wait_notification("turn/completed")
        assert done["threadId"] == thread["id"]
        assert done["turn"]["id"] == started["turn"]["id"] and done["turn"]["status"] == "interrupted"


def test_idle_interrupt_is_answered(start: Callable[..., AppServerClient], workdir: Path, ours_only: None) -> None:
    client = start()
    cid = new_conversation(client, workdir)["conversationId"]
    assert client.request("interruptConversation", {"conversationId": cid}, timeout=10) == {
        "abortReason": "interrupted"}
    thread = client.request("thread/start", {})["thread"]
    assert client.request("turn/interrupt", {"threadId": thread["id"], "turnId": "0"}, timeout=10) == {}


# -- listeners ------------------------------------------------------------------------------------
def test_two_listeners_on_one_conversation_see_each_event_once(
        start: Callable[..., AppServerClient], model: MockModel, workdir: Path) -> None:
    client = start()
    model.enqueue({"type": "text", "text": "twice heard?", "deltas": 6})
    cid = new_conversation(client, workdir)["conversationId"]
    client.request("addConversationListener", {"conversationId": cid})
    turn(client, cid, "hi")
    kinds = [e["msg"]["type"] for e in events_of(client, cid)]
    assert kinds.count("task_started") == 1 and kinds.count("task_complete") == 1
    assert kinds.count("agent_message_delta") == 6 and kinds.count("agent_message") == 1


def test_removing_a_listener_stops_its_notifications(start: Callable[..., AppServerClient], model: MockModel,
                                                     workdir: Path) -> None:
    client = start()
    model.enqueue({"type": "text", "text": "nobody hears this", "deltas": 3})
    conversation = new_conversation(client, workdir, listen=False)
    cid = conversation["conversationId"]
    subscription = client.request("addConversationListener", {"conversationId": cid})["subscriptionId"]
    assert client.request("removeConversationListener", {"subscriptionId": subscription}) == {}
    with pytest.raises(JsonRpcError) as again:
        client.request("removeConversationListener", {"subscriptionId": subscription})
    assert (again.value.code, again.value.message) == (-32600, f"subscription not found: {subscription}")

    say(client, cid, "hi")
    rollout = Path(conversation["rolloutPath"])
    deadline = time.monotonic() + 20
    while '"role":"assistant"' not in rollout.read_text():  # the turn is over once this line is written
        assert time.monotonic() < deadline, "the turn never finished"
        time.sleep(0.02)
    time.sleep(0.2)
    assert events_of(client, cid) == []

    since = len(client.all_notifications)
    client.request("addConversationListener", {"conversationId": cid})
    buffered = until(client, since, "codex/event/task_complete", of(cid))  # they waited in the queue
    assert names(buffered)[:2] == ["task_started", "item_started"]
    assert msgs(buffered, "agent_message")[0]["message"] == "nobody hears this"


def test_twenty_conversations_stream_at_once_without_cross_talk(
        start: Callable[..., AppServerClient], model: MockModel, workdir: Path) -> None:
    client = start()
    count = 20
    texts = {i: f"reply for conversation {i:02d}: " + "word " * 60 for i in range(count)}
    model.enqueue(*[{"type": "text", "text": texts[i], "deltas": 40, "match": f"<conv {i:02d}>"} for i in range(count)])
    ids = [new_conversation(client, workdir)["conversationId"] for _ in range(count)]
    since = len(client.all_notifications)
    for i, cid in enumerate(ids):
        client.send("sendUserMessage", {"conversationId": cid,
                                        "items": [{"type": "text", "data": {"text": f"<conv {i:02d}>"}}]})
    for cid in ids:
        client.wait_notification("codex/event/task_complete", timeout=60, where=of(cid))
    notes = list(client.all_notifications[since:])
    for i, cid in enumerate(ids):
        mine = [p["msg"] for m, p in notes if m.startswith("codex/event/") and p["conversationId"] == cid]
        assert "".join(m["delta"] for m in mine if m["type"] == "agent_message_delta") == texts[i]
        assert [m["message"] for m in mine if m["type"] == "agent_message"] == [texts[i]]
        assert [m["message"] for m in mine if m["type"] == "user_message"] == [f"<conv {i:02d}>"]
        scoped = [m for m in mine if "thread_id" in m]
        assert scoped and all(m["thread_id"] == cid for m in scoped)
    streamed = {p["conversationId"] for m, p in notes if m == "codex/event/agent_message_delta"}
    assert streamed == set(ids)


# -- rollouts -------------------------------------------------------------------------------------
def _normalise(path: Path, cwd: str) -> list[dict[str, Any]]:
    out = []
    for line in path.read_text().splitlines():
        record = json.loads(line)
        assert list(record) == ["timestamp", "type", "payload"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["timestamp"])
        payload = json.loads(json.dumps(record["payload"]).replace(cwd, "CWD"))
        if record["type"] == "session_meta":
            payload.update(id="ID", timestamp="TS", model_provider="PROVIDER")
        if payload.get("type") == "function_call":
            payload["arguments"] = json.loads(payload["arguments"])
        if payload.get("type") == "function_call_output":
            output = json.loads(payload["output"])
            output["metadata"]["duration_seconds"] = "D"
            payload["output"] = output
        out.append({"type": record["type"], "payload": payload})
    return out


def test_rollout_line_by_line_matches_058(start: Callable[..., AppServerClient], model: MockModel,
                                          workdir: Path) -> None:
    """Same script as tests/fixtures/rollout_058_two_turns.jsonl, recorded from 0.58.0 (§6)."""
    client = start()
    model.enqueue({"type": "text", "text": "Hello there, friend!", "usage": USAGE},
                  {"type": "shell", "command": ["python3", "-c", "print(42)"], "call_id": "call-1", "usage": USAGE},
                  {"type": "text", "text": "done 1", "usage": USAGE})
    conversation = new_conversation(client, workdir)
    cid, path = conversation["conversationId"], Path(conversation["rolloutPath"])
    assert path.is_file() and path.name.endswith(f"-{cid}.jsonl")
    assert path.parent.parent.parent.parent == client.codex_home / "sessions"
    assert [r["type"] for r in _normalise(path, str(workdir))] == ["session_meta", "response_item"]
    turn(client, cid, "hi there")
    turn(client, cid, "run python")
    deadline = time.monotonic() + 10
    while not path.read_text().rstrip().endswith('"done 1"}]}}'):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    ours = _normalise(path, str(workdir))
    recorded = _normalise(FIXTURES / "rollout_058_two_turns.jsonl", "/tmp/cap/w")
    assert [(r["type"], r["payload"].get("type")) for r in ours] == [
        (r["type"], r["payload"].get("type")) for r in recorded]
    for number, (mine, theirs) in enumerate(zip(ours, recorded, strict=True), 1):
        assert mine == theirs, f"rollout line {number}"
    assert path.read_bytes().endswith(b"\n")


def test_rollout_of_an_interrupted_turn_matches_058(start: Callable[..., AppServerClient], model: MockModel,
                                                    workdir: Path) -> None:
    """Same script as tests/fixtures/rollout_058_interrupt.jsonl: interrupt, then a sendUserTurn."""
    client = start()
    model.enqueue({"type": "stall", "before_headers": False, "text": "", "after_deltas": 0})
    conversation = new_conversation(client, workdir)
    cid, path = conversation["conversationId"], Path(conversation["rolloutPath"])
    say(client, cid, "hi there")
    model.wait_for_stall()
    client.wait_notification("codex/event/token_count", where=of(cid))
    assert client.request("interruptConversation", {"conversationId": cid}) == {"abortReason": "interrupted"}
    model.enqueue({"type": "text", "text": "after", "usage": USAGE})
    since = len(client.all_notifications)
    client.request("sendUserTurn", {
        "conversationId": cid, "items": [{"type": "text", "data": {"text": "again"}}], "cwd": str(workdir),
        "approvalPolicy": "never", "sandboxPolicy": {"mode": "danger-full-access"}, "model": "other-model",
        "summary": "auto"})
    until(client, since, "codex/event/task_complete", of(cid))
    assert model.requests()[1]["body"]["model"] == "other-model"
    deadline = time.monotonic() + 10
    while not path.read_text().rstrip().endswith('"after"}]}}'):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    ours = _normalise(path, str(workdir))
    recorded = _normalise(FIXTURES / "rollout_058_interrupt.jsonl", "/tmp/cap/w")
    for number, (mine, theirs) in enumerate(zip(ours, recorded, strict=True), 1):
        assert mine == theirs, f"rollout line {number}"


# -- v2 -------------------------------------------------------------------------------------------
def test_thread_start_and_turn_start(start: Callable[..., AppServerClient], model: MockModel, workdir: Path) -> None:
    client = start()
    model.enqueue({"type": "text", "text": "v2 reply", "deltas": 2, "usage": USAGE})
    response = client.request("thread/start", {})
    thread = response["thread"]
    assert list(thread) == ["id", "preview", "modelProvider", "createdAt", "path"]
    assert (thread["preview"], thread["modelProvider"]) == ("", "mock")
    assert isinstance(thread["createdAt"], int) and Path(thread["path"]).is_file()
    assert client.wait_notification("thread/started") == response
    assert line_index(client, lambda m: "result" in m and m["result"] == response) < line_index(
        client, lambda m: m.get("method") == "thread/started")

    since = len(client.all_notifications)
    content = [{"type": "text", "text": "yo"}]
    result = client.request("turn/start", {"threadId": thread["id"], "input": content})
    assert result == {"turn": {"id": "0", "items": [{"type": "userMessage", "id": "0", "content": content}],
                               "status": "inProgress", "error": None}}
    assert client.wait_notification("turn/started") == result
    notes = until(client, since, "codex/event/task_complete", of(thread["id"]))
    assert msgs(notes, "agent_message")[0]["message"] == "v2 reply"
    assert ids(notes) == {"0"}
    assert model.requests()[0]["body"]["input"][-1]["content"] == [{"type": "input_text", "text": "yo"}]


def test_turn_started_precedes_the_turns_events(start: Callable[..., AppServerClient], model: MockModel) -> None:
    client = start()
    model.enqueue({"type": "text", "text": "v2 reply"})
    thread = client.request("thread/start", {})["thread"]
    request_id = client.send("turn/start", {"threadId": thread["id"], "input": [{"type": "text", "text": "yo"}]})
    client.wait_response(request_id)
    client.wait_notification("codex/event/task_complete")
    answered = line_index(client, lambda m: m.get("id") == request_id and "result" in m)
    announced = line_index(client, lambda m: m.get("method") == "turn/started")
    first_event = line_index(client, lambda m: m.get("method") == "codex/event/task_started")
    assert answered < announced < first_event


def test_v2_extras_deltas_and_turn_completed(start: Callable[..., AppServerClient], model: MockModel,
                                             ours_only: None) -> None:
    client = start()
    model.enqueue({"type": "shell", "command": ["python3", "-c", "print(42)"], "call_id": "call-9", "usage": USAGE},
                  {"type": "text", "text": "forty two", "deltas": 3, "usage": USAGE})
    thread = client.request("thread/start", {})["thread"]
    since = len(client.all_notifications)
    client.request("turn/start", {"threadId": thread["id"], "input": [{"type": "text", "text": "go"}]})
    notes = until(client, since, "turn/completed", lambda p: True)
    seq = names(notes)
    assert seq[-2:] == ["task_complete", "turn/completed"]
    deltas = [p for m, p in notes if m == "item/agentMessage/delta"]
    content = msgs(notes, "agent_message_content_delta")
    assert [list(d) for d in deltas] == [["threadId", "turnId", "itemId", "delta"]] * 3
    assert [(d["threadId"], d["turnId"], d["itemId"], d["delta"]) for d in deltas] == [
        (thread["id"], "0", c["item_id"], c["delta"]) for c in content]
    for index, name in enumerate(seq):
        if name == "item/agentMessage/delta":
            assert seq[index - 1] == "agent_message_content_delta"
    outputs = [p for m, p in notes if m == "item/commandExecution/outputDelta"]
    assert outputs and all((o["threadId"], o["turnId"], o["itemId"]) == (thread["id"], "0", "call-9")
                           for o in outputs)
    assert "".join(o["delta"] for o in outputs) == "42\n"
    done = notes[-1][1]
    assert done == {"threadId": thread["id"],
                    "turn": {"id": "0", "items": [], "status": "completed", "error": None},
                    "usage": {"inputTokens": 20, "cachedInputTokens": 0, "outputTokens": 10}}


def test_v2_failed_turn_completes_with_its_error(start: Callable[..., AppServerClient], model: MockModel,
                                                 ours_only: None) -> None:
    client = start()
    model.enqueue({"type": "http_error", "status": 500, "body": "boom"})
    thread = client.request("thread/start", {})["thread"]
    client.request("turn/start", {"threadId": thread["id"], "input": [{"type": "text", "text": "go"}]})
    done = client.wait_notification("turn/completed")
    assert done["turn"] == {"id": "0", "items": [], "status": "failed", "error": {"message": HIGH_DEMAND}}


def test_v1_conversations_get_no_v2_extras(start: Callable[..., AppServerClient], model: MockModel,
                                           workdir: Path) -> None:
    client = start()
    model.enqueue({"type": "text", "text": "plain v1", "deltas": 3})
    cid = new_conversation(client, workdir)["conversationId"]
    turn(client, cid, "hi")
    time.sleep(0.2)
    methods = {m for m, _ in client.all_notifications}
    assert not methods & {"item/agentMessage/delta", "turn/completed", "turn/started"}


# -- errors ---------------------------------------------------------------------------------------
def test_conversation_errors(start: Callable[..., AppServerClient]) -> None:
    client = start()
    unknown = "01a20f9d-eac7-7f16-811b-607fb5887a7b"
    calls = [
        ("sendUserMessage", {"conversationId": unknown, "items": []}, f"conversation not found: {unknown}"),
        ("addConversationListener", {"conversationId": unknown}, f"conversation not found: {unknown}"),
        ("interruptConversation", {"conversationId": unknown}, f"conversation not found: {unknown}"),
        ("turn/start", {"threadId": unknown, "input": []}, f"conversation not found: {unknown}"),
        ("sendUserMessage", {"conversationId": "not-a-uuid", "items": []},
         "Invalid request: invalid character: expected an optional prefix of `urn:uuid:` followed by "
         "[0-9a-fA-F-], found `n` at 1"),
        ("turn/interrupt", {"threadId": "not-a-uuid", "turnId": "0"},
         "invalid thread id: invalid character: expected an optional prefix of `urn:uuid:` followed by "
         "[0-9a-fA-F-], found `n` at 1"),
    ]
    for method, params, message in calls:
        with pytest.raises(JsonRpcError) as failure:
            client.request(method, params)
        assert (failure.value.code, failure.value.message) == (-32600, message), method


# -- input while a turn runs (§7.3, §12) -----------------------------------------------------------
def _rollout_records(client: AppServerClient) -> list[dict[str, Any]]:
    path = next((client.codex_home / "sessions").rglob("rollout-*.jsonl"))
    return [json.loads(line) for line in path.read_text().splitlines()]


def _user_texts(items: list[dict[str, Any]]) -> list[str]:
    return [part["text"] for item in items if item.get("type") == "message" and item.get("role") == "user"
            for part in item["content"] if part["type"] == "input_text"]


def test_input_during_a_tool_turn_joins_it(start: Callable[..., AppServerClient], model: MockModel,
                                           workdir: Path) -> None:
    client = start()
    model.enqueue({"type": "shell", "command": ["python3", "-c", "print(42)"], "call_id": "call-j"},
                  {"type": "text", "text": "done both"})
    cid = new_conversation(client, workdir)["conversationId"]
    since = len(client.all_notifications)
    client.request("sendUserTurn", {
        "conversationId": cid, "items": [{"type": "text", "data": {"text": "run it"}}], "cwd": str(workdir),
        "approvalPolicy": "untrusted", "sandboxPolicy": {"mode": "danger-full-access"}, "model": "mock-model",
        "summary": "auto"})
    approval = client.next_server_request()
    assert approval.method == "execCommandApproval"
    say(client, cid, "also this")  # the turn waits on the approval: this input joins it
    client.answer(approval, {"decision": "approved"})
    notes = until(client, since, "codex/event/task_complete", of(cid))
    assert ids(notes) == {"0"}
    assert names(notes).count("task_started") == 1
    assert [m["message"] for m in msgs(notes, "user_message")] == ["run it"]
    assert msgs(notes, "task_complete")[0]["last_agent_message"] == "done both"
    second = model.requests()[1]["body"]["input"]
    assert [item["type"] for item in second[-3:]] == ["function_call", "function_call_output", "message"]
    assert _user_texts(second[-1:]) == ["also this"]
    records = _rollout_records(client)
    assert [r["payload"]["message"] for r in records if r["payload"].get("type") == "user_message"] == ["run it"]
    assert "also this" in _user_texts([r["payload"] for r in records if r["type"] == "response_item"])


def test_input_during_a_plain_answer_is_never_lost(start: Callable[..., AppServerClient], model: MockModel,
                                                   workdir: Path, ours_only: None) -> None:
    client = start()
    model.enqueue({"type": "stall", "text": "first answer", "deltas": 4, "after_deltas": 2},
                  {"type": "text", "text": "noted"}, {"type": "text", "text": "third"})
    cid = new_conversation(client, workdir)["conversationId"]
    since = len(client.all_notifications)
    say(client, cid, "start")
    model.wait_for_stall()
    say(client, cid, "late note")  # 0.58 drops this: the turn makes no further request
    model.release()
    notes = until(client, since, "codex/event/task_complete", of(cid))
    assert ids(notes) == {"0"} and names(notes).count("task_started") == 1
    assert [m["message"] for m in msgs(notes, "agent_message")] == ["first answer", "noted"]
    second = model.requests()[1]["body"]["input"]
    assert _user_texts(second)[-2:] == ["start", "late note"]
    assert second[-2]["role"] == "assistant"
    # the next turn carries it as well, and it stays in the rollout
    again = turn(client, cid, "next")
    assert msgs(again, "task_complete")[0]["last_agent_message"] == "third"
    assert _user_texts(model.requests()[2]["body"]["input"])[-3:] == ["start", "late note", "next"]
    assert "late note" in _user_texts([r["payload"] for r in _rollout_records(client) if r["type"] == "response_item"])


def test_turn_start_during_a_turn_joins_the_running_turn(start: Callable[..., AppServerClient], model: MockModel,
                                                         ours_only: None) -> None:
    client = start()
    model.enqueue({"type": "stall", "text": "first answer", "deltas": 4, "after_deltas": 2},
                  {"type": "text", "text": "joined"})
    thread = client.request("thread/start", {})["thread"]
    first = client.request("turn/start", {"threadId": thread["id"], "input": [{"type": "text", "text": "one"}]})
    model.wait_for_stall()
    second = client.request("turn/start", {"threadId": thread["id"], "input": [{"type": "text", "text": "two"}]})
    assert second["turn"]["id"] == first["turn"]["id"] == "0"  # DECISIONS 16: the running turn's id
    model.release()
    done = client.wait_notification("turn/completed")
    assert (done["turn"]["id"], done["turn"]["status"]) == ("0", "completed")
    assert _user_texts(model.requests()[1]["body"]["input"])[-2:] == ["one", "two"]


# -- resume of a compacted rollout (§6.2) ---------------------------------------------------------
def test_resume_rebuilds_a_compacted_history_as_058(start: Callable[..., AppServerClient], model: MockModel,
                                                    workdir: Path) -> None:
    client = start()
    model.enqueue({"type": "text", "text": "first answer"}, {"type": "text", "text": "second answer"})
    conversation = new_conversation(client, workdir)
    cid, path = conversation["conversationId"], Path(conversation["rolloutPath"])
    turn(client, cid, "first question")
    turn(client, cid, "second question")
    client.close()
    compacted = {"timestamp": "2025-11-20T10:00:00.000Z", "type": "compacted", "payload": {"message": "SUMMARY"}}
    with path.open("a") as handle:
        handle.write(json.dumps(compacted) + "\n")
    client = start()
    client.request("resumeConversation", {"path": str(path)})
    client.request("addConversationListener", {"conversationId": cid})
    model.enqueue({"type": "text", "text": "after resume"})
    turn(client, cid, "third question")
    sent = model.requests()[-1]["body"]["input"]
    # the initial context, the user messages before the compaction, the summary: no assistant output
    assert [item["role"] for item in sent] == ["user"] * 5
    assert sent[0]["content"][0]["text"].startswith("<environment_context>")
    assert _user_texts(sent[1:]) == ["first question", "second question", "SUMMARY", "third question"]


def test_a_compacted_record_with_a_replacement_history_replaces_it(tmp_path: Path) -> None:
    from actors.resume import load_rollout

    def line(kind: str, payload: dict[str, Any]) -> str:
        return json.dumps({"timestamp": "2025-11-20T10:00:00.000Z", "type": kind, "payload": payload})

    def user(text: str) -> dict[str, Any]:
        return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}

    meta = {"id": "01a20f9d-eac7-7f16-811b-607fb5887a7b", "timestamp": "2025-11-20T10:00:00.000Z", "cwd": "/w",
            "originator": "codex_cli_rs", "cli_version": "0.58.0", "instructions": None, "source": "vscode"}
    path = tmp_path / "rollout.jsonl"
    path.write_text("\n".join([
        line("session_meta", meta), line("response_item", user("old")),
        line("compacted", {"message": "ignored summary", "replacement_history": [user("kept"), user("summary")]}),
        line("response_item", user("after")), line("compacted", {"message": ""}),
    ]) + "\n")
    restored = load_rollout(path, lambda: [user("<environment_context>ctx</environment_context>")])
    assert _user_texts(restored.history) == [
        "<environment_context>ctx</environment_context>", "kept", "summary", "after", "(no summary available)"]


# -- an answer in several parts (checked against the 0.58 binary) -----------------------------------
_PARTS = [
    {"type": "output_text", "text": "Alpha.", "annotations": []},
    {"type": "input_text", "text": "Gamma."},  # not shown, kept in history
    {"type": "output_text", "text": "Beta.", "annotations": []},
]


class _PartsModel(BaseHTTPRequestHandler):
    """Answers every request with one assistant message in three content parts."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("content-length", 0)))
        message = {"type": "message", "role": "assistant", "id": "msg_1", "status": "completed", "content": _PARTS}
        events = [
            {"type": "response.created", "response": {"id": "resp_1"}},
            {"type": "response.output_item.added", "output_index": 0, "item": {**message, "content": []}},
            {"type": "response.output_text.delta", "output_index": 0, "content_index": 0, "delta": "Alpha."},
            {"type": "response.output_text.delta", "output_index": 0, "content_index": 2, "delta": "Beta."},
            {"type": "response.output_item.done", "output_index": 0, "item": message},
            {"type": "response.completed", "response": {"id": "resp_1"}},
        ]
        body = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def test_an_answer_in_several_parts_shows_each_text_part(
    codex_app_server_factory: Callable[..., AppServerClient], workdir: Path
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PartsModel)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = SimpleNamespace(base_url=f"http://127.0.0.1:{server.server_address[1]}/v1")
        own_model = {"model": None} if "model" in inspect.signature(codex_app_server_factory).parameters else {}
        client = codex_app_server_factory(config_toml=config_toml(base), cwd=workdir, **own_model)  # type: ignore[arg-type]
        started = new_conversation(client, workdir)
        events = [params["msg"] for method, params in turn(client, started["conversationId"], "hi")
                  if method.startswith("codex/event/")]  # fmt: skip
        (done,) = [e for e in events if e["type"] == "item_completed" and "AgentMessage" in e["item"]]
        assert done["item"]["AgentMessage"]["content"] == [{"Text": {"text": "Alpha."}}, {"Text": {"text": "Beta."}}]
        assert [e["message"] for e in events if e["type"] == "agent_message"] == ["Alpha.", "Beta."]
        assert events[-1] == {"type": "task_complete", "last_agent_message": "Beta."}
        lines = [json.loads(line) for line in Path(started["rolloutPath"]).read_text().splitlines()]
        shown = [r["payload"]["message"] for r in lines if r["payload"].get("type") == "agent_message"]
        kept = [r["payload"] for r in lines if r["type"] == "response_item" and r["payload"].get("role") == "assistant"]
        assert shown == ["Alpha.", "Beta."]
        assert kept == [{"type": "message", "role": "assistant", "content": [
            {"type": "output_text", "text": "Alpha."}, {"type": "input_text", "text": "Gamma."},
            {"type": "output_text", "text": "Beta."}]}]  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
