"""pytest fixtures for codex-app-server: start the server as a subprocess and talk to it as an IDE does.

This module is imported into every pytest run of an environment where it is installed, so it
imports nothing heavy and nothing of the server: the server is found by command
(`--codex-app-server-cmd`, `$CODEX_APP_SERVER_CMD`, else `codex-app-server` on PATH).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

DEFAULT_TIMEOUT = 30.0
_STDERR_KEEP = 200_000
_CLIENTS_KEY = pytest.StashKey[list["AppServerClient"]]()


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


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("codex-app-server")
    group.addoption("--codex-app-server-cmd", dest="codex_app_server_cmd", default=None,
                    help="command that starts codex-app-server (default: $CODEX_APP_SERVER_CMD or PATH)")


@pytest.fixture
def codex_home(tmp_path: Path) -> Path:
    """A fresh, empty CODEX_HOME for one test."""
    home = tmp_path / "codex-home"
    home.mkdir(mode=0o700)
    return home


StartServer = Callable[..., AppServerClient]


@pytest.fixture
def codex_app_server_factory(request: pytest.FixtureRequest, codex_home: Path) -> Iterator[StartServer]:
    """Start servers: `start(config_toml=None, args=(), env=None, initialize=True, codex_home=None)`.

    Every server started is closed at the end of the test; their stderr is attached to a failing
    test's report."""
    clients: list[AppServerClient] = []
    request.node.stash[_CLIENTS_KEY] = clients
    command = server_command(request.config)

    def start(config_toml: str | None = None, args: Sequence[str] = (), env: dict[str, str] | None = None,
              initialize: bool = True, home: Path | None = None, cwd: Path | None = None) -> AppServerClient:
        target = home or codex_home
        target.mkdir(parents=True, exist_ok=True)
        if config_toml is not None:
            (target / "config.toml").write_text(config_toml, encoding="utf-8")
        client = AppServerClient([*command, *args], target, env=env, cwd=cwd)
        clients.append(client)
        if initialize:
            client.initialize()
        return client

    yield start
    for client in clients:
        client.close()


@pytest.fixture
def codex_app_server(codex_app_server_factory: StartServer) -> AppServerClient:
    """A server on a fresh CODEX_HOME, already past `initialize`."""
    return codex_app_server_factory()


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
              socket_path: Path | None = None) -> Daemon:
        path = socket_path or (tmp_path / f"daemon{len(daemons)}.sock")
        listen = ["--listen", f"unix://{path}"]
        if ws:
            listen += ["--listen", "ws://127.0.0.1:0"]
        process = codex_app_server_factory(config_toml=config_toml, args=[*listen, *args], initialize=False)
        ws_url = token = None
        process.wait_stderr(f"listening on unix://{path}")
        if ws:
            text = process.wait_stderr("listening on ws://")
            ws_url = text.split("listening on ws://", 1)[1].split()[0]
            ws_url = f"ws://{ws_url}"
            token = (process.codex_home / "app-server-control" / "ws-token").read_text().strip()
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
    return report


__all__ = [
    "AppServerClient",
    "Daemon",
    "JsonRpcError",
    "JsonRpcSession",
    "ServerRequest",
    "SocketClient",
    "server_command",
]

