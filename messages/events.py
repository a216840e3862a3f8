"""`EventMsg`: the core events carried by `codex/event/<type>` notifications, tagged by `type`."""

from __future__ import annotations

import msgspec

# Generated from the 0.58 schema and its ts-rs bindings (field order, `?`); edit with care.
from messages.common import (
    I32,
    I64,
    U64,
    UNSET,
    ConversationId,
    CustomPrompt,
    Duration,
    ExecOutputStream,
    FileChange,
    HistoryEntry,
    McpAuthStatus,
    McpInvocation,
    ParsedCommand,
    PlanItemArg,
    RateLimitSnapshot,
    ReasoningEffort,
    Resource,
    ResourceTemplate,
    ResponseItem,
    Result_of_CallToolResult_or_String,
    ReviewOutputEvent,
    SandboxCommandAssessment,
    TokenUsageInfo,
    Tool,
    TurnAbortReason,
    TurnItem,
    UnsetType,
    USize,
)


class ErrorEvent(msgspec.Struct, tag_field="type", tag="error", kw_only=True):
    message: str


class WarningEvent(msgspec.Struct, tag_field="type", tag="warning", kw_only=True):
    message: str


class TaskStartedEvent(msgspec.Struct, tag_field="type", tag="task_started", kw_only=True):
    model_context_window: I64 | None = None


class TaskCompleteEvent(msgspec.Struct, tag_field="type", tag="task_complete", kw_only=True):
    last_agent_message: str | None = None


class TokenCountEvent(msgspec.Struct, tag_field="type", tag="token_count", kw_only=True):
    info: TokenUsageInfo | None = None
    rate_limits: RateLimitSnapshot | None = None


class AgentMessageEvent(msgspec.Struct, tag_field="type", tag="agent_message", kw_only=True):
    message: str


class UserMessageEvent(msgspec.Struct, tag_field="type", tag="user_message", kw_only=True):
    message: str
    images: list[str] | None = None


class AgentMessageDeltaEvent(msgspec.Struct, tag_field="type", tag="agent_message_delta", kw_only=True):
    delta: str


class AgentReasoningEvent(msgspec.Struct, tag_field="type", tag="agent_reasoning", kw_only=True):
    text: str


class AgentReasoningDeltaEvent(msgspec.Struct, tag_field="type", tag="agent_reasoning_delta", kw_only=True):
    delta: str


class AgentReasoningRawContentEvent(msgspec.Struct, tag_field="type", tag="agent_reasoning_raw_content", kw_only=True):
    text: str


class AgentReasoningRawContentDeltaEvent(
    msgspec.Struct, tag_field="type", tag="agent_reasoning_raw_content_delta", kw_only=True
):
    delta: str


class AgentReasoningSectionBreakEvent(
    msgspec.Struct, tag_field="type", tag="agent_reasoning_section_break", kw_only=True
):
    pass


class SessionConfiguredEvent(msgspec.Struct, tag_field="type", tag="session_configured", kw_only=True):
    session_id: ConversationId
    model: str
    reasoning_effort: ReasoningEffort | None = None
    history_log_id: U64
    history_entry_count: USize
    initial_messages: list[EventMsg] | None | UnsetType = UNSET
    rollout_path: str

    def __post_init__(self) -> None:
        # 0.58 leaves these keys out when empty; a caller's None (or []) means the same.
        if self.initial_messages is None:
            self.initial_messages = UNSET


class McpToolCallBeginEvent(msgspec.Struct, tag_field="type", tag="mcp_tool_call_begin", kw_only=True):
    call_id: str
    invocation: McpInvocation


class McpToolCallEndEvent(msgspec.Struct, tag_field="type", tag="mcp_tool_call_end", kw_only=True):
    call_id: str
    invocation: McpInvocation
    duration: Duration
    result: Result_of_CallToolResult_or_String


class WebSearchBeginEvent(msgspec.Struct, tag_field="type", tag="web_search_begin", kw_only=True):
    call_id: str


class WebSearchEndEvent(msgspec.Struct, tag_field="type", tag="web_search_end", kw_only=True):
    call_id: str
    query: str


class ExecCommandBeginEvent(msgspec.Struct, tag_field="type", tag="exec_command_begin", kw_only=True):
    call_id: str
    command: list[str]
    cwd: str
    parsed_cmd: list[ParsedCommand]
    is_user_shell_command: bool = False


class ExecCommandOutputDeltaEvent(msgspec.Struct, tag_field="type", tag="exec_command_output_delta", kw_only=True):
    call_id: str
    stream: ExecOutputStream
    chunk: str


class ExecCommandEndEvent(msgspec.Struct, tag_field="type", tag="exec_command_end", kw_only=True):
    call_id: str
    stdout: str
    stderr: str
    aggregated_output: str = ''
    exit_code: I32
    duration: Duration
    formatted_output: str


class ViewImageToolCallEvent(msgspec.Struct, tag_field="type", tag="view_image_tool_call", kw_only=True):
    call_id: str
    path: str


class ExecApprovalRequestEvent(
    msgspec.Struct, tag_field="type", tag="exec_approval_request", kw_only=True, omit_defaults=True
):
    call_id: str
    command: list[str]
    cwd: str
    reason: str | None = None
    risk: SandboxCommandAssessment | None = None
    parsed_cmd: list[ParsedCommand]


class ApplyPatchApprovalRequestEvent(
    msgspec.Struct, tag_field="type", tag="apply_patch_approval_request", kw_only=True, omit_defaults=True
):
    call_id: str
    changes: dict[str, FileChange]
    reason: str | None = None
    grant_root: str | None = None


