"""The router actor: decodes each incoming line and hands the request to the actor that owns it."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Any

import msgspec
import pykka

from actors.user_agent import user_agent
from messages.catalog import CLIENT_METHODS, request_params_type
from messages.daemon import DAEMON_REQUESTS, DaemonStatusResponse
from messages.decode import decode_params
from messages.internal import (
    Call,
    ClientAnswer,
    ConnectionClosed,
    ConnectionInitialized,
    ConnectionOpened,
    Failure,
    Incoming,
    ListeningOn,
    LoadedConversations,
    Reply,
)
from messages.jsonrpc import INVALID_REQUEST, PARSE_ERROR, RpcError

log = logging.getLogger(__name__)

SERVER_VERSION = "0.1.0"


@dataclass(slots=True)
class Route:
    method: str
    actor: str
    handler: str
    # Resolved on the method's first request: importing every wire module up front would double the
    # time to answer `initialize`.
    _params: Any = None
    _resolved: bool = False

    @property
    def params(self) -> type | None:
        """The params type; None when the method takes no params (0.58's unit params)."""
        if not self._resolved:
            if self.method in DAEMON_REQUESTS:
                self._params = DAEMON_REQUESTS[self.method][0]
            else:
                self._params = request_params_type(self.method)
            self._resolved = True
        return self._params


# The one table: method → handling actor and handler; params types come from the 0.58 catalogue
# in `messages/`. Adding a method is one line here plus its handler.
_HANDLERS: dict[str, tuple[str, str]] = {
    "initialize": ("router", "initialize"),
    "thread/start": ("conversations", "thread_start"),
    "thread/resume": ("conversations", "thread_resume"),
    "thread/archive": ("archive", "thread_archive"),
    "thread/list": ("archive", "thread_list"),
    "thread/compact": ("system", "thread_compact"),
    "turn/start": ("conversations", "turn_start"),
    "turn/interrupt": ("conversations", "turn_interrupt"),
    "model/list": ("system", "model_list"),
    "account/login/start": ("login", "account_login_start"),
    "account/login/cancel": ("login", "account_login_cancel"),
    "account/logout": ("login", "account_logout"),
    "account/rateLimits/read": ("login", "account_rate_limits_read"),
    "feedback/upload": ("system", "feedback_upload"),
    "account/read": ("login", "account_read"),
    "newConversation": ("conversations", "new_conversation"),
    "getConversationSummary": ("archive", "get_conversation_summary"),
    "listConversations": ("archive", "list_conversations"),
    "resumeConversation": ("conversations", "resume_conversation"),
    "archiveConversation": ("archive", "archive_conversation"),
    "sendUserMessage": ("conversations", "send_user_message"),
    "sendUserTurn": ("conversations", "send_user_turn"),
    "interruptConversation": ("conversations", "interrupt_conversation"),
    "addConversationListener": ("conversations", "add_conversation_listener"),
    "removeConversationListener": ("conversations", "remove_conversation_listener"),
    "gitDiffToRemote": ("system", "git_diff_to_remote"),
    "loginApiKey": ("login", "login_api_key"),
    "loginChatGpt": ("login", "login_chatgpt"),
    "cancelLoginChatGpt": ("login", "cancel_login_chatgpt"),
    "logoutChatGpt": ("login", "logout_chatgpt"),
    "getAuthStatus": ("login", "get_auth_status"),
    "getUserSavedConfig": ("config", "get_user_saved_config"),
    "setDefaultModel": ("config", "set_default_model"),
    "getUserAgent": ("system", "get_user_agent"),
    "userInfo": ("login", "user_info"),
    "fuzzyFileSearch": ("fuzzy", "fuzzy_file_search"),
    "execOneOffCommand": ("system", "exec_one_off_command"),
    # Beyond 0.58:
    "account/login/complete": ("login", "account_login_complete"),
    "daemon/status": ("router", "daemon_status"),
}

ROUTES: dict[str, Route] = {method: Route(method, *_HANDLERS[method]) for method in (*CLIENT_METHODS, *DAEMON_REQUESTS)}

_UNKNOWN_METHOD_TAIL = ", ".join(f"`{method}`" for method in ROUTES)


@dataclass(slots=True)
class _Connection:
    initialized: bool = False
    user_agent: str = ""


class RouterActor(pykka.ThreadingActor):
    """Owns each connection's handshake state (initialized, clientInfo → user agent).

    Accepts Incoming lines, ConnectionOpened and ConnectionClosed. Decodes envelope and params
    (decode errors first, then the initialization checks, as 0.58), answers `initialize` itself
    and tells every other request to its actor as a Call. Client responses to server requests go
    to the outgoing actor, which owns that table.
    """

    def __init__(self, outgoing: pykka.ActorRef, actors: dict[str, pykka.ActorRef]) -> None:
        super().__init__()
        self._outgoing = outgoing
        self._actors = actors
        self._connections: dict[int, _Connection] = {}
        self._started = time.monotonic()
        self._loaded_conversations: int | None = None
        self._addresses: list[str] = []

    def on_receive(self, message: Any) -> Any:
        try:
            if isinstance(message, Incoming):
                self._on_line(message.connection, message.line)
            elif isinstance(message, ConnectionOpened):
                self._connections[message.connection] = _Connection()
                self._outgoing.tell(message)
            elif isinstance(message, ConnectionClosed):
                self._on_closed(message)
            elif isinstance(message, LoadedConversations):
                self._loaded_conversations = message.count
            elif isinstance(message, ListeningOn):
                self._addresses = list(message.addresses)
        except Exception:
            log.exception("router failed handling %s", type(message).__name__)
        return None

    # -- lines ---------------------------------------------------------------------------------
    def _on_line(self, connection: int, line: bytes) -> None:
        if not line.strip():
            return
        try:
            message = msgspec.json.decode(line)
        except (msgspec.DecodeError, UnicodeDecodeError) as error:
            self._fail(connection, None, PARSE_ERROR, f"Parse error: {error}")
            return
        if not isinstance(message, dict):
            kind = "a batch (array)" if isinstance(message, list) else f"a JSON {type(message).__name__}"
            self._fail(connection, None, INVALID_REQUEST, f"Invalid request: expected a JSON object, got {kind}")
            return
        has_id = "id" in message
        request_id = message.get("id")
        if has_id and (not isinstance(request_id, int | str) or isinstance(request_id, bool)):
            self._fail(
                connection, None, INVALID_REQUEST, "Invalid request: `id` must be a string or an integer"
            )
            return
        method = message.get("method")
        if isinstance(method, str):
            if has_id:
                self._on_request(connection, request_id, method, message)
            # Notifications (`initialized` included) need no answer and change nothing.
            return
        if has_id and ("result" in message or "error" in message):
            error = message.get("error")
            self._outgoing.tell(
                ClientAnswer(
                    connection,
                    request_id,
                    result=message.get("result"),
                    error=error if isinstance(error, dict) else ({"message": str(error)} if error else None),
                )
            )
            return
        log.error("Failed to deserialize JSONRPCMessage: neither a request, a notification nor a response")

    def _on_request(self, connection: int, request_id: int | str, method: str, message: dict[str, Any]) -> None:
        state = self._connections.setdefault(connection, _Connection())
        route = ROUTES.get(method)
        if route is None:
            self._fail(
                connection,
                request_id,
                INVALID_REQUEST,
                f"Invalid request: unknown variant `{method}`, expected one of {_UNKNOWN_METHOD_TAIL}",
            )
            return
        try:
            params = self._decode(route, message)
        except RpcError as error:
            self._fail(connection, request_id, error.code, error.message)
            return
        if method == "initialize":
            if state.initialized:
                self._fail(connection, request_id, INVALID_REQUEST, "Already initialized")
                return
            info = params.client_info
            state.initialized = True
            state.user_agent = user_agent(info.name, info.version)
            self._outgoing.tell(Reply(connection, request_id, {"userAgent": state.user_agent}))
            self._outgoing.tell(ConnectionInitialized(connection, state.user_agent))
            return
        if not state.initialized:
            self._fail(connection, request_id, INVALID_REQUEST, "Not initialized")
            return
        if method == "daemon/status":
            self._outgoing.tell(Reply(connection, request_id, self._status()))
            return
        actor = self._actors.get(route.actor)
        if actor is None:
            self._fail(connection, request_id, -32603, f"{method} is not implemented yet")
            return
        actor.tell(Call(connection, request_id, method, route.handler, params, state.user_agent))

    @staticmethod
    def _decode(route: Route, message: dict[str, Any]) -> Any:
        # `decode_params` owns every serde-worded error, unit params and a missing `params` included.
        return decode_params(route.params, message.get("params"))

    def _status(self) -> DaemonStatusResponse:
        return DaemonStatusResponse(
            pid=os.getpid(),
            version=SERVER_VERSION,
            uptime_seconds=round(time.monotonic() - self._started, 1),
            connections=len(self._connections),
            loaded_conversations=self._loaded_conversations,
            addresses=list(self._addresses),
        )

    # -- connections ---------------------------------------------------------------------------
    def _on_closed(self, message: ConnectionClosed) -> None:
        self._connections.pop(message.connection, None)
        self._outgoing.tell(message)
        for actor in self._actors.values():
            try:
                actor.tell(message)
            except pykka.ActorDeadError:
                pass

    def _fail(self, connection: int, request_id: int | str | None, code: int, text: str) -> None:
        self._outgoing.tell(Failure(connection, request_id, code, text))

