"""One loaded conversation (CONVERSATIONS.md §1, §4, §6, §7).

The conversation actor owns the history, the turn context, the submission counter, the rollout
writer and the running turn. A turn runs in a `TurnWorker` thread whose operations come back through
the turn's `Outbox` (a `Drain` message), so interrupts and new input are handled while a model
stream is in flight. Every persisted line is written before its event is handed to the listener.
"""

from __future__ import annotations

import base64
import logging
import mimetypes
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import msgspec
import pykka

from actors import prompts
from actors.base import DEFERRED, FeatureActor
from actors.listener import AnswerInterrupts, ApprovalAnswer, Deliver, ParkInterrupt
from actors.rollout_writer import RolloutWriter
from actors.turn import Outbox, TurnDeps, TurnHandle, TurnSpec, TurnWorker, tools_for
from messages.internal import Call, ConversationShutDown

log = logging.getLogger(__name__)


# -- settings -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TurnContext:
    """What a turn runs with; `sendUserTurn` / `turn/start` overrides replace it for later turns too."""

    cwd: Path
    approval_policy: str
    sandbox_policy: dict[str, Any]
    model: str
    effort: str | None
    summary: str

    def rollout_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "cwd": str(self.cwd),
            "approval_policy": self.approval_policy,
            "sandbox_policy": self.sandbox_policy,
            "model": self.model,
        }
        if self.effort is not None:
            payload["effort"] = self.effort
        payload["summary"] = self.summary
        return payload


@dataclass(frozen=True)
class Session:
    """A conversation as the manager prepared it (rollout already created)."""

    conversation_id: str
    writer: RolloutWriter
    history: list[dict[str, Any]]
    context: TurnContext
    instructions: str
    provider_id: str
    provider: Any
    wire_api: str
    shell_environment_policy: Any
    created_at: int
    v2: bool = False
    # apply_patch switches from config (§4.4): the deprecated `include_apply_patch_tool` and
    # `[features].apply_patch_freeform` (or `experimental_use_freeform_apply_patch`) offer the freeform tool
    include_apply_patch_tool: bool = False
    apply_patch_freeform: bool = False
    # a new conversation (not resumed or forked): 0.58 announces its initial-context items as raw events
    fresh: bool = False


DEPRECATION_NOTICE = {
    "type": "deprecation_notice",
    "summary": "`include_apply_patch_tool` is deprecated. Use `apply_patch_freeform` instead.",
    "details": (
        "Enable it with `--enable apply_patch_freeform` or `[features].apply_patch_freeform` in config.toml. "
        "See https://github.com/openai/codex/blob/main/docs/config.md#feature-flags for details."
    ),
}


def apply_patch_switches(config: Any) -> dict[str, bool]:
    """The Session fields that say how apply_patch is offered, read from a Config (or any object
    or dict with the same names; missing means off)."""

    def get(obj: Any, name: str) -> Any:
        return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)

    raw = get(config, "raw") or {}
    features = raw.get("features") if isinstance(raw, dict) else None
    freeform = bool(raw.get("experimental_use_freeform_apply_patch")) if isinstance(raw, dict) else False
    if isinstance(features, dict) and features.get("apply_patch_freeform") is not None:
        freeform = bool(features["apply_patch_freeform"])
    return {"include_apply_patch_tool": bool(get(config, "include_apply_patch_tool")), "apply_patch_freeform": freeform}


# -- wire → core conversions ----------------------------------------------------------------------
_APPROVAL_V2 = {"unlessTrusted": "untrusted", "onFailure": "on-failure", "onRequest": "on-request", "never": "never"}
_SANDBOX_V2 = {"readOnly": "read-only", "workspaceWrite": "workspace-write", "dangerFullAccess": "danger-full-access"}


def _builtins(value: Any) -> Any:
    """Wire Structs (or lists of them) as plain JSON values with their wire names."""
    return msgspec.to_builtins(value)


def approval_to_core(value: Any) -> str:
    value = str(value)
    return _APPROVAL_V2.get(value, value)


