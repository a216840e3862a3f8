"""pytest fixtures for codex-app-server: start the server as a subprocess and talk to it as an IDE does.

This module is imported into every pytest run of an environment where it is installed, so it
imports nothing heavy and nothing of the server: the server is found by command
(`--codex-app-server-cmd`, `$CODEX_APP_SERVER_CMD`, else `codex-app-server` on PATH), and so is
the scripted model (`<that command> mock-model --port 0`), driven over its HTTP control API.

Fixtures: `codex_model` (a scripted model, fresh for each test), `codex_workspace` (a temp
directory the server runs in), `codex_home`, `codex_app_server` / `codex_app_server_factory` (the
server on a temp CODEX_HOME whose config.toml points a custom provider at `codex_model`),
`codex_model_factory` (more model processes: `--script`, `--record`, `--replay`),
`codex_daemon` / `codex_daemon_factory`. A session reads as a user's:

    codex_model.text("Hello!", deltas=3)
    turn = codex_app_server.new_conversation().ask("Say hello")
    assert turn.text == "Hello!" and turn.status == "completed"
"""

from __future__ import annotations

import json
import os
import queue
import shlex
import shutil
import subprocess
import threading
import time
import tomllib
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

DEFAULT_TIMEOUT = 30.0
MODEL_PROVIDER_ID = "codex-mock"
MODEL_ID = "mock-model"
_STDERR_KEEP = 200_000
_REPORT_KEEP = 200_000
_CLIENTS_KEY = pytest.StashKey[list["AppServerClient"]]()
_MODELS_KEY = pytest.StashKey[list["ScriptedModel"]]()
# Never sent to a failing test's report, even from a loopback model (a recording proxy sees real keys).
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key",
                             "chatgpt-account-id", "openai-organization", "openai-project"})


