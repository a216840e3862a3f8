"""The cheap start-up path: lazy wire tables, the `initialize` twin types, feature actors started
on a thread while requests for them wait in order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from typing import Any

import msgspec
import pytest

import server
from messages import catalog, handshake, v1
from messages.decode import decode_params
from messages.jsonrpc import RpcError


def _shape(struct: type) -> list[tuple[str, str, Any, bool, str]]:
    # The field types named by class, so the twin's nested ClientInfo compares with v1's.
    return [
        (f.name, f.encode_name, f.default, f.required, repr(f.type).replace("messages.handshake.", "messages.v1."))
        for f in msgspec.structs.fields(struct)
    ]


def test_handshake_twins_match_v1() -> None:
    for twin, original in ((handshake.InitializeParams, v1.InitializeParams), (handshake.ClientInfo, v1.ClientInfo)):
        assert twin.__name__ == original.__name__
        assert _shape(twin) == _shape(original)
        config, expected = twin.__struct_config__, original.__struct_config__
        assert {k: getattr(config, k) for k in dir(config) if not k.startswith("_")} == {
            k: getattr(expected, k) for k in dir(expected) if not k.startswith("_")
        }
    assert msgspec.json.schema(handshake.InitializeParams) == msgspec.json.schema(v1.InitializeParams)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"clientInfo":{"name":"a","version":"1","title":"t"}}',
        b'{"clientInfo":5}',
        b'{"clientInfo":{"name":"a"}}',
        b'{"clientInfo":{"name":1,"version":"1"}}',
        b"[]",
        b'[{"name":"a","version":"1"}]',
        b"null",
    ],
)
def test_initialize_twin_decodes_and_fails_like_v1(raw: bytes) -> None:
    def outcome(params_type: Any) -> Any:
        try:
            return msgspec.to_builtins(decode_params(params_type, raw))
        except RpcError as error:
            return (error.code, error.message)

    assert outcome(catalog.request_params_type("initialize")) == outcome(v1.InitializeParams)


def test_lazy_tables_resolve_to_the_wire_types() -> None:
    assert catalog.CLIENT_REQUESTS["loginApiKey"] == (v1.LoginApiKeyParams, v1.LoginApiKeyResponse)
    assert tuple(catalog.CLIENT_REQUESTS) == catalog.CLIENT_METHODS
    assert catalog.request_params_type("getUserAgent") is None
    assert catalog.request_params_type("fuzzyFileSearch") is v1.FuzzyFileSearchParams
    with pytest.raises(AttributeError):
        catalog.NO_SUCH_TABLE  # noqa: B018 - the access itself is the test


def test_answering_initialize_imports_no_other_wire_module(tmp_path: Any) -> None:
    # The router alone (no feature actors): what `initialize` costs to import and decode.
    probe = (
        "import sys, pykka\n"
        "from actors.router import RouterActor, ROUTES\n"
        "from messages.decode import decode_params\n"
        "decode_params(ROUTES['initialize'].params, b'{\"clientInfo\":{\"name\":\"a\",\"version\":\"1\"}}')\n"
        "print(sorted(m for m in sys.modules if m.startswith('messages.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    loaded = json.loads(out.stdout.replace("'", '"'))
    assert not {"messages.v1", "messages.v2", "messages.common", "messages.events"} & set(loaded), loaded


def test_pending_ref_holds_messages_in_order_until_attached() -> None:
    seen: list[Any] = []

    class Sink:
        def tell(self, message: Any) -> None:
            seen.append(message)

    pending = server._PendingRef()
    pending.tell(1)
    pending.tell(2)
    assert seen == []
    pending.attach(Sink())
    assert seen == [1, 2]
    pending.tell(3)
    assert seen == [1, 2, 3]


def test_pending_ref_keeps_order_while_attaching_concurrently() -> None:
    seen: list[int] = []

    class Sink:
        def tell(self, message: int) -> None:
            seen.append(message)

    pending = server._PendingRef()
    sender = threading.Thread(target=lambda: [pending.tell(i) for i in range(20_000)])
    sender.start()
    pending.attach(Sink())
    sender.join()
    assert seen == list(range(20_000))


def test_feature_start_failure_calls_the_failure_hook(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from config import load_config

    monkeypatch.setattr(server, "FEATURE_ACTORS", (("system", "actors.system:NoSuchActor"),))
    failed = threading.Event()
    instance = server.Server(load_config(tmp_path))
    instance.start(on_failure=lambda _: failed.set())
    assert failed.wait(30)
    assert instance.features == {}


def test_requests_sent_with_initialize_are_all_answered_in_order(tmp_path: Any) -> None:
    # Pipelined before any feature actor can have started: each waits for its actor, none is lost.
    lines = [
        {"id": 0, "method": "initialize", "params": {"clientInfo": {"name": "t", "version": "1"}}},
        {"id": 1, "method": "getAuthStatus", "params": {}},
        {"id": 2, "method": "getUserSavedConfig"},
        {"id": 3, "method": "model/list", "params": {}},
        {"id": 4, "method": "listConversations", "params": {}},
        {"id": 5, "method": "loginApiKey", "params": {}},
        {"id": 6, "method": "getAuthStatus", "params": {}},
    ]
    payload = "".join(json.dumps(line) + "\n" for line in lines)
    env = dict(os.environ, CODEX_HOME=str(tmp_path))
    out = subprocess.run(
        [sys.executable, "-c", "import server; server.main()"],
        input=payload, capture_output=True, text=True, env=env, timeout=60,
    )
    replies = [json.loads(line) for line in out.stdout.splitlines()]
    assert sorted(reply["id"] for reply in replies) == list(range(7))
    by_id = {reply["id"]: reply for reply in replies}
    assert by_id[5]["error"]["message"] == "Invalid request: missing field `apiKey`"
    assert all("result" in by_id[i] for i in (0, 1, 2, 3, 4, 6))
    # The login actor answers its own requests in the order they were sent.
    login_order = [reply["id"] for reply in replies if reply["id"] in (1, 6)]
    assert login_order == [1, 6]
