"""The agent loop of one turn, run on a worker thread (never inside an actor).

The worker streams model responses, turns them into 0.58's events, runs tool calls and feeds their
outputs back until a response asks for no tool. It owns nothing the conversation actor reads:
everything it produces goes, in order, through the turn's `Outbox` as operations the actor applies
(`("event", msg)`, `("item", response_item)`, `("turn_context", payload)`, `("end", None)`).
Interrupt is the actor's business: it flags the `TurnHandle`, which wakes a blocked stream read and
kills a running command, and ignores whatever this outbox still delivers.
"""

from __future__ import annotations

import base64
import json
import logging
import shlex
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from actors import prompts

log = logging.getLogger(__name__)

DEFAULT_SHELL_TIMEOUT_MS = 10_000
# What the model is shown of a command's output (the event keeps the full capture).
MODEL_OUTPUT_MAX_BYTES = 10 * 1024
MODEL_OUTPUT_MAX_LINES = 256
MAX_OUTPUT_DELTAS_PER_CALL = 10_000

REFUSAL = (
    "exec command refused: this server can only run commands with approval policy `never` and "
    "sandbox `danger-full-access` until approvals and sandboxing are available"
)


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
def _message_text(item: dict[str, Any]) -> str:
    return "".join(
        part.get("text", "")
        for part in item.get("content") or []
        if isinstance(part, dict) and part.get("type") in ("output_text", "input_text", "text")
    )


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

        request = self.deps.make_request(self.spec, self.history)
        cancel = self.deps.make_cancel()
        self.handle.set_stream_cancel(cancel)
        items: list[dict[str, Any]] = []
        calls: list[dict[str, Any]] = []
        agent_item: str | None = None
        reasoning_item: str | None = None
        rate_limits: dict[str, Any] | None = None
        chat = self.spec.wire_api == "chat"
        try:
            for ev in self.deps.stream_model(request, self.deps.auth, cancel):
                self._check()
                if isinstance(ev, mc.TextDelta):
                    if agent_item is None:
                        agent_item = self._start_agent_item(None)
                    if not chat:  # 0.58 aggregates chat streams: no deltas on that wire
                        self.event(
                            {
                                "type": "agent_message_content_delta",
                                "thread_id": self.spec.conversation_id,
                                "turn_id": self.spec.turn_id,
                                "item_id": agent_item,
                                "delta": ev.text,
                            }
                        )
                        self.event({"type": "agent_message_delta", "delta": ev.text})
                elif isinstance(ev, mc.ItemAdded):
                    item = _as_dict(ev.item) or {}
                    if item.get("type") == "message":
                        agent_item = self._start_agent_item(item.get("id"))
                    elif item.get("type") == "reasoning":
                        reasoning_item = item.get("id") or str(uuid.uuid4())
                        self.event(self._item_event("item_started", self._reasoning_payload(reasoning_item, [])))
                elif isinstance(ev, mc.ReasoningSummaryDelta):
                    self.event({"type": "agent_reasoning_delta", "delta": ev.text})
                elif isinstance(ev, mc.ReasoningContentDelta):
                    self.event({"type": "agent_reasoning_raw_content_delta", "delta": ev.text})
                elif isinstance(ev, mc.ItemDone):
                    item = _as_dict(ev.item) or {}
                    agent_item, reasoning_item = self._item_done(item, items, calls, agent_item, reasoning_item)
                elif isinstance(ev, mc.RateLimits):
                    rate_limits = normalize_rate_limits(ev.snapshot)
                    self.event({"type": "token_count", "info": self.info, "rate_limits": rate_limits})
                elif isinstance(ev, mc.Completed):
                    usage = normalize_usage(ev.token_usage)
                    if usage is not None:
                        self.info = add_usage(self.info, usage)
                    self.event({"type": "token_count", "info": self.info, "rate_limits": rate_limits})
                    break
                elif isinstance(ev, mc.Reconnecting):
                    self.event({"type": "stream_error", "message": ev.message})
        except mc.ModelCancelled as cancelled:
            raise _Cancelled from cancelled
        except mc.ModelError as error:
            self._check()
            raise ModelFailure(str(getattr(error, "message", None) or error)) from error
        finally:
            self.handle.set_stream_cancel(None)
        self._check()
        outputs = [self._run_tool(call) for call in calls]
        for item in items:
            self.history.append(item)
            self.out.put("item", item)
        for output in outputs:
            self.history.append(output)
            self.out.put("item", output)
        return bool(calls)

    # -- items ----------------------------------------------------------------------------------
    def _item_event(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        return {"type": kind, "thread_id": self.spec.conversation_id, "turn_id": self.spec.turn_id, "item": payload}

    @staticmethod
    def _reasoning_payload(item_id: str, summary: list[str]) -> dict[str, Any]:
        return {"Reasoning": {"id": item_id, "summary_text": summary, "raw_content": []}}

    def _start_agent_item(self, item_id: str | None) -> str:
        item_id = item_id or str(uuid.uuid4())
        self.event(self._item_event("item_started", {"AgentMessage": {"id": item_id, "content": []}}))
        return item_id

    def _item_done(
        self,
        item: dict[str, Any],
        items: list[dict[str, Any]],
        calls: list[dict[str, Any]],
        agent_item: str | None,
        reasoning_item: str | None,
    ) -> tuple[str | None, str | None]:
        kind = item.get("type")
        if kind == "message":
            text = _message_text(item)
            item_id = agent_item or item.get("id") or str(uuid.uuid4())
            if agent_item is None:
                self._start_agent_item(item_id)
            done = {"AgentMessage": {"id": item_id, "content": [{"Text": {"text": text}}]}}
            self.event(self._item_event("item_completed", done))
            self.event({"type": "agent_message", "message": text})
            self.last_agent_message = text
            items.append(history_item(item))
            return None, reasoning_item
        if kind == "reasoning":
            summary = [part.get("text", "") for part in item.get("summary") or [] if isinstance(part, dict)]
            item_id = reasoning_item or item.get("id") or str(uuid.uuid4())
            self.event(self._item_event("item_completed", self._reasoning_payload(item_id, summary)))
            for text in summary:
                self.event({"type": "agent_reasoning", "text": text})
            items.append(history_item(item))
            return agent_item, None
        if kind in ("function_call", "custom_tool_call"):
            kept = history_item(item)
            items.append(kept)
            calls.append(kept)
            if kind == "function_call" and kept["name"] == "shell":
                self._announce_shell(kept)
            return agent_item, reasoning_item
        items.append(history_item(item))
        return agent_item, reasoning_item

    # -- tools ----------------------------------------------------------------------------------
    def _shell_args(self, call: dict[str, Any]) -> dict[str, Any] | None:
        try:
            args = json.loads(call.get("arguments") or "{}")
        except ValueError:
            return None
        if not isinstance(args, dict) or not isinstance(args.get("command"), list) or not args["command"]:
            return None
        if not all(isinstance(part, str) for part in args["command"]):
            return None
        return args

    def _shell_cwd(self, args: dict[str, Any]) -> Path:
        workdir = args.get("workdir")
        if isinstance(workdir, str) and workdir:
            return (self.spec.cwd / workdir) if not Path(workdir).is_absolute() else Path(workdir)
        return self.spec.cwd

    def _announce_shell(self, call: dict[str, Any]) -> None:
        # 0.58 emits exec_command_begin as soon as the call item is done, before the response ends.
        args = self._shell_args(call)
        if args is None:
            return
        argv = args["command"]
        self.event(
            {
                "type": "exec_command_begin",
                "call_id": call["call_id"],
                "command": argv,
                "cwd": str(self._shell_cwd(args)),
                "parsed_cmd": [{"type": "unknown", "cmd": shlex.join(argv)}],
                "is_user_shell_command": False,
            }
        )

    def _run_tool(self, call: dict[str, Any]) -> dict[str, Any]:
        self._check()
        call_id = call["call_id"]
        name = call["name"]
        if call["type"] == "custom_tool_call":
            return {"type": "custom_tool_call_output", "call_id": call_id, "output": f"unsupported call: {name}"}
        if name == "shell":
            output = self._shell(call)
        elif name == "update_plan":
            output = self._update_plan(call)
        elif name in ("list_mcp_resources", "list_mcp_resource_templates"):
            key = "resources" if name == "list_mcp_resources" else "resourceTemplates"
            output = json.dumps({key: []}, separators=(",", ":"))
        elif name == "read_mcp_resource":
            output = "read_mcp_resource failed: no MCP servers are configured"
        elif name == "view_image":
            output = self._view_image(call)
        else:
            output = f"unsupported call: {name}"
        return {"type": "function_call_output", "call_id": call_id, "output": output}

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

    def _shell(self, call: dict[str, Any]) -> str:
        call_id = call["call_id"]
        args = self._shell_args(call)
        if args is None:
            return "failed to parse function arguments: `command` must be a non-empty list of strings"
        cwd = self._shell_cwd(args)
        unconfined = prompts.sandbox_mode(self.spec.sandbox_policy) == "danger-full-access"
        if not (self.spec.approval_policy == "never" and unconfined):
            self._end_shell(call_id, b"", REFUSAL.encode(), REFUSAL.encode(), -1, 0.0, REFUSAL)
            return REFUSAL
        timeout_ms = args.get("timeout_ms")
        valid = isinstance(timeout_ms, int | float) and not isinstance(timeout_ms, bool) and timeout_ms > 0
        timeout = int(timeout_ms) if valid else DEFAULT_SHELL_TIMEOUT_MS
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
            outcome = self.deps.run_command(
                list(args["command"]),
                str(cwd),
                self.deps.command_env(self.spec.shell_environment_policy),
                timeout,
                self.spec.sandbox_policy,
                on_output=on_output,
                cancel=self.handle.cancel_event,
            )
        except Exception as error:  # noqa: BLE001 - a spawn failure is the model's tool output
            text = f"execution error: {error}"
            self._end_shell(call_id, b"", text.encode(), text.encode(), -1, 0.0, text)
            return exec_output_json(text, -1, 0.0)
        self._check()
        aggregated = outcome.aggregated.decode(errors="replace")
        if outcome.timed_out:
            aggregated = f"command timed out after {timeout} milliseconds\n{aggregated}"
        formatted = format_for_model(aggregated)
        self._end_shell(
            call_id, outcome.stdout, outcome.stderr, outcome.aggregated, outcome.exit_code, outcome.duration, formatted
        )
        return exec_output_json(formatted, outcome.exit_code, outcome.duration)

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


class _Cancelled(Exception):
    """The turn was interrupted: unwind quietly (the actor already announced the abort)."""


class ModelFailure(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
