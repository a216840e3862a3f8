"""Daemon streaming benchmark: N clients on one daemon, each streaming a reply of D deltas at once.

    python bench/daemon_streams.py [--cmd codex-app-server] [--clients 50] [--deltas 1000]

Prints total notifications per second and checks that none were lost and none crossed conversations.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from websockets.sync.client import unix_connect

from codex_mock_model import MockModel


def config(model: MockModel) -> str:
    return f"""model = "mock-model"
model_provider = "mock"
approval_policy = "never"
sandbox_mode = "danger-full-access"

[model_providers.mock]
name = "mock"
base_url = "{model.base_url}"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
"""


def client_run(sock: Path, index: int, cwd: str, results: dict[int, tuple[int, int, bool]],
               ready: threading.Barrier) -> None:
    ws = unix_connect(str(sock), uri="ws://localhost/", max_size=None, compression=None, legacy=True)
    next_id = iter(range(1, 1_000_000))

    def call(method: str, params: dict) -> dict:
        request_id = next(next_id)
        ws.send(json.dumps({"id": request_id, "method": method, "params": params}))
        while True:
            message = json.loads(ws.recv())
            if message.get("id") == request_id and "method" not in message:
                return message["result"]

    call("initialize", {"clientInfo": {"name": f"bench{index}", "version": "1"}})
    conversation = call("newConversation", {"cwd": cwd})["conversationId"]
    call("addConversationListener", {"conversationId": conversation})
    ready.wait()
    call("sendUserMessage", {"conversationId": conversation,
                             "items": [{"type": "text", "data": {"text": f"<client {index}>"}}]})
    deltas = foreign = 0
    complete = False
    while not complete:
        message = json.loads(ws.recv())
        method = message.get("method", "")
        if not method.startswith("codex/event/"):
            continue
        if message["params"].get("conversationId") != conversation:
            foreign += 1
        elif method == "codex/event/agent_message_delta":
            deltas += 1
        elif method == "codex/event/task_complete":
            complete = True
    results[index] = (deltas, foreign, complete)
    ws.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cmd", default="codex-app-server")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--deltas", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home, MockModel() as model:
        Path(home, "config.toml").write_text(config(model))
        for index in range(args.clients):
            model.enqueue({"type": "text", "text": "z" * args.deltas, "deltas": args.deltas,
                           "match": f"<client {index}>"})
        sock = Path(home) / "bench.sock"
        process = subprocess.Popen([*shlex.split(args.cmd), "--listen", f"unix://{sock}"],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, env={**os.environ, "CODEX_HOME": home})
        for _ in range(400):
            if sock.exists():
                break
            time.sleep(0.025)
        results: dict[int, tuple[int, int, bool]] = {}
        ready = threading.Barrier(args.clients + 1)
        threads = [threading.Thread(target=client_run, args=(sock, index, home, results, ready))
                   for index in range(args.clients)]
        for thread in threads:
            thread.start()
        ready.wait()
        begin = time.perf_counter()
        for thread in threads:
            thread.join(600)
        elapsed = time.perf_counter() - begin
        process.terminate()
        process.wait(10)
    total = sum(deltas for deltas, _, _ in results.values())
    lost = args.clients * args.deltas - total
    crossed = sum(foreign for _, foreign, _ in results.values())
    print(f"clients {args.clients} × {args.deltas} deltas: {elapsed:.2f} s, "
          f"{total / elapsed:,.0f} delta notifications/s, lost {lost}, crossed {crossed}")


if __name__ == "__main__":
    main()
