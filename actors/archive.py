"""The archive actor: lists, summarises and archives stored conversations (PROTOCOL.md §5, §8;
CONVERSATIONS.md §9; DECISIONS 10)."""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import msgspec
import pykka

from actors.base import DEFERRED, FeatureActor
from actors.rollout_index import IndexUpdates, RolloutIndex
from actors.rollout_store import (
    ARCHIVED_SESSIONS_SUBDIR,
    DEFAULT_PAGE_SIZE,
    SESSIONS_SUBDIR,
    Opener,
    Page,
    ProviderFilter,
    RolloutReadError,
    UuidError,
    conversation_items,
    io_error_text,
    list_page,
    open_binary,
    parse_cursor,
    parse_uuid,
    read_summary,
    thread_items,
)
from messages.internal import Call, ConversationShutDown, FindRollout, ShutdownConversation
from messages.jsonrpc import internal_error, invalid_request

log = logging.getLogger(__name__)

# The conversations manager waits at most 10 s for shutdown_complete; this is our own backstop in
# case its answer never comes (a crashed peer must not leave the archive hanging).
SHUTDOWN_BACKSTOP_SECONDS = 15.0


class _ShutdownOverdue(msgspec.Struct, frozen=True):
    token: Any


@dataclass(frozen=True, slots=True)
class _Archivable:
    """A rollout that passed the checks: its canonical path and file name."""

    conversation_id: str
    canonical: str
    name: str


