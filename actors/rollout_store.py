"""Rollout files under `CODEX_HOME/sessions`, read the way 0.58 reads them (PROTOCOL.md §5, §6.3).

Pure functions and small value types, no actor state: the archive actor and its workers call them.
- names: `rollout-<YYYY-MM-DDThh-mm-ss>-<uuid>.jsonl`, the `<ts>|<uuid>` cursor, numeric date dirs;
- uuids parsed and rejected exactly as the Rust `uuid` crate does (its error texts reach the wire);
- the head of a rollout: at most 10 `session_meta`/`response_item` records, each line validated as
  0.58's typed decoder would, so damaged lines are skipped exactly where 0.58 skips them;
- the preview rule, ConversationSummary and Thread dicts with 0.58's key order;
- the listing algorithm over a `DirSource` (direct reads here, cached ones in `rollout_index`);
- the exact find-by-id (DECISIONS 10).
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

import msgspec

log = logging.getLogger(__name__)

SESSIONS_SUBDIR = "sessions"
ARCHIVED_SESSIONS_SUBDIR = "archived_sessions"
HEAD_RECORD_LIMIT = 10
DEFAULT_PAGE_SIZE = 25
INTERACTIVE_SOURCES = ("cli", "vscode")
USER_MESSAGE_BEGIN = "## My request for Codex:"

# Rust's `str::trim` strips Unicode White_Space; Python's `str.strip()` also strips U+001C..U+001F,
# which Rust keeps (a line starting with U+001C is unparseable in 0.58).
RUST_WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)

Opener = Callable[[str], BinaryIO]


def open_binary(path: str) -> BinaryIO:
    return open(path, "rb", buffering=0)  # noqa: SIM115 - the caller closes it


# -- io errors as Rust prints them --------------------------------------------------------------
# The reference binary is linked against musl, whose strerror texts differ from glibc's for a few
# codes; these are the ones a rollout operation can plausibly hit.
_MUSL_STRERROR = {
    errno.ELOOP: "Symbolic link loop",
    errno.EXDEV: "Cross-device link",
    errno.ENAMETOOLONG: "Filename too long",
    errno.EBUSY: "Resource busy",
    errno.EAGAIN: "Resource temporarily unavailable",
}


def io_error_text(error: OSError) -> str:
    """`No such file or directory (os error 2)`, as Rust's io::Error displays an OS error."""
    if error.errno is None:
        return str(error.strerror or error)
    text = _MUSL_STRERROR.get(error.errno) or os.strerror(error.errno)
    return f"{text} (os error {error.errno})"


class RolloutReadError(Exception):
    """A head could not be read; `str()` is the Rust-formatted reason."""


INVALID_UTF8 = "stream did not contain valid UTF-8"


# -- uuids, exactly as the `uuid` crate parses them ----------------------------------------------
class UuidError(ValueError):
    """The `uuid` crate's parse error; `str()` is its Display text."""


_HEX = frozenset("0123456789abcdefABCDEF")
_GROUP_STARTS = (0, 9, 14, 19, 24)
_GROUP_LENGTHS = (8, 4, 4, 4, 12)


_HYPHENATED = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")
_SIMPLE = re.compile(r"[0-9a-fA-F]{32}\Z")


def _hyphenated_ok(text: str) -> bool:
    return len(text) == 36 and _HYPHENATED.match(text) is not None


def parse_uuid(text: str) -> str:
    """The canonical (lowercase, hyphenated) form of `text`, or UuidError with the crate's text.
    Accepted: simple (32 hex), hyphenated, `{hyphenated}` and `urn:uuid:hyphenated`."""
    canonical = uuid_or_none(text)
    if canonical is None:
        raise UuidError(_uuid_error_text(text))
    return canonical


