"""Socket transports for the daemon: WebSocket connections over a unix socket or loopback TCP.

Each connection is one WebSocket, one JSON-RPC message per text frame (what the newer upstream
server speaks on its control socket). `websockets` is imported only when a socket is asked for.
"""

from __future__ import annotations

import hmac
import itertools
import logging
import os
import queue
import secrets
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from messages.internal import ConnectionClosed, ConnectionOpened, Incoming

log = logging.getLogger(__name__)

# A connection whose unsent output grows past this is closed: one stalled client never holds
# memory or slows the others.
OUTPUT_LIMIT_BYTES = int(os.environ.get("CODEX_APP_SERVER_CONNECTION_BUFFER_BYTES", 64 * 1024 * 1024))
UNIX_PATH_MAX = 107

_connection_ids = itertools.count(1)  # 0 is stdio

# Every open socket connection's sink, so shutdown can let queued output drain, then close them all.
_live_sinks: set[FrameSink] = set()
_live_lock = threading.Lock()


def next_connection_id() -> int:
    return next(_connection_ids)


class FrameSink:
    """The outgoing side of one socket connection: a bounded queue drained by a sender thread,
    so the outgoing actor never blocks on a slow client. `send` gets each whole line (with its
    newline); a websocket sends it as one text frame, a raw stream as it is."""

    def __init__(self, connection: int, send: Callable[[bytes], None], close: Callable[[], None],
                 limit: int = OUTPUT_LIMIT_BYTES) -> None:
        self.connection = connection
        self._send = send
        self._close = close
        self._limit = limit
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._pending = 0
        self._lock = threading.Lock()
        self._closed = False
        with _live_lock:
            _live_sinks.add(self)
        threading.Thread(target=self._drain, name=f"sender-{connection}", daemon=True).start()

    @property
    def idle(self) -> bool:
        with self._lock:
            return self._pending <= 0 or self._closed

    def close_connection(self) -> None:
        """Drop the peer (server shutdown): its handler then reports the connection closed."""
        self.shutdown()
        try:
            self._close()
        except Exception:  # noqa: BLE001 - already gone
            log.debug("connection %d: close failed", self.connection, exc_info=True)

    def write(self, data: bytes) -> None:
        with self._lock:
            if self._closed:
                return
            self._pending += len(data)
            if self._pending > self._limit:
                self._closed = True
                log.warning("connection %d: over %d bytes unsent; closing it", self.connection, self._limit)
                self._queue.put(None)
                threading.Thread(target=self._close, daemon=True).start()
                return
        self._queue.put(data)

    def flush(self) -> None:
        """Frames go out as they are queued; nothing to flush."""

    def shutdown(self) -> None:
        with self._lock:
            self._closed = True
        with _live_lock:
            _live_sinks.discard(self)
        self._queue.put(None)

    def _drain(self) -> None:
        while True:
            data = self._queue.get()
            if data is None:
                return
            try:
                self._send(data)
            except Exception:  # noqa: BLE001 - a dead peer ends its sender
                log.debug("connection %d: send failed", self.connection, exc_info=True)
                return
            with self._lock:
                self._pending -= len(data)


@dataclass
class WsPolicy:
    """Who may open a websocket over TCP: bearer token (always) and allowed browser origins."""

    token: str
    allowed_origins: Sequence[str] = field(default_factory=tuple)


def _frame_sender(ws: Any) -> Callable[[bytes], None]:
    return lambda line: ws.send(line.rstrip(b"\n").decode("utf-8"))


def make_connection_handler(router: Any) -> Callable[[Any], None]:
    def handle(ws: Any) -> None:
        connection = next_connection_id()
        sink = FrameSink(connection, _frame_sender(ws), ws.close)
        router.tell(ConnectionOpened(connection, sink))
        try:
            for frame in ws:
                router.tell(Incoming(connection, frame.encode("utf-8") if isinstance(frame, str) else frame))
        except Exception:  # noqa: BLE001 - any transport failure is a disconnect
            log.debug("connection %d ended", connection, exc_info=True)
        finally:
            sink.shutdown()
            router.tell(ConnectionClosed(connection))

    return handle


def serve_raw_lines(sock: socket.socket, router: Any) -> None:
    """A unix-socket client that speaks newline-delimited JSON without a WebSocket upgrade (the
    upstream CLI's `app-server proxy` copies stdio bytes to the socket as they are)."""
    connection = next_connection_id()

    def close() -> None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    sink = FrameSink(connection, sock.sendall, close)
    router.tell(ConnectionOpened(connection, sink))
    try:
        with sock.makefile("rb") as stream:
            for line in iter(stream.readline, b""):
                router.tell(Incoming(connection, line))
    except OSError:
        log.debug("raw connection %d ended", connection, exc_info=True)
    finally:
        sink.shutdown()
        router.tell(ConnectionClosed(connection))
        try:
            sock.close()
        except OSError:
            pass


