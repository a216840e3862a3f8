"""Reading a rollout back into a conversation (CONVERSATIONS.md §8), whoever wrote it: this server
or codex 0.58.

A rollout is read whole, as 0.58 does on resume: every line that decodes as a rollout record is
kept, anything else is skipped. What a resumed conversation needs from it:

- the conversation id, from the first valid `session_meta` (the file name is not consulted);
- the model history: the `response_item`s in file order, without ghost snapshots and unknown item
  types (0.58 keeps those out of every prompt), so the next request carries exactly what the
  model saw before (initial context included, no new environment context);
- `initialMessages`: the payloads of all `event_msg` records, in file order;
- the model of the last `turn_context`, for 0.58's "resuming with another model" warning.

Not an actor: the conversations manager calls `load_rollout` from a worker thread.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from actors.rollout_store import INVALID_UTF8, io_error_text, parse_meta, valid_response_item
from messages.events import EventMsg

EMPTY_FILE = "empty session file"
NO_CONVERSATION_ID = "failed to parse conversation ID from rollout file"
# What 0.58 posts (as a `warning` event with this submission id) when the resuming model differs
# from the one the rollout last ran with.
MODEL_WARNING_ID = "auto-compact-0"
# Item types sent to the model; 0.58 keeps ghost snapshots and unknown items out of every prompt.
_KNOWN_ITEMS = frozenset(
    {
        "message",
        "reasoning",
        "local_shell_call",
        "function_call",
        "function_call_output",
        "custom_tool_call",
        "custom_tool_call_output",
        "web_search_call",
    }
)


class RolloutLoadError(Exception):
    """The rollout cannot be resumed; `str()` is 0.58's reason (an io error as Rust prints it,
    `empty session file`, or `failed to parse conversation ID from rollout file`)."""


@dataclass(frozen=True)
class RestoredRollout:
    """What a rollout says about the conversation it records."""

    conversation_id: str
    path: Path
    history: list[dict[str, Any]]
    initial_messages: list[dict[str, Any]]
    last_model: str | None


def model_warning(recorded: str, current: str) -> dict[str, Any]:
    """0.58's warning event when a conversation resumes with a model other than its last one."""
    return {
        "type": "warning",
        "message": (
            f"This session was recorded with model `{recorded}` but is resuming with `{current}`. "
            f"Consider switching back to `{recorded}` as it may affect Codex performance."
        ),
    }


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise RolloutLoadError(io_error_text(error)) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise RolloutLoadError(INVALID_UTF8) from None


def _lines(text: str) -> list[str]:
    """Rust's `str::lines`: split on `\\n`, a trailing `\\r` dropped, no empty last line."""
    parts = text.split("\n")
    if parts and parts[-1] == "":
        parts.pop()
    return [part[:-1] if part.endswith("\r") else part for part in parts]


def _valid_event(payload: Any) -> bool:
    try:
        msgspec.convert(payload, EventMsg)
    except (msgspec.ValidationError, TypeError):
        return False
    return True


def _turn_context_model(payload: Any) -> str | None:
    if not isinstance(payload, dict):
        return None
    needed = ("cwd", "approval_policy", "sandbox_policy", "model", "summary")
    if not all(key in payload for key in needed) or not isinstance(payload["model"], str):
        return None
    return payload["model"]


def load_rollout(path: Path) -> RestoredRollout:
    """Read `path` (relative paths resolve against the process cwd, as in 0.58). Raises
    RolloutLoadError with 0.58's reason."""
    text = _read_text(path)
    if not text.strip():
        raise RolloutLoadError(EMPTY_FILE)
    conversation_id: str | None = None
    history: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    last_model: str | None = None
    for line in _lines(text):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if not isinstance(record, dict) or not isinstance(record.get("timestamp"), str) or "payload" not in record:
            continue
        kind, payload = record.get("type"), record["payload"]
        if kind == "session_meta":
            meta = parse_meta(payload)
            if meta is not None and conversation_id is None:
                conversation_id = meta.id
        elif kind == "response_item":
            if valid_response_item(payload):
                history.append(payload)
        elif kind == "event_msg":
            if _valid_event(payload):
                events.append(payload)
        elif kind == "turn_context":
            model = _turn_context_model(payload)
            if model is not None:
                last_model = model
        # `compacted` records: our server never compacts; a 0.58 rollout that did keeps every
        # item before the summary as well, so the restored history is the uncompacted one.
    if conversation_id is None:
        raise RolloutLoadError(NO_CONVERSATION_ID)
    return RestoredRollout(conversation_id, path, model_history(history), events, last_model)


def model_history(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items of a restored history that go into model requests."""
    return [item for item in items if item.get("type") in _KNOWN_ITEMS]


def for_model(items: list[Any]) -> list[dict[str, Any]]:
    """A fork's `history` (wire ResponseItems) as plain items, in the form the rollout and the
    model request use (absent optional fields left out, as 0.58 serialises them)."""
    out: list[dict[str, Any]] = []
    for item in items:
        raw = msgspec.to_builtins(item)
        if isinstance(raw, dict):
            out.append(_drop_nulls(raw))
    return out


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _drop_nulls(inner) for key, inner in value.items() if inner is not None}
    if isinstance(value, list):
        return [_drop_nulls(inner) for inner in value]
    return value
