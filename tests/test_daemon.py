"""Daemon mode: many clients on one server over a unix socket and a loopback websocket (issue 9)."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time

import pytest
from pytest_codex_app_server import JsonRpcError, SocketClient


def test_each_connection_has_its_own_handshake_and_user_agent(codex_daemon):
    first = codex_daemon.connect(name="first")
    second = codex_daemon.connect(name="second", over="ws")
    assert first.request("getUserAgent")["userAgent"].endswith("(first; 0.0.0)")
    assert second.request("getUserAgent")["userAgent"].endswith("(second; 0.0.0)")
    with pytest.raises(JsonRpcError) as again:
        first.initialize()
    assert again.value.message == "Already initialized"
    fresh = codex_daemon.connect(initialize=False)
    with pytest.raises(JsonRpcError) as refused:
        fresh.request("getUserAgent")
    assert refused.value.message == "Not initialized"


def test_fifty_clients_interleaved_never_get_each_others_replies(codex_daemon):
    clients = [codex_daemon.connect(name=f"c{index}") for index in range(50)]
    failures: list[str] = []

    def run(index: int, client: SocketClient) -> None:
        ids = [client.send("getUserAgent") for _ in range(20)]
        for request_id in ids:
            agent = client.wait_response(request_id)["userAgent"]
            if not agent.endswith(f"(c{index}; 0.0.0)"):
                failures.append(f"client {index} got {agent}")

    threads = [threading.Thread(target=run, args=(index, client)) for index, client in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    for client in clients:
        assert len(client.lines) == 21  # initialize + its own 20 replies, nothing else


def test_socket_file_is_private(codex_daemon):
    mode = stat.S_IMODE(os.stat(codex_daemon.socket_path).st_mode)
    assert mode == 0o600
    token_file = codex_daemon.process.codex_home / "app-server-control" / "ws-token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600


def _ws_upgrade_status(url: str, headers: dict[str, str]) -> int:
    host, port = url.removeprefix("ws://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        lines = [
            "GET / HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "Sec-WebSocket-Version: 13",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        raw.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        status_line = raw.recv(4096).split(b"\r\n", 1)[0]
    return int(status_line.split()[1])


def test_websocket_needs_the_token_and_refuses_browser_origins(codex_daemon):
    url, token = codex_daemon.ws_url, codex_daemon.token
    assert _ws_upgrade_status(url, {}) == 401
    assert _ws_upgrade_status(url, {"Authorization": "Bearer wrong"}) == 401
    assert _ws_upgrade_status(url, {"Authorization": f"Bearer {token}"}) == 101
    evil = {"Authorization": f"Bearer {token}", "Origin": "https://evil.example"}
    assert _ws_upgrade_status(url, evil) == 403


def test_an_allowed_origin_may_connect(codex_daemon_factory):
    daemon = codex_daemon_factory(ws=True, args=["--ws-allow-origin", "vscode-webview://abc"])
    headers = {"Authorization": f"Bearer {daemon.token}", "Origin": "vscode-webview://abc"}
    assert _ws_upgrade_status(daemon.ws_url, headers) == 101
    headers["Origin"] = "https://other.example"
    assert _ws_upgrade_status(daemon.ws_url, headers) == 403


def test_a_live_socket_refuses_a_second_daemon_and_a_stale_one_is_replaced(codex_daemon_factory, tmp_path):
    daemon = codex_daemon_factory()
    second = subprocess.run(
        [sys.executable, "-c", "import server; server.main()", "--listen", f"unix://{daemon.socket_path}"],
        env={**os.environ, "CODEX_HOME": str(daemon.process.codex_home)},
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
    )
    assert second.returncode == 1
    assert f"already running at {daemon.socket_path} (pid {daemon.process.process.pid})" in second.stderr

    stale = tmp_path / "stale.sock"
    leftover = socket.socket(socket.AF_UNIX)
    leftover.bind(str(stale))
    leftover.close()  # a socket file nobody accepts on
    fresh = codex_daemon_factory(socket_path=stale)
    assert fresh.connect().request("getUserAgent")["userAgent"]


def test_a_long_socket_path_works(codex_daemon_factory, tmp_path):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    daemon = codex_daemon_factory(socket_path=deep / "control.sock")
    assert len(str(daemon.socket_path)) > 107
    assert daemon.connect().request("getUserAgent")["userAgent"]


def test_stdin_eof_closes_only_the_stdio_connection(codex_daemon_factory):
    daemon = codex_daemon_factory(args=["--stdio"])
    daemon.process.initialize()
    daemon.process.process.stdin.close()
    client = daemon.connect()
    assert client.request("getUserAgent")["userAgent"]
    assert daemon.process.process.poll() is None


def test_sigterm_exits_zero_and_removes_the_socket(codex_daemon_factory):
    daemon = codex_daemon_factory()
    daemon.connect().request("getUserAgent")
    daemon.process.process.send_signal(signal.SIGTERM)
    assert daemon.process.process.wait(10) == 0
    assert not daemon.socket_path.exists()


def _non_reading_client(path, name: str):
    """A websocket client that sends but never reads: once its small receive queue is full the
    library stops reading the socket, and the daemon's sends to it back up."""
    from websockets.sync.client import unix_connect

    ws = unix_connect(str(path), uri="ws://localhost/", max_queue=4, legacy=True)
    ws.send(json.dumps({"id": 0, "method": "initialize", "params": {"clientInfo": {"name": name, "version": "1"}}}))

    def flood() -> None:
        try:
            for index in range(1, 200_000):
                ws.send(json.dumps({"id": index, "method": "getUserAgent"}))
        except Exception:  # noqa: BLE001 - the daemon may close this connection; that is allowed
            pass

    threading.Thread(target=flood, daemon=True).start()
    return ws


