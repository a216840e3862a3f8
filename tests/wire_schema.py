"""Validate every line the server writes against 0.58.0's published JSON Schema (issue 2).

A `WireChecker` learns the method of each request the client sends (so a result is checked against
that method's response type), then checks received lines: results by the request's method,
notifications by method (`codex/event/<type>` as the `{id, msg, conversationId}` envelope around an
`EventMsg`), server requests by method, errors against `JSONRPCError`. Exempt are exactly the rows
DECISIONS.md marks * in its wire table: the parse error and the two -32600 replies, which carry
`id: null` (0.58's `RequestId` cannot be null). Methods beyond 0.58 are checked against our own
generated schema (`messages.catalog.schema_for_generation()`); `daemon/status` is not in that
catalog, so its schema is generated from `messages.daemon` the same way.

    checker = attach(client)          # before the first request
    ...
    assert checker.check_lines(client.lines) == []
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "shared" / "protocol" / "schema"
if not SCHEMA_DIR.is_dir():
    SCHEMA_DIR = Path("/work/shared/protocol/schema")

# Each 0.58 client request → the schema file of its result (written out rather than derived from
# our own catalog, so a wrong entry there cannot hide a wrong result here).
RESULT_SCHEMAS_058: dict[str, str] = {
    "initialize": "v1/InitializeResponse",
    "thread/start": "v2/ThreadStartResponse",
    "thread/resume": "v2/ThreadResumeResponse",
    "thread/archive": "v2/ThreadArchiveResponse",
    "thread/list": "v2/ThreadListResponse",
    "thread/compact": "v2/ThreadCompactResponse",
    "turn/start": "v2/TurnStartResponse",
    "turn/interrupt": "v2/TurnInterruptResponse",
    "model/list": "v2/ModelListResponse",
    "account/login/start": "v2/LoginAccountResponse",
    "account/login/cancel": "v2/CancelLoginAccountResponse",
    "account/logout": "v2/LogoutAccountResponse",
    "account/rateLimits/read": "v2/GetAccountRateLimitsResponse",
    "feedback/upload": "v2/FeedbackUploadResponse",
    "account/read": "v2/GetAccountResponse",
    "newConversation": "v1/NewConversationResponse",
    "getConversationSummary": "v1/GetConversationSummaryResponse",
    "listConversations": "v1/ListConversationsResponse",
    "resumeConversation": "v1/ResumeConversationResponse",
    "archiveConversation": "v1/ArchiveConversationResponse",
    "sendUserMessage": "v1/SendUserMessageResponse",
    "sendUserTurn": "v1/SendUserTurnResponse",
    "interruptConversation": "v1/InterruptConversationResponse",
    "addConversationListener": "v1/AddConversationSubscriptionResponse",
    "removeConversationListener": "v1/RemoveConversationSubscriptionResponse",
    "gitDiffToRemote": "v1/GitDiffToRemoteResponse",
    "loginApiKey": "v1/LoginApiKeyResponse",
    "loginChatGpt": "v1/LoginChatGptResponse",
    "cancelLoginChatGpt": "v1/CancelLoginChatGptResponse",
    "logoutChatGpt": "v1/LogoutChatGptResponse",
    "getAuthStatus": "v1/GetAuthStatusResponse",
    "getUserSavedConfig": "v1/GetUserSavedConfigResponse",
    "setDefaultModel": "v1/SetDefaultModelResponse",
    "getUserAgent": "v1/GetUserAgentResponse",
    "userInfo": "v1/UserInfoResponse",
    "fuzzyFileSearch": "FuzzyFileSearchResponse",
    "execOneOffCommand": "v1/ExecOneOffCommandResponse",
}

# Beyond 0.58: result type names in our generated schema.
RESULT_SCHEMAS_OURS: dict[str, str] = {
    "account/login/complete": "v2/CompleteLoginAccountResponse",
    "daemon/status": "DaemonStatusResponse",
}

# Beyond 0.58 on the wire although 0.58's schema names them: we add thread and turn ids (§12), so
# they are checked against our generated types, not 0.58's.
NOTIFICATIONS_OURS: dict[str, str] = {
    "item/agentMessage/delta": "AgentMessageDeltaNotification",
    "item/commandExecution/outputDelta": "CommandExecutionOutputDeltaNotification",
    "turn/completed": "TurnCompletedNotification",
}

EVENT_PREFIX = "codex/event/"

# DECISIONS.md wire table, rows marked *: (code, message prefix), always with `id: null`.
EXEMPT_NULL_ID_ERRORS: tuple[tuple[int, str], ...] = ((-32700, "Parse error"), (-32600, "Invalid request"))


class WireError(AssertionError):
    """A line we wrote does not match the schema."""


# -- schema loading -------------------------------------------------------------------------------
@functools.cache
def _schema_file(name: str) -> dict[str, Any]:
    return json.loads((SCHEMA_DIR / f"{name}.json").read_text(encoding="utf-8"))


@functools.cache
def _file_validator(name: str) -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(_schema_file(name))


@functools.cache
def _union_validators(name: str) -> dict[str, jsonschema.Draft7Validator]:
    """`ServerNotification` / `ServerRequest`: method → validator of its params, read from the union."""
    union = _schema_file(name)
    out: dict[str, jsonschema.Draft7Validator] = {}
    for variant in union["oneOf"]:
        props = variant["properties"]
        (method,) = props["method"]["enum"]
        params = props.get("params")
        if params is None:
            continue
        out[method] = jsonschema.Draft7Validator({**params, "definitions": union["definitions"]})
    return out


@functools.cache
def _generated() -> dict[str, Any]:
    from messages import catalog

    schemas = dict(catalog.schema_for_generation())
    try:
        import msgspec

        from messages import daemon
    except ImportError:  # pragma: no cover - the daemon types are part of the tree
        return schemas
    for _, result in daemon.DAEMON_REQUESTS.values():
        (schema,), components = msgspec.json.schema_components([result], ref_template="#/$defs/{name}")
        schemas.setdefault(result.__name__, {**schema, "$defs": components})
    return schemas


@functools.cache
def _generated_validator(name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(_generated()[name])


def generated_schema(name: str) -> dict[str, Any]:
    """Our generated schema of one type (for tests that look inside it)."""
    return _generated()[name]


def _errors(validator: jsonschema.protocols.Validator, value: Any, what: str) -> list[str]:
    found = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    return [f"{what}: {'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in found[:5]]


# -- the checker ----------------------------------------------------------------------------------
class WireChecker:
    """Remembers the client's requests (id → method) and checks what the server wrote."""

    def __init__(self) -> None:
        self.methods: dict[Any, str] = {}
        self.checked = 0

    def note_sent(self, data: bytes | str) -> None:
        """Record the requests in text the client wrote (one or more lines)."""
        text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
        for line in text.splitlines():
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if isinstance(message, dict) and "method" in message and isinstance(message.get("id"), (str, int)):
                self.methods[message["id"]] = message["method"]

    def check_lines(self, lines: Iterable[str]) -> list[str]:
        """Problems found in these received lines (empty when every line conforms)."""
        problems: list[str] = []
        for number, line in enumerate(lines, 1):
            for problem in self.check(line):
                problems.append(f"line {number}: {problem} :: {line.strip()[:300]}")
        return problems

    def assert_lines(self, lines: Iterable[str]) -> None:
        problems = self.check_lines(lines)
        if problems:
            raise WireError("\n".join(problems[:40]))

    def check(self, line: str) -> list[str]:
        """Problems with one received line."""
        self.checked += 1
        if not line.endswith("\n"):
            return ["not a whole line (no trailing newline)"]
        try:
            message = json.loads(line)
        except ValueError as err:
            return [f"not JSON: {err}"]
        if not isinstance(message, dict):
            return ["not a JSON object"]
        if "jsonrpc" in message:
            return ["carries a `jsonrpc` member (0.58 writes none)"]
        keys = list(message)
        if "method" in message and "id" in message:
            return self._server_request(message, keys)
        if "method" in message:
            return self._notification(message, keys)
        if "error" in message:
            return self._error(message, keys)
        if "result" in message:
            return self._result(message, keys)
        return [f"neither request, notification, result nor error: keys {keys}"]

    # -- kinds ----------------------------------------------------------------------------------
    def _result(self, message: dict[str, Any], keys: list[str]) -> list[str]:
        if keys != ["id", "result"]:
            return [f"result envelope keys {keys}, expected ['id', 'result']"]
        problems = _errors(_file_validator("JSONRPCResponse"), message, "JSONRPCResponse")
        method = self.methods.get(message["id"])
        if method is None:
            return [*problems, f"result for id {message['id']!r}, which the client never sent"]
        if method in RESULT_SCHEMAS_058:
            name = RESULT_SCHEMAS_058[method]
            return [*problems, *_errors(_file_validator(name), message["result"], f"{method} result ({name})")]
        if method in RESULT_SCHEMAS_OURS:
            name = RESULT_SCHEMAS_OURS[method]
            checked = _errors(_generated_validator(name), message["result"], f"{method} result (ours {name})")
            return [*problems, *checked]
        return [*problems, f"result for a method no schema describes: {method}"]

    def _error(self, message: dict[str, Any], keys: list[str]) -> list[str]:
        if keys != ["error", "id"]:
            return [f"error envelope keys {keys}, expected ['error', 'id']"]
        error = message["error"]
        if isinstance(error, dict) and list(error)[:2] != ["code", "message"]:
            return [f"error object keys {list(error)}, expected code then message"]
        if message["id"] is None and isinstance(error, dict):
            code, text = error.get("code"), error.get("message")
            for exempt_code, prefix in EXEMPT_NULL_ID_ERRORS:
                if code == exempt_code and isinstance(text, str) and text.startswith(prefix):
                    return []  # a starred row of the DECISIONS.md wire table
        problems = _errors(_file_validator("JSONRPCError"), message, "JSONRPCError")
        if message["id"] is not None and message["id"] not in self.methods:
            problems.append(f"error for id {message['id']!r}, which the client never sent")
        return problems

    def _notification(self, message: dict[str, Any], keys: list[str]) -> list[str]:
        if keys not in (["method", "params"], ["method"]):
            return [f"notification envelope keys {keys}, expected ['method', 'params']"]
        problems = _errors(_file_validator("JSONRPCNotification"), message, "JSONRPCNotification")
        method, params = message["method"], message.get("params")
        if method.startswith(EVENT_PREFIX):
            return problems + _event(method, params)
        if method in NOTIFICATIONS_OURS:
            name = NOTIFICATIONS_OURS[method]
            return problems + _errors(_generated_validator(name), params, f"{method} params (ours {name})")
        validator = _union_validators("ServerNotification").get(method)
        if validator is None:
            return [*problems, f"notification method {method!r} is not in 0.58's ServerNotification"]
        return problems + _errors(validator, params, f"{method} params")

    def _server_request(self, message: dict[str, Any], keys: list[str]) -> list[str]:
        if keys != ["id", "method", "params"]:
            return [f"server request envelope keys {keys}, expected ['id', 'method', 'params']"]
        problems = _errors(_file_validator("JSONRPCRequest"), message, "JSONRPCRequest")
        validator = _union_validators("ServerRequest").get(message["method"])
        if validator is None:
            return [*problems, f"server request method {message['method']!r} is not in 0.58's ServerRequest"]
        return problems + _errors(validator, message["params"], f"{message['method']} params")


