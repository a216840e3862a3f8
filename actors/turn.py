"""The agent loop of one turn, run on a worker thread (never inside an actor).

The worker streams model responses, turns them into 0.58's events, runs tool calls and feeds their
outputs back until a response asks for no tool. It owns nothing the conversation actor reads:
everything it produces goes, in order, through the turn's `Outbox` as operations the actor applies
(`("event", msg)`, `("item", response_item)`, `("turn_context", payload)`,
`("approved_for_session", key)`, `("abort", None)`, `("end", None)`).
Interrupt is the actor's business: it flags the `TurnHandle`, which wakes a blocked stream read, an
approval wait and a running command, and ignores whatever this outbox still delivers.

Tools follow CONVERSATIONS.md §3 and §5: the shell tool runs under the turn's sandbox policy and asks
for approval as 0.58's policies decide (known-safe commands, dangerous commands under `on-request`,
`with_escalated_permissions`, a retry outside the sandbox after a sandbox denial); a patch (the
`apply_patch` tool or `shell ["apply_patch", …]`) is verified, approved when the policy says so, and
applied in-process, atomically per file. A decision arrives through the handle (`resolve`), put
there by the conversation actor when the listener relays the client's answer.
"""

from __future__ import annotations

import base64
import errno as errno_mod
import hashlib
import json
import logging
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from actors import apply_patch, command_safety, prompts, sandbox

log = logging.getLogger(__name__)

DEFAULT_SHELL_TIMEOUT_MS = 10_000
# What the model is shown of a command's output (the event keeps the full capture).
MODEL_OUTPUT_MAX_BYTES = 10 * 1024
MODEL_OUTPUT_MAX_LINES = 256
MAX_OUTPUT_DELTAS_PER_CALL = 10_000



# 0.58's MCP resource tools: the key of their empty listing, and the MCP method their errors name.
_MCP_RESOURCE_TOOLS = {
    "list_mcp_resources": ("resources", "resources/list"),
    "list_mcp_resource_templates": ("resourceTemplates", "resources/templates/list"),
    "read_mcp_resource": ("", "resources/read"),
}


# -- the two shared objects ------------------------------------------------------------------------
class Outbox:
    """Ordered hand-off from a worker to its actor. The worker `put`s operations; the actor is told
    `wake()` only when the box goes from empty to non-empty, so a busy actor takes many operations per
    message (batches) while an idle one sees each at once (no added latency)."""

    __slots__ = ("_lock", "_ops", "_wake_pending", "_wake")

    def __init__(self, wake: Callable[[Outbox], None]) -> None:
        self._lock = threading.Lock()
        self._ops: list[tuple[str, Any]] = []
        self._wake_pending = False
        self._wake = wake

    def put(self, kind: str, value: Any) -> None:
        with self._lock:
            self._ops.append((kind, value))
            if self._wake_pending:
                return
            self._wake_pending = True
        self._wake(self)

    def take(self) -> list[tuple[str, Any]]:
        with self._lock:
            ops, self._ops = self._ops, []
            self._wake_pending = False
        return ops


class TurnHandle:
    """What the actor and the worker of one turn share: input queued mid-turn, and cancellation."""

    def __init__(self, turn_id: str, outbox: Outbox) -> None:
        self.turn_id = turn_id
        self.outbox = outbox
        self._lock = threading.Lock()
        self._pending: list[dict[str, Any]] = []
        self._cancelled = threading.Event()
        self._stream_cancel: Any = None
        # approvals: call ids the worker waits on, and decisions that arrived for them
        self._decided = threading.Condition()
        self._awaiting: set[str] = set()
        self._decisions: dict[str, str] = {}

    # mid-turn input (§7.3): the actor adds `{"item": response_item, "entry": …}`, the worker takes
    # them before each model request
    def add_input(self, item: dict[str, Any]) -> None:
        with self._lock:
            self._pending.append(item)

    def take_input(self) -> list[dict[str, Any]]:
        with self._lock:
            items, self._pending = self._pending, []
        return items

    # cancellation
    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    @property
    def cancel_event(self) -> threading.Event:
        return self._cancelled

    def set_stream_cancel(self, cancel: Any) -> None:
        with self._lock:
            self._stream_cancel = cancel
        if self._cancelled.is_set() and cancel is not None:
            cancel.cancel()

    def cancel(self) -> None:
        self._cancelled.set()
        with self._lock:
            stream = self._stream_cancel
        if stream is not None:
            stream.cancel()
        with self._decided:
            self._decided.notify_all()

    # approvals: the worker announces what it waits for before the request goes out, so a fast
    # answer cannot arrive before anyone expects it
    def expect_decision(self, call_id: str) -> None:
        with self._decided:
            self._decisions.pop(call_id, None)
            self._awaiting.add(call_id)

    def resolve(self, call_id: str, decision: str) -> bool:
        """Actor side: hand a decision to the waiting worker; False when nothing waits for it."""
        with self._decided:
            if call_id not in self._awaiting:
                return False
            self._awaiting.discard(call_id)
            self._decisions[call_id] = decision
            self._decided.notify_all()
            return True

    def wait_decision(self, call_id: str) -> str | None:
        """Worker side: the decision, or None when the turn was cancelled first."""
        with self._decided:
            while call_id not in self._decisions:
                if self._cancelled.is_set():
                    self._awaiting.discard(call_id)
                    return None
                self._decided.wait(0.5)
            return self._decisions.pop(call_id)


@dataclass(frozen=True)
class TurnSpec:
    """Everything the worker needs, copied when the turn starts."""

    conversation_id: str
    turn_id: str
    cwd: Path
    model: str
    effort: str | None
    summary: str
    approval_policy: str
    sandbox_policy: dict[str, Any]
    turn_context: dict[str, Any]
    instructions: str
    tools: list[dict[str, Any]]
    history: list[dict[str, Any]]
    token_info: dict[str, Any] | None
    user_agent: str
    provider: Any
    wire_api: str
    shell_environment_policy: Any = None
    # (argv, cwd) pairs approved for the rest of the session (`approved_for_session`)
    session_approvals: frozenset[tuple[tuple[str, ...], str]] = frozenset()
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class TurnDeps:
    """The world the worker touches, injected so tests can replace any of it."""

    stream_model: Callable[..., Iterator[Any]]
    make_request: Callable[[TurnSpec, list[dict[str, Any]]], Any]
    make_cancel: Callable[[], Any]
    auth: Callable[[bool], Any]
    run_command: Callable[..., Any]
    command_env: Callable[[Any], dict[str, str]]
    is_git_repo: Callable[[Path], bool]


