"""Conversation benchmark: a 5,000-delta streamed reply from the scripted model.

    python bench/conversation.py [--cmd "codex-app-server"] [--reference "codex app-server"]
                                 [--deltas 5000] [--runs 5] [--wire responses|chat]

Measures, over stdio, the time from writing `sendUserMessage` to reading its
`codex/event/task_complete`, and the notifications per second the client receives in that window
(median of the runs). Each run gets a fresh CODEX_HOME and its own in-process MockModel configured
as a custom provider. With --reference the same runs go against `codex app-server` 0.58.0 and the
table shows ours/reference ratios (time: lower is better; rate: higher is better).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from comparison import print_comparison

from codex_mock_model import MockModel

CONFIG = """model = "mock-model"
model_provider = "mock"
approval_policy = "never"
sandbox_mode = "danger-full-access"

[model_providers.mock]
name = "mock"
base_url = "{base_url}"
wire_api = "{wire}"
request_max_retries = 0
stream_max_retries = 0
"""


class Session:
    """One server process spoken to over its stdio, line by line."""

    def __init__(self, command: list[str], home: str, cwd: str) -> None:
        env = dict(os.environ, CODEX_HOME=home)
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, env=env, cwd=cwd)
        self.next_id = 0

    def send(self, method: str, params: object) -> int:
        self.next_id += 1
        line = json.dumps({"id": self.next_id, "method": method, "params": params}).encode() + b"\n"
        assert self.process.stdin is not None
        self.process.stdin.write(line)
        self.process.stdin.flush()
        return self.next_id

    def read(self) -> bytes:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the server closed its output")
        return line

    def call(self, method: str, params: object) -> dict:
        request_id = self.send(method, params)
        while True:
            message = json.loads(self.read())
            if message.get("id") == request_id and "method" not in message:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def one_run(command: list[str], deltas: int, wire: str) -> tuple[float, int]:
    """(seconds from sendUserMessage to task_complete, notifications received in that window)."""
    with MockModel() as model, tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as work:
        Path(home, "config.toml").write_text(CONFIG.format(base_url=model.base_url, wire=wire))
        model.enqueue({"type": "text", "text": "word " * deltas, "deltas": deltas})
        session = Session(command, home, work)
        try:
            session.call("initialize", {"clientInfo": {"name": "bench", "version": "1"}})
            cid = session.call("newConversation", {"cwd": work})["conversationId"]
            session.call("addConversationListener", {"conversationId": cid})
            items = [{"type": "text", "data": {"text": "stream please"}}]
            begin = time.perf_counter()
            session.send("sendUserMessage", {"conversationId": cid, "items": items})
            notifications = 0
            while True:
                line = session.read()
                if line.startswith(b'{"method"'):
                    notifications += 1
                    if b'"codex/event/task_complete"' in line:
                        return time.perf_counter() - begin, notifications
        finally:
            session.close()


def measure(command: list[str], deltas: int, runs: int, wire: str) -> dict[str, float]:
    samples = [one_run(command, deltas, wire) for _ in range(runs)]
    seconds = statistics.median(s for s, _ in samples)
    rate = statistics.median(n / s for s, n in samples)
    count = statistics.median(n for _, n in samples)
    return {
        f"sendUserMessage → task_complete, {deltas} deltas (ms)": seconds * 1000,
        "notifications per second": rate,
        "notifications in the turn": count,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cmd", default="codex-app-server")
    parser.add_argument("--reference", default=None, help='e.g. "codex app-server" (0.58.0)')
    parser.add_argument("--deltas", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--wire", choices=("responses", "chat"), default="responses")
    args = parser.parse_args()
    ours = measure(shlex.split(args.cmd), args.deltas, args.runs, args.wire)
    theirs = measure(shlex.split(args.reference), args.deltas, args.runs, args.wire) if args.reference else None
    print_comparison(f"metric (median of {args.runs} runs, {args.wire} wire)", ours, theirs)


if __name__ == "__main__":
    main()
