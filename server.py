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
DAEMON_SHUTDOWN_GRACE_S = 5.0
STDIO_CONNECTION = 0

# Feature actors in start order: each serves as soon as it runs, so an actor starts after the peers
# it asks (conversations: login, archive; system: archive) and what an IDE asks first starts early.
# Each is (peer name, "module:Class").
FEATURE_ACTORS: tuple[tuple[str, str], ...] = (
    ("archive", "actors.archive:ArchiveActor"),
    ("system", "actors.system:SystemActor"),  # feedback/upload asks the archive
    ("config", "actors.config_store:ConfigActor"),
    ("login", "actors.login:LoginActor"),
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
  demo [--json]            an offline IDE session against the shipped scripted model (no key, no network)
  mock-model [...]         run the scripted OpenAI-compatible model server (see its --help)
  daemon start|stop|status run one long-lived server for many clients on a unix socket
  proxy [--sock PATH]      bridge stdin/stdout to a running daemon (for IDEs that launch a child)

Transports (--listen URL, repeatable): stdio:// (the default; --stdio is the same),
unix:// ($CODEX_HOME/app-server-control/app-server-control.sock), unix://PATH, ws://IP:PORT
(port 0 picks a free one; every upgrade needs `Authorization: Bearer <token>`).

Logs go to stderr only; CODEX_APP_SERVER_LOG=debug|info|warning|error sets the level (default warning).
"""


def _configure_logging() -> None:
    from actors.log_ring import RING

    level = getattr(logging, os.environ.get(LOG_LEVEL_ENV, "WARNING").upper(), logging.WARNING)
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setLevel(level)
    stderr.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(stderr)
    # The ring keeps recent INFO lines for feedback bundles even when stderr shows only warnings.
    root.addHandler(RING)
    root.setLevel(min(level, logging.INFO))


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
    parser.add_argument("--listen", action="append", default=[], metavar="URL", help="a transport to serve")
    parser.add_argument("--stdio", action="store_true", help="serve stdio as well (same as --listen stdio://)")
    parser.add_argument("--ws-token-file", type=Path, default=None,
                        help="file holding the bearer token ws:// clients must send (default: generated)")
    parser.add_argument("--ws-allow-origin", action="append", default=[], metavar="ORIGIN",
                        help="a browser Origin allowed to open a websocket (default: none)")
    parser.add_argument("--sock", type=Path, default=None, help="proxy: the daemon's socket path")
    parser.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("command", nargs="*", default=[])
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
    if argv and argv[0] == "demo":
        from codex_mock_model.demo import main as demo_main

        sys.exit(demo_main(argv[1:]))
    _configure_logging()
    args = _parse_args(argv)
    command = args.command
    if command == ["generate-json-schema"]:
        sys.exit(_generate_json_schema(args.out))
    if command and command[0] in ("daemon", "proxy"):
        sys.exit(_control(args))
    if command not in ([], ["app-server"]):
        print(f"error: unknown command {' '.join(command)!r}\n\n{USAGE}", file=sys.stderr)
        sys.exit(2)
    sys.exit(serve(args))


def _control(args: argparse.Namespace) -> int:
    from actors import daemon_control
    from actors.sockets import default_socket_path

    codex_home = resolve_codex_home(args.codex_home)
    match args.command:
        case ["proxy"]:
            return daemon_control.proxy(args.sock or default_socket_path(codex_home))
        case ["daemon", "start"]:
            extra = [item for text in args.overrides for item in ("-c", text)]
            if args.ws_token_file:
                extra += ["--ws-token-file", str(args.ws_token_file)]
            for origin in args.ws_allow_origin:
                extra += ["--ws-allow-origin", origin]
            return daemon_control.daemon_start(codex_home, args.listen, extra)
        case ["daemon", "stop"]:
            return daemon_control.daemon_stop(codex_home)
        case ["daemon", "status"]:
            return daemon_control.daemon_status(codex_home)
    print(f"error: unknown command {' '.join(args.command)!r}\n\n{USAGE}", file=sys.stderr)
    return 2


def _load_config(args: argparse.Namespace) -> Any:
    from config import ConfigError, load_config, parse_cli_override

    try:
        overrides = [parse_cli_override(text) for text in args.overrides]
    except (ConfigError, ValueError) as error:
        print(f"Error: error parsing -c overrides: {error}", file=sys.stderr)
        sys.exit(1)
    try:
        codex_home = resolve_codex_home(args.codex_home)
        return load_config(codex_home, overrides)
    except (ConfigError, OSError, ValueError) as error:
        print(f"Error: error loading config: {error}", file=sys.stderr)
        sys.exit(1)


class _PendingRef:
    """Stands in for a feature actor's ref while the start-up thread imports and starts it: what
    the router tells it meanwhile is held, in order, and handed over before anything newer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ref: Any = None
        self._held: list[Any] = []

    def tell(self, message: Any) -> None:
        ref = self._ref
        if ref is None:
            with self._lock:
                if self._ref is None:
                    self._held.append(message)
                    return
                ref = self._ref
        ref.tell(message)

    def attach(self, ref: Any) -> None:
        with self._lock:
            for message in self._held:
                ref.tell(message)
            self._held.clear()
            self._ref = ref


class Server:
    """The actor system of one server process: start in dependency order, stop in reverse.

    The outgoing and router actors start first and serve at once; the feature actors (most of the
    import time) start on a thread meanwhile, so `initialize` is answered while they load. Requests
    for a feature that is not running yet wait in its `_PendingRef`, in arrival order.
    """

    def __init__(self, config: Any) -> None:
        self.config = config
        self.outgoing: Any = None
        self.router: Any = None
        self.features: dict[str, Any] = {}
        self._starter: threading.Thread | None = None

    def start(self, on_failure: Any = None) -> None:
        """Start serving; `on_failure()` runs on the start-up thread if a feature actor fails to start
        (default: log, stop and exit 1, as a failed start always did)."""
        from actors.outgoing import OutgoingActor
        from actors.router import RouterActor

        self.outgoing = OutgoingActor.start()
        pending = {name: _PendingRef() for name, _ in FEATURE_ACTORS}
        self.router = RouterActor.start(self.outgoing, dict(pending))
        self._starter = threading.Thread(
            target=self._start_features, args=(pending, on_failure or _startup_failed), name="start", daemon=True
        )
        self._starter.start()

    def _start_features(self, pending: dict[str, _PendingRef], on_failure: Any) -> None:
        from messages.internal import Peers

        try:
            for name, target in FEATURE_ACTORS:
                module_name, class_name = target.split(":")
                actor_class = getattr(importlib.import_module(module_name), class_name)
                self.features[name] = actor_class.start(self.outgoing, self.config)
                # Each actor serves as soon as it runs (the first `listConversations` need not wait for
                # the conversation engine to import); every running actor learns the peers started so
                # far before its next request, and an actor not started yet cannot hold any state the
                # others would need (no conversation is loaded before the manager runs).
                peers = Peers({**self.features, "router": self.router})
                for ref in self.features.values():
                    ref.tell(peers)
                pending[name].attach(self.features[name])
            # Last, the wire types the router resolves lazily: a client's first request of each kind
            # should not pay for importing them.
            from messages.catalog import CLIENT_METHODS, request_params_type

            for method in CLIENT_METHODS:
                request_params_type(method)
        except Exception:  # noqa: BLE001 - actor threads would keep a half-started process alive
            logging.getLogger(__name__).exception("start-up failed")
            on_failure(self)

    def wait_started(self, timeout: float | None = None) -> None:
        if self._starter is not None and self._starter is not threading.current_thread():
            self._starter.join(timeout)

    def stop(self) -> None:
        self.wait_started(SHUTDOWN_GRACE_S)
        _kill_running_commands()
        for ref in [self.router, *reversed(list(self.features.values())), self.outgoing]:
            if ref is None:
                continue
            try:
                ref.stop(timeout=SHUTDOWN_GRACE_S)
            except Exception:  # noqa: BLE001 - shutting down: log and go on
                logging.getLogger(__name__).debug("actor did not stop cleanly", exc_info=True)


def _startup_failed(server: Server) -> None:
    server.stop()
    _flush_quietly()
    os._exit(1)


def _kill_running_commands() -> None:
    try:
        from actors.exec_runner import kill_all
    except ImportError:
        return
    kill_all(grace=SHUTDOWN_GRACE_S)


def serve(args: argparse.Namespace) -> int:
    config = _load_config(args)
    from messages.internal import ConnectionClosed, ConnectionOpened, Incoming

    listen = list(args.listen) + (["stdio://"] if args.stdio else [])
    if not listen:
        listen = ["stdio://"]
    use_stdio = "stdio://" in listen
    socket_urls = [url for url in listen if url != "stdio://"]

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    _install_debug_signal()

    server = Server(config)
    try:
        server.start()
    except Exception:  # noqa: BLE001 - actor threads would keep a half-started process alive
        logging.getLogger(__name__).exception("start-up failed")
        server.stop()
        _flush_quietly()
        os._exit(1)
    router = server.router
    listeners = None
    if socket_urls:
        try:
            listeners = _start_listeners(args, config.codex_home, socket_urls, router)
        except _StartupError as error:
            print(f"Error: {error}", file=sys.stderr)
            server.stop()
            _flush_quietly()
            os._exit(1)

    if use_stdio:
        router.tell(ConnectionOpened(STDIO_CONNECTION, sys.stdout.buffer))

        def read_stdin() -> None:
            stdin = sys.stdin.buffer
            try:
                for line in iter(stdin.readline, b""):
                    router.tell(Incoming(STDIO_CONNECTION, line))
            except Exception:  # noqa: BLE001 - a broken stdin ends the session like EOF
                logging.getLogger(__name__).exception("reading stdin failed")
            # Requests read before EOF may still wait for their feature actor: let them reach it
            # before the connection closes, as when the actors were running before the first read.
            server.wait_started()
            if listeners is None:
                stop.set()
            else:
                # With sockets listening, stdin EOF ends only the stdio connection (DECISIONS 13).
                router.tell(ConnectionClosed(STDIO_CONNECTION))

        threading.Thread(target=read_stdin, name="stdin-reader", daemon=True).start()

    while not stop.wait(3600):
        pass
    grace = SHUTDOWN_GRACE_S if listeners is None else DAEMON_SHUTDOWN_GRACE_S
    # The backstop: whatever hangs, the process is gone shortly after the grace period.
    threading.Timer(grace + 1.0, lambda: os._exit(0)).start()
    if listeners is not None:
        listeners.stop_accepting()
    # No connection is closed before the actors stop: they stop in order (router, features, outgoing
    # last), each draining its mailbox, so requests already read are answered and running turns end
    # with their terminal events on connections that can still receive them.
    server.stop()
    if listeners is not None:
        listeners.close()
        from actors.daemon_control import remove_pid_file

        remove_pid_file(config.codex_home)
    _flush_quietly()
    os._exit(0)


class _StartupError(Exception):
    pass


def _start_listeners(args: argparse.Namespace, codex_home: Path, urls: list[str], router: Any) -> Any:
    from actors import daemon_control
    from actors.sockets import SocketListeners, WsPolicy, default_socket_path, ensure_ws_token, socket_alive

    listeners = SocketListeners()
    policy: WsPolicy | None = None
    for url in urls:
        scheme, sep, rest = url.partition("://")
        if not sep:
            raise _StartupError(f"invalid --listen URL {url!r}")
        if scheme == "unix":
            path = Path(rest) if rest else default_socket_path(codex_home)
            if path.exists() or path.is_symlink():
                if socket_alive(path):
                    record = daemon_control.read_live_pid(codex_home)
                    pid = record["pid"] if record else "unknown"
                    raise _StartupError(f"already running at {path} (pid {pid})")
                path.unlink()  # stale: nothing accepts on it
            bound = listeners.listen_unix(path, router)
        elif scheme == "ws":
            host, _, port = rest.rpartition(":")
            if not host or not port.isdigit():
                raise _StartupError(f"invalid --listen URL {url!r}: expected ws://IP:PORT")
            if policy is None:
                policy = WsPolicy(ensure_ws_token(codex_home, args.ws_token_file), tuple(args.ws_allow_origin))
            bound = listeners.listen_ws(host.strip("[]"), int(port), router, policy)
        else:
            raise _StartupError(f"unsupported --listen URL {url!r}")
        print(f"listening on {bound}", file=sys.stderr, flush=True)
    from messages.internal import ListeningOn

    router.tell(ListeningOn(tuple(listeners.addresses)))
    daemon_control.write_pid_file(codex_home)
    return listeners


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
    import msgspec

    from messages.daemon import DAEMON_REQUESTS

    for params_type, result_type in DAEMON_REQUESTS.values():
        for struct in (params_type, result_type):
            schemas[struct.__name__] = msgspec.json.schema(struct)
    for name, schema in schemas.items():
        target = out / f"{name}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
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
