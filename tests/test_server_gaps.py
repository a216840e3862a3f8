"""Requirements of issues 4 and 5 and of DECISIONS that were tested only at actor level, tested here
through the server subprocess (the `codex_app_server_factory` / `codex_daemon_factory` fixtures)
against an in-process scripted model: approvals, sandbox confinement of the agent's shell tool,
resume by path, raw events, instructions, the 401 refresh, account notifications, subscriptions,
process-group cleanup, the shell environment policy, a joined `turn/start` and the MCP tools."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mock_issuer import MockIssuer, id_token_claims, make_jwt
from pytest_codex_app_server import AppServerClient, Conversation, ServerRequest, Turn

from codex_mock_model import MockModel

REJECTED = "exec command rejected by user"
PATCH = ("*** Begin Patch\n*** Update File: hello.txt\n@@\n hello\n-world\n+there\n"
         "*** Add File: new.txt\n+brand new\n*** End Patch\n")
Start = Callable[..., AppServerClient]


# -- set-up ---------------------------------------------------------------------------------------------------
@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "w"
    path.mkdir()
    return path


def config_toml(model: MockModel, approval: str = "never", sandbox: str = "danger-full-access", extra: str = "") -> str:
    return (
        f'model = "mock-model"\nmodel_provider = "mock"\napproval_policy = "{approval}"\n'
        f'sandbox_mode = "{sandbox}"\n{extra}\n\n[model_providers.mock]\nname = "mock"\n'
        f'base_url = "{model.base_url}"\nwire_api = "responses"\nrequest_max_retries = 0\nstream_max_retries = 0\n'
    )


def server_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "CODEX_API_KEY")}
    env["SHELL"] = "/bin/bash"
    env.update(extra)
    return env


@pytest.fixture
def start(codex_app_server_factory: Start, model: MockModel, workdir: Path) -> Start:
    """`start(approval=…, sandbox=…, extra=<more top-level TOML>, env=…)`: a server on this test's model."""

    def go(approval: str = "never", sandbox: str = "danger-full-access", extra: str = "",
           env: dict[str, str] | None = None, home: Path | None = None) -> AppServerClient:
        return codex_app_server_factory(config_toml=config_toml(model, approval, sandbox, extra),
                                        env=env or server_env(), cwd=workdir, model=None, home=home)

    return go


def conversation(client: AppServerClient, workdir: Path, **params: Any) -> Conversation:
    return client.new_conversation(cwd=str(workdir), **params)


def marker_command(path: Path) -> list[str]:
    return ["python3", "-c", f"open({str(path)!r}, 'w').write('ran')"]


def last_output(model: MockModel) -> Any:
    return model.requests()[-1]["body"]["input"][-1]["output"]


def settle(turn: Turn, request: ServerRequest) -> None:
    """The test answered `request` itself (an error or a malformed result): stop tracking it."""
    turn.pending.remove(request)


def exec_ends(turn: Turn) -> list[dict[str, Any]]:
    return turn.of("exec_command_end")


# -- approvals (issue 5) --------------------------------------------------------------------------------------
def test_approved_for_session_is_not_asked_again(start: Start, model: MockModel, workdir: Path) -> None:
    client = start()
    command = ["python3", "-c", "print(7)"]
    model.enqueue({"type": "shell", "command": command, "call_id": "a"},
                  {"type": "shell", "command": command, "call_id": "b"},
                  {"type": "text", "text": "twice"},
                  {"type": "shell", "command": command, "call_id": "c"},
                  {"type": "text", "text": "thrice"})
    conv = conversation(client, workdir, approvalPolicy="untrusted", sandbox="danger-full-access")
    first = conv.send("run it twice")
    request = first.next_approval()
    assert request.method == "execCommandApproval" and request.params["callId"] == "a"
    first.answer(request, "approved_for_session")
    first.wait()  # a second request would raise ApprovalRequired: no policy is given
    assert first.text == "twice"
    assert [(e["call_id"], e["exit_code"], e["stdout"]) for e in exec_ends(first)] == [("a", 0, "7\n"), ("b", 0, "7\n")]
    assert [m["call_id"] for m in first.of("exec_approval_request")] == ["a"]
    later = conv.ask("and once more")  # a later turn of the same session is not asked either
    assert later.text == "thrice" and [e["exit_code"] for e in exec_ends(later)] == [0]
    assert "exec_approval_request" not in later.types