def uuid_or_none(text: str) -> str | None:
    """`parse_uuid` without the error text (building it dominates when most candidates fail)."""
    if len(text) == 32 and _SIMPLE.match(text) is not None:
        raw = text.lower()
        return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"
    body: str | None = None
    if len(text) == 36:
        body = text
    elif len(text) == 38 and text[0] == "{" and text[-1] == "}":
        body = text[1:-1]
    elif len(text) == 45 and text.startswith("urn:uuid:"):
        body = text[9:]
    if body is not None and _hyphenated_ok(body):
        return body.lower()
    return None


def _uuid_error_text(text: str) -> str:
    if text.startswith("{") and text.endswith("}") and len(text) >= 2:
        # The crate reports braced positions without counting the brace (observed: `g` "at 36").
        inner, offset, simple = text[1:-1], 0, False
    elif text.startswith("urn:uuid:"):
        inner, offset, simple = text[9:], 9, False
    else:
        inner, offset, simple = text, 0, True
    hyphens = 0
    bounds = [0, 0, 0, 0]
    byte_index = 0
    for char in inner:
        if ord(char) > 0x7F or (char != "-" and char not in _HEX):
            return (
                "invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-], "
                f"found `{char}` at {byte_index + offset + 1}"
            )
        if char == "-":
            if hyphens < 4:
                bounds[hyphens] = byte_index
            hyphens += 1
        byte_index += len(char.encode())
    if hyphens == 0 and simple:
        return f"invalid length: expected length 32 for simple format, found {len(text.encode())}"
    if hyphens != 4:
        return f"invalid group count: expected 5, found {hyphens + 1}"
    for group in range(4):
        if bounds[group] != _GROUP_STARTS[group + 1] - 1:
            found = bounds[group] - _GROUP_STARTS[group]
            return f"invalid group length in group {group}: expected {_GROUP_LENGTHS[group]}, found {found}"
    # The crate measures the last group against the whole input, prefix included.
    return f"invalid group length in group 4: expected 12, found {len(text.encode()) - _GROUP_STARTS[4]}"


# -- file names, timestamps, cursors -------------------------------------------------------------
FileTs = tuple[int, int, int, int, int, int]
_FILE_TS = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2})-(\d{2})-(\d{2})\Z")
_DAYS_IN_MONTH = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _days_in_month(year: int, month: int) -> int:
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return _DAYS_IN_MONTH[month - 1]


def _valid_datetime(year: int, month: int, day: int, hour: int, minute: int, second: int, max_second: int) -> bool:
    return (
        1 <= month <= 12
        and 1 <= day <= _days_in_month(year, month)
        and hour <= 23
        and minute <= 59
        and second <= max_second
    )


def parse_file_ts(text: str) -> FileTs | None:
    """`YYYY-MM-DDThh-mm-ss` (the time crate's format), validated as a real date and time."""
    match = _FILE_TS.match(text)
    if match is None:
        return None
    parts = tuple(int(group) for group in match.groups())
    if not _valid_datetime(*parts, max_second=59):
        return None
    return parts  # type: ignore[return-value]


def format_file_ts(ts: FileTs) -> str:
    return f"{ts[0]:04d}-{ts[1]:02d}-{ts[2]:02d}T{ts[3]:02d}-{ts[4]:02d}-{ts[5]:02d}"


@dataclass(frozen=True, slots=True)
class FileRef:
    """A rollout file of a day directory: its sort key (filename ts, uuid) and its name."""

    ts: FileTs
    uuid: str  # canonical lowercase: string order equals the crate's u128 order
    name: str

    @property
    def key(self) -> tuple[FileTs, str]:
        return (self.ts, self.uuid)


def parse_rollout_name(name: str) -> FileRef | None:
    """`rollout-<ts>-<uuid>.jsonl`; the uuid is the shortest `-`-separated suffix that parses."""
    if not (name.startswith("rollout-") and name.endswith(".jsonl")):
        return None
    core = name[8:-6]
    index = core.rfind("-")
    while index >= 0:
        canonical = uuid_or_none(core[index + 1 :])
        if canonical is None:
            index = core.rfind("-", 0, index)
            continue
        ts = parse_file_ts(core[:index])
        return FileRef(ts, canonical, name) if ts is not None else None
    return None


