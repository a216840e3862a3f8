"""Request params decode into typed Structs; bad params fail with 0.58's exact `Invalid request: …` texts."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from messages import common, v1, v2
from messages.catalog import CLIENT_REQUESTS
from messages.decode import canonical_uuid, decode_params
from messages.jsonrpc import INVALID_REQUEST, RpcError

UUID = "01a20b1c-2dc0-75c1-8229-94f813206ed2"

# (method, params JSON, message after "Invalid request: ") as the 0.58.0 binary answered each one.
OBSERVED_058: list[tuple[str, str, str]] = [
    ("loginApiKey", "{}", "missing field `apiKey`"),
    ("loginApiKey", "{\"apiKey\":5}", "invalid type: integer `5`, expected a string"),
    ("loginApiKey", "{\"apiKey\":1.5}", "invalid type: floating point `1.5`, expected a string"),
    ("loginApiKey", "{\"apiKey\":true}", "invalid type: boolean `true`, expected a string"),
    ("loginApiKey", "{\"apiKey\":null}", "invalid type: null, expected a string"),
    ("loginApiKey", "{\"apiKey\":{}}", "invalid type: map, expected a string"),
    ("loginApiKey", "{\"apiKey\":[]}", "invalid type: sequence, expected a string"),
    ("loginApiKey", "\"x\"", "invalid type: string \"x\", expected struct LoginApiKeyParams"),
    ("loginApiKey", "null", "missing field `params`"),
    ("loginApiKey", "[1]", "invalid type: integer `1`, expected a string"),
    ("getAuthStatus", "{\"includeToken\":\"x\"}", "invalid type: string \"x\", expected a boolean"),
    ("listConversations", "{\"pageSize\":-1}", "invalid value: integer `-1`, expected usize"),
    ("listConversations", "{\"pageSize\":\"2\"}", "invalid type: string \"2\", expected usize"),
    ("thread/list", "{\"limit\":1.5}", "invalid type: floating point `1.5`, expected u32"),
    ("thread/list", "{\"limit\":4294967296}", "invalid value: integer `4294967296`, expected u32"),
    (
        "setDefaultModel",
        "{\"reasoningEffort\":\"ultra\"}",
        "unknown variant `ultra`, expected one of `none`, `minimal`, `low`, `medium`, `high`",
    ),
    ("setDefaultModel", "{\"reasoningEffort\":5}", "invalid type: integer `5`, expected string or map"),
    ("account/login/start", "{\"type\":\"apikey\"}", "unknown variant `apikey`, expected `apiKey` or `chatgpt`"),
    ("account/login/start", "{}", "missing field `type`"),
    (
        "account/login/start",
        "\"chatgpt\"",
        "invalid type: string \"chatgpt\", expected internally tagged enum LoginAccountParams",
    ),
    ("account/login/start", "{\"type\":5}", "invalid value: integer `5`, expected variant index 0 <= i < 2"),
    ("account/login/start", "{\"type\":\"apiKey\"}", "missing field `apiKey`"),
    ("getConversationSummary", "{}", "data did not match any variant of untagged enum GetConversationSummaryParams"),
    (
        "getConversationSummary",
        "{\"conversationId\":\"abc\"}",
        "data did not match any variant of untagged enum GetConversationSummaryParams",
    ),
    (
        "getConversationSummary",
        "{\"rolloutPath\":5}",
        "data did not match any variant of untagged enum GetConversationSummaryParams",
    ),
    (
        "addConversationListener",
        "{\"conversationId\":\"abc\"}",
        "invalid length: expected length 32 for simple format, found 3",
    ),
    (
        "addConversationListener",
        "{\"conversationId\":\"zzz\"}",
        "invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-], found `z` at 1",
    ),
    (
        "addConversationListener",
        "{\"conversationId\":\"01234567-89ab-cdef-0123-456789abcdeX\"}",
        "invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-], found `X` at 36",
    ),
    (
        "addConversationListener",
        "{\"conversationId\":\"01234567-89ab-cdef-0123-456789abcdef0\"}",
        "invalid group length in group 4: expected 12, found 13",
    ),
    (
        "addConversationListener",
        "{\"conversationId\":\"01234567-89ab-cdef0-123-456789abcdef\"}",
        "invalid group length in group 2: expected 4, found 5",
    ),
    (
        "addConversationListener",
        "{\"conversationId\":\"0123456789ab-cdef-0123-456789abcdef\"}",
        "invalid group count: expected 5, found 4",
    ),
    (
        "addConversationListener",
        "{\"conversationId\":\"{01234567-89ab-cdef-0123-456789abcdef\"}",
        "invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-], found `{` at 1",
    ),
    (
        "addConversationListener",
        "{\"conversationId\":\"\\u00e9\"}",
        "invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-], found `\u00e9` at 1",
    ),
    ("addConversationListener", "{\"conversationId\":5}", "invalid type: integer `5`, expected a string"),
    (
        "removeConversationListener",
        "{\"subscriptionId\":\"zz\"}",
        "UUID parsing failed: invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-], found `z` at 1",  # noqa: E501
    ),
    ("removeConversationListener", "{\"subscriptionId\":5}", "invalid type: integer `5`, expected a UUID string"),
    (
        "cancelLoginChatGpt",
        "{\"loginId\":\"zzz\"}",
        "UUID parsing failed: invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-], found `z` at 1",  # noqa: E501
    ),
    ("gitDiffToRemote", "{\"cwd\":5}", "invalid type: integer `5`, expected path string"),
    ("getUserAgent", "{\"a\":1}", "invalid type: map, expected unit"),
    ("getUserAgent", "[]", "invalid type: sequence, expected unit"),
    ("getUserAgent", "\"s\"", "invalid type: string \"s\", expected unit"),
    ("getUserAgent", "0", "invalid type: integer `0`, expected unit"),
    ("model/list", "[]", "invalid length 0, expected struct ModelListParams with 2 elements"),
    (
        "turn/start",
        "{\"threadId\":\"x\",\"input\":[],\"sandboxPolicy\":{\"mode\":\"read-only\"}}",
        "unknown variant `read-only`, expected one of `dangerFullAccess`, `readOnly`, `workspaceWrite`",
    ),
    ("turn/start", "{\"threadId\":\"x\",\"input\":[{\"type\":\"image\",\"image_url\":\"u\"}]}", "missing field `url`"),
    (
        "turn/start",
        "{\"threadId\":\"x\",\"input\":[{\"type\":\"bogus\"}]}",
        "unknown variant `bogus`, expected one of `text`, `image`, `localImage`",
    ),
    ("turn/start", "{\"threadId\":\"x\",\"input\":\"x\"}", "invalid type: string \"x\", expected a sequence"),
    (
        "thread/start",
        "{\"sandbox\":\"read-only\"}",
        "unknown variant `read-only`, expected one of `readOnly`, `workspaceWrite`, `dangerFullAccess`",
    ),
    (
        "newConversation",
        "{\"approvalPolicy\":\"onRequest\"}",
        "unknown variant `onRequest`, expected one of `untrusted`, `on-failure`, `on-request`, `never`",
    ),
    ("newConversation", "{\"config\":5}", "invalid type: integer `5`, expected a map"),
    (
        "sendUserMessage",
        "{\"conversationId\":\"01234567-89ab-cdef-0123-456789abcdef\",\"items\":[{\"type\":\"text\"}]}",
        "missing field `data`",
    ),
    (
        "sendUserMessage",
        "{\"conversationId\":\"01234567-89ab-cdef-0123-456789abcdef\",\"items\":[{\"type\":\"text\",\"data\":{}}]}",
        "missing field `text`",
    ),
    (
        "sendUserTurn",
        "{\"conversationId\":\"01234567-89ab-cdef-0123-456789abcdef\",\"items\":[],\"cwd\":\"/\",\"approvalPolicy\":\"never\",\"sandboxPolicy\":{\"mode\":\"read-only\"},\"model\":\"m\",\"summary\":\"bogus\"}",  # noqa: E501
        "unknown variant `bogus`, expected one of `auto`, `concise`, `detailed`, `none`",
    ),
    (
        "execOneOffCommand",
        "{\"command\":[\"true\"],\"sandboxPolicy\":{\"mode\":\"workspace-write\",\"network_access\":5}}",
        "invalid type: integer `5`, expected a boolean",
    ),
    ("execOneOffCommand", "{\"command\":[\"true\"],\"timeoutMs\":-5}", "invalid value: integer `-5`, expected u64"),
    ("execOneOffCommand", "{\"command\":[5]}", "invalid type: integer `5`, expected a string"),
    ("fuzzyFileSearch", "{\"query\":\"a\",\"roots\":[5]}", "invalid type: integer `5`, expected a string"),
    ("initialize", "{}", "missing field `clientInfo`"),
    ("initialize", "{\"clientInfo\":{\"name\":\"x\"}}", "missing field `version`"),
    ("resumeConversation", "{\"history\":[{\"type\":\"message\",\"role\":\"user\"}]}", "missing field `content`"),
    (
        "feedback/upload",
        "{\"classification\":\"x\",\"includeLogs\":false,\"conversationId\":\"abc\"}",
        "invalid length: expected length 32 for simple format, found 3",
    ),
    (
        "turn/start",
        "{\"threadId\":\"x\",\"input\":[],\"sandboxPolicy\":{\"mode\":\"workspaceWrite\",\"writable_roots\":5}}",
        "invalid type: integer `5`, expected a sequence",
    ),
    (
        "sendUserTurn",
        "{\"conversationId\":\"01234567-89ab-cdef-0123-456789abcdef\",\"items\":[],\"cwd\":\"/\",\"approvalPolicy\":\"never\",\"sandboxPolicy\":{\"mode\":\"read-only\"},\"model\":\"m\",\"summary\":\"auto\",\"effort\":\"ultra\"}",  # noqa: E501
        "unknown variant `ultra`, expected one of `none`, `minimal`, `low`, `medium`, `high`",
    ),
    (
        "resumeConversation",
        "{\"history\":[{\"type\":\"message\",\"role\":\"user\",\"content\":[{\"type\":\"input_txt\",\"text\":\"x\"}]}]}",  # noqa: E501
        "unknown variant `input_txt`, expected one of `input_text`, `input_image`, `output_text`",
    ),
    ("thread/resume", "{\"threadId\":\"x\",\"history\":5}", "invalid type: integer `5`, expected a sequence"),
    ("listConversations", "{\"modelProviders\":[1]}", "invalid type: integer `1`, expected a string"),
    ("getConversationSummary", "\"x\"", "data did not match any variant of untagged enum GetConversationSummaryParams"),
    ("loginApiKey", "[\"k\",2]", "invalid length 2, expected 1 element in sequence"),
    ("thread/list", "{\"limit\":-1}", "invalid value: integer `-1`, expected u32"),
    ("execOneOffCommand", "{\"command\":\"ls\"}", "invalid type: string \"ls\", expected a sequence"),
    ("newConversation", "{\"sandbox\":5}", "invalid type: integer `5`, expected string or map"),
    ("feedback/upload", "{\"classification\":\"x\"}", "missing field `includeLogs`"),
    ("account/read", "{\"refreshToken\":\"no\"}", "invalid type: string \"no\", expected a boolean"),
]


def _error(method: str, raw: Any) -> str:
    params_type = CLIENT_REQUESTS[method][0]
    with pytest.raises(RpcError) as info:
        decode_params(params_type, raw)
    assert info.value.code == INVALID_REQUEST
    return info.value.message


@pytest.mark.parametrize(("method", "params", "message"), OBSERVED_058)
def test_decode_errors_match_0_58_from_bytes(method: str, params: str, message: str) -> None:
    assert _error(method, params.encode()) == "Invalid request: " + message


@pytest.mark.parametrize(("method", "params", "message"), OBSERVED_058)
def test_decode_errors_match_0_58_from_python_values(method: str, params: str, message: str) -> None:
    assert _error(method, json.loads(params)) == "Invalid request: " + message


def test_absent_params_for_a_struct_method() -> None:
    assert _error("loginApiKey", None) == "Invalid request: missing field `params`"
    assert _error("model/list", b"null") == "Invalid request: missing field `params`"


@pytest.mark.parametrize("raw", [None, b"null", b"{}", {}, msgspec.Raw(b"{}")])
def test_methods_without_params_accept_nothing_null_or_empty_object(raw: Any) -> None:
    assert decode_params(None, raw) is None


def test_unknown_fields_are_ignored() -> None:
    params = decode_params(v1.LoginApiKeyParams, b'{"apiKey":"sk-1","extra":{"deep":[1]}}')
    assert params == v1.LoginApiKeyParams(api_key="sk-1")


def test_raw_and_python_inputs_agree() -> None:
    text = b'{"query":"ab","roots":["/w"],"cancellationToken":"t"}'
    a = decode_params(v1.FuzzyFileSearchParams, text)
    b = decode_params(v1.FuzzyFileSearchParams, msgspec.Raw(text))
    c = decode_params(v1.FuzzyFileSearchParams, json.loads(text))
    assert a == b == c == v1.FuzzyFileSearchParams(query="ab", roots=["/w"], cancellation_token="t")


def test_struct_given_as_positional_array() -> None:
    assert decode_params(v1.LoginApiKeyParams, b'["sk-2"]') == v1.LoginApiKeyParams(api_key="sk-2")


@pytest.mark.parametrize(
    "form",
    [
        UUID,
        UUID.upper(),
        UUID.replace("-", ""),
        "{" + UUID + "}",
        "urn:uuid:" + UUID,
    ],
)
def test_uuid_fields_accept_every_form_and_come_out_canonical(form: str) -> None:
    params = decode_params(v1.InterruptConversationParams, {"conversationId": form})
    assert params.conversation_id == UUID
    listener = decode_params(v1.RemoveConversationListenerParams, {"subscriptionId": form})
    assert listener.subscription_id == UUID


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abc", "invalid length: expected length 32 for simple format, found 3"),
        ("01a20b1c-2dc0-75c1-8229", "invalid group count: expected 5, found 4"),
        ("01a20b1c-2dc0-75c1-8229-94f813206ed", "invalid group length in group 4: expected 12, found 11"),
        ("01a20b1c2-dc0-75c1-8229-94f813206ed2", "invalid group length in group 0: expected 8, found 9"),
        ("urn:uuid:zz", "invalid character: expected an optional prefix of `urn:uuid:` followed by "
         "[0-9a-fA-F-], found `z` at 10"),
    ],
)
def test_uuid_errors_read_as_the_uuid_crate(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=r"^" + __import__("re").escape(message) + r"$"):
        canonical_uuid(text)


def test_conversation_summary_is_an_untagged_union_where_rollout_path_wins() -> None:
    both = decode_params(v1.GetConversationSummaryParams, {"rolloutPath": "/r.jsonl", "conversationId": "bad"})
    assert (both.rollout_path, both.conversation_id) == ("/r.jsonl", None)
    odd_id = decode_params(v1.GetConversationSummaryParams, b'{"rolloutPath":"/r","conversationId":5}')
    assert (odd_id.rollout_path, odd_id.conversation_id) == ("/r", None)
    by_id = decode_params(v1.GetConversationSummaryParams, {"conversationId": UUID.upper()})
    assert (by_id.rollout_path, by_id.conversation_id) == (None, UUID)


# Representative params of every method, decoded and spot-checked.
REPRESENTATIVE: dict[str, tuple[dict[str, Any], Any]] = {
    "initialize": ({"clientInfo": {"name": "vscode", "title": "VS Code", "version": "1.0"}},
                   lambda p: p.client_info.name == "vscode" and p.client_info.title == "VS Code"),
    "thread/start": ({"model": "m", "approvalPolicy": "onRequest", "sandbox": "workspaceWrite",
                      "config": {"a": {"b": 1}}}, lambda p: p.sandbox == "workspaceWrite" and p.config["a"]["b"] == 1),
    "thread/resume": ({"threadId": UUID, "history": [{"type": "message", "role": "user", "content": [
        {"type": "input_text", "text": "hi"}]}]},
        lambda p: isinstance(p.history[0], common.MessageResponseItem) and p.history[0].content[0].text == "hi"),
    "thread/archive": ({"threadId": UUID}, lambda p: p.thread_id == UUID),
    "thread/list": ({"limit": 3, "cursor": "c", "modelProviders": []},
                    lambda p: p.limit == 3 and p.model_providers == []),
    "thread/compact": ({"threadId": "t"}, lambda p: p.thread_id == "t"),
    "turn/start": ({"threadId": "t", "input": [{"type": "text", "text": "hi"}, {"type": "image", "url": "u"},
                                               {"type": "localImage", "path": "/i.png"}],
                    "sandboxPolicy": {"mode": "workspaceWrite", "writable_roots": ["/w"], "network_access": True},
                    "effort": "high", "summary": "concise"},
                   lambda p: isinstance(p.input[2], v2.LocalImageUserInput) and p.sandbox_policy.network_access
                   and p.sandbox_policy.writable_roots == ["/w"]),
    "turn/interrupt": ({"threadId": "t", "turnId": "0"}, lambda p: p.turn_id == "0"),
    "model/list": ({}, lambda p: p.cursor is None and p.limit is None),
    "account/login/start": ({"type": "apiKey", "apiKey": "sk"}, lambda p: isinstance(p, v2.ApiKeyLoginAccountParams)
                            and p.api_key == "sk"),
    "account/login/cancel": ({"loginId": "l"}, lambda p: p.login_id == "l"),
    "feedback/upload": ({"classification": "bug", "reason": None, "conversationId": UUID, "includeLogs": True},
                        lambda p: p.include_logs is True and p.conversation_id == UUID),
    "account/read": ({}, lambda p: p.refresh_token is False),
    "newConversation": ({"model": "m", "approvalPolicy": "on-request", "sandbox": "read-only",
                         "includeApplyPatchTool": True}, lambda p: p.approval_policy == "on-request"),
    "getConversationSummary": ({"rolloutPath": "sessions/x.jsonl"}, lambda p: p.rollout_path == "sessions/x.jsonl"),
    "listConversations": ({"pageSize": 2}, lambda p: p.page_size == 2 and p.cursor is None),
    "resumeConversation": ({"conversationId": UUID, "overrides": {"model": "m"}},
                           lambda p: p.overrides.model == "m" and p.path is None),
    "archiveConversation": ({"conversationId": UUID, "rolloutPath": "/r"}, lambda p: p.rollout_path == "/r"),
    "sendUserMessage": ({"conversationId": UUID, "items": [{"type": "text", "data": {"text": "hi"}},
                                                           {"type": "localImage", "data": {"path": "/a.png"}}]},
                        lambda p: p.items[0].data.text == "hi" and isinstance(p.items[1], v1.LocalImageInputItem)),
    "sendUserTurn": ({"conversationId": UUID, "items": [], "cwd": "/w", "approvalPolicy": "never",
                      "sandboxPolicy": {"mode": "danger-full-access"}, "model": "m", "summary": "auto"},
                     lambda p: isinstance(p.sandbox_policy, common.DangerFullAccessSandboxPolicy) and p.effort is None),
    "interruptConversation": ({"conversationId": UUID}, lambda p: p.conversation_id == UUID),
    "addConversationListener": ({"conversationId": UUID, "experimentalRawEvents": True},
                                lambda p: p.experimental_raw_events is True),
    "removeConversationListener": ({"subscriptionId": UUID}, lambda p: p.subscription_id == UUID),
    "gitDiffToRemote": ({"cwd": "/w"}, lambda p: p.cwd == "/w"),
    "loginApiKey": ({"apiKey": ""}, lambda p: p.api_key == ""),
    "cancelLoginChatGpt": ({"loginId": UUID}, lambda p: p.login_id == UUID),
    "getAuthStatus": ({"includeToken": True}, lambda p: p.include_token is True and p.refresh_token is None),
    "setDefaultModel": ({"model": None, "reasoningEffort": "minimal"}, lambda p: p.reasoning_effort == "minimal"),
    "fuzzyFileSearch": ({"query": "q", "roots": ["/a", "/b"]}, lambda p: p.cancellation_token is None),
    "execOneOffCommand": ({"command": ["ls"], "timeoutMs": 1000,
                           "sandboxPolicy": {"mode": "workspace-write", "writable_roots": ["/tmp/x"]}},
                          lambda p: p.timeout_ms == 1000 and p.sandbox_policy.writable_roots == ["/tmp/x"]),
    "account/login/complete": ({"loginId": "l", "callbackUrl": "http://localhost:1455/auth/callback?code=c"},
                               lambda p: p.callback_url.endswith("code=c")),
}


def test_every_method_with_params_has_a_representative_case() -> None:
    with_params = {m for m, (p, _) in CLIENT_REQUESTS.items() if p is not None}
    assert with_params == set(REPRESENTATIVE)


@pytest.mark.parametrize("method", sorted(REPRESENTATIVE))
def test_representative_params_decode(method: str) -> None:
    params, check = REPRESENTATIVE[method]
    decoded = decode_params(CLIENT_REQUESTS[method][0], json.dumps(params).encode())
    assert check(decoded)
    assert decode_params(CLIENT_REQUESTS[method][0], params) == decoded

