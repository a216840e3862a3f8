"""The conversation manager: creates, finds and removes conversations and owns the subscriptions.

Methods (CONVERSATIONS.md §2, §7, §10; errors exactly as §10):

| method | params type | handler |
|---|---|---|
| `newConversation` | `v1.NewConversationParams` | `new_conversation` |
| `sendUserMessage` | `v1.SendUserMessageParams` | `send_user_message` → conversation |
| `sendUserTurn` | `v1.SendUserTurnParams` | `send_user_turn` → conversation |
| `interruptConversation` | `v1.InterruptConversationParams` | `interrupt_conversation` → conversation |
| `addConversationListener` | `v1.AddConversationListenerParams` | `add_conversation_listener` |
| `removeConversationListener` | `v1.RemoveConversationListenerParams` | `remove_conversation_listener` |
| `resumeConversation` | `v1.ResumeConversationParams` | `resume_conversation` (not yet: clear error) |
| `thread/start` | `v2.ThreadStartParams` | `thread_start` |
| `thread/resume` | `v2.ThreadResumeParams` | `thread_resume` (not yet: clear error) |
| `turn/start` | `v2.TurnStartParams` | `turn_start` → conversation |
| `turn/interrupt` | `v2.TurnInterruptParams` | `turn_interrupt` → conversation |

"→ conversation" means the Call is forwarded to that conversation's actor, which answers it.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pykka

from actors import prompts
from actors.base import DEFERRED, FeatureActor
from actors.conversation import (
    ConversationActor,
    Session,
    Shutdown,
    TurnContext,
    approval_to_core,
    sandbox_policy_to_core,
)
from actors.listener import ConnectionGone, ListenerActor, SetSubscribers
from actors.rollout_writer import (
    RolloutWriter,
    git_info,
    new_conversation_id,
    rollout_path,
    session_meta,
    utc_timestamp,
)
from actors.turn import TurnDeps, is_git_repo
from messages.internal import (
    AuthSnapshot,
    Call,
    ConnectionClosed,
    ConversationShutDown,
    GetAuth,
    Peers,
    ShutdownConversation,
)
from messages.jsonrpc import INTERNAL_ERROR, RpcError, invalid_request

log = logging.getLogger(__name__)

AUTH_TIMEOUT_S = 30.0
_SANDBOX_MODE_V2 = {
    "readOnly": "read-only",
    "workspaceWrite": "workspace-write",
    "dangerFullAccess": "danger-full-access",
}
# Model families that take a `reasoning` request field (§4.2); unknown slugs get none.
_REASONING_PREFIXES = ("gpt-5", "o3", "o4", "codex-")


# -- ids --------------------------------------------------------------------------------------------
_GROUP_STARTS = (0, 9, 14, 19, 24)
_GROUP_LENGTHS = (8, 4, 4, 4, 12)


def uuid_error(text: str) -> str | None:
    """The Rust `uuid` crate's message for an unparsable id (None when it parses), so our errors read
    exactly as 0.58's (§10)."""
    body, offset = text, 0
    if len(text) == 45 and text.startswith("urn:uuid:"):
        body, offset = text[9:], 9
    elif len(text) == 38 and text.startswith("{") and text.endswith("}"):
        body, offset = text[1:-1], 1
    if len(body) == 32 and all(c in "0123456789abcdefABCDEF" for c in body):
        return None
    if len(body) == 36:
        parts = body.split("-")
        if [len(p) for p in parts] == list(_GROUP_LENGTHS) and all(
            c in "0123456789abcdefABCDEF" for c in body.replace("-", "")
        ):
            return None
    hyphens: list[int] = []
    for index, char in enumerate(body):
        if char == "-":
            hyphens.append(index)
        elif not (char.isascii() and char in "0123456789abcdefABCDEF"):
            return (
                "invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-], "
                f"found `{char}` at {index + offset + 1}"
            )
    if not hyphens:
        return f"invalid length: expected length 32 for simple format, found {len(body)}"
    if len(hyphens) != 4:
        return f"invalid group count: expected 5, found {len(hyphens) + 1}"
    for group in range(4):
        if hyphens[group] != _GROUP_STARTS[group + 1] - 1:
            found = hyphens[group] - _GROUP_STARTS[group]
            return f"invalid group length in group {group}: expected {_GROUP_LENGTHS[group]}, found {found}"
    return f"invalid group length in group 4: expected 12, found {len(body) - _GROUP_STARTS[4]}"


