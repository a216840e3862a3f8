"""Core wire types shared by v1, v2 and the events (codex_protocol's own types), and the scalar aliases
that carry the Rust field type so decode errors can speak serde's words."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

# Re-exported: fields 0.58 leaves out when empty default to UNSET (falsy) instead of None.
from msgspec import UNSET, UnsetType  # noqa: F401


def _uint(bits: int, rust: str) -> Any:
    # msgspec bounds must fit an int64; u64 values past 2**63 do not occur on this wire.
    return Annotated[int, msgspec.Meta(ge=0, le=min(2**bits - 1, 2**63 - 1), extra={"rust": rust})]


def _int(bits: int, rust: str) -> Any:
    return Annotated[int, msgspec.Meta(ge=-(2 ** (bits - 1)), le=2 ** (bits - 1) - 1, extra={"rust": rust})]


# Integer widths of the Rust fields: the bounds reject what serde rejects, `rust` names it in the error.
U8 = _uint(8, "u8")
U16 = _uint(16, "u16")
U32 = _uint(32, "u32")
U64 = _uint(64, "u64")
USize = _uint(64, "usize")
I32 = _int(32, "i32")
I64 = _int(64, "i64")

# Strings that 0.58 parses into richer types. They stay `str` here; decode.py validates UUIDs and
# rewrites them to the canonical lowercase hyphenated form.
ConversationId = Annotated[str, msgspec.Meta(extra={"rust": "ConversationId"})]
Uuid = Annotated[str, msgspec.Meta(extra={"rust": "Uuid"})]
PathStr = Annotated[str, msgspec.Meta(extra={"rust": "PathBuf"})]
GitSha = str
RequestId = int | str

# Generated from the 0.58 schema and its ts-rs bindings (field order, `?`); edit with care.


AskForApproval = Literal["untrusted", "on-failure", "on-request", "never"]
AuthMode = Literal["apikey", "chatgpt"]
ExecOutputStream = Literal["stdout", "stderr"]
ForcedLoginMethod = Literal["chatgpt", "api"]
LocalShellStatus = Literal["completed", "in_progress", "incomplete"]
McpAuthStatus = Literal["unsupported", "not_logged_in", "bearer_token", "o_auth"]
ReasoningEffort = Literal["none", "minimal", "low", "medium", "high"]
ReasoningSummary = Literal["auto", "concise", "detailed", "none"]
ReviewDecision = Literal["approved", "approved_for_session", "denied", "abort"]
Role = Literal["assistant", "user"]
SandboxMode = Literal["read-only", "workspace-write", "danger-full-access"]
SandboxRiskLevel = Literal["low", "medium", "high"]
StepStatus = Literal["pending", "in_progress", "completed"]
TurnAbortReason = Literal["interrupted", "replaced", "review_ended"]
Verbosity = Literal["low", "medium", "high"]


class SandboxCommandAssessment(msgspec.Struct, kw_only=True):
    description: str
    risk_level: SandboxRiskLevel


class TextAgentMessageContent(msgspec.Struct, kw_only=True):
    text: str


class AgentMessageContent(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Externally tagged: exactly one field is set."""

    text: TextAgentMessageContent | None = msgspec.field(default=None, name="Text")


class AgentMessageItem(msgspec.Struct, kw_only=True):
    id: str
    content: list[AgentMessageContent]


class CallToolResult(msgspec.Struct, kw_only=True, omit_defaults=True):
    content: list[ContentBlock]
    is_error: bool | None = msgspec.field(default=None, name="isError")
    structured_content: Any = msgspec.field(default=None, name="structuredContent")


class CustomPrompt(msgspec.Struct, kw_only=True):
    name: str
    path: str
    content: str
    description: str | None = None
    argument_hint: str | None = None


class Duration(msgspec.Struct, kw_only=True):
    secs: U64
    nanos: U32


class HistoryEntry(msgspec.Struct, kw_only=True):
    conversation_id: str
    ts: U64
    text: str


class McpInvocation(msgspec.Struct, kw_only=True):
    server: str
    tool: str
    arguments: Any = None


class PlanItemArg(msgspec.Struct, kw_only=True):
    step: str
    status: StepStatus


class ReasoningItem(msgspec.Struct, kw_only=True):
    id: str
    summary_text: list[str]
    raw_content: list[str] = msgspec.field(default_factory=list)