class DeprecationNoticeEvent(msgspec.Struct, tag_field="type", tag="deprecation_notice", kw_only=True):
    summary: str
    details: str | None = None


class BackgroundEventEvent(msgspec.Struct, tag_field="type", tag="background_event", kw_only=True):
    message: str


class UndoStartedEvent(msgspec.Struct, tag_field="type", tag="undo_started", kw_only=True):
    message: str | None = None


class UndoCompletedEvent(msgspec.Struct, tag_field="type", tag="undo_completed", kw_only=True):
    success: bool
    message: str | None = None


class StreamErrorEvent(msgspec.Struct, tag_field="type", tag="stream_error", kw_only=True):
    message: str


class PatchApplyBeginEvent(msgspec.Struct, tag_field="type", tag="patch_apply_begin", kw_only=True):
    call_id: str
    auto_approved: bool
    changes: dict[str, FileChange]


class PatchApplyEndEvent(msgspec.Struct, tag_field="type", tag="patch_apply_end", kw_only=True):
    call_id: str
    stdout: str
    stderr: str
    success: bool


class TurnDiffEvent(msgspec.Struct, tag_field="type", tag="turn_diff", kw_only=True):
    unified_diff: str


class GetHistoryEntryResponseEvent(msgspec.Struct, tag_field="type", tag="get_history_entry_response", kw_only=True):
    offset: USize
    log_id: U64
    entry: HistoryEntry | None = None


class McpListToolsResponseEvent(msgspec.Struct, tag_field="type", tag="mcp_list_tools_response", kw_only=True):
    tools: dict[str, Tool]
    resources: dict[str, list[Resource]]
    resource_templates: dict[str, list[ResourceTemplate]]
    auth_statuses: dict[str, McpAuthStatus]


class ListCustomPromptsResponseEvent(
    msgspec.Struct, tag_field="type", tag="list_custom_prompts_response", kw_only=True
):
    custom_prompts: list[CustomPrompt]


class UpdatePlanArgs(msgspec.Struct, tag_field="type", tag="plan_update", kw_only=True):
    explanation: str | None = None
    plan: list[PlanItemArg]


class TurnAbortedEvent(msgspec.Struct, tag_field="type", tag="turn_aborted", kw_only=True):
    reason: TurnAbortReason


class ShutdownCompleteEvent(msgspec.Struct, tag_field="type", tag="shutdown_complete", kw_only=True):
    pass


class ReviewRequest(msgspec.Struct, tag_field="type", tag="entered_review_mode", kw_only=True):
    prompt: str
    user_facing_hint: str


class ExitedReviewModeEvent(msgspec.Struct, tag_field="type", tag="exited_review_mode", kw_only=True):
    review_output: ReviewOutputEvent | None = None


class RawResponseItemEvent(msgspec.Struct, tag_field="type", tag="raw_response_item", kw_only=True):
    item: ResponseItem


class ItemStartedEvent(msgspec.Struct, tag_field="type", tag="item_started", kw_only=True):
    thread_id: ConversationId
    turn_id: str
    item: TurnItem


class ItemCompletedEvent(msgspec.Struct, tag_field="type", tag="item_completed", kw_only=True):
    thread_id: ConversationId
    turn_id: str
    item: TurnItem


class AgentMessageContentDeltaEvent(msgspec.Struct, tag_field="type", tag="agent_message_content_delta", kw_only=True):
    thread_id: str
    turn_id: str
    item_id: str
    delta: str


class ReasoningContentDeltaEvent(msgspec.Struct, tag_field="type", tag="reasoning_content_delta", kw_only=True):
    thread_id: str
    turn_id: str
    item_id: str
    delta: str


class ReasoningRawContentDeltaEvent(msgspec.Struct, tag_field="type", tag="reasoning_raw_content_delta", kw_only=True):
    thread_id: str
    turn_id: str
    item_id: str
    delta: str

EventMsg = (
    ErrorEvent
    | WarningEvent
    | TaskStartedEvent
    | TaskCompleteEvent
    | TokenCountEvent
    | AgentMessageEvent
    | UserMessageEvent
    | AgentMessageDeltaEvent
    | AgentReasoningEvent
    | AgentReasoningDeltaEvent
    | AgentReasoningRawContentEvent
    | AgentReasoningRawContentDeltaEvent
    | AgentReasoningSectionBreakEvent
    | SessionConfiguredEvent
    | McpToolCallBeginEvent
    | McpToolCallEndEvent
    | WebSearchBeginEvent
    | WebSearchEndEvent
    | ExecCommandBeginEvent
    | ExecCommandOutputDeltaEvent
    | ExecCommandEndEvent
    | ViewImageToolCallEvent
    | ExecApprovalRequestEvent
    | ApplyPatchApprovalRequestEvent
    | DeprecationNoticeEvent
    | BackgroundEventEvent
    | UndoStartedEvent
    | UndoCompletedEvent
    | StreamErrorEvent
    | PatchApplyBeginEvent
    | PatchApplyEndEvent
    | TurnDiffEvent
    | GetHistoryEntryResponseEvent
    | McpListToolsResponseEvent
    | ListCustomPromptsResponseEvent
    | UpdatePlanArgs
    | TurnAbortedEvent
    | ShutdownCompleteEvent
    | ReviewRequest
    | ExitedReviewModeEvent
    | RawResponseItemEvent
    | ItemStartedEvent
    | ItemCompletedEvent
    | AgentMessageContentDeltaEvent
    | ReasoningContentDeltaEvent
    | ReasoningRawContentDeltaEvent
)
