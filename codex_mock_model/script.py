"""The scripted model's script format: a list of steps, each one model response.

JSON, typed with msgspec tagged unions on `type`; `script_json_schema()` publishes it. Every step
accepts `match` (pick this step when the latest user message contains that substring, instead of
taking steps in order), `usage` (token numbers reported with the response) and
`rate_limit_headers` (extra response headers, e.g. `x-codex-primary-used-percent`).
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec


class Usage(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Token usage reported at the end of a response (Responses `usage`, Chat `usage`)."""

    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_output_tokens: int = 0
    total_tokens: int | None = None  # input + output when absent


class _Step(msgspec.Struct, tag_field="type", forbid_unknown_fields=True, kw_only=True):
    match: str | None = None
    usage: Usage | None = None
    rate_limit_headers: dict[str, str | int | float] | None = None


class TextStep(_Step, tag="text"):
    """An assistant message streamed as `deltas` pieces (at least one)."""

    text: str
    deltas: int = 1


class ReasoningStep(_Step, tag="reasoning"):
    """A reasoning summary (`text`, streamed in `deltas` pieces), then an optional answer."""

    text: str
    answer: str | None = None
    deltas: int = 1


class ShellStep(_Step, tag="shell"):
    """A `shell` function call."""

    command: list[str]
    call_id: str | None = None
    workdir: str | None = None
    timeout_ms: int | None = None
    with_escalated_permissions: bool | None = None
    justification: str | None = None


class ApplyPatchStep(_Step, tag="apply_patch"):
    """A patch: the freeform `apply_patch` tool (`tool`), `shell ["apply_patch", patch]` (`shell`),
    or the JSON `apply_patch` function (`function`). On the chat wire `tool` becomes `function`."""

    patch: str
    via: Literal["tool", "shell", "function"] = "tool"
    call_id: str | None = None


class PlanItem(msgspec.Struct, forbid_unknown_fields=True):
    step: str
    status: str


class UpdatePlanStep(_Step, tag="update_plan"):
    """An `update_plan` function call."""

    plan: list[PlanItem]
    explanation: str | None = None
    call_id: str | None = None


class FunctionCallStep(_Step, tag="function_call"):
    """Any function call; `arguments` is sent as given when a string, JSON-encoded otherwise."""

    name: str
    arguments: Any = "{}"
    call_id: str | None = None


class HttpErrorStep(_Step, tag="http_error"):
    """A non-2xx answer; `body` is sent as given when a string, JSON-encoded otherwise."""

    status: int
    body: Any = ""
    headers: dict[str, str] | None = None


class FailedStep(_Step, tag="failed"):
    """A stream that ends with `response.failed` carrying `{code, message}` (Responses); on the
    chat wire an `error` chunk and no `[DONE]`."""

    message: str = "The model failed to answer"
    code: str | None = "server_error"


class CutStep(_Step, tag="cut"):
    """Streams `after_deltas` of the `deltas` pieces of `text`, then ends the stream cleanly
    without the completion event (Responses) or `[DONE]` (Chat)."""

    after_deltas: int = 0
    text: str = "This answer is cut short"
    deltas: int = 4


class StallStep(_Step, tag="stall"):
    """Streams `after_deltas` of the `deltas` pieces of `text`, then waits until released
    (control API) or the client goes away; once released it streams the rest and completes.
    With `before_headers` it waits before sending even the response status line."""

    before_headers: bool = False
    text: str = ""
    deltas: int = 1
    after_deltas: int = 0


Step = (
    TextStep
    | ReasoningStep
    | ShellStep
    | ApplyPatchStep
    | UpdatePlanStep
    | FunctionCallStep
    | HttpErrorStep
    | FailedStep
    | CutStep
    | StallStep
)


class Script(msgspec.Struct, forbid_unknown_fields=True):
    """A whole script file. A bare JSON list of steps is accepted too."""

    steps: list[Step] = []


_step_list = msgspec.json.Decoder(list[Step])
_script = msgspec.json.Decoder(Script)


def parse_steps(raw: bytes | str) -> list[Step]:
    """Steps from JSON: one step object, a list of steps, or `{"steps": [...]}`.
    Raises `msgspec.ValidationError` / `msgspec.DecodeError` with the offending path."""
    data = raw.encode() if isinstance(raw, str) else raw
    head = data.lstrip()[:1]
    if head == b"[":
        return _step_list.decode(data)
    obj = msgspec.json.decode(data)
    if isinstance(obj, dict) and "type" not in obj:
        return list(_script.decode(data).steps)
    return _step_list.decode(b"[" + data + b"]")


def steps_from_objects(objs: list[Any]) -> list[Step]:
    """Steps from already-decoded JSON values (dicts or Step structs)."""
    return [o if isinstance(o, _Step) else msgspec.convert(o, Step) for o in objs]


def step_to_json(step: Step) -> dict[str, Any]:
    return msgspec.to_builtins(step)


def script_json_schema() -> dict[str, Any]:
    """The JSON Schema of a script file (`{"steps": [...]}`), for publication."""
    schema = msgspec.json.schema(Script)
    schema["title"] = "codex-app-server mock-model script"
    return schema