def canonical_id(text: str) -> str:
    return str(uuid.UUID(text))


def _get(params: Any, name: str, default: Any = None) -> Any:
    if params is None:
        return default
    if isinstance(params, dict):
        return params.get(name, default)
    return getattr(params, name, default)


class _Loaded:
    __slots__ = ("conversation", "listener", "session", "rollout_path")

    def __init__(self, conversation: pykka.ActorRef, listener: pykka.ActorRef, session: Session) -> None:
        self.conversation = conversation
        self.listener = listener
        self.session = session
        self.rollout_path = session.writer.path


class ConversationsActor(FeatureActor):
    """Owns the loaded conversations (id → conversation and listener actors) and every subscription
    (subscription id → conversation, connection, raw-events flag).

    Accepts the Calls of the table above, `ConnectionClosed` (drops that connection's subscriptions,
    tells the listeners the connection is gone), `ShutdownConversation` (from archive), and `Peers`.
    """

    def __init__(
        self,
        outgoing: pykka.ActorRef,
        config: Any,
        *,
        deps: TurnDeps | None = None,
        derive_config: Callable[[Any, dict[str, Any], dict[str, Any] | None], Any] | None = None,
        clock: Callable[[], float] = time.time,
        new_id: Callable[[], str] = new_conversation_id,
    ) -> None:
        super().__init__(outgoing)
        self.config = config
        self._deps = deps
        self._derive_config = derive_config
        self._clock = clock
        self._new_id = new_id
        self._loaded: dict[str, _Loaded] = {}
        self._subscriptions: dict[str, tuple[str, int, bool]] = {}

    # -- the world ------------------------------------------------------------------------------
    def _auth(self, refresh: bool) -> Any:
        login = self.peers.get("login")
        if login is None:
            return AuthSnapshot(mode=None)
        return login.ask(GetAuth(refresh), timeout=AUTH_TIMEOUT_S)

    def deps(self) -> TurnDeps:
        if self._deps is None:
            from actors import exec_env, exec_runner, model_client

            self._deps = TurnDeps(
                stream_model=model_client.stream_model,
                make_request=build_model_request,
                make_cancel=model_client.StreamCancel,
                auth=self._auth,
                run_command=exec_runner.run_command,
                command_env=exec_env.command_env,
                is_git_repo=is_git_repo,
            )
        return self._deps

    def _config_for(self, overrides: dict[str, Any], cli_overrides: dict[str, Any] | None) -> Any:
        if not any(value is not None for value in overrides.values()) and not cli_overrides:
            return self.config
        derive = self._derive_config
        if derive is None:
            try:
                from config import derive_config as derive  # type: ignore[no-redef]
            except ImportError as error:
                raise invalid_request(f"error deriving config: {error}") from error
        try:
            return derive(self.config, overrides, cli_overrides)
        except RpcError:
            raise
        except Exception as error:  # noqa: BLE001 - the config layer's text is the message
            raise invalid_request(f"error deriving config: {error}") from error

    # -- lookups --------------------------------------------------------------------------------
    def _v1_id(self, text: str) -> str:
        error = uuid_error(str(text))
        if error is not None:
            raise invalid_request(f"Invalid request: {error}")
        return canonical_id(text)

    def _v2_id(self, text: str) -> str:
        error = uuid_error(str(text))
        if error is not None:
            raise invalid_request(f"invalid thread id: {error}")
        return canonical_id(text)

    def _find(self, conversation_id: str) -> _Loaded:
        loaded = self._loaded.get(conversation_id)
        if loaded is None:
            raise invalid_request(f"conversation not found: {conversation_id}")
        return loaded

    def _forward(self, call: Call, conversation_id: str) -> Any:
        self._find(conversation_id).conversation.tell(call)
        return DEFERRED

    # -- creating -------------------------------------------------------------------------------
    def new_conversation(self, call: Call) -> Any:
        params = call.params
        sandbox = _get(params, "sandbox")
        overrides = {
            "model": _get(params, "model"),
            "model_provider": _get(params, "model_provider"),
            "profile": _get(params, "profile"),
            "cwd": _get(params, "cwd"),
            "approval_policy": _get(params, "approval_policy"),
            "sandbox_mode": sandbox,
            "base_instructions": _get(params, "base_instructions"),
            "developer_instructions": _get(params, "developer_instructions"),
            "compact_prompt": _get(params, "compact_prompt"),
            "include_apply_patch_tool": _get(params, "include_apply_patch_tool"),
        }
        config = self._config_for(overrides, _get(params, "config"))
        return self.run_in_worker(call, lambda: self._create_session(config, v2=False), self._created_v1)

    def thread_start(self, call: Call) -> Any:
        params = call.params
        approval = _get(params, "approval_policy")
        sandbox = _get(params, "sandbox")
        overrides = {
            "model": _get(params, "model"),
            "model_provider": _get(params, "model_provider"),
            "cwd": _get(params, "cwd"),
            "approval_policy": approval_to_core(approval) if approval is not None else None,
            "sandbox_mode": _SANDBOX_MODE_V2.get(sandbox, sandbox) if sandbox is not None else None,
            "base_instructions": _get(params, "base_instructions"),
            "developer_instructions": _get(params, "developer_instructions"),
        }
        config = self._config_for(overrides, _get(params, "config"))
        return self.run_in_worker(call, lambda: self._create_session(config, v2=True), self._created_v2)

    def _create_session(self, config: Any, v2: bool) -> Session:
        """Runs on a worker: git and AGENTS.md reads, then the rollout's first lines (§6.1)."""
        now = self._clock()
        conversation_id = self._new_id()
        cwd = Path(_get(config, "cwd") or Path.cwd())
        approval = str(_get(config, "approval_policy") or "on-request")
        sandbox = sandbox_policy_to_core(_get(config, "sandbox_policy") or {"mode": "read-only"})
        agents_md = prompts.read_agents_md(cwd)
        initial = prompts.initial_context(cwd, approval, sandbox, _get(config, "developer_instructions"), agents_md)
        provider_id = str(_get(config, "model_provider_id") or "openai")
        provider = _get(config, "model_provider")
        meta = session_meta(conversation_id, utc_timestamp(now), cwd, agents_md, provider_id, git_info(cwd))
        path = rollout_path(Path(_get(config, "codex_home")), conversation_id, now)
        writer = RolloutWriter.create(path, meta, initial, self._clock)
        context = TurnContext(
            cwd=cwd,
            approval_policy=approval,
            sandbox_policy=sandbox,
            model=str(_get(config, "model") or ""),
            effort=_get(config, "model_reasoning_effort"),
            summary=str(_get(config, "model_reasoning_summary") or "auto"),
        )
        return Session(
            conversation_id=conversation_id,
            writer=writer,
            history=initial,
            context=context,
            instructions=_get(config, "base_instructions") or prompts.BASE_INSTRUCTIONS,
            provider_id=provider_id,
            provider=provider,
            wire_api=str(_get(provider, "wire_api") or "responses"),
            shell_environment_policy=_get(config, "shell_environment_policy"),
            created_at=int(now),
            v2=v2,
        )

    def _load(self, session: Session) -> _Loaded:
        listener = ListenerActor.start(self.outgoing, session.conversation_id, None, session.v2)
        conversation = ConversationActor.start(self.outgoing, session, self.deps(), listener)
        listener.tell(Peers({"conversation": conversation}))
        loaded = _Loaded(conversation, listener, session)
        self._loaded[session.conversation_id] = loaded
        return loaded

    def _created_v1(self, call: Call | None, session: Session) -> Any:
        self._load(session)
        return {
            "conversationId": session.conversation_id,
            "model": session.context.model,
            "reasoningEffort": session.context.effort,
            "rolloutPath": str(session.writer.path),
        }

    def _created_v2(self, call: Call | None, session: Session) -> Any:
        loaded = self._load(session)
        assert call is not None
        self._subscribe(session.conversation_id, call.connection, False)
        thread = {
            "id": session.conversation_id,
            "preview": "",
            "modelProvider": session.provider_id,
            "createdAt": session.created_at,
            "path": str(loaded.rollout_path),
        }
        self.reply(call, {"thread": thread})
        self.notify("thread/started", {"thread": thread}, (call.connection,))
        return DEFERRED

    # -- forwarded ------------------------------------------------------------------------------
    def send_user_message(self, call: Call) -> Any:
        return self._forward(call, self._v1_id(call.params.conversation_id))

    def send_user_turn(self, call: Call) -> Any:
        return self._forward(call, self._v1_id(call.params.conversation_id))

    def interrupt_conversation(self, call: Call) -> Any:
        return self._forward(call, self._v1_id(call.params.conversation_id))

    def turn_start(self, call: Call) -> Any:
        return self._forward(call, self._v2_id(call.params.thread_id))

    def turn_interrupt(self, call: Call) -> Any:
        return self._forward(call, self._v2_id(call.params.thread_id))

    # -- subscriptions --------------------------------------------------------------------------
    def add_conversation_listener(self, call: Call) -> Any:
        conversation_id = self._v1_id(call.params.conversation_id)
        self._find(conversation_id)
        raw = bool(_get(call.params, "experimental_raw_events", False))
        subscription_id = str(uuid.uuid4())
        # Reply before the listener learns of the subscriber, so buffered events follow the answer.
        self.reply(call, {"subscriptionId": subscription_id})
        self._subscriptions[subscription_id] = (conversation_id, call.connection, raw)
        self._publish(conversation_id)
        return DEFERRED

    def _subscribe(self, conversation_id: str, connection: int, raw: bool) -> str:
        subscription_id = str(uuid.uuid4())
        self._subscriptions[subscription_id] = (conversation_id, connection, raw)
        self._publish(conversation_id)
        return subscription_id

    def remove_conversation_listener(self, call: Call) -> Any:
        subscription_id = str(call.params.subscription_id)
        key = subscription_id.lower()
        found = self._subscriptions.pop(key, None)
        if found is None:
            raise invalid_request(f"subscription not found: {subscription_id}")
        self._publish(found[0])
        return {}

    def _publish(self, conversation_id: str) -> None:
        loaded = self._loaded.get(conversation_id)
        if loaded is None:
            return
        subscribers: dict[int, bool] = {}
        for cid, connection, raw in self._subscriptions.values():
            if cid == conversation_id:
                subscribers[connection] = subscribers.get(connection, False) or raw
        loaded.listener.tell(SetSubscribers(subscribers))

    # -- resume (arrives with the approvals/sandbox issue) ----------------------------------------
    def resume_conversation(self, call: Call) -> Any:
        raise RpcError(INTERNAL_ERROR, "resumeConversation is not implemented yet")

    def thread_resume(self, call: Call) -> Any:
        raise RpcError(INTERNAL_ERROR, "thread/resume is not implemented yet")

    # -- other messages -------------------------------------------------------------------------
    def on_message(self, message: Any) -> Any:
        if isinstance(message, ConnectionClosed):
            self._connection_closed(message.connection)
        elif isinstance(message, ShutdownConversation):
            self._shutdown(message)
        else:
            return super().on_message(message)
        return None

    def _connection_closed(self, connection: int) -> None:
        touched = {cid for cid, conn, _ in self._subscriptions.values() if conn == connection}
        self._subscriptions = {k: v for k, v in self._subscriptions.items() if v[1] != connection}
        for conversation_id in touched:
            self._publish(conversation_id)
        for loaded in self._loaded.values():
            loaded.listener.tell(ConnectionGone(connection))

    def _shutdown(self, message: ShutdownConversation) -> None:
        key = str(message.conversation_id).lower()
        loaded = self._loaded.pop(key, None)
        if loaded is None:
            if message.reply_to is not None:
                message.reply_to.tell(ConversationShutDown(message.token, False))
            return
        self._subscriptions = {k: v for k, v in self._subscriptions.items() if v[0] != key}
        loaded.conversation.tell(Shutdown(message.reply_to, message.token))

    def on_stop(self) -> None:
        for loaded in self._loaded.values():
            try:
                loaded.conversation.stop(block=False)
                loaded.listener.stop(block=False)
            except pykka.ActorDeadError:
                pass


# -- the model request ------------------------------------------------------------------------------
def build_model_request(spec: Any, history: list[dict[str, Any]]) -> Any:
    """A ModelRequest for the model client from one turn's settings and the history so far."""
    from actors import model_client

    reasoning: dict[str, Any] | None = None
    include: list[str] = []
    if str(spec.model).startswith(_REASONING_PREFIXES):
        reasoning = {"effort": spec.effort} if spec.effort is not None else {}
        reasoning["summary"] = spec.summary
        include = ["reasoning.encrypted_content"]
    return model_client.ModelRequest(
        provider=spec.provider,
        model=spec.model,
        instructions=spec.instructions,
        input=list(history),
        tools=spec.tools,
        conversation_id=spec.conversation_id,
        user_agent=spec.user_agent,
        reasoning=reasoning,
        include=include,
    )