def is_git_repo(cwd: Path) -> bool:
    try:
        done = subprocess.run(["git", "rev-parse", "--git-dir"], cwd=cwd, capture_output=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


# -- usage ------------------------------------------------------------------------------------------
_USAGE_KEYS = ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_output_tokens", "total_tokens")


def _as_dict(value: Any) -> Any:
    if value is None or isinstance(value, dict | list | str | int | float | bool):
        return value
    try:
        import msgspec

        return msgspec.to_builtins(value)
    except (TypeError, ImportError):
        return dict(vars(value))


def normalize_usage(usage: Any) -> dict[str, int] | None:
    usage = _as_dict(usage)
    if not usage:
        return None
    out = {key: int(usage.get(key) or 0) for key in _USAGE_KEYS}
    if not usage.get("total_tokens"):
        out["total_tokens"] = out["input_tokens"] + out["output_tokens"]
    return out


def add_usage(info: dict[str, Any] | None, last: dict[str, int]) -> dict[str, Any]:
    total = dict(info["total_token_usage"]) if info else dict.fromkeys(_USAGE_KEYS, 0)
    for key in _USAGE_KEYS:
        total[key] = total.get(key, 0) + last[key]
    window = info.get("model_context_window") if info else None
    return {"total_token_usage": total, "last_token_usage": last, "model_context_window": window}


def normalize_rate_limits(snapshot: Any) -> dict[str, Any] | None:
    snapshot = _as_dict(snapshot)
    if snapshot is None:
        return None
    return {"primary": snapshot.get("primary"), "secondary": snapshot.get("secondary")}


# -- items ------------------------------------------------------------------------------------------
def _output_texts(item: dict[str, Any]) -> list[str]:
    """An assistant message's output_text parts: 0.58 shows each as its own Text and agent_message
    (other parts stay in history only)."""
    return [
        part.get("text", "")
        for part in item.get("content") or []
        if isinstance(part, dict) and part.get("type") == "output_text"
    ]


def history_item(item: dict[str, Any]) -> dict[str, Any]:
    """A provider output item as 0.58 keeps it in history and the rollout (no provider ids)."""
    kind = item.get("type")
    if kind == "message":
        content = []
        for part in item.get("content") or []:
            if isinstance(part, dict) and part.get("type") in ("output_text", "input_text"):
                content.append({"type": part["type"], "text": part.get("text", "")})
        return {"type": "message", "role": item.get("role", "assistant"), "content": content}
    if kind == "reasoning":
        summary = [
            {"type": "summary_text", "text": part.get("text", "")}
            for part in item.get("summary") or []
            if isinstance(part, dict)
        ]
        return {
            "type": "reasoning",
            "summary": summary,
            "content": item.get("content"),
            "encrypted_content": item.get("encrypted_content"),
        }
    if kind == "function_call":
        return {
            "type": "function_call",
            "name": item.get("name", ""),
            "arguments": item.get("arguments", ""),
            "call_id": item.get("call_id", ""),
        }
    if kind == "custom_tool_call":
        return {
            "type": "custom_tool_call",
            "status": item.get("status", "completed"),
            "call_id": item.get("call_id", ""),
            "name": item.get("name", ""),
            "input": item.get("input", ""),
        }
    return {key: value for key, value in item.items() if key != "id"}


def format_for_model(text: str) -> str:
    """Head and tail of long output, so one noisy command cannot flood the model's context."""
    data = text.encode()
    lines = text.splitlines(keepends=True)
    if len(data) <= MODEL_OUTPUT_MAX_BYTES and len(lines) <= MODEL_OUTPUT_MAX_LINES:
        return text
    half_lines = MODEL_OUTPUT_MAX_LINES // 2
    head = "".join(lines[:half_lines])
    tail = "".join(lines[-half_lines:]) if len(lines) > half_lines else ""
    half_bytes = MODEL_OUTPUT_MAX_BYTES // 2
    head = head.encode()[:half_bytes].decode(errors="ignore")
    tail_bytes = tail.encode()
    tail = tail_bytes[-half_bytes:].decode(errors="ignore") if len(tail_bytes) > half_bytes else tail
    omitted = max(0, len(lines) - 2 * half_lines)
    return f"{head}\n[... omitted {omitted} of {len(lines)} lines ...]\n\n{tail}"


def exec_output_json(output: str, exit_code: int, duration: float) -> str:
    metadata = {"exit_code": exit_code, "duration_seconds": round(duration, 1)}
    return json.dumps({"output": output, "metadata": metadata}, ensure_ascii=False, separators=(",", ":"))


def _duration(seconds: float) -> dict[str, int]:
    whole = int(seconds)
    return {"secs": whole, "nanos": int(round((seconds - whole) * 1e9))}


# -- the apply_patch tool (CONVERSATIONS.md §4.4) ----------------------------------------------------
# Our own wording and grammar; the format is §5.3's.
APPLY_PATCH_DESCRIPTION = """\
Edit files by sending a patch in the format below. Paths are relative to the working directory \
(absolute paths work too). Every patch is wrapped in `*** Begin Patch` / `*** End Patch`; inside, \
one section per file:
- `*** Add File: <path>` followed by the new file's lines, each prefixed with `+`.
- `*** Delete File: <path>` on its own.
- `*** Update File: <path>`, optionally `*** Move to: <new path>`, then one or more hunks. A hunk \
starts with `@@` (optionally followed by a line such as a function header that locates it) and \
lists lines prefixed with ` ` (unchanged context), `-` (removed) or `+` (added). Give about three \
lines of context around each change; `*** End of File` marks a hunk that ends at the end of the file.
Example:
*** Begin Patch
*** Update File: src/app.py
@@ def greet():
-    print("hi")
+    print("hello")
*** End Patch
"""

APPLY_PATCH_GRAMMAR = r"""start: "*** Begin Patch" NEWLINE file_section+ "*** End Patch" NEWLINE?

file_section: new_file | removed_file | changed_file
new_file: "*** Add File: " LINE NEWLINE added_line+
removed_file: "*** Delete File: " LINE NEWLINE
changed_file: "*** Update File: " LINE NEWLINE rename? hunk_part*
rename: "*** Move to: " LINE NEWLINE
hunk_part: hunk_header | diff_line | end_of_file
hunk_header: "@@" (" " LINE)? NEWLINE
added_line: "+" LINE? NEWLINE
diff_line: (" " | "-" | "+") LINE? NEWLINE
end_of_file: "*** End of File" NEWLINE

LINE: /[^\n]+/
NEWLINE: "\n"
"""

APPLY_PATCH_FREEFORM_TOOL: dict[str, Any] = {
    "type": "custom",
    "name": "apply_patch",
    "description": APPLY_PATCH_DESCRIPTION + "Send the patch itself as the tool input, not JSON.",
    "format": {"type": "grammar", "syntax": "lark", "definition": APPLY_PATCH_GRAMMAR},
}
APPLY_PATCH_FUNCTION_TOOL: dict[str, Any] = {
    "type": "function",
    "name": "apply_patch",
    "description": APPLY_PATCH_DESCRIPTION,
    "strict": False,
    "parameters": {
        "type": "object",
        "properties": {"input": {"type": "string", "description": "The whole patch, Begin Patch to End Patch."}},
        "required": ["input"],
        "additionalProperties": False,
    },
}


def apply_patch_tool_type(model: str, freeform_enabled: bool) -> str | None:
    """How 0.58 offers apply_patch to a model: "freeform", "function" or not at all (None). The
    config switches (`include_apply_patch_tool`, `[features].apply_patch_freeform`) force freeform."""
    if freeform_enabled:
        return "freeform"
    if model.startswith("codex-mini-latest"):
        return None
    if model.startswith(("gpt-5-codex", "gpt-5.1", "codex-")):
        return "freeform"
    if model.startswith(("gpt-oss", "openai/gpt-oss")):
        return "function"
    return None


def tools_for(model: str, freeform_enabled: bool) -> list[dict[str, Any]]:
    """0.58's tool list for this model: apply_patch goes right before view_image."""
    tools = prompts.tools()
    kind = apply_patch_tool_type(model, freeform_enabled)
    if kind is None:
        return tools
    tool = APPLY_PATCH_FREEFORM_TOOL if kind == "freeform" else APPLY_PATCH_FUNCTION_TOOL
    names = [t.get("name") for t in tools]
    at = names.index("view_image") if "view_image" in names else len(tools)
    return [*tools[:at], tool, *tools[at:]]


def _offered(tools: list[dict[str, Any]], name: str, kind: str) -> bool:
    return any(t.get("name") == name and t.get("type") == kind for t in tools)


# -- outputs as the prompt shows them (§4.5) -----------------------------------------------------------
def _seconds_text(value: Any) -> str:
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def exec_output_text(output: str) -> str | None:
    """The text form of a JSON exec output (`Exit code: …`), None when it is not one."""
    try:
        parsed = json.loads(output)
        metadata = parsed["metadata"]
        body, code, seconds = parsed["output"], metadata["exit_code"], metadata["duration_seconds"]
    except (ValueError, TypeError, KeyError):
        return None
    if not isinstance(body, str) or not isinstance(code, int):
        return None
    return f"Exit code: {code}\nWall time: {_seconds_text(seconds)} seconds\nOutput:\n{body}"


def prompt_history(history: list[dict[str, Any]], tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """With the freeform apply_patch tool on, shell and patch outputs go to the model as text; the
    history (and the rollout) keep the JSON form."""
    if not _offered(tools, "apply_patch", "custom"):
        return history
    exec_calls = {
        item.get("call_id")
        for item in history
        if (item.get("type") == "function_call" and item.get("name") in ("shell", "apply_patch"))
        or (item.get("type") == "custom_tool_call" and item.get("name") == "apply_patch")
    }
    out: list[dict[str, Any]] = []
    for item in history:
        is_output = item.get("type") in ("function_call_output", "custom_tool_call_output")
        if is_output and item.get("call_id") in exec_calls and isinstance(item.get("output"), str):
            text = exec_output_text(item["output"])
            if text is not None:
                item = {**item, "output": text}
        out.append(item)
    return out


# -- approvals and the sandbox (§3.2, §5) -----------------------------------------------------------
EXEC_REJECTED = "exec command rejected by user"
PATCH_REJECTED = "patch rejected by user"
RETRY_REASON = "command failed; retry without sandbox?"
OUTSIDE_PROJECT = "writing outside of the project; rejected by user approval settings"
_POLICY_NAMES = {"untrusted": "UnlessTrusted", "on-failure": "OnFailure", "on-request": "OnRequest", "never": "Never"}
_DENIAL_WORDS = (
    "operation not permitted",
    "permission denied",
    "read-only file system",
    "seccomp",
    "sandbox",
    "landlock",
    "failed to write file",
)
_NOT_A_DENIAL_EXIT_CODES = frozenset({2, 126, 127})
_SIGSYS_EXIT = 128 + int(signal.SIGSYS)
_SHELLS = frozenset({"bash", "sh", "zsh"})
_UNCONFINED: dict[str, Any] = {"mode": "danger-full-access"}


def escalation_refusal(policy: str) -> str:
    name = _POLICY_NAMES.get(policy, policy)
    return (
        f"approval policy is {name}; reject command — you should not ask for escalated permissions if the "
        f"approval policy is {name}"
    )


def _dangerous(argv: list[str]) -> bool:
    if not argv:
        return False
    head = argv[0]
    if head.endswith("git"):
        return len(argv) > 1 and argv[1] in ("reset", "rm")
    if head == "rm":
        return len(argv) > 1 and argv[1] in ("-f", "-rf")
    if head == "sudo":
        return _dangerous(argv[1:])
    return False


def might_be_dangerous(argv: list[str]) -> bool:
    """`git reset`, `git rm`, `rm -f`, `rm -rf` (also after sudo, or inside a plain `bash -lc` script)."""
    if _dangerous(argv):
        return True
    if len(argv) == 3 and os.path.basename(argv[0]) in _SHELLS and argv[1] in ("-lc", "-c"):
        commands = command_safety.split_plain_script(argv[2]) or []
        return any(_dangerous(command) for command in commands)
    return False


def needs_initial_approval(policy: str, mode: str, argv: list[str], escalated: bool) -> bool:
    """Whether 0.58 asks before the first run of a command."""
    if command_safety.is_known_safe_command(argv):
        return False
    if policy in ("never", "on-failure"):
        return False
    if policy == "on-request":
        if mode == "danger-full-access":
            return might_be_dangerous(argv)
        return escalated or might_be_dangerous(argv)
    return True


def likely_sandbox_denied(outcome: Any) -> bool:
    """0.58's guess that a sandboxed command failed because of the sandbox."""
    if outcome.exit_code == 0 or outcome.timed_out or outcome.cancelled:
        return False
    text = b"\n".join((outcome.stderr, outcome.stdout, outcome.aggregated)).decode(errors="replace").lower()
    if any(word in text for word in _DENIAL_WORDS):
        return True
    if outcome.exit_code in _NOT_A_DENIAL_EXIT_CODES:
        return False
    return outcome.exit_code == _SIGSYS_EXIT


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _writable(path: str, roots: list[sandbox.WritableRoot]) -> bool:
    real = os.path.realpath(path)
    return any(
        _inside(real, root.root) and not any(_inside(real, ro) for ro in root.read_only_subpaths) for root in roots
    )


def _patch_targets(action: apply_patch.PatchAction) -> list[str]:
    targets: list[str] = []
    for path, change in action.changes.items():
        targets.append(path)
        move = (change.get("update") or {}).get("move_path")
        if move:
            targets.append(move)
    return targets


def _roots(policy: dict[str, Any], cwd: Path) -> list[sandbox.WritableRoot]:
    return sandbox.writable_roots(sandbox.normalize_policy(policy), os.path.realpath(cwd))


def patch_within_sandbox(action: apply_patch.PatchAction, policy: dict[str, Any], cwd: Path) -> bool:
    """Every file the patch writes or deletes is writable under the policy (turn cwd roots)."""
    mode = prompts.sandbox_mode(policy)
    if mode == "danger-full-access":
        return True
    if mode != "workspace-write":
        return False
    roots = _roots(policy, cwd)
    return all(_writable(path, roots) for path in _patch_targets(action))


def assess_patch(action: apply_patch.PatchAction, policy: str, sandbox_policy: dict[str, Any], cwd: Path) -> str:
    """"ask", "auto", or "reject: <reason>" as 0.58 decides for a verified patch."""
    if not action.changes:
        return "reject: empty patch"
    if policy == "untrusted":
        return "ask"
    if policy == "on-failure" or patch_within_sandbox(action, sandbox_policy, cwd):
        return "auto"
    if policy == "never":
        return f"reject: {OUTSIDE_PROJECT}"
    return "ask"


def _first_blocked(action: apply_patch.PatchAction, policy: dict[str, Any], cwd: Path) -> str:
    """What a sandboxed apply_patch run reports for the first file it may not write."""
    roots = _roots(policy, cwd)
    for hunk in action.hunks:
        if hunk.kind == "delete":
            if not _writable(os.path.join(action.cwd, hunk.path), roots):
                return f"Failed to delete file {hunk.path}"
            continue
        shown = hunk.move_path if hunk.kind == "update" and hunk.move_path else hunk.path
        if not _writable(os.path.join(action.cwd, shown), roots):
            return f"Failed to write file {shown}"
    return "Failed to write file"


_ERROR_KINDS = {
    errno_mod.ENOENT: "NotFound",
    errno_mod.EACCES: "PermissionDenied",
    errno_mod.EPERM: "PermissionDenied",
    errno_mod.ENOTDIR: "NotADirectory",
    errno_mod.EISDIR: "IsADirectory",
    errno_mod.E2BIG: "ArgumentListTooLong",
    errno_mod.ETXTBSY: "ExecutableFileBusy",
    errno_mod.ENOMEM: "OutOfMemory",
}


def spawn_error_text(error: Exception) -> str:
    """A command that could not start, in 0.58's words (`execution error: Io(Os { … })`)."""
    if isinstance(error, OSError) and error.errno:
        kind = _ERROR_KINDS.get(error.errno, "Uncategorized")
        message = os.strerror(error.errno)
        return f'execution error: Io(Os {{ code: {error.errno}, kind: {kind}, message: "{message}" }})'
    return f"execution error: {error}"


# -- turn_diff (§5.3) ----------------------------------------------------------------------------------
_ZERO_OID = "0" * 40


def _blob_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _git_root(path: str) -> str | None:
    directory = os.path.dirname(path)
    while True:
        if os.path.exists(os.path.join(directory, ".git")):
            return directory
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def _display(path: str) -> str:
    """Repository-relative inside a git work tree, else the absolute path (so `a//tmp/…`)."""
    root = _git_root(path)
    return os.path.relpath(path, root) if root else path


def _read_bytes(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError:
        return None


def _mode(path: str) -> str:
    try:
        return "100755" if os.stat(path).st_mode & 0o111 else "100644"
    except OSError:
        return "100644"


class TurnDiff:
    """The net change of a turn's patches: each touched file's content before its first patch
    (baseline) against what is on disk now; a moved file stays one entry under its new name."""

    def __init__(self) -> None:
        self._entries: list[dict[str, Any]] = []  # {"base": path, "now": path, "before": bytes|None, "mode": str}

    def track(self, action: apply_patch.PatchAction) -> None:
        for path, change in action.changes.items():
            entry = next((e for e in self._entries if e["now"] == path), None)
            if entry is None:
                entry = {"base": path, "now": path, "before": _read_bytes(path), "mode": _mode(path)}
                self._entries.append(entry)
            move = (change.get("update") or {}).get("move_path")
            if move and move != path:
                if not any(e["now"] == move for e in self._entries) and os.path.exists(move):
                    # An overwritten destination keeps its own baseline (it is deleted in effect).
                    self._entries.append({"base": move, "now": None, "before": _read_bytes(move), "mode": _mode(move)})
                entry["now"] = move

    def unified_diff(self) -> str:
        parts: list[str] = []
        for entry in sorted(self._entries, key=lambda e: _display(e["base"])):
            before = entry["before"]
            after = _read_bytes(entry["now"]) if entry["now"] else None
            if before == after:
                continue
            left, right = _display(entry["base"]), _display(entry["now"] or entry["base"])
            lines = [f"diff --git a/{left} b/{right}\n"]
            if before is None:
                lines.append(f"new file mode {_mode(entry['now'])}\n")
            elif after is None:
                lines.append(f"deleted file mode {entry['mode']}\n")
            left_oid = _blob_oid(before) if before is not None else _ZERO_OID
            right_oid = _blob_oid(after) if after is not None else _ZERO_OID
            lines.append(f"index {left_oid}..{right_oid}\n")
            lines.append(f"--- a/{left}\n" if before is not None else "--- /dev/null\n")
            lines.append(f"+++ b/{right}\n" if after is not None else "+++ /dev/null\n")
            old = (before or b"").decode(errors="replace")
            new = (after or b"").decode(errors="replace")
            lines.append(apply_patch.unified_diff(old, new, context=3))
            parts.append("".join(lines))
        return "".join(parts)


# -- turn items (the `item_*` events) ----------------------------------------------------------------
@dataclass
class _ResponseState:
    """What one model response has produced so far: its items, its tool calls, 0.58's active item
    (the id of the item announced by `item_started` and not finished yet), and on the chat wire the
    pieces 0.58's aggregation holds back."""

    items: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    active: str | None = None
    chat_message_open: bool = False
    chat_text: list[str] = field(default_factory=list)
    chat_pieces: list[str] | None = None
    chat_reasoning: list[str] = field(default_factory=list)


def _texts(parts: Any) -> list[str]:
    return [part.get("text", "") for part in parts or [] if isinstance(part, dict)]


def turn_item(item: dict[str, Any]) -> dict[str, Any] | None:
    """A provider output item as the core TurnItem of `item_started` / `item_completed`, None for
    what is not one (tool calls). A message without an id gets a fresh one each time, as in 0.58."""
    kind = item.get("type")
    if kind == "message" and item.get("role", "assistant") == "assistant":
        content = [{"Text": {"text": text}} for text in _output_texts(item)]
        return {"AgentMessage": {"id": item.get("id") or str(uuid.uuid4()), "content": content}}
    if kind == "reasoning":
        return {
            "Reasoning": {
                "id": str(item.get("id") or ""),
                "summary_text": _texts(item.get("summary")),
                "raw_content": _texts(item.get("content")),
            }
        }
    return None


def _turn_item_id(payload: dict[str, Any]) -> str:
    (body,) = payload.values()
    return str(body["id"])


def _chat_reasoning(pieces: list[str]) -> dict[str, Any]:
    return {
        "type": "reasoning",
        "id": "",
        "summary": [],
        "content": [{"type": "reasoning_text", "text": piece} for piece in pieces],
        "encrypted_content": None,
    }


# -- the loop ---------------------------------------------------------------------------------------
class TurnWorker:
    """One turn's loop. `run()` never raises: a failure becomes `error` + `task_complete`."""

    def __init__(self, spec: TurnSpec, handle: TurnHandle, deps: TurnDeps) -> None:
        self.spec = spec
        self.handle = handle
        self.deps = deps
        self.out = handle.outbox
        self.history = list(spec.history)
        self.info = spec.token_info
        self.last_agent_message: str | None = None
        self.session_approvals: set[tuple[tuple[str, ...], str]] = set(spec.session_approvals)
        self.diff = TurnDiff()

    def event(self, msg: dict[str, Any]) -> None:
        self.out.put("event", msg)

    def run(self) -> None:
        try:
            self._loop()
        except _Cancelled:
            pass
        except ModelFailure as failure:
            if not self.handle.cancelled:
                self.event({"type": "error", "message": failure.message})
                self.event({"type": "task_complete", "last_agent_message": None})
        except Exception as error:  # noqa: BLE001 - a turn must end with an event, never a dead worker
            log.exception("turn %s failed", self.spec.turn_id)
            if not self.handle.cancelled:
                self.event({"type": "error", "message": f"internal error: {error}"})
                self.event({"type": "task_complete", "last_agent_message": None})
        finally:
            self.out.put("end", None)

    def _check(self) -> None:
        if self.handle.cancelled:
            raise _Cancelled

    def _loop(self) -> None:
        first = True
        while True:
            self._check()
            for pending in self.handle.take_input():
                self.history.append(pending["item"])
                self.out.put("item", pending["item"])
            self.out.put("turn_context", self.spec.turn_context)
            if first:
                first = False
                if not self.deps.is_git_repo(self.spec.cwd):
                    self.event(
                        {
                            "type": "background_event",
                            "message": "Snapshots disabled: current directory is not a Git repository.",
                        }
                    )
            needs_follow_up = self._one_request()
            if not needs_follow_up and not self._has_pending_input():
                break
        self.event({"type": "task_complete", "last_agent_message": self.last_agent_message})

    def _has_pending_input(self) -> bool:
        # §12: input queued during the turn is carried into one more request, never dropped.
        items = self.handle.take_input()
        for item in items:
            self.handle.add_input(item)
        return bool(items)

    # one model request and the tools it asks for; True when another request must follow
    def _one_request(self) -> bool:
        from actors import model_client as mc

        request = self.deps.make_request(self.spec, prompt_history(self.history, self.spec.tools))
        cancel = self.deps.make_cancel()
        self.handle.set_stream_cancel(cancel)
        state = _ResponseState()
        rate_limits: dict[str, Any] | None = None
        chat = self.spec.wire_api == "chat"
        try:
            for ev in self.deps.stream_model(request, self.deps.auth, cancel):
                self._check()
                if chat and isinstance(ev, mc.TextDelta | mc.ReasoningContentDelta | mc.ItemDone):
                    self._chat_event(ev, state, mc)
                elif isinstance(ev, mc.TextDelta):
                    if state.active is not None:
                        self.event(self._delta_event("agent_message_content_delta", state.active, ev.text))
                        self.event({"type": "agent_message_delta", "delta": ev.text})
                elif isinstance(ev, mc.ItemAdded):
                    self._item_added(_as_dict(ev.item) or {}, state)
                elif isinstance(ev, mc.ReasoningSummaryPartAdded):
                    if state.active is not None:  # 0.58: every summary part, the first included
                        self.event({"type": "agent_reasoning_section_break"})
                elif isinstance(ev, mc.ReasoningSummaryDelta):
                    if state.active is not None:
                        self.event(self._delta_event("reasoning_content_delta", state.active, ev.text))
                        self.event({"type": "agent_reasoning_delta", "delta": ev.text})
                elif isinstance(ev, mc.ReasoningContentDelta):
                    if state.active is not None:
                        self.event(self._delta_event("reasoning_raw_content_delta", state.active, ev.text))
                        self.event({"type": "agent_reasoning_raw_content_delta", "delta": ev.text})
                elif isinstance(ev, mc.ItemDone):
                    self._item_done(_as_dict(ev.item) or {}, state)
                elif isinstance(ev, mc.RateLimits):
                    rate_limits = normalize_rate_limits(ev.snapshot)
                    self.event({"type": "token_count", "info": self.info, "rate_limits": rate_limits})
                elif isinstance(ev, mc.Completed):
                    if chat:
                        self._chat_completed(state)
                    usage = normalize_usage(ev.token_usage)
                    if usage is not None:
                        self.info = add_usage(self.info, usage)
                    self.event({"type": "token_count", "info": self.info, "rate_limits": rate_limits})
                    break
                elif isinstance(ev, mc.Reconnecting):
                    self.event({"type": "stream_error", "message": ev.message})
                    # the request starts over: nothing is active, and the chat aggregation of the failed
                    # attempt must not double the retried answer
                    state.active = None
                    state.chat_message_open = False
                    state.chat_text.clear()
                    state.chat_pieces = None
                    state.chat_reasoning.clear()
        except mc.ModelCancelled as cancelled:
            raise _Cancelled from cancelled
        except mc.ModelError as error:
            self._check()
            raise ModelFailure(str(getattr(error, "message", None) or error)) from error
        finally:
            self.handle.set_stream_cancel(None)
        self._check()
        outputs = [self._run_tool(call) for call in state.calls]
        for item in state.items:
            self.history.append(item)
            self.out.put("item", item)
        for output in outputs:
            self.history.append(output)
            self.out.put("item", output)
        self._emit_turn_diff()  # 0.58 reports the turn's diff after every request once a patch touched files
        return bool(state.calls)

    # -- items (0.58: an item added is announced and becomes the active item; a finished item is
    # -- announced as started too when nothing was active, then completed) ----------------------
    def _item_event(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        return {"type": kind, "thread_id": self.spec.conversation_id, "turn_id": self.spec.turn_id, "item": payload}

    def _delta_event(self, kind: str, item_id: str, delta: str) -> dict[str, Any]:
        return {
            "type": kind,
            "thread_id": self.spec.conversation_id,
            "turn_id": self.spec.turn_id,
            "item_id": item_id,
            "delta": delta,
        }

    def _item_added(self, item: dict[str, Any], state: _ResponseState) -> None:
        payload = turn_item(item)
        if payload is None:
            return  # tool calls are not turn items: the active item stays
        self.event(self._item_event("item_started", payload))
        state.active = _turn_item_id(payload)

    def _item_done(self, item: dict[str, Any], state: _ResponseState) -> None:
        was_active = state.active is not None
        state.active = None
        kind = item.get("type")
        kept = history_item(item)
        state.items.append(kept)
        if kind in ("function_call", "custom_tool_call"):
            state.calls.append(kept)
            return
        payload = turn_item(item)
        if payload is None:
            return
        if not was_active:
            self.event(self._item_event("item_started", payload))
        self.event(self._item_event("item_completed", payload))
        if "AgentMessage" in payload:
            texts = _output_texts(item)
            for text in texts:
                self.event({"type": "agent_message", "message": text})
            if texts:
                self.last_agent_message = texts[-1]
        elif "Reasoning" in payload:
            for text in payload["Reasoning"]["summary_text"]:
                self.event({"type": "agent_reasoning", "text": text})

    # -- the chat wire, aggregated as 0.58 does it -----------------------------------------------
    # 0.58's chat reader announces an assistant message at its first text chunk and a reasoning item
    # (empty id, one raw-content entry per chunk) at its first reasoning chunk, and finishes that
    # reasoning item when the choice finishes. Its aggregating layer then holds back every delta and
    # the assistant message, and at completion emits the whole reasoning and the whole message as
    # fresh items. The model client streams chunks (`chat_aggregate` off); this rebuilds those items.
    def _chat_event(self, ev: Any, state: _ResponseState, mc: Any) -> None:
        if isinstance(ev, mc.TextDelta):
            if not state.chat_message_open:
                state.chat_message_open = True
                self._item_added({"type": "message", "role": "assistant", "content": []}, state)
            state.chat_text.append(ev.text)
        elif isinstance(ev, mc.ReasoningContentDelta):
            if state.chat_pieces is None:
                state.chat_pieces = []
                self._item_added(_chat_reasoning([]), state)
            state.chat_pieces.append(ev.text)
            state.chat_reasoning.append(ev.text)
        else:
            item = _as_dict(ev.item) or {}
            kind = item.get("type")
            if kind == "message":
                if not state.chat_text:
                    state.chat_text.append("".join(_output_texts(item)))
                state.chat_message_open = False
                return  # held back until completion
            if kind == "reasoning":
                pieces = state.chat_pieces
                if pieces is None:
                    pieces = [part.get("text", "") for part in item.get("content") or [] if isinstance(part, dict)]
                state.chat_pieces = None
                item = _chat_reasoning(pieces)
            self._item_done(item, state)

    def _chat_completed(self, state: _ResponseState) -> None:
        if state.chat_reasoning:
            self._item_done(_chat_reasoning(["".join(state.chat_reasoning)]), state)
        text = "".join(state.chat_text)
        if text:
            message = {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}
            self._item_done(message, state)

    # -- tools ----------------------------------------------------------------------------------
    def _run_tool(self, call: dict[str, Any]) -> dict[str, Any]:
        self._check()
        call_id = call["call_id"]
        name = call["name"]
        tools = self.spec.tools
        if call["type"] == "custom_tool_call":
            if name == "apply_patch" and _offered(tools, "apply_patch", "custom"):
                output = self._patch_text(call_id, call.get("input") or "")
            else:
                output = f"unsupported call: {name}"
            return {"type": "custom_tool_call_output", "call_id": call_id, "output": output}
        if name == "shell":
            output = self._shell(call)
        elif name == "apply_patch" and _offered(tools, "apply_patch", "function"):
            output = self._patch_function(call)
        elif name == "update_plan":
            output = self._update_plan(call)
        elif name in _MCP_RESOURCE_TOOLS:
            output = self._mcp_resource_tool(call)
        elif name == "view_image":
            output = self._view_image(call)
        else:
            output = f"unsupported call: {name}"
        return {"type": "function_call_output", "call_id": call_id, "output": output}

    def _mcp_resource_tool(self, call: dict[str, Any]) -> str:
        """0.58's MCP resource tools with no MCP server configured (DECISIONS 18): announced as an MCP
        call of the named server (`codex` when none is named), answering an empty list, or the error
        of an unknown server. Arguments that do not parse answer the model without any event."""
        name = call["name"]
        raw = (call.get("arguments") or "").strip()
        try:
            args = json.loads(raw) if raw else {}
        except ValueError as error:
            return f"failed to parse function arguments: {error}"
        if not isinstance(args, dict):
            return "failed to parse function arguments: invalid type: expected an object"
        required = ("server", "uri") if name == "read_mcp_resource" else ()
        for key in required:
            if key not in args:
                return f"failed to parse function arguments: missing field `{key}`"
        for key in ("server", "uri", "cursor"):
            value = args.get(key)
            if value is not None and not isinstance(value, str):
                return f"failed to parse function arguments: invalid type for `{key}`: expected a string"
        server = args.get("server")
        invocation = {"server": server if server is not None else "codex", "tool": name,
                      "arguments": args if raw else None}
        self.event({"type": "mcp_tool_call_begin", "call_id": call["call_id"], "invocation": invocation})
        started = time.monotonic()
        if server is not None:
            output = f"{_MCP_RESOURCE_TOOLS[name][1]} failed: unknown MCP server '{server}'"
            result: dict[str, Any] = {"Err": output}
        else:
            output = json.dumps({_MCP_RESOURCE_TOOLS[name][0]: []}, separators=(",", ":"))
            result = {"Ok": {"content": [{"text": output, "type": "text"}], "isError": False}}
        self.event({"type": "mcp_tool_call_end", "call_id": call["call_id"], "invocation": invocation,
                    "duration": _duration(time.monotonic() - started), "result": result})
        return output

    def _update_plan(self, call: dict[str, Any]) -> str:
        try:
            args = json.loads(call.get("arguments") or "{}")
            plan = [{"step": str(entry["step"]), "status": str(entry["status"])} for entry in args["plan"]]
        except (ValueError, KeyError, TypeError) as error:
            return f"failed to parse function arguments: {error}"
        self.event({"type": "plan_update", "explanation": args.get("explanation"), "plan": plan})
        return "Plan updated"

    def _view_image(self, call: dict[str, Any]) -> str:
        try:
            args = json.loads(call.get("arguments") or "{}")
            path = Path(args["path"])
        except (ValueError, KeyError, TypeError) as error:
            return f"failed to parse function arguments: {error}"
        path = path if path.is_absolute() else self.spec.cwd / path
        try:
            data = path.read_bytes()
        except OSError as error:
            return f"unable to read image at {path}: {error}"
        url = "data:image/png;base64," + base64.b64encode(data).decode()
        image = {"type": "message", "role": "user", "content": [{"type": "input_image", "image_url": url}]}
        self.handle.add_input({"item": image})
        return "attached local image path"

    # -- approvals ------------------------------------------------------------------------------
    def _decision(self, call_id: str, request: dict[str, Any]) -> str:
        """Emit an approval request event and block until its decision (or the turn's cancellation)."""
        self.handle.expect_decision(call_id)
        self.event(request)
        decision = self.handle.wait_decision(call_id)
        if decision is None:
            raise _Cancelled
        return decision

    def _abort_turn(self) -> None:
        """`abort`: the actor ends the turn with `turn_aborted` once the events before this are out."""
        self.out.put("abort", None)
        raise _Cancelled

    # -- shell ----------------------------------------------------------------------------------
    def _shell_args(self, call: dict[str, Any]) -> dict[str, Any] | str:
        try:
            args = json.loads(call.get("arguments") or "{}")
        except ValueError as error:
            return f"failed to parse function arguments: {error}"
        if not isinstance(args, dict):
            return "failed to parse function arguments: expected an object with a `command` list"
        command = args.get("command")
        if not isinstance(command, list) or not all(isinstance(part, str) for part in command):
            return "failed to parse function arguments: `command` must be a list of strings"
        if not command:
            return "failed to parse function arguments: `command` must not be empty"
        return args

    def _shell_cwd(self, args: dict[str, Any]) -> Path:
        workdir = args.get("workdir")
        if isinstance(workdir, str) and workdir:
            return (self.spec.cwd / workdir) if not Path(workdir).is_absolute() else Path(workdir)
        return self.spec.cwd

    def _shell(self, call: dict[str, Any]) -> str:
        call_id = call["call_id"]
        args = self._shell_args(call)
        if isinstance(args, str):
            return args
        policy = self.spec.approval_policy
        escalated = args.get("with_escalated_permissions") is True
        if escalated and policy != "on-request":
            return escalation_refusal(policy)
        argv = list(args["command"])
        cwd = self._shell_cwd(args)
        try:
            action = apply_patch.verify_invocation(argv, str(cwd))
        except apply_patch.PatchError as error:
            return apply_patch.verification_failed(error)
        if action is not None:  # §5.3: a patch, not a command
            return self._patch(call_id, action)
        return self._exec(call_id, argv, cwd, args, escalated)

    def _exec(self, call_id: str, argv: list[str], cwd: Path, args: dict[str, Any], escalated: bool) -> str:
        policy = self.spec.approval_policy
        mode = prompts.sandbox_mode(self.spec.sandbox_policy)
        parsed = command_safety.parse_command(argv)
        self.event(
            {
                "type": "exec_command_begin",
                "call_id": call_id,
                "command": argv,
                "cwd": str(cwd),
                "parsed_cmd": parsed,
                "is_user_shell_command": False,
            }
        )
        justification = args.get("justification") if isinstance(args.get("justification"), str) else None
        key = (tuple(argv), str(cwd))
        approved = False
        if needs_initial_approval(policy, mode, argv, escalated):
            decision = self._exec_decision(call_id, argv, cwd, parsed, justification, key)
            if decision in ("denied", "abort"):
                return self._exec_rejected(call_id, decision)
            approved = True
        timeout_ms = args.get("timeout_ms")
        valid = isinstance(timeout_ms, int | float) and not isinstance(timeout_ms, bool) and timeout_ms > 0
        timeout = int(timeout_ms) if valid else DEFAULT_SHELL_TIMEOUT_MS
        # An escalated command skips the sandbox on its first attempt (it was approved for that).
        sandboxed = mode != "danger-full-access" and not escalated
        try:
            outcome = self._spawn(call_id, argv, cwd, timeout, self.spec.sandbox_policy if sandboxed else _UNCONFINED)
            if sandboxed and policy in ("untrusted", "on-failure") and likely_sandbox_denied(outcome):
                # 0.58 offers a retry outside the sandbox; an approved command is retried without asking.
                if not approved:
                    decision = self._exec_decision(call_id, argv, cwd, parsed, RETRY_REASON, key)
                    if decision in ("denied", "abort"):
                        return self._exec_rejected(call_id, decision)
                outcome = self._spawn(call_id, argv, cwd, timeout, _UNCONFINED)
        except _SpawnFailed as failed:
            text = failed.text
            self._end_shell(call_id, b"", text.encode(), text.encode(), -1, 0.0, text)
            return text
        self._check()
        aggregated = outcome.aggregated.decode(errors="replace")
        if outcome.timed_out:
            aggregated = f"command timed out after {int(outcome.duration * 1000)} milliseconds\n{aggregated}"
        formatted = format_for_model(aggregated)
        self._end_shell(
            call_id, outcome.stdout, outcome.stderr, outcome.aggregated, outcome.exit_code, outcome.duration, formatted
        )
        return exec_output_json(formatted, outcome.exit_code, outcome.duration)

    def _exec_decision(
        self,
        call_id: str,
        argv: list[str],
        cwd: Path,
        parsed: list[dict[str, Any]],
        reason: str | None,
        key: tuple[tuple[str, ...], str],
    ) -> str:
        if key in self.session_approvals:
            return "approved_for_session"
        request: dict[str, Any] = {
            "type": "exec_approval_request", "call_id": call_id, "command": argv, "cwd": str(cwd)
        }
        if reason is not None:
            request["reason"] = reason
        request["parsed_cmd"] = parsed
        decision = self._decision(call_id, request)
        if decision == "approved_for_session":
            self.session_approvals.add(key)
            self.out.put("approved_for_session", key)
        return decision

    def _exec_rejected(self, call_id: str, decision: str) -> str:
        text = EXEC_REJECTED
        self._end_shell(call_id, b"", text.encode(), text.encode(), -1, 0.0, text)
        if decision == "abort":
            self._abort_turn()
        return text

    def _spawn(self, call_id: str, argv: list[str], cwd: Path, timeout: int, policy: dict[str, Any]) -> Any:
        sent = [0]

        def on_output(stream: str, chunk: bytes) -> None:
            if sent[0] >= MAX_OUTPUT_DELTAS_PER_CALL or self.handle.cancelled:
                return
            sent[0] += 1
            self.event(
                {
                    "type": "exec_command_output_delta",
                    "call_id": call_id,
                    "stream": stream,
                    "chunk": base64.b64encode(chunk).decode(),
                }
            )

        try:
            # The policy is read against the turn's cwd (as 0.58 does), so a workdir outside the turn's
            # writable roots stays read-only instead of becoming a root itself.
            return self.deps.run_command(
                argv,
                str(cwd),
                self.deps.command_env(self.spec.shell_environment_policy),
                timeout,
                policy,
                on_output=on_output,
                cancel=self.handle.cancel_event,
                sandbox_cwd=str(self.spec.cwd),
            )
        except Exception as error:  # noqa: BLE001 - a spawn failure is the model's tool output
            raise _SpawnFailed(spawn_error_text(error)) from error

    def _end_shell(
        self,
        call_id: str,
        stdout: bytes,
        stderr: bytes,
        aggregated: bytes,
        exit_code: int,
        duration: float,
        formatted: str,
    ) -> None:
        self.event(
            {
                "type": "exec_command_end",
                "call_id": call_id,
                "stdout": stdout.decode(errors="replace"),
                "stderr": stderr.decode(errors="replace"),
                "aggregated_output": aggregated.decode(errors="replace"),
                "exit_code": exit_code,
                "duration": _duration(duration),
                "formatted_output": formatted,
            }
        )

    # -- apply_patch ----------------------------------------------------------------------------
    def _patch_function(self, call: dict[str, Any]) -> str:
        try:
            args = json.loads(call.get("arguments") or "{}")
            text = args["input"]
        except (ValueError, KeyError, TypeError) as error:
            return f"failed to parse function arguments: {error}"
        if not isinstance(text, str):
            return "failed to parse function arguments: `input` must be a string"
        return self._patch_text(call["call_id"], text)

    def _patch_text(self, call_id: str, text: str) -> str:
        try:
            action = apply_patch.verify_patch(text, str(self.spec.cwd))
        except apply_patch.PatchError as error:
            return apply_patch.verification_failed(error)
        return self._patch(call_id, action)

    def _patch(self, call_id: str, action: apply_patch.PatchAction) -> str:
        """A verified patch: approval as 0.58 decides, then applied here, all or nothing."""
        policy = self.spec.approval_policy
        sandbox_policy = self.spec.sandbox_policy
        verdict = assess_patch(action, policy, sandbox_policy, self.spec.cwd)
        if verdict.startswith("reject: "):
            return "patch rejected: " + verdict.removeprefix("reject: ")
        auto = verdict == "auto"
        if not auto:
            request = {"type": "apply_patch_approval_request", "call_id": call_id, "changes": action.changes}
            decision = self._decision(call_id, request)
            if decision == "abort":
                self._abort_turn()
            if decision == "denied":
                return PATCH_REJECTED
        self.event({"type": "patch_apply_begin", "call_id": call_id, "auto_approved": auto, "changes": action.changes})
        self.diff.track(action)
        confined = prompts.sandbox_mode(sandbox_policy) != "danger-full-access"
        if auto and confined and not patch_within_sandbox(action, sandbox_policy, self.spec.cwd):
            # Only `on-failure` gets here: 0.58's sandboxed attempt cannot write these files, so it asks
            # to retry outside the sandbox, as an exec approval of `apply_patch`.
            self._patch_output(call_id, "stderr", _first_blocked(action, sandbox_policy, self.spec.cwd) + "\n")
            request = {
                "type": "exec_approval_request",
                "call_id": call_id,
                "command": ["apply_patch"],
                "cwd": action.cwd,
                "reason": RETRY_REASON,
                "parsed_cmd": command_safety.parse_command(["apply_patch"]),
            }
            decision = self._decision(call_id, request)
            if decision in ("denied", "abort"):
                self.event(
                    {"type": "patch_apply_end", "call_id": call_id, "stdout": "", "stderr": EXEC_REJECTED,
                     "success": False}
                )
                self._emit_turn_diff()
                if decision == "abort":
                    self._abort_turn()
                return EXEC_REJECTED
        self._check()
        started = time.monotonic()
        result = apply_patch.apply_action(action)
        duration = time.monotonic() - started
        if result.stderr:
            self._patch_output(call_id, "stderr", result.stderr)
        if result.stdout:
            self._patch_output(call_id, "stdout", result.stdout)
        self.event(
            {
                "type": "patch_apply_end",
                "call_id": call_id,
                "stdout": result.stdout,
                "stderr": result.stderr,
                "success": result.success,
            }
        )
        self._emit_turn_diff()
        return exec_output_json(format_for_model(result.stderr + result.stdout), 0 if result.success else 1, duration)

    def _patch_output(self, call_id: str, stream: str, text: str) -> None:
        chunk = base64.b64encode(text.encode()).decode()
        self.event({"type": "exec_command_output_delta", "call_id": call_id, "stream": stream, "chunk": chunk})

    def _emit_turn_diff(self) -> None:
        diff = self.diff.unified_diff()
        if diff:
            self.event({"type": "turn_diff", "unified_diff": diff})


class _SpawnFailed(Exception):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class _Cancelled(Exception):
    """The turn was interrupted: unwind quietly (the actor already announced the abort)."""


class ModelFailure(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