def test_error_and_unparseable_replies_count_as_denied(start: Start, model: MockModel, workdir: Path) -> None:
    client = start()
    conv = conversation(client, workdir, approvalPolicy="untrusted", sandbox="danger-full-access")
    answers: list[Callable[[ServerRequest], None]] = [
        lambda r: client.answer_error(r, -32000, "the user closed the dialog"),
        lambda r: client.answer(r, {"decision": "maybe"}),
        lambda r: client.answer(r, "approved"),  # not an object
        lambda r: client.answer(r, None),
    ]
    for index, reply in enumerate(answers):
        marker = workdir / f"ran{index}"
        model.enqueue({"type": "shell", "command": marker_command(marker), "call_id": f"c{index}"},
                      {"type": "text", "text": f"ok then {index}"})
        turn = conv.send(f"go {index}")
        request = turn.next_approval()
        reply(request)
        settle(turn, request)
        turn.wait(timeout=15)
        assert turn.status == "completed" and turn.text == f"ok then {index}", index
        assert not marker.exists()
        assert [(e["exit_code"], e["stderr"], e["aggregated_output"]) for e in exec_ends(turn)] == [
            (-1, REJECTED, REJECTED)]
        assert last_output(model) == REJECTED


def test_denied_or_failed_patch_approval_leaves_files_untouched(start: Start, model: MockModel,
                                                                workdir: Path) -> None:
    (workdir / "hello.txt").write_text("hello\nworld\n")
    client = start()
    conv = conversation(client, workdir, approvalPolicy="untrusted", sandbox="read-only")
    for index, decide in enumerate([
        lambda t, r: t.answer(r, "denied"),
        lambda t, r: (client.answer_error(r, -32000, "no"), settle(t, r)),
    ]):
        model.enqueue({"type": "apply_patch", "patch": PATCH, "via": "shell", "call_id": f"p{index}"},
                      {"type": "text", "text": "not patched"})
        turn = conv.send("edit")
        request = turn.next_approval()
        assert request.method == "applyPatchApproval"
        decide(turn, request)
        turn.wait(timeout=15)
        assert turn.status == "completed", index
        assert (workdir / "hello.txt").read_text() == "hello\nworld\n"
        assert not (workdir / "new.txt").exists()
        assert not {"patch_apply_begin", "patch_apply_end", "turn_diff"} & set(turn.types)
        assert last_output(model) == "patch rejected by user"


def test_interrupt_while_an_approval_is_pending(start: Start, model: MockModel, workdir: Path) -> None:
    client = start()
    stale, fresh = workdir / "stale", workdir / "fresh"
    model.enqueue({"type": "shell", "command": marker_command(stale), "call_id": "c1"},
                  {"type": "shell", "command": marker_command(fresh), "call_id": "c2"},
                  {"type": "text", "text": "after"})
    conv = conversation(client, workdir, approvalPolicy="untrusted", sandbox="danger-full-access")
    turn = conv.send("go")
    request = turn.next_approval()
    settle(turn, request)  # left unanswered: the interrupt has to resolve it
    turn.interrupt()
    turn.wait(timeout=15)
    assert turn.status == "interrupted"
    assert turn.interrupt_result == {"abortReason": "interrupted"}
    assert turn.of("turn_aborted") == [{"type": "turn_aborted", "reason": "interrupted"}]
    assert "exec_command_end" not in turn.types
    client.answer(request, {"decision": "approved"})  # too late: the approval was settled by the interrupt
    # The next turn's approval is a new request, answered on its own; the stale one never runs.
    after = conv.send("next")
    again = after.next_approval()
    assert again.id != request.id and again.params["callId"] == "c2"
    after.answer(again, "approved")
    after.wait(timeout=15)
    assert after.text == "after" and after.status == "completed"
    assert [(e["call_id"], e["exit_code"]) for e in exec_ends(after)] == [("c2", 0)]
    time.sleep(0.2)
    assert fresh.exists() and not stale.exists()
    assert len(model.requests()) == 3


