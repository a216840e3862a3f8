"""Archive benchmark: listing conversations on large histories (issue 6).

    python bench/archive.py [--sizes 1000,10000,50000] [--reference "codex app-server"] [--ours actor|stdio]

Builds synthetic CODEX_HOMEs (cached under --homes) with N rollouts in 0.58's exact line format, 40 per
day directory, then measures `thread/list` with limit 25: the first page on a cold start, the same
page again (warm, median of 21), and walking every page to the end. "ours" drives the archive actor in-process
(`--ours actor`, the default) or `codex-app-server` over stdio (`--ours stdio`); `--reference` runs
the same requests against another server over stdio. Times are for the requests only (after
`initialize`), in milliseconds; the walk also reports how many threads it reached.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import queue
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PER_DAY = 40
ENV = (
    "<environment_context>\n  <cwd>/tmp/proj</cwd>\n  <approval_policy>on-request</approval_policy>\n"
    "  <sandbox_mode>read-only</sandbox_mode>\n  <network_access>restricted</network_access>\n"
    "  <shell>bash</shell>\n</environment_context>"
)


def _line(ts: str, kind: str, payload: dict[str, Any]) -> str:
    return json.dumps({"timestamp": ts, "type": kind, "payload": payload}, separators=(",", ":")) + "\n"


def _rollout(conversation_id: str, moment: dt.datetime, text: str) -> str:
    ts = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    meta = {
        "id": conversation_id,
        "timestamp": ts,
        "cwd": "/tmp/proj",
        "originator": "codex_cli_rs",
        "cli_version": "0.58.0",
        "instructions": None,
        "source": "vscode",
        "model_provider": "openai",
        "git": {"commit_hash": "9c32526d0e0a5bd5c0e1f2a3b4c5d6e7f8091a2b", "branch": "main"},
    }
    user = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    env = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": ENV}]}
    context = {
        "cwd": "/tmp/proj",
        "approval_policy": "on-request",
        "sandbox_policy": {"mode": "read-only"},
        "model": "gpt-5",
        "summary": "auto",
    }
    answer = {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Done. " * 40}]}
    return (
        _line(ts, "session_meta", meta)
        + _line(ts, "response_item", env)
        + _line(ts, "response_item", user)
        + _line(ts, "event_msg", {"type": "user_message", "message": text, "images": []})
        + _line(ts, "turn_context", context)
        + _line(ts, "event_msg", {"type": "agent_message", "message": "Done. " * 40})
        + _line(ts, "response_item", answer)
    )


def build_home(root: Path, count: int) -> Path:
    home = root / f"home-{count}"
    marker = home / ".complete"
    if marker.exists():
        return home
    start = dt.datetime(2025, 11, 1, 9, 0, 0)
    for index in range(count):
        day = start - dt.timedelta(days=index // PER_DAY)
        moment = day.replace(hour=9 + (index % PER_DAY) // 6, minute=(index % 6) * 7, second=index % 60)
        conversation_id = f"019a{index:04x}"[-8:] + f"-0000-7000-8000-{index:012d}"
        folder = home / "sessions" / f"{moment.year:04d}" / f"{moment.month:02d}" / f"{moment.day:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"rollout-{moment.strftime('%Y-%m-%dT%H-%M-%S')}-{conversation_id}.jsonl"
        (folder / name).write_text(_rollout(conversation_id, moment, f"Task number {index}: fix the flaky test"))
    (home / "config.toml").write_text("")
    marker.write_text("")
    return home


_PYCACHE = tempfile.mkdtemp(prefix="bench-pycache-")
SETTLE_S = 1.0
WARM_REPEATS = 21


# -- drivers ------------------------------------------------------------------------------------------
class StdioDriver:
    def __init__(self, command: list[str], home: Path) -> None:
        env = dict(os.environ, CODEX_HOME=str(home), RUST_LOG="error")
        if env.pop("PYTHONDONTWRITEBYTECODE", None):
            # As an installed server runs: with compiled bytecode (cached aside, since this environment
            # forbids writing it beside the sources).
            env["PYTHONPYCACHEPREFIX"] = _PYCACHE
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
        )
        self.next_id = 0
        self.request("initialize", {"clientInfo": {"name": "bench", "version": "1"}})
        # "Cold" means the rollout store is cold, not the process: both servers get a moment to finish
        # starting (ours answers `initialize` while its feature actors still load).
        time.sleep(SETTLE_S)

    def request(self, method: str, params: dict[str, Any]) -> Any:
        self.next_id += 1
        assert self.process.stdin is not None and self.process.stdout is not None
        line = json.dumps({"id": self.next_id, "method": method, "params": params}) + "\n"
        self.process.stdin.write(line.encode())
        self.process.stdin.flush()
        while True:
            raw = self.process.stdout.readline()
            if not raw:
                raise RuntimeError("server exited")
            message = json.loads(raw)
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(message["error"]["message"])
                return message["result"]

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=10)


class ActorDriver:
    """The archive actor in-process, with a queue standing in for the outgoing actor."""

    def __init__(self, home: Path) -> None:
        import pykka

        from actors.archive import ArchiveActor

        inbox: queue.Queue[Any] = queue.Queue()

        class Outgoing(pykka.ThreadingActor):
            def on_receive(self, message: Any) -> None:
                inbox.put(message)

        self.inbox = inbox
        config = SimpleNamespace(codex_home=Path(os.path.realpath(home)), model_provider_id="openai")
        self.archive = ArchiveActor.start(Outgoing.start(), config)
        self.next_id = 0

    def request(self, method: str, params: dict[str, Any]) -> Any:
        from messages.internal import Call, Failure

        assert method == "thread/list"
        self.next_id += 1
        typed = SimpleNamespace(
            limit=params.get("limit"), cursor=params.get("cursor"), model_providers=params.get("modelProviders")
        )
        self.archive.tell(Call(0, self.next_id, method, "thread_list", typed, "bench"))
        while True:
            message = self.inbox.get(timeout=600)
            if getattr(message, "request_id", None) == self.next_id:
                if isinstance(message, Failure):
                    raise RuntimeError(message.message)
                return message.result

    def close(self) -> None:
        import pykka

        pykka.ActorRegistry.stop_all()


def measure(driver: Any, walk_budget: float) -> dict[str, Any]:
    started = time.perf_counter()
    first = driver.request("thread/list", {"limit": 25})
    cold = time.perf_counter() - started
    samples = []
    for _ in range(WARM_REPEATS):  # warm: the same first page again, median of several (one sample is noise)
        started = time.perf_counter()
        again = driver.request("thread/list", {"limit": 25})
        samples.append(time.perf_counter() - started)
        assert again == first
    warm = sorted(samples)[len(samples) // 2]
    reached = 0
    pages = 0
    cursor = None
    started = time.perf_counter()
    finished = True
    while True:
        page = driver.request("thread/list", {"limit": 25, "cursor": cursor})
        reached += len(page["data"])
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
        if time.perf_counter() - started > walk_budget:
            finished = False
            break
    walk = time.perf_counter() - started
    return {"cold": cold, "warm": warm, "walk": walk, "reached": reached, "pages": pages, "finished": finished}


def run(kind: str, command: list[str] | None, home: Path, walk_budget: float) -> dict[str, Any]:
    driver: Any = ActorDriver(home) if command is None else StdioDriver(command, home)
    try:
        return measure(driver, walk_budget)
    finally:
        driver.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--homes", default="/tmp/codex-archive-bench")
    parser.add_argument("--ours", choices=("actor", "stdio"), default="actor")
    parser.add_argument("--cmd", default="codex-app-server", help="our server command for --ours stdio")
    parser.add_argument("--reference", help='e.g. "codex app-server"')
    parser.add_argument("--walk-budget", type=float, default=300.0, help="seconds before a walk is cut short")
    args = parser.parse_args()

    ours_cmd = shlex.split(args.cmd) if args.ours == "stdio" else None
    rows = []
    for size in (int(part) for part in args.sizes.split(",")):
        home = build_home(Path(args.homes), size)
        ours = run("ours", ours_cmd, home, args.walk_budget)
        ref = run("reference", shlex.split(args.reference), home, args.walk_budget) if args.reference else None
        rows.append((size, ours, ref))

    def cell(result: dict[str, Any] | None, key: str) -> str:
        return "-" if result is None else f"{result[key] * 1000:9.1f}"

    def walked(result: dict[str, Any] | None) -> str:
        if result is None:
            return "-"
        return f"{result['reached']}{'' if result['finished'] else '+ (cut)'} in {result['pages']} pages"

    print(f"{'rollouts':>9} | {'side':9} | {'cold ms':>9} | {'warm ms':>9} | {'walk ms':>9} | walked")
    print("-" * 90)
    for size, ours, ref in rows:
        for side, result in (("ours", ours), ("reference", ref)):
            if result is None:
                continue
            line = f"{size:>9} | {side:9} | {cell(result, 'cold')} | {cell(result, 'warm')} | {cell(result, 'walk')}"
            print(f"{line} | {walked(result)}")
        if ref is not None:
            ratios = " | ".join(f"{key} ×{ref[key] / max(ours[key], 1e-9):.1f}" for key in ("cold", "warm", "walk"))
            print(f"{'':>9} | speed-up  | {ratios}")


if __name__ == "__main__":
    main()
