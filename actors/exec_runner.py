"""Running one command: bounded capture, deadline and cancel by process group, and the server-wide kill switch.

`run_command` spawns the command in its own session (so its whole process group can be signalled),
with stdin on /dev/null, and drains stdout and stderr on reader threads that keep reading past the
capture cap (a child blocked on a full pipe would never exit). Sandboxed commands go through the
helper in `actors.sandbox_exec`, which reports confinement or exec failures on a status pipe.
Every live process group is tracked in a `ProcessRegistry`; `kill_all` (server shutdown) sends
SIGTERM, then SIGKILL after the grace period (DECISIONS 13).

`exec_one_off` is `execOneOffCommand`: 0.58's result and error texts, run inside the sandbox.
"""

from __future__ import annotations

import errno as errno_mod
import json
import os
import select
import signal as signal_mod
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from actors.sandbox import PolicyError, SandboxError, normalize_policy, plan_command
from messages.jsonrpc import internal_error, invalid_request

OUTPUT_CAP = 8 * 1024 * 1024
DEFAULT_TIMEOUT_MS = 10_000
IO_DRAIN_TIMEOUT = 2.0
READ_CHUNK = 8192
EXIT_CODE_TIMEOUT = 124
EXIT_CODE_SIGNAL_BASE = 128


class ShuttingDown(RuntimeError):
    """The server is stopping; no new command starts."""


@dataclass
class ExecOutcome:
    exit_code: int
    stdout: bytes
    stderr: bytes
    aggregated: bytes  # both streams interleaved in read order (capped like each stream)
    timed_out: bool = False
    cancelled: bool = False
    signal: int | None = None
    truncated: bool = False
    duration: float = 0.0


class ProcessRegistry:
    """Live process groups started by this server, so shutdown can end them all."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._groups: set[int] = set()
        self._closed = False

    def spawn(self, start: Callable[[], subprocess.Popen]) -> subprocess.Popen:
        # Spawning under the lock means kill_all never misses a group that is being born.
        with self._lock:
            if self._closed:
                raise ShuttingDown("the server is shutting down")
            proc = start()
            self._groups.add(proc.pid)
            return proc

    def release(self, pgid: int) -> None:
        """Forget a group once nothing in it is alive (a detached grandchild keeps it tracked)."""
        if not _group_alive(pgid):
            with self._lock:
                self._groups.discard(pgid)

    def live_groups(self) -> list[int]:
        with self._lock:
            self._groups = {g for g in self._groups if _group_alive(g)}
            return sorted(self._groups)

    def kill_all(self, grace: float = 2.0) -> None:
        """SIGTERM every tracked group, SIGKILL what is left after `grace` seconds; refuse new spawns."""
        with self._lock:
            self._closed = True
            groups = set(self._groups)
        for pgid in groups:
            _signal_group(pgid, signal_mod.SIGTERM)
        deadline = time.monotonic() + grace
        while groups and time.monotonic() < deadline:
            groups = {g for g in groups if _group_alive(g)}
            if groups:
                time.sleep(0.05)
        for pgid in groups:
            _signal_group(pgid, signal_mod.SIGKILL)
        with self._lock:
            self._groups.clear()

    def reopen(self) -> None:
        with self._lock:
            self._closed = False


REGISTRY = ProcessRegistry()


def kill_all(grace: float = 2.0) -> None:
    REGISTRY.kill_all(grace)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # Zombies still answer signal 0; a group of only zombies is as good as gone.
    try:
        with open(f"/proc/{pgid}/stat", "rb") as handle:
            state = handle.read().rsplit(b")", 1)[1].split()[0]
        if state != b"Z":
            return True
    except (OSError, IndexError):
        pass
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != b"Z":
            return True
    return False


class _Capture:
    """One stream's bounded buffer; bytes past the cap are counted, not kept."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.data = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        room = self.cap - len(self.data)
        if room > 0:
            self.data += chunk[:room]
        self.dropped += max(0, len(chunk) - max(room, 0))

    def result(self) -> bytes:
        if not self.dropped:
            return bytes(self.data)
        sep = b"" if not self.data or self.data.endswith(b"\n") else b"\n"
        return bytes(self.data) + sep + f"[… {self.dropped} bytes truncated]".encode()


