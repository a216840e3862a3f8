"""The conversation manager: creates, resumes, finds and removes conversations and owns the
subscriptions.

Methods (CONVERSATIONS.md §2, §7, §8, §10; errors exactly as §10):

| method | params type | handler |
|---|---|---|
| `newConversation` | `v1.NewConversationParams` | `new_conversation` |
| `sendUserMessage` | `v1.SendUserMessageParams` | `send_user_message` → conversation |
| `sendUserTurn` | `v1.SendUserTurnParams` | `send_user_turn` → conversation |
| `interruptConversation` | `v1.InterruptConversationParams` | `interrupt_conversation` → conversation |
| `addConversationListener` | `v1.AddConversationListenerParams` | `add_conversation_listener` |
| `removeConversationListener` | `v1.RemoveConversationListenerParams` | `remove_conversation_listener` |
| `resumeConversation` | `v1.ResumeConversationParams` | `resume_conversation` |
| `thread/start` | `v2.ThreadStartParams` | `thread_start` |
| `thread/resume` | `v2.ThreadResumeParams` | `thread_resume` |
| `turn/start` | `v2.TurnStartParams` | `turn_start` → conversation |
| `turn/interrupt` | `v2.TurnInterruptParams` | `turn_interrupt` → conversation |

"→ conversation" means the Call is forwarded to that conversation's actor, which answers it.

Config: like 0.58, `newConversation`, `thread/start`, `thread/resume` and a `resumeConversation` with
`overrides` re-read config.toml (in a worker), so a model saved by `setDefaultModel` applies to the
next conversation; a `resumeConversation` without overrides runs with the server's config.
Resuming a conversation that is already loaded never loads a second copy (DECISIONS 6): the caller
is answered as a resume, the given overrides apply from the next turn, every listener keeps going.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import msgspec
import pykka

from actors import prompts
from actors.base import DEFERRED, FeatureActor
from actors.conversation import (
    ConversationActor,
    Session,
    Shutdown,
    TurnContext,
    UpdateContext,
    apply_patch_switches,
    approval_to_core,
    sandbox_policy_to_core,
)
from actors.listener import ConnectionGone, Deliver, ListenerActor, SetSubscribers
from actors.resume import (
    MODEL_WARNING_ID,
    RestoredRollout,
    RolloutLoadError,
    for_model,
    load_rollout,
    model_history,
    model_warning,
)
from actors.rollout_store import RolloutReadError, find_rollout_path, read_head, summary_from_head, thread_object
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
    FindRollout,
    GetAuth,
    LoadedConversations,
    Peers,
    ShutdownConversation,
)
from messages.jsonrpc import RpcError, invalid_request

log = logging.getLogger(__name__)

AUTH_TIMEOUT_S = 30.0
FIND_ROLLOUT_TIMEOUT_S = 10.0
# Archive waits this long for a conversation's shutdown_complete (PROTOCOL.md §5.6 step 4).
SHUTDOWN_WAIT_S = 10.0
# On server stop, how long each step waits for the conversations' terminal events to be handed on.
STOP_WAIT_S = 1.5
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


@dataclass(frozen=True)
class _Overrides:
    """A request's config overrides: the typed ones (None = not given) and the `config` map."""

    typed: dict[str, Any]
    config_map: dict[str, Any] | None

    def given(self) -> set[str]:
        names = {name for name, value in self.typed.items() if value is not None}
        return names | {key.split(".")[0] for key in (self.config_map or {})}

    def empty(self) -> bool:
        return not self.given()


@dataclass(frozen=True)
class _Source:
    """Where a resume reads from; the first one set wins (v1: path, id, history; v2: history, path, id)."""

    order: tuple[str, ...]
    path: str | None = None
    conversation_id: str | None = None
    history: list[Any] | None = None


@dataclass(frozen=True)
class _Prepared:
    """A resume, read and ready on a worker: a Session to load (its writer open) and what the answer
    needs. `restored` is None for a history fork."""

    session: Session
    restored: RestoredRollout | None
    initial_messages: list[dict[str, Any]]
    overrides: _Overrides
    thread: dict[str, Any] | None


class _ShutdownOverdue(msgspec.Struct, frozen=True):
    token: int


