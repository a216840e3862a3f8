"""The transport and handshake, as an IDE sees them over stdio (PROTOCOL.md §1–3, DECISIONS wire table)."""

from __future__ import annotations

import json

import pytest
from pytest_codex_app_server import JsonRpcError

UNKNOWN_METHOD = (
    "Invalid request: unknown variant `foo/bar`, expected one of `initialize`, `thread/start`, `thread/resume`, "
    "`thread/archive`, `thread/list`, `thread/compact`, `turn/start`, `turn/interrupt`, `model/list`, "
    "`account/login/start`, `account/login/cancel`, `account/logout`, `account/rateLimits/read`, `feedback/upload`, "
    "`account/read`, `newConversation`, `getConversationSummary`, `listConversations`, `resumeConversation`, "
    "`archiveConversation`, `sendUserMessage`, `sendUserTurn`, `interruptConversation`, `addConversationListener`, "
    "`removeConversationListener`, `gitDiffToRemote`, `loginApiKey`, `loginChatGpt`, `cancelLoginChatGpt`, "
    "`logoutChatGpt`, `getAuthStatus`, `getUserSavedConfig`, `setDefaultModel`, `getUserAgent`, `userInfo`, "
    "`fuzzyFileSearch`, `execOneOffCommand`, `account/login/complete`, `daemon/status`"
)


def test_initialize_sets_the_user_agent_suffix(codex_app_server_factory):
    client = codex_app_server_factory(initialize=False)
    result = client.request("initialize", {"clientInfo": {"name": "probe", "version": "0.0.1", "title": None}})
    assert result["userAgent"].startswith("codex_cli_rs/0.58.0 (")
    assert result["userAgent"].endswith(" (probe; 0.0.1)")
    assert client.request("getUserAgent") == result


def test_requests_before_initialize_are_refused_after_decoding(codex_app_server_factory):
    client = codex_app_server_factory(initialize=False)
    with pytest.raises(JsonRpcError) as refused:
        client.request("getUserAgent")
    assert (refused.value.code, refused.value.message) == (-32600, "Not initialized")
    # Decoding comes first: a bad request is a decode error even before initialize.
    with pytest.raises(JsonRpcError) as undecodable:
        client.request("loginApiKey", {})
    assert undecodable.value.message == "Invalid request: missing field `apiKey`"
    client.notify("initialized")
    client.initialize()
    with pytest.raises(JsonRpcError) as again:
        client.initialize()
    assert (again.value.code, again.value.message) == (-32600, "Already initialized")


def test_unknown_method_lists_every_method(codex_app_server):
    with pytest.raises(JsonRpcError) as error:
        codex_app_server.request("foo/bar", {})
    assert (error.value.code, error.value.message) == (-32600, UNKNOWN_METHOD)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"a": 1}, "Invalid request: invalid type: map, expected unit"),
        ([], "Invalid request: invalid type: sequence, expected unit"),
        ("s", 'Invalid request: invalid type: string "s", expected unit'),
        (0, "Invalid request: invalid type: integer `0`, expected unit"),
    ],
)
def test_no_param_methods_reject_non_empty_params(codex_app_server, params, message):
    with pytest.raises(JsonRpcError) as error:
        codex_app_server.request("getUserAgent", params)
    assert error.value.message == message
    assert codex_app_server.request("getUserAgent", {})["userAgent"]


def test_struct_methods_require_params(codex_app_server):
    for params in (None,):
        with pytest.raises(JsonRpcError) as error:
            codex_app_server.request("model/list", params)
        assert error.value.message == "Invalid request: missing field `params`"
    codex_app_server.send_raw('{"id":7,"method":"model/list","params":null}\n')
    with pytest.raises(JsonRpcError) as error:
        codex_app_server.wait_response(7)
    assert error.value.message == "Invalid request: missing field `params`"


def test_string_ids_are_echoed_with_their_type(codex_app_server):
    codex_app_server.send_raw('{"jsonrpc":"1.0","id":"abc","method":"getUserAgent"}\r\n')
    assert codex_app_server.wait_response("abc")["userAgent"]
    line = next(line for line in codex_app_server.lines if '"abc"' in line)
    assert line.startswith('{"id":"abc","result":{"userAgent":')
    assert "jsonrpc" not in line


@pytest.mark.parametrize(
    ("line", "code", "prefix"),
    [
        (b"{not json\n", -32700, "Parse error: "),
        (b'{"id":1,"method":"getUserAgent","x":"\xff\xfe"}\n', -32700, "Parse error: "),
        (b"[1,2]\n", -32600, "Invalid request: "),
        (b'{"id":1.5,"method":"getUserAgent"}\n', -32600, "Invalid request: "),
        (b'{"id":null,"method":"getUserAgent"}\n', -32600, "Invalid request: "),
    ],
)
def test_garbage_gets_an_error_with_null_id_and_the_server_goes_on(codex_app_server, line, code, prefix):
    codex_app_server.send_raw(line)
    assert codex_app_server.request("getUserAgent")["userAgent"]
    errors = [json.loads(text) for text in codex_app_server.lines if '"error"' in text]
    assert len(errors) == 1
    assert errors[0]["id"] is None
    assert errors[0]["error"]["code"] == code
    assert errors[0]["error"]["message"].startswith(prefix)
    assert list(errors[0]) == ["error", "id"]


def test_blank_lines_and_notifications_get_no_reply(codex_app_server):
    codex_app_server.send_raw(b"\n   \n\t\n")
    codex_app_server.notify("initialized")
    codex_app_server.notify("somethingElse", {"x": 1})
    codex_app_server.send_raw('{"id":99,"result":{}}\n')
    codex_app_server.request("getUserAgent")
    assert len(codex_app_server.lines) == 2  # initialize's reply and getUserAgent's


def test_a_huge_line_and_a_flood_of_garbage_never_stop_the_server(codex_app_server):
    huge = b'{"id":1,"method":"getUserAgent","params":{},"pad":"' + b"x" * 10_000_000 + b'"}\n'
    codex_app_server.send_raw(huge)
    codex_app_server.send_raw(b"garbage\n" * 10_000)
    assert codex_app_server.request("getUserAgent", timeout=60)["userAgent"]
    parse_errors = sum(1 for line in codex_app_server.lines if '"code":-32700' in line)
    assert parse_errors == 10_000
    for line in codex_app_server.lines:
        json.loads(line)  # nothing but protocol on stdout


def test_eof_on_stdin_exits_zero(codex_app_server):
    codex_app_server.request("getUserAgent")
    assert codex_app_server.close() == 0