def _reader(
    fd: int,
    name: str,
    own: _Capture,
    aggregated: _Capture,
    lock: threading.Lock,
    on_output: Callable[[str, bytes], None] | None,
    stop: threading.Event,
) -> None:
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    try:
        while True:
            if not poller.poll(100):
                if stop.is_set():
                    return
                continue
            chunk = os.read(fd, READ_CHUNK)
            if not chunk:
                return
            with lock:
                own.add(chunk)
                aggregated.add(chunk)
            if on_output is not None:
                try:
                    on_output(name, chunk)
                except Exception:  # a faulty listener must not stop the draining
                    pass
    finally:
        os.close(fd)


def run_command(
    argv: list[str],
    cwd: str,
    env: Mapping[str, str],
    timeout_ms: int | None,
    sandbox_policy: Any,
    *,
    output_cap: int = OUTPUT_CAP,
    on_output: Callable[[str, bytes], None] | None = None,
    cancel: threading.Event | None = None,
    registry: ProcessRegistry | None = None,
    seccomp_backend: str = "auto",
    sandbox_cwd: str | None = None,
) -> ExecOutcome:
    """Run argv in cwd to completion under the policy, read against `sandbox_cwd` (default: cwd).
    Raises OSError (spawn failed), SandboxError, PolicyError."""
    registry = registry or REGISTRY
    if not argv:
        raise ValueError("command must not be empty")
    plan = plan_command(
        list(argv), cwd, sandbox_policy, sandbox_cwd=sandbox_cwd, env=env, seccomp_backend=seccomp_backend
    )
    full_env = {**env, **plan.env_updates}
    status_r = status_w = -1
    spawn_argv = plan.argv
    if plan.through_helper:
        status_r, status_w = os.pipe()
        # The helper reads `--status-fd` before `--plan`; both precede the `--`.
        spawn_argv = [*plan.argv[:4], "--status-fd", str(status_w), *plan.argv[4:]]
    started = time.monotonic()
    try:
        proc = registry.spawn(
            lambda: subprocess.Popen(
                spawn_argv,
                cwd=cwd,
                env=full_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                close_fds=True,
                pass_fds=(status_w,) if plan.through_helper else (),
            )
        )
    except BaseException:
        if plan.through_helper:
            os.close(status_r)
        raise
    finally:
        if plan.through_helper:
            os.close(status_w)

    assert proc.stdout is not None and proc.stderr is not None
    lock = threading.Lock()
    out, err, agg = _Capture(output_cap), _Capture(output_cap), _Capture(output_cap)
    stop = threading.Event()
    readers = [
        threading.Thread(
            target=_reader, args=(os.dup(proc.stdout.fileno()), "stdout", out, agg, lock, on_output, stop), daemon=True
        ),
        threading.Thread(
            target=_reader, args=(os.dup(proc.stderr.fileno()), "stderr", err, agg, lock, on_output, stop), daemon=True
        ),
    ]
    proc.stdout.close()
    proc.stderr.close()
    for thread in readers:
        thread.start()

    pgid = proc.pid
    try:
        if plan.through_helper:
            _check_helper_status(status_r, proc, readers, stop)
        deadline = None if timeout_ms is None else started + max(0, timeout_ms) / 1000
        timed_out = cancelled = False
        while True:
            step = 0.05
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = proc.poll() is None
                    break
                step = min(step, remaining)
            try:
                proc.wait(timeout=step)
                break
            except subprocess.TimeoutExpired:
                pass
            if cancel is not None and cancel.is_set():
                cancelled = True
                break
        if timed_out or cancelled:
            _signal_group(pgid, signal_mod.SIGKILL)
        returncode = proc.wait()
        _drain(readers, pgid, stop)
    finally:
        registry.release(pgid)

    sig = -returncode if returncode < 0 else None
    if timed_out:
        exit_code = EXIT_CODE_TIMEOUT
    elif sig is not None:
        exit_code = EXIT_CODE_SIGNAL_BASE + sig
    else:
        exit_code = returncode
    return ExecOutcome(
        exit_code=exit_code,
        stdout=out.result(),
        stderr=err.result(),
        aggregated=agg.result(),
        timed_out=timed_out,
        cancelled=cancelled,
        signal=sig,
        truncated=bool(out.dropped or err.dropped),
        duration=time.monotonic() - started,
    )