class JsonRpcError(Exception):
    """The server answered a request with a JSON-RPC error."""

    def __init__(self, code: int, message: str, request_id: Any = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.request_id = request_id


@dataclass(frozen=True)
class ServerRequest:
    """A server→client request (`execCommandApproval`, `applyPatchApproval`)."""

    id: Any
    method: str
    params: Any


@dataclass(frozen=True)
class Event:
    """One notification of a turn. `type` is the core event type for `codex/event/*`
    (`agent_message_delta`, `exec_command_end`, …) and the method for the others (`turn/completed`)."""

    method: str
    params: Any

    @property
    def type(self) -> str:
        if self.method.startswith("codex/event/") and isinstance(self.params, dict):
            msg = self.params.get("msg")
            if isinstance(msg, dict) and isinstance(msg.get("type"), str):
                return msg["type"]
        return self.method

    @property
    def msg(self) -> dict[str, Any]:
        """The core event (`params.msg`) of a `codex/event/*` notification; `{}` otherwise."""
        msg = self.params.get("msg") if isinstance(self.params, dict) else None
        return msg if isinstance(msg, dict) else {}


Decision = str | Mapping[str, Any]
ApprovalPolicy = str | Mapping[str, str] | Callable[[ServerRequest], Any] | None


class ApprovalRequired(Exception):
    """The turn asked for an approval and no policy was given to answer it."""

    def __init__(self, request: ServerRequest) -> None:
        params = request.params if isinstance(request.params, dict) else {}
        what = " ".join(params.get("command") or []) or ", ".join(params.get("fileChanges") or {}) or "?"
        super().__init__(
            f"the turn asked {request.method} ({what}) and no approval policy was given: pass "
            f"approve='approved' (or a mapping / callable), or answer it with turn.answer(turn.pending[0], decision)"
        )
        self.request = request


class TurnEnded(Exception):
    """The turn reached its terminal event before what was waited for arrived."""


def _decide(policy: ApprovalPolicy, request: ServerRequest) -> Any:
    if callable(policy):
        decision = policy(request)
    elif isinstance(policy, Mapping):
        decision = policy.get(request.method)
    else:
        decision = policy
    if decision is None:
        raise ApprovalRequired(request)
    return decision if isinstance(decision, Mapping) else {"decision": decision}


class Turn:
    """One turn of a conversation, collected from the session as its events arrive.

    Events are those carrying this conversation's id, plus `item/*` and `turn/*` notifications,
    which 0.58 sends without one (run concurrent turns on separate connections to tell those
    apart). The turn ends at `codex/event/task_complete` or `codex/event/turn_aborted` (v1) or
    `turn/completed` (v2)."""

    def __init__(self, conversation: Conversation, turn_id: str | None = None) -> None:
        self.conversation = conversation
        self.id = turn_id
        self.events: list[Event] = []
        self.approvals: list[tuple[ServerRequest, Any]] = []  # each request and the answer given
        self.pending: list[ServerRequest] = []  # approvals asked and not answered yet
        self.terminal: Event | None = None
        self.interrupt_result: Any = None
        self._interrupt_id: Any = None

    # -- collecting ------------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self.terminal is not None

    def _is_terminal(self, event: Event) -> bool:
        if self.conversation.v2:
            return event.method == "turn/completed"
        return event.type in ("task_complete", "turn_aborted")

    def _step(self, timeout: float) -> Event | ServerRequest:
        item = self.conversation.session._take_for(self.conversation.id, timeout)
        if isinstance(item, ServerRequest):
            self.pending.append(item)
            return item
        self.events.append(item)
        if self._is_terminal(item):
            self.terminal = item
        return item

    def wait(self, approve: ApprovalPolicy = None, timeout: float = DEFAULT_TIMEOUT) -> Turn:
        """Collect events until the turn's terminal event, answering approvals by `approve`: a
        decision (`"approved"`, `"approved_for_session"`, `"denied"`, `"abort"`), a mapping from
        method to decision, or a callable taking the ServerRequest and returning a decision (or a
        whole result object). Without a policy an approval raises ApprovalRequired."""
        deadline = time.monotonic() + timeout
        for request in list(self.pending):
            self.answer(request, _decide(approve, request))
        while not self.done:
            item = self._step(max(0.0, deadline - time.monotonic()))
            if isinstance(item, ServerRequest):
                self.answer(item, _decide(approve, item))
        if self._interrupt_id is not None and self.interrupt_result is None:
            self.interrupt_result = self.conversation.session.wait_response(
                self._interrupt_id, max(1.0, deadline - time.monotonic()))
        return self

    def wait_for(self, event_type: str, timeout: float = DEFAULT_TIMEOUT) -> Event:
        """Collect events until one of `event_type` (a core type or a method) arrives; return it.
        Approvals arriving meanwhile stay in `pending`."""
        deadline = time.monotonic() + timeout
        while True:
            if self.done:
                raise TurnEnded(f"the turn ended ({self.terminal.type}) before {event_type} arrived")
            item = self._step(max(0.0, deadline - time.monotonic()))
            if isinstance(item, Event) and item.type == event_type:
                return item

    def next_approval(self, timeout: float = DEFAULT_TIMEOUT) -> ServerRequest:
        """Collect events until the turn asks for an approval; return the request (answer it with
        `answer`)."""
        deadline = time.monotonic() + timeout
        while not self.pending:
            if self.done:
                raise TurnEnded(f"the turn ended ({self.terminal.type}) without asking for an approval")
            self._step(max(0.0, deadline - time.monotonic()))
        return self.pending[0]

    def answer(self, request: ServerRequest, decision: Decision) -> None:
        """Answer one approval: a decision string or a whole result object."""
        result = decision if isinstance(decision, Mapping) else {"decision": decision}
        self.conversation.session.answer(request, dict(result))
        if request in self.pending:
            self.pending.remove(request)
        self.approvals.append((request, dict(result)))

    def interrupt(self) -> None:
        """Ask the server to interrupt this turn (`interruptConversation` / `turn/interrupt`);
        `wait()` then collects the abort and stores the request's answer in `interrupt_result`."""
        session, cid = self.conversation.session, self.conversation.id
        if self.conversation.v2:
            self._interrupt_id = session.send("turn/interrupt", {"threadId": cid, "turnId": self.id})
        else:
            self._interrupt_id = session.send("interruptConversation", {"conversationId": cid})

    # -- reading ---------------------------------------------------------------------------------
    @property
    def types(self) -> list[str]:
        return [event.type for event in self.events]

    def of(self, event_type: str) -> list[Any]:
        """The `msg` of every core event of that type, or the params of every notification of
        that method."""
        return [event.msg if event.method.startswith("codex/event/") else event.params
                for event in self.events if event.type == event_type]

    @property
    def deltas(self) -> list[str]:
        """The streamed pieces of the agent's answer, in order."""
        if self.conversation.v2:
            return [p.get("delta", "") for p in self.of("item/agentMessage/delta")]
        return [m.get("delta", "") for m in self.of("agent_message_delta")]

    @property
    def text(self) -> str | None:
        """The agent's last whole message of this turn (None when it said nothing)."""
        messages = [m.get("message") for m in self.of("agent_message")]
        if messages:
            return messages[-1]
        items = [p["item"].get("text") for p in self.of("item/completed")
                 if isinstance(p, dict) and isinstance(p.get("item"), dict) and p["item"].get("type") == "agentMessage"]
        return items[-1] if items else None

    @property
    def status(self) -> str | None:
        """`completed`, `interrupted` (or another abort reason), `failed`; None while running."""
        if self.terminal is None:
            return None
        if self.terminal.method == "turn/completed":
            turn = self.terminal.params.get("turn") if isinstance(self.terminal.params, dict) else None
            return (turn or {}).get("status")
        if self.terminal.type == "turn_aborted":
            return self.terminal.msg.get("reason") or "interrupted"
        return "completed"

    @property
    def errors(self) -> list[str]:
        return [m.get("message", "") for m in self.of("error")]

    @property
    def commands(self) -> list[dict[str, Any]]:
        """Every `exec_command_end` of the turn (`command` is taken from its `exec_command_begin`)."""
        begun = {m.get("call_id"): m.get("command") for m in self.of("exec_command_begin")}
        return [{**m, "command": begun.get(m.get("call_id"))} for m in self.of("exec_command_end")]

    def __repr__(self) -> str:
        return f"<Turn {self.conversation.id}/{self.id} {self.status or 'running'} {len(self.events)} events>"


class Conversation:
    """A conversation (v1 `newConversation` + listener) or a thread (v2 `thread/start`)."""

    def __init__(self, session: JsonRpcSession, conversation_id: str, v2: bool, info: Any,
                 subscription_id: str | None = None) -> None:
        self.session = session
        self.id = conversation_id
        self.v2 = v2
        self.info = info  # the start request's result
        self.subscription_id = subscription_id
        self.turns: list[Turn] = []

    def send(self, text: str, **params: Any) -> Turn:
        """Send the user's text (`sendUserMessage`, or `turn/start` with `params` as its other
        wire fields); return the Turn to collect."""
        if self.v2:
            result = self.session.request("turn/start", {"threadId": self.id,
                                                         "input": [{"type": "text", "text": text}], **params})
            turn = Turn(self, result["turn"]["id"])
        else:
            self.session.request("sendUserMessage", {"conversationId": self.id,
                                                     "items": [{"type": "text", "data": {"text": text}}], **params})
            turn = Turn(self)
        self.turns.append(turn)
        return turn

    def send_turn(self, text: str, **params: Any) -> Turn:
        """v1 `sendUserTurn` (per-turn cwd, approvalPolicy, sandboxPolicy, model, summary as wire fields)."""
        self.session.request("sendUserTurn", {"conversationId": self.id,
                                              "items": [{"type": "text", "data": {"text": text}}], **params})
        turn = Turn(self)
        self.turns.append(turn)
        return turn

    def ask(self, text: str, approve: ApprovalPolicy = None, timeout: float = DEFAULT_TIMEOUT, **params: Any) -> Turn:
        """Send the text and collect the whole turn (see `Turn.wait`)."""
        return self.send(text, **params).wait(approve=approve, timeout=timeout)

    def __repr__(self) -> str:
        return f"<Conversation {self.id} {'v2' if self.v2 else 'v1'}>"


@dataclass
class _Inbox:
    lock: threading.Condition = field(default_factory=threading.Condition)
    responses: dict[Any, dict[str, Any]] = field(default_factory=dict)
    notifications: deque[tuple[str, Any]] = field(default_factory=deque)
    requests: deque[ServerRequest] = field(default_factory=deque)
    closed: bool = False


class JsonRpcSession:
    """A JSON-RPC session with the server: requests, notifications, server requests. Subclasses
    provide the transport (`send_raw`) and feed every received message text to `_deliver`."""

    def __init__(self) -> None:
        self.lines: list[str] = []  # every message received, in order
        self.all_notifications: list[tuple[str, Any]] = []
        self._inbox = _Inbox()
        self._next_id = 1
        self._write_lock = threading.Lock()

    def send_raw(self, data: bytes | str) -> None:
        raise NotImplementedError

    # -- sending -------------------------------------------------------------------------------

    def send(self, method: str, params: Any = None, *, request_id: Any = None) -> Any:
        """Send a request without waiting; returns its id."""
        if request_id is None:
            request_id = self._next_id
            self._next_id += 1
        message: dict[str, Any] = {"id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send_raw(json.dumps(message) + "\n")
        return request_id

    def notify(self, method: str, params: Any = None) -> None:
        message: dict[str, Any] = {"method": method}
        if params is not None:
            message["params"] = params
        self.send_raw(json.dumps(message) + "\n")

    def request(self, method: str, params: Any = None, timeout: float = DEFAULT_TIMEOUT) -> Any:
        """Send a request and return its result; a JSON-RPC error raises JsonRpcError."""
        return self.wait_response(self.send(method, params), timeout)

    def wait_response(self, request_id: Any, timeout: float = DEFAULT_TIMEOUT) -> Any:
        message = self._wait(
            lambda inbox: inbox.responses.pop(request_id, None), timeout, f"response to {request_id!r}"
        )
        if "error" in message:
            error = message["error"] or {}
            raise JsonRpcError(error.get("code"), error.get("message"), request_id)
        return message.get("result")

    def initialize(self, name: str = "pytest", version: str = "0.0.0") -> Any:
        return self.request("initialize", {"clientInfo": {"name": name, "version": version}})

    # -- a user's session ------------------------------------------------------------------------
    def new_conversation(self, listen: bool = True, **params: Any) -> Conversation:
        """v1: `newConversation` with `params` as its wire fields (`cwd`, `approvalPolicy`,
        `sandbox`, `model`, `config`, …), then `addConversationListener` unless `listen=False`."""
        result = self.request("newConversation", params)
        conversation_id = result["conversationId"]
        subscription = None
        if listen:
            subscription = self.request("addConversationListener", {"conversationId": conversation_id})
        return Conversation(self, conversation_id, False, result,
                            (subscription or {}).get("subscriptionId"))

    def start_thread(self, **params: Any) -> Conversation:
        """v2: `thread/start` with `params` as its wire fields (`cwd`, `approvalPolicy`, `sandbox`, …)."""
        result = self.request("thread/start", params)
        return Conversation(self, result["thread"]["id"], True, result)

    def _take_for(self, conversation_id: str, timeout: float) -> Event | ServerRequest:
        """The next notification of that conversation or, when none is waiting, its next server
        request (a request follows its own announcement, so this keeps their order)."""

        def take(inbox: _Inbox) -> Any:
            for index, (method, params) in enumerate(inbox.notifications):
                if _belongs(method, params, conversation_id):
                    del inbox.notifications[index]
                    return Event(method, params)
            for index, request in enumerate(inbox.requests):
                params = request.params if isinstance(request.params, dict) else {}
                if params.get("conversationId") == conversation_id:
                    del inbox.requests[index]
                    return request
            return None

        return self._wait(take, timeout, f"the next event of conversation {conversation_id}")

    # -- receiving -----------------------------------------------------------------------------
    def wait_notification(self, method: str, timeout: float = DEFAULT_TIMEOUT,
                          where: Callable[[Any], bool] | None = None) -> Any:
        """Return the params of the first not-yet-taken notification `method` (matching `where`)."""

        def take(inbox: _Inbox) -> Any:
            for index, (name, params) in enumerate(inbox.notifications):
                if name == method and (where is None or where(params)):
                    del inbox.notifications[index]
                    return (params,)
            return None

        return self._wait(take, timeout, f"notification {method}")[0]

    def take_notifications(self) -> list[tuple[str, Any]]:
        """Every notification not taken yet, in arrival order (and forget them)."""
        with self._inbox.lock:
            taken = list(self._inbox.notifications)
            self._inbox.notifications.clear()
        return taken

    def next_server_request(self, timeout: float = DEFAULT_TIMEOUT) -> ServerRequest:
        return self._wait(lambda inbox: inbox.requests.popleft() if inbox.requests else None, timeout,
                          "a server request")

    def answer(self, request: ServerRequest, result: Any) -> None:
        self.send_raw(json.dumps({"id": request.id, "result": result}) + "\n")

    def answer_error(self, request: ServerRequest, code: int, message: str) -> None:
        self.send_raw(json.dumps({"id": request.id, "error": {"code": code, "message": message}}) + "\n")

    def _wait(self, take: Callable[[_Inbox], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        with self._inbox.lock:
            while True:
                found = take(self._inbox)
                if found is not None:
                    return found
                if self._inbox.closed:
                    raise EOFError(f"server closed its output while waiting for {what}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
                self._inbox.lock.wait(remaining)

    def _deliver(self, text: str) -> None:
        self.lines.append(text)
        try:
            message = json.loads(text)
        except ValueError:
            return
        with self._inbox.lock:
            if not isinstance(message, dict):
                pass
            elif "method" in message and "id" in message:
                self._inbox.requests.append(ServerRequest(message["id"], message["method"], message.get("params")))
            elif "method" in message:
                entry = (message["method"], message.get("params"))
                self._inbox.notifications.append(entry)
                self.all_notifications.append(entry)
            else:
                self._inbox.responses[message.get("id")] = message
            self._inbox.lock.notify_all()

    def _mark_closed(self) -> None:
        with self._inbox.lock:
            self._inbox.closed = True
            self._inbox.lock.notify_all()


def _belongs(method: str, params: Any, conversation_id: str) -> bool:
    if not isinstance(params, dict):
        return False
    owner = params.get("conversationId") or params.get("threadId")
    if owner is not None:
        return owner == conversation_id
    if method == "thread/started":
        return (params.get("thread") or {}).get("id") == conversation_id
    return method.startswith(("item/", "turn/"))


class AppServerClient(JsonRpcSession):
    """One codex-app-server process and the JSON-RPC session with it over stdio."""

    def __init__(self, command: Sequence[str], codex_home: Path, env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> None:
        super().__init__()
        self.codex_home = codex_home
        self.command = list(command)
        self._stderr: deque[bytes] = deque()
        self._stderr_size = 0
        full_env = dict(os.environ if env is None else env)
        full_env["CODEX_HOME"] = str(codex_home)
        self.process = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=full_env,
            cwd=str(cwd) if cwd else None,
        )
        threading.Thread(target=self._read_stdout, name="codex-stdout", daemon=True).start()
        threading.Thread(target=self._read_stderr, name="codex-stderr", daemon=True).start()

    def send_raw(self, data: bytes | str) -> None:
        """Write bytes to stdin as they are (add the newline yourself)."""
        payload = data.encode() if isinstance(data, str) else data
        with self._write_lock:
            assert self.process.stdin is not None
            self.process.stdin.write(payload)
            self.process.stdin.flush()

    def stderr_text(self) -> str:
        return b"".join(self._stderr).decode("utf-8", "replace")

    def wait_stderr(self, text: str, timeout: float = DEFAULT_TIMEOUT) -> str:
        """Wait until the server's stderr contains `text`; return all of stderr."""
        deadline = time.monotonic() + timeout
        while text not in self.stderr_text():
            if time.monotonic() > deadline:
                raise TimeoutError(f"stderr never said {text!r}: {self.stderr_text()[-2000:]}")
            time.sleep(0.02)
        return self.stderr_text()

    # -- lifecycle -----------------------------------------------------------------------------
    def close(self, timeout: float = 10.0) -> int:
        """Close stdin (EOF) and wait for the exit code; kill if it does not exit."""
        if self.process.poll() is None:
            try:
                assert self.process.stdin is not None
                self.process.stdin.close()
            except OSError:
                pass
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for raw in iter(self.process.stdout.readline, b""):
            self._deliver(raw.decode("utf-8", "replace"))
        self._mark_closed()

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        for chunk in iter(lambda: self.process.stderr.read1(65536), b""):  # type: ignore[union-attr]
            self._stderr.append(chunk)
            self._stderr_size += len(chunk)
            while self._stderr_size > _STDERR_KEEP and len(self._stderr) > 1:
                self._stderr_size -= len(self._stderr.popleft())


class SocketClient(JsonRpcSession):
    """A JSON-RPC session with a daemon over a WebSocket (a unix socket path, or ws://host:port
    with a bearer token). `websockets` is imported only when this is used."""

    def __init__(self, *, unix_path: str | Path | None = None, url: str | None = None, token: str | None = None,
                 origin: str | None = None) -> None:
        super().__init__()
        from websockets.sync.client import connect, unix_connect

        headers = {"Authorization": f"Bearer {token}"} if token else None
        if unix_path is not None:
            path = str(unix_path)
            if len(path.encode()) > 107 and os.path.islink(path):
                path = os.readlink(path)
            self.ws = _direct(unix_connect, path, uri="ws://localhost/", max_size=None, compression=None,
                              additional_headers=headers)
        else:
            assert url is not None
            self.ws = _direct(connect, url, max_size=None, compression=None, additional_headers=headers,
                              origin=origin, proxy=None)
        threading.Thread(target=self._read_frames, name="codex-ws", daemon=True).start()

    def send_raw(self, data: bytes | str) -> None:
        text = data.decode() if isinstance(data, bytes) else data
        with self._write_lock:
            self.ws.send(text.rstrip("\n"))

    def close(self, timeout: float = 2.0) -> None:
        """Close gracefully; a connection wedged by unread data is cut at the socket instead."""
        closer = threading.Thread(target=self.ws.close, daemon=True)
        closer.start()
        closer.join(timeout)
        if closer.is_alive():
            import socket

            try:
                self.ws.socket.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _read_frames(self) -> None:
        try:
            for frame in self.ws:
                self._deliver(frame if isinstance(frame, str) else frame.decode("utf-8", "replace"))
        except Exception:  # noqa: BLE001 - a closed socket ends the session
            pass
        self._mark_closed()


def _direct(opener: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Open a websocket for direct use (newer websockets warn unless told it is not a context manager)."""
    try:
        return opener(*args, legacy=True, **kwargs)
    except TypeError:
        return opener(*args, **kwargs)


def server_command(config: pytest.Config | None = None) -> list[str]:
    """The command that starts the server: option, then environment, then PATH."""
    text = None
    if config is not None:
        text = config.getoption("codex_app_server_cmd", default=None)
    text = text or os.environ.get("CODEX_APP_SERVER_CMD")
    if text:
        return shlex.split(text)
    found = shutil.which("codex-app-server")
    if found is None:
        raise pytest.UsageError(
            "codex-app-server is not on PATH: install it, or pass --codex-app-server-cmd / set CODEX_APP_SERVER_CMD"
        )
    return [found]


class ScriptedModel:
    """A `codex-app-server mock-model` process: a loopback OpenAI-compatible model answering from a
    script of steps, driven over its HTTP control API. Thread-safe; a context manager.

    Steps are dicts in the script format (`codex-app-server generate-json-schema` writes its JSON
    Schema as MockModelScript.json); the shorthand methods named after the step types enqueue one
    step each and return the model, so they chain: `model.shell(["ls"]).text("Done.")`."""

    def __init__(self, command: Sequence[str], args: Sequence[str] = (), env: dict[str, str] | None = None,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.command = [*command, "mock-model", "--port", "0", *args]
        self._stderr: deque[bytes] = deque()
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy
        self.process = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, env=env)
        threading.Thread(target=self._read_stderr, name="codex-model-stderr", daemon=True).start()
        first: queue.Queue[bytes] = queue.Queue()
        assert self.process.stdout is not None
        stdout = self.process.stdout
        threading.Thread(target=lambda: first.put(stdout.readline()), name="codex-model-stdout", daemon=True).start()
        try:
            line = first.get(timeout=timeout)
        except queue.Empty:
            self.stop()
            raise RuntimeError(f"{shlex.join(self.command)} printed no address within {timeout}s") from None
        try:
            address = json.loads(line)
            self.base_url: str = address["base_url"]
            self.control_url: str = address["control_url"]
        except (ValueError, KeyError, TypeError):
            self.stop()
            raise RuntimeError(f"{shlex.join(self.command)} did not start: {line!r} "
                               f"{self.stderr_text()[-2000:]}") from None

    # -- lifecycle -------------------------------------------------------------------------------
    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> int:
        """Close its stdin (it exits), SIGTERM then SIGKILL if it does not."""
        if self.process.poll() is None:
            try:
                assert self.process.stdin is not None
                self.process.stdin.close()
                self.process.wait(timeout)
            except (OSError, subprocess.TimeoutExpired):
                self.process.terminate()
                try:
                    self.process.wait(5)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(5)
        return self.process.returncode

    def __enter__(self) -> ScriptedModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stderr_text(self) -> str:
        return b"".join(self._stderr).decode("utf-8", "replace")

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        size = 0
        for chunk in iter(lambda: self.process.stderr.read1(65536), b""):  # type: ignore[union-attr]
            self._stderr.append(chunk)
            size += len(chunk)
            while size > _STDERR_KEEP and len(self._stderr) > 1:
                size -= len(self._stderr.popleft())

    # -- control API -----------------------------------------------------------------------------
    def _control(self, method: str, path: str, body: Any = None, timeout: float = 10.0) -> Any:
        data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
        request = urllib.request.Request(f"{self.control_url}/{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with self._opener.open(request, timeout=timeout) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as err:
            detail = err.read().decode("utf-8", "replace")
            raise ValueError(f"mock model refused {method} /control/{path}: {err.code} {detail}") from None

    def enqueue(self, *steps: Any) -> ScriptedModel:
        """Queue steps (dicts, or lists of dicts); they answer the next model requests in order
        (a step with `match` answers the first request whose latest user message contains it)."""
        flat: list[Any] = []
        for step in steps:
            flat.extend(step if isinstance(step, list) else [step])
        self._control("POST", "steps", flat)
        return self

    def text(self, text: str, deltas: int = 1, **extra: Any) -> ScriptedModel:
        """An answer streamed in `deltas` pieces."""
        return self.enqueue({"type": "text", "text": text, "deltas": deltas, **extra})

    def reasoning(self, text: str, answer: str | None = None, **extra: Any) -> ScriptedModel:
        return self.enqueue({"type": "reasoning", "text": text, "answer": answer, **extra})

    def shell(self, command: Sequence[str], **extra: Any) -> ScriptedModel:
        """A `shell` tool call running `command` (argv)."""
        return self.enqueue({"type": "shell", "command": list(command), **extra})

    def apply_patch(self, patch: str, via: str = "tool", **extra: Any) -> ScriptedModel:
        """An `apply_patch` call (`via`: `tool` freeform, `shell`, or `function`)."""
        return self.enqueue({"type": "apply_patch", "patch": patch, "via": via, **extra})

    def update_plan(self, plan: Sequence[Mapping[str, str]], **extra: Any) -> ScriptedModel:
        return self.enqueue({"type": "update_plan", "plan": [dict(item) for item in plan], **extra})

    def function_call(self, name: str, arguments: Any = "{}", **extra: Any) -> ScriptedModel:
        return self.enqueue({"type": "function_call", "name": name, "arguments": arguments, **extra})

    def http_error(self, status: int, body: Any = "", **extra: Any) -> ScriptedModel:
        return self.enqueue({"type": "http_error", "status": status, "body": body, **extra})

    def stall(self, text: str = "", deltas: int = 1, after_deltas: int = 0, **extra: Any) -> ScriptedModel:
        """A stream that stops after `after_deltas` pieces until `release()` or the client hangs up."""
        return self.enqueue({"type": "stall", "text": text, "deltas": deltas, "after_deltas": after_deltas, **extra})

    def pending(self) -> list[dict[str, Any]]:
        """Steps queued and not used yet."""
        return self._control("GET", "steps")

    def status(self) -> dict[str, Any]:
        """`{"pending", "requests", "stalled", "mode"}`."""
        return self._control("GET", "status")

    def requests(self) -> list[dict[str, Any]]:
        """Every model request so far: `{"path", "query", "headers", "body", "disconnected"}`."""
        return self._control("GET", "requests")

    def last_request(self) -> dict[str, Any]:
        requests = self.requests()
        if not requests:
            raise AssertionError("the model received no request")
        return requests[-1]

    def wait_for_requests(self, count: int, timeout: float = DEFAULT_TIMEOUT) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while self.status()["requests"] < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.status()['requests']} of {count} model requests arrived")
            time.sleep(0.02)
        return self.requests()

    def wait_for_stall(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not self.status()["stalled"]:
            if time.monotonic() > deadline:
                raise TimeoutError("no model stream stalled")
            time.sleep(0.02)

    def release(self) -> int:
        """Let every stalled stream go on; returns how many there were."""
        return self._control("POST", "release")["released"]

    def reset(self) -> None:
        """Drop queued steps and recorded requests, release stalled streams."""
        self._control("POST", "reset")

    # -- configuration ---------------------------------------------------------------------------
    def provider_toml(self, provider_id: str = MODEL_PROVIDER_ID, wire_api: str = "responses") -> str:
        """A `[model_providers.<id>]` table pointing at this model (no key, no retries: errors
        surface at once)."""
        return (f'[model_providers.{json.dumps(provider_id)}]\nname = "codex mock model"\n'
                f"base_url = {json.dumps(self.base_url)}\nwire_api = {json.dumps(wire_api)}\n"
                "request_max_retries = 0\nstream_max_retries = 0\n")

    def config_toml(self, user_toml: str = "", provider_id: str = MODEL_PROVIDER_ID,
                    wire_api: str = "responses") -> str:
        """`user_toml` completed so that the server talks to this model: `model` and
        `model_provider` unless the user set them, and the provider table unless defined."""
        try:
            table = tomllib.loads(user_toml)
        except tomllib.TOMLDecodeError:
            return user_toml  # the test is about a broken config.toml: leave it alone
        head = ""
        if "model" not in table:
            head += f"model = {json.dumps(MODEL_ID)}\n"
        if "model_provider" not in table:
            head += f"model_provider = {json.dumps(provider_id)}\n"
        text = head + user_toml
        if provider_id not in (table.get("model_providers") or {}):
            text += ("\n" if text and not text.endswith("\n") else "") + self.provider_toml(provider_id, wire_api)
        return text

    def report(self) -> str:
        """The recorded requests as text for a failing test's report (credentials hidden, the long
        instructions and tool specs shortened)."""
        lines = []
        for index, req in enumerate(self.requests(), 1):
            headers = {k: ("[hidden]" if k.lower() in _SECRET_HEADERS else v) for k, v in req["headers"].items()}
            body = req.get("body")
            if isinstance(body, dict):
                body = dict(body)
                if isinstance(body.get("instructions"), str) and len(body["instructions"]) > 200:
                    body["instructions"] = body["instructions"][:200] + "…"
                if isinstance(body.get("tools"), list):
                    body["tools"] = [t.get("name") or (t.get("function") or {}).get("name") if isinstance(t, dict)
                                     else t for t in body["tools"]]
            lines.append(f"#{index} POST {req['path']}{'?' + req['query'] if req.get('query') else ''}"
                         f"{' (client disconnected)' if req.get('disconnected') else ''}")
            lines.append("headers: " + json.dumps(headers, ensure_ascii=False))
            lines.append("body: " + json.dumps(body, ensure_ascii=False, indent=1))
        text = "\n".join(lines)
        return text if len(text) <= _REPORT_KEEP else text[:_REPORT_KEEP] + "\n[… cut]"

    def __repr__(self) -> str:
        return f"<ScriptedModel {self.base_url}>"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("codex-app-server")
    group.addoption("--codex-app-server-cmd", dest="codex_app_server_cmd", default=None,
                    help="command that starts codex-app-server (default: $CODEX_APP_SERVER_CMD or PATH)")


@pytest.fixture
def codex_home(tmp_path: Path) -> Path:
    """A fresh CODEX_HOME for one test (the server fixtures write its config.toml)."""
    home = tmp_path / "codex-home"
    home.mkdir(mode=0o700)
    return home


@pytest.fixture
def codex_workspace(tmp_path: Path) -> Path:
    """An empty directory the server runs in: the agent's default cwd."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    return workspace


StartModel = Callable[..., ScriptedModel]


def _remember_model(node: pytest.Item | Any, model: ScriptedModel) -> None:
    models = node.stash.get(_MODELS_KEY, None)
    if models is None:
        models = node.stash[_MODELS_KEY] = []
    if model not in models:
        models.append(model)


@pytest.fixture
def codex_model_factory(request: pytest.FixtureRequest) -> Iterator[StartModel]:
    """Start more model processes: `start(script=None, args=(), env=None)`; `script` is a path
    or a list of steps, `args` are more `mock-model` options (`--record FILE --upstream URL`,
    `--redact NAME`, `--replay FILE`). All are stopped at the end of the test."""
    models: list[ScriptedModel] = []
    command = server_command(request.config)

    def start(script: str | Path | Sequence[Any] | None = None, args: Sequence[str] = (),
              env: dict[str, str] | None = None) -> ScriptedModel:
        extra = list(args)
        if script is not None and not isinstance(script, (str, Path)):
            path = request.getfixturevalue("tmp_path") / f"script{len(models)}.json"
            path.write_text(json.dumps({"steps": list(script)}), encoding="utf-8")
            script = path
        if script is not None:
            extra = ["--script", str(script), *extra]
        model = ScriptedModel(command, extra, env=env)
        models.append(model)
        _remember_model(request.node, model)
        return model

    yield start
    for model in models:
        model.stop()


@pytest.fixture(scope="session")
def _codex_model_process(request: pytest.FixtureRequest) -> Iterator[list[ScriptedModel]]:
    # One model process per session (per xdist worker), reset before each test: starting a process
    # per test would cost every server test a Python start-up for nothing.
    holder: list[ScriptedModel] = []
    yield holder
    for model in holder:
        model.stop()


@pytest.fixture
def codex_model(request: pytest.FixtureRequest, _codex_model_process: list[ScriptedModel]) -> ScriptedModel:
    """The scripted model of this test: no steps queued, no requests recorded, nothing stalled.
    Its recorded requests are attached to a failing test's report."""
    if not _codex_model_process or not _codex_model_process[0].alive:
        _codex_model_process[:] = [ScriptedModel(server_command(request.config))]
    model = _codex_model_process[0]
    model.reset()
    _remember_model(request.node, model)
    return model


StartServer = Callable[..., AppServerClient]
_THE_TEST_MODEL: Any = object()


@pytest.fixture
def codex_app_server_factory(request: pytest.FixtureRequest, codex_home: Path,
                             codex_workspace: Path) -> Iterator[StartServer]:
    """Start servers: `start(config_toml=None, args=(), env=None, initialize=True, home=None, cwd=None,
    model=<codex_model>, wire_api="responses")`.

    config.toml is `config_toml` completed to point a custom provider at `model` (the test's
    `codex_model` unless another ScriptedModel, or None for no model at all); the server runs in
    `cwd` (default: `codex_workspace`). Every server started is closed at the end of the test;
    their stderr is attached to a failing test's report."""
    clients: list[AppServerClient] = []
    request.node.stash[_CLIENTS_KEY] = clients
    command = server_command(request.config)

    def start(config_toml: str | None = None, args: Sequence[str] = (), env: dict[str, str] | None = None,
              initialize: bool = True, home: Path | None = None, cwd: Path | None = None,
              model: ScriptedModel | None = _THE_TEST_MODEL, wire_api: str = "responses") -> AppServerClient:
        target = home or codex_home
        target.mkdir(parents=True, exist_ok=True)
        if model is _THE_TEST_MODEL:
            model = request.getfixturevalue("codex_model")
        if model is not None:
            config_toml = model.config_toml(config_toml or "", wire_api=wire_api)
        if config_toml is not None:
            (target / "config.toml").write_text(config_toml, encoding="utf-8")
        client = AppServerClient([*command, *args], target, env=env, cwd=cwd or codex_workspace)
        clients.append(client)
        if initialize:
            client.initialize()
        return client

    yield start
    for client in clients:
        client.close()


@pytest.fixture
def codex_app_server(codex_app_server_factory: StartServer, codex_model: ScriptedModel) -> AppServerClient:
    """A server on a fresh CODEX_HOME configured against `codex_model`, already past `initialize`."""
    return codex_app_server_factory(model=codex_model)


class Daemon:
    """A server process listening on a unix socket (and optionally loopback ws://) for many clients."""

    def __init__(self, process: AppServerClient, socket_path: Path, ws_url: str | None, token: str | None) -> None:
        self.process = process
        self.socket_path = socket_path
        self.ws_url = ws_url
        self.token = token
        self.clients: list[SocketClient] = []

    def connect(self, initialize: bool = True, name: str = "pytest", over: str = "unix") -> SocketClient:
        if over == "ws":
            client = SocketClient(url=self.ws_url, token=self.token)
        else:
            client = SocketClient(unix_path=self.socket_path)
        self.clients.append(client)
        if initialize:
            client.initialize(name=name)
        return client

    def stop(self) -> int:
        for client in self.clients:
            try:
                client.close()
            except Exception:  # noqa: BLE001
                pass
        if self.process.process.poll() is None:
            self.process.process.terminate()
        return self.process.close()


@pytest.fixture
def codex_daemon_factory(codex_app_server_factory: StartServer, tmp_path: Path) -> Iterator[Callable[..., Daemon]]:
    """Start daemons: `start(ws=False, args=(), config_toml=None)` → Daemon on a temp socket."""
    daemons: list[Daemon] = []

    def start(ws: bool = False, args: Sequence[str] = (), config_toml: str | None = None,
              socket_path: Path | None = None, env: dict[str, str] | None = None) -> Daemon:
        path = socket_path or (tmp_path / f"daemon{len(daemons)}.sock")
        listen = ["--listen", f"unix://{path}"]
        if ws:
            listen += ["--listen", "ws://127.0.0.1:0"]
        process = codex_app_server_factory(config_toml=config_toml, args=[*listen, *args], initialize=False,
                                           env=env)
        ws_url = token = None
        process.wait_stderr(f"listening on unix://{path}")
        if ws:
            text = process.wait_stderr("listening on ws://")
            ws_url = text.split("listening on ws://", 1)[1].split()[0]
            ws_url = f"ws://{ws_url}"
            generated = process.codex_home / "app-server-control" / "ws-token"
            token = generated.read_text().strip() if generated.exists() else None
        daemon = Daemon(process, path, ws_url, token)
        daemons.append(daemon)
        return daemon

    yield start
    for daemon in daemons:
        daemon.stop()


@pytest.fixture
def codex_daemon(codex_daemon_factory: Callable[..., Daemon]) -> Daemon:
    """A daemon on a temp unix socket and a loopback websocket."""
    return codex_daemon_factory(ws=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.failed:
        for index, client in enumerate(item.stash.get(_CLIENTS_KEY, [])):
            text = client.stderr_text()
            if text:
                report.sections.append((f"codex-app-server #{index} stderr", text))
        for index, model in enumerate(item.stash.get(_MODELS_KEY, [])):
            try:
                text = model.report() if model.alive else f"(exited {model.process.returncode}) {model.stderr_text()}"
            except (OSError, ValueError) as err:
                text = f"(could not read the recorded requests: {err})"
            if text:
                report.sections.append((f"mock model #{index} requests", text))
    return report


__all__ = [
    "AppServerClient",
    "ApprovalRequired",
    "Conversation",
    "Daemon",
    "Event",
    "JsonRpcError",
    "JsonRpcSession",
    "ScriptedModel",
    "ServerRequest",
    "SocketClient",
    "Turn",
    "TurnEnded",
    "server_command",
]