# -- sandbox confinement of the agent's shell tool (issue 5, DECISIONS 19) -------------------------------------
def test_shell_tool_has_no_network_and_git_stays_read_only(start: Start, model: MockModel, workdir: Path) -> None:
    (workdir / ".git").mkdir()
    (workdir / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.3)
    port = listener.getsockname()[1]
    connect = ["python3", "-c", f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=5); "
                                "print('connected')"]
    model.enqueue({"type": "shell", "command": connect, "call_id": "net"},
                  {"type": "shell", "command": ["sh", "-c", "echo evil > .git/HEAD"], "call_id": "git"},
                  {"type": "shell", "command": ["sh", "-c", "echo ok > inside.txt"], "call_id": "in"},
                  {"type": "text", "text": "confined"},
                  {"type": "shell", "command": connect, "call_id": "net2"},
                  {"type": "text", "text": "online"})
    client = start()
    conv = conversation(client, workdir)
    policy = {"mode": "workspace-write", "network_access": False, "exclude_tmpdir_env_var": True,
              "exclude_slash_tmp": True}
    turn_params = {"cwd": str(workdir), "approvalPolicy": "never", "model": "mock-model", "summary": "auto"}
    try:
        turn = conv.send_turn("try", sandboxPolicy=policy, **turn_params).wait()
        ends = {e["call_id"]: e for e in exec_ends(turn)}
        assert ends["net"]["exit_code"] != 0 and "connected" not in ends["net"]["stdout"]
        with pytest.raises(TimeoutError):
            listener.accept()  # nothing reached the listener
        assert ends["git"]["exit_code"] != 0
        assert (workdir / ".git" / "HEAD").read_text() == "ref: refs/heads/main\n"
        assert ends["in"]["exit_code"] == 0 and (workdir / "inside.txt").read_text() == "ok\n"
        # The same command with network access connects: the failure above was the sandbox's.
        online = conv.send_turn("again", sandboxPolicy={**policy, "network_access": True}, **turn_params).wait()
        assert [(e["exit_code"], e["stdout"]) for e in exec_ends(online)] == [(0, "connected\n")]
    finally:
        listener.close()


# -- resume by path (issue 5) ---------------------------------------------------------------------------------
def test_resume_by_path_then_a_turn_carries_the_old_history(start: Start, model: MockModel, workdir: Path,
                                                            codex_home: Path, tmp_path: Path) -> None:
    first_server = start()
    created = first_server.request("newConversation", {"cwd": str(workdir)})
    cid, rollout = created["conversationId"], Path(created["rolloutPath"])
    first_server.request("addConversationListener", {"conversationId": cid})
    model.enqueue({"type": "text", "text": "the first answer"})
    first_server.request("sendUserMessage", {"conversationId": cid,
                                             "items": [{"type": "text", "data": {"text": "the first question"}}]})
    first_server.wait_notification("codex/event/task_complete")
    assert first_server.close() == 0
    first_input = model.requests()[0]["body"]["input"]

    moved = tmp_path / "elsewhere" / rollout.name  # by path: the file need not sit under sessions/
    moved.parent.mkdir()
    rollout.rename(moved)
    second_server = start()
    resumed = second_server.request("resumeConversation", {"path": str(moved)})
    assert resumed["conversationId"] == cid and resumed["rolloutPath"] == str(moved)
    second_server.request("addConversationListener", {"conversationId": cid})
    model.enqueue({"type": "text", "text": "the second answer"})
    second_server.request("sendUserMessage", {"conversationId": cid,
                                              "items": [{"type": "text", "data": {"text": "the second question"}}]})
    done = second_server.wait_notification("codex/event/task_complete")
    assert done["msg"]["last_agent_message"] == "the second answer"
    sent = model.requests()[1]["body"]["input"]
    assert sent[:len(first_input)] == first_input
    assert sent[len(first_input):] == [
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "the first answer"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "the second question"}]},
    ]


