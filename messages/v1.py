"""v1 (camelCase) request params and results of the app-server protocol 0.58."""

from __future__ import annotations

from typing import Any

import msgspec

# Generated from the 0.58 schema and its ts-rs bindings (field order, `?`); edit with care.
from messages.common import (
    I32,
    U32,
    U64,
    AskForApproval,
    AuthMode,
    ConversationId,
    ForcedLoginMethod,
    GitSha,
    PathStr,
    ReasoningEffort,
    ReasoningSummary,
    ResponseItem,
    SandboxMode,
    SandboxPolicy,
    SessionSource,
    TurnAbortReason,
    USize,
    Uuid,
    Verbosity,
)
from messages.events import EventMsg


class AddConversationListenerParams(msgspec.Struct, kw_only=True):
    conversation_id: ConversationId = msgspec.field(name="conversationId")
    experimental_raw_events: bool = msgspec.field(default=False, name="experimentalRawEvents")


class ArchiveConversationParams(msgspec.Struct, kw_only=True):
    conversation_id: ConversationId = msgspec.field(name="conversationId")
    rollout_path: PathStr = msgspec.field(name="rolloutPath")


class CancelLoginChatGptParams(msgspec.Struct, kw_only=True):
    login_id: Uuid = msgspec.field(name="loginId")


class ClientInfo(msgspec.Struct, kw_only=True):
    name: str
    title: str | None = None
    version: str


class ExecOneOffCommandParams(msgspec.Struct, kw_only=True):
    command: list[str]
    timeout_ms: U64 | None = msgspec.field(default=None, name="timeoutMs")
    cwd: PathStr | None = None
    sandbox_policy: SandboxPolicy | None = msgspec.field(default=None, name="sandboxPolicy")


class FuzzyFileSearchParams(msgspec.Struct, kw_only=True):
    query: str
    roots: list[str]
    cancellation_token: str | None = msgspec.field(default=None, name="cancellationToken")


class GetAuthStatusParams(msgspec.Struct, kw_only=True):
    include_token: bool | None = msgspec.field(default=None, name="includeToken")
    refresh_token: bool | None = msgspec.field(default=None, name="refreshToken")


