"""Approvals at actor level (CONVERSATIONS.md §3, §7, §12; DECISIONS 5): manager + conversation +
listener + turn worker against the loopback scripted model, with a recording outgoing actor that
sees every server request (`ServerCall`) and answers it by telling the listener a `ServerAnswer`."""

from __future__ import annotations

import itertools
import json
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from recorders import ConditionRecorder as Recorder
from recorders import wait_logged

from actors.conversations import ConversationsActor
from codex_mock_model import MockModel
from config.providers import ModelProviderInfo
from messages import v1
from messages.internal import Call, ConnectionClosed, Failure, Notify, Reply, ServerAnswer, ServerCall

WAIT_S = 15.0
PATCH = ("*** Begin Patch\n*** Update File: hello.txt\n@@\n hello\n-world\n+there\n"
         "*** Add File: new.txt\n+brand new\n*** End Patch\n")


class Harness:
    def __init__(self, tmp_path: Path, model: MockModel, approval: str, sandbox: dict[str, Any]) -> None:
        self.log: list[Any] = []
        self.cond = threading.Condition()
        self.outgoing = Recorder.start(self.log, self.cond)
        self.home, self.cwd = tmp_path / "home", tmp_path / "work"
        self.home.mkdir()
        self.cwd.mkdir()
        provider = ModelProviderInfo(name="mock", base_url=model.base_url, wire_api="responses",
                                     request_max_retries=0, stream_max_retries=0)
        config = SimpleNamespace(
            codex_home=self.home, cwd=self.cwd, model="mock-model", model_provider_id="mock_provider",
            model_provider=provider, approval_policy=approval, sandbox_policy=sandbox,
            shell_environment_policy=None, model_reasoning_effort=None, model_reasoning_summary=None,
            base_instructions=None, developer_instructions=None,
        )
        self.manager = ConversationsActor.start(self.outgoing, config)
        self._ids = itertools.count(1)

    def call(self, method: str, handler: str, params: Any, connection: int = 0) -> int:
        request_id = next(self._ids)
        self.manager.tell(Call(connection, request_id, method, handler, params, "test-agent/1.0"))
        return request_id

    def wait(self, predicate: Any, what: str, after: int = 0) -> Any:
        return wait_logged(self.cond, self.log, predicate, what, WAIT_S, after)

    def answer(self, request_id: int) -> Any:
        message = self.wait(lambda m: isinstance(m, Reply | Failure) and m.request_id == request_id, "an answer")
        assert isinstance(message, Reply), message
        return message.result

    def event(self, kind: str, after: int = 0) -> Notify:
        return self.wait(lambda m: isinstance(m, Notify) and m.method == f"codex/event/{kind}", kind, after)

    def server_call(self, after: int = 0) -> ServerCall:
        return self.wait(lambda m: isinstance(m, ServerCall), "a server request", after)

    def server_calls(self) -> list[ServerCall]:
        with self.cond:
            return [m for m in self.log if isinstance(m, ServerCall)]

    def decide(self, request: ServerCall, result: Any = None, error: dict[str, Any] | None = None) -> None:
        request.reply_to.tell(ServerAnswer(request.token, result=result, error=error))

    def kinds(self) -> list[str]:
        with self.cond:
            return [m.method.removeprefix("codex/event/") for m in self.log
                    if isinstance(m, Notify) and m.method.startswith("codex/event/")]

    def events(self, kind: str) -> list[dict[str, Any]]:
        with self.cond:
            return [m.params["msg"] for m in self.log if isinstance(m, Notify) and m.method == f"codex/event/{kind}"]

    def position(self) -> int:
        with self.cond:
            return len(self.log)

    def start(self, connection: int = 0, listeners: tuple[int, ...] = (0,)) -> str:
        cid = self.answer(self.call("newConversation", "new_conversation", v1.NewConversationParams()))[
            "conversationId"]
        for conn in listeners:
            self.answer(self.call("addConversationListener", "add_conversation_listener",
                                  v1.AddConversationListenerParams(conversation_id=cid), conn))
        return cid

    def send(self, cid: str, text: str, connection: int = 0) -> int:
        item = v1.TextInputItem(data=v1.TextInputItemData(text=text))
        return self.call("sendUserMessage", "send_user_message",
                         v1.SendUserMessageParams(conversation_id=cid, items=[item]), connection)