def _v1_overrides(params: Any) -> _Overrides:
    return _Overrides(
        {
            "model": _get(params, "model"),
            "model_provider": _get(params, "model_provider"),
            "profile": _get(params, "profile"),
            "cwd": _get(params, "cwd"),
            "approval_policy": _get(params, "approval_policy"),
            "sandbox_mode": _get(params, "sandbox"),
            "base_instructions": _get(params, "base_instructions"),
            "developer_instructions": _get(params, "developer_instructions"),
            "compact_prompt": _get(params, "compact_prompt"),
            "include_apply_patch_tool": _get(params, "include_apply_patch_tool"),
        },
        _get(params, "config"),
    )


def _v2_overrides(params: Any) -> _Overrides:
    approval = _get(params, "approval_policy")
    sandbox = _get(params, "sandbox")
    return _Overrides(
        {
            "model": _get(params, "model"),
            "model_provider": _get(params, "model_provider"),
            "cwd": _get(params, "cwd"),
            "approval_policy": approval_to_core(approval) if approval is not None else None,
            "sandbox_mode": _SANDBOX_MODE_V2.get(sandbox, sandbox) if sandbox is not None else None,
            "base_instructions": _get(params, "base_instructions"),
            "developer_instructions": _get(params, "developer_instructions"),
        },
        _get(params, "config"),
    )


# Which TurnContext fields an override touches, for a resume of an already-loaded conversation.
_CONTEXT_FIELDS_BY_OVERRIDE = {
    "model": ("model",),
    "profile": ("model", "approval_policy", "sandbox_policy", "effort", "summary"),
    "cwd": ("cwd",),
    "approval_policy": ("approval_policy",),
    "sandbox_mode": ("sandbox_policy",),
    "sandbox_workspace_write": ("sandbox_policy",),
    "model_reasoning_effort": ("effort",),
    "model_reasoning_summary": ("summary",),
}


def _context_changes(overrides: _Overrides, context: TurnContext) -> dict[str, Any]:
    fields: set[str] = set()
    for name in overrides.given():
        fields.update(_CONTEXT_FIELDS_BY_OVERRIDE.get(name, ()))
    return {name: getattr(context, name) for name in sorted(fields)}