def sniffing_handler(websocket_handler: Callable[[socket.socket, Any], None], router: Any
                     ) -> Callable[[socket.socket, Any], None]:
    """Per accepted unix connection: a WebSocket upgrade (`GET …`) or raw JSON lines."""

    def handle(sock: socket.socket, address: Any) -> None:
        try:
            head = sock.recv(4, socket.MSG_PEEK)
        except OSError:
            sock.close()
            return
        if head == b"GET ":
            websocket_handler(sock, address)
        elif head:
            serve_raw_lines(sock, router)
        else:
            sock.close()

    return handle


def check_ws_request(policy: WsPolicy) -> Callable[[Any, Any], Any]:
    def process_request(connection: Any, request: Any) -> Any:
        origin = request.headers.get("Origin")
        if origin is not None and origin not in policy.allowed_origins:
            return connection.respond(403, "Forbidden: origin not allowed\n")
        supplied = request.headers.get("Authorization", "")
        expected = f"Bearer {policy.token}"
        if not hmac.compare_digest(supplied.encode(), expected.encode()):
            return connection.respond(401, "Unauthorized: a bearer token is required\n")
        return None

    return process_request


def control_dir(codex_home: Path) -> Path:
    path = codex_home / "app-server-control"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def default_socket_path(codex_home: Path) -> Path:
    return codex_home / "app-server-control" / "app-server-control.sock"


def connectable_path(path: Path) -> str:
    """The path to pass to connect(): a long socket path is a link to a short one."""
    text = str(path)
    if len(text.encode()) > UNIX_PATH_MAX and path.is_symlink():
        return os.readlink(path)
    return text


def socket_alive(path: Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(2.0)
    try:
        probe.connect(connectable_path(path))
        return True
    except OSError:
        return False
    finally:
        probe.close()


def ensure_ws_token(codex_home: Path, token_file: Path | None) -> str:
    if token_file is not None:
        return token_file.read_text(encoding="utf-8").strip()
    path = control_dir(codex_home) / "ws-token"
    token = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    os.chmod(path, 0o600)
    return token


class SocketListeners:
    """The running socket servers of a daemon and the files they own."""

    def __init__(self) -> None:
        self.servers: list[Any] = []
        self.addresses: list[str] = []
        self._cleanup: list[Callable[[], None]] = []

    def listen_unix(self, path: Path, router: Any) -> str:
        from websockets.sync.server import unix_serve

        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        bind_path = str(path)
        if len(bind_path.encode()) > UNIX_PATH_MAX:
            # The kernel caps sun_path: bind a short path in a private directory and link to it.
            runtime = Path(tempfile.mkdtemp(prefix="cas-"))
            bind_path = str(runtime / "s.sock")
            if path.is_symlink() or path.exists():
                path.unlink()
            os.symlink(bind_path, path)
            self._cleanup.append(lambda: _remove_tree(runtime))
        old_umask = os.umask(0o177)
        try:
            server = unix_serve(make_connection_handler(router), bind_path, max_size=None, compression=None)
        finally:
            os.umask(old_umask)
        os.chmod(bind_path, 0o600)
        server.handler = sniffing_handler(server.handler, router)
        self._start(server)
        self._cleanup.append(lambda: _unlink_quietly(path))
        url = f"unix://{path}"
        self.addresses.append(url)
        return url

    def listen_ws(self, host: str, port: int, router: Any, policy: WsPolicy) -> str:
        from websockets.sync.server import serve

        server = serve(make_connection_handler(router), host, port, process_request=check_ws_request(policy),
                       max_size=None, compression=None)
        bound_host, bound_port = server.socket.getsockname()[:2]
        self._start(server)
        url = f"ws://{bound_host}:{bound_port}"
        self.addresses.append(url)
        return url

    def _start(self, server: Any) -> None:
        self.servers.append(server)
        threading.Thread(target=server.serve_forever, name="socket-listener", daemon=True).start()

    def stop_accepting(self) -> None:
        """Close the listening sockets; open connections stay up (their turns are still ending)."""
        for server in self.servers:
            # shutdown(close_connections=False) closes the listener at once, then waits for the
            # handlers to end: that wait belongs on its own thread.
            threading.Thread(target=server.shutdown, kwargs={"close_connections": False}, daemon=True).start()
        for step in self._cleanup:
            step()
        self._cleanup.clear()

    def close(self, drain_s: float = 1.5) -> None:
        """Let every connection's queued output go out (bounded), then close them all."""
        self.stop_accepting()
        deadline = time.monotonic() + drain_s
        while time.monotonic() < deadline:
            with _live_lock:
                busy = [sink for sink in _live_sinks if not sink.idle]
            if not busy:
                break
            time.sleep(0.02)
        with _live_lock:
            sinks = list(_live_sinks)
        for sink in sinks:
            sink.close_connection()
        self.servers.clear()


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def _remove_tree(path: Path) -> None:
    for child in path.iterdir():
        _unlink_quietly(child)
    try:
        path.rmdir()
    except OSError:
        pass
