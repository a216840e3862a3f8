"""The system actor: methods that need no account, conversation or store."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pykka

from actors.base import FeatureActor
from actors.models import list_models
from messages.internal import Call, FindRollout
from messages.jsonrpc import internal_error, invalid_request


class SystemActor(FeatureActor):
    """Answers getUserAgent, model/list, gitDiffToRemote, execOneOffCommand, thread/compact and
    feedback/upload. It holds no mutable state beyond the config it was started with; commands and
    git run in workers so this mailbox never waits on a subprocess."""

    def __init__(self, outgoing: pykka.ActorRef, config: Any) -> None:
        super().__init__(outgoing)
        self.config = config

    def get_user_agent(self, call: Call) -> dict[str, Any]:
        return {"userAgent": call.user_agent}

    def model_list(self, call: Call) -> dict[str, Any]:
        return list_models(call.params.limit, call.params.cursor)

    def thread_compact(self, call: Call) -> Any:
        raise internal_error("thread/compact is not implemented yet")

    def git_diff_to_remote(self, call: Call) -> Any:
        from actors.git_diff import format_cwd_debug, git_diff_to_remote

        cwd = str(call.params.cwd)

        def work() -> dict[str, str]:
            found = git_diff_to_remote(Path(cwd))
            if found is None:
                raise invalid_request(f"failed to compute git diff to remote for cwd: {format_cwd_debug(cwd)}")
            sha, diff = found
            return {"sha": sha, "diff": diff}

        return self.run_in_worker(call, work, name="git-diff")

    def exec_one_off_command(self, call: Call) -> Any:
        from actors.exec_env import command_env
        from actors.exec_runner import exec_one_off

        params = call.params
        request = {
            "command": list(params.command),
            "cwd": params.cwd,
            "timeoutMs": params.timeout_ms,
            "sandboxPolicy": _policy_dict(params.sandbox_policy) if params.sandbox_policy is not None else None,
        }
        env = command_env(self.config.shell_environment_policy)
        default_cwd = os.getcwd()
        return self.run_in_worker(
            call,
            lambda: exec_one_off(request, default_cwd, env, default_policy=self.config.sandbox_policy),
            name="exec-one-off",
        )

    def feedback_upload(self, call: Call) -> dict[str, Any]:
        """Answer at once (as 0.58); write the bundle, and post it only when `feedback.url` is set."""
        from actors.ids import uuid7_string

        params = call.params
        thread_id = params.conversation_id or f"no-active-thread-{uuid7_string()}"
        codex_home = Path(self.config.codex_home)
        feedback_table = self.config.raw.get("feedback") if isinstance(self.config.raw, dict) else None
        url = feedback_table.get("url") if isinstance(feedback_table, dict) else None
        archive = self.peers.get("archive")

        def work() -> None:
            from actors.feedback import post_bundle, write_bundle
            from actors.log_ring import RING

            rollout = None
            if params.include_logs and params.conversation_id and archive is not None:
                rollout = archive.ask(FindRollout(params.conversation_id), timeout=10)
            lines = RING.lines() if params.include_logs else None
            path = write_bundle(codex_home, thread_id, params.classification, params.reason, lines, rollout)
            if isinstance(url, str) and url:
                post_bundle(url, path)

        self.run_in_worker(None, work, name="feedback")
        return {"threadId": thread_id}


def _policy_dict(policy: Any) -> dict[str, Any]:
    if isinstance(policy, dict):
        return policy
    import msgspec

    return msgspec.to_builtins(policy)
