"""The outgoing actor: the only writer of every connection's output stream."""

from __future__ import annotations

import logging
from typing import Any, Protocol

import pykka

from messages.internal import (
    CONNECTION_GONE,
    ClientAnswer,
    ConnectionClosed,
    ConnectionInitialized,
    ConnectionOpened,
    Failure,
    Notify,
    Reply,
    ServerAnswer,
    ServerCall,
)
from messages.jsonrpc import error_line, notification_line, request_line, result_line

log = logging.getLogger(__name__)


class Sink(Protocol):
    """Where one connection's lines go: stdout's buffer, or a socket connection's sender."""

    def write(self, data: bytes) -> Any: ...

    def flush(self) -> Any: ...


class OutgoingActor(pykka.ThreadingActor):
    """Owns the output side of every connection and the table of pending server→client requests.

    Accepts Reply, Failure, Notify, ServerCall, ClientAnswer and the Connection* lifecycle
    messages. Lines are written whole and in the order they were told, so concurrent actors never
    interleave bytes; a sink is flushed only when the mailbox runs dry, which batches bursts.
    """

    def __init__(self) -> None:
        super().__init__()
        self._sinks: dict[int, Sink] = {}
        self._initialized: set[int] = set()
        self._dirty: set[int] = set()
        self._next_request_id: dict[int, int] = {}
        # (connection, request id) -> (reply_to ref, token) of a server→client request.
        self._pending: dict[tuple[int, int | str], tuple[pykka.ActorRef, Any]] = {}

    def on_receive(self, message: Any) -> Any:
        try:
            self._handle(message)
        except Exception:
            log.exception("outgoing actor failed handling %s", type(message).__name__)
        if self._dirty and self.actor_inbox.empty():
            self._flush()
        return None

    def on_stop(self) -> None:
        self._flush()

    def _handle(self, message: Any) -> None:
        match message:
            case Reply(connection, request_id, result):
                self._write(connection, result_line(request_id, result))
            case Failure(connection, request_id, code, text):
                self._write(connection, error_line(request_id, code, text))
            case Notify(method, params, None):
                line = notification_line(method, params)
                for connection in sorted(self._initialized):
                    self._write(connection, line)
            case Notify(method, params, connections):
                line = notification_line(method, params)
                for connection in connections:
                    self._write(connection, line)
            case ServerCall():
                self._send_server_call(message)
            case ClientAnswer():
                self._resolve(message)
            case ConnectionOpened(connection, writer):
                self._sinks[connection] = writer
                self._next_request_id.setdefault(connection, 0)
            case ConnectionInitialized(connection, _):
                self._initialized.add(connection)
            case ConnectionClosed(connection):
                self._close(connection)
            case _:
                log.warning("outgoing actor ignored %r", type(message).__name__)

    def _write(self, connection: int, line: bytes) -> None:
        sink = self._sinks.get(connection)
        if sink is None:
            return
        try:
            sink.write(line)
        except (OSError, ValueError) as error:
            log.warning("connection %d: write failed (%s); dropping its output", connection, error)
            self._close(connection)
            return
        self._dirty.add(connection)

    def _flush(self) -> None:
        for connection in list(self._dirty):
            sink = self._sinks.get(connection)
            if sink is None:
                continue
            try:
                sink.flush()
            except (OSError, ValueError) as error:
                log.warning("connection %d: flush failed (%s)", connection, error)
                self._close(connection)
        self._dirty.clear()

    def _send_server_call(self, call: ServerCall) -> None:
        if call.connection not in self._sinks:
            call.reply_to.tell(
                ServerAnswer(call.token, error={"code": CONNECTION_GONE, "message": "connection closed"})
            )
            return
        request_id = self._next_request_id.get(call.connection, 0)
        self._next_request_id[call.connection] = request_id + 1
        self._pending[(call.connection, request_id)] = (call.reply_to, call.token)
        self._write(call.connection, request_line(request_id, call.method, call.params))

    def _resolve(self, answer: ClientAnswer) -> None:
        pending = self._pending.pop((answer.connection, answer.request_id), None)
        if pending is None:
            if answer.error is not None:
                log.error("error response for unknown request id %r: %s", answer.request_id, answer.error)
            else:
                log.warning("response for unknown request id %r ignored", answer.request_id)
            return
        reply_to, token = pending
        _tell_quietly(reply_to, ServerAnswer(token, result=answer.result, error=answer.error))

    def _close(self, connection: int) -> None:
        self._sinks.pop(connection, None)
        self._initialized.discard(connection)
        self._dirty.discard(connection)
        for key in [key for key in self._pending if key[0] == connection]:
            reply_to, token = self._pending.pop(key)
            gone = {"code": CONNECTION_GONE, "message": "connection closed"}
            _tell_quietly(reply_to, ServerAnswer(token, error=gone))


def _tell_quietly(ref: pykka.ActorRef, message: Any) -> None:
    try:
        ref.tell(message)
    except pykka.ActorDeadError:
        log.debug("answer for a stopped actor dropped")