def untrusted(tmp_path: Path, model: MockModel, sandbox: str = "danger-full-access") -> Harness:
    return Harness(tmp_path, model, "untrusted", {"mode": sandbox})


def marker_command(path: Path) -> list[str]:
    return ["python3", "-c", f"open({str(path)!r}, 'w').write('ran')"]


def last_output(model: MockModel) -> str:
    return model.requests()[-1]["body"]["input"][-1]["output"]


# -- exec approvals ---------------------------------------------------------------------------------------
def test_exec_approved_runs_after_the_request_in_0_58_order(tmp_path: Path, model: MockModel) -> None:
    h = untrusted(tmp_path, model, "read-only")
    model.enqueue({"type": "shell", "command": ["python3", "-c", "print(42)"], "call_id": "c1"},
                  {"type": "text", "text": "done"}, {"type": "text", "text": "next"})
    cid = h.start()
    h.send(cid, "run python")
    request = h.server_call()
    assert request.method == "execCommandApproval"
    assert request.connection == 0
    assert request.params == {
        "conversationId": cid, "callId": "c1", "command": ["python3", "-c", "print(42)"], "cwd": str(h.cwd),
        "reason": None, "risk": None, "parsedCmd": [{"type": "unknown", "cmd": "python3 -c 'print(42)'"}],
    }
    asked = h.event("exec_approval_request").params
    assert asked["msg"] == {"type": "exec_approval_request", "call_id": "c1", "command": ["python3", "-c", "print(42)"],
                            "cwd": str(h.cwd), "parsed_cmd": [{"type": "unknown", "cmd": "python3 -c 'print(42)'"}]}
    assert "exec_command_end" not in h.kinds()  # nothing runs before the answer
    h.decide(request, {"decision": "approved"})
    h.event("task_complete")
    seq = h.kinds()
    assert seq.index("exec_command_begin") < seq.index("exec_approval_request") < seq.index(
        "exec_command_output_delta") < seq.index("exec_command_end") < seq.index("task_complete")
    end = h.events("exec_command_end")[0]
    assert (end["stdout"], end["exit_code"]) == ("42\n", 0)
    assert json.loads(last_output(model))["output"] == "42\n"
    # §1.1: the decision took submission "1", so the next turn is "2"
    mark = h.position()
    h.send(cid, "again")
    assert h.event("task_complete", after=mark).params["id"] == "2"


def test_approved_for_session_is_not_asked_again(tmp_path: Path, model: MockModel) -> None:
    h = untrusted(tmp_path, model)
    (h.cwd / "sub").mkdir()
    command = ["python3", "-c", "print(1)"]
    model.enqueue({"type": "shell", "command": command, "call_id": "a"},
                  {"type": "shell", "command": command, "call_id": "b"},
                  {"type": "shell", "command": command, "call_id": "c", "workdir": "sub"},
                  {"type": "text", "text": "done"},
                  {"type": "shell", "command": command, "call_id": "d"}, {"type": "text", "text": "done 2"})
    cid = h.start()
    h.send(cid, "go")
    h.decide(h.server_call(), {"decision": "approved_for_session"})
    second = h.wait(lambda m: isinstance(m, ServerCall) and m.params["callId"] == "c", "the workdir request")
    assert second.params["cwd"] == str(h.cwd / "sub")  # same argv, other cwd: asked
    h.decide(second, {"decision": "approved"})
    h.event("task_complete")
    mark = h.position()
    h.send(cid, "more")  # a later turn of the same session
    h.event("task_complete", after=mark)
    assert [c.params["callId"] for c in h.server_calls()] == ["a", "c"]
    assert [e["call_id"] for e in h.events("exec_approval_request")] == ["a", "c"]
    assert [e["exit_code"] for e in h.events("exec_command_end")] == [0, 0, 0, 0]


