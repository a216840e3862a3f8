"""The protocol's tables: every method with its params and result types, in 0.58's order.

`CLIENT_REQUESTS` is ordered as 0.58 lists its methods in the `unknown variant` error; the methods we
add come after them. A `None` params type means the method takes no params (absent, null or `{}`).
"""

from __future__ import annotations

import importlib
from typing import Any

import msgspec

# The tables name their types ("v1.InitializeParams") instead of holding them: importing every wire
# module costs more than the rest of start-up, and answering `initialize` needs one params type.
# `request_params_type` / `client_request_types` resolve one method; the full tables (CLIENT_REQUESTS,
# SERVER_NOTIFICATIONS, EVENT_NOTIFICATION, SERVER_REQUESTS) resolve on first access (module `__getattr__`).
_CLIENT_REQUEST_TYPES: dict[str, tuple[str | None, str]] = {
    "initialize": ("v1.InitializeParams", "v1.InitializeResponse"),
    "thread/start": ("v2.ThreadStartParams", "v2.ThreadStartResponse"),
    "thread/resume": ("v2.ThreadResumeParams", "v2.ThreadResumeResponse"),
    "thread/archive": ("v2.ThreadArchiveParams", "v2.ThreadArchiveResponse"),
    "thread/list": ("v2.ThreadListParams", "v2.ThreadListResponse"),
    "thread/compact": ("v2.ThreadCompactParams", "v2.ThreadCompactResponse"),
    "turn/start": ("v2.TurnStartParams", "v2.TurnStartResponse"),
    "turn/interrupt": ("v2.TurnInterruptParams", "v2.TurnInterruptResponse"),
    "model/list": ("v2.ModelListParams", "v2.ModelListResponse"),
    "account/login/start": ("v2.LoginAccountParams", "v2.LoginAccountResponse"),
    "account/login/cancel": ("v2.CancelLoginAccountParams", "v2.CancelLoginAccountResponse"),
    "account/logout": (None, "v2.LogoutAccountResponse"),
    "account/rateLimits/read": (None, "v2.GetAccountRateLimitsResponse"),
    "feedback/upload": ("v2.FeedbackUploadParams", "v2.FeedbackUploadResponse"),
    "account/read": ("v2.GetAccountParams", "v2.GetAccountResponse"),
    "newConversation": ("v1.NewConversationParams", "v1.NewConversationResponse"),
    "getConversationSummary": ("v1.GetConversationSummaryParams", "v1.GetConversationSummaryResponse"),
    "listConversations": ("v1.ListConversationsParams", "v1.ListConversationsResponse"),
    "resumeConversation": ("v1.ResumeConversationParams", "v1.ResumeConversationResponse"),
    "archiveConversation": ("v1.ArchiveConversationParams", "v1.ArchiveConversationResponse"),
    "sendUserMessage": ("v1.SendUserMessageParams", "v1.SendUserMessageResponse"),
    "sendUserTurn": ("v1.SendUserTurnParams", "v1.SendUserTurnResponse"),
    "interruptConversation": ("v1.InterruptConversationParams", "v1.InterruptConversationResponse"),
    "addConversationListener": ("v1.AddConversationListenerParams", "v1.AddConversationSubscriptionResponse"),
    "removeConversationListener": ("v1.RemoveConversationListenerParams", "v1.RemoveConversationSubscriptionResponse"),
    "gitDiffToRemote": ("v1.GitDiffToRemoteParams", "v1.GitDiffToRemoteResponse"),
    "loginApiKey": ("v1.LoginApiKeyParams", "v1.LoginApiKeyResponse"),
    "loginChatGpt": (None, "v1.LoginChatGptResponse"),
    "cancelLoginChatGpt": ("v1.CancelLoginChatGptParams", "v1.CancelLoginChatGptResponse"),
    "logoutChatGpt": (None, "v1.LogoutChatGptResponse"),
    "getAuthStatus": ("v1.GetAuthStatusParams", "v1.GetAuthStatusResponse"),
    "getUserSavedConfig": (None, "v1.GetUserSavedConfigResponse"),
    "setDefaultModel": ("v1.SetDefaultModelParams", "v1.SetDefaultModelResponse"),
    "getUserAgent": (None, "v1.GetUserAgentResponse"),
    "userInfo": (None, "v1.UserInfoResponse"),
    "fuzzyFileSearch": ("v1.FuzzyFileSearchParams", "v1.FuzzyFileSearchResponse"),
    "execOneOffCommand": ("v1.ExecOneOffCommandParams", "v1.ExecOneOffCommandResponse"),
    # Beyond 0.58 (DECISIONS.md: listed after 0.58's methods).
    "account/login/complete": ("v2.CompleteLoginAccountParams", "v2.CompleteLoginAccountResponse"),
}

CLIENT_METHODS: tuple[str, ...] = tuple(_CLIENT_REQUEST_TYPES)

# The 37 methods 0.58 knows, for parity checks.
CLIENT_REQUESTS_058: tuple[str, ...] = CLIENT_METHODS[:37]