# -- raw events (issue 4) -------------------------------------------------------------------------------------
def _raw_items_seen(start: Start, model: MockModel, workdir: Path, raw: bool) -> list[dict[str, Any]]:
    client = start()
    cid = client.request("newConversation", {"cwd": str(workdir)})["conversationId"]
    client.request("addConversationListener", {"conversationId": cid, "experimentalRawEvents": raw})
    model.enqueue({"type": "shell", "command": ["echo", "hi"], "call_id": "c1"}, {"type": "text", "text": "hello"})
    client.request("sendUserMessage", {"conversationId": cid, "items": [{"type": "text", "data": {"text": "hi"}}]})
    client.wait_notification("codex/event/task_complete")
    time.sleep(0.1)
    return [p["msg"]["item"] for m, p in client.all_notifications if m == "codex/event/raw_response_item"]


def test_raw_response_items_are_skipped_without_experimental_raw_events(start: Start, model: MockModel,
                                                                          workdir: Path) -> None:
    assert _raw_items_seen(start, model, workdir, raw=False) == []


def test_raw_response_items_are_forwarded_with_experimental_raw_events(start: Start, model: MockModel,
                                                                       workdir: Path) -> None:
    items = _raw_items_seen(start, model, workdir, raw=True)
    kinds = [(item.get("type"), item.get("role")) for item in items]
    assert ("message", "user") in kinds
    assert ("function_call", None) in kinds and ("function_call_output", None) in kinds
    assert kinds[-1] == ("message", "assistant")


# -- instructions (CONVERSATIONS.md §4.1) ---------------------------------------------------------------------
def test_instructions_and_agents_md_reach_the_model(start: Start, model: MockModel, workdir: Path) -> None:
    (workdir / "AGENTS.md").write_text("Always answer in haiku.\n")
    client = start()
    model.enqueue({"type": "text", "text": "v1"}, {"type": "text", "text": "v2"})
    params = {"baseInstructions": "You are a test double.", "developerInstructions": "Be brief."}
    conversation(client, workdir, **params).ask("hi")
    thread = client.start_thread(cwd=str(workdir), **params)
    thread.send("hi").wait()
    for request in model.requests():
        body = request["body"]
        assert body["instructions"] == "You are a test double."
        assert body["input"][:2] == [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Be brief."}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": (
                f"# AGENTS.md instructions for {workdir}\n\n<INSTRUCTIONS>\nAlways answer in haiku.\n\n"
                "</INSTRUCTIONS>")}]},
        ]
        assert body["input"][2]["content"][0]["text"].startswith("<environment_context>\n")
        assert body["input"][-1]["content"] == [{"type": "input_text", "text": "hi"}]


# -- a 401 from the model refreshes the ChatGPT token once (issue 4) ------------------------------------------
def test_a_401_refreshes_the_token_through_the_login_actor_and_retries(start: Start, model: MockModel,
                                                                       workdir: Path, codex_home: Path) -> None:
    issuer = MockIssuer().start()
    try:
        document = {"OPENAI_API_KEY": None,
                    "tokens": {"id_token": make_jwt(id_token_claims("user@example.com", "pro", "acct-123")),
                               "access_token": "acc-1", "refresh_token": "ref-1", "account_id": "acct-123"},
                    "last_refresh": "2099-01-01T00:00:00Z"}
        (codex_home / "auth.json").write_text(json.dumps(document))
        client = start(env=server_env(CODEX_REFRESH_TOKEN_URL_OVERRIDE=f"{issuer.url}/oauth/token"))
        model.enqueue({"type": "http_error", "status": 401, "body": {"error": {"message": "token expired"}}},
                      {"type": "text", "text": "after the refresh"})
        turn = conversation(client, workdir).ask("hi")
        assert turn.status == "completed" and turn.text == "after the refresh" and turn.errors == []
        assert issuer.refresh_count == 1
        (refresh,) = issuer.requests_to("/oauth/token")
        assert json.loads(refresh.body)["refresh_token"] == "ref-1"
        first, second = model.requests()
        assert first["headers"]["authorization"] == "Bearer acc-1"
        assert second["headers"]["authorization"] == "Bearer refreshed-access-1"
        assert second["body"] == first["body"]
        stored = json.loads((codex_home / "auth.json").read_text())
        assert stored["tokens"]["access_token"] == "refreshed-access-1"
        assert stored["tokens"]["refresh_token"] == "refreshed-refresh-1"
    finally:
        issuer.stop()


