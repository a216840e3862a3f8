"""Daemon benchmark: getUserAgent round trip and pipelined throughput over the unix socket beside stdio.

    python bench/daemon.py [--cmd codex-app-server]

Starts one daemon on a temporary socket (with --stdio as well) and measures both transports in one run.
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

INIT = {"id": 0, "method": "initialize", "params": {"clientInfo": {"name": "bench", "version": "1"}}}


WINDOW = 512


def over_socket(path: Path, count: int, pipelined: int) -> tuple[float, float, float]:
    with unix_connect(str(path), uri="ws://localhost/", max_size=None, compression=None) as ws:
        ws.send(json.dumps(INIT))
        ws.recv()
        samples = []
        for index in range(count):
            begin = time.perf_counter()
            ws.send(json.dumps({"id": index + 1, "method": "getUserAgent"}))
            ws.recv()
            samples.append(time.perf_counter() - begin)
        samples.sort()
        frames = [json.dumps({"id": index + 1, "method": "getUserAgent"}) for index in range(pipelined)]
        # At most WINDOW requests in flight: a sync WebSocket client sends while holding the lock
        # its reader needs, so unbounded sending against a server that is itself blocked sending
        # its answers can stall both (the bench hung now and then).
        window = threading.Semaphore(WINDOW)

        def send_all() -> None:
            for frame in frames:
                window.acquire()
                ws.send(frame)

        begin = time.perf_counter()
        sender = threading.Thread(target=send_all)
        sender.start()
        for _ in range(pipelined):
            ws.recv()
            window.release()
        total = time.perf_counter() - begin
        sender.join()
    return samples[len(samples) // 2] * 1e6, samples[int(len(samples) * 0.99)] * 1e6, total * 1000


def over_stdio(process: subprocess.Popen, count: int, pipelined: int) -> tuple[float, float, float]:
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write((json.dumps(INIT) + "\n").encode())
    process.stdin.flush()
    process.stdout.readline()
    samples = []
    for index in range(count):
        begin = time.perf_counter()
        process.stdin.write((json.dumps({"id": index + 1, "method": "getUserAgent"}) + "\n").encode())
        process.stdin.flush()
        process.stdout.readline()
        samples.append(time.perf_counter() - begin)
    samples.sort()
    payload = b"".join((json.dumps({"id": i + 1, "method": "getUserAgent"}) + "\n").encode() for i in range(pipelined))
    begin = time.perf_counter()

    def send() -> None:
        process.stdin.write(payload)
        process.stdin.flush()

    sender = threading.Thread(target=send)
    sender.start()
    for _ in range(pipelined):
        process.stdout.readline()
    total = time.perf_counter() - begin
    sender.join()
    return samples[len(samples) // 2] * 1e6, samples[int(len(samples) * 0.99)] * 1e6, total * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cmd", default="codex-app-server")
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--pipelined", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        sock = Path(home) / "bench.sock"
        process = subprocess.Popen([*shlex.split(args.cmd), "--listen", f"unix://{sock}", "--stdio"],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                   env={**os.environ, "CODEX_HOME": home})
        for _ in range(400):
            if sock.exists():
                break
            time.sleep(0.025)
        rows = {"stdio": over_stdio(process, args.count, args.pipelined),
                "unix socket (websocket)": over_socket(sock, args.count, args.pipelined)}
        process.terminate()
        process.wait(10)
    print(f"{'transport':<26} {'p50 µs':>9} {'p99 µs':>9} {f'{args.pipelined} pipelined ms':>22}")
    for name, (p50, p99, total) in rows.items():
        print(f"{name:<26} {p50:>9.1f} {p99:>9.1f} {total:>22.1f}")


if __name__ == "__main__":
    main()
