"""An IDE's integration tests against codex-app-server, offline and deterministic.

Copy this file into your project, `pip install pytest-codex-app-server codex-app-server`, run
`pytest`. The fixtures come from the plugin: `codex_model` is a scripted model (each step is one
model response), `codex_app_server` is the server talking to it over stdio, already initialized,
and `codex_workspace` is the directory the agent works in.
"""

from __future__ import annotations

from pathlib import Path

FULL_ACCESS = {"approvalPolicy": "never", "sandbox": "danger-full-access"}

HELLO_PATCH = """*** Begin Patch
*** Update File: hello.txt
@@
-Helo, world!
+Hello, world!
*** End Patch
"""


def user_text(model_request: dict) -> str:
    """The latest user message the model was sent (Responses wire)."""
    for item in reversed(model_request["body"]["input"]):
        if item.get("type") == "message" and item.get("role") == "user":
            return "".join(part.get("text", "") for part in item["content"])
    return ""


def test_the_answer_streams_in_pieces(codex_app_server, codex_model):
    codex_model.text("Hello from the scripted model!", deltas=3)

    turn = codex_app_server.new_conversation().ask("Say hello")

    assert turn.status == "completed"
    assert turn.text == "Hello from the scripted model!"
    assert len(turn.deltas) == 3 and "".join(turn.deltas) == turn.text
    assert turn.types[0] == "task_started" and turn.types[-1] == "task_complete"
    assert user_text(codex_model.last_request()) == "Say hello"


def test_a_v2_thread_turn(codex_app_server, codex_model):
    codex_model.text("Threads work too.", deltas=2)

    thread = codex_app_server.start_thread()
    turn = thread.ask("And v2?")

    assert turn.status == "completed"
    assert turn.id is not None
    assert len(turn.deltas) == 2 and "".join(turn.deltas) == "Threads work too."
    assert turn.text == "Threads work too."


def test_the_agent_runs_a_command_and_sees_its_output(codex_app_server, codex_model, codex_workspace):
    (codex_workspace / "notes.txt").write_text("one\ntwo\n")
    codex_model.shell(["wc", "-l", "notes.txt"]).text("notes.txt has two lines.")

    turn = codex_app_server.new_conversation(**FULL_ACCESS).ask("How long is notes.txt?")

    [command] = turn.commands
    assert command["command"] == ["wc", "-l", "notes.txt"]
    assert command["exit_code"] == 0 and command["stdout"].split() == ["2", "notes.txt"]
    assert turn.text == "notes.txt has two lines."
    # The second model request carries the command's output back to the model.
    outputs = [item for item in codex_model.last_request()["body"]["input"] if item["type"] == "function_call_output"]
    assert "2 notes.txt" in outputs[-1]["output"]


def test_approved_command_and_patch(codex_app_server, codex_model, codex_workspace: Path):
    (codex_workspace / "hello.txt").write_text("Helo, world!\n")
    # `mock-model` is an unknown model family: like 0.58, the server offers it no apply_patch tool, so
    # the patch arrives through `shell ["apply_patch", …]`.
    codex_model.shell(["sort", "hello.txt"]).apply_patch(HELLO_PATCH, via="shell").text("Fixed the typo.")

    conversation = codex_app_server.new_conversation(approvalPolicy="untrusted", sandbox="danger-full-access")
    turn = conversation.ask("Fix the typo in hello.txt", approve="approved")

    assert [request.method for request, _ in turn.approvals] == ["execCommandApproval", "applyPatchApproval"]
    assert turn.commands[0]["exit_code"] == 0
    assert (codex_workspace / "hello.txt").read_text() == "Hello, world!\n"
    assert turn.text == "Fixed the typo."


def test_a_denied_command_is_reported_to_the_model(codex_app_server, codex_model, codex_workspace: Path):
    codex_model.shell(["touch", "should-not-exist"]).text("Understood, I will not.")

    turn = codex_app_server.new_conversation(approvalPolicy="untrusted", sandbox="danger-full-access").send("Go")
    request = turn.next_approval()
    assert request.method == "execCommandApproval"
    assert request.params["command"] == ["touch", "should-not-exist"]
    turn.answer(request, "denied")
    turn.wait()

    assert not (codex_workspace / "should-not-exist").exists()
    assert turn.commands[0]["stderr"] == "exec command rejected by user"
    assert turn.text == "Understood, I will not."


def test_interrupting_a_stalled_answer(codex_app_server, codex_model):
    codex_model.stall(text="Thinking very hard", deltas=2, after_deltas=1)

    turn = codex_app_server.new_conversation().send("Take your time")
    turn.wait_for("agent_message_delta")
    codex_model.wait_for_stall()
    turn.interrupt()
    turn.wait()

    assert turn.status == "interrupted"
    assert turn.interrupt_result == {"abortReason": "interrupted"}
    assert "task_complete" not in turn.types


def test_a_model_error_ends_the_turn_with_an_error_event(codex_app_server, codex_model):
    codex_model.http_error(400, {"error": {"message": "this prompt is not allowed", "type": "invalid_request_error"}})

    turn = codex_app_server.new_conversation().ask("Break, please")

    assert turn.status == "completed"
    assert any("this prompt is not allowed" in message for message in turn.errors)
    assert turn.text is None


def test_one_step_per_user_message_by_match(codex_app_server, codex_model):
    # Steps with `match` answer the request whose latest user message contains that text,
    # whatever order they were queued in.
    codex_model.enqueue({"type": "text", "text": "Second answer", "match": "second"},
                        {"type": "text", "text": "First answer", "match": "first"})
    conversation = codex_app_server.new_conversation()

    assert conversation.ask("the first question").text == "First answer"
    assert conversation.ask("the second question").text == "Second answer"
    assert codex_model.pending() == []