# -- DECISIONS 2: account notifications go to every initialized connection ------------------------------------
def test_account_notifications_reach_every_initialized_connection(codex_daemon_factory: Any, model: MockModel) -> None:
    daemon = codex_daemon_factory(config_toml=config_toml(model), env=server_env())
    first, second = daemon.connect(name="first"), daemon.connect(name="second")
    silent = daemon.connect(initialize=False)
    assert first.request("loginApiKey", {"apiKey": "sk-shared"}) == {}
    for client in (first, second):
        assert client.wait_notification("authStatusChange", timeout=10) == {"authMethod": "apikey"}
    assert second.request("account/login/start", {"type": "apiKey", "apiKey": "sk-two"}) == {"type": "apiKey"}
    for client in (first, second):
        assert client.wait_notification("account/login/completed", timeout=10) == {
            "loginId": None, "success": True, "error": None}
        assert client.wait_notification("account/updated", timeout=10) == {"authMode": "apikey"}
    assert first.request("account/logout") == {}
    for client in (first, second):
        assert client.wait_notification("account/updated", timeout=10) == {"authMode": None}
    time.sleep(0.2)
    assert silent.lines == [] and daemon.process.lines == []  # never initialized: told nothing
    for client in (first, second):
        assert client.take_notifications() == []  # and each initialized one was told each thing once


# -- DECISIONS 3: subscriptions are per connection ------------------------------------------------------------
def test_removing_one_of_two_subscriptions_keeps_delivering_once(start: Start, model: MockModel,
                                                                 workdir: Path) -> None:
    client = start()
    cid = client.request("newConversation", {"cwd": str(workdir)})["conversationId"]
    subscriptions = [client.request("addConversationListener", {"conversationId": cid})["subscriptionId"]
                     for _ in range(2)]
    assert client.request("removeConversationListener", {"subscriptionId": subscriptions[0]}) == {}
    model.enqueue({"type": "text", "text": "still heard once", "deltas": 4})
    client.request("sendUserMessage", {"conversationId": cid, "items": [{"type": "text", "data": {"text": "hi"}}]})
    done = client.wait_notification("codex/event/task_complete", timeout=15)
    assert done["msg"]["last_agent_message"] == "still heard once"
    time.sleep(0.1)
    kinds = [p["msg"]["type"] for m, p in client.all_notifications
             if m.startswith("codex/event/") and p.get("conversationId") == cid]
    assert kinds.count("agent_message_delta") == 4
    assert kinds.count("task_started") == 1 and kinds.count("task_complete") == 1
    assert kinds.count("agent_message") == 1


# -- DECISIONS 13: nothing the server started outlives it -----------------------------------------------------
def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has already died


