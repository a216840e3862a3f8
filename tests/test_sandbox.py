"""The sandbox confines for real: writes outside the writable roots, `.git` writes and network sockets fail."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from actors import sandbox
from actors.exec_runner import ProcessRegistry, exec_one_off, run_command
from actors.sandbox import PolicyError, normalize_policy, writable_roots
from actors.sandbox_exec import build_bpf_filter

SUPPORT = sandbox.probe()
needs_landlock = pytest.mark.skipif(SUPPORT.landlock_abi < 1, reason="kernel without Landlock")
ENV = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent"}
PY = sys.executable


def run(argv: list[str], cwd: Path, policy: dict, backend: str = "auto"):
    return run_command(argv, str(cwd), ENV, 20_000, policy, registry=ProcessRegistry(), seccomp_backend=backend)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    (ws / ".git").mkdir(parents=True)
    (ws / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    return ws


@pytest.fixture
def outside() -> Path:
    # Not under /tmp (writable in workspace-write) nor under the workspace.
    base = Path(os.path.expanduser("~")) if os.access(os.path.expanduser("~"), os.W_OK) else Path("/var/tmp")
    target = base / f".sandbox-test-{os.getpid()}"
    target.mkdir(exist_ok=True)
    yield target
    for child in target.iterdir():
        child.unlink()
    target.rmdir()


def test_probe_reports_this_kernel() -> None:
    assert SUPPORT.landlock_abi >= 1, SUPPORT.errors
    assert SUPPORT.seccomp, SUPPORT.errors


@needs_landlock
def test_workspace_write_allows_inside_and_refuses_outside(work: Path, outside: Path) -> None:
    inside = run(["sh", "-c", "echo data > inside.txt"], work, {"mode": "workspace-write", "exclude_slash_tmp": True})
    assert inside.exit_code == 0, inside.stderr
    assert (work / "inside.txt").read_text() == "data\n"
    denied = run(["sh", "-c", f"echo data > {outside}/x.txt"], work, {"mode": "workspace-write"})
    assert denied.exit_code != 0
    assert b"Permission denied" in denied.stderr
    assert not (outside / "x.txt").exists()


@needs_landlock
def test_extra_writable_roots_and_tmp_exclusion(work: Path, outside: Path, tmp_path: Path) -> None:
    policy = {"mode": "workspace-write", "writable_roots": [str(outside)]}
    assert run(["sh", "-c", f"echo ok > {outside}/x.txt"], work, policy).exit_code == 0
    assert (outside / "x.txt").read_text() == "ok\n"
    # tmp_path lives under /tmp; excluding /tmp and $TMPDIR makes it read-only again.
    policy = {"mode": "workspace-write", "exclude_slash_tmp": True, "exclude_tmpdir_env_var": True}
    sibling = tmp_path / "sibling.txt"
    assert run(["sh", "-c", f"echo no > {sibling}"], work, policy).exit_code != 0
    assert not sibling.exists()


@needs_landlock
def test_read_only_refuses_every_write_but_dev_null(work: Path) -> None:
    result = run(["sh", "-c", "echo quiet > /dev/null && echo fine; echo x > inside.txt"], work, {"mode": "read-only"})
    assert result.stdout == b"fine\n"
    assert result.exit_code != 0
    assert not (work / "inside.txt").exists()
    assert run(["cat", ".git/HEAD"], work, {"mode": "read-only"}).stdout == b"ref: refs/heads/main\n"


@needs_landlock
def test_git_stays_read_only_inside_a_writable_cwd(work: Path) -> None:
    result = run(["sh", "-c", "echo evil > .git/HEAD"], work, {"mode": "workspace-write"})
    if SUPPORT.read_only_mounts:
        assert result.exit_code != 0
        assert (work / ".git" / "HEAD").read_text() == "ref: refs/heads/main\n"
        # Nor can the command undo the read-only mount.
        umount = run([PY, "-c", "import ctypes,sys; sys.exit(ctypes.CDLL(None).umount2(b'.git', 2) == 0)"], work,
                     {"mode": "workspace-write"})
        assert umount.exit_code == 0
        assert (work / ".git" / "HEAD").read_text() == "ref: refs/heads/main\n"
    else:  # the warning path (DECISIONS 19): the rest of the sandbox still applies
        assert result.exit_code == 0


@needs_landlock
@pytest.mark.parametrize("backend", ["bpf", "libseccomp"])
def test_network_sockets_fail_without_network_access(work: Path, backend: str) -> None:
    if backend == "libseccomp" and not _has_libseccomp():
        pytest.skip("libseccomp not installed")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    try:
        code = f"import socket; s=socket.create_connection(('127.0.0.1', {port}), timeout=5); print('connected')"
        denied = run([PY, "-c", code], work, {"mode": "workspace-write"}, backend)
        assert denied.exit_code != 0
        assert b"connected" not in denied.stdout
        assert b"Operation not permitted" in denied.stderr or b"Permission denied" in denied.stderr
        pair = run([PY, "-c", "import socket; a,b=socket.socketpair(); a.sendall(b'x'); print(b.recv(1))"], work,
                   {"mode": "read-only"}, backend)
        assert pair.stdout == b"b'x'\n", pair.stderr
        allowed = run([PY, "-c", code], work, {"mode": "workspace-write", "network_access": True}, backend)
        assert allowed.stdout == b"connected\n", allowed.stderr
    finally:
        server.close()


def _has_libseccomp() -> bool:
    import ctypes

    try:
        ctypes.CDLL("libseccomp.so.2")
    except OSError:
        return False
    return True


def test_danger_full_access_is_unconfined(work: Path, outside: Path) -> None:
    result = run(["sh", "-c", f"echo free > {outside}/x.txt && echo y > .git/HEAD"], work,
                 {"mode": "danger-full-access"})
    assert result.exit_code == 0, result.stderr
    assert (outside / "x.txt").read_text() == "free\n"
    assert (work / ".git" / "HEAD").read_text() == "y\n"


@needs_landlock
def test_network_disabled_env_var(work: Path) -> None:
    code = "import os; print(os.environ.get('CODEX_SANDBOX_NETWORK_DISABLED'))"
    assert run([PY, "-c", code], work, {"mode": "read-only"}).stdout == b"1\n"
    assert run([PY, "-c", code], work, {"mode": "danger-full-access"}).stdout == b"None\n"


@needs_landlock
def test_exec_one_off_runs_inside_the_sandbox(work: Path, outside: Path) -> None:
    params = {"command": ["sh", "-c", f"echo hi; echo x > {outside}/f"], "sandboxPolicy": {"mode": "read-only"}}
    result = exec_one_off(params, str(work), ENV, registry=ProcessRegistry())
    assert result["stdout"] == "hi\n"
    assert result["exitCode"] != 0
    assert not (outside / "f").exists()


def test_policy_validation_and_roots(work: Path) -> None:
    with pytest.raises(PolicyError) as info:
        normalize_policy({"mode": "dangerFullAccess"})
    assert str(info.value) == ("unknown variant `dangerFullAccess`, expected one of `danger-full-access`, "
                               "`read-only`, `workspace-write`")
    policy = normalize_policy({"mode": "workspace-write", "exclude_slash_tmp": True})
    roots = writable_roots(policy, str(work), {"TMPDIR": str(work.parent)})
    assert [r.root for r in roots] == [str(work.resolve()), str(work.parent.resolve())]
    assert roots[0].read_only_subpaths == (str(work.resolve() / ".git"),)
    assert writable_roots(normalize_policy({"mode": "read-only"}), str(work)) == []


def test_bpf_program_is_well_formed() -> None:
    program = build_bpf_filter()
    assert len(program) % 8 == 0 and 0 < len(program) // 8 < 64


def test_helper_reports_usage_errors() -> None:
    out = subprocess.run([PY, "-I", "-S", sandbox.HELPER], capture_output=True)
    assert out.returncode == 2 and b"usage" in out.stderr


@needs_landlock
def test_relative_cwd_resolves_once(work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (work / "sub").mkdir()
    monkeypatch.chdir(work)
    result = exec_one_off({"command": ["pwd"], "cwd": "sub", "sandboxPolicy": {"mode": "read-only"}}, "/", ENV,
                          registry=ProcessRegistry())
    assert result["stdout"] == f"{work / 'sub'}\n"


NO_TMP = {"mode": "workspace-write", "exclude_slash_tmp": True, "exclude_tmpdir_env_var": True}


@needs_landlock
def test_plan_reads_the_policy_against_sandbox_cwd(work: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    policy = {**NO_TMP, "writable_roots": ["extra"]}
    (work / "extra").mkdir()
    plan = sandbox.plan_command(["true"], str(elsewhere), policy, sandbox_cwd=str(work), env={})
    spec = json.loads(plan.argv[plan.argv.index("--plan") + 1])
    # Relative roots resolve against the sandbox cwd; the process still starts in its own cwd.
    assert spec["writable"] == [str((work / "extra").resolve()), str(work.resolve())]
    assert spec["cwd"] == str(elsewhere)
    default = sandbox.plan_command(["true"], str(elsewhere), NO_TMP, env={})
    assert json.loads(default.argv[default.argv.index("--plan") + 1])["writable"] == [str(elsewhere.resolve())]


@needs_landlock
def test_workdir_outside_the_writable_roots_stays_read_only(work: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    script = "pwd; echo no > here.txt; echo yes > " + str(work / "root.txt")
    result = run_command(["sh", "-c", script], str(elsewhere), ENV, 20_000, NO_TMP, registry=ProcessRegistry(),
                         sandbox_cwd=str(work))
    assert result.stdout == f"{elsewhere}\n".encode()
    assert b"Permission denied" in result.stderr
    assert not (elsewhere / "here.txt").exists()
    assert (work / "root.txt").read_text() == "yes\n"
    # Without a sandbox cwd the command's own directory is the workspace root, as before.
    own = run_command(["sh", "-c", "echo ok > here.txt"], str(elsewhere), ENV, 20_000, NO_TMP,
                      registry=ProcessRegistry())
    assert own.exit_code == 0, own.stderr
    assert (elsewhere / "here.txt").read_text() == "ok\n"


@needs_landlock
def test_exec_one_off_reads_the_policy_against_the_server_cwd(work: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    params = {"command": ["sh", "-c", "echo x > f"], "cwd": str(elsewhere), "sandboxPolicy": NO_TMP}
    assert exec_one_off(params, str(work), ENV, registry=ProcessRegistry())["exitCode"] != 0
    assert not (elsewhere / "f").exists()
    params = {"command": ["sh", "-c", "echo x > f"], "sandboxPolicy": NO_TMP}
    assert exec_one_off(params, str(work), ENV, registry=ProcessRegistry())["exitCode"] == 0
    assert (work / "f").read_text() == "x\n"
