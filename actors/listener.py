"""The listener of one conversation: its events become notifications (CONVERSATIONS.md §1, §2).

One listener actor per loaded conversation (not per subscription), so each event is encoded once
and goes once to every subscribed connection (DECISIONS 3). While nobody is subscribed, events wait
in a bounded buffer (DECISIONS 4) that the first subscriber receives. Besides the
`codex/event/<type>` notification it applies the seed's special handling: approval events become
server requests to the connection that sent the turn's input (DECISIONS 5), token counts with rate
limits become `account/rateLimits/updated` (every connection, DECISIONS 2), a turn abort answers the
parked interrupts, item events also go out as `item/started` / `item/completed`; for v2 threads it
adds `item/agentMessage/delta`, `item/commandExecution/outputDelta` and `turn/completed` (§12).
"""

from __future__ import annotations

import base64
import logging
from collections import deque
from typing import Any

import msgspec
import pykka

from actors.base import FeatureActor
from messages.internal import CONNECTION_GONE, Call, ServerAnswer

log = logging.getLogger(__name__)

BUFFER_MAX_EVENTS = 10_000
BUFFER_MAX_BYTES = 16 * 1024 * 1024
_EVENT_OVERHEAD = 160  # rough size of the envelope around a msg, for the byte bound


# -- messages this actor accepts ------------------------------------------------------------------
class Deliver(msgspec.Struct, frozen=True):
    """Events of the conversation in production order: `(submission id, msg)` pairs.
    `input_connection` sent the input of the turn they belong to (approval target)."""

    events: list[tuple[str, dict[str, Any]]]
    input_connection: int | None = None


class SetSubscribers(msgspec.Struct, frozen=True):
    """The connections that now hold at least one subscription, each with its raw-events flag."""

    subscribers: dict[int, bool]


class ParkInterrupt(msgspec.Struct, frozen=True):
    """An interrupt request answered at the next `turn_aborted` (v1 `{abortReason}`, v2 `{}`)."""

    call: Call
    v2: bool


class AnswerInterrupts(msgspec.Struct, frozen=True):
    """Answer every parked interrupt now (the conversation was idle, §12)."""

    reason: str = "interrupted"


class ConnectionGone(msgspec.Struct, frozen=True):
    connection: int


class ApprovalAnswer(msgspec.Struct, frozen=True):
    """Told to the conversation actor: the decision for one approval request (`abort` when nobody
    can answer). A client's answer is an Op of its own (it takes a submission id); a decision this
    listener makes because no connection is left is not (`from_client` False)."""

    event_id: str
    call_id: str
    kind: str  # "exec" or "patch"
    decision: str
    from_client: bool = True


_DECISIONS = frozenset({"approved", "approved_for_session", "denied", "abort"})


# -- event → v2 shapes ----------------------------------------------------------------------------
def _user_input_v2(part: dict[str, Any]) -> dict[str, Any]:
    kind = part.get("type")
    if kind == "image":
        return {"type": "image", "url": part.get("image_url", "")}
    if kind == "local_image":
        return {"type": "localImage", "path": part.get("path", "")}
    return {"type": "text", "text": part.get("text", "")}


def thread_item(item: dict[str, Any]) -> dict[str, Any] | None:
    """A core TurnItem (`{"UserMessage": …}` etc.) as the v2 ThreadItem of `item/*` notifications."""
    if "UserMessage" in item:
        body = item["UserMessage"]
        return {"type": "userMessage", "id": body["id"], "content": [_user_input_v2(p) for p in body["content"]]}
    if "AgentMessage" in item:
        body = item["AgentMessage"]
        text = "".join(part.get("Text", {}).get("text", "") for part in body["content"])
        return {"type": "agentMessage", "id": body["id"], "text": text}
    if "Reasoning" in item:
        body = item["Reasoning"]
        # 0.58 shows the summary, or the raw reasoning when there is no summary (the chat wire's case)
        lines = body.get("summary_text") or body.get("raw_content") or []
        return {"type": "reasoning", "id": body["id"], "text": "\n".join(lines)}
    return None


def _window(window: dict[str, Any] | None) -> dict[str, Any] | None:
    if window is None:
        return None
    used = window.get("used_percent") or 0
    return {
        "usedPercent": int(float(used) + 0.5),  # Rust rounds half away from zero: 12.5 → 13
        "windowDurationMins": window.get("window_minutes"),
        "resetsAt": window.get("resets_at"),
    }


def rate_limits_v2(limits: dict[str, Any]) -> dict[str, Any]:
    return {"primary": _window(limits.get("primary")), "secondary": _window(limits.get("secondary"))}


def _total(info: dict[str, Any] | None) -> dict[str, int]:
    if not info:
        return {}
    return dict(info.get("total_token_usage") or {})