class GetConversationSummaryParams(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Externally tagged: exactly one field is set."""

    rollout_path: PathStr | None = msgspec.field(default=None, name="rolloutPath")
    conversation_id: ConversationId | None = msgspec.field(default=None, name="conversationId")


class GitDiffToRemoteParams(msgspec.Struct, kw_only=True):
    cwd: PathStr


class InitializeParams(msgspec.Struct, kw_only=True):
    client_info: ClientInfo = msgspec.field(name="clientInfo")


class InterruptConversationParams(msgspec.Struct, kw_only=True):
    conversation_id: ConversationId = msgspec.field(name="conversationId")


class ListConversationsParams(msgspec.Struct, kw_only=True):
    page_size: USize | None = msgspec.field(default=None, name="pageSize")
    cursor: str | None = None
    model_providers: list[str] | None = msgspec.field(default=None, name="modelProviders")


class LoginApiKeyParams(msgspec.Struct, kw_only=True):
    api_key: str = msgspec.field(name="apiKey")


class NewConversationParams(msgspec.Struct, kw_only=True):
    model: str | None = None
    model_provider: str | None = msgspec.field(default=None, name="modelProvider")
    profile: str | None = None
    cwd: str | None = None
    approval_policy: AskForApproval | None = msgspec.field(default=None, name="approvalPolicy")
    sandbox: SandboxMode | None = None
    config: dict[str, Any] | None = None
    base_instructions: str | None = msgspec.field(default=None, name="baseInstructions")
    developer_instructions: str | None = msgspec.field(default=None, name="developerInstructions")
    compact_prompt: str | None = msgspec.field(default=None, name="compactPrompt")
    include_apply_patch_tool: bool | None = msgspec.field(default=None, name="includeApplyPatchTool")


class RemoveConversationListenerParams(msgspec.Struct, kw_only=True):
    subscription_id: Uuid = msgspec.field(name="subscriptionId")


class ResumeConversationParams(msgspec.Struct, kw_only=True):
    path: PathStr | None = None
    conversation_id: ConversationId | None = msgspec.field(default=None, name="conversationId")
    history: list[ResponseItem] | None = None
    overrides: NewConversationParams | None = None


class SendUserMessageParams(msgspec.Struct, kw_only=True):
    conversation_id: ConversationId = msgspec.field(name="conversationId")
    items: list[InputItem]


class SendUserTurnParams(msgspec.Struct, kw_only=True):
    conversation_id: ConversationId = msgspec.field(name="conversationId")
    items: list[InputItem]
    cwd: PathStr
    approval_policy: AskForApproval = msgspec.field(name="approvalPolicy")
    sandbox_policy: SandboxPolicy = msgspec.field(name="sandboxPolicy")
    model: str
    effort: ReasoningEffort | None = None
    summary: ReasoningSummary


class SetDefaultModelParams(msgspec.Struct, kw_only=True):
    model: str | None = None
    reasoning_effort: ReasoningEffort | None = msgspec.field(default=None, name="reasoningEffort")


class TextInputItemData(msgspec.Struct, kw_only=True):
    text: str


class TextInputItem(msgspec.Struct, tag_field="type", tag="text", kw_only=True):
    data: TextInputItemData


class ImageInputItemData(msgspec.Struct, kw_only=True):
    image_url: str


class ImageInputItem(msgspec.Struct, tag_field="type", tag="image", kw_only=True):
    data: ImageInputItemData


class LocalImageInputItemData(msgspec.Struct, kw_only=True):
    path: PathStr


class LocalImageInputItem(msgspec.Struct, tag_field="type", tag="localImage", kw_only=True):
    data: LocalImageInputItemData


class InitializeResponse(msgspec.Struct, kw_only=True):
    user_agent: str = msgspec.field(name="userAgent")


class NewConversationResponse(msgspec.Struct, kw_only=True):
    conversation_id: ConversationId = msgspec.field(name="conversationId")
    model: str
    reasoning_effort: ReasoningEffort | None = msgspec.field(default=None, name="reasoningEffort")
    rollout_path: str = msgspec.field(name="rolloutPath")


class ConversationGitInfo(msgspec.Struct, kw_only=True):
    sha: str | None = None
    branch: str | None = None
    origin_url: str | None = None


class ConversationSummary(msgspec.Struct, kw_only=True):
    conversation_id: ConversationId = msgspec.field(name="conversationId")
    path: str
    preview: str
    timestamp: str | None = None
    model_provider: str = msgspec.field(name="modelProvider")
    cwd: str
    cli_version: str = msgspec.field(name="cliVersion")
    source: SessionSource
    git_info: ConversationGitInfo | None = msgspec.field(default=None, name="gitInfo")


class GetConversationSummaryResponse(msgspec.Struct, kw_only=True):
    summary: ConversationSummary


class ListConversationsResponse(msgspec.Struct, kw_only=True):
    items: list[ConversationSummary]
    next_cursor: str | None = msgspec.field(default=None, name="nextCursor")


class ResumeConversationResponse(msgspec.Struct, kw_only=True):
    conversation_id: ConversationId = msgspec.field(name="conversationId")
    model: str
    initial_messages: list[EventMsg] | None = msgspec.field(default=None, name="initialMessages")
    rollout_path: str = msgspec.field(name="rolloutPath")


class ArchiveConversationResponse(msgspec.Struct, kw_only=True):
    pass


class SendUserMessageResponse(msgspec.Struct, kw_only=True):
    pass


class SendUserTurnResponse(msgspec.Struct, kw_only=True):
    pass


class InterruptConversationResponse(msgspec.Struct, kw_only=True):
    abort_reason: TurnAbortReason = msgspec.field(name="abortReason")


class AddConversationSubscriptionResponse(msgspec.Struct, kw_only=True):
    subscription_id: Uuid = msgspec.field(name="subscriptionId")


class RemoveConversationSubscriptionResponse(msgspec.Struct, kw_only=True):
    pass


class GitDiffToRemoteResponse(msgspec.Struct, kw_only=True):
    sha: GitSha
    diff: str


class LoginApiKeyResponse(msgspec.Struct, kw_only=True):
    pass


class LoginChatGptResponse(msgspec.Struct, kw_only=True):
    login_id: Uuid = msgspec.field(name="loginId")
    auth_url: str = msgspec.field(name="authUrl")


class CancelLoginChatGptResponse(msgspec.Struct, kw_only=True):
    pass


class LogoutChatGptResponse(msgspec.Struct, kw_only=True):
    pass


class GetAuthStatusResponse(msgspec.Struct, kw_only=True):
    auth_method: AuthMode | None = msgspec.field(default=None, name="authMethod")
    auth_token: str | None = msgspec.field(default=None, name="authToken")
    requires_openai_auth: bool | None = msgspec.field(default=None, name="requiresOpenaiAuth")


class Profile(msgspec.Struct, kw_only=True):
    model: str | None = None
    model_provider: str | None = msgspec.field(default=None, name="modelProvider")
    approval_policy: AskForApproval | None = msgspec.field(default=None, name="approvalPolicy")
    model_reasoning_effort: ReasoningEffort | None = msgspec.field(default=None, name="modelReasoningEffort")
    model_reasoning_summary: ReasoningSummary | None = msgspec.field(default=None, name="modelReasoningSummary")
    model_verbosity: Verbosity | None = msgspec.field(default=None, name="modelVerbosity")
    chatgpt_base_url: str | None = msgspec.field(default=None, name="chatgptBaseUrl")


class SandboxSettings(msgspec.Struct, kw_only=True):
    writable_roots: list[str] = msgspec.field(default_factory=list, name="writableRoots")
    network_access: bool | None = msgspec.field(default=None, name="networkAccess")
    exclude_tmpdir_env_var: bool | None = msgspec.field(default=None, name="excludeTmpdirEnvVar")
    exclude_slash_tmp: bool | None = msgspec.field(default=None, name="excludeSlashTmp")


class Tools(msgspec.Struct, kw_only=True):
    web_search: bool | None = msgspec.field(default=None, name="webSearch")
    view_image: bool | None = msgspec.field(default=None, name="viewImage")


class UserSavedConfig(msgspec.Struct, kw_only=True):
    approval_policy: AskForApproval | None = msgspec.field(default=None, name="approvalPolicy")
    sandbox_mode: SandboxMode | None = msgspec.field(default=None, name="sandboxMode")
    sandbox_settings: SandboxSettings | None = msgspec.field(default=None, name="sandboxSettings")
    forced_chatgpt_workspace_id: str | None = msgspec.field(default=None, name="forcedChatgptWorkspaceId")
    forced_login_method: ForcedLoginMethod | None = msgspec.field(default=None, name="forcedLoginMethod")
    model: str | None = None
    model_reasoning_effort: ReasoningEffort | None = msgspec.field(default=None, name="modelReasoningEffort")
    model_reasoning_summary: ReasoningSummary | None = msgspec.field(default=None, name="modelReasoningSummary")
    model_verbosity: Verbosity | None = msgspec.field(default=None, name="modelVerbosity")
    tools: Tools | None = None
    profile: str | None = None
    profiles: dict[str, Profile]


class GetUserSavedConfigResponse(msgspec.Struct, kw_only=True):
    config: UserSavedConfig


class SetDefaultModelResponse(msgspec.Struct, kw_only=True):
    pass


class GetUserAgentResponse(msgspec.Struct, kw_only=True):
    user_agent: str = msgspec.field(name="userAgent")


class UserInfoResponse(msgspec.Struct, kw_only=True):
    alleged_user_email: str | None = msgspec.field(default=None, name="allegedUserEmail")


class FuzzyFileSearchResult(msgspec.Struct, kw_only=True):
    root: str
    path: str
    file_name: str
    score: U32
    indices: list[U32] | None = None


class FuzzyFileSearchResponse(msgspec.Struct, kw_only=True):
    files: list[FuzzyFileSearchResult]


class ExecOneOffCommandResponse(msgspec.Struct, kw_only=True):
    exit_code: I32 = msgspec.field(name="exitCode")
    stdout: str
    stderr: str

InputItem = TextInputItem | ImageInputItem | LocalImageInputItem