def sandbox_policy_to_core(value: Any) -> dict[str, Any]:
    """v1 (kebab) or v2 (camelCase) sandbox policy, or a bare mode, in the core form the rollout
    spells out (§6.3): workspace-write with all its flags, `writable_roots` only when non-empty."""
    raw = _builtins(value)
    if isinstance(raw, str):
        raw = {"mode": raw}
    raw = dict(raw or {})
    mode = _SANDBOX_V2.get(str(raw.get("mode")), str(raw.get("mode", "read-only")))
    if mode != "workspace-write":
        return {"mode": mode}
    policy: dict[str, Any] = {"mode": mode}
    roots = raw.get("writable_roots") or raw.get("writableRoots") or []
    if roots:
        policy["writable_roots"] = [str(root) for root in roots]
    policy["network_access"] = bool(raw.get("network_access", raw.get("networkAccess", False)))
    policy["exclude_tmpdir_env_var"] = bool(raw.get("exclude_tmpdir_env_var", raw.get("excludeTmpdirEnvVar", False)))
    policy["exclude_slash_tmp"] = bool(raw.get("exclude_slash_tmp", raw.get("excludeSlashTmp", False)))
    return policy


def core_input(items: Any) -> list[dict[str, Any]]:
    """v1 InputItems (`{type, data:{…}}`) or v2 UserInputs (`{type, …}`) as core user input."""
    out: list[dict[str, Any]] = []
    for raw in _builtins(items) or []:
        data = raw.get("data", raw)
        kind = raw.get("type")
        if kind == "text":
            out.append({"type": "text", "text": data.get("text", "")})
        elif kind == "image":
            out.append({"type": "image", "image_url": data.get("image_url", data.get("url", ""))})
        elif kind in ("localImage", "local_image"):
            out.append({"type": "local_image", "path": str(data.get("path", ""))})
    return out


