"""Rollout files as 0.58 writes them (CONVERSATIONS.md §6, PROTOCOL.md §6.3).

One file per conversation: `CODEX_HOME/sessions/YYYY/MM/DD/rollout-YYYY-MM-DDThh-mm-ss-<id>.jsonl`
(local time), first line `session_meta`, then `response_item`, `event_msg` and `turn_context`
lines as the conversation goes. Every line is one `os.write` of a whole `\\n`-terminated line on an
`O_APPEND` descriptor, so a line is on disk (in the page cache) before the event it records is
announced, and a concurrent reader sees at most a torn last line, which `read_rollout` skips.

Not an actor: the conversation actor owns its writer and calls it inline (a write is microseconds);
the slow parts (git info) run in the manager's worker at creation.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import secrets
import subprocess
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

CLI_VERSION = "0.58.0"
SOURCE = "vscode"

# Event types 0.58 keeps in the rollout; everything else (deltas, task/exec/patch events, errors)
# lives only on the wire.
PERSISTED_EVENTS = frozenset(
    {
        "user_message",
        "agent_message",
        "agent_reasoning",
        "agent_reasoning_raw_content",
        "token_count",
        "turn_aborted",
        "entered_review_mode",
        "exited_review_mode",
        "undo_completed",
    }
)

_GIT_TIMEOUT_S = 5.0


def originator() -> str:
    return os.environ.get("CODEX_INTERNAL_ORIGINATOR_OVERRIDE") or "codex_cli_rs"


def new_conversation_id(now_ms: int | None = None) -> str:
    """A UUIDv7 (0.58's conversation ids): 48-bit unix ms, version 7, variant 10, random rest."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    rand = int.from_bytes(secrets.token_bytes(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 64) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return str(uuid.UUID(int=value))


def utc_timestamp(now: float | None = None) -> str:
    """`2026-11-24T01:12:05.851Z`: UTC, millisecond precision."""
    moment = _dt.datetime.fromtimestamp(time.time() if now is None else now, tz=_dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def rollout_path(codex_home: Path, conversation_id: str, now: float) -> Path:
    local = _dt.datetime.fromtimestamp(now)
    folder = codex_home / "sessions" / f"{local.year:04d}" / f"{local.month:02d}" / f"{local.day:02d}"
    return folder / f"rollout-{local.strftime('%Y-%m-%dT%H-%M-%S')}-{conversation_id}.jsonl"


def _git(cwd: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT_S,
            env={**os.environ, "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"},
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip()


def git_info(cwd: Path) -> dict[str, str] | None:
    """`{commit_hash, branch, repository_url}` for a cwd inside a git work tree (absent keys
    omitted, as 0.58 skips None), or None outside one."""
    if _git(cwd, "rev-parse", "--git-dir") is None:
        return None
    info: dict[str, str] = {}
    commit = _git(cwd, "rev-parse", "HEAD")
    if commit:
        info["commit_hash"] = commit
    branch = _git(cwd, "rev-parse", "--abbrev-ref", "HEAD")
    if branch and branch != "HEAD":
        info["branch"] = branch
    url = _git(cwd, "remote", "get-url", "origin")
    if url:
        info["repository_url"] = url
    return info


def session_meta(
    conversation_id: str,
    timestamp: str,
    cwd: Path,
    instructions: str | None,
    model_provider: str,
    git: dict[str, str] | None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "id": conversation_id,
        "timestamp": timestamp,
        "cwd": str(cwd),
        "originator": originator(),
        "cli_version": CLI_VERSION,
        "instructions": instructions,
        "source": SOURCE,
        "model_provider": model_provider,
    }
    if git is not None:
        meta["git"] = git
    return meta


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class RolloutWriter:
    """Appends whole lines to one rollout file. `clock` gives unix seconds (injected in tests)."""

    def __init__(self, path: Path, fd: int, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._fd = fd
        self._clock = clock

    # -- opening ----------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        path: Path,
        meta: dict[str, Any],
        initial_items: Iterable[dict[str, Any]],
        clock: Callable[[], float] = time.time,
    ) -> RolloutWriter:
        """Create the file (dirs 0755, file 0644 under the usual umask) and write the meta line and
        the initial-context items, as 0.58 does before answering newConversation."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        writer = cls(path, fd, clock)
        writer.write("session_meta", meta)
        for item in initial_items:
            writer.write("response_item", item)
        return writer

    @classmethod
    def append_to(cls, path: Path, clock: Callable[[], float] = time.time) -> RolloutWriter:
        """Reopen an existing rollout for a resumed conversation: no second meta line."""
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        return cls(path, fd, clock)

    # -- writing ----------------------------------------------------------------------------
    def write(self, kind: str, payload: Any) -> None:
        line = f'{{"timestamp":"{utc_timestamp(self._clock())}","type":"{kind}","payload":{_dumps(payload)}}}\n'
        data = line.encode()
        written = os.write(self._fd, data)
        while written < len(data):  # a short write on a regular file only happens on a full disk
            written += os.write(self._fd, data[written:])

    def persist_event(self, msg: dict[str, Any]) -> None:
        if msg.get("type") in PERSISTED_EVENTS:
            self.write("event_msg", msg)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def read_rollout(path: Path) -> list[dict[str, Any]]:
    """Every complete line of a rollout as a dict; a torn or unparsable line is skipped."""
    records: list[dict[str, Any]] = []
    with open(path, "rb") as handle:
        for raw in handle:
            if not raw.endswith(b"\n"):
                break
            try:
                value = json.loads(raw)
            except ValueError:
                continue
            if isinstance(value, dict):
                records.append(value)
    return records
