"""Messages actors tell each other. Never on the wire; frozen because pykka does not copy messages."""

from __future__ import annotations

from typing import Any

import msgspec

RequestId = int | str


class Call(msgspec.Struct, frozen=True):
    """A decoded client request, routed to the actor that owns `handler`."""

    connection: int
    request_id: RequestId
    method: str
    handler: str
    params: Any
    user_agent: str


class Reply(msgspec.Struct, frozen=True):
    """A result for a client request; `result` is a wire Struct or plain JSON value."""

    connection: int
    request_id: RequestId
    result: Any


class Failure(msgspec.Struct, frozen=True):
    """A JSON-RPC error for a client request (id null for lines that had no usable id)."""

    connection: int
    request_id: RequestId | None
    code: int
    message: str


class Notify(msgspec.Struct, frozen=True):
    """A notification. `connections=None` means every initialized connection (account events)."""

    method: str
    params: Any
    connections: tuple[int, ...] | None = None


class ServerCall(msgspec.Struct, frozen=True):
    """A server→client request. The client's answer comes back to `reply_to` as a ServerAnswer."""

    connection: int
    method: str
    params: Any
    reply_to: Any  # pykka ActorRef
    token: Any


class ServerAnswer(msgspec.Struct, frozen=True):
    """The client's answer to a ServerCall: `result`, or `error` (a dict) when it failed or the
    connection went away before answering (`error["code"]` is then CONNECTION_GONE)."""

    token: Any
    result: Any = None
    error: dict[str, Any] | None = None


class ClientAnswer(msgspec.Struct, frozen=True):
    """A response line from a client, matched by the outgoing actor to its pending ServerCall."""

    connection: int
    request_id: RequestId
    result: Any = None
    error: dict[str, Any] | None = None


class ConnectionOpened(msgspec.Struct, frozen=True):
    connection: int
    writer: Any  # a Sink: write(bytes) / flush() / close()


class ConnectionInitialized(msgspec.Struct, frozen=True):
    connection: int
    user_agent: str


class ConnectionClosed(msgspec.Struct, frozen=True):
    """Told to every feature actor: drop this connection's subscriptions, hand over its approvals."""

    connection: int


class WorkDone(msgspec.Struct, frozen=True):
    """A worker's outcome, told back to the actor that started it; `then` runs inside that actor."""

    call: Call | None
    value: Any = None
    error: BaseException | None = None
    then: Any = None  # Callable[[Call | None, value], result] or None


class Peers(msgspec.Struct, frozen=True):
    """Refs of the feature actors, told to each after start-up so they can talk without cycles."""

    refs: dict[str, Any]


CONNECTION_GONE = -32099


# -- cross-actor contracts ----------------------------------------------------------------------
# Worker threads (never actors) may `ask` these with a timeout; actors use tell + a reply message.


class GetAuth(msgspec.Struct, frozen=True):
    """For the login actor: the current credentials, refreshed first when `refresh` is set (after
    a 401) or when they are stale. The AuthSnapshot is set on `reply` (a pykka future; the message
    is told) once any refresh is done, so a token request never holds the login actor's mailbox;
    without `reply` it is the answer of an `ask`, refresh included."""

    refresh: bool = False
    reply: Any = None


class AuthSnapshot(msgspec.Struct, frozen=True):
    """What a model request needs to authenticate. `mode` is "apikey", "chatgpt" or None."""

    mode: str | None
    api_key: str | None = None
    access_token: str | None = None
    account_id: str | None = None
    plan_type: str | None = None  # a ChatGPT login's plan ("unknown" when unrecognised): usage-limit texts


class FindRollout(msgspec.Struct, frozen=True):
    """Asked of the archive actor: the rollout path of a conversation id (DECISIONS 10), or None."""

    conversation_id: str


class ShutdownConversation(msgspec.Struct, frozen=True):
    """Told to the conversations manager (by archive): shut the conversation down if loaded,
    resolve its pending approvals as abort, wait for shutdown_complete (at most 10 s), unload it,
    then tell `reply_to` a ConversationShutDown with the same token."""

    conversation_id: str
    reply_to: Any
    token: Any


class ConversationShutDown(msgspec.Struct, frozen=True):
    token: Any
    was_loaded: bool


class Incoming(msgspec.Struct, frozen=True):
    """One raw input line (or websocket text frame) from a connection, for the router."""

    connection: int
    line: bytes


class LoadedConversations(msgspec.Struct, frozen=True):
    """Told to the router by the conversations manager whenever the number of loaded ones changes
    (reported by `daemon/status`)."""

    count: int


class ListeningOn(msgspec.Struct, frozen=True):
    """Told to the router once the socket listeners are bound (reported by `daemon/status`)."""

    addresses: tuple[str, ...]