@pytest.mark.parametrize("answer", [
    {"result": {"decision": "denied"}},
    {"result": {"decision": "maybe"}},  # unparseable → denied
    {"result": "approved"},  # not an object → denied
    {"error": {"code": -32000, "message": "no"}},  # §12: an error reply counts as denied (0.58 hangs)
])
def test_denied_and_invalid_answers_reject_and_the_turn_continues(tmp_path: Path, model: MockModel,
                                                                  answer: dict[str, Any]) -> None:
    h = untrusted(tmp_path, model)
    marker = h.cwd / "ran"
    model.enqueue({"type": "shell", "command": marker_command(marker), "call_id": "c1"},
                  {"type": "text", "text": "ok then"})
    cid = h.start()
    h.send(cid, "go")
    h.decide(h.server_call(), **answer)
    done = h.event("task_complete")
    assert done.params["msg"]["last_agent_message"] == "ok then"
    assert not marker.exists()
    assert h.events("exec_command_end") == [{
        "type": "exec_command_end", "call_id": "c1", "stdout": "", "stderr": "exec command rejected by user",
        "aggregated_output": "exec command rejected by user", "exit_code": -1, "duration": {"secs": 0, "nanos": 0},
        "formatted_output": "exec command rejected by user",
    }]
    assert last_output(model) == "exec command rejected by user"


def test_abort_ends_the_turn_after_the_rejected_end(tmp_path: Path, model: MockModel) -> None:
    h = untrusted(tmp_path, model)
    marker = h.cwd / "ran"
    model.enqueue({"type": "shell", "command": marker_command(marker), "call_id": "c1"},
                  {"type": "text", "text": "fresh"})
    cid = h.start()
    h.send(cid, "go")
    h.decide(h.server_call(), {"decision": "abort"})
    aborted = h.event("turn_aborted")
    assert aborted.params["msg"] == {"type": "turn_aborted", "reason": "interrupted"}
    seq = h.kinds()
    assert seq.index("exec_command_end") < seq.index("turn_aborted")
    assert "task_complete" not in seq
    assert not marker.exists()
    assert len(model.requests()) == 1  # no follow-up request after an abort
    mark = h.position()
    h.send(cid, "again")  # usable afterwards; ids: turn 0, decision 1, this turn 2
    done = h.event("task_complete", after=mark)
    assert (done.params["id"], done.params["msg"]["last_agent_message"]) == ("2", "fresh")


def test_interrupt_while_an_approval_is_pending(tmp_path: Path, model: MockModel) -> None:
    h = untrusted(tmp_path, model)
    marker = h.cwd / "ran"
    model.enqueue({"type": "shell", "command": marker_command(marker), "call_id": "c1"},
                  {"type": "text", "text": "after"})
    cid = h.start()
    h.send(cid, "go")
    request = h.server_call()
    interrupt = h.call("interruptConversation", "interrupt_conversation",
                       v1.InterruptConversationParams(conversation_id=cid))
    assert h.answer(interrupt) == {"abortReason": "interrupted"}
    assert h.events("turn_aborted") == [{"type": "turn_aborted", "reason": "interrupted"}]
    h.decide(request, {"decision": "approved"})  # too late: the request was settled by the interrupt
    mark = h.position()
    h.send(cid, "next")
    done = h.event("task_complete", after=mark)
    assert done.params["msg"]["last_agent_message"] == "after"
    assert not marker.exists()
    assert h.events("exec_command_end") == []
    assert len(h.server_calls()) == 1


