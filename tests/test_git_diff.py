"""gitDiffToRemote's algorithm (PROTOCOL.md §4.15) on real temporary repositories whose "remote" is a
local bare repository (a file path: no network)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from actors import git_diff
from actors.git_diff import find_repo_root, format_cwd_debug, git_diff_to_remote

pytestmark = pytest.mark.skipif(subprocess.run(["git", "--version"], capture_output=True).returncode != 0,
                                reason="git not installed")

GIT_ENV = {
    **os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid", "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1",
}


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, env=GIT_ENV, capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture(autouse=True)
def isolated_git(monkeypatch):
    # The code under test runs git with the process environment: keep the user's config out of it.
    for key in ("GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM"):
        monkeypatch.setenv(key, GIT_ENV[key])


@pytest.fixture
def cloned(tmp_path: Path) -> tuple[Path, Path]:
    """A bare remote with main (two commits) and a clone of it; returns (clone, remote)."""
    remote = tmp_path / "remote.git"
    seed = tmp_path / "seed"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    git(tmp_path, "init", "-q", "-b", "main", str(seed))
    (seed / "a.txt").write_text("one\n")
    (seed / "bin.dat").write_bytes(b"\x00\x01\x02")
    git(seed, "add", ".")
    git(seed, "commit", "-q", "-m", "first")
    (seed / "a.txt").write_text("one\ntwo\n")
    git(seed, "commit", "-q", "-am", "second")
    git(seed, "remote", "add", "origin", str(remote))
    git(seed, "push", "-q", "origin", "main")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(remote), str(clone))
    return clone, remote


def test_not_a_repository_runs_no_git(tmp_path, monkeypatch):
    if find_repo_root(tmp_path) is not None:
        pytest.skip("the temporary directory lies inside a git repository")
    calls: list[object] = []
    monkeypatch.setattr(git_diff, "run_git", lambda *a, **k: calls.append(a))
    assert git_diff_to_remote(tmp_path) is None
    assert calls == []
    (tmp_path / "repo" / "deep").mkdir(parents=True)
    (tmp_path / "repo" / ".git").write_text("gitdir: elsewhere\n")  # a .git file counts, as in worktrees
    assert find_repo_root(tmp_path / "repo" / "deep") == tmp_path / "repo"


def test_failures_give_none(tmp_path):
    lone = tmp_path / "lone"
    git(tmp_path, "init", "-q", "-b", "main", str(lone))
    (lone / "f").write_text("x\n")
    git(lone, "add", ".")
    git(lone, "commit", "-q", "-m", "c")
    assert git_diff_to_remote(lone) is None  # no remotes
    assert git_diff_to_remote(lone / "missing") is None  # cwd does not exist
    git(lone, "remote", "add", "origin", str(tmp_path / "nowhere.git"))
    assert git_diff_to_remote(lone) is None  # a remote, but no remote-tracking branch


def test_diff_against_origin_with_tracked_and_untracked_changes(cloned):
    clone, _ = cloned
    head = git(clone, "rev-parse", "origin/main")
    (clone / "a.txt").write_text("one\ntwo\nthree\n")
    (clone / "bin.dat").write_bytes(b"\x00\x09\x02")
    (clone / "new.txt").write_text("fresh\n")
    (clone / "new.bin").write_bytes(b"\x00\xff\x00")
    (clone / ".gitignore").write_text("ignored.txt\n")
    (clone / "ignored.txt").write_text("no\n")
    result = git_diff_to_remote(clone)
    assert result is not None
    sha, diff = result
    assert sha == head
    assert "diff --git a/a.txt b/a.txt" in diff and "+three" in diff
    assert "Binary files a/bin.dat and b/bin.dat differ" in diff
    assert "diff --git a/new.txt b/new.txt\nnew file mode 100644" in diff and "+fresh" in diff
    assert "GIT binary patch" in diff
    assert "a/ignored.txt" not in diff and "+no\n" not in diff
    assert diff.index("a/a.txt") < diff.index("b/new.txt")  # tracked changes first, then untracked


def test_local_commits_are_part_of_the_diff(cloned):
    clone, _ = cloned
    base = git(clone, "rev-parse", "HEAD")
    (clone / "a.txt").write_text("changed\n")
    git(clone, "commit", "-q", "-am", "local")
    sha, diff = git_diff_to_remote(clone) or ("", "")
    assert sha == base
    assert "+changed" in diff


def test_the_closest_remote_branch_wins(cloned):
    clone, _ = cloned
    git(clone, "checkout", "-q", "-b", "feature")
    (clone / "f.txt").write_text("feature\n")
    git(clone, "add", ".")
    git(clone, "commit", "-q", "-m", "feature work")
    git(clone, "push", "-q", "origin", "feature")
    feature_sha = git(clone, "rev-parse", "HEAD")
    (clone / "a.txt").write_text("wip\n")
    sha, diff = git_diff_to_remote(clone) or ("", "")
    assert sha == feature_sha  # distance 0 beats main's distance 1
    assert "f.txt" not in diff and "+wip" in diff


def test_unpushed_branch_falls_back_to_the_default_branch(cloned):
    clone, _ = cloned
    main_sha = git(clone, "rev-parse", "origin/main")
    git(clone, "checkout", "-q", "-b", "local-only")
    (clone / "g.txt").write_text("g\n")
    git(clone, "add", ".")
    git(clone, "commit", "-q", "-m", "g")
    sha, diff = git_diff_to_remote(clone) or ("", "")
    assert sha == main_sha
    assert "+g" in diff


def test_detached_head_uses_branches_containing_it(cloned):
    clone, _ = cloned
    git(clone, "checkout", "-q", "--detach", "HEAD")
    assert git_diff_to_remote(clone) == (git(clone, "rev-parse", "origin/main"), "")


def test_origin_is_preferred_and_other_remotes_work(cloned, tmp_path):
    clone, remote = cloned
    git(clone, "remote", "rename", "origin", "upstream")
    sha, _ = git_diff_to_remote(clone) or ("", "")
    assert sha == git(clone, "rev-parse", "upstream/main")


def test_untracked_paths_are_relative_to_cwd_and_under_it(cloned):
    clone, _ = cloned
    sub = clone / "sub"
    sub.mkdir()
    (sub / "inner.txt").write_text("inner\n")
    (clone / "outer.txt").write_text("outer\n")
    (clone / "a.txt").write_text("tracked change\n")
    _, diff = git_diff_to_remote(sub) or ("", "")
    assert "diff --git a/inner.txt b/inner.txt" in diff
    assert "outer.txt" not in diff
    assert "diff --git a/a.txt b/a.txt" in diff  # tracked paths stay relative to the repository root


def test_untracked_names_git_would_quote_are_included(cloned):
    clone, _ = cloned
    (clone / "é x.txt").write_text("accent\n")
    (clone / "second.txt").write_text("2\n")
    _, diff = git_diff_to_remote(clone) or ("", "")
    assert "+accent" in diff and "+2" in diff


def test_a_hung_git_times_out(cloned, tmp_path, monkeypatch):
    clone, _ = cloned
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "git").write_text("#!/bin/sh\nexec sleep 30\n")
    (fake_bin / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}:{os.environ['PATH']}")
    monkeypatch.setattr(git_diff, "GIT_TIMEOUT_S", 0.2)
    assert git_diff.run_git(["remote"], clone) is None
    assert git_diff_to_remote(clone) is None


def test_git_runs_with_a_fixed_locale_and_no_optional_locks(cloned, tmp_path, monkeypatch):
    clone, _ = cloned
    seen = tmp_path / "env.txt"
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "git").write_text(f"#!/bin/sh\nenv > {seen}\nexit 1\n")
    (fake_bin / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}:{os.environ['PATH']}")
    assert git_diff_to_remote(clone) is None
    env = dict(line.split("=", 1) for line in seen.read_text().splitlines() if "=" in line)
    assert (env["LC_ALL"], env["GIT_OPTIONAL_LOCKS"], env["GIT_TERMINAL_PROMPT"]) == ("C", "0", "0")


def test_format_cwd_debug():
    assert format_cwd_debug("/tmp/gd/noremote") == '"/tmp/gd/noremote"'
    assert format_cwd_debug('/tmp/a "q"\\b\n') == '"/tmp/a \\"q\\"\\\\b\\n"'