def _check_helper_status(
    status_r: int, proc: subprocess.Popen, readers: list[threading.Thread], stop: threading.Event
) -> None:
    """Block until the helper has exec'd the command (EOF) or reported why it could not."""
    chunks = []
    try:
        while True:
            chunk = os.read(status_r, 4096)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(status_r)
    if not chunks:
        return
    proc.wait()
    stop.set()
    for thread in readers:
        thread.join(timeout=IO_DRAIN_TIMEOUT)
    try:
        report = json.loads(b"".join(chunks))
    except ValueError:
        raise SandboxError("the sandbox helper failed without a readable report") from None
    if report.get("kind") == "exec":
        code = int(report.get("errno") or errno_mod.EIO)
        raise OSError(code, os.strerror(code))
    raise SandboxError(str(report.get("message") or "the sandbox helper failed"))


def _drain(readers: list[threading.Thread], pgid: int, stop: threading.Event) -> None:
    """Let the readers reach EOF; a background grandchild holding the pipes is killed after the drain timeout."""
    deadline = time.monotonic() + IO_DRAIN_TIMEOUT
    for thread in readers:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    if any(thread.is_alive() for thread in readers):
        _signal_group(pgid, signal_mod.SIGKILL)
        for thread in readers:
            thread.join(timeout=0.5)
        stop.set()
        for thread in readers:
            thread.join(timeout=1.0)


def os_error_text(exc: OSError) -> str:
    """An OS error as Rust's io::Error displays it: `No such file or directory (os error 2)`."""
    code = exc.errno or 0
    return f"{os.strerror(code) if code else (exc.strerror or str(exc))} (os error {code})"


def _param(params: Any, wire: str, attr: str) -> Any:
    if isinstance(params, Mapping):
        return params.get(wire, params.get(attr))
    return getattr(params, attr, None)


def exec_one_off(
    params: Any,
    default_cwd: str,
    env: Mapping[str, str],
    *,
    default_policy: Any = None,
    cancel: threading.Event | None = None,
    registry: ProcessRegistry | None = None,
) -> dict:
    """`execOneOffCommand`: `{"exitCode","stdout","stderr"}` or the RpcError 0.58 answers."""
    command = _param(params, "command", "command") or []
    if not command:
        raise invalid_request("command must not be empty")
    cwd = _param(params, "cwd", "cwd") or default_cwd
    timeout_ms = _param(params, "timeoutMs", "timeout_ms")
    if timeout_ms is None:
        timeout_ms = DEFAULT_TIMEOUT_MS
    policy = _param(params, "sandboxPolicy", "sandbox_policy") or default_policy or {"mode": "read-only"}
    try:
        policy = normalize_policy(policy)
    except PolicyError as exc:
        raise invalid_request(f"Invalid request: {exc}") from None
    try:
        # 0.58 reads the policy against the server's cwd even when the request names another one.
        outcome = run_command(
            [str(a) for a in command],
            str(cwd),
            env,
            int(timeout_ms),
            policy,
            cancel=cancel,
            registry=registry,
            sandbox_cwd=str(default_cwd),
        )
    except SandboxError as exc:
        raise internal_error(f"exec failed: sandbox error: {exc}") from None
    except ShuttingDown as exc:
        raise internal_error(f"exec failed: {exc}") from None
    except OSError as exc:
        raise internal_error(f"exec failed: {os_error_text(exc)}") from None
    if outcome.timed_out:
        raise internal_error("exec failed: sandbox error: command timed out")
    if outcome.cancelled:
        raise internal_error("exec failed: command was cancelled")
    if outcome.signal is not None:
        raise internal_error("exec failed: sandbox error: command was killed by a signal")
    return {
        "exitCode": outcome.exit_code,
        "stdout": outcome.stdout.decode("utf-8", errors="replace"),
        "stderr": outcome.stderr.decode("utf-8", errors="replace"),
    }