class ConversationsActor(FeatureActor):
    """Owns the loaded conversations (id → conversation and listener actors), every subscription
    (subscription id → conversation, connection, raw-events flag) and the archive's shutdowns in
    flight (token → request, timer).

    Accepts the Calls of the table above, `ConnectionClosed` (drops that connection's subscriptions,
    tells the listeners the connection is gone), `ShutdownConversation` (from archive; answered with
    `ConversationShutDown` once the conversation confirmed, or after SHUTDOWN_WAIT_S), the
    conversations' own `ConversationShutDown`, and `Peers` (its "router" is told
    `LoadedConversations` whenever the count changes).
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
        shutdown_wait: float = SHUTDOWN_WAIT_S,
    ) -> None:
        super().__init__(outgoing)
        self.config = config
        self._deps = deps
        self._derive_config = derive_config
        self._clock = clock
        self._new_id = new_id
        self._shutdown_wait = shutdown_wait
        self._loaded: dict[str, _Loaded] = {}
        self._subscriptions: dict[str, tuple[str, int, bool]] = {}
        self._tokens = itertools.count(1)
        self._shutdowns: dict[int, tuple[ShutdownConversation, threading.Timer, _Loaded]] = {}
        self._reported_count = 0

    # -- the world ------------------------------------------------------------------------------
    def _auth(self, refresh: bool) -> Any:
        login = self.peers.get("login")
        if login is None:
            return AuthSnapshot(mode=None)
        answer = pykka.ThreadingFuture()
        login.tell(GetAuth(refresh, reply=answer))
        return answer.get(timeout=AUTH_TIMEOUT_S)

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

    def _derive(self, overrides: _Overrides) -> Any:
        """A conversation's config, as 0.58 derives it: config.toml re-read, then the overrides
        (worker thread: this reads files)."""
        derive = self._derive_config
        if derive is None:
            from config import Config
            from config import derive_config as derive  # type: ignore[no-redef]

            if not isinstance(self.config, Config) and overrides.empty():
                return self.config  # a hand-built config (unit tests): there is no config.toml to re-read
        try:
            return derive(self.config, overrides.typed, overrides.config_map)
        except RpcError:
            raise
        except Exception as error:  # noqa: BLE001 - the config layer's text is the message
            raise invalid_request(f"error deriving config: {error}") from error

    def _find_rollout(self, conversation_id: str) -> Path | None:
        """DECISIONS 10, answered by the archive actor's index (worker thread)."""
        archive = self.peers.get("archive")
        if archive is None:
            found = find_rollout_path(str(_get(self.config, "codex_home")), conversation_id)
        else:
            found = archive.ask(FindRollout(conversation_id), timeout=FIND_ROLLOUT_TIMEOUT_S)
        return Path(found) if found is not None else None

    def _report_count(self) -> None:
        count = len(self._loaded)
        router = self.peers.get("router")
        if router is None or count == self._reported_count:
            return
        self._reported_count = count
        try:
            router.tell(LoadedConversations(count))
        except pykka.ActorDeadError:
            pass

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
        overrides = _v1_overrides(call.params)

        def work() -> Session:
            return self._create_session(self._derive(overrides), v2=False)

        return self.run_in_worker(call, work, self._created_v1, name="conversation-new")

    def thread_start(self, call: Call) -> Any:
        overrides = _v2_overrides(call.params)

        def work() -> Session:
            return self._create_session(self._derive(overrides), v2=True)

        return self.run_in_worker(call, work, self._created_v2, name="conversation-new")

    @staticmethod
    def _context(config: Any) -> TurnContext:
        return TurnContext(
            cwd=Path(_get(config, "cwd") or Path.cwd()),
            approval_policy=str(_get(config, "approval_policy") or "on-request"),
            sandbox_policy=sandbox_policy_to_core(_get(config, "sandbox_policy") or {"mode": "read-only"}),
            model=str(_get(config, "model") or ""),
            effort=_get(config, "model_reasoning_effort"),
            summary=str(_get(config, "model_reasoning_summary") or "auto"),
        )

    def _session(self, config: Any, conversation_id: str, writer: RolloutWriter, history: list[dict[str, Any]],
                 context: TurnContext, now: float, v2: bool) -> Session:
        provider = _get(config, "model_provider")
        return Session(
            conversation_id=conversation_id,
            writer=writer,
            history=history,
            context=context,
            instructions=_get(config, "base_instructions") or prompts.BASE_INSTRUCTIONS,
            provider_id=str(_get(config, "model_provider_id") or "openai"),
            provider=provider,
            wire_api=str(_get(provider, "wire_api") or "responses"),
            shell_environment_policy=_get(config, "shell_environment_policy"),
            created_at=int(now),
            v2=v2,
            **apply_patch_switches(config),
        )

    def _initial_context(self, config: Any) -> list[dict[str, Any]]:
        """The initial context a new session on `config` starts with (also what a compacted history
        restored on resume starts with)."""
        context = self._context(config)
        return prompts.initial_context(
            context.cwd, context.approval_policy, context.sandbox_policy,
            _get(config, "developer_instructions"), prompts.read_agents_md(context.cwd),
        )

    def _create_session(self, config: Any, v2: bool, fork: list[dict[str, Any]] | None = None) -> Session:
        """Runs on a worker: git and AGENTS.md reads, then the rollout's first lines (§6.1). A fork's
        items replace the initial context (§8.1: no environment context before or after them)."""
        now = self._clock()
        conversation_id = self._new_id()
        context = self._context(config)
        agents_md = prompts.read_agents_md(context.cwd)
        if fork is None:
            initial = prompts.initial_context(
                context.cwd, context.approval_policy, context.sandbox_policy,
                _get(config, "developer_instructions"), agents_md,
            )
            history = initial
        else:
            initial, history = fork, model_history(fork)
        provider_id = str(_get(config, "model_provider_id") or "openai")
        meta = session_meta(conversation_id, utc_timestamp(now), context.cwd, agents_md, provider_id,
                            git_info(context.cwd))
        path = rollout_path(Path(_get(config, "codex_home")), conversation_id, now)
        writer = RolloutWriter.create(path, meta, initial, self._clock)
        session = self._session(config, conversation_id, writer, history, context, now, v2)
        # A new conversation announces its initial-context items as raw events (0.58); a fork does not.
        return replace(session, fresh=fork is None)

    def _load(self, session: Session) -> _Loaded:
        listener = ListenerActor.start(self.outgoing, session.conversation_id, None, session.v2)
        conversation = ConversationActor.start(self.outgoing, session, self.deps(), listener)
        listener.tell(Peers({"conversation": conversation}))
        loaded = _Loaded(conversation, listener, session)
        self._loaded[session.conversation_id] = loaded
        self._report_count()
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

    # -- resume (§8) ----------------------------------------------------------------------------
    def resume_conversation(self, call: Call) -> Any:
        params = call.params
        raw_id = _get(params, "conversation_id")
        source = _Source(
            ("path", "conversation_id", "history"),
            path=_get(params, "path"),
            conversation_id=self._v1_id(raw_id) if raw_id is not None else None,
            history=_get(params, "history"),
        )
        given = _get(params, "overrides")
        overrides = _v1_overrides(given) if given is not None else _Overrides({}, None)

        def work() -> _Prepared:
            # Without overrides 0.58 resumes with the server's own config (not re-read).
            config = self._derive(overrides) if given is not None else self.config
            return self._prepare_resume(config, source, overrides, v2=False)

        return self.run_in_worker(call, work, self._resumed_v1, name="conversation-resume")

    def thread_resume(self, call: Call) -> Any:
        params = call.params
        thread_id = self._v2_id(params.thread_id)
        source = _Source(
            ("history", "path", "conversation_id"),
            path=_get(params, "path"),
            conversation_id=thread_id,
            history=_get(params, "history"),
        )
        overrides = _v2_overrides(params)

        def work() -> _Prepared:
            prepared = self._prepare_resume(self._derive(overrides), source, overrides, v2=True)
            path = str(prepared.session.writer.path)
            try:
                head = read_head(path)
                summary = summary_from_head(path, head, prepared.session.provider_id)
            except RolloutReadError as error:
                prepared.session.writer.close()
                raise invalid_request(f"failed to load rollout `{path}`: {error}") from None
            assert head.meta is not None
            thread = thread_object(path, head.meta, summary["preview"], prepared.session.provider_id)
            return replace(prepared, thread=thread)

        return self.run_in_worker(call, work, self._resumed_v2, name="conversation-resume")

    def _prepare_resume(self, config: Any, source: _Source, overrides: _Overrides, v2: bool) -> _Prepared:
        """Worker: read the rollout (or fork the history) into a Session ready to load."""
        for kind in source.order:
            if kind == "path" and source.path is not None:
                shown = str(source.path)
                try:
                    restored = load_rollout(Path(shown), lambda: self._initial_context(config))
                except RolloutLoadError as error:
                    raise invalid_request(f"failed to load rollout `{shown}`: {error}") from None
                return self._resume_session(config, restored, overrides, v2)
            if kind == "conversation_id" and source.conversation_id is not None:
                conversation_id = source.conversation_id
                found = self._find_rollout(conversation_id)
                if found is None:
                    raise invalid_request(f"no rollout found for conversation id {conversation_id}")
                try:
                    restored = load_rollout(found, lambda: self._initial_context(config))
                except RolloutLoadError as error:
                    raise invalid_request(
                        f"failed to load rollout `{found}` for conversation {conversation_id}: {error}"
                    ) from None
                return self._resume_session(config, restored, overrides, v2)
            if kind == "history" and source.history:
                session = self._create_session(config, v2, fork=for_model(source.history))
                return _Prepared(session, None, [], overrides, None)
        raise invalid_request("either path, conversation id or non empty history must be provided")

    def _resume_session(self, config: Any, restored: RestoredRollout, overrides: _Overrides, v2: bool) -> _Prepared:
        """The restored conversation, appending to its own file (no second session_meta, §6.1)."""
        writer = RolloutWriter.append_to(restored.path, self._clock)
        session = self._session(config, restored.conversation_id, writer, restored.history,
                                self._context(config), self._clock(), v2)
        return _Prepared(session, restored, restored.initial_messages, overrides, None)

    def _activate(self, prepared: _Prepared) -> tuple[_Loaded, Session]:
        """Load the prepared conversation, or, when it is loaded already, keep that one (DECISIONS 6)
        with the given overrides applied from its next turn. Returns it and its current settings."""
        session = prepared.session
        loaded = self._loaded.get(session.conversation_id)
        if loaded is None:
            loaded = self._load(session)
            restored = prepared.restored
            if restored is not None and restored.last_model and restored.last_model != session.context.model:
                warning = model_warning(restored.last_model, session.context.model)
                loaded.listener.tell(Deliver([(MODEL_WARNING_ID, warning)], None))
            return loaded, session
        session.writer.close()
        changes = _context_changes(prepared.overrides, session.context)
        if changes:
            loaded.conversation.tell(UpdateContext(changes))
            loaded.session = replace(loaded.session, context=replace(loaded.session.context, **changes))
        return loaded, loaded.session

    def _resumed_v1(self, call: Call | None, prepared: _Prepared) -> Any:
        assert call is not None
        loaded, session = self._activate(prepared)
        initial = prepared.initial_messages
        path = str(loaded.rollout_path)
        self.notify(
            "sessionConfigured",
            {
                "sessionId": session.conversation_id,
                "model": session.context.model,
                "reasoningEffort": session.context.effort,
                "historyLogId": 0,
                "historyEntryCount": 0,
                "initialMessages": initial,
                "rolloutPath": path,
            },
            (call.connection,),
        )
        return {
            "conversationId": session.conversation_id,
            "model": session.context.model,
            "initialMessages": initial,
            "rolloutPath": path,
        }

    def _resumed_v2(self, call: Call | None, prepared: _Prepared) -> Any:
        assert call is not None
        loaded, session = self._activate(prepared)
        self._subscribe(session.conversation_id, call.connection, False)
        return {"thread": prepared.thread}

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

    # -- other messages -------------------------------------------------------------------------
    def on_message(self, message: Any) -> Any:
        if isinstance(message, ConnectionClosed):
            self._connection_closed(message.connection)
        elif isinstance(message, ShutdownConversation):
            self._shutdown(message)
        elif isinstance(message, ConversationShutDown):
            self._shut_down(message.token, overdue=False)
        elif isinstance(message, _ShutdownOverdue):
            self._shut_down(message.token, overdue=True)
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

    # -- archive of a live conversation (§9) ----------------------------------------------------
    def _shutdown(self, message: ShutdownConversation) -> None:
        """Unload at once (later calls answer `conversation not found`), shut the conversation down
        (its turn aborts, its approvals resolve as abort), and answer the archive when it confirms
        `shutdown_complete`, or after SHUTDOWN_WAIT_S at the latest."""
        key = str(message.conversation_id).lower()
        loaded = self._loaded.pop(key, None)
        if loaded is None:
            if message.reply_to is not None:
                message.reply_to.tell(ConversationShutDown(message.token, False))
            return
        self._subscriptions = {k: v for k, v in self._subscriptions.items() if v[0] != key}
        self._report_count()
        token = next(self._tokens)
        me = self.actor_ref
        timer = threading.Timer(self._shutdown_wait, lambda: me.tell(_ShutdownOverdue(token)))
        timer.daemon = True
        self._shutdowns[token] = (message, timer, loaded)
        try:
            loaded.conversation.tell(Shutdown(me, token))
        except pykka.ActorDeadError:
            self._shut_down(token, overdue=True)
            return
        timer.start()

    def _shut_down(self, token: Any, overdue: bool) -> None:
        waiting = self._shutdowns.pop(token, None)
        if waiting is None:
            return
        message, timer, loaded = waiting
        timer.cancel()
        if overdue:
            log.warning("conversation %s did not confirm its shutdown in time", message.conversation_id)
            for ref in (loaded.conversation, loaded.listener):
                try:
                    ref.stop(block=False)
                except pykka.ActorDeadError:
                    pass
        if message.reply_to is None:
            return
        reply_to, answer, listener = message.reply_to, ConversationShutDown(message.token, True), loaded.listener

        def answer_when_announced(wait: float) -> None:
            # The conversation stops its listener right after handing it `shutdown_complete`; once the
            # listener is gone that notification is queued at the writer, so the archive's answer,
            # sent after this, reaches the client after it (§9: shut down, moved, then answered).
            listener.actor_stopped.wait(wait)
            try:
                reply_to.tell(answer)
            except pykka.ActorDeadError:
                pass

        if overdue:
            answer_when_announced(0.0)  # waited long enough already
            return
        threading.Thread(target=answer_when_announced, args=(self._shutdown_wait,), name="conversation-shutdown",
                         daemon=True).start()

    # -- server stop (DECISIONS 13) ---------------------------------------------------------------
    def on_stop(self) -> None:
        """Every running turn ends with its `turn_aborted` (wire and rollout) and every rollout is
        closed: conversations stop first (their on_stop aborts the turn and hands the event to the
        listener), then the listeners, whose stop is queued behind those events."""
        for token in list(self._shutdowns):
            self._shut_down(token, overdue=True)
        loaded = list(self._loaded.values())
        self._loaded.clear()
        for group in ([item.conversation for item in loaded], [item.listener for item in loaded]):
            futures = []
            for ref in group:
                try:
                    futures.append(ref.stop(block=False))
                except pykka.ActorDeadError:
                    pass
            deadline = time.monotonic() + STOP_WAIT_S
            for future in futures:
                try:
                    future.get(timeout=max(0.0, deadline - time.monotonic()))
                except Exception:  # noqa: BLE001 - stopping: a slow or dead actor must not block the rest
                    log.debug("conversation actor did not stop in time", exc_info=True)

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
        # the turn worker needs the chat chunks to rebuild 0.58's aggregated items (turn.py)
        chat_aggregate=False,
    )
