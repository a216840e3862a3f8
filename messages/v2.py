"""v2 (`thread/*`, `turn/*`, `account/*`, `model/list`, `feedback/upload`) params and results."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

# Generated from the 0.58 schema and its ts-rs bindings (field order, `?`); edit with care.
from messages.common import (
    I32,
    I64,
    U32,
    ContentBlock,
    ConversationId,
    PathStr,
    ReasoningEffort,
    ReasoningSummary,
    ResponseItem,
)

AskForApproval = Literal["unlessTrusted", "onFailure", "onRequest", "never"]
CommandExecutionStatus = Literal["inProgress", "completed", "failed"]
McpToolCallStatus = Literal["inProgress", "completed", "failed"]
PatchApplyStatus = Literal["completed", "failed"]
PatchChangeKind = Literal["add", "delete", "update"]
PlanType = Literal["free", "plus", "pro", "team", "business", "enterprise", "edu", "unknown"]
SandboxMode = Literal["readOnly", "workspaceWrite", "dangerFullAccess"]
TurnStatus = Literal["completed", "interrupted", "failed", "inProgress"]


class ThreadStartParams(msgspec.Struct, kw_only=True):
    model: str | None = None
    model_provider: str | None = msgspec.field(default=None, name="modelProvider")
    cwd: str | None = None
    approval_policy: AskForApproval | None = msgspec.field(default=None, name="approvalPolicy")
    sandbox: SandboxMode | None = None
    config: dict[str, Any] | None = None
    base_instructions: str | None = msgspec.field(default=None, name="baseInstructions")
    developer_instructions: str | None = msgspec.field(default=None, name="developerInstructions")


class ThreadResumeParams(msgspec.Struct, kw_only=True):
    thread_id: str = msgspec.field(name="threadId")
    history: list[ResponseItem] | None = None
    path: str | None = None
    model: str | None = None
    model_provider: str | None = msgspec.field(default=None, name="modelProvider")
    cwd: str | None = None
    approval_policy: AskForApproval | None = msgspec.field(default=None, name="approvalPolicy")
    sandbox: SandboxMode | None = None
    config: dict[str, Any] | None = None
    base_instructions: str | None = msgspec.field(default=None, name="baseInstructions")
    developer_instructions: str | None = msgspec.field(default=None, name="developerInstructions")


class ThreadArchiveParams(msgspec.Struct, kw_only=True):
    thread_id: str = msgspec.field(name="threadId")


class ThreadListParams(msgspec.Struct, kw_only=True):
    cursor: str | None = None
    limit: U32 | None = None
    model_providers: list[str] | None = msgspec.field(default=None, name="modelProviders")


class ThreadCompactParams(msgspec.Struct, kw_only=True):
    thread_id: str = msgspec.field(name="threadId")


class TextUserInput(msgspec.Struct, tag_field="type", tag="text", kw_only=True):
    text: str


class ImageUserInput(msgspec.Struct, tag_field="type", tag="image", kw_only=True):
    url: str


class LocalImageUserInput(msgspec.Struct, tag_field="type", tag="localImage", kw_only=True):
    path: PathStr


class TurnStartParams(msgspec.Struct, kw_only=True):
    thread_id: str = msgspec.field(name="threadId")
    input: list[UserInput]
    cwd: PathStr | None = None
    approval_policy: AskForApproval | None = msgspec.field(default=None, name="approvalPolicy")
    sandbox_policy: SandboxPolicy | None = msgspec.field(default=None, name="sandboxPolicy")
    model: str | None = None
    effort: ReasoningEffort | None = None
    summary: ReasoningSummary | None = None


class TurnInterruptParams(msgspec.Struct, kw_only=True):
    thread_id: str = msgspec.field(name="threadId")
    turn_id: str = msgspec.field(name="turnId")


class ModelListParams(msgspec.Struct, kw_only=True):
    cursor: str | None = None
    limit: U32 | None = None


class ApiKeyLoginAccountParams(msgspec.Struct, tag_field="type", tag="apiKey", kw_only=True):
    api_key: str = msgspec.field(name="apiKey")


class ChatgptLoginAccountParams(msgspec.Struct, tag_field="type", tag="chatgpt", kw_only=True):
    pass


class CancelLoginAccountParams(msgspec.Struct, kw_only=True):
    login_id: str = msgspec.field(name="loginId")


class FeedbackUploadParams(msgspec.Struct, kw_only=True):
    classification: str
    reason: str | None = None
    conversation_id: ConversationId | None = msgspec.field(default=None, name="conversationId")
    include_logs: bool = msgspec.field(name="includeLogs")


class GetAccountParams(msgspec.Struct, kw_only=True):
    refresh_token: bool = msgspec.field(default=False, name="refreshToken")


class Thread(msgspec.Struct, kw_only=True):
    id: str
    preview: str
    model_provider: str = msgspec.field(name="modelProvider")
    created_at: I64 = msgspec.field(name="createdAt")
    path: str


class ThreadStartResponse(msgspec.Struct, kw_only=True):
    thread: Thread


class ThreadResumeResponse(msgspec.Struct, kw_only=True):
    thread: Thread


class ThreadArchiveResponse(msgspec.Struct, kw_only=True):
    pass


class ThreadListResponse(msgspec.Struct, kw_only=True):
    data: list[Thread]
    next_cursor: str | None = msgspec.field(default=None, name="nextCursor")


class ThreadCompactResponse(msgspec.Struct, kw_only=True):
    pass


class FileUpdateChange(msgspec.Struct, kw_only=True):
    path: str
    kind: PatchChangeKind
    diff: str


class McpToolCallError(msgspec.Struct, kw_only=True):
    message: str


class McpToolCallResult(msgspec.Struct, kw_only=True):
    content: list[ContentBlock]
    structured_content: Any = msgspec.field(name="structuredContent")


class UserMessageThreadItem(msgspec.Struct, tag_field="type", tag="userMessage", kw_only=True):
    id: str
    content: list[UserInput]


class AgentMessageThreadItem(msgspec.Struct, tag_field="type", tag="agentMessage", kw_only=True):
    id: str
    text: str


class ReasoningThreadItem(msgspec.Struct, tag_field="type", tag="reasoning", kw_only=True):
    id: str
    text: str


class CommandExecutionThreadItem(msgspec.Struct, tag_field="type", tag="commandExecution", kw_only=True):
    id: str
    command: str
    aggregated_output: str
    exit_code: I32 | None = None
    status: CommandExecutionStatus
    duration_ms: I64 | None = None


class FileChangeThreadItem(msgspec.Struct, tag_field="type", tag="fileChange", kw_only=True):
    id: str
    changes: list[FileUpdateChange]
    status: PatchApplyStatus


class McpToolCallThreadItem(msgspec.Struct, tag_field="type", tag="mcpToolCall", kw_only=True):
    id: str
    server: str
    tool: str
    status: McpToolCallStatus
    arguments: Any
    result: McpToolCallResult | None = None
    error: McpToolCallError | None = None


class WebSearchThreadItem(msgspec.Struct, tag_field="type", tag="webSearch", kw_only=True):
    id: str
    query: str


class TodoListThreadItem(msgspec.Struct, tag_field="type", tag="todoList", kw_only=True):
    id: str
    items: list[TodoItem]


class ImageViewThreadItem(msgspec.Struct, tag_field="type", tag="imageView", kw_only=True):
    id: str
    path: str


class CodeReviewThreadItem(msgspec.Struct, tag_field="type", tag="codeReview", kw_only=True):
    id: str
    review: str


class TodoItem(msgspec.Struct, kw_only=True):
    id: str
    text: str
    completed: bool


class Turn(msgspec.Struct, kw_only=True):
    id: str
    items: list[ThreadItem]
    status: TurnStatus
    error: TurnError | None = None


class TurnError(msgspec.Struct, kw_only=True):
    message: str


class TurnStartResponse(msgspec.Struct, kw_only=True):
    turn: Turn


class TurnInterruptResponse(msgspec.Struct, kw_only=True):
    pass


class Model(msgspec.Struct, kw_only=True):
    id: str
    model: str
    display_name: str = msgspec.field(name="displayName")
    description: str
    supported_reasoning_efforts: list[ReasoningEffortOption] = msgspec.field(name="supportedReasoningEfforts")
    default_reasoning_effort: ReasoningEffort = msgspec.field(name="defaultReasoningEffort")
    is_default: bool = msgspec.field(name="isDefault")


class ReasoningEffortOption(msgspec.Struct, kw_only=True):
    reasoning_effort: ReasoningEffort = msgspec.field(name="reasoningEffort")
    description: str


class ModelListResponse(msgspec.Struct, kw_only=True):
    data: list[Model]
    next_cursor: str | None = msgspec.field(default=None, name="nextCursor")


class ApiKeyLoginAccountResponse(msgspec.Struct, tag_field="type", tag="apiKey", kw_only=True):
    pass


class ChatgptLoginAccountResponse(msgspec.Struct, tag_field="type", tag="chatgpt", kw_only=True):
    login_id: str = msgspec.field(name="loginId")
    auth_url: str = msgspec.field(name="authUrl")


class CancelLoginAccountResponse(msgspec.Struct, kw_only=True):
    pass


class LogoutAccountResponse(msgspec.Struct, kw_only=True):
    pass


class RateLimitSnapshot(msgspec.Struct, kw_only=True):
    primary: RateLimitWindow | None = None
    secondary: RateLimitWindow | None = None


class RateLimitWindow(msgspec.Struct, kw_only=True):
    used_percent: I32 = msgspec.field(name="usedPercent")
    window_duration_mins: I64 | None = msgspec.field(default=None, name="windowDurationMins")
    resets_at: I64 | None = msgspec.field(default=None, name="resetsAt")


class GetAccountRateLimitsResponse(msgspec.Struct, kw_only=True):
    rate_limits: RateLimitSnapshot = msgspec.field(name="rateLimits")


class FeedbackUploadResponse(msgspec.Struct, kw_only=True):
    thread_id: str = msgspec.field(name="threadId")


class ApiKeyAccount(msgspec.Struct, tag_field="type", tag="apiKey", kw_only=True):
    pass


class ChatgptAccount(msgspec.Struct, tag_field="type", tag="chatgpt", kw_only=True):
    email: str
    plan_type: PlanType = msgspec.field(name="planType")


class GetAccountResponse(msgspec.Struct, kw_only=True):
    account: Account | None = None
    requires_openai_auth: bool = msgspec.field(name="requiresOpenaiAuth")


class Usage(msgspec.Struct, kw_only=True):
    input_tokens: I32 = msgspec.field(name="inputTokens")
    cached_input_tokens: I32 = msgspec.field(name="cachedInputTokens")
    output_tokens: I32 = msgspec.field(name="outputTokens")


class DangerFullAccessSandboxPolicy(msgspec.Struct, tag_field="mode", tag="dangerFullAccess", kw_only=True):
    pass


class ReadOnlySandboxPolicy(msgspec.Struct, tag_field="mode", tag="readOnly", kw_only=True):
    pass


class WorkspaceWriteSandboxPolicy(msgspec.Struct, tag_field="mode", tag="workspaceWrite", kw_only=True):
    writable_roots: list[PathStr] = msgspec.field(default_factory=list)
    network_access: bool = False
    exclude_tmpdir_env_var: bool = False
    exclude_slash_tmp: bool = False

UserInput = TextUserInput | ImageUserInput | LocalImageUserInput
LoginAccountParams = ApiKeyLoginAccountParams | ChatgptLoginAccountParams
ThreadItem = (
    UserMessageThreadItem
    | AgentMessageThreadItem
    | ReasoningThreadItem
    | CommandExecutionThreadItem
    | FileChangeThreadItem
    | McpToolCallThreadItem
    | WebSearchThreadItem
    | TodoListThreadItem
    | ImageViewThreadItem
    | CodeReviewThreadItem
)
LoginAccountResponse = ApiKeyLoginAccountResponse | ChatgptLoginAccountResponse
Account = ApiKeyAccount | ChatgptAccount
SandboxPolicy = DangerFullAccessSandboxPolicy | ReadOnlySandboxPolicy | WorkspaceWriteSandboxPolicy


# --- Beyond 0.58 -------------------------------------------------------------------------------
# `account/login/complete`: finishes a ChatGPT login whose browser callback cannot reach our
# loopback server (remote daemon); the client hands over the callback URL it was redirected to.


class CompleteLoginAccountParams(msgspec.Struct, kw_only=True):
    login_id: str = msgspec.field(name="loginId")
    callback_url: str = msgspec.field(name="callbackUrl")


class CompleteLoginAccountResponse(msgspec.Struct, kw_only=True):
    pass