class Resource(msgspec.Struct, kw_only=True, omit_defaults=True):
    annotations: Annotations | None = None
    description: str | None = None
    mime_type: str | None = msgspec.field(default=None, name="mimeType")
    name: str
    size: I64 | None = None
    title: str | None = None
    uri: str


class ResourceTemplate(msgspec.Struct, kw_only=True, omit_defaults=True):
    annotations: Annotations | None = None
    description: str | None = None
    mime_type: str | None = msgspec.field(default=None, name="mimeType")
    name: str
    title: str | None = None
    uri_template: str = msgspec.field(name="uriTemplate")


class Result_of_CallToolResult_or_String(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Externally tagged: exactly one field is set."""

    ok: CallToolResult | None = msgspec.field(default=None, name="Ok")
    err: str | None = msgspec.field(default=None, name="Err")


class ReviewCodeLocation(msgspec.Struct, kw_only=True):
    absolute_file_path: str
    line_range: ReviewLineRange


class ReviewFinding(msgspec.Struct, kw_only=True):
    title: str
    body: str
    confidence_score: float
    priority: I32
    code_location: ReviewCodeLocation


class ReviewLineRange(msgspec.Struct, kw_only=True):
    start: U32
    end: U32


class ReviewOutputEvent(msgspec.Struct, kw_only=True):
    findings: list[ReviewFinding]
    overall_correctness: str
    overall_explanation: str
    overall_confidence_score: float


class TokenUsage(msgspec.Struct, kw_only=True):
    input_tokens: I64
    cached_input_tokens: I64
    output_tokens: I64
    reasoning_output_tokens: I64
    total_tokens: I64


class TokenUsageInfo(msgspec.Struct, kw_only=True):
    total_token_usage: TokenUsage
    last_token_usage: TokenUsage
    model_context_window: I64 | None = None


class Tool(msgspec.Struct, kw_only=True, omit_defaults=True):
    annotations: ToolAnnotations | None = None
    description: str | None = None
    input_schema: ToolInputSchema = msgspec.field(name="inputSchema")
    name: str
    output_schema: ToolOutputSchema | None = msgspec.field(default=None, name="outputSchema")
    title: str | None = None


class ToolAnnotations(msgspec.Struct, kw_only=True, omit_defaults=True):
    destructive_hint: bool | None = msgspec.field(default=None, name="destructiveHint")
    idempotent_hint: bool | None = msgspec.field(default=None, name="idempotentHint")
    open_world_hint: bool | None = msgspec.field(default=None, name="openWorldHint")
    read_only_hint: bool | None = msgspec.field(default=None, name="readOnlyHint")
    title: str | None = None


class ToolInputSchema(msgspec.Struct, kw_only=True, omit_defaults=True):
    properties: Any = None
    required: list[str] | None = None
    type: str


class ToolOutputSchema(msgspec.Struct, kw_only=True, omit_defaults=True):
    properties: Any = None
    required: list[str] | None = None
    type: str


class TurnItem(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Externally tagged: exactly one field is set."""

    user_message: UserMessageItem | None = msgspec.field(default=None, name="UserMessage")
    agent_message: AgentMessageItem | None = msgspec.field(default=None, name="AgentMessage")
    reasoning: ReasoningItem | None = msgspec.field(default=None, name="Reasoning")
    web_search: WebSearchItem | None = msgspec.field(default=None, name="WebSearch")


class UserMessageItem(msgspec.Struct, kw_only=True):
    id: str
    content: list[UserInput]


class WebSearchItem(msgspec.Struct, kw_only=True):
    id: str
    query: str


class AddFileChange(msgspec.Struct, kw_only=True):
    content: str


class DeleteFileChange(msgspec.Struct, kw_only=True):
    content: str


class UpdateFileChange(msgspec.Struct, kw_only=True):
    unified_diff: str
    move_path: str | None = None


class FileChange(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Externally tagged: exactly one field is set."""

    add: AddFileChange | None = None
    delete: DeleteFileChange | None = None
    update: UpdateFileChange | None = None


class ReadParsedCommand(msgspec.Struct, tag_field="type", tag="read", kw_only=True):
    cmd: str
    name: str
    path: str


class ListFilesParsedCommand(msgspec.Struct, tag_field="type", tag="list_files", kw_only=True):
    cmd: str
    path: str | None = None


class SearchParsedCommand(msgspec.Struct, tag_field="type", tag="search", kw_only=True):
    cmd: str
    query: str | None = None
    path: str | None = None


class UnknownParsedCommand(msgspec.Struct, tag_field="type", tag="unknown", kw_only=True):
    cmd: str


class DangerFullAccessSandboxPolicy(msgspec.Struct, tag_field="mode", tag="danger-full-access", kw_only=True):
    pass


class ReadOnlySandboxPolicy(msgspec.Struct, tag_field="mode", tag="read-only", kw_only=True):
    pass


class WorkspaceWriteSandboxPolicy(msgspec.Struct, tag_field="mode", tag="workspace-write", kw_only=True):
    writable_roots: list[PathStr] | UnsetType = UNSET
    network_access: bool = False
    exclude_tmpdir_env_var: bool = False
    exclude_slash_tmp: bool = False

    def __post_init__(self) -> None:
        # 0.58 leaves these keys out when empty; a caller's None (or []) means the same.
        if self.writable_roots is not UNSET and not self.writable_roots:
            self.writable_roots = UNSET


class InputTextContentItem(msgspec.Struct, tag_field="type", tag="input_text", kw_only=True):
    text: str


class InputImageContentItem(msgspec.Struct, tag_field="type", tag="input_image", kw_only=True):
    image_url: str


class OutputTextContentItem(msgspec.Struct, tag_field="type", tag="output_text", kw_only=True):
    text: str


class InputTextFunctionCallOutputContentItem(msgspec.Struct, tag_field="type", tag="input_text", kw_only=True):
    text: str


class InputImageFunctionCallOutputContentItem(msgspec.Struct, tag_field="type", tag="input_image", kw_only=True):
    image_url: str


class FunctionCallOutputPayload(msgspec.Struct, kw_only=True):
    content: str
    content_items: list[FunctionCallOutputContentItem] | None = None
    success: bool | None = None


class GhostCommit(msgspec.Struct, kw_only=True):
    id: str
    parent: str | None = None
    preexisting_untracked_files: list[str]
    preexisting_untracked_dirs: list[str]


class ExecLocalShellAction(msgspec.Struct, tag_field="type", tag="exec", kw_only=True):
    command: list[str]
    timeout_ms: U64 | None = None
    working_directory: str | None = None
    env: dict[str, str] | None = None
    user: str | None = None


class ReasoningTextReasoningItemContent(msgspec.Struct, tag_field="type", tag="reasoning_text", kw_only=True):
    text: str


class TextReasoningItemContent(msgspec.Struct, tag_field="type", tag="text", kw_only=True):
    text: str


class SummaryTextReasoningItemReasoningSummary(msgspec.Struct, tag_field="type", tag="summary_text", kw_only=True):
    text: str


class MessageResponseItem(msgspec.Struct, tag_field="type", tag="message", kw_only=True):
    role: str
    content: list[ContentItem]


class ReasoningResponseItem(msgspec.Struct, tag_field="type", tag="reasoning", kw_only=True):
    summary: list[ReasoningItemReasoningSummary]
    content: list[ReasoningItemContent] | None = None
    encrypted_content: str | None = None


class LocalShellCallResponseItem(msgspec.Struct, tag_field="type", tag="local_shell_call", kw_only=True):
    call_id: str | None = None
    status: LocalShellStatus
    action: LocalShellAction


class FunctionCallResponseItem(msgspec.Struct, tag_field="type", tag="function_call", kw_only=True):
    name: str
    arguments: str
    call_id: str


class FunctionCallOutputResponseItem(msgspec.Struct, tag_field="type", tag="function_call_output", kw_only=True):
    call_id: str
    output: str | list[FunctionCallOutputContentItem]


class CustomToolCallResponseItem(
    msgspec.Struct, tag_field="type", tag="custom_tool_call", kw_only=True, omit_defaults=True
):
    status: str | None = None
    call_id: str
    name: str
    input: str


class CustomToolCallOutputResponseItem(msgspec.Struct, tag_field="type", tag="custom_tool_call_output", kw_only=True):
    call_id: str
    output: str


class WebSearchCallResponseItem(
    msgspec.Struct, tag_field="type", tag="web_search_call", kw_only=True, omit_defaults=True
):
    status: str | None = None
    action: WebSearchAction


class GhostSnapshotResponseItem(msgspec.Struct, tag_field="type", tag="ghost_snapshot", kw_only=True):
    ghost_commit: GhostCommit


class OtherResponseItem(msgspec.Struct, tag_field="type", tag="other", kw_only=True):
    pass


class SearchWebSearchAction(msgspec.Struct, tag_field="type", tag="search", kw_only=True):
    query: str


class OtherWebSearchAction(msgspec.Struct, tag_field="type", tag="other", kw_only=True):
    pass


class SubagentSessionSource(msgspec.Struct, kw_only=True):
    subagent: SubAgentSource


class OtherSubAgentSource(msgspec.Struct, kw_only=True):
    other: str


class Annotations(msgspec.Struct, kw_only=True, omit_defaults=True):
    audience: list[Role] | None = None
    last_modified: str | None = msgspec.field(default=None, name="lastModified")
    priority: float | None = None


class AudioContent(msgspec.Struct, tag_field="type", tag="audio", kw_only=True, omit_defaults=True):
    annotations: Annotations | None = None
    data: str
    mime_type: str = msgspec.field(name="mimeType")


class BlobResourceContents(msgspec.Struct, kw_only=True, omit_defaults=True):
    blob: str
    mime_type: str | None = msgspec.field(default=None, name="mimeType")
    uri: str


class EmbeddedResource(msgspec.Struct, tag_field="type", tag="resource", kw_only=True, omit_defaults=True):
    annotations: Annotations | None = None
    resource: EmbeddedResourceResource


class EmbeddedResourceResource(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Untagged in 0.58: text contents carry `text`, blob contents carry `blob`."""

    uri: str
    mime_type: str | None = msgspec.field(default=None, name="mimeType")
    text: str | None = None
    blob: str | None = None


class ImageContent(msgspec.Struct, tag_field="type", tag="image", kw_only=True, omit_defaults=True):
    annotations: Annotations | None = None
    data: str
    mime_type: str = msgspec.field(name="mimeType")


class RateLimitSnapshot(msgspec.Struct, kw_only=True):
    primary: RateLimitWindow | None = None
    secondary: RateLimitWindow | None = None


class RateLimitWindow(msgspec.Struct, kw_only=True):
    used_percent: float
    window_minutes: I64 | None = None
    resets_at: I64 | None = None


class ResourceLink(msgspec.Struct, tag_field="type", tag="resource_link", kw_only=True, omit_defaults=True):
    annotations: Annotations | None = None
    description: str | None = None
    mime_type: str | None = msgspec.field(default=None, name="mimeType")
    name: str
    size: I64 | None = None
    title: str | None = None
    uri: str


class TextContent(msgspec.Struct, tag_field="type", tag="text", kw_only=True, omit_defaults=True):
    annotations: Annotations | None = None
    text: str


class TextResourceContents(msgspec.Struct, kw_only=True, omit_defaults=True):
    mime_type: str | None = msgspec.field(default=None, name="mimeType")
    text: str
    uri: str


class TextUserInput(msgspec.Struct, tag_field="type", tag="text", kw_only=True):
    text: str


class ImageUserInput(msgspec.Struct, tag_field="type", tag="image", kw_only=True):
    image_url: str


class LocalImageUserInput(msgspec.Struct, tag_field="type", tag="local_image", kw_only=True):
    path: PathStr

ParsedCommand = ReadParsedCommand | ListFilesParsedCommand | SearchParsedCommand | UnknownParsedCommand
SandboxPolicy = DangerFullAccessSandboxPolicy | ReadOnlySandboxPolicy | WorkspaceWriteSandboxPolicy
ContentItem = InputTextContentItem | InputImageContentItem | OutputTextContentItem
FunctionCallOutputContentItem = InputTextFunctionCallOutputContentItem | InputImageFunctionCallOutputContentItem
LocalShellAction = ExecLocalShellAction
ReasoningItemContent = ReasoningTextReasoningItemContent | TextReasoningItemContent
ReasoningItemReasoningSummary = SummaryTextReasoningItemReasoningSummary
ResponseItem = (
    MessageResponseItem
    | ReasoningResponseItem
    | LocalShellCallResponseItem
    | FunctionCallResponseItem
    | FunctionCallOutputResponseItem
    | CustomToolCallResponseItem
    | CustomToolCallOutputResponseItem
    | WebSearchCallResponseItem
    | GhostSnapshotResponseItem
    | OtherResponseItem
)
WebSearchAction = SearchWebSearchAction | OtherWebSearchAction
SessionSource = Literal["cli", "vscode", "exec", "mcp", "unknown"] | SubagentSessionSource
SubAgentSource = Literal["review", "compact"] | OtherSubAgentSource
ContentBlock = TextContent | ImageContent | AudioContent | ResourceLink | EmbeddedResource
UserInput = TextUserInput | ImageUserInput | LocalImageUserInput