def test_disconnect_moves_the_request_then_aborts_when_nobody_is_left(tmp_path: Path, model: MockModel) -> None:
    h = untrusted(tmp_path, model)
    marker = h.cwd / "ran"
    model.enqueue({"type": "shell", "command": marker_command(marker), "call_id": "c1"},
                  {"type": "text", "text": "unused"})
    cid = h.start(listeners=(0, 1))
    h.send(cid, "go", connection=0)
    first = h.server_call()
    assert first.connection == 0  # DECISIONS 5: the connection that sent the input
    mark = h.position()
    h.manager.tell(ConnectionClosed(0))
    moved = h.server_call(after=mark)
    assert moved.connection == 1 and moved.params == first.params
    h.decide(first, error={"code": -32099, "message": "connection closed"})  # the stale attempt is ignored
    h.manager.tell(ConnectionClosed(1))
    # Nobody is subscribed now: the abort's events wait in the buffer for the next subscriber.
    h.answer(h.call("addConversationListener", "add_conversation_listener",
                    v1.AddConversationListenerParams(conversation_id=cid), 2))
    h.event("turn_aborted")
    assert [e["stderr"] for e in h.events("exec_command_end")] == ["exec command rejected by user"]
    assert not marker.exists()
    h.decide(moved, {"decision": "approved"})  # decided exactly once: a late answer changes nothing
    time.sleep(0.2)
    assert not marker.exists()
    assert len(h.events("turn_aborted")) == 1


# -- patch approvals --------------------------------------------------------------------------------------
def _patch_harness(tmp_path: Path, model: MockModel) -> Harness:
    h = untrusted(tmp_path, model, "read-only")
    (h.cwd / "hello.txt").write_text("hello\nworld\n")
    model.enqueue({"type": "apply_patch", "patch": PATCH, "via": "shell", "call_id": "p1"},
                  {"type": "text", "text": "patched"})
    return h


def test_patch_approval_approved_applies_the_files(tmp_path: Path, model: MockModel) -> None:
    h = _patch_harness(tmp_path, model)
    cid = h.start()
    h.send(cid, "edit")
    request = h.server_call()
    changes = {
        str(h.cwd / "hello.txt"): {"update": {"unified_diff": "@@ -1,2 +1,2 @@\n hello\n-world\n+there\n",
                                              "move_path": None}},
        str(h.cwd / "new.txt"): {"add": {"content": "brand new\n"}},
    }
    assert request.method == "applyPatchApproval"
    assert request.params == {"conversationId": cid, "callId": "p1", "fileChanges": changes, "reason": None,
                              "grantRoot": None}
    assert not (h.cwd / "new.txt").exists()
    h.decide(request, {"decision": "approved"})
    h.event("task_complete")
    assert (h.cwd / "hello.txt").read_text() == "hello\nthere\n"
    assert (h.cwd / "new.txt").read_text() == "brand new\n"
    begin = h.events("patch_apply_begin")[0]
    assert (begin["auto_approved"], begin["changes"]) == (False, changes)
    end = h.events("patch_apply_end")[0]
    assert end == {"type": "patch_apply_end", "call_id": "p1",
                   "stdout": "Success. Updated the following files:\nA new.txt\nM hello.txt\n", "stderr": "",
                   "success": True}
    seq = h.kinds()
    assert seq.index("apply_patch_approval_request") < seq.index("patch_apply_begin") < seq.index(
        "patch_apply_end") < seq.index("turn_diff")
    assert "exec_command_begin" not in seq  # a patch, not a command
    assert json.loads(last_output(model))["output"] == end["stdout"]


def test_patch_approval_denied_changes_nothing(tmp_path: Path, model: MockModel) -> None:
    h = _patch_harness(tmp_path, model)
    cid = h.start()
    h.send(cid, "edit")
    h.decide(h.server_call(), {"decision": "denied"})
    h.event("task_complete")
    assert (h.cwd / "hello.txt").read_text() == "hello\nworld\n"
    assert not (h.cwd / "new.txt").exists()
    assert not {"patch_apply_begin", "patch_apply_end", "turn_diff"} & set(h.kinds())
    assert last_output(model) == "patch rejected by user"