@dataclass(frozen=True, slots=True)
class Cursor:
    ts: FileTs
    uuid: str

    @property
    def key(self) -> tuple[FileTs, str]:
        return (self.ts, self.uuid)


def parse_cursor(token: str | None) -> Cursor | None:
    """`<ts>|<uuid>`; anything unparseable means "no cursor" (0.58 ignores it silently)."""
    if not token or "|" not in token:
        return None
    ts_text, uuid_text = token.split("|", 1)
    canonical = uuid_or_none(uuid_text)
    if canonical is None:
        return None
    ts = parse_file_ts(ts_text)
    return Cursor(ts, canonical) if ts is not None else None


def format_cursor(ref: FileRef) -> str:
    return f"{format_file_ts(ref.ts)}|{ref.uuid}"


_RUST_INT = re.compile(r"\+?[0-9]+\Z")


def parse_dir_number(name: str, maximum: int) -> int | None:
    """Rust's `str::parse::<u16|u8>`: an optional `+`, ASCII digits, in range."""
    if not _RUST_INT.match(name):
        return None
    value = int(name)
    return value if value <= maximum else None


YEAR_MAX = 0xFFFF
MONTH_DAY_MAX = 0xFF

# -- RFC 3339 → epoch seconds (Thread.createdAt) ---------------------------------------------------
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))\Z"
)


def _days_from_civil(year: int, month: int, day: int) -> int:
    year -= month <= 2
    era = (year if year >= 0 else year - 399) // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


@functools.lru_cache(maxsize=4096)
def rfc3339_epoch_seconds(text: str) -> int:
    """Whole epoch seconds of an RFC 3339 timestamp (offsets honoured, fraction dropped, a leap
    second counted as :59), or 0 when it does not parse — 0.58's `createdAt`."""
    match = _RFC3339.match(text)
    if match is None:
        return 0
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    if not _valid_datetime(year, month, day, hour, minute, second, max_second=60):
        return 0
    offset = 0
    if match.group(9):
        off_hours, off_minutes = int(match.group(10)), int(match.group(11))
        if off_hours > 23 or off_minutes > 59:
            return 0
        offset = (off_hours * 60 + off_minutes) * 60 * (1 if match.group(9) == "+" else -1)
    seconds = min(second, 59)
    return _days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + seconds - offset


# -- typed validation of rollout lines (what serde accepts in 0.58) -------------------------------
def _str(value: Any) -> bool:
    return isinstance(value, str)


def _opt_str(obj: dict[str, Any], key: str) -> bool:
    value = obj.get(key)
    return value is None or isinstance(value, str)


