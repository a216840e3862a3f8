"""The command runner: bounded capture, deadlines and cancel by process group, kill_all, execOneOffCommand texts."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import pytest

from actors.exec_env import command_env
from actors.exec_runner import ProcessRegistry, ShuttingDown, exec_one_off, run_command
from messages.jsonrpc import RpcError

FREE = {"mode": "danger-full-access"}
ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
PY = sys.executable


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def _cmdline(pid: int) -> list[bytes]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().split(b"\0")[:-1]
    except OSError:
        return []


def _wait_dead(pid: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def registry() -> ProcessRegistry:
    reg = ProcessRegistry()
    yield reg
    reg.kill_all(grace=0.5)


def test_exit_codes_streams_and_order(registry: ProcessRegistry, tmp_path: Path) -> None:
    chunks: list[tuple[str, bytes]] = []
    outcome = run_command(["sh", "-c", "echo out; echo err 1>&2; exit 3"], str(tmp_path), ENV, 5000, FREE,
                          on_output=lambda name, chunk: chunks.append((name, chunk)), registry=registry)
    assert (outcome.exit_code, outcome.stdout, outcome.stderr) == (3, b"out\n", b"err\n")
    assert not outcome.timed_out and outcome.signal is None
    assert sorted(name for name, _ in chunks) == ["stderr", "stdout"]
    assert sorted(outcome.aggregated.splitlines()) == [b"err", b"out"]
    assert run_command(["sh", "-c", "exit 255"], str(tmp_path), ENV, 5000, FREE, registry=registry).exit_code == 255


def test_stdin_is_dev_null(registry: ProcessRegistry, tmp_path: Path) -> None:
    outcome = run_command(["cat"], str(tmp_path), ENV, 5000, FREE, registry=registry)
    assert outcome.exit_code == 0 and outcome.stdout == b""


def test_output_is_capped_but_fully_drained(registry: ProcessRegistry, tmp_path: Path) -> None:
    # 300 kB through a 1000-byte cap: the child must not block on a full pipe.
    outcome = run_command([PY, "-c", "import sys; sys.stdout.write('x' * 300000); print('', file=sys.stderr)"],
                          str(tmp_path), ENV, 20_000, FREE, output_cap=1000, registry=registry)
    assert outcome.exit_code == 0 and outcome.truncated
    assert outcome.stdout == b"x" * 1000 + b"\n[\xe2\x80\xa6 299000 bytes truncated]"
    assert outcome.stderr == b"\n"


def test_timeout_kills_the_whole_process_group(registry: ProcessRegistry, tmp_path: Path) -> None:
    pidfile = tmp_path / "grandchild.pid"
    script = f"sleep 60 & echo $! > {pidfile}; echo started; wait"
    outcome = run_command(["sh", "-c", script], str(tmp_path), ENV, 700, FREE, registry=registry)
    assert outcome.timed_out and outcome.exit_code == 124
    assert outcome.stdout == b"started\n"  # partial output is kept for the agent's tool
    assert _wait_dead(int(pidfile.read_text()))


def test_cancel_kills_the_group(registry: ProcessRegistry, tmp_path: Path) -> None:
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    outcome = run_command(["sleep", "30"], str(tmp_path), ENV, 20_000, FREE, cancel=cancel, registry=registry)
    assert outcome.cancelled and outcome.signal == 9


def test_signals_are_reported(registry: ProcessRegistry, tmp_path: Path) -> None:
    outcome = run_command(["sh", "-c", "kill -TERM $$"], str(tmp_path), ENV, 5000, FREE, registry=registry)
    assert outcome.signal == 15 and outcome.exit_code == 143 and not outcome.timed_out


def test_background_child_holding_the_pipe_does_not_hang(registry: ProcessRegistry, tmp_path: Path) -> None:
    pidfile = tmp_path / "bg.pid"
    started = time.monotonic()
    outcome = run_command(["sh", "-c", f"sleep 60 & echo $! > {pidfile}; echo done"], str(tmp_path), ENV, 20_000,
                          FREE, registry=registry)
    assert outcome.exit_code == 0 and outcome.stdout == b"done\n"
    assert time.monotonic() - started < 15
    assert _wait_dead(int(pidfile.read_text()))


def test_kill_all_terms_then_kills_every_group(tmp_path: Path) -> None:
    registry = ProcessRegistry()
    pidfile = tmp_path / "stubborn.pid"
    # Ignores SIGTERM, detaches its output, so only SIGKILL after the grace period ends it.
    script = f"(trap '' TERM; exec sleep 60) >/dev/null 2>&1 & echo $! > {pidfile}"
    run_command(["sh", "-c", script], str(tmp_path), ENV, 5000, FREE, registry=registry)
    pid = int(pidfile.read_text())
    # Only once the subshell has exec'd sleep is SIGTERM surely ignored (the trap is set before the exec).
    deadline = time.monotonic() + 10
    while _cmdline(pid)[:1] != [b"sleep"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _cmdline(pid) == [b"sleep", b"60"]
    assert registry.live_groups()
    started = time.monotonic()
    registry.kill_all(grace=0.5)
    assert time.monotonic() - started >= 0.5
    assert _wait_dead(pid)
    with pytest.raises(ShuttingDown):
        run_command(["true"], str(tmp_path), ENV, 5000, FREE, registry=registry)


def call(params: dict, cwd: str = "/", env: dict | None = None, policy: dict | None = None) -> dict:
    return exec_one_off(params, cwd, env or ENV, default_policy=policy or FREE, registry=ProcessRegistry())


def error_of(params: dict, **kwargs) -> RpcError:
    with pytest.raises(RpcError) as info:
        call(params, **kwargs)
    return info.value


def test_exec_one_off_results() -> None:
    assert call({"command": ["echo", "hello"]}) == {"exitCode": 0, "stdout": "hello\n", "stderr": ""}
    assert call({"command": ["sh", "-c", "echo out; echo err 1>&2; exit 3"]}) == {
        "exitCode": 3, "stdout": "out\n", "stderr": "err\n"}
    assert call({"command": ["printf", "\\377ok"]})["stdout"] == "\ufffdok"


@pytest.mark.parametrize(("params", "code", "message"), [
    ({"command": []}, -32600, "command must not be empty"),
    ({"command": ["no-such-program-xyz"]}, -32603, "exec failed: No such file or directory (os error 2)"),
    ({"command": ["echo"], "cwd": "/no/such/dir"}, -32603, "exec failed: No such file or directory (os error 2)"),
    ({"command": ["/"]}, -32603, "exec failed: Permission denied (os error 13)"),
    ({"command": ["sleep", "5"], "timeoutMs": 200}, -32603, "exec failed: sandbox error: command timed out"),
    ({"command": ["sh", "-c", "kill -9 $$"]}, -32603, "exec failed: sandbox error: command was killed by a signal"),
])
def test_exec_one_off_errors(params: dict, code: int, message: str) -> None:
    err = error_of(params)
    assert (err.code, err.message) == (code, message)


def test_exec_one_off_sandboxed_errors_match_unsandboxed() -> None:
    err = error_of({"command": ["no-such-program-xyz"], "sandboxPolicy": {"mode": "read-only"}})
    assert err.message == "exec failed: No such file or directory (os error 2)"
    assert call({"command": ["echo", "hi"], "sandboxPolicy": {"mode": "read-only"}})["stdout"] == "hi\n"


def test_exec_one_off_env_follows_policy() -> None:
    base = {"PATH": ENV["PATH"], "HOME": "/h", "MY_API_KEY": "k", "lower_key": "k", "PASSWORD": "p", "OTHER": "o"}
    env = command_env(None, base)
    out = call({"command": ["env"]}, env=env)["stdout"].splitlines()
    assert "PASSWORD=p" in out and "OTHER=o" in out
    assert not [line for line in out if "KEY" in line.upper()]


def test_command_env_policy_steps() -> None:
    base = {"PATH": "/bin", "HOME": "/h", "SHELL": "/bin/sh", "FOO": "1", "SECRET_X": "s", "A_TOKEN": "t"}
    assert command_env({"inherit": "core"}, base) == {"PATH": "/bin", "HOME": "/h", "SHELL": "/bin/sh"}
    assert command_env({"inherit": "none", "set": {"X": "1"}}, base) == {"X": "1"}
    assert "SECRET_X" in command_env({"ignore_default_excludes": True}, base)
    assert command_env({"exclude": ["f*"], "include_only": ["*"]}, base) == {"PATH": "/bin", "HOME": "/h",
                                                                              "SHELL": "/bin/sh"}
    assert command_env({"include_only": ["*path"]}, base) == {"PATH": "/bin"}

    class Policy:  # config's object form
        inherit = "all"
        ignore_default_excludes = False
        exclude = ["HOME"]
        set = {"NEW": "v"}
        include_only: list[str] = []

    assert command_env(Policy(), base) == {"PATH": "/bin", "SHELL": "/bin/sh", "FOO": "1", "NEW": "v"}