class ArchiveActor(FeatureActor):
    """Owns `CODEX_HOME/sessions` (read) and `CODEX_HOME/archived_sessions` (moves into it), and the
    rollout index (`_index`; workers only read it, this actor merges what they learn).

    Accepts Calls `list_conversations`, `thread_list`, `get_conversation_summary`,
    `archive_conversation`, `thread_archive`; `FindRollout` (asked: answers the path or None);
    `ConversationShutDown` from the conversations manager, for archives waiting on a shutdown
    (`_waiting`, by token).
    """

    def __init__(
        self,
        outgoing: pykka.ActorRef,
        config: Any,
        *,
        opener: Opener = open_binary,
        clock: Callable[[], float] = time.time,
        shutdown_backstop: float = SHUTDOWN_BACKSTOP_SECONDS,
    ) -> None:
        super().__init__(outgoing)
        self._home = str(config.codex_home)
        self._provider_id: str = config.model_provider_id
        self._opener = opener
        self._index = RolloutIndex(self._home, opener=opener, clock=clock)
        self._shutdown_backstop = shutdown_backstop
        self._tokens = itertools.count(1)
        self._waiting: dict[int, tuple[Call, _Archivable, threading.Timer]] = {}

    # -- listing -------------------------------------------------------------------------------
    def list_conversations(self, call: Call) -> Any:
        params = call.params
        size = _page_size(getattr(params, "page_size", None))
        return self._list(call, size, params, lambda page: {"items": conversation_items(page, self._provider_id)})

    def thread_list(self, call: Call) -> Any:
        params = call.params
        size = _page_size(getattr(params, "limit", None))
        return self._list(call, size, params, lambda page: {"data": thread_items(page, self._provider_id)})

    def _list(self, call: Call, size: int, params: Any, shape: Callable[[Page], dict[str, Any]]) -> Any:
        cursor = parse_cursor(getattr(params, "cursor", None))
        providers = ProviderFilter.from_params(getattr(params, "model_providers", None), self._provider_id)
        view = self._index.view()
        root = self._index.root

        def work() -> tuple[Page, IndexUpdates]:
            return list_page(view, root, size, cursor, providers), view.updates

        def then(_call: Call | None, value: tuple[Page, IndexUpdates]) -> dict[str, Any]:
            page, updates = value
            self._index.merge(updates)
            result = shape(page)
            result["nextCursor"] = page.next_cursor()
            return result

        return self.run_in_worker(call, work, then, name="archive-list")

    # -- summaries -------------------------------------------------------------------------------
    def get_conversation_summary(self, call: Call) -> Any:
        params = call.params
        rollout_path = getattr(params, "rollout_path", None)
        if rollout_path is not None:  # rolloutPath wins when both are given
            path = str(rollout_path)
            if not os.path.isabs(path):
                path = os.path.join(self._home, path)
            return self.run_in_worker(call, lambda: {"summary": self._summary_at(path)}, name="archive-summary")
        conversation_id = _canonical_id(params.conversation_id)
        view = self._index.view()

        def work() -> tuple[dict[str, Any] | None, IndexUpdates]:
            found = view.find(conversation_id)
            return (None if found is None else self._summary_at(found)), view.updates

        def then(_call: Call | None, value: tuple[dict[str, Any] | None, IndexUpdates]) -> dict[str, Any]:
            summary, updates = value
            self._index.merge(updates)
            if summary is None:
                raise invalid_request(f"no rollout found for conversation id {conversation_id}")
            return {"summary": summary}

        return self.run_in_worker(call, work, then, name="archive-summary")

    def _summary_at(self, path: str) -> dict[str, Any]:
        try:
            return read_summary(path, self._provider_id, self._opener)
        except RolloutReadError as error:
            raise internal_error(f"failed to load conversation summary from {path}: {error}") from None

    # -- archiving ----------------------------------------------------------------------------------
    def archive_conversation(self, call: Call) -> Any:
        params = call.params
        conversation_id = _canonical_id(params.conversation_id)
        rollout_path = str(params.rollout_path)
        return self.run_in_worker(
            call, lambda: self._check(conversation_id, rollout_path), self._after_check, name="archive-check"
        )

    def thread_archive(self, call: Call) -> Any:
        try:
            conversation_id = parse_uuid(str(call.params.thread_id))
        except UuidError as error:
            raise invalid_request(f"invalid thread id: {error}") from None
        view = self._index.view()

        def work() -> tuple[str | None, IndexUpdates]:
            return view.find(conversation_id), view.updates

        def then(call: Call | None, value: tuple[str | None, IndexUpdates]) -> Any:
            found, updates = value
            self._index.merge(updates)
            if found is None:
                raise invalid_request(f"no rollout found for conversation id {conversation_id}")
            return self.run_in_worker(
                call, lambda: self._check(conversation_id, found), self._after_check, name="archive-check"
            )

        return self.run_in_worker(call, work, then, name="archive-find")

    def _sessions_dir(self) -> str:
        try:
            return os.path.realpath(os.path.join(self._home, SESSIONS_SUBDIR), strict=True)
        except OSError as error:
            raise internal_error(
                f"failed to archive conversation: unable to resolve sessions directory: {io_error_text(error)}"
            ) from None

    def _check(self, conversation_id: str, rollout_path: str) -> _Archivable:
        """PROTOCOL.md §5.6 checks 1–3, in order (worker thread). A relative path resolves against
        the process cwd, as 0.58 does; symlinks are resolved before the containment check."""
        sessions = self._sessions_dir()
        outside = invalid_request(f"rollout path `{rollout_path}` must be in sessions directory")
        if not rollout_path:
            raise outside
        try:
            canonical = os.path.realpath(rollout_path, strict=True)
        except OSError:
            raise outside from None
        if not PurePath(canonical).is_relative_to(sessions):
            raise outside
        name = os.path.basename(canonical)
        if not name.endswith(f"{conversation_id}.jsonl"):
            raise invalid_request(f"rollout path `{rollout_path}` does not match conversation id {conversation_id}")
        return _Archivable(conversation_id, canonical, name)

    def _after_check(self, call: Call | None, target: _Archivable) -> Any:
        manager = self.peers.get("conversations")
        if manager is None or call is None:
            return self._start_move(call, target)
        token = next(self._tokens)
        me = self.actor_ref
        timer = threading.Timer(self._shutdown_backstop, lambda: me.tell(_ShutdownOverdue(token)))
        timer.daemon = True
        self._waiting[token] = (call, target, timer)
        manager.tell(ShutdownConversation(target.conversation_id, reply_to=me, token=token))
        timer.start()
        return DEFERRED

    def _start_move(self, call: Call | None, target: _Archivable) -> Any:
        return self.run_in_worker(call, lambda: self._move(target), name="archive-move")

    def _move(self, target: _Archivable) -> dict[str, Any]:
        """Move the rollout flat into archived_sessions (worker thread). The containment check is
        repeated just before the rename, so a path swapped for a symlink meanwhile is refused."""
        sessions = self._sessions_dir()
        try:
            still = os.path.realpath(target.canonical, strict=True)
        except OSError as error:
            raise internal_error(f"failed to archive conversation: {io_error_text(error)}") from None
        if still != target.canonical or not PurePath(still).is_relative_to(sessions):
            raise invalid_request(f"rollout path `{target.canonical}` must be in sessions directory")
        archive_dir = os.path.join(self._home, ARCHIVED_SESSIONS_SUBDIR)
        try:
            os.makedirs(archive_dir, exist_ok=True)
            os.rename(target.canonical, os.path.join(archive_dir, target.name))
        except OSError as error:
            raise internal_error(f"failed to archive conversation: {io_error_text(error)}") from None
        return {}

    # -- other messages -----------------------------------------------------------------------------
    def on_message(self, message: Any) -> Any:
        if isinstance(message, FindRollout):
            return self._find_rollout(message.conversation_id)
        if isinstance(message, ConversationShutDown):
            self._resume_archive(message.token, overdue=False)
            return None
        if isinstance(message, _ShutdownOverdue):
            self._resume_archive(message.token, overdue=True)
            return None
        return super().on_message(message)

    def _find_rollout(self, conversation_id: str) -> Path | None:
        """Answered in the actor from the index: directories are only stat-ed unless they changed,
        so this is quick once the index is warm (the asker is a worker thread waiting on it)."""
        try:
            canonical = parse_uuid(str(conversation_id))
        except UuidError:
            return None
        view = self._index.view()
        found = view.find(canonical)
        self._index.merge(view.updates)
        return Path(found) if found is not None else None

    def _resume_archive(self, token: Any, overdue: bool) -> None:
        waiting = self._waiting.pop(token, None)
        if waiting is None:
            return
        call, target, timer = waiting
        timer.cancel()
        if overdue:
            log.warning("conversation %s did not confirm its shutdown; archiving anyway", target.conversation_id)
        self._start_move(call, target)

    def on_stop(self) -> None:
        for _, _, timer in self._waiting.values():
            timer.cancel()


def _page_size(value: int | None) -> int:
    return max(DEFAULT_PAGE_SIZE if value is None else int(value), 1)


def _canonical_id(value: Any) -> str:
    """A v1 `conversationId` (the router normally validated it already) in canonical form."""
    if isinstance(value, uuid.UUID):
        return str(value)
    try:
        return parse_uuid(str(value))
    except UuidError as error:
        raise invalid_request(f"Invalid request: {error}") from None
