"""`codex-app-server demo [--json] [--keep]`: a whole IDE session, offline, in a few seconds.

Starts the scripted model and the server (as a child process, over stdio, exactly as an IDE does)
in a temp workspace holding `hello.py`, which prints a typo. The session: handshake, a new
conversation (approval policy `untrusted`), a user message; the agent runs `python3 hello.py`
after an approval, fixes the file with a patch after an approval, streams its answer; then the
rollout is listed. Prints a readable transcript, or with `--json` every JSON-RPC line both ways
(`>> ` client to server, `<< ` server to client). No network, no key. Exits 0 only when everything
the transcript promises happened, else 1 naming what did not.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from codex_mock_model.server import MockModel

TURN_TIMEOUT_S = 30.0
REQUEST_TIMEOUT_S = 15.0
USER_MESSAGE = "hello.py greets with a typo. Run it, then fix it."
HELLO_BEFORE = 'print("Helo, world!")\n'
HELLO_AFTER = 'print("Hello, world!")\n'
PATCH = """*** Begin Patch
*** Update File: hello.py
@@
-print("Helo, world!")
+print("Hello, world!")
*** End Patch
"""
ANSWER = "I ran hello.py, saw it print “Helo, world!”, and fixed the typo: it now prints “Hello, world!”."


class DemoFailure(Exception):
    pass


class _Session:
    """The IDE side: one server process over stdio, every line optionally echoed."""

    def __init__(self, command: list[str], env: dict[str, str], cwd: Path, echo: bool) -> None:
        self.echo = echo
        self.inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.responses: dict[Any, dict[str, Any]] = {}
        self.pending: list[dict[str, Any]] = []  # notifications and server requests not handled yet
        self.next_id = 1
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, env=env, cwd=str(cwd))
        self.stderr: list[bytes] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in iter(self.process.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if self.echo:
                print(f"<< {line}", flush=True)
            try:
                self.inbox.put(json.loads(line))
            except ValueError:
                continue
        self.inbox.put(None)

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for chunk in iter(lambda: self.process.stderr.read1(65536), b""):  # type: ignore[union-attr]
            self.stderr.append(chunk)

    def write(self, message: dict[str, Any]) -> None:
        line = json.dumps(message)
        if self.echo:
            print(f">> {line}", flush=True)
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()

    def receive(self, timeout: float) -> dict[str, Any]:
        try:
            message = self.inbox.get(timeout=max(0.0, timeout))
        except queue.Empty:
            raise DemoFailure(f"the server said nothing for {timeout:.0f}s") from None
        if message is None:
            tail = b"".join(self.stderr).decode("utf-8", "replace")[-2000:]
            raise DemoFailure(f"the server exited (code {self.process.poll()}): {tail}")
        return message

    def request(self, method: str, params: Any = None) -> Any:
        request_id = self.next_id
        self.next_id += 1
        message: dict[str, Any] = {"id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        self.write(message)
        deadline = time.monotonic() + REQUEST_TIMEOUT_S
        while request_id not in self.responses:
            message = self.receive(deadline - time.monotonic())
            if "method" in message:
                self.pending.append(message)
            else:
                self.responses[message.get("id")] = message
        answer = self.responses.pop(request_id)
        if "error" in answer:
            raise DemoFailure(f"{method} failed: {answer['error'].get('message')}")
        return answer.get("result")

    def next_message(self, timeout: float) -> dict[str, Any]:
        if self.pending:
            return self.pending.pop(0)
        while True:
            message = self.receive(timeout)
            if "method" in message:
                return message
            self.responses[message.get("id")] = message

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                assert self.process.stdin is not None
                self.process.stdin.close()
                self.process.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait(5)


class _Transcript:
    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.streaming = False

    def say(self, text: str) -> None:
        if self.quiet:
            return
        self.end_stream()
        print(text, flush=True)

    def fail(self, text: str) -> None:
        """The reason the demo failed: in the transcript, or on stderr when stdout is raw JSON."""
        if self.quiet:
            print(text, file=sys.stderr, flush=True)
        else:
            self.say(f"\n✗ {text}")

    def end_stream(self) -> None:
        if self.streaming:
            print(flush=True)
            self.streaming = False

    def stream(self, piece: str) -> None:
        if self.quiet:
            return
        if not self.streaming:
            print("  agent › ", end="", flush=True)
            self.streaming = True
        print(piece, end="", flush=True)


def _script(python: str) -> list[dict[str, Any]]:
    return [
        {"type": "shell", "command": [python, "hello.py"], "call_id": "call_run"},
        # `mock-model` is an unknown model family, so (as in 0.58) the patch travels through `shell`.
        {"type": "apply_patch", "patch": PATCH, "call_id": "call_fix", "via": "shell"},
        {"type": "text", "text": ANSWER, "deltas": 8},
    ]


def _server_command() -> list[str]:
    # The server of this very installation, whatever `codex-app-server` on PATH may be.
    return [sys.executable, "-c", "import server; server.main()"]


def run(echo_json: bool, root: Path) -> int:
    say = _Transcript(quiet=echo_json)
    home, workspace = root / "codex-home", root / "workspace"
    home.mkdir(mode=0o700)
    workspace.mkdir()
    (workspace / "hello.py").write_text(HELLO_BEFORE, encoding="utf-8")
    python = "python3" if shutil.which("python3") else sys.executable
    model = MockModel().start()
    model.enqueue(_script(python))
    (home / "config.toml").write_text(
        'model = "mock-model"\nmodel_provider = "demo"\n\n[model_providers.demo]\nname = "scripted demo model"\n'
        f'base_url = "{model.base_url}"\nwire_api = "responses"\nrequest_max_retries = 0\nstream_max_retries = 0\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["CODEX_HOME"] = str(home)
    say.say("codex-app-server demo: an IDE session against the shipped scripted model (offline, no key)")
    say.say(f"workspace {workspace} holds hello.py: {HELLO_BEFORE.strip()}\n")
    session = _Session(_server_command(), env, workspace, echo=echo_json)
    seen: dict[str, Any] = {"exec_approval": False, "patch_approval": False, "exec_exit": None,
                            "patch_ok": None, "complete": False, "answer": None, "rollouts": 0}
    try:
        info = session.request("initialize", {"clientInfo": {"name": "codex-demo-ide", "version": "1.0.0"}})
        say.say(f"→ initialize            ← userAgent {info['userAgent']}")
        params = {"cwd": str(workspace), "approvalPolicy": "untrusted", "sandbox": "danger-full-access"}
        started = session.request("newConversation", params)
        conversation_id = started["conversationId"]
        say.say(f"→ newConversation       ← {conversation_id} (model {started['model']}, approvals: untrusted)")
        session.request("addConversationListener", {"conversationId": conversation_id})
        session.request("sendUserMessage", {"conversationId": conversation_id,
                                            "items": [{"type": "text", "data": {"text": USER_MESSAGE}}]})
        say.say(f"→ sendUserMessage       “{USER_MESSAGE}”")
        _drive_turn(session, say, seen, conversation_id)
        listed = session.request("listConversations", {})
        seen["rollouts"] = len(listed["items"])
        for item in listed["items"]:
            say.say(f"→ listConversations     ← rollout {item['path']}\n                          "
                    f"preview “{item['preview']}”")
    except DemoFailure as err:
        say.fail(f"demo failed: {err}")
        return 1
    finally:
        session.close()
        model.stop()
    fixed = (workspace / "hello.py").read_text(encoding="utf-8")
    missing = []
    if not seen["exec_approval"]:
        missing.append("the server never asked to approve the command (execCommandApproval)")
    if seen["exec_exit"] != 0:
        missing.append(f"the command did not run cleanly (exit code {seen['exec_exit']})")
    if not seen["patch_approval"]:
        missing.append("the server never asked to approve the patch (applyPatchApproval)")
    if fixed != HELLO_AFTER:
        missing.append(f"hello.py was not fixed (it holds {fixed.strip()!r})")
    if not seen["complete"]:
        missing.append("the turn did not complete")
    if seen["rollouts"] < 1:
        missing.append("listConversations did not list the rollout")
    if missing:
        say.fail("demo incomplete: " + "; ".join(missing))
        return 1
    say.say(f"\n✓ hello.py now reads: {fixed.strip()}")
    return 0


def _drive_turn(session: _Session, say: _Transcript, seen: dict[str, Any], conversation_id: str) -> None:
    deadline = time.monotonic() + TURN_TIMEOUT_S
    while True:
        message = session.next_message(deadline - time.monotonic())
        method, params = message.get("method"), message.get("params") or {}
        if "id" in message:  # a server request: the IDE shows it and the user approves
            if method == "execCommandApproval":
                seen["exec_approval"] = True
                say.say(f"? execCommandApproval   run `{' '.join(params.get('command', []))}` → approved")
            elif method == "applyPatchApproval":
                seen["patch_approval"] = True
                files = ", ".join(os.path.basename(p) for p in params.get("fileChanges", {}))
                say.say(f"? applyPatchApproval    edit {files} → approved")
            session.write({"id": message["id"], "result": {"decision": "approved"}})
            continue
        if not method.startswith("codex/event/") or params.get("conversationId") != conversation_id:
            continue
        msg = params.get("msg") or {}
        kind = msg.get("type")
        if kind == "task_started":
            say.say("  · turn started")
        elif kind == "exec_command_begin":
            say.say(f"  · agent wants to run: {' '.join(msg.get('command', []))}")
        elif kind == "exec_command_end":
            seen["exec_exit"] = msg.get("exit_code")
            output = (msg.get("aggregated_output") or "").strip()
            say.say(f"  · exit {msg.get('exit_code')}: {output}")
        elif kind == "patch_apply_begin":
            say.say(f"  · applying a patch to {', '.join(os.path.basename(p) for p in msg.get('changes', {}))}")
        elif kind == "patch_apply_end":
            seen["patch_ok"] = msg.get("success")
            say.say("  · patch applied" if msg.get("success") else f"  · patch failed: {msg.get('stderr')}")
        elif kind == "agent_message_delta":
            say.stream(msg.get("delta", ""))
        elif kind == "agent_message":
            seen["answer"] = msg.get("message")
            say.end_stream()
        elif kind in ("error", "stream_error"):
            say.say(f"  ! {msg.get('message')}")
        elif kind == "task_complete":
            seen["complete"] = True
            say.say("  · turn complete")
            return
        elif kind == "turn_aborted":
            raise DemoFailure(f"the turn was aborted ({msg.get('reason')})")
        if time.monotonic() > deadline:
            raise DemoFailure(f"the turn did not finish within {TURN_TIMEOUT_S:.0f}s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="codex-app-server demo",
                                     description="Run a whole IDE session against the shipped scripted model.")
    parser.add_argument("--json", action="store_true", help="print the raw JSON-RPC lines both ways instead")
    parser.add_argument("--keep", action="store_true", help="keep the temp workspace and CODEX_HOME afterwards")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="codex-demo-"))
    try:
        return run(args.json, root)
    finally:
        if args.keep:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