@pytest.mark.parametrize(("how", "sandbox"), [("stdin-eof", "danger-full-access"), ("sigterm", "workspace-write")])
def test_a_running_agent_command_is_killed_when_the_server_stops(start: Start, model: MockModel, workdir: Path,
                                                                 how: str, sandbox: str) -> None:
    client = start(sandbox=sandbox)
    pid_file = workdir / "sleep.pid"
    model.enqueue({"type": "shell", "command": ["bash", "-c", "sleep 300 & echo $! > sleep.pid; wait"],
                   "call_id": "long", "timeout_ms": 600_000},
                  {"type": "text", "text": "never"})
    conv = conversation(client, workdir)
    turn = conv.send("sleep")
    turn.wait_for("exec_command_begin")
    deadline = time.monotonic() + 15
    while not pid_file.exists() or not pid_file.read_text().strip():
        assert time.monotonic() < deadline, "the command never started"
        time.sleep(0.02)
    pid = int(pid_file.read_text())
    assert _alive(pid)
    if how == "stdin-eof":
        assert client.process.stdin is not None
        client.process.stdin.close()
    else:
        client.process.send_signal(signal.SIGTERM)
    assert client.process.wait(15) == 0
    deadline = time.monotonic() + 10
    while _alive(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            pytest.fail(f"sleep {pid} outlived the server ({how})")
        time.sleep(0.05)


# -- DECISIONS 14: shell_environment_policy applies to the agent's shell tool ---------------------------------
def test_shell_environment_policy_applies_to_the_shell_tool(start: Start, model: MockModel, workdir: Path) -> None:
    names = ["GAPS_SECRET_TOKEN", "GAPS_PLAIN", "GAPS_DROP_ME", "GAPS_FROM_CONFIG"]
    policy = '[shell_environment_policy]\nexclude = ["GAPS_DROP_*"]\nset = { GAPS_FROM_CONFIG = "from-config" }\n'
    client = start(sandbox="workspace-write", extra=policy,
                   env=server_env(GAPS_SECRET_TOKEN="hunter2", GAPS_PLAIN="visible", GAPS_DROP_ME="1"))
    show = f"import json, os; print(json.dumps({{k: os.environ.get(k) for k in {names!r}}}))"
    model.enqueue({"type": "shell", "command": ["python3", "-c", show], "call_id": "env"},
                  {"type": "text", "text": "seen"})
    turn = conversation(client, workdir).ask("show the environment")
    (end,) = exec_ends(turn)
    assert end["exit_code"] == 0, end
    assert json.loads(end["stdout"]) == {"GAPS_SECRET_TOKEN": None, "GAPS_PLAIN": "visible", "GAPS_DROP_ME": None,
                                         "GAPS_FROM_CONFIG": "from-config"}


# -- DECISIONS 16: turn/start while a turn runs joins it ------------------------------------------------------
def test_turn_start_while_a_turn_runs_returns_the_running_turn(start: Start, model: MockModel) -> None:
    client = start()
    model.enqueue({"type": "stall", "text": "first answer", "deltas": 4, "after_deltas": 2},
                  {"type": "text", "text": "noted"})
    thread = client.request("thread/start", {})["thread"]
    first = client.request("turn/start", {"threadId": thread["id"], "input": [{"type": "text", "text": "start"}]})
    running = first["turn"]["id"]
    model.wait_for_stall()
    joined = client.request("turn/start", {"threadId": thread["id"],
                                           "input": [{"type": "text", "text": "late note"}]})
    assert joined["turn"]["id"] == running
    model.release()
    done = client.wait_notification("turn/completed", timeout=15)
    assert done["threadId"] == thread["id"]
    assert done["turn"]["id"] == running and done["turn"]["status"] == "completed"
    time.sleep(0.3)
    assert [m for m, _ in client.take_notifications() if m == "turn/completed"] == []  # one turn, one completion
    texts = [part["text"] for item in model.requests()[-1]["body"]["input"]
             if item.get("role") == "user" for part in item["content"]]
    assert texts[-2:] == ["start", "late note"]


# -- DECISIONS 18: MCP tools answer empty results -------------------------------------------------------------
def test_mcp_tools_answer_empty_results(start: Start, model: MockModel, workdir: Path) -> None:
    client = start()
    model.enqueue({"type": "function_call", "name": "list_mcp_resources", "arguments": {}, "call_id": "m1"},
                  {"type": "function_call", "name": "list_mcp_resource_templates", "arguments": {}, "call_id": "m2"},
                  {"type": "text", "text": "nothing there"})
    turn = conversation(client, workdir).ask("what resources?")
    assert turn.status == "completed" and turn.text == "nothing there"
    outputs = [request["body"]["input"][-1] for request in model.requests()[1:]]
    assert outputs == [
        {"type": "function_call_output", "call_id": "m1", "output": '{"resources":[]}'},
        {"type": "function_call_output", "call_id": "m2", "output": '{"resourceTemplates":[]}'},
    ]


def test_mcp_tool_calls_are_announced_as_058_does(start: Start, model: MockModel, workdir: Path) -> None:
    client = start()
    model.enqueue({"type": "function_call", "name": "list_mcp_resources", "arguments": {}, "call_id": "m1"},
                  {"type": "text", "text": "nothing there"})
    turn = conversation(client, workdir).ask("what resources?")
    invocation = {"server": "codex", "tool": "list_mcp_resources", "arguments": {}}
    assert turn.of("mcp_tool_call_begin") == [{"type": "mcp_tool_call_begin", "call_id": "m1",
                                               "invocation": invocation}]
    (end,) = turn.of("mcp_tool_call_end")
    assert end["invocation"] == invocation
    assert end["result"] == {"Ok": {"content": [{"text": '{"resources":[]}', "type": "text"}], "isError": False}}

