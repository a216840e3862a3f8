"""Benchmark: keystroke latency while someone types in the file picker, ours against 0.58.

    python bench/fuzzy_typing.py [--files 100000] [--seconds 8] [--reference "codex app-server"]

A settled server (walk helper waiting) indexes the tree once; then words are typed a letter at a
time, one `fuzzyFileSearch` per keystroke, 120 ms apart, for `--seconds`, while the index refresh
runs in the background as in the server. Prints p50 / p90 / max per keystroke. 0.58 walks the
tree on every keystroke; it types the first word only (each keystroke takes a walk).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fuzzy_search import Reference, make_repo  # noqa: E402

from actors.file_index import IndexStore  # noqa: E402
from actors.fuzzy_search import search_roots  # noqa: E402

WORDS = ["mainconfig", "routerview", "userprofile", "handlerqueue"]
PAUSE = 0.12


def keystrokes() -> list[str]:
    return [word[:n] for word in WORDS for n in range(1, len(word) + 1)]


def summary(latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return f"{len(ordered):>5} {statistics.median(ordered):>8.1f} {p90:>8.1f} {ordered[-1]:>8.1f}"


def ours(root: str, seconds: float) -> list[float]:
    store = IndexStore(home=None, env={})
    try:
        store.warm_helper()
        time.sleep(0.3)
        search_roots(store, "x", [root], lambda: False)  # the cold index, not timed here
        latencies = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for query in keystrokes():
                start = time.perf_counter()
                search_roots(store, query, [root], lambda: False)
                latencies.append((time.perf_counter() - start) * 1000)
                time.sleep(PAUSE)
        return latencies
    finally:
        store.close()


def reference(command: str, root: str) -> list[float]:
    ref = Reference(command)
    try:
        latencies = []
        for query in keystrokes()[: len(WORDS[0])]:
            start = time.perf_counter()
            ref.request("fuzzyFileSearch", {"query": query, "roots": [root]})
            latencies.append((time.perf_counter() - start) * 1000)
            time.sleep(PAUSE)
        return latencies
    finally:
        ref.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--reference", default=None, help='e.g. "codex app-server"')
    parser.add_argument("--dir", default=os.path.join(tempfile.gettempdir(), "fuzzy-bench"))
    args = parser.parse_args()
    root = str(make_repo(Path(args.dir), args.files))
    print(f"{'keystroke latency (ms)':<24} {'n':>5} {'p50':>8} {'p90':>8} {'max':>8}")
    print(f"{'ours':<24} {summary(ours(root, args.seconds))}")
    if args.reference:
        print(f"{'0.58':<24} {summary(reference(args.reference, root))}")


if __name__ == "__main__":
    main()
