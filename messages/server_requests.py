"""Server->client requests (`execCommandApproval`, `applyPatchApproval`): params and answers."""

from __future__ import annotations

import msgspec

# Generated from the 0.58 schema and its ts-rs bindings (field order, `?`); edit with care.
from messages.common import ConversationId, FileChange, ParsedCommand, ReviewDecision, SandboxCommandAssessment


class ApplyPatchApprovalParams(msgspec.Struct, kw_only=True):
    conversation_id: ConversationId = msgspec.field(name="conversationId")
    call_id: str = msgspec.field(name="callId")
    file_changes: dict[str, FileChange] = msgspec.field(name="fileChanges")
    reason: str | None = None
    grant_root: str | None = msgspec.field(default=None, name="grantRoot")


class ExecCommandApprovalParams(msgspec.Struct, kw_only=True):
    conversation_id: ConversationId = msgspec.field(name="conversationId")
    call_id: str = msgspec.field(name="callId")
    command: list[str]
    cwd: str
    reason: str | None = None
    risk: SandboxCommandAssessment | None = None
    parsed_cmd: list[ParsedCommand] = msgspec.field(name="parsedCmd")


class ApplyPatchApprovalResponse(msgspec.Struct, kw_only=True):
    decision: ReviewDecision


class ExecCommandApprovalResponse(msgspec.Struct, kw_only=True):
    decision: ReviewDecision
