"""gitDiffToRemote's algorithm (PROTOCOL.md §4.15): the diff from the closest remote-tracking commit.

Plain functions, blocking (they run git): the system actor calls `git_diff_to_remote` in a worker.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from config.loader import rust_debug_str

GIT_TIMEOUT_S = 5.0
# Untracked files are diffed in parallel, as 0.58 does, but with a bound on live processes.
UNTRACKED_WORKERS = 8


def format_cwd_debug(cwd: str) -> str:
    """The cwd as Rust's `{:?}` of a PathBuf shows it, for `failed to compute git diff to remote for cwd: …`."""
    return rust_debug_str(str(cwd))


def _git_env() -> dict[str, str]:
    env = dict(os.environ)
    # No index.lock from a read-only query, C-locale output to parse, and never a credential prompt
    # (stdin is /dev/null, but git would open the terminal) from `git remote show` on a URL remote.
    env.update({"GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"})
    return env


class _Result:
    __slots__ = ("code", "stdout")

    def __init__(self, code: int, stdout: bytes) -> None:
        self.code, self.stdout = code, stdout

    @property
    def ok(self) -> bool:
        return self.code == 0


def run_git(args: Sequence[str | bytes], cwd: Path, env: dict[str, str] | None = None) -> _Result | None:
    """Run `git <args>` in cwd with a 5 s limit; None when it cannot start or times out (its whole
    process group is killed then, so a hung `ssh` under `git remote show` goes too)."""
    try:
        proc = subprocess.Popen(
            ["git", *args],
            cwd=cwd,
            env=env or _git_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:
        return None
    try:
        stdout, _ = proc.communicate(timeout=GIT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        proc.communicate()
        return None
    return _Result(proc.returncode, stdout)


def _text(result: _Result | None) -> str | None:
    if result is None or not result.ok:
        return None
    try:
        return result.stdout.decode("utf-8")
    except UnicodeDecodeError:
        return None


def find_repo_root(cwd: Path) -> Path | None:
    """The nearest directory at or above cwd holding a `.git` entry (no git process is run)."""
    directory = Path(cwd)
    while True:
        if (directory / ".git").exists():
            return directory
        if directory.parent == directory:
            return None
        directory = directory.parent


def _remotes(cwd: Path, env: dict[str, str]) -> list[str] | None:
    text = _text(run_git(["remote"], cwd, env))
    if text is None:
        return None
    remotes = text.splitlines()
    if "origin" in remotes:
        remotes.remove("origin")
        remotes.insert(0, "origin")
    return remotes


def _default_branch(cwd: Path, remotes: list[str], env: dict[str, str]) -> str | None:
    for remote in remotes:
        symref = _text(run_git(["symbolic-ref", "--quiet", f"refs/remotes/{remote}/HEAD"], cwd, env))
        if symref is not None and "/" in symref.strip():
            return symref.strip().rsplit("/", 1)[1]
        shown = _text(run_git(["remote", "show", remote], cwd, env))
        if shown is not None:
            for line in shown.splitlines():
                line = line.strip()
                if line.startswith("HEAD branch:"):
                    name = line[len("HEAD branch:") :].strip()
                    if name:
                        return name
    for candidate in ("main", "master"):
        verified = run_git(["rev-parse", "--verify", "--quiet", f"refs/heads/{candidate}"], cwd, env)
        if verified is not None and verified.ok:
            return candidate
    return None


def _candidate_branches(cwd: Path, remotes: list[str], env: dict[str, str]) -> list[str]:
    branches: list[str] = []
    current = _text(run_git(["rev-parse", "--abbrev-ref", "HEAD"], cwd, env))
    if current is not None and current.strip() != "HEAD":
        branches.append(current.strip())
    default = _default_branch(cwd, remotes, env)
    if default is not None and default not in branches:
        branches.append(default)
    for remote in remotes:
        listed = _text(
            run_git(
                ["for-each-ref", "--format=%(refname:short)", "--contains=HEAD", f"refs/remotes/{remote}"], cwd, env
            )
        )
        if listed is None:
            continue
        for line in listed.splitlines():
            short = line.strip()
            if short.startswith(f"{remote}/"):
                branch = short[len(remote) + 1 :]
                if branch and branch not in branches:
                    branches.append(branch)
    return branches


def _remote_ref(cwd: Path, branch: str, remotes: list[str], env: dict[str, str]) -> tuple[str, str] | None:
    """(ref, sha) of the first remote that has this branch."""
    for remote in remotes:
        ref = f"refs/remotes/{remote}/{branch}"
        verified = _text(run_git(["rev-parse", "--verify", "--quiet", ref], cwd, env))
        if verified is not None:
            return ref, verified.strip()
    return None


def _distance(cwd: Path, branch: str, remote_ref: str, env: dict[str, str]) -> int | None:
    for base in (branch, remote_ref):
        counted = _text(run_git(["rev-list", "--count", f"{base}..HEAD"], cwd, env))
        if counted is not None:
            try:
                return int(counted.strip())
            except ValueError:
                return None
    return None


def _closest_sha(cwd: Path, branches: list[str], remotes: list[str], env: dict[str, str]) -> str | None:
    best: tuple[str, int] | None = None
    for branch in branches:
        found = _remote_ref(cwd, branch, remotes, env)
        if found is None:
            continue
        ref, sha = found
        distance = _distance(cwd, branch, ref, env)
        if distance is None:
            continue
        if best is None or distance < best[1]:
            best = (sha, distance)
    return best[0] if best else None


def _untracked_diff(cwd: Path, name: bytes, env: dict[str, str]) -> str:
    result = run_git(
        ["diff", "--no-textconv", "--no-ext-diff", "--binary", "--no-index", "--", "/dev/null", name], cwd, env
    )
    if result is None or result.code not in (0, 1):
        return ""
    try:
        return result.stdout.decode("utf-8")
    except UnicodeDecodeError:
        return ""


def _diff_against(cwd: Path, sha: str, env: dict[str, str]) -> str | None:
    result = run_git(["diff", "--no-textconv", "--no-ext-diff", sha], cwd, env)
    if result is None or result.code not in (0, 1):
        return None
    try:
        diff = result.stdout.decode("utf-8")
    except UnicodeDecodeError:
        return None
    # -z gives names unquoted, so files whose names git would quote are diffed too (0.58 lost them).
    listed = run_git(["ls-files", "--others", "--exclude-standard", "-z"], cwd, env)
    if listed is None or not listed.ok:
        return diff
    names = [name for name in listed.stdout.split(b"\0") if name.strip()]
    if not names:
        return diff
    if len(names) == 1:
        return diff + _untracked_diff(cwd, names[0], env)
    with ThreadPoolExecutor(max_workers=min(UNTRACKED_WORKERS, len(names))) as pool:
        parts = list(pool.map(lambda name: _untracked_diff(cwd, name, env), names))
    return diff + "".join(parts)


def git_diff_to_remote(cwd: Path) -> tuple[str, str] | None:
    """(sha, diff) against the closest commit on a remote-tracking branch, or None on any failure."""
    cwd = Path(cwd)
    if find_repo_root(cwd) is None:
        return None
    env = _git_env()
    remotes = _remotes(cwd, env)
    if remotes is None:
        return None
    branches = _candidate_branches(cwd, remotes, env)
    sha = _closest_sha(cwd, branches, remotes, env)
    if sha is None:
        return None
    diff = _diff_against(cwd, sha, env)
    if diff is None:
        return None
    return sha, diff
