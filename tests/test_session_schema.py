"""Every message we send validates against the 0.58.0 schema (issue 2), checked on whole sessions.

The sessions go through the shipped fixture; `tests/wire_schema.py` checks each stdout line by kind
and method. The checker itself is tested on crafted lines, so a lax checker cannot pass a session.
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import wire_schema
from pytest_codex_app_server import AppServerClient, JsonRpcError

from codex_mock_model import MockModel

CID = "01a20f9d-eac7-7f16-811b-607fb5887a7b"
RATE_HEADERS = {"x-codex-primary-used-percent": "12.5", "x-codex-primary-window-minutes": "300",
                "x-codex-primary-reset-at": "1795558508", "x-codex-secondary-used-percent": "40"}


@pytest.fixture
def start(codex_app_server_factory: Callable[..., AppServerClient], model: MockModel,
          tmp_path: Path) -> Callable[..., tuple[AppServerClient, wire_schema.WireChecker, Path]]:
    """Start a server on the mock model, not yet initialized, with a checker attached to its client."""
    own_model = {"model": None} if "model" in inspect.signature(codex_app_server_factory).parameters else {}

    def go(wire: str = "responses", approval: str = "never",
           sandbox: str = "danger-full-access") -> tuple[AppServerClient, wire_schema.WireChecker, Path]:
        workdir = tmp_path / f"w-{wire}-{approval}"
        workdir.mkdir()
        toml = (f'model = "mock-model"\nmodel_provider = "mock"\napproval_policy = "{approval}"\n'
                f'sandbox_mode = "{sandbox}"\n\n[model_providers.mock]\nname = "mock"\n'
                f'base_url = "{model.base_url}"\nwire_api = "{wire}"\nrequest_max_retries = 0\n'
                "stream_max_retries = 0\n")
        client = codex_app_server_factory(config_toml=toml, env=dict(os.environ, SHELL="/bin/bash"), cwd=workdir,
                                          initialize=False, **own_model)
        return client, wire_schema.attach(client), workdir

    return go


def _error(client: AppServerClient, method: str, params: Any = None) -> JsonRpcError:
    with pytest.raises(JsonRpcError) as failure:
        client.request(method, params)
    return failure.value


def _methods(client: AppServerClient) -> set[str]:
    return {json.loads(line).get("method") for line in client.lines} - {None}


# -- whole sessions -------------------------------------------------------------------------------
def test_whole_session_validates_line_by_line(start: Callable[..., Any], model: MockModel) -> None:
    client, checker, workdir = start()
    # Handshake and stateless methods, with their errors.
    assert _error(client, "getUserAgent").message == "Not initialized"
    client.initialize()
    client.notify("initialized")
    assert _error(client, "initialize", {"clientInfo": {"name": "x", "version": "1"}}).message == "Already initialized"
    client.request("getUserAgent")
    client.request("model/list", {})
    _error(client, "model/list", {"cursor": "not-a-cursor"})
    client.request("getUserSavedConfig")
    client.request("getAuthStatus", {})
    _error(client, "noSuchMethod", {})
    _error(client, "newConversation")  # missing params
    _error(client, "thread/compact", {"threadId": CID})
    for method in ("daemon/status", "account/login/complete"):  # beyond 0.58: answered either way
        try:
            client.request(method, {})
        except JsonRpcError:
            pass
    client.send_raw("this is not json\n")
    client.send_raw("[1, 2]\n")
    client.send_raw('{"id": 1.5, "method": "getUserAgent"}\n')
    client.send_raw("\n")

    # A v1 conversation: a tool loop with rate-limit headers, then an interrupted turn.
    model.enqueue({"type": "shell", "command": ["python3", "-c", "print(42)"], "call_id": "call-1",
                   "rate_limit_headers": RATE_HEADERS, "usage": {"input_tokens": 10, "output_tokens": 5}},
                  {"type": "reasoning", "text": "thinking hard", "answer": "Forty-two.", "deltas": 2},
                  {"type": "stall", "text": "never finished", "deltas": 4, "after_deltas": 2})
    conversation = client.request("newConversation", {"cwd": str(workdir)})
    cid = conversation["conversationId"]
    subscription = client.request("addConversationListener", {"conversationId": cid})["subscriptionId"]
    client.request("sendUserMessage", {"conversationId": cid, "items": [{"type": "text", "data": {"text": "go"}}]})
    client.wait_notification("codex/event/task_complete")
    client.request("sendUserMessage", {"conversationId": cid, "items": [{"type": "text", "data": {"text": "more"}}]})
    model.wait_for_stall()
    client.request("interruptConversation", {"conversationId": cid})
    _error(client, "sendUserMessage", {"conversationId": CID, "items": []})
    _error(client, "sendUserMessage", {"conversationId": "not-a-uuid", "items": []})
    client.request("removeConversationListener", {"subscriptionId": subscription})
    _error(client, "removeConversationListener", {"subscriptionId": subscription})

    # A v2 thread: a command with streamed output, then a model error.
    model.enqueue({"type": "shell", "command": ["python3", "-c", "print('v2')"], "call_id": "call-2"},
                  {"type": "text", "text": "v2 done", "deltas": 3},
                  {"type": "http_error", "status": 500, "body": "boom"})
    thread = client.request("thread/start", {})["thread"]
    client.request("turn/start", {"threadId": thread["id"], "input": [{"type": "text", "text": "v2 go"}]})
    client.wait_notification("turn/completed")
    client.request("turn/start", {"threadId": thread["id"], "input": [{"type": "text", "text": "fail"}]})
    client.wait_notification("turn/completed")
    client.request("listConversations", {})
    _error(client, "turn/interrupt", {"threadId": "nope", "turnId": "0"})
    assert client.close() == 0

    lines = list(client.lines)
    checker.assert_lines(lines)
    seen = _methods(client)
    for method in ("codex/event/exec_command_end", "codex/event/agent_reasoning", "codex/event/turn_aborted",
                   "codex/event/error", "account/rateLimits/updated", "item/started", "item/completed",
                   "thread/started", "turn/started", "turn/completed", "item/agentMessage/delta",
                   "item/commandExecution/outputDelta"):
        assert method in seen, f"the session never produced {method}"
    nulls = [json.loads(line) for line in lines if json.loads(line).get("id", 0) is None]
    assert sorted(m["error"]["code"] for m in nulls) == [-32700, -32600, -32600]
    assert len(lines) > 60


def test_chat_session_validates_line_by_line(start: Callable[..., Any], model: MockModel) -> None:
    client, checker, workdir = start(wire="chat")
    client.initialize()
    model.enqueue({"type": "shell", "command": ["python3", "-c", "print(1)"]},
                  {"type": "reasoning", "text": "hm", "answer": "one", "deltas": 2},
                  {"type": "http_error", "status": 400, "body": "no"})
    cid = client.request("newConversation", {"cwd": str(workdir)})["conversationId"]
    client.request("addConversationListener", {"conversationId": cid})
    for text in ("one", "two"):
        client.request("sendUserMessage", {"conversationId": cid, "items": [{"type": "text", "data": {"text": text}}]})
        client.wait_notification("codex/event/task_complete")
    client.close()
    checker.assert_lines(client.lines)
    assert {"codex/event/exec_command_begin", "codex/event/agent_message", "codex/event/error"} <= _methods(client)


def test_approval_requests_validate(start: Callable[..., Any], model: MockModel) -> None:
    client, checker, workdir = start(approval="untrusted", sandbox="read-only")
    client.initialize()
    model.enqueue({"type": "shell", "command": ["python3", "-c", "print(42)"], "call_id": "call-1"},
                  {"type": "text", "text": "done"})
    cid = client.request("newConversation", {"cwd": str(workdir)})["conversationId"]
    client.request("addConversationListener", {"conversationId": cid})
    client.request("sendUserMessage", {"conversationId": cid, "items": [{"type": "text", "data": {"text": "go"}}]})
    request = client.next_server_request(timeout=10)
    assert request.method == "execCommandApproval"
    client.answer(request, {"decision": "approved"})
    client.wait_notification("codex/event/task_complete")
    client.close()
    checker.assert_lines(client.lines)


# -- the checker itself ---------------------------------------------------------------------------
def _checker(**sent: str) -> wire_schema.WireChecker:
    checker = wire_schema.WireChecker()
    for request_id, method in sent.items():
        checker.note_sent(json.dumps({"id": int(request_id[1:]), "method": method}) + "\n")
    return checker


def _line(obj: Any) -> str:
    return json.dumps(obj) + "\n"


def _event(msg: dict[str, Any], **extra: Any) -> str:
    return _line({"method": f"codex/event/{msg['type']}", "params": {"id": "0", "msg": msg, "conversationId": CID,
                                                                      **extra}})


GOOD = [
    _line({"id": 1, "result": {"userAgent": "codex_cli_rs/0.58.0"}}),
    _line({"id": 2, "result": {"subscriptionId": CID}}),
    _line({"error": {"code": -32600, "message": f"conversation not found: {CID}"}, "id": 2}),
    _line({"error": {"code": -32700, "message": "Parse error: expected value"}, "id": None}),
    _line({"error": {"code": -32600, "message": "Invalid request: not an object"}, "id": None}),
    _event({"type": "task_complete", "last_agent_message": None}),
    _event({"type": "agent_message_delta", "delta": "x"}),
    _line({"method": "item/started", "params": {"item": {"type": "agentMessage", "id": "m", "text": ""}}}),
    _line({"method": "account/rateLimits/updated", "params": {"rateLimits": {"primary": None, "secondary": None}}}),
    _line({"method": "item/agentMessage/delta", "params": {"threadId": CID, "turnId": "0", "itemId": "m",
                                                           "delta": "x"}}),
    _line({"id": 0, "method": "execCommandApproval", "params": {
        "conversationId": CID, "callId": "call-1", "command": ["python3", "-c", "print(42)"], "cwd": "/tmp/w",
        "reason": None, "risk": None, "parsedCmd": [{"type": "unknown", "cmd": "python3 -c 'print(42)'"}]}}),
    _line({"id": 3, "result": {"turn": {"id": "0", "items": [], "status": "inProgress", "error": None}}}),
]

BAD = {
    "missing result field": _line({"id": 1, "result": {}}),
    "jsonrpc member": _line({"jsonrpc": "2.0", "id": 1, "result": {"userAgent": "x"}}),
    "result key order": _line({"result": {"userAgent": "x"}, "id": 1}),
    "result for an id never sent": _line({"id": 99, "result": {}}),
    "null id, not a starred row": _line({"error": {"code": -32603, "message": "boom"}, "id": None}),
    "parse error code with another text": _line({"error": {"code": -32700, "message": "oops"}, "id": None}),
    "error without message": _line({"error": {"code": -32600}, "id": 2}),
    "event with a fourth key": _event({"type": "task_complete", "last_agent_message": None}, extra=1),
    "event type differs from method": _line({"method": "codex/event/task_started", "params": {
        "id": "0", "msg": {"type": "task_complete", "last_agent_message": None}, "conversationId": CID}}),
    "event msg missing a field": _event({"type": "agent_message_delta"}),
    "event id not a submission id": _line({"method": "codex/event/agent_message_delta", "params": {
        "id": 0, "msg": {"type": "agent_message_delta", "delta": "x"}, "conversationId": CID}}),
    "unknown notification": _line({"method": "turn/exploded", "params": {}}),
    "bad notification params": _line({"method": "account/rateLimits/updated", "params": {}}),
    "bad v2 extra": _line({"method": "item/agentMessage/delta", "params": {"itemId": "m"}}),
    "bad server request": _line({"id": 0, "method": "execCommandApproval", "params": {"conversationId": CID}}),
    "unknown server request": _line({"id": 0, "method": "pleaseDoThis", "params": {}}),
    "torn line": json.dumps({"id": 1, "result": {"userAgent": "x"}}),
    "not json": "{oops\n",
    "wrong turn status": _line({"id": 3, "result": {"turn": {"id": "0", "items": [], "status": "exploded",
                                                             "error": None}}}),
}


def test_checker_accepts_conforming_lines() -> None:
    checker = _checker(r1="getUserAgent", r2="addConversationListener", r3="turn/start")
    assert checker.check_lines(GOOD) == []


@pytest.mark.parametrize("name", list(BAD))
def test_checker_rejects(name: str) -> None:
    checker = _checker(r1="getUserAgent", r2="addConversationListener", r3="turn/start")
    assert checker.check(BAD[name]) != []


def test_checker_knows_every_058_method_and_our_additions() -> None:
    from messages import catalog

    assert set(wire_schema.RESULT_SCHEMAS_058) == set(catalog.CLIENT_REQUESTS_058)
    ours = set(catalog.CLIENT_REQUESTS) - set(catalog.CLIENT_REQUESTS_058)
    assert ours <= set(wire_schema.RESULT_SCHEMAS_OURS)
    for name in wire_schema.RESULT_SCHEMAS_058.values():
        assert (wire_schema.SCHEMA_DIR / f"{name}.json").is_file(), name
    for name in [*wire_schema.RESULT_SCHEMAS_OURS.values(), *wire_schema.NOTIFICATIONS_OURS.values()]:
        assert wire_schema.generated_schema(name)


def test_generated_schema_declares_every_field_of_the_v2_extras() -> None:
    sent = {
        "AgentMessageDeltaNotification": ["threadId", "turnId", "itemId", "delta"],
        "CommandExecutionOutputDeltaNotification": ["threadId", "turnId", "itemId", "delta"],
        "TurnCompletedNotification": ["threadId", "turn", "usage"],
    }
    for name, fields in sent.items():
        schema = wire_schema.generated_schema(name)
        declared = schema["$defs"][schema["$ref"].rsplit("/", 1)[1]]["properties"]
        assert set(fields) <= set(declared), name