def _event(method: str, params: Any) -> list[str]:
    """`codex/event/<type>`: exactly `{id, msg, conversationId}` in that order around an EventMsg."""
    if not isinstance(params, dict) or list(params) != ["id", "msg", "conversationId"]:
        keys = list(params) if isinstance(params, dict) else type(params).__name__
        return [f"event params {keys}, expected ['id', 'msg', 'conversationId']"]
    problems: list[str] = []
    if not isinstance(params["id"], str) or not params["id"].isdigit():
        problems.append(f"event id {params['id']!r} is not a decimal submission id")
    if not isinstance(params["conversationId"], str):
        problems.append("conversationId is not a string")
    msg = params["msg"]
    if not isinstance(msg, dict) or EVENT_PREFIX + str(msg.get("type")) != method:
        problems.append(f"msg.type does not match the method {method}")
    return problems + _errors(_file_validator("EventMsg"), msg, f"{method} msg")


def attach(client: Any) -> WireChecker:
    """A checker fed every line `client` (a pytest_codex_app_server session) sends from now on."""
    checker = WireChecker()
    send_raw = client.send_raw

    def recording_send(data: bytes | str) -> None:
        checker.note_sent(data)
        send_raw(data)

    client.send_raw = recording_send
    return checker


def assert_session(client: Any, checker: WireChecker) -> int:
    """Every line `client` received so far conforms; returns how many lines were checked."""
    lines = list(client.lines)
    checker.assert_lines(lines)
    return len(lines)