def _local_image_url(path: str) -> str:
    mime = mimetypes.guess_type(path)[0] or "image/png"
    try:
        data = Path(path).read_bytes()
    except OSError:
        return ""
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def user_response_item(core: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
    """The `user` message sent to the model for one input, and the image URLs it carries."""
    content: list[dict[str, Any]] = []
    images: list[str] = []
    for part in core:
        if part["type"] == "text":
            content.append({"type": "input_text", "text": part["text"]})
        else:
            url = part["image_url"] if part["type"] == "image" else _local_image_url(part["path"])
            content.append({"type": "input_image", "image_url": url})
            images.append(url)
    return {"type": "message", "role": "user", "content": content}, images


def context_diff(previous: TurnContext, current: TurnContext) -> str | None:
    """The environment-context update for a turn whose settings changed (§4.1): only what changed."""
    cwd = str(current.cwd) if current.cwd != previous.cwd else None
    approval = current.approval_policy if current.approval_policy != previous.approval_policy else None
    sandbox = current.sandbox_policy if current.sandbox_policy != previous.sandbox_policy else None
    if cwd is None and approval is None and sandbox is None:
        return None
    return prompts.environment_context(cwd, approval, sandbox, None)


# -- messages this actor accepts ------------------------------------------------------------------
class Drain(msgspec.Struct, frozen=True):
    """A worker put operations into its outbox."""

    outbox: Any


class Shutdown(msgspec.Struct, frozen=True):
    """Abort any turn, announce `shutdown_complete`, close the rollout, answer, stop."""

    reply_to: Any
    token: Any


class UpdateContext(msgspec.Struct, frozen=True):
    """Settings for later turns, given when this already-loaded conversation is resumed
    (DECISIONS 6): field name of TurnContext → new value."""

    changes: dict[str, Any]


class Entry(msgspec.Struct, frozen=True):
    """One user input waiting to join a turn."""

    sub_id: str
    core: list[dict[str, Any]]
    connection: int
    user_agent: str


INITIAL_CONTEXT_ID = "auto-compact-0"


def _raw(item: dict[str, Any]) -> dict[str, Any]:
    """Every recorded response item is also an event, forwarded only to `experimentalRawEvents`
    subscribers and never persisted as an event (the item itself is the rollout's `response_item`)."""
    return {"type": "raw_response_item", "item": item}


def _wake(conversation: pykka.ActorRef, outbox: Any) -> None:
    try:
        conversation.tell(Drain(outbox))
    except pykka.ActorDeadError:
        pass  # a turn cancelled by the conversation's stop: nobody wants its late output


class ConversationActor(FeatureActor):
    """Owns one conversation: history, turn context (and the previous turn's, for context diffs),
    the submission counter, the rollout writer, token totals, the running turn, input queued for the
    next turn.

    Accepts the Calls the manager forwards (`send_user_message`, `send_user_turn`, `turn_start`,
    `interrupt_conversation`, `turn_interrupt`), `Drain` from its turn worker, `ApprovalAnswer`
    from its listener, `UpdateContext` and `Shutdown`.
    """

    def __init__(self, outgoing: pykka.ActorRef, session: Session, deps: TurnDeps, listener: pykka.ActorRef) -> None:
        super().__init__(outgoing)
        self.session = session
        self.conversation_id = session.conversation_id
        self.writer = session.writer
        self.deps = deps
        self.listener = listener
        self.history: list[dict[str, Any]] = list(session.history)
        self.context = session.context
        self.previous_context = session.context
        self.turns_started = 0
        self.next_submission = 0
        self.token_info: dict[str, Any] | None = None
        self.turn: TurnHandle | None = None
        self.turn_connection: int | None = None
        self.carry: list[Entry] = []
        self.approved_for_session: set[tuple[tuple[str, ...], str]] = set()

    def on_start(self) -> None:
        if self.session.fresh and self.history:
            # 0.58 records a new session's initial context under the id of its start-up work
            self.listener.tell(Deliver([(INITIAL_CONTEXT_ID, _raw(item)) for item in self.history], None))
        if self.session.include_apply_patch_tool:
            # 0.58 announces the deprecated switch once, outside any submission (empty id).
            self.listener.tell(Deliver([("", DEPRECATION_NOTICE)], None))

    # -- submissions ----------------------------------------------------------------------------
    def _submission(self) -> str:
        value = str(self.next_submission)
        self.next_submission += 1
        return value

    def _submit_input(
        self, core: list[dict[str, Any]], call: Call, announce: Callable[[str], None] | None = None
    ) -> tuple[str, str]:
        """Queue one user input: joins the running turn, or starts one. Returns (submission, turn id).
        `announce(turn id)` runs before any event of a turn this input starts reaches the listener."""
        entry = Entry(self._submission(), core, call.connection, call.user_agent)
        if self.turn is not None:
            item, _ = user_response_item(core)
            self.turn.add_input({"item": item, "entry": entry})
            if announce is not None:
                announce(self.turn.turn_id)
            return entry.sub_id, self.turn.turn_id
        self._start_turn(entry, announce)
        return entry.sub_id, entry.sub_id

    # -- handlers (Calls forwarded by the manager) ----------------------------------------------
    def send_user_message(self, call: Call) -> Any:
        self._submit_input(core_input(call.params.items), call)
        return {}

    def send_user_turn(self, call: Call) -> Any:
        params = call.params
        self.context = replace(
            self.context,
            cwd=Path(str(params.cwd)),
            approval_policy=approval_to_core(params.approval_policy),
            sandbox_policy=sandbox_policy_to_core(params.sandbox_policy),
            model=params.model,
            effort=params.effort,
            summary=str(params.summary),
        )
        self._submit_input(core_input(params.items), call)
        return {}

    def turn_start(self, call: Call) -> Any:
        params = call.params
        overrides = {
            "cwd": params.cwd,
            "approval_policy": params.approval_policy,
            "sandbox_policy": params.sandbox_policy,
            "model": params.model,
            "effort": params.effort,
            "summary": params.summary,
        }
        if any(value is not None for value in overrides.values()):
            self._submission()  # the override Op takes its own id (§1.1)
            changes: dict[str, Any] = {}
            if params.cwd is not None:
                changes["cwd"] = Path(str(params.cwd))
            if params.approval_policy is not None:
                changes["approval_policy"] = approval_to_core(params.approval_policy)
            if params.sandbox_policy is not None:
                changes["sandbox_policy"] = sandbox_policy_to_core(params.sandbox_policy)
            if params.model is not None:
                changes["model"] = params.model
            if params.effort is not None:
                changes["effort"] = params.effort
            if params.summary is not None:
                changes["summary"] = str(params.summary)
            self.context = replace(self.context, **changes)
        content = _builtins(params.input)

        def announce(turn_id: str) -> None:
            # 0.58 answers and announces the turn before its first event (`task_started`): both go
            # to the outgoing actor before the listener is told anything of this turn.
            turn = {
                "id": turn_id,
                "items": [{"type": "userMessage", "id": turn_id, "content": content}],
                "status": "inProgress",
                "error": None,
            }
            self.reply(call, {"turn": turn})
            self.notify("turn/started", {"turn": turn}, (call.connection,))

        self._submit_input(core_input(params.input), call, announce)
        return DEFERRED

    def interrupt_conversation(self, call: Call) -> Any:
        return self._interrupt(call, v2=False)

    def turn_interrupt(self, call: Call) -> Any:
        return self._interrupt(call, v2=True)

    def _interrupt(self, call: Call, v2: bool) -> Any:
        self._submission()
        self.listener.tell(ParkInterrupt(call, v2))
        if self.turn is None:
            self.listener.tell(AnswerInterrupts("interrupted"))  # §12: idle interrupts are answered
        else:
            self._abort_turn()
        return DEFERRED

    # -- turns ----------------------------------------------------------------------------------
    def _start_turn(self, entry: Entry, announce: Callable[[str], None] | None = None) -> None:
        context = self.context
        new_items: list[dict[str, Any]] = []
        if self.turns_started > 0:
            diff = context_diff(self.previous_context, context)
            if diff is not None:
                new_items.append(prompts.user_text_message(diff))
        self.turns_started += 1
        self.previous_context = context
        user_item, images = user_response_item(entry.core)
        new_items.append(user_item)
        for item in new_items:
            self.history.append(item)
            self.writer.write("response_item", item)

        turn_id = entry.sub_id
        item = {"UserMessage": {"id": str(uuid.uuid4()), "content": entry.core}}
        scope = {"thread_id": self.conversation_id, "turn_id": turn_id}
        text = "".join(part["text"] for part in entry.core if part["type"] == "text")
        user_message = {"type": "user_message", "message": text, "images": images}
        self.writer.persist_event(user_message)
        if announce is not None:
            announce(turn_id)
        self.listener.tell(
            Deliver(
                [
                    (turn_id, {"type": "task_started", "model_context_window": None}),
                    *((turn_id, _raw(recorded)) for recorded in new_items),
                    (turn_id, {"type": "item_started", **scope, "item": item}),
                    (turn_id, {"type": "item_completed", **scope, "item": item}),
                    (turn_id, user_message),
                ],
                entry.connection,
            )
        )

        me = self.actor_ref
        handle = TurnHandle(turn_id, Outbox(lambda box: _wake(me, box)))
        carry, self.carry = self.carry, []
        for waiting in carry:
            handle.add_input({"item": user_response_item(waiting.core)[0], "entry": waiting})
        session = self.session
        spec = TurnSpec(
            conversation_id=self.conversation_id,
            turn_id=turn_id,
            cwd=context.cwd,
            model=context.model,
            effort=context.effort,
            summary=context.summary,
            approval_policy=context.approval_policy,
            sandbox_policy=context.sandbox_policy,
            turn_context=context.rollout_payload(),
            instructions=session.instructions,
            tools=tools_for(context.model, session.include_apply_patch_tool or session.apply_patch_freeform),
            history=list(self.history),
            token_info=self.token_info,
            user_agent=entry.user_agent,
            provider=session.provider,
            wire_api=session.wire_api,
            shell_environment_policy=session.shell_environment_policy,
            session_approvals=frozenset(self.approved_for_session),
        )
        self.turn = handle
        self.turn_connection = entry.connection
        worker = TurnWorker(spec, handle, self.deps)
        threading.Thread(target=worker.run, name=f"turn-{self.conversation_id[:8]}-{turn_id}", daemon=True).start()

    def _abort_turn(self) -> None:
        handle = self.turn
        if handle is None:
            return
        handle.cancel()
        self.turn = None
        handle.outbox.take()  # whatever the worker produced after this point is not announced
        self.carry.extend(entry["entry"] for entry in handle.take_input() if "entry" in entry)
        aborted = {"type": "turn_aborted", "reason": "interrupted"}
        self.writer.persist_event(aborted)
        self.listener.tell(Deliver([(handle.turn_id, aborted)], self.turn_connection))

    def _drain(self, outbox: Outbox) -> None:
        ops = outbox.take()
        handle = self.turn
        if handle is None or handle.outbox is not outbox:
            return  # a cancelled turn's late output
        turn_id = handle.turn_id
        batch: list[tuple[str, dict[str, Any]]] = []
        ended = False
        for kind, value in ops:
            if kind == "event":
                self.writer.persist_event(value)
                if value["type"] == "token_count" and value.get("info") is not None:
                    self.token_info = value["info"]
                batch.append((turn_id, value))
            elif kind == "item":
                self.history.append(value)
                self.writer.write("response_item", value)
                batch.append((turn_id, _raw(value)))
            elif kind == "turn_context":
                self.writer.write("turn_context", value)
            elif kind == "approved_for_session":
                self.approved_for_session.add(value)
            elif kind == "abort":
                # An `abort` decision: what the worker emitted so far goes out, then the turn ends.
                if batch:
                    self.listener.tell(Deliver(batch, self.turn_connection))
                self._abort_turn()
                return
            elif kind == "end":
                ended = True
        if batch:
            self.listener.tell(Deliver(batch, self.turn_connection))
        if ended:
            self.turn = None
            # §12: input that arrived too late for the turn's last request starts the next turn.
            waiting = [entry["entry"] for entry in handle.take_input() if "entry" in entry]
            waiting = self.carry + waiting
            self.carry = []
            if waiting:
                self.carry = waiting[1:]
                self._start_turn(waiting[0])

    # -- messages -------------------------------------------------------------------------------
    def on_message(self, message: Any) -> Any:
        if isinstance(message, Drain):
            self._drain(message.outbox)
        elif isinstance(message, ApprovalAnswer):
            self._approval_answer(message)
        elif isinstance(message, Shutdown):
            self._shutdown(message)
        elif isinstance(message, UpdateContext):
            self.context = replace(self.context, **message.changes)
        else:
            return super().on_message(message)
        return None

    def _approval_answer(self, answer: ApprovalAnswer) -> None:
        if answer.from_client:
            self._submission()  # a client's decision is an Op of its own (§1.1)
        handle = self.turn
        if handle is None or handle.turn_id != answer.event_id or not handle.resolve(answer.call_id, answer.decision):
            log.info("conversation %s: decision for %s arrived after its turn", self.conversation_id, answer.call_id)

    def _shutdown(self, message: Shutdown) -> None:
        self._abort_turn()
        sub_id = self._submission()
        self.listener.tell(Deliver([(sub_id, {"type": "shutdown_complete"})], None))
        self.writer.close()
        if message.reply_to is not None:
            message.reply_to.tell(ConversationShutDown(message.token, True))
        self.listener.stop(block=False)
        self.stop()

    def on_stop(self) -> None:
        # Server stop (DECISIONS 13): a running turn still ends with its terminal event, on the wire
        # and in the rollout, before the file is closed.
        self._abort_turn()
        self.writer.close()
