"""codex-app-server: the Codex app-server protocol (0.58.0) over stdio, served by pykka actors."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

LOG_LEVEL_ENV = "CODEX_APP_SERVER_LOG"
SHUTDOWN_GRACE_S = 2.0
STDIO_CONNECTION = 0

# Feature actors in start order (dependencies first); each is (peer name, "module:Class").
FEATURE_ACTORS: tuple[tuple[str, str], ...] = (
    ("config", "actors.config_store:ConfigActor"),
    ("system", "actors.system:SystemActor"),
    ("login", "actors.login:LoginActor"),
    ("archive", "actors.archive:ArchiveActor"),
    ("fuzzy", "actors.fuzzy_search:FuzzySearchActor"),
    ("conversations", "actors.conversations:ConversationsActor"),
)

USAGE = """\
codex-app-server [OPTIONS] [COMMAND]

Serves the Codex app-server protocol (JSON-RPC, one JSON object per line) on stdin/stdout.

Commands:
  (none) / app-server      serve on stdio (the default; `app-server` is accepted so IDE settings
                           written for `codex app-server` work when only the executable changes)
  generate-json-schema --out DIR
                           write the JSON Schema of every message type we speak
  mock-model [...]         run the scripted OpenAI-compatible model server (see its --help)
"""


def _configure_logging() -> None:
    level = os.environ.get(LOG_LEVEL_ENV, "WARNING").upper()
    logging.basicConfig(
        stream=sys.stderr,
        level=getattr(logging, level, logging.WARNING),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="codex-app-server", usage=USAGE, add_help=True)
    parser.add_argument(
        "-c",
        "--config",
        dest="overrides",
        action="append",
        default=[],
        metavar="key=value",
        help="override a config.toml value: dotted key, value parsed as TOML (raw string if it does not parse)",
    )
    parser.add_argument(
        "--codex-home",
        type=Path,
        default=None,
        help="the Codex home directory (default: $CODEX_HOME, else ~/.codex; created 0700 if missing)",
    )
    parser.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("command", nargs="?", default=None)
    return parser.parse_args(list(argv))


def resolve_codex_home(explicit: Path | None) -> Path:
    home = explicit or (Path(os.environ["CODEX_HOME"]) if os.environ.get("CODEX_HOME") else Path.home() / ".codex")
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    return Path(os.path.realpath(home))


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "app-server":
        argv = argv[1:]
    if argv and argv[0] == "mock-model":
        from codex_mock_model import main as mock_model_main

        sys.exit(mock_model_main(argv[1:]))
    _configure_logging()
    args = _parse_args(argv)
    if args.command == "generate-json-schema":
        sys.exit(_generate_json_schema(args.out))
    if args.command not in (None, "app-server"):
        print(f"error: unknown command {args.command!r}\n\n{USAGE}", file=sys.stderr)
        sys.exit(2)
    sys.exit(serve_stdio(args))


def _load_config(args: argparse.Namespace) -> Any:
    from config import ConfigError, load_config, parse_cli_override

    try:
        codex_home = resolve_codex_home(args.codex_home)
        overrides = [parse_cli_override(text) for text in args.overrides]
        return load_config(codex_home, overrides)
    except (ConfigError, OSError, ValueError) as error:
        print(f"Error: error loading config: {error}", file=sys.stderr)
        sys.exit(1)


class Server:
    """The actor system of one server process: start in dependency order, stop in reverse."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self.outgoing: Any = None
        self.router: Any = None
        self.features: dict[str, Any] = {}

    def start(self) -> None:
        from actors.outgoing import OutgoingActor
        from actors.router import RouterActor
        from messages.internal import Peers

        self.outgoing = OutgoingActor.start()
        for name, target in FEATURE_ACTORS:
            module_name, class_name = target.split(":")
            actor_class = getattr(importlib.import_module(module_name), class_name)
            self.features[name] = actor_class.start(self.outgoing, self.config)
        peers = Peers(dict(self.features))
        for ref in self.features.values():
            ref.tell(peers)
        self.router = RouterActor.start(self.outgoing, dict(self.features))

    def stop(self) -> None:
        _kill_running_commands()
        for ref in [self.router, *reversed(list(self.features.values())), self.outgoing]:
            if ref is None:
                continue
            try:
                ref.stop(timeout=SHUTDOWN_GRACE_S)
            except Exception:  # noqa: BLE001 - shutting down: log and go on
                logging.getLogger(__name__).debug("actor did not stop cleanly", exc_info=True)


def _kill_running_commands() -> None:
    try:
        from actors.exec_runner import kill_all
    except ImportError:
        return
    kill_all(grace=SHUTDOWN_GRACE_S)


def serve_stdio(args: argparse.Namespace) -> int:
    config = _load_config(args)
    from messages.internal import ConnectionClosed, ConnectionOpened, Incoming

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    _install_debug_signal()

    server = Server(config)
    server.start()
    router = server.router
    stdout = sys.stdout.buffer
    router.tell(ConnectionOpened(STDIO_CONNECTION, stdout))

    def read_stdin() -> None:
        stdin = sys.stdin.buffer
        try:
            for line in iter(stdin.readline, b""):
                router.tell(Incoming(STDIO_CONNECTION, line))
        except Exception:  # noqa: BLE001 - a broken stdin ends the session like EOF
            logging.getLogger(__name__).exception("reading stdin failed")
        stop.set()

    threading.Thread(target=read_stdin, name="stdin-reader", daemon=True).start()
    while not stop.wait(3600):
        pass
    # The backstop: whatever hangs, the process is gone shortly after the grace period.
    threading.Timer(SHUTDOWN_GRACE_S + 1.0, lambda: os._exit(0)).start()
    try:
        router.tell(ConnectionClosed(STDIO_CONNECTION))
    except Exception:  # noqa: BLE001
        pass
    server.stop()
    _flush_quietly()
    os._exit(0)


def _flush_quietly() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass


def _install_debug_signal() -> None:
    def dump(*_: Any) -> None:
        from pykka.debug import log_thread_tracebacks

        log_thread_tracebacks()

    signal.signal(signal.SIGUSR1, dump)


def _generate_json_schema(out: Path | None) -> int:
    if out is None:
        print("error: generate-json-schema needs --out DIR", file=sys.stderr)
        return 2
    import json

    from messages.catalog import schema_for_generation

    out.mkdir(parents=True, exist_ok=True)
    schemas = schema_for_generation()
    for name, schema in schemas.items():
        (out / f"{name}.json").write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
    try:
        from codex_mock_model.script import script_json_schema
    except ImportError:
        pass
    else:
        (out / "MockModelScript.json").write_text(json.dumps(script_json_schema(), indent=2) + "\n")
    print(f"wrote {len(schemas)} schemas to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    main()