class ListenerActor(FeatureActor):
    """Owns, for one conversation: the subscribed connections (with raw flags), the event buffer
    while nobody listens, the parked interrupt requests, the approval requests in flight, and the
    per-turn bookkeeping for v2 `turn/completed`.

    Accepts Deliver, SetSubscribers, ParkInterrupt, AnswerInterrupts, ConnectionGone, and the
    ServerAnswer of its approval requests.
    """

    def __init__(
        self, outgoing: pykka.ActorRef, conversation_id: str, conversation: pykka.ActorRef | None, v2: bool = False
    ) -> None:
        super().__init__(outgoing)
        self.conversation_id = conversation_id
        self.conversation = conversation
        self.v2 = v2
        self._subscribers: dict[int, bool] = {}
        self._all: tuple[int, ...] = ()
        self._raw: tuple[int, ...] = ()
        self._gone: set[int] = set()
        self._buffer: deque[tuple[str, dict[str, Any], int]] = deque()
        self._buffer_bytes = 0
        self._dropped_logged = False
        self._interrupts: list[ParkInterrupt] = []
        self._approvals: dict[int, tuple[str, str, str, dict[str, Any], int]] = {}
        self._approval_seq = 0
        self._turn_start_total: dict[str, dict[str, int]] = {}
        self._turn_error: dict[str, str] = {}
        self._info: dict[str, Any] | None = None

    # -- messages -------------------------------------------------------------------------------
    def on_message(self, message: Any) -> Any:
        if isinstance(message, Deliver):
            for event_id, msg in message.events:
                self._event(event_id, msg, message.input_connection)
        elif isinstance(message, SetSubscribers):
            self._set_subscribers(message.subscribers)
        elif isinstance(message, ParkInterrupt):
            self._interrupts.append(message)
        elif isinstance(message, AnswerInterrupts):
            self._answer_interrupts(message.reason)
        elif isinstance(message, ConnectionGone):
            self._gone.add(message.connection)
            self._reroute_approvals(message.connection)
        elif isinstance(message, ServerAnswer):
            self._approval_answered(message)
        else:
            return super().on_message(message)
        return None

    def _set_subscribers(self, subscribers: dict[int, bool]) -> None:
        had_none = not self._subscribers
        self._subscribers = dict(subscribers)
        self._all = tuple(sorted(self._subscribers))
        self._raw = tuple(conn for conn in self._all if self._subscribers[conn])
        if had_none and self._subscribers and self._buffer:
            buffered, self._buffer = self._buffer, deque()
            self._buffer_bytes = 0
            for event_id, msg, _size in buffered:
                self._send(event_id, msg)

    # -- one event ------------------------------------------------------------------------------
    def _event(self, event_id: str, msg: dict[str, Any], input_connection: int | None) -> None:
        kind = msg["type"]
        self._track_turn(event_id, kind, msg)
        if self._subscribers:
            self._send(event_id, msg)
        else:
            self._hold(event_id, msg)
        # Effects that must not wait for a subscriber (a parked request would otherwise hang).
        if kind == "token_count":
            self._info = msg.get("info") or self._info
            if msg.get("rate_limits") is not None:
                self.notify("account/rateLimits/updated", {"rateLimits": rate_limits_v2(msg["rate_limits"])})
        elif kind == "turn_aborted":
            self._answer_interrupts(msg.get("reason", "interrupted"))
            self._drop_approvals(event_id)
        elif kind in ("exec_approval_request", "apply_patch_approval_request"):
            self._ask_approval(event_id, msg, input_connection)

    def _hold(self, event_id: str, msg: dict[str, Any]) -> None:
        size = _EVENT_OVERHEAD + sum(len(v) for v in msg.values() if isinstance(v, str))
        self._buffer.append((event_id, msg, size))
        self._buffer_bytes += size
        while len(self._buffer) > BUFFER_MAX_EVENTS or self._buffer_bytes > BUFFER_MAX_BYTES:
            _, _, dropped = self._buffer.popleft()
            self._buffer_bytes -= dropped
            if not self._dropped_logged:
                self._dropped_logged = True
                log.warning("conversation %s: no listener, dropping the oldest buffered events", self.conversation_id)

    def _send(self, event_id: str, msg: dict[str, Any]) -> None:
        kind = msg["type"]
        targets = self._raw if kind == "raw_response_item" else self._all
        if not targets:
            return
        params = {"id": event_id, "msg": msg, "conversationId": self.conversation_id}
        self.notify(f"codex/event/{kind}", params, targets)
        if kind in ("item_started", "item_completed"):
            item = thread_item(msg["item"])
            if item is not None:
                method = "item/started" if kind == "item_started" else "item/completed"
                self.notify(method, {"item": item}, targets)
        elif not self.v2:
            return
        elif kind == "agent_message_content_delta":
            self.notify(
                "item/agentMessage/delta",
                {"threadId": self.conversation_id, "turnId": event_id, "itemId": msg["item_id"], "delta": msg["delta"]},
                targets,
            )
        elif kind == "exec_command_output_delta":
            text = base64.b64decode(msg["chunk"]).decode(errors="replace")
            self.notify(
                "item/commandExecution/outputDelta",
                {"threadId": self.conversation_id, "turnId": event_id, "itemId": msg["call_id"], "delta": text},
                targets,
            )
        elif kind in ("task_complete", "turn_aborted"):
            self._turn_completed(event_id, kind, targets)

    # -- v2 turn/completed ----------------------------------------------------------------------
    def _track_turn(self, event_id: str, kind: str, msg: dict[str, Any]) -> None:
        if kind == "task_started":
            self._turn_start_total[event_id] = _total(self._info)
            self._turn_error.pop(event_id, None)
        elif kind == "error":
            self._turn_error[event_id] = msg.get("message", "")

    def _turn_completed(self, event_id: str, kind: str, targets: tuple[int, ...]) -> None:
        start = self._turn_start_total.pop(event_id, {})
        end = _total(self._info)
        error = self._turn_error.pop(event_id, None)
        if kind == "turn_aborted":
            status = "interrupted"
        elif error is not None:
            status = "failed"
        else:
            status = "completed"
        usage = {
            "inputTokens": end.get("input_tokens", 0) - start.get("input_tokens", 0),
            "cachedInputTokens": end.get("cached_input_tokens", 0) - start.get("cached_input_tokens", 0),
            "outputTokens": end.get("output_tokens", 0) - start.get("output_tokens", 0),
        }
        turn = {
            "id": event_id,
            "items": [],
            "status": status,
            "error": {"message": error} if error is not None else None,
        }
        self.notify("turn/completed", {"threadId": self.conversation_id, "turn": turn, "usage": usage}, targets)

    # -- interrupts -----------------------------------------------------------------------------
    def _answer_interrupts(self, reason: str) -> None:
        parked, self._interrupts = self._interrupts, []
        for item in parked:
            self.reply(item.call, {} if item.v2 else {"abortReason": reason})

    # -- approvals (DECISIONS 5) ----------------------------------------------------------------
    def _approval_target(self, preferred: int | None) -> int | None:
        if preferred is not None and preferred not in self._gone:
            return preferred
        for conn in self._all:
            if conn not in self._gone:
                return conn
        return None

    def _ask_approval(self, event_id: str, msg: dict[str, Any], input_connection: int | None) -> None:
        kind = "exec" if msg["type"] == "exec_approval_request" else "patch"
        if kind == "exec":
            method = "execCommandApproval"
            params = {
                "conversationId": self.conversation_id,
                "callId": msg["call_id"],
                "command": msg["command"],
                "cwd": msg["cwd"],
                "reason": msg.get("reason"),
                "risk": msg.get("risk"),
                "parsedCmd": msg.get("parsed_cmd", []),
            }
        else:
            method = "applyPatchApproval"
            params = {
                "conversationId": self.conversation_id,
                "callId": msg["call_id"],
                "fileChanges": msg.get("changes", {}),
                "reason": msg.get("reason"),
                "grantRoot": msg.get("grant_root"),
            }
        self._approval_seq += 1
        token = self._approval_seq
        self._approvals[token] = (event_id, msg["call_id"], kind, {"method": method, "params": params}, -1)
        self._route_approval(token, input_connection)

    def _route_approval(self, token: int, preferred: int | None) -> None:
        event_id, call_id, kind, request, _ = self._approvals[token]
        target = self._approval_target(preferred)
        if target is None:
            self._decide(token, "abort", from_client=False)  # DECISIONS 5: nobody left to ask
            return
        self._approvals[token] = (event_id, call_id, kind, request, target)
        # The target rides in the token: an answer from a connection the request has moved away from
        # (its CONNECTION_GONE, say) is stale and must not touch the new attempt.
        self.ask_client(
            target, request["method"], request["params"], ("approval", self.conversation_id, token, target)
        )

    def _reroute_approvals(self, connection: int) -> None:
        for token, (_, _, _, _, target) in list(self._approvals.items()):
            if target == connection:
                self._route_approval(token, None)

    def _approval_answered(self, answer: ServerAnswer) -> None:
        token_tuple = answer.token
        if not (isinstance(token_tuple, tuple) and len(token_tuple) == 4 and token_tuple[0] == "approval"):
            return
        token = token_tuple[2]
        if token not in self._approvals or self._approvals[token][4] != token_tuple[3]:
            return
        if answer.error is not None:
            if answer.error.get("code") == CONNECTION_GONE:
                _, _, _, _, target = self._approvals[token]
                self._gone.add(target)
                self._route_approval(token, None)
                return
            self._decide(token, "denied")  # §12: an error reply counts as denied
            return
        result = answer.result
        decision = result.get("decision") if isinstance(result, dict) else None
        self._decide(token, decision if decision in _DECISIONS else "denied")

    def _drop_approvals(self, event_id: str) -> None:
        """The turn ended (interrupt, abort, shutdown): its open requests are settled; a late answer
        finds nothing and is ignored, so each request is decided exactly once."""
        for token, (turn_id, *_rest) in list(self._approvals.items()):
            if turn_id == event_id:
                del self._approvals[token]

    def _decide(self, token: int, decision: str, from_client: bool = True) -> None:
        event_id, call_id, kind, _, _ = self._approvals.pop(token)
        conversation = self.conversation or self.peers.get("conversation")
        if conversation is not None:
            conversation.tell(ApprovalAnswer(event_id, call_id, kind, decision, from_client))
