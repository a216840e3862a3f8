"""Benchmark: fuzzyFileSearch over synthetic repositories, ours against codex app-server 0.58.

    python bench/fuzzy_search.py [--sizes 10000,100000] [--reference "codex app-server"]

Each repository has N tracked-looking files plus a large ignored `node_modules/` (N/2 files,
ignored by `.gitignore`). Queries of 1, 4 and 10 characters. "cold" is the first query on a root
(ours: a fresh index store; 0.58 keeps nothing between requests, so every query is cold there);
"warm" is a keystroke on an indexed root, after the same query minus its last character.
Our "cold" is measured as in a server that has settled (its walk helper process already waiting,
as the server starts it a second after start-up); "fresh" is the same with no helper waiting (the
build starts one itself).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from actors import file_index  # noqa: E402
from actors.file_index import IndexStore  # noqa: E402
from actors.fuzzy_search import search_roots  # noqa: E402

WORDS = (
    "src lib app components user profile settings view model controller test utils helpers api server client "
    "main index config data core service store router auth login button modal table chart render event "
    "handler worker queue cache schema migration build docs assets styles theme hooks context provider"
).split()
EXTS = [".py", ".ts", ".tsx", ".md", ".json", ".rs", ".go", ".css"]
QUERIES = {"1": "m", "4": "main", "10": "mainconfig"}


def make_repo(base: Path, files: int, seed: int = 1) -> Path:
    rng = random.Random(seed)
    root = base / f"repo{files}"
    if (root / ".done").exists():
        return root
    root.mkdir(parents=True, exist_ok=True)
    (root / ".gitignore").write_text("node_modules/\n*.log\ndist/\n")

    def write(count: int, prefix: str) -> None:
        made = 0
        while made < count:
            depth = rng.randint(1, 5)
            parts = [rng.choice(WORDS) + (rng.choice(["", "_", "-"]) + rng.choice(WORDS) if rng.random() < 0.3 else "")
                     for _ in range(depth)]  # fmt: skip
            directory = root / prefix / "/".join(parts)
            directory.mkdir(parents=True, exist_ok=True)
            for _ in range(rng.randint(1, 12)):
                name = rng.choice(WORDS) + rng.choice(["", "_", ".", "-"]) + rng.choice(WORDS) + rng.choice(EXTS)
                (directory / name).touch()
                made += 1
                if made >= count:
                    break

    write(files, "")
    write(files // 2, "node_modules")
    (root / ".done").touch()
    return root


class Reference:
    """codex app-server over stdio."""

    def __init__(self, command: str) -> None:
        self.home = tempfile.mkdtemp()
        env = dict(os.environ, CODEX_HOME=self.home)
        self.proc = subprocess.Popen(
            shlex.split(command), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
        )
        self.next_id = 0
        self.request("initialize", {"clientInfo": {"name": "bench", "version": "0"}})

    def request(self, method: str, params: dict) -> dict:
        self.next_id += 1
        line = json.dumps({"id": self.next_id, "method": method, "params": params}) + "\n"
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line.encode())
        self.proc.stdin.flush()
        while True:
            answer = json.loads(self.proc.stdout.readline())
            if answer.get("id") == self.next_id:
                return answer

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait()


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def cold_ours(root: str, query: str, settled: bool) -> float:
    store = IndexStore(home=None, env={})
    try:
        if settled:
            store.warm_helper()
            time.sleep(0.3)  # the server warms it a second after start-up, long before a keystroke
        return timed(lambda: search_roots(store, query, [root], lambda: False))
    finally:
        store.close()


def bench_ours(root: str, query: str, reps: int) -> tuple[float, float, float]:
    cold = statistics.median(cold_ours(root, query, True) for _ in range(reps))
    fresh = statistics.median(cold_ours(root, query, False) for _ in range(reps))
    store = IndexStore(home=None, env={})
    search_roots(store, query, [root], lambda: False)
    index = store.get(root)
    warm = []
    for _ in range(reps):
        # forget earlier keystrokes: only the previous one helps
        for cache in ("universe", "masks", "results"):
            index.derived.pop(cache, None)
        if len(query) > 1:
            search_roots(store, query[:-1], [root], lambda: False)
        else:
            search_roots(store, "x", [root], lambda: False)
        warm.append(timed(lambda: search_roots(store, query, [root], lambda: False)))
    store.close()
    return cold, fresh, statistics.median(warm)


def bench_reference(ref: Reference, root: str, query: str, reps: int) -> tuple[float, float]:
    """0.58 keeps nothing between requests: every query walks the tree (median of `reps` as "cold")."""
    params = {"query": query, "roots": [root]}
    runs = [timed(lambda: ref.request("fuzzyFileSearch", params)) for _ in range(2 * reps)]
    return statistics.median(runs[:reps]), statistics.median(runs[reps:])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--reference", default=None, help='e.g. "codex app-server"')
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--dir", default=os.path.join(tempfile.gettempdir(), "fuzzy-bench"))
    parser.add_argument("--single", action="store_true", help="walk in one process (no helper)")
    args = parser.parse_args()
    if args.single:
        file_index.HELPER_AFTER_SECONDS = None
    base = Path(args.dir)
    print(f"{'files':>7} {'query':>12} {'ours cold':>10} {'ours fresh':>10} {'ours warm':>10} {'0.58 cold':>10}"
          f" {'0.58 warm':>10} {'cold x':>7} {'fresh x':>7} {'warm x':>7}")  # fmt: skip
    for size in (int(s) for s in args.sizes.split(",")):
        root = str(make_repo(base, size))
        # Drop the page cache's advantage of whoever runs second (and our one-time imports): walk once first.
        search_roots(IndexStore(home=None, env={}), "warmup", [root], lambda: False)
        for query in QUERIES.values():
            ours_cold, ours_fresh, ours_warm = bench_ours(root, query, args.reps)
            ref_cold = ref_warm = float("nan")
            if args.reference:
                ref = Reference(args.reference)
                try:
                    ref_cold, ref_warm = bench_reference(ref, root, query, args.reps)
                finally:
                    ref.close()
            print(
                f"{size:>7} {query!r:>12} {ours_cold:>8.1f}ms {ours_fresh:>8.1f}ms {ours_warm:>8.1f}ms"
                f" {ref_cold:>8.1f}ms {ref_warm:>8.1f}ms {ref_cold / ours_cold:>6.2f}x {ref_cold / ours_fresh:>6.2f}x"
                f" {ref_warm / ours_warm:>6.2f}x"
            )


if __name__ == "__main__":
    main()
