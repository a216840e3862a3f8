"""Daemon lifecycle outside the daemon: `daemon start|stop|status` and `proxy` (stdio ↔ socket)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from actors.sockets import connectable_path, control_dir, default_socket_path, socket_alive

START_WAIT_S = 15.0
STOP_WAIT_S = 10.0


def pid_file(codex_home: Path) -> Path:
    return codex_home / "app-server-control" / "app-server.pid"


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of `pid` (clock ticks since boot), or None when it is gone.
    A pid is only ours when pid and start time both match: pids are reused."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            stat = handle.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def write_pid_file(codex_home: Path) -> None:
    path = pid_file(codex_home)
    control_dir(codex_home)
    record = {"pid": os.getpid(), "start_time": process_start_time(os.getpid()), "started_at": time.time()}
    temp = path.with_suffix(".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(record, handle)
    os.replace(temp, path)


def read_live_pid(codex_home: Path) -> dict[str, Any] | None:
    """The pid record when that process is still the one that wrote it; a stale file is removed."""
    path = pid_file(codex_home)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        pid = int(record["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if process_start_time(pid) is None or process_start_time(pid) != record.get("start_time"):
        try:
            path.unlink()
        except OSError:
            pass
        return None
    return record


def remove_pid_file(codex_home: Path) -> None:
    record = read_live_pid(codex_home)
    if record is not None and record["pid"] != os.getpid():
        return
    try:
        pid_file(codex_home).unlink()
    except OSError:
        pass


def daemon_start(codex_home: Path, listen: list[str], extra: list[str]) -> int:
    socket_path = default_socket_path(codex_home)
    record = read_live_pid(codex_home)
    if record is not None and socket_alive(socket_path):
        print(f"already running at {socket_path} (pid {record['pid']})")
        return 0
    args = [sys.executable, "-c", "import server; server.main()", "--codex-home", str(codex_home), *extra]
    for url in listen or ["unix://"]:
        args += ["--listen", url]
    log_path = control_dir(codex_home) / "app-server.log"
    log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        child = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log_fd,
                                 start_new_session=True, close_fds=True)
    finally:
        os.close(log_fd)
    deadline = time.monotonic() + START_WAIT_S
    while time.monotonic() < deadline:
        if child.poll() is not None:
            print(f"error: the daemon exited with code {child.returncode}; see {log_path}", file=sys.stderr)
            return 1
        if socket_alive(socket_path) and read_live_pid(codex_home) is not None:
            print(socket_path)
            return 0
        time.sleep(0.05)
    print(f"error: the daemon did not start listening within {START_WAIT_S:.0f} s; see {log_path}", file=sys.stderr)
    return 1


def daemon_stop(codex_home: Path) -> int:
    record = read_live_pid(codex_home)
    if record is None:
        print("not running")
        return 0
    pid = int(record["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_WAIT_S
    while time.monotonic() < deadline and process_start_time(pid) == record.get("start_time"):
        time.sleep(0.05)
    if process_start_time(pid) == record.get("start_time"):
        os.kill(pid, signal.SIGKILL)
    for leftover in (pid_file(codex_home), default_socket_path(codex_home)):
        try:
            leftover.unlink()
        except OSError:
            pass
    print(f"stopped (pid {pid})")
    return 0


def daemon_status(codex_home: Path) -> int:
    record = read_live_pid(codex_home)
    socket_path = default_socket_path(codex_home)
    if record is None:
        print(json.dumps({"running": False, "socket": str(socket_path)}))
        return 0
    status: dict[str, Any] = {"running": True, "pid": record["pid"], "socket": str(socket_path),
                              "uptimeSeconds": round(time.time() - float(record.get("started_at", time.time())), 1)}
    try:
        status.update(_ask_status(socket_path))
    except Exception as error:  # noqa: BLE001 - status still reports what the files say
        status["error"] = f"could not query the daemon: {error}"
    print(json.dumps(status))
    return 0


def _ask_status(socket_path: Path) -> dict[str, Any]:
    from websockets.sync.client import unix_connect

    with unix_connect(connectable_path(socket_path), uri="ws://localhost/", open_timeout=5) as ws:
        ws.send(json.dumps({"id": 1, "method": "initialize",
                            "params": {"clientInfo": {"name": "codex-app-server-status", "version": "1"}}}))
        ws.recv(timeout=5)
        ws.send(json.dumps({"id": 2, "method": "daemon/status", "params": {}}))
        while True:
            reply = json.loads(ws.recv(timeout=5))
            if reply.get("id") == 2:
                return reply.get("result") or {}


def proxy(socket_path: Path) -> int:
    """Bridge stdin lines to the daemon and its lines back to stdout, as raw JSON lines on the
    unix socket (as the upstream proxy does). Not a WebSocket: a sync WebSocket client sends
    while holding the lock its reader needs, so two of them both sending a lot (a client
    pipelining requests while the server streams) can block each other for good."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(10)
        sock.connect(connectable_path(socket_path))
        sock.settimeout(None)
    except OSError as error:
        sock.close()
        print(f"error: cannot connect to the app-server daemon at {socket_path}: {error}", file=sys.stderr)
        return 1
    stdout = sys.stdout.buffer
    server_gone = threading.Event()

    def pump_lines() -> None:
        try:
            while True:
                chunk = sock.recv(1 << 16)
                if not chunk:
                    break
                stdout.write(chunk)
                stdout.flush()
        except OSError:
            pass
        server_gone.set()

    reader = threading.Thread(target=pump_lines, name="proxy-lines", daemon=True)
    reader.start()
    try:
        for line in iter(sys.stdin.buffer.readline, b""):
            if server_gone.is_set():
                break
            text = line.rstrip(b"\r\n")
            if text.strip():
                sock.sendall(text + b"\n")
    except OSError:
        pass
    if server_gone.is_set():
        print("error: the app-server daemon closed the connection", file=sys.stderr)
        return 1
    try:
        sock.shutdown(socket.SHUT_WR)  # our end of the session: the daemon answers what it has read
    except OSError:
        pass
    reader.join(timeout=2)
    sock.close()
    return 0
