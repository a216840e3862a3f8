"""The boundary every feature actor shares: dispatch of routed calls, error replies, workers."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import pykka

from messages.internal import Call, ConnectionClosed, Failure, Notify, Peers, Reply, ServerCall, WorkDone
from messages.jsonrpc import INTERNAL_ERROR, RpcError

log = logging.getLogger(__name__)


class _Deferred:
    """Returned by a handler that will answer later (from a worker's WorkDone or another message)."""

    def __repr__(self) -> str:
        return "DEFERRED"


DEFERRED: Any = _Deferred()


class FeatureActor(pykka.ThreadingActor):
    """Base of the feature actors.

    Accepts `Call` (dispatched to the method named `call.handler`, whose return value is the
    result, `DEFERRED`, or an `RpcError` raised), `WorkDone` (a worker's outcome), `Peers`, and
    anything else through `on_message`. A handler that raises never kills the actor: the error
    becomes a JSON-RPC error reply.
    """

    def __init__(self, outgoing: pykka.ActorRef) -> None:
        super().__init__()
        self.outgoing = outgoing
        self.peers: dict[str, pykka.ActorRef] = {}

    # -- the boundary -------------------------------------------------------------------------
    def on_receive(self, message: Any) -> Any:
        try:
            if isinstance(message, Call):
                self._dispatch(message)
            elif isinstance(message, WorkDone):
                self._finish(message)
            elif isinstance(message, Peers):
                self.peers = dict(message.refs)
            else:
                return self.on_message(message)
        except Exception:
            log.exception("%s failed handling %s", type(self).__name__, type(message).__name__)
        return None

    def on_message(self, message: Any) -> Any:
        if isinstance(message, ConnectionClosed):
            return None  # nothing of this actor is tied to a connection
        log.warning("%s ignored unexpected message %r", type(self).__name__, type(message).__name__)
        return None

    def _dispatch(self, call: Call) -> None:
        handler = getattr(self, call.handler, None)
        if handler is None:
            self.fail(call, RpcError(INTERNAL_ERROR, f"{call.method} is not implemented yet"))
            return
        self._settle(call, lambda: handler(call))

    def _finish(self, done: WorkDone) -> None:
        if done.error is not None:
            if done.call is not None:
                self.fail(call=done.call, error=done.error)
            else:
                log.error("worker failed: %s", done.error)
            return
        if done.then is None:
            if done.call is not None:
                self.reply(done.call, done.value)
            return
        self._settle(done.call, lambda: done.then(done.call, done.value))

    def _settle(self, call: Call | None, produce: Callable[[], Any]) -> None:
        try:
            result = produce()
        except Exception as error:  # noqa: BLE001 - the boundary turns any failure into a reply
            if call is None:
                log.exception("%s failed", type(self).__name__)
            else:
                self.fail(call, error)
            return
        if call is not None and result is not DEFERRED:
            self.reply(call, result)

    # -- answering ----------------------------------------------------------------------------
    def reply(self, call: Call, result: Any) -> None:
        self.outgoing.tell(Reply(call.connection, call.request_id, result))

    def fail(self, call: Call, error: BaseException) -> None:
        if isinstance(error, RpcError):
            self.outgoing.tell(Failure(call.connection, call.request_id, error.code, error.message))
            return
        log.error("%s failed: %s", call.method, error, exc_info=error)
        self.outgoing.tell(Failure(call.connection, call.request_id, INTERNAL_ERROR, f"internal error: {error}"))

    def notify(self, method: str, params: Any, connections: tuple[int, ...] | None = None) -> None:
        self.outgoing.tell(Notify(method, params, connections))

    def ask_client(self, connection: int, method: str, params: Any, token: Any) -> None:
        """Send a server→client request; the answer arrives later as a ServerAnswer message."""
        self.outgoing.tell(ServerCall(connection, method, params, self.actor_ref, token))

    # -- slow work ----------------------------------------------------------------------------
    def run_in_worker(
        self,
        call: Call | None,
        work: Callable[[], Any],
        then: Callable[[Call | None, Any], Any] | None = None,
        name: str | None = None,
    ) -> Any:
        """Run `work` on a daemon thread; its value (or error) comes back to this actor, where
        `then(call, value)` produces the reply (or the value itself is the reply). Returns DEFERRED."""
        me = self.actor_ref

        def run() -> None:
            try:
                outcome = WorkDone(call, value=work(), then=then)
            except BaseException as error:  # noqa: BLE001 - reported to the actor, never lost
                outcome = WorkDone(call, error=error, then=then)
            try:
                me.tell(outcome)
            except pykka.ActorDeadError:
                log.debug("worker outcome dropped: %s has stopped", type(self).__name__)

        threading.Thread(target=run, name=name or f"worker-{type(self).__name__}", daemon=True).start()
        return DEFERRED
