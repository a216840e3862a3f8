"""The tools of a turn (CONVERSATIONS.md §4.4, §4.5, §5): 0.58's approval and sandbox decisions as
functions, the turn diff, the tool list per model family, and whole turns through the installed
server (`codex_app_server_factory` + the scripted model): approvals, `shell ["apply_patch", …]`,
sandbox confinement of the shell tool, the freeform apply_patch tool."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from actors import apply_patch
from actors.exec_runner import ExecOutcome
from actors.turn import (
    TurnDiff,
    assess_patch,
    escalation_refusal,
    exec_output_text,
    likely_sandbox_denied,
    might_be_dangerous,
    needs_initial_approval,
    prompt_history,
    tools_for,
)

PATCH = ("*** Begin Patch\n*** Update File: hello.txt\n@@\n hello\n-world\n+there\n"
         "*** Add File: new.txt\n+brand new\n*** End Patch\n")


# -- decisions ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("policy", "mode", "argv", "escalated", "asks"), [
    ("untrusted", "read-only", ["python3", "-c", "print(1)"], False, True),
    ("untrusted", "read-only", ["ls", "-la"], False, False),  # known safe
    ("untrusted", "danger-full-access", ["bash", "-lc", "ls && pwd"], False, False),
    ("never", "read-only", ["rm", "-rf", "x"], False, False),
    ("on-failure", "read-only", ["touch", "y"], False, False),
    ("on-request", "workspace-write", ["python3", "-c", "print(1)"], False, False),
    ("on-request", "workspace-write", ["touch", "y"], True, True),  # with_escalated_permissions
    ("on-request", "workspace-write", ["rm", "-f", "x"], False, True),  # dangerous
    ("on-request", "danger-full-access", ["git", "reset", "--hard"], False, True),
    ("on-request", "danger-full-access", ["touch", "y"], True, False),
])
def test_initial_approval_by_policy(policy: str, mode: str, argv: list[str], escalated: bool, asks: bool) -> None:
    assert needs_initial_approval(policy, mode, argv, escalated) is asks


def test_dangerous_commands_as_0_58_sees_them() -> None:
    assert might_be_dangerous(["sudo", "rm", "-f", "x"])
    assert might_be_dangerous(["/usr/bin/git", "rm", "x"])
    assert might_be_dangerous(["bash", "-lc", "echo hi && rm -f x"])
    assert not might_be_dangerous(["rm", "-r", "x"])
    assert not might_be_dangerous(["git", "status"])


def _outcome(code: int, stderr: bytes = b"", timed_out: bool = False) -> ExecOutcome:
    return ExecOutcome(exit_code=code, stdout=b"", stderr=stderr, aggregated=stderr, timed_out=timed_out)


def test_sandbox_denial_guess() -> None:
    assert likely_sandbox_denied(_outcome(1, b"touch: cannot touch 'y': Permission denied\n"))
    assert likely_sandbox_denied(_outcome(128 + 31))  # SIGSYS from seccomp
    assert not likely_sandbox_denied(_outcome(0, b"permission denied"))
    assert not likely_sandbox_denied(_outcome(127, b"not found"))
    assert not likely_sandbox_denied(_outcome(1, b"boom"))
    assert not likely_sandbox_denied(_outcome(124, b"permission denied", timed_out=True))


def test_escalation_refusal_text() -> None:
    assert escalation_refusal("untrusted") == (
        "approval policy is UnlessTrusted; reject command — you should not ask for escalated permissions if the "
        "approval policy is UnlessTrusted")


def test_patch_assessment(tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_text("hello\nworld\n")
    inside = apply_patch.verify_patch(PATCH, str(tmp_path))
    outside = apply_patch.verify_patch("*** Begin Patch\n*** Add File: /proc/nope.txt\n+x\n*** End Patch\n",
                                       str(tmp_path))
    ww = {"mode": "workspace-write", "exclude_slash_tmp": True, "exclude_tmpdir_env_var": True}
    assert assess_patch(inside, "untrusted", {"mode": "danger-full-access"}, tmp_path) == "ask"
    assert assess_patch(inside, "on-request", ww, tmp_path) == "auto"
    assert assess_patch(outside, "on-request", ww, tmp_path) == "ask"
    assert assess_patch(inside, "on-request", {"mode": "read-only"}, tmp_path) == "ask"
    assert assess_patch(inside, "on-failure", {"mode": "read-only"}, tmp_path) == "auto"
    assert assess_patch(inside, "never", {"mode": "read-only"}, tmp_path) == (
        "reject: writing outside of the project; rejected by user approval settings")
    assert assess_patch(outside, "never", {"mode": "danger-full-access"}, tmp_path) == "auto"


# -- prompt shapes ------------------------------------------------------------------------------------------
def test_tool_list_per_model_family() -> None:
    def shape(tools: list[dict[str, Any]]) -> list[tuple[str, str]]:
        return [(t["name"], t["type"]) for t in tools]

    base = ["shell", "list_mcp_resources", "list_mcp_resource_templates", "read_mcp_resource", "update_plan"]
    assert [t["name"] for t in tools_for("mock-model", False)] == [*base, "view_image"]
    assert [t["name"] for t in tools_for("gpt-5", False)] == [*base, "view_image"]
    assert shape(tools_for("gpt-5-codex", False))[-2:] == [("apply_patch", "custom"), ("view_image", "function")]
    assert shape(tools_for("gpt-5.1", False))[-2] == ("apply_patch", "custom")
    assert shape(tools_for("gpt-oss-20b", False))[-2] == ("apply_patch", "function")
    assert shape(tools_for("mock-model", True))[-2] == ("apply_patch", "custom")
    freeform = tools_for("mock-model", True)[-2]
    assert freeform["format"]["type"] == "grammar" and freeform["format"]["syntax"] == "lark"
    assert tools_for("gpt-oss-20b", False)[-2]["parameters"]["required"] == ["input"]


def test_exec_outputs_become_text_only_with_the_freeform_tool() -> None:
    output = json.dumps({"output": "42\n", "metadata": {"exit_code": 0, "duration_seconds": 0.1}})
    assert exec_output_text(output) == "Exit code: 0\nWall time: 0.1 seconds\nOutput:\n42\n"
    zero = json.dumps({"output": "", "metadata": {"exit_code": 1, "duration_seconds": 0.0}})
    assert exec_output_text(zero) == "Exit code: 1\nWall time: 0 seconds\nOutput:\n"
    history = [
        {"type": "function_call", "name": "shell", "arguments": "{}", "call_id": "a"},
        {"type": "function_call_output", "call_id": "a", "output": output},
        {"type": "function_call", "name": "update_plan", "arguments": "{}", "call_id": "b"},
        {"type": "function_call_output", "call_id": "b", "output": output},
        {"type": "function_call", "name": "shell", "arguments": "{}", "call_id": "c"},
        {"type": "function_call_output", "call_id": "c", "output": "exec command rejected by user"},
    ]
    assert prompt_history(history, tools_for("mock-model", False)) is history
    shown = prompt_history(history, tools_for("mock-model", True))
    assert [item.get("output") for item in shown[1::2]] == [
        "Exit code: 0\nWall time: 0.1 seconds\nOutput:\n42\n", output, "exec command rejected by user"]
    assert history[1]["output"] == output  # the history (and so the rollout) keeps JSON


# -- turn diff ----------------------------------------------------------------------------------------------
def _blob(text: str) -> str:
    return subprocess.run(["git", "hash-object", "--stdin"], input=text.encode(), capture_output=True,
                          check=True).stdout.decode().strip()


def test_turn_diff_outside_git_uses_absolute_paths(tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_text("hello\nworld\n")
    (tmp_path / "other.txt").write_text("a\n")
    patch = ("*** Begin Patch\n*** Delete File: hello.txt\n*** Add File: new.txt\n+n\n"
             "*** Update File: other.txt\n*** Move to: moved.txt\n@@\n-a\n+b\n*** End Patch\n")
    action = apply_patch.verify_patch(patch, str(tmp_path))
    diff = TurnDiff()
    diff.track(action)
    assert apply_patch.apply_action(action).success
    root = str(tmp_path)
    assert diff.unified_diff() == (
        f"diff --git a/{root}/hello.txt b/{root}/hello.txt\ndeleted file mode 100644\n"
        f"index {_blob('hello' + chr(10) + 'world' + chr(10))}..{'0' * 40}\n"
        f"--- a/{root}/hello.txt\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-hello\n-world\n"
        f"diff --git a/{root}/new.txt b/{root}/new.txt\nnew file mode 100644\n"
        f"index {'0' * 40}..{_blob('n' + chr(10))}\n--- /dev/null\n+++ b/{root}/new.txt\n@@ -0,0 +1 @@\n+n\n"
        f"diff --git a/{root}/other.txt b/{root}/moved.txt\n"
        f"index {_blob('a' + chr(10))}..{_blob('b' + chr(10))}\n"
        f"--- a/{root}/other.txt\n+++ b/{root}/moved.txt\n@@ -1 +1 @@\n-a\n+b\n"
    )
    assert diff.unified_diff().startswith("diff --git a//")  # §5.3: `a//tmp/...`


def test_turn_diff_is_cumulative_and_repo_relative(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "f.txt").write_text("one\n")
    diff = TurnDiff()
    for old, new in (("one", "two"), ("two", "three")):
        text = f"*** Begin Patch\n*** Update File: src/f.txt\n@@\n-{old}\n+{new}\n*** End Patch\n"
        action = apply_patch.verify_patch(text, str(tmp_path))
        diff.track(action)
        assert apply_patch.apply_action(action).success
    assert diff.unified_diff() == (
        f"diff --git a/src/f.txt b/src/f.txt\nindex {_blob('one' + chr(10))}..{_blob('three' + chr(10))}\n"
        "--- a/src/f.txt\n+++ b/src/f.txt\n@@ -1 +1 @@\n-one\n+three\n")


# -- through the server -------------------------------------------------------------------------------------
def test_exec_approval_round_trip_through_the_server(codex_app_server_factory: Any, codex_model: Any,
                                                     codex_workspace: Path) -> None:
    client = codex_app_server_factory()
    codex_model.shell(["python3", "-c", "print(42)"], call_id="c1").text("done")
    conversation = client.new_conversation(approvalPolicy="untrusted", sandbox="read-only")
    turn = conversation.send("run it")
    request = turn.next_approval()
    assert request.method == "execCommandApproval"
    assert request.params["command"] == ["python3", "-c", "print(42)"]
    assert request.params["cwd"] == str(codex_workspace)
    turn.answer(request, "approved")
    turn.wait()
    assert turn.status == "completed" and turn.text == "done"
    assert [(c["stdout"], c["exit_code"]) for c in turn.commands] == [("42\n", 0)]
    types = turn.types
    assert types.index("exec_command_begin") < types.index("exec_approval_request") < types.index("exec_command_end")


def test_shell_apply_patch_is_applied_as_a_patch(codex_app_server_factory: Any, codex_model: Any,
                                                 codex_workspace: Path) -> None:
    (codex_workspace / "hello.txt").write_text("hello\nworld\n")
    client = codex_app_server_factory()
    codex_model.apply_patch(PATCH, via="shell", call_id="p1").text("patched")
    conversation = client.new_conversation(approvalPolicy="never", sandbox="danger-full-access")
    turn = conversation.ask("edit")
    assert (codex_workspace / "hello.txt").read_text() == "hello\nthere\n"
    assert (codex_workspace / "new.txt").read_text() == "brand new\n"
    assert "exec_command_begin" not in turn.types and "exec_command_end" not in turn.types
    assert turn.of("patch_apply_begin")[0]["auto_approved"] is True
    assert turn.of("patch_apply_end")[0]["success"] is True
    assert turn.of("turn_diff")[-1]["unified_diff"].count("diff --git") == 2
    output = json.loads(codex_model.last_request()["body"]["input"][-1]["output"])
    assert output["output"] == "Success. Updated the following files:\nA new.txt\nM hello.txt\n"


def test_a_patch_that_does_not_apply_changes_nothing(codex_app_server_factory: Any, codex_model: Any,
                                                     codex_workspace: Path) -> None:
    (codex_workspace / "hello.txt").write_text("hello\nworld\n")
    bad = ("*** Begin Patch\n*** Add File: fresh.txt\n+x\n*** Update File: hello.txt\n@@\n-nomatch\n+x\n"
           "*** End Patch\n")
    client = codex_app_server_factory()
    codex_model.apply_patch(bad, via="shell", call_id="p1").text("oh")
    turn = client.new_conversation(approvalPolicy="never", sandbox="danger-full-access").ask("edit")
    assert not (codex_workspace / "fresh.txt").exists()
    assert (codex_workspace / "hello.txt").read_text() == "hello\nworld\n"
    assert "patch_apply_begin" not in turn.types
    output = codex_model.last_request()["body"]["input"][-1]["output"]
    assert output == (f"apply_patch verification failed: Failed to find expected lines in "
                      f"{codex_workspace}/hello.txt:\nnomatch")


def test_shell_tool_is_confined_under_workspace_write(codex_app_server_factory: Any, codex_model: Any,
                                                      codex_workspace: Path, tmp_path: Path) -> None:
    outside, inside = tmp_path / "outside.txt", codex_workspace / "inside.txt"
    write = "import sys; open(sys.argv[1], 'w').write('x')"
    client = codex_app_server_factory()
    codex_model.shell(["python3", "-c", write, str(outside)], call_id="out")
    codex_model.shell(["python3", "-c", write, str(inside)], call_id="in")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # A workdir outside the writable roots does not become writable by running there.
    codex_model.shell(["python3", "-c", write, "here.txt"], call_id="wd", workdir=str(elsewhere)).text("done")
    conversation = client.new_conversation()
    policy = {"mode": "workspace-write", "network_access": False, "exclude_tmpdir_env_var": True,
              "exclude_slash_tmp": True}
    turn = conversation.send_turn("write", cwd=str(codex_workspace), approvalPolicy="never",
                                  sandboxPolicy=policy, model="mock-model", summary="auto").wait()
    ends = {end["call_id"]: end for end in turn.of("exec_command_end")}
    assert not outside.exists()
    assert ends["out"]["exit_code"] != 0 and "ermission denied" in ends["out"]["stderr"]
    assert inside.read_text() == "x" and ends["in"]["exit_code"] == 0
    assert not (elsewhere / "here.txt").exists() and ends["wd"]["exit_code"] != 0


def test_on_failure_retries_outside_the_sandbox_after_approval(codex_app_server_factory: Any, codex_model: Any,
                                                               codex_workspace: Path) -> None:
    client = codex_app_server_factory()
    codex_model.shell(["touch", "made"], call_id="c1").text("done")
    turn = client.new_conversation(approvalPolicy="on-failure", sandbox="read-only").send("touch")
    request = turn.next_approval()
    assert request.params["reason"] == "command failed; retry without sandbox?"
    assert not (codex_workspace / "made").exists()  # the sandboxed attempt could not write
    turn.answer(request, "approved")
    turn.wait()
    assert (codex_workspace / "made").exists()
    assert [c["exit_code"] for c in turn.commands] == [0]


def test_escalation_is_refused_unless_on_request(codex_app_server_factory: Any, codex_model: Any,
                                                 codex_workspace: Path) -> None:
    client = codex_app_server_factory()
    codex_model.shell(["touch", "made"], call_id="c1", with_escalated_permissions=True).text("ok")
    turn = client.new_conversation(approvalPolicy="never", sandbox="read-only").ask("touch")
    assert "exec_command_begin" not in turn.types and not (codex_workspace / "made").exists()
    assert codex_model.last_request()["body"]["input"][-1]["output"] == escalation_refusal("never")


def test_freeform_apply_patch_tool_with_approval(codex_app_server_factory: Any, codex_model: Any,
                                                 codex_workspace: Path) -> None:
    (codex_workspace / "hello.txt").write_text("hello\nworld\n")
    client = codex_app_server_factory()
    codex_model.apply_patch(PATCH, via="tool", call_id="p1").text("patched")
    conversation = client.new_conversation(approvalPolicy="untrusted", sandbox="read-only",
                                           includeApplyPatchTool=True)
    turn = conversation.send("edit")
    request = turn.next_approval()
    assert request.method == "applyPatchApproval"
    assert set(request.params["fileChanges"]) == {str(codex_workspace / "hello.txt"), str(codex_workspace / "new.txt")}
    turn.answer(request, "approved")
    turn.wait()
    notice = next(event for event in turn.events if event.type == "deprecation_notice")
    assert notice.params["id"] == ""
    assert notice.msg["summary"] == "`include_apply_patch_tool` is deprecated. Use `apply_patch_freeform` instead."
    assert (codex_workspace / "hello.txt").read_text() == "hello\nthere\n"
    first, second = codex_model.requests()[:2]
    assert [t["name"] for t in first["body"]["tools"]][-2:] == ["apply_patch", "view_image"]
    output = second["body"]["input"][-1]
    assert output["type"] == "custom_tool_call_output"
    assert output["output"].startswith("Exit code: 0\nWall time: ")
    assert output["output"].endswith("Output:\nSuccess. Updated the following files:\nA new.txt\nM hello.txt\n")


def test_v2_thread_approval_and_abort(codex_app_server_factory: Any, codex_model: Any,
                                      codex_workspace: Path) -> None:
    client = codex_app_server_factory()
    codex_model.shell(["touch", "made"], call_id="c1").text("unused")
    thread = client.start_thread(approvalPolicy="unlessTrusted", sandbox="workspaceWrite")
    turn = thread.send("touch")
    request = turn.next_approval()
    assert request.method == "execCommandApproval" and request.params["conversationId"] == thread.id
    turn.answer(request, "abort")
    turn.wait()
    assert turn.status == "interrupted"
    assert not (codex_workspace / "made").exists()
    assert [c["stderr"] for c in turn.commands] == ["exec command rejected by user"]
