"""Reading a rollout back into a conversation (CONVERSATIONS.md §8), whoever wrote it: this server
or codex 0.58.

A rollout is read whole, as 0.58 does on resume: every line that decodes as a rollout record is
kept, anything else is skipped. What a resumed conversation needs from it:

- the conversation id, from the first valid `session_meta` (the file name is not consulted);
- the model history: the `response_item`s in file order, without ghost snapshots and unknown item
  types (0.58 keeps those out of every prompt), so the next request carries exactly what the
  model saw before (initial context included, no new environment context). A `compacted` record
  replaces the history read so far, as 0.58 does when it resumes: with its `replacement_history`
  when it carries one (later codex versions write it), else with the resuming session's initial
  context, the earlier user messages (the most recent ones, within a byte budget) and the summary,
  each a user message;
- `initialMessages`: the payloads of all `event_msg` records, in file order;
- the model of the last `turn_context`, for 0.58's "resuming with another model" warning.

Not an actor: the conversations manager calls `load_rollout` from a worker thread.
"""

from __future__ import annotations

import json
from collections.abc import Callable
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


def load_rollout(path: Path, initial_context: Callable[[], list[dict[str, Any]]] | None = None) -> RestoredRollout:
    """Read `path` (relative paths resolve against the process cwd, as in 0.58). Raises
    RolloutLoadError with 0.58's reason. `initial_context()` gives the resuming session's initial
    context, which a compacted history starts with (none when not given)."""
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
        elif kind == "compacted":
            rebuilt = compacted_history(payload, history, initial_context)
            if rebuilt is not None:
                history = rebuilt
    if conversation_id is None:
        raise RolloutLoadError(NO_CONVERSATION_ID)
    return RestoredRollout(conversation_id, path, model_history(history), events, last_model)


# -- compaction --------------------------------------------------------------------------------------
# What a compacted history keeps of the earlier user messages: 0.58's budget of 20,000 tokens at
# about 4 bytes a token, the most recent messages first.
COMPACT_USER_MESSAGES_MAX_BYTES = 20_000 * 4
NO_SUMMARY = "(no summary available)"
_SESSION_PREFIXES = ("<environment_context>", "<user_instructions>")
_AGENTS_MD_PREFIX = "# AGENTS.md instructions for"


def user_message_text(item: dict[str, Any]) -> str | None:
    """The text of a message the user typed, None for anything else (assistant output, the initial
    context, environment-context updates, AGENTS.md)."""
    if item.get("type") != "message" or item.get("role") != "user":
        return None
    content = item.get("content")
    if not isinstance(content, list):
        return None
    texts: list[str] = []
    for index, part in enumerate(content):
        if not isinstance(part, dict):
            continue
        text = part.get("text")
        if part.get("type") in ("input_text", "output_text") and isinstance(text, str):
            if index == 0 and text.startswith(_AGENTS_MD_PREFIX):
                return None
            if text.lstrip().lower().startswith(_SESSION_PREFIXES):
                return None
            if part["type"] == "input_text":
                texts.append(text)
    return "".join(texts)


def _truncate_middle(text: str, max_bytes: int) -> str:
    """Head and tail of `text` within about `max_bytes`, the cut marked with its size in tokens."""
    data = text.encode()
    if len(data) <= max_bytes:
        return text
    half = max(0, max_bytes // 2)
    head = data[:half].decode(errors="ignore")
    tail = data[len(data) - half:].decode(errors="ignore") if half else ""
    removed = len(data) - len(head.encode()) - len(tail.encode())
    return f"{head}\u2026{(removed + 3) // 4} tokens truncated\u2026{tail}"


def compacted_history(
    payload: Any, history: list[dict[str, Any]], initial_context: Callable[[], list[dict[str, Any]]] | None
) -> list[dict[str, Any]] | None:
    """The history that replaces `history` at a `compacted` record, None when the record is not one."""
    if not isinstance(payload, dict):
        return None
    replacement = payload.get("replacement_history")
    if isinstance(replacement, list):
        return [item for item in replacement if valid_response_item(item)]
    message = payload.get("message")
    if not isinstance(message, str):
        return None
    users = [text for text in map(user_message_text, history) if text is not None]
    kept: list[str] = []
    budget = COMPACT_USER_MESSAGES_MAX_BYTES
    for text in reversed(users):
        if budget <= 0:
            break
        size = len(text.encode())
        if size <= budget:
            kept.append(text)
            budget -= size
        else:
            kept.append(_truncate_middle(text, budget))
            break
    kept.reverse()
    rebuilt = list(initial_context()) if initial_context is not None else []
    for text in [*kept, message or NO_SUMMARY]:
        rebuilt.append({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]})
    return rebuilt


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
