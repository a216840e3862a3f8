"""Foundation benchmark: cold start, round trip and pipelined throughput over stdio.

    python bench/startup.py [--cmd "codex-app-server"] [--reference "codex app-server"]

Prints one table; with --reference the same workload runs against the reference binary (each with
its own temporary CODEX_HOME) and the ratios ours/reference are shown.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from comparison import print_comparison

INIT = b'{"id":0,"method":"initialize","params":{"clientInfo":{"name":"bench","version":"1"}}}\n'


# Child environment tweaks (set in main): an installed server has its bytecode compiled, so when this
# environment forbids writing it (PYTHONDONTWRITEBYTECODE) the children cache it under a temporary
# prefix instead, and one warm-up run fills that cache before anything is timed.
CHILD_ENV: dict[str, str] = {}
DROP_ENV: tuple[str, ...] = ()


class Session:
    def __init__(self, command: list[str], home: str) -> None:
        env = {k: v for k, v in os.environ.items() if k not in DROP_ENV}
        env.update(CHILD_ENV, CODEX_HOME=home)
        self.started = time.perf_counter()
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, env=env)

    def send(self, data: bytes) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(data)
        self.process.stdin.flush()

    def read(self) -> bytes:
        assert self.process.stdout is not None
        return self.process.stdout.readline()

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(10)


def cold_start(command: list[str], home: str, runs: int = 10) -> float:
    samples = []
    for run in range(runs + 1):
        session = Session(command, home)
        session.send(INIT)
        line = session.read()
        if run:  # the first run only warms caches
            samples.append(time.perf_counter() - session.started)
        assert b'"result"' in line, line
        session.close()
    return statistics.median(samples) * 1000


def round_trips(command: list[str], home: str, count: int = 2000) -> tuple[float, float]:
    session = Session(command, home)
    session.send(INIT)
    session.read()
    samples = []
    for index in range(count):
        request = json.dumps({"id": index + 1, "method": "getUserAgent"}).encode() + b"\n"
        begin = time.perf_counter()
        session.send(request)
        session.read()
        samples.append(time.perf_counter() - begin)
    session.close()
    samples.sort()
    return samples[len(samples) // 2] * 1e6, samples[int(len(samples) * 0.99)] * 1e6


def pipelined(command: list[str], home: str, count: int = 10_000) -> float:
    session = Session(command, home)
    session.send(INIT)
    session.read()
    payload = b"".join(
        json.dumps({"id": index + 1, "method": "getUserAgent"}).encode() + b"\n" for index in range(count)
    )
    begin = time.perf_counter()
    writer = threading.Thread(target=session.send, args=(payload,))
    writer.start()
    for _ in range(count):
        session.read()
    elapsed = time.perf_counter() - begin
    writer.join()
    session.close()
    return elapsed * 1000


def measure(command: list[str]) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as home:
        cold = cold_start(command, home)
        p50, p99 = round_trips(command, home)
        total = pipelined(command, home)
    return {"cold start to initialize reply, median of 10 (ms)": cold, "getUserAgent round trip p50 (µs)": p50,
            "getUserAgent round trip p99 (µs)": p99, "10,000 pipelined getUserAgent (ms)": total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # The console script next to this interpreter: a version manager's shim (pyenv) would add its own
    # start-up (a bash script) to every run.
    script = os.path.join(os.path.dirname(sys.executable), "codex-app-server")
    parser.add_argument("--cmd", default=script if os.path.exists(script) else "codex-app-server")
    parser.add_argument("--no-bytecode", action="store_true",
                        help="run our server without compiled bytecode (as PYTHONDONTWRITEBYTECODE=1 leaves it)")
    parser.add_argument("--reference", default=None, help='e.g. "npx codex app-server" (0.58.0)')
    args = parser.parse_args()
    global CHILD_ENV, DROP_ENV
    if os.environ.get("PYTHONDONTWRITEBYTECODE") and not args.no_bytecode:
        CHILD_ENV = {"PYTHONPYCACHEPREFIX": tempfile.mkdtemp(prefix="bench-pycache-")}
        DROP_ENV = ("PYTHONDONTWRITEBYTECODE",)
    ours = measure(shlex.split(args.cmd))
    CHILD_ENV, DROP_ENV = {}, ()
    theirs = measure(shlex.split(args.reference)) if args.reference else None
    print_comparison("metric", ours, theirs)


if __name__ == "__main__":
    main()