_SERVER_NOTIFICATION_TYPES: dict[str, str] = {
    "thread/started": "ThreadStartedNotification",
    "turn/started": "TurnStartedNotification",
    "turn/completed": "TurnCompletedNotification",
    "item/started": "ItemStartedNotification",
    "item/completed": "ItemCompletedNotification",
    "item/agentMessage/delta": "AgentMessageDeltaNotification",
    "item/commandExecution/outputDelta": "CommandExecutionOutputDeltaNotification",
    "item/mcpToolCall/progress": "McpToolCallProgressNotification",
    "account/updated": "AccountUpdatedNotification",
    "account/rateLimits/updated": "AccountRateLimitsUpdatedNotification",
    "account/login/completed": "AccountLoginCompletedNotification",
    "authStatusChange": "AuthStatusChangeNotification",
    "loginChatGptComplete": "LoginChatGptCompleteNotification",
    "sessionConfigured": "SessionConfiguredNotification",
}

# `codex/event/<type>` notifications all carry this envelope (not listed in the 0.58 schema).
EVENT_NOTIFICATION_PREFIX = "codex/event/"

_SERVER_REQUEST_TYPES: dict[str, tuple[str, str]] = {
    "applyPatchApproval": ("ApplyPatchApprovalParams", "ApplyPatchApprovalResponse"),
    "execCommandApproval": ("ExecCommandApprovalParams", "ExecCommandApprovalResponse"),
}

CLIENT_NOTIFICATIONS: tuple[str, ...] = ("initialized",)

_LAZY_TABLES = ("CLIENT_REQUESTS", "SERVER_NOTIFICATIONS", "EVENT_NOTIFICATION", "SERVER_REQUESTS")


def _resolve(qualified: str) -> Any:
    module, _, name = qualified.partition(".")
    return getattr(importlib.import_module(f"messages.{module}"), name)


def request_params_type(method: str) -> Any:
    """The type a request's params decode into (None: no params): the 0.58 Struct, except for
    `initialize`, whose twin in `messages.handshake` answers without importing the other wire modules."""
    if method == "initialize":
        from messages.handshake import InitializeParams

        return InitializeParams
    params = _CLIENT_REQUEST_TYPES[method][0]
    return None if params is None else _resolve(params)


def client_request_types(method: str) -> tuple[Any, Any]:
    """(params type or None, result type) of a client method in CLIENT_METHODS; imports only their module."""
    params, result = _CLIENT_REQUEST_TYPES[method]
    return (None if params is None else _resolve(params)), _resolve(result)


def __getattr__(name: str) -> Any:
    if name not in _LAZY_TABLES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value: Any
    if name == "CLIENT_REQUESTS":
        value = {method: client_request_types(method) for method in CLIENT_METHODS}
    elif name == "SERVER_NOTIFICATIONS":
        value = {method: _resolve(f"notifications.{cls}") for method, cls in _SERVER_NOTIFICATION_TYPES.items()}
    elif name == "EVENT_NOTIFICATION":
        value = _resolve("notifications.EventNotification")
    else:
        value = {
            method: (_resolve(f"server_requests.{params}"), _resolve(f"server_requests.{result}"))
            for method, (params, result) in _SERVER_REQUEST_TYPES.items()
        }
    globals()[name] = value
    return value


def _schema_roots() -> dict[str, Any]:
    """Every type the protocol names, keyed by the name its schema file gets (v2 types prefixed `v2/`)."""
    from messages import common, events, notifications, server_requests, v1, v2

    roots: dict[str, Any] = {}
    for module, prefix in ((common, ""), (events, ""), (v1, ""), (server_requests, ""), (notifications, ""),
                           (v2, "v2/")):
        for name, obj in vars(module).items():
            if getattr(obj, "__module__", None) != module.__name__:
                continue
            if isinstance(obj, type) and issubclass(obj, msgspec.Struct):
                roots[prefix + name] = obj
    for name in ("EventMsg", "ResponseItem", "SandboxPolicy", "ParsedCommand", "SessionSource", "UserInput",
                 "ContentBlock", "ContentItem"):
        roots[name] = getattr(common, name, None) or getattr(events, name)
    for name in ("LoginAccountParams", "LoginAccountResponse", "ThreadItem", "UserInput", "SandboxPolicy",
                 "Account"):
        roots["v2/" + name] = getattr(v2, name)
    return roots


def schema_for_generation() -> dict[str, Any]:
    """name -> JSON Schema (draft 2020-12 via msgspec) of every wire type, for `generate-json-schema`.

    Each schema is self-contained: the types it refers to are under its own `$defs`.
    """
    roots = _schema_roots()
    names = list(roots)
    schemas, components = msgspec.json.schema_components([roots[n] for n in names],
                                                         ref_template="#/$defs/{name}")
    out: dict[str, Any] = {}
    for name, schema in zip(names, schemas, strict=True):
        doc = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": name.split("/")[-1]}
        doc.update(schema)
        reachable = _reachable(schema, components)
        if reachable:
            doc["$defs"] = {key: components[key] for key in sorted(reachable)}
        out[name] = doc
    return out


def _reachable(schema: Any, components: dict[str, Any]) -> set[str]:
    seen: set[str] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                key = ref[len("#/$defs/"):]
                if key not in seen:
                    seen.add(key)
                    stack.append(components[key])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return seen