def _u64(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 64


def _str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _tagged_list(value: Any, variants: dict[str, tuple[str, ...]]) -> bool:
    if not isinstance(value, list):
        return False
    for item in value:
        if not isinstance(item, dict):
            return False
        fields = variants.get(item.get("type"))  # type: ignore[arg-type]
        if fields is None or not all(_str(item.get(field)) for field in fields):
            return False
    return True


_CONTENT_ITEMS = {"input_text": ("text",), "input_image": ("image_url",), "output_text": ("text",)}
_SUMMARY_ITEMS = {"summary_text": ("text",)}
_REASONING_CONTENT = {"reasoning_text": ("text",), "text": ("text",)}
_OUTPUT_ITEMS = {"input_text": ("text",), "input_image": ("image_url",)}
_SHELL_STATUSES = frozenset({"completed", "in_progress", "incomplete"})


def _valid_shell_action(action: Any) -> bool:
    if not isinstance(action, dict) or action.get("type") != "exec" or not _str_list(action.get("command")):
        return False
    timeout = action.get("timeout_ms")
    env = action.get("env")
    return (
        (timeout is None or _u64(timeout))
        and _opt_str(action, "working_directory")
        and _opt_str(action, "user")
        and (env is None or (isinstance(env, dict) and all(_str(v) for v in env.values())))
    )


def _valid_ghost_commit(commit: Any) -> bool:
    return (
        isinstance(commit, dict)
        and _str(commit.get("id"))
        and _opt_str(commit, "parent")
        and _str_list(commit.get("preexisting_untracked_files"))
        and _str_list(commit.get("preexisting_untracked_dirs"))
    )


def valid_response_item(item: Any) -> bool:
    """Whether 0.58's `ResponseItem` decoder accepts `item` (unknown types decode as `Other`)."""
    if not isinstance(item, dict):
        return False
    kind = item.get("type")
    if not isinstance(kind, str):
        return False
    if kind == "message":
        return _opt_str(item, "id") and _str(item.get("role")) and _tagged_list(item.get("content"), _CONTENT_ITEMS)
    if kind == "reasoning":
        content = item.get("content")
        return (
            ("id" not in item or _str(item["id"]))
            and _tagged_list(item.get("summary"), _SUMMARY_ITEMS)
            and (content is None or _tagged_list(content, _REASONING_CONTENT))
            and _opt_str(item, "encrypted_content")
        )
    if kind == "local_shell_call":
        return (
            _opt_str(item, "id")
            and _opt_str(item, "call_id")
            and item.get("status") in _SHELL_STATUSES
            and _valid_shell_action(item.get("action"))
        )
    if kind == "function_call":
        return _opt_str(item, "id") and all(_str(item.get(k)) for k in ("name", "arguments", "call_id"))
    if kind == "function_call_output":
        output = item.get("output")
        return _str(item.get("call_id")) and (_str(output) or _tagged_list(output, _OUTPUT_ITEMS))
    if kind == "custom_tool_call":
        return (
            _opt_str(item, "id")
            and _opt_str(item, "status")
            and all(_str(item.get(k)) for k in ("call_id", "name", "input"))
        )
    if kind == "custom_tool_call_output":
        return _str(item.get("call_id")) and _str(item.get("output"))
    if kind == "web_search_call":
        action = item.get("action")
        if not (_opt_str(item, "id") and _opt_str(item, "status") and isinstance(action, dict)):
            return False
        if action.get("type") == "search":
            return _str(action.get("query"))
        return isinstance(action.get("type"), str)
    if kind == "ghost_snapshot":
        return _valid_ghost_commit(item.get("ghost_commit"))
    return True


_PLAIN_SOURCES = frozenset({"cli", "vscode", "exec", "mcp"})


def _source_wire(value: Any) -> Any:
    """The wire form of a meta `source` (absent → "vscode", unknown name → "unknown"), or a
    `_BAD` marker when 0.58 could not decode it."""
    if value is _MISSING:
        return "vscode"
    if isinstance(value, str):
        return value if value in _PLAIN_SOURCES else "unknown"
    if isinstance(value, dict) and len(value) == 1 and "subagent" in value:
        sub = value["subagent"]
        if sub in ("review", "compact"):
            return {"subagent": sub}
        if isinstance(sub, dict) and len(sub) == 1 and _str(sub.get("other")):
            return {"subagent": {"other": sub["other"]}}
    return _BAD


_MISSING = object()
_BAD = object()


@dataclass(frozen=True, slots=True)
class Meta:
    """The fields of a `session_meta` payload that summaries and filters use, normalised."""

    id: str
    timestamp: str
    cwd: str
    cli_version: str
    source: Any  # wire form: "cli" | … | {"subagent": …}
    model_provider: str | None
    git: dict[str, str | None] | None  # {"sha", "branch", "origin_url"}


def parse_meta(payload: Any) -> Meta | None:
    """A `SessionMetaLine` as 0.58 decodes it, or None when it would be rejected."""
    if not isinstance(payload, dict):
        return None
    raw_id = payload.get("id")
    if not (
        _str(raw_id)
        and _str(payload.get("timestamp"))
        and _str(payload.get("cwd"))
        and _str(payload.get("originator"))
        and _str(payload.get("cli_version"))
        and _opt_str(payload, "instructions")
        and _opt_str(payload, "model_provider")
    ):
        return None
    try:
        conversation_id = parse_uuid(raw_id)
    except UuidError:
        return None
    source = _source_wire(payload.get("source", _MISSING))
    if source is _BAD:
        return None
    git_raw = payload.get("git")
    git: dict[str, str | None] | None = None
    if git_raw is not None:
        if not isinstance(git_raw, dict) or not all(
            _opt_str(git_raw, k) for k in ("commit_hash", "branch", "repository_url")
        ):
            return None
        git = {
            "sha": git_raw.get("commit_hash"),
            "branch": git_raw.get("branch"),
            "origin_url": git_raw.get("repository_url"),
        }
    return Meta(
        conversation_id,
        payload["timestamp"],
        payload["cwd"],
        payload["cli_version"],
        source,
        payload.get("model_provider"),
        git,
    )


def _is_user_message_event(payload: Any) -> bool:
    if not isinstance(payload, dict) or payload.get("type") != "user_message" or not _str(payload.get("message")):
        return False
    images = payload.get("images")
    return images is None or _str_list(images)


# -- the preview rule (PROTOCOL.md §5.3) -----------------------------------------------------------
def _rust_trim_start(text: str) -> str:
    return text.lstrip(RUST_WHITESPACE)


def _is_session_prefix(text: str) -> bool:
    head = _rust_trim_start(text)[:32].lower()
    return head.startswith("<environment_context>")


def _is_user_shell_command(text: str) -> bool:
    return _rust_trim_start(text)[:32].lower().startswith("<user_shell_command>")


def user_message_text(item: dict[str, Any]) -> str | None:
    """The text 0.58 shows for a `response_item`, or None when it is not a user message that counts
    (other roles, user instructions, environment context, user shell commands)."""
    if item.get("type") != "message" or item.get("role") != "user":
        return None
    content = item["content"]
    if len(content) == 1 and content[0]["type"] == "input_text":
        only = content[0]["text"]
        if only.startswith("<user_instructions>") or only.startswith("# AGENTS.md instructions for "):
            return None
    texts: list[str] = []
    for part in content:
        kind = part["type"]
        if kind == "input_text":
            if _is_session_prefix(part["text"]) or _is_user_shell_command(part["text"]):
                return None
            texts.append(part["text"])
        elif kind == "output_text" and _is_session_prefix(part["text"]):
            return None
    return "".join(texts)


def preview_from_text(text: str) -> str:
    index = text.find(USER_MESSAGE_BEGIN)
    if index < 0:
        return text
    return text[index + len(USER_MESSAGE_BEGIN) :].strip(RUST_WHITESPACE)


# -- reading a head -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Head:
    """What 0.58 learns from the first records of a rollout.

    `count` session_meta/response_item records were seen (at most HEAD_RECORD_LIMIT); `meta` is the
    first session_meta among them and `first_is_meta` says whether it was the very first record;
    `preview` is the first qualifying user message's text (None when there is none)."""

    count: int
    first_is_meta: bool
    meta: Meta | None
    saw_user_event: bool
    preview: str | None


_decode = msgspec.json.decode
_READ_CHUNK = 16384


def _lines(handle: BinaryIO) -> Iterator[bytes]:
    """Lines as tokio's `lines()` yields them (split on `\\n`, a final unterminated line included),
    reading only as far as the caller consumes."""
    pending = b""
    chunk_size = _READ_CHUNK
    while True:
        chunk = handle.read(chunk_size)
        if not chunk:
            if pending:
                yield pending
            return
        chunk_size = min(chunk_size * 4, 1 << 20)
        data = pending + chunk if pending else chunk
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            yield data[start:end]
            start = end + 1
        pending = data[start:]


def read_head(path: str, opener: Opener = open_binary) -> Head:
    """The head of one rollout (never the whole file). Raises RolloutReadError on io failures and
    on a non-UTF-8 line inside the head window, as 0.58's line reader does."""
    count = 0
    first_is_meta = False
    meta: Meta | None = None
    saw_user_event = False
    preview: str | None = None
    try:
        with opener(path) as handle:
            for raw in _lines(handle):
                if count >= HEAD_RECORD_LIMIT:
                    break
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise RolloutReadError(INVALID_UTF8) from None
                text = text.strip(RUST_WHITESPACE)
                if not text:
                    continue
                try:
                    line = _decode(text)
                except (msgspec.DecodeError, ValueError):
                    continue
                if not isinstance(line, dict) or not _str(line.get("timestamp")) or "payload" not in line:
                    continue
                kind = line.get("type")
                payload = line["payload"]
                if kind == "session_meta":
                    parsed = parse_meta(payload)
                    if parsed is None:
                        continue
                    if count == 0:
                        first_is_meta = True
                    if meta is None:
                        meta = parsed
                    count += 1
                elif kind == "response_item":
                    if not valid_response_item(payload):
                        continue
                    count += 1
                    if preview is None:
                        preview = user_message_text(payload)
                elif kind == "event_msg":
                    if _is_user_message_event(payload):
                        saw_user_event = True
    except OSError as error:
        raise RolloutReadError(io_error_text(error)) from error
    return Head(count, first_is_meta, meta, saw_user_event, preview)


# -- results with 0.58's key order ------------------------------------------------------------------
def conversation_summary(path: str, meta: Meta, preview: str, fallback_provider: str) -> dict[str, Any]:
    return {
        "conversationId": meta.id,
        "path": path,
        "preview": preview,
        "timestamp": meta.timestamp or None,
        "modelProvider": meta.model_provider if meta.model_provider is not None else fallback_provider,
        "cwd": meta.cwd,
        "cliVersion": meta.cli_version,
        "source": meta.source,
        "gitInfo": dict(meta.git) if meta.git is not None else None,
    }


def thread_object(path: str, meta: Meta, preview: str, fallback_provider: str) -> dict[str, Any]:
    return {
        "id": meta.id,
        "preview": preview,
        "modelProvider": meta.model_provider if meta.model_provider is not None else fallback_provider,
        "createdAt": rfc3339_epoch_seconds(meta.timestamp),
        "path": path,
    }


def summary_from_head(path: str, head: Head, fallback_provider: str) -> dict[str, Any]:
    """getConversationSummary's result for a head (no source or provider filter). Raises
    RolloutReadError with 0.58's reason when the rollout is empty or does not start with a meta."""
    if head.count == 0:
        raise RolloutReadError(f"rollout at {path} is empty")
    if not head.first_is_meta or head.meta is None:
        raise RolloutReadError(f"rollout at {path} does not start with session metadata")
    preview = preview_from_text(head.preview) if head.preview is not None else ""
    return conversation_summary(path, head.meta, preview, fallback_provider)


def read_summary(path: str, fallback_provider: str, opener: Opener = open_binary) -> dict[str, Any]:
    return summary_from_head(path, read_head(path, opener), fallback_provider)


# -- the listing algorithm (PROTOCOL.md §5.1) --------------------------------------------------------
class DirSource(Protocol):
    """Where the listing gets directories and heads: straight from disk, or through the index."""

    def subdirs(self, path: str, maximum: int) -> Sequence[tuple[int, str]]:
        """Numeric subdirectories (not symlinks) as (value, full path), sorted by value descending,
        ties in read order."""
        ...

    def day_files(self, path: str) -> tuple[FileRef, ...]:
        """Regular rollout files of a day directory, sorted by (ts, uuid) descending."""
        ...

    def head(self, path: str) -> Head:
        """The head of a file; raises RolloutReadError when it cannot be read."""
        ...


@dataclass(frozen=True, slots=True)
class ProviderFilter:
    """`modelProviders`: None → only the configured provider; [] → everything; else exact names.
    A meta without `model_provider` counts as the configured provider."""

    allowed: frozenset[str] | None
    configured: str

    @classmethod
    def from_params(cls, providers: list[str] | None, configured: str) -> ProviderFilter:
        if providers is None:
            return cls(frozenset({configured}), configured)
        return cls(frozenset(providers) if providers else None, configured)

    def matches(self, meta: Meta) -> bool:
        if self.allowed is None:
            return True
        provider = meta.model_provider if meta.model_provider is not None else self.configured
        return provider in self.allowed


@dataclass(frozen=True, slots=True)
class Kept:
    path: str
    ref: FileRef
    head: Head


@dataclass(frozen=True, slots=True)
class Page:
    kept: list[Kept]
    more: bool

    def next_cursor(self) -> str | None:
        return format_cursor(self.kept[-1].ref) if self.more and self.kept else None


def listable(head: Head, providers: ProviderFilter) -> bool:
    meta = head.meta
    return meta is not None and head.saw_user_event and meta.source in INTERACTIVE_SOURCES and providers.matches(meta)


def _first_eligible(files: tuple[FileRef, ...], cursor: Cursor) -> int | None:
    """Index of the first file (in descending order) strictly older than the cursor."""
    key = cursor.key
    low, high = 0, len(files)
    while low < high:  # files are sorted descending: find the first key < cursor
        mid = (low + high) // 2
        if files[mid].key < key:
            high = mid
        else:
            low = mid + 1
    return low if low < len(files) else None


def _first_day_with_older(source: DirSource, days: Sequence[tuple[int, str]], cursor_key: tuple[FileTs, str]) -> int:
    """Index in `days` of the first day holding a file older than the cursor (len(days) if none)."""
    fast = getattr(source, "first_day_with_older", None)
    if fast is not None:
        return int(fast(days, cursor_key))
    for position, (_, day_path) in enumerate(days):
        files = source.day_files(day_path)
        if files and files[-1].key < cursor_key:
            return position
    return len(days)


def list_page(source: DirSource, root: str, page_size: int, cursor: Cursor | None, providers: ProviderFilter) -> Page:
    """One page of kept rollouts in 0.58's scan order. No scan cap: 0.58 stops after 10,000 scanned
    files, which makes older conversations unreachable; we walk on."""
    kept: list[Kept] = []
    anchored = cursor is None
    cursor_key = cursor.key if cursor is not None else None
    # A source that remembers which months a walk has passed over (RolloutIndex views do).
    memo = source if hasattr(source, "month_cleared") else None
    for _, year_path in source.subdirs(root, YEAR_MAX):
        for _, month_path in source.subdirs(year_path, MONTH_DAY_MAX):
            if not anchored and memo is not None and memo.month_cleared(month_path, cursor_key):
                continue  # the previous page of this walk found nothing older there, moments ago
            days = source.subdirs(month_path, MONTH_DAY_MAX)
            if not anchored:
                # Before the anchor only "is any file older than the cursor?" matters; deep pages
                # pass over hundreds of days, so the source may answer that in one tight loop.
                assert cursor_key is not None
                first = _first_day_with_older(source, days, cursor_key)
                if first == len(days):
                    if memo is not None:
                        memo.clear_month(month_path, cursor_key)
                    continue
                days = days[first:]
            for _, day_path in days:
                files = source.day_files(day_path)
                start = 0
                if not anchored:
                    if not files or files[-1].key >= cursor_key:  # type: ignore[operator]
                        continue
                    assert cursor is not None
                    first = _first_eligible(files, cursor)
                    if first is None:
                        continue
                    anchored, start = True, first
                for ref in files[start:] if start else files:
                    if len(kept) == page_size:
                        return Page(kept, True)
                    path = os.path.join(day_path, ref.name)
                    try:
                        head = source.head(path)
                    except RolloutReadError as error:
                        log.warning("skipping rollout %s: %s", path, error)
                        continue
                    if listable(head, providers):
                        kept.append(Kept(path, ref, head))
    return Page(kept, False)


def conversation_items(page: Page, fallback_provider: str) -> list[dict[str, Any]]:
    """listConversations items: kept files whose head starts with a meta and has a preview."""
    items = []
    for entry in page.kept:
        head = entry.head
        if head.first_is_meta and head.meta is not None and head.preview is not None:
            items.append(
                conversation_summary(entry.path, head.meta, preview_from_text(head.preview), fallback_provider)
            )
    return items


def thread_items(page: Page, fallback_provider: str) -> list[dict[str, Any]]:
    items = []
    for entry in page.kept:
        head = entry.head
        if head.first_is_meta and head.meta is not None and head.preview is not None:
            items.append(thread_object(entry.path, head.meta, preview_from_text(head.preview), fallback_provider))
    return items


class DirectSource:
    """A DirSource that reads the disk every time (the index's cold path and the reference model)."""

    def __init__(self, opener: Opener = open_binary) -> None:
        self._opener = opener

    def subdirs(self, path: str, maximum: int) -> Sequence[tuple[int, str]]:
        return scan_subdirs(path, maximum)

    def day_files(self, path: str) -> tuple[FileRef, ...]:
        return scan_day(path)[0]

    def head(self, path: str) -> Head:
        return read_head(path, self._opener)


def _utf8_name(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes come back as surrogates: 0.58 skips them
        return False
    return True


def scan_subdirs(path: str, maximum: int) -> list[tuple[int, str]]:
    """(value, full path) of the numeric subdirectories, as DirSource.subdirs."""
    found: list[tuple[int, str]] = []
    try:
        with os.scandir(path) as entries:
            for entry in entries:
                try:
                    if not entry.is_dir(follow_symlinks=False):
                        continue
                except OSError:
                    continue
                value = parse_dir_number(entry.name, maximum)
                if value is not None and _utf8_name(entry.name):
                    found.append((value, os.path.join(path, entry.name)))
    except OSError as error:
        if error.errno != errno.ENOENT:
            log.warning("skipping unreadable directory %s: %s", path, io_error_text(error))
        return []
    found.sort(key=lambda item: item[0], reverse=True)  # stable: ties keep read order, as 0.58
    return found


def scan_day(path: str) -> tuple[tuple[FileRef, ...], tuple[str, ...]]:
    """(rollout files sorted newest first, names of every other non-directory entry)."""
    files: list[FileRef] = []
    others: list[str] = []
    try:
        with os.scandir(path) as entries:
            for entry in entries:
                name = entry.name
                try:
                    if entry.is_dir(follow_symlinks=False):
                        continue
                    regular = entry.is_file(follow_symlinks=False)
                except OSError:
                    continue
                if not _utf8_name(name):
                    continue
                ref = parse_rollout_name(name) if regular else None
                if ref is not None:
                    files.append(ref)
                else:
                    others.append(name)
    except OSError as error:
        if error.errno != errno.ENOENT:
            log.warning("skipping unreadable directory %s: %s", path, io_error_text(error))
        return (), ()
    files.sort(key=lambda ref: ref.key, reverse=True)
    return tuple(files), tuple(others)


# -- find by id (DECISIONS 10) -------------------------------------------------------------------------
def id_suffix(conversation_id: str) -> str:
    return f"{conversation_id.lower()}.jsonl"


def find_in_day(files: tuple[FileRef, ...], others: tuple[str, ...], conversation_id: str) -> str | None:
    suffix = id_suffix(conversation_id)
    for ref in files:
        if ref.name.lower().endswith(suffix):
            return ref.name
    for name in others:
        if name.lower().endswith(suffix):
            return name
    return None


def find_rollout_path(codex_home: str, conversation_id: str) -> str | None:
    """The rollout of `conversation_id`: a file under `sessions/YYYY/MM/DD/` whose name ends with
    `<uuid>.jsonl` (compared lower-cased), newest directory first. Reads the disk directly; the
    archive actor answers FindRollout through its index instead."""
    root = os.path.join(codex_home, SESSIONS_SUBDIR)
    for _, year_path in scan_subdirs(root, YEAR_MAX):
        for _, month_path in scan_subdirs(year_path, MONTH_DAY_MAX):
            for _, day_path in scan_subdirs(month_path, MONTH_DAY_MAX):
                name = find_in_day(*scan_day(day_path), conversation_id)
                if name is not None:
                    return os.path.join(day_path, name)
    return None
