"""Params of every server notification (v1 and v2)."""

from __future__ import annotations

import msgspec

# Generated from the 0.58 schema and its ts-rs bindings (field order, `?`); edit with care.
from messages.common import U64, AuthMode, ConversationId, ReasoningEffort, USize, Uuid
from messages.events import EventMsg
from messages.v2 import RateLimitSnapshot, Thread, ThreadItem, Turn, Usage


class AuthStatusChangeNotification(msgspec.Struct, kw_only=True):
    auth_method: AuthMode | None = msgspec.field(default=None, name="authMethod")


class LoginChatGptCompleteNotification(msgspec.Struct, kw_only=True):
    login_id: Uuid = msgspec.field(name="loginId")
    success: bool
    error: str | None = None


class SessionConfiguredNotification(msgspec.Struct, kw_only=True):
    session_id: ConversationId = msgspec.field(name="sessionId")
    model: str
    reasoning_effort: ReasoningEffort | None = msgspec.field(default=None, name="reasoningEffort")
    history_log_id: U64 = msgspec.field(name="historyLogId")
    history_entry_count: USize = msgspec.field(name="historyEntryCount")
    initial_messages: list[EventMsg] | None = msgspec.field(default=None, name="initialMessages")
    rollout_path: str = msgspec.field(name="rolloutPath")


class ThreadStartedNotification(msgspec.Struct, kw_only=True):
    thread: Thread


class TurnStartedNotification(msgspec.Struct, kw_only=True):
    turn: Turn


class TurnCompletedNotification(msgspec.Struct, kw_only=True):
    # `threadId` is ours (0.58 never sends this notification): a client can route it without state.
    thread_id: str = msgspec.field(name="threadId")
    turn: Turn
    usage: Usage


class ItemStartedNotification(msgspec.Struct, kw_only=True):
    item: ThreadItem


class ItemCompletedNotification(msgspec.Struct, kw_only=True):
    item: ThreadItem


class AgentMessageDeltaNotification(msgspec.Struct, kw_only=True):
    # `threadId`/`turnId` are ours (0.58 never sends this notification).
    thread_id: str = msgspec.field(name="threadId")
    turn_id: str = msgspec.field(name="turnId")
    item_id: str = msgspec.field(name="itemId")
    delta: str


class CommandExecutionOutputDeltaNotification(msgspec.Struct, kw_only=True):
    thread_id: str = msgspec.field(name="threadId")
    turn_id: str = msgspec.field(name="turnId")
    item_id: str = msgspec.field(name="itemId")
    delta: str


class McpToolCallProgressNotification(msgspec.Struct, kw_only=True):
    item_id: str = msgspec.field(name="itemId")
    message: str


class AccountUpdatedNotification(msgspec.Struct, kw_only=True):
    auth_mode: AuthMode | None = msgspec.field(default=None, name="authMode")


class AccountRateLimitsUpdatedNotification(msgspec.Struct, kw_only=True):
    rate_limits: RateLimitSnapshot = msgspec.field(name="rateLimits")


class AccountLoginCompletedNotification(msgspec.Struct, kw_only=True):
    login_id: str | None = msgspec.field(default=None, name="loginId")
    success: bool
    error: str | None = None


# --- Not in the schema: the envelope of `codex/event/<msg.type>` notifications ---------------------


class EventNotification(msgspec.Struct, kw_only=True):
    """Params of `codex/event/<type>`: `id` is the submission id, `conversationId` is added by the server."""

    id: str
    msg: EventMsg
    conversation_id: ConversationId = msgspec.field(name="conversationId")