def test_a_stalled_client_does_not_delay_another(codex_daemon):
    stalled = _non_reading_client(codex_daemon.socket_path, "stalled")
    other = codex_daemon.connect(name="other")
    for _ in range(20):
        assert other.request("getUserAgent", timeout=30)["userAgent"].endswith("(other; 0.0.0)")
    stalled.socket.shutdown(socket.SHUT_RDWR)


def _run_cli(codex_home, *args, stdin=None, timeout=30):
    return subprocess.run(
        [sys.executable, "-c", "import server; server.main()", *args],
        env={**os.environ, "CODEX_HOME": str(codex_home)},
        input=stdin, capture_output=True, text=True, timeout=timeout,
    )


def test_proxy_bridges_stdio_to_the_daemon(codex_daemon_factory):
    daemon = codex_daemon_factory()
    requests = (
        '{"id":1,"method":"initialize","params":{"clientInfo":{"name":"proxied","version":"2"}}}\n'
        '{"id":2,"method":"getUserAgent"}\n'
    )
    proxy = subprocess.Popen(
        [sys.executable, "-c", "import server; server.main()", "proxy", "--sock", str(daemon.socket_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    proxy.stdin.write(requests)
    proxy.stdin.flush()
    first = json.loads(proxy.stdout.readline())
    second = json.loads(proxy.stdout.readline())
    proxy.stdin.close()
    assert proxy.wait(10) == 0
    assert first["id"] == 1 and first["result"]["userAgent"].endswith("(proxied; 2)")
    assert second == {"id": 2, "result": first["result"]}


def test_proxy_carries_a_heavy_two_way_stream_without_stalling(codex_daemon_factory):
    # 20,000 requests written in one go while the answers stream back. The proxy speaks raw JSON
    # lines: a sync WebSocket client holds its lock while sending, which its reader needs, and
    # against a server blocked sending its answers the two could stall for good (seen in
    # bench/daemon.py, whose own WebSocket client now bounds what it has in flight).
    daemon = codex_daemon_factory()
    proxy = subprocess.Popen(
        [sys.executable, "-c", "import server; server.main()", "proxy", "--sock", str(daemon.socket_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    count = 20_000
    lines = [b'{"id":0,"method":"initialize","params":{"clientInfo":{"name":"p","version":"1"}}}\n']
    lines += [b'{"id":%d,"method":"getUserAgent"}\n' % n for n in range(1, count + 1)]

    def write() -> None:
        proxy.stdin.write(b"".join(lines))
        proxy.stdin.flush()

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    seen = set()
    deadline = time.monotonic() + 120
    while len(seen) < count + 1 and time.monotonic() < deadline:
        line = proxy.stdout.readline()
        if not line:
            break
        seen.add(json.loads(line)["id"])
    assert len(seen) == count + 1, f"{len(seen)} of {count + 1} answers"
    writer.join(10)
    proxy.stdin.close()
    assert proxy.wait(10) == 0


def test_proxy_without_a_daemon_fails_clearly(tmp_path):
    result = _run_cli(tmp_path, "proxy", "--sock", str(tmp_path / "nothing.sock"), stdin="")
    assert result.returncode == 1
    assert "cannot connect to the app-server daemon" in result.stderr


def test_daemon_start_status_stop(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    control = home / "app-server-control"
    control.mkdir(mode=0o700)
    (control / "app-server.pid").write_text(json.dumps({"pid": 999999, "start_time": "1"}))  # stale
    started = _run_cli(home, "daemon", "start")
    assert started.returncode == 0, started.stderr
    socket_path = control / "app-server-control.sock"
    assert started.stdout.strip() == str(socket_path)
    try:
        again = _run_cli(home, "daemon", "start")
        assert again.returncode == 0 and "already running" in again.stdout
        status = json.loads(_run_cli(home, "daemon", "status").stdout)
        assert status["running"] is True and status["socket"] == str(socket_path)
        assert status["connections"] >= 1 and status["version"]
    finally:
        stopped = _run_cli(home, "daemon", "stop")
    assert stopped.returncode == 0
    assert not socket_path.exists() and not (control / "app-server.pid").exists()
    assert "not running" in _run_cli(home, "daemon", "stop").stdout


def test_raw_json_lines_on_the_unix_socket_work_like_the_upstream_proxy(codex_daemon_factory):
    # The upstream CLI's `app-server proxy` copies stdio bytes to the socket without an upgrade.
    daemon = codex_daemon_factory()
    with socket.socket(socket.AF_UNIX) as raw:
        raw.settimeout(10)
        raw.connect(str(daemon.socket_path))
        raw.sendall(b'{"id":1,"method":"initialize","params":{"clientInfo":{"name":"raw","version":"1"}}}\n'
                    b'{"id":2,"method":"getUserAgent"}\n')
        stream = raw.makefile("rb")
        first, second = json.loads(stream.readline()), json.loads(stream.readline())
    assert first["id"] == 1 and first["result"]["userAgent"].endswith("(raw; 1)")
    assert second == {"id": 2, "result": first["result"]}
    # Websocket clients keep working beside it.
    assert daemon.connect().request("getUserAgent")["userAgent"]


def test_ws_token_from_a_file(codex_daemon_factory, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-token\n")
    daemon = codex_daemon_factory(ws=True, args=["--ws-token-file", str(token_file)])
    assert _ws_upgrade_status(daemon.ws_url, {"Authorization": "Bearer s3cret-token"}) == 101
    assert daemon.token is None  # no token was generated beside the socket
    assert _ws_upgrade_status(daemon.ws_url, {"Authorization": "Bearer other"}) == 401


def test_daemon_status_reports_addresses_and_counts(codex_daemon):
    client = codex_daemon.connect()
    status = client.request("daemon/status", {})
    assert status["pid"] == codex_daemon.process.process.pid
    assert status["connections"] == 1
    assert f"unix://{codex_daemon.socket_path}" in status["addresses"]
    assert any(address.startswith("ws://127.0.0.1:") for address in status["addresses"])
    assert status["uptimeSeconds"] >= 0


def test_a_pid_file_of_a_live_process_with_another_start_time_is_stale(tmp_path):
    home = tmp_path / "home"
    control = home / "app-server-control"
    control.mkdir(parents=True, mode=0o700)
    # This test's own pid is alive, but the recorded start time is not its start time: a reused pid.
    (control / "app-server.pid").write_text(json.dumps({"pid": os.getpid(), "start_time": "1"}))
    started = _run_cli(home, "daemon", "start")
    try:
        assert started.returncode == 0, started.stderr
        record = json.loads((control / "app-server.pid").read_text())
        assert record["pid"] != os.getpid()
    finally:
        _run_cli(home, "daemon", "stop")
