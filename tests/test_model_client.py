"""The model client against the scripted model, on both wires."""

from __future__ import annotations

import calendar
import json
import socket
import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest

from actors import model_client
from actors.model_client import (
    HIGH_DEMAND,
    Completed,
    ItemAdded,
    ItemDone,
    ModelCancelled,
    ModelError,
    ModelRequest,
    RateLimits,
    ReasoningContentDelta,
    ReasoningSummaryDelta,
    Reconnecting,
    StreamCancel,
    TextDelta,
    parse_rate_limits,
    stream_model,
)
from actors.sse import SseParser
from codex_mock_model import MockModel
from messages.internal import AuthSnapshot

USER = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi there"}]}
SHELL_TOOL = {"type": "function", "name": "shell", "description": "Runs a command.", "strict": False,
              "parameters": {"type": "object", "properties": {"command": {"type": "array"}},
                             "required": ["command"], "additionalProperties": False}}
PATCH_TOOL = {"type": "custom", "name": "apply_patch", "description": "Edits files.",
              "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"}}


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model_client, "INITIAL_BACKOFF_S", 0.01)


def provider(model: MockModel, wire: str = "responses", **over: Any) -> SimpleNamespace:
    fields = dict(name="mock", base_url=model.base_url, env_key=None, wire_api=wire, query_params=None,
                  http_headers=None, env_http_headers=None, request_max_retries=0, stream_max_retries=0,
                  stream_idle_timeout_ms=10_000, requires_openai_auth=False)
    fields.update(over)
    return SimpleNamespace(**fields)


def request(prov: SimpleNamespace, **over: Any) -> ModelRequest:
    fields: dict[str, Any] = dict(provider=prov, model="mock-model", instructions="Be brief.", input=[USER],
                                  tools=[SHELL_TOOL, PATCH_TOOL], conversation_id="conv-1", user_agent="probe/1.0")
    fields.update(over)
    return ModelRequest(**fields)


def collect(req: ModelRequest, auth: Any = None, cancel: StreamCancel | None = None) -> list[Any]:
    return list(stream_model(req, auth, cancel or StreamCancel()))


def of(events: list[Any], kind: type) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


# -- Responses wire ---------------------------------------------------------------------------------


def test_responses_streamed_text_headers_and_body(model: MockModel) -> None:
    model.enqueue({"type": "text", "text": "Hello there, friend!", "deltas": 3,
                   "usage": {"input_tokens": 7, "cached_input_tokens": 2, "output_tokens": 3}})
    events = collect(request(provider(model)))
    assert isinstance(events[0], RateLimits)
    assert events[0].snapshot == {"primary": None, "secondary": None}
    assert isinstance(events[1], ItemAdded) and events[1].item["type"] == "message"
    assert "".join(e.text for e in of(events, TextDelta)) == "Hello there, friend!"
    assert len(of(events, TextDelta)) == 3
    done = of(events, ItemDone)
    assert done[0].item["content"][0]["text"] == "Hello there, friend!"
    assert isinstance(events[-1], Completed)
    assert events[-1].response_id.startswith("resp_")
    assert events[-1].token_usage == {"input_tokens": 7, "cached_input_tokens": 2, "output_tokens": 3,
                                      "reasoning_output_tokens": 0, "total_tokens": 10}

    (sent,) = model.requests()
    assert sent["path"] == "/v1/responses"
    headers = sent["headers"]
    assert "authorization" not in headers
    assert headers["originator"] == "codex_cli_rs"
    assert headers["user-agent"] == "probe/1.0"
    assert headers["session_id"] == headers["conversation_id"] == "conv-1"
    assert headers["accept"] == "text/event-stream"
    assert headers["content-type"] == "application/json"
    assert headers.get("accept-encoding", "identity") == "identity"  # never a compressed stream
    body = sent["body"]
    assert list(body) == ["model", "instructions", "input", "tools", "tool_choice", "parallel_tool_calls",
                          "reasoning", "store", "stream", "include", "prompt_cache_key"]
    assert body["input"] == [USER] and body["tools"] == [SHELL_TOOL, PATCH_TOOL]
    assert (body["tool_choice"], body["parallel_tool_calls"], body["reasoning"], body["store"], body["stream"],
            body["include"], body["prompt_cache_key"]) == ("auto", False, None, False, True, [], "conv-1")


def test_responses_reasoning_and_tool_call(model: MockModel) -> None:
    model.enqueue({"type": "reasoning", "text": "Let me think", "deltas": 2, "answer": "Done"},
                  {"type": "shell", "command": ["python3", "-c", "print(42)"], "call_id": "call-1"})
    events = collect(request(provider(model), reasoning={"summary": "auto"}, include=["reasoning.encrypted_content"]))
    assert [e.text for e in of(events, ReasoningSummaryDelta)] == ["Let me", " think"]
    assert [e.item["type"] for e in of(events, ItemDone)] == ["reasoning", "message"]
    body = model.requests()[0]["body"]
    assert body["reasoning"] == {"summary": "auto"} and body["include"] == ["reasoning.encrypted_content"]

    events = collect(request(provider(model)))
    (call,) = of(events, ItemDone)
    assert call.item["type"] == "function_call" and call.item["name"] == "shell"
    assert call.item["call_id"] == "call-1"
    assert json.loads(call.item["arguments"]) == {"command": ["python3", "-c", "print(42)"]}
    assert isinstance(events[-1], Completed)


def test_rate_limit_headers(model: MockModel) -> None:
    model.enqueue({"type": "text", "text": "ok", "rate_limit_headers": {
        "x-codex-primary-used-percent": "12.5", "x-codex-primary-window-minutes": "300",
        "x-codex-primary-reset-at": "1700000000", "x-codex-secondary-used-percent": "0"}})
    (limits,) = of(collect(request(provider(model))), RateLimits)
    assert limits.snapshot == {"primary": {"used_percent": 12.5, "window_minutes": 300, "resets_at": 1700000000},
                               "secondary": None}
    assert parse_rate_limits({"x-codex-secondary-used-percent": "7", "x-codex-secondary-reset-at": "x"}) == {
        "primary": None, "secondary": {"used_percent": 7.0, "window_minutes": None, "resets_at": None}}


@pytest.mark.parametrize("wire", ["responses", "chat"])
def test_http_error_then_request_retry_succeeds(model: MockModel, wire: str) -> None:
    model.enqueue({"type": "http_error", "status": 503, "body": "busy"}, {"type": "text", "text": "recovered"})
    events = collect(request(provider(model, wire, request_max_retries=1)))
    assert of(events, Reconnecting) == []
    assert of(events, ItemDone)[-1].item["content"][0]["text"] == "recovered"
    assert len(model.requests()) == 2


@pytest.mark.parametrize(("wire", "status", "body", "message"), [
    ("responses", 400, "bad input", "unexpected status 400 Bad Request: bad input"),
    ("responses", 500, "oops", HIGH_DEMAND),
    ("responses", 503, "x", "exceeded retry limit, last status: 503 Service Unavailable"),
    ("responses", 429, "slow", "exceeded retry limit, last status: 429 Too Many Requests"),
    ("responses", 429, {"error": {"type": "usage_limit_reached"}}, "You've hit your usage limit. Try again later."),
    ("chat", 500, "x", "exceeded retry limit, last status: 500 Internal Server Error"),
    ("chat", 401, "nope", "unexpected status 401 Unauthorized: nope"),
])
def test_error_messages(model: MockModel, wire: str, status: int, body: Any, message: str) -> None:
    model.enqueue({"type": "http_error", "status": status, "body": body})
    with pytest.raises(ModelError) as info:
        collect(request(provider(model, wire)))
    assert info.value.message == message
    assert info.value.status == status


def test_request_id_from_cf_ray(model: MockModel) -> None:
    model.enqueue({"type": "http_error", "status": 503, "body": "x", "headers": {"cf-ray": "ray-1"}})
    with pytest.raises(ModelError, match=r"^exceeded retry limit, last status: 503 Service Unavailable, "
                                         r"request id: ray-1$"):
        collect(request(provider(model)))


def test_cut_stream_fails_then_stream_retry(model: MockModel) -> None:
    model.enqueue({"type": "cut", "text": "partial text", "deltas": 4, "after_deltas": 2})
    with pytest.raises(ModelError) as info:
        collect(request(provider(model)))
    assert info.value.message == "stream disconnected before completion: stream closed before response.completed"
    assert info.value.retryable

    model.enqueue({"type": "cut", "after_deltas": 1}, {"type": "http_error", "status": 400, "body": "b"},
                  {"type": "text", "text": "whole"})
    events = collect(request(provider(model, stream_max_retries=2)))
    retries = of(events, Reconnecting)
    assert [(r.attempt, r.max_attempts) for r in retries] == [(1, 2), (2, 2)]
    assert retries[0].message == "Reconnecting... 1/2"
    assert retries[1].error == "unexpected status 400 Bad Request: b"
    assert of(events, ItemDone)[-1].item["content"][0]["text"] == "whole"
    assert isinstance(events[-1], Completed)


def test_response_failed(model: MockModel) -> None:
    model.enqueue({"type": "failed", "message": "Rate limit reached. Please try again in 20ms.",
                   "code": "rate_limit_exceeded"})
    with pytest.raises(ModelError) as info:
        collect(request(provider(model)))
    assert info.value.message == "stream disconnected before completion: Rate limit reached. Please try again in 20ms."
    assert info.value.delay == pytest.approx(0.02)
    model.enqueue({"type": "failed", "message": "too long", "code": "context_length_exceeded"})
    with pytest.raises(ModelError) as info:
        collect(request(provider(model, stream_max_retries=3)))
    assert not info.value.retryable
    assert info.value.message.startswith("Codex ran out of room in the model's context window.")


def test_connection_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    prov = SimpleNamespace(base_url=f"http://127.0.0.1:{port}/v1", wire_api="responses", request_max_retries=1,
                           stream_max_retries=0)
    with pytest.raises(ModelError) as info:
        collect(request(prov))  # type: ignore[arg-type]
    assert info.value.message == (f"Connection failed: error sending request for url "
                                  f"(http://127.0.0.1:{port}/v1/responses)")


# -- credentials and provider settings ----------------------------------------------------------------


def test_provider_headers_query_and_env_key(model: MockModel, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOCK_KEY", "k-123")
    monkeypatch.setenv("MOCK_H2", "two")
    monkeypatch.delenv("MOCK_H3", raising=False)
    prov = provider(model, env_key="MOCK_KEY", query_params={"api-version": "2025", "b": "x y"},
                    http_headers={"X-One": "1"}, env_http_headers={"X-Two": "MOCK_H2", "X-Three": "MOCK_H3"})
    model.enqueue({"type": "text", "text": "ok"})
    login = AuthSnapshot(mode="apikey", api_key="sk-login")
    collect(request(prov), auth=lambda refresh: login)
    (sent,) = model.requests()
    assert sent["query"] == "api-version=2025&b=x%20y"
    assert sent["headers"]["authorization"] == "Bearer k-123"  # the provider's env_key wins
    assert sent["headers"]["x-one"] == "1" and sent["headers"]["x-two"] == "two"
    assert "x-three" not in sent["headers"]


def test_missing_env_key(model: MockModel, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOCK_KEY_MISSING", raising=False)
    prov = provider(model, env_key="MOCK_KEY_MISSING", env_key_instructions="Set it please.", stream_max_retries=3)
    with pytest.raises(ModelError) as info:
        collect(request(prov))
    assert info.value.message == "Missing environment variable: `MOCK_KEY_MISSING`. Set it please."
    assert model.requests() == []


def test_401_refreshes_once_and_retries(model: MockModel) -> None:
    calls: list[bool] = []
    tokens = iter(["old-token", "new-token"])

    def auth(refresh: bool) -> AuthSnapshot:
        calls.append(refresh)
        return AuthSnapshot(mode="chatgpt", access_token=next(tokens), account_id="acct-1")

    model.enqueue({"type": "http_error", "status": 401, "body": "expired"}, {"type": "text", "text": "welcome back"})
    events = collect(request(provider(model)), auth=auth)
    assert calls == [False, True]
    first, second = model.requests()
    assert first["headers"]["authorization"] == "Bearer old-token"
    assert second["headers"]["authorization"] == "Bearer new-token"
    assert second["headers"]["chatgpt-account-id"] == "acct-1"
    assert of(events, ItemDone)[-1].item["content"][0]["text"] == "welcome back"


def test_401_with_unchanged_api_key_is_not_resent(model: MockModel) -> None:
    key = AuthSnapshot(mode="apikey", api_key="sk-test")
    model.enqueue({"type": "http_error", "status": 401, "body": "no"})
    with pytest.raises(ModelError, match="^exceeded retry limit, last status: 401 Unauthorized$"):
        collect(request(provider(model)), auth=lambda refresh: key)
    (sent,) = model.requests()
    assert sent["headers"]["authorization"] == "Bearer sk-test"
    assert "chatgpt-account-id" not in sent["headers"]


# -- cancellation and timeouts --------------------------------------------------------------------------


@pytest.mark.parametrize("before_headers", [False, True])
def test_cancel_wakes_a_stalled_stream(model: MockModel, before_headers: bool) -> None:
    model.enqueue({"type": "stall", "text": "abcdef", "deltas": 3, "after_deltas": 1,
                   "before_headers": before_headers})
    cancel = StreamCancel()
    seen: list[Any] = []
    outcome: dict[str, BaseException] = {}

    def worker() -> None:
        try:
            for event in stream_model(request(provider(model, stream_max_retries=3)), None, cancel):
                seen.append(event)
        except BaseException as err:  # noqa: BLE001 - the test inspects whatever ended the stream
            outcome["error"] = err

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    model.wait_for_stall()
    if not before_headers:
        # The mock has sent its first delta; let the reader take it so it is blocked in the next read.
        deadline = time.monotonic() + 5
        while not of(seen, TextDelta) and time.monotonic() < deadline:
            time.sleep(0.01)
    cancel.cancel()
    thread.join(5)  # the idle timeout is 10 s: finishing here means the cancel woke the read
    assert not thread.is_alive()
    assert isinstance(outcome.get("error"), ModelCancelled)
    assert of(seen, Reconnecting) == []
    assert [e.text for e in of(seen, TextDelta)] == ([] if before_headers else ["ab"])
    assert len(model.requests()) == 1


def test_cancel_before_start_sends_nothing(model: MockModel) -> None:
    cancel = StreamCancel()
    cancel.cancel()
    with pytest.raises(ModelCancelled):
        collect(request(provider(model)), cancel=cancel)
    assert model.requests() == []


def test_idle_timeout(model: MockModel) -> None:
    model.enqueue({"type": "stall", "text": "abc", "after_deltas": 1})
    with pytest.raises(ModelError) as info:
        collect(request(provider(model, stream_idle_timeout_ms=300)))
    assert info.value.message == "stream disconnected before completion: idle timeout waiting for SSE"
    model.release()


# -- Chat wire ------------------------------------------------------------------------------------------


def test_chat_text_is_aggregated_and_body_converted(model: MockModel) -> None:
    history = [
        {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "dev"}]},
        USER,
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "hm"}], "content": None,
         "encrypted_content": None},
        {"type": "function_call", "name": "shell", "arguments": "{\"command\":[\"ls\"]}", "call_id": "call-1"},
        {"type": "function_call_output", "call_id": "call-1", "output": "{\"output\":\"a\\n\"}"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Listed."}]},
    ]
    model.enqueue({"type": "text", "text": "Hello", "deltas": 3, "usage": {"input_tokens": 4, "output_tokens": 1}})
    events = collect(request(provider(model, "chat"), input=history))
    assert of(events, TextDelta) == [] and of(events, RateLimits) == []
    assert [e.item for e in of(events, ItemDone)] == [
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hello"}]}]
    assert events[-1] == Completed("", None)

    (sent,) = model.requests()
    assert sent["path"] == "/v1/chat/completions"
    assert "session_id" not in sent["headers"] and "conversation_id" not in sent["headers"]
    assert sent["headers"]["originator"] == "codex_cli_rs"
    body = sent["body"]
    assert list(body) == ["model", "messages", "stream", "tools"]
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "developer", "content": "dev"},
        {"role": "user", "content": "hi there"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call-1", "type": "function",
             "function": {"name": "shell", "arguments": "{\"command\":[\"ls\"]}"}}]},
        {"role": "tool", "tool_call_id": "call-1", "content": "{\"output\":\"a\\n\"}"},
        {"role": "assistant", "content": "Listed."},
    ]
    assert body["tools"] == [{"type": "function", "function": {
        "name": "shell", "description": "Runs a command.", "strict": False, "parameters": SHELL_TOOL["parameters"]}}]


def test_chat_reasoning_tool_call_and_streaming_mode(model: MockModel) -> None:
    model.enqueue({"type": "reasoning", "text": "thinking", "deltas": 2, "answer": "yes"},
                  {"type": "update_plan", "plan": [{"step": "s", "status": "pending"}], "call_id": "call-7"},
                  {"type": "text", "text": "abc", "deltas": 3})
    events = collect(request(provider(model, "chat")))
    items = [e.item for e in of(events, ItemDone)]
    assert items[0] == {"type": "reasoning", "summary": [],
                        "content": [{"type": "reasoning_text", "text": "thinking"}], "encrypted_content": None}
    assert items[1]["content"][0]["text"] == "yes"

    (call,) = of(collect(request(provider(model, "chat"))), ItemDone)
    assert call.item["type"] == "function_call" and call.item["call_id"] == "call-7"
    assert json.loads(call.item["arguments"]) == {"plan": [{"step": "s", "status": "pending"}]}

    events = collect(request(provider(model, "chat"), chat_aggregate=False))
    assert [e.text for e in of(events, TextDelta)] == ["a", "b", "c"]
    assert of(events, ReasoningContentDelta) == []


def test_chat_cut_stream_counts_as_complete(model: MockModel) -> None:
    model.enqueue({"type": "cut", "text": "abcd", "deltas": 4, "after_deltas": 2})
    events = collect(request(provider(model, "chat", stream_max_retries=1)))
    assert of(events, Reconnecting) == []
    assert of(events, ItemDone)[0].item["content"][0]["text"] == "ab"


# -- the SSE parser ---------------------------------------------------------------------------------------


def test_sse_parser_handles_split_chunks_crlf_comments_and_multiline() -> None:
    parser = SseParser()
    stream = (b": hello\r\nevent: a\r\ndata: one\r\n\r\ndata:two\ndata: three\n\n"
              b"id: 7\ndata: \xc3\xa9t\xc3\xa9\n\ndata: tail")
    events = []
    for i in range(len(stream)):
        events.extend(parser.feed(stream[i:i + 1]))
    assert [(e.event, e.data, e.id) for e in events] == [
        ("a", "one", None), ("message", "two\nthree", None), ("message", "été", "7")]


def test_config_provider_info_is_accepted(model: MockModel) -> None:
    from config.providers import ModelProviderInfo

    prov = ModelProviderInfo(name="mock", base_url=model.base_url, wire_api="responses", request_max_retries=0,
                             stream_max_retries=1)
    model.enqueue({"type": "cut"}, {"type": "text", "text": "fine"})
    events = collect(request(prov))  # type: ignore[arg-type]
    assert [r.message for r in of(events, Reconnecting)] == ["Reconnecting... 1/1"]
    assert of(events, ItemDone)[-1].item["content"][0]["text"] == "fine"


# -- usage limits: 0.58's texts by plan and reset time (each checked against the binary) ---------------


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


NOW = 1_795_568_617  # 2026-11-25 01:03:37 UTC
HIT = "You've hit your usage limit."
PLUS = "Upgrade to Pro (https://openai.com/chatgpt/pricing), visit https://chatgpt.com/codex/settings/usage to " \
    "purchase more credits"
ADMIN = "To get more access now, send a request to your admin"


@pytest.mark.parametrize(("plan", "resets_at", "message"), [
    (None, None, "You've hit your usage limit. Try again later."),
    ("plus", None, f"You've hit your usage limit. {PLUS} or try again later."),
    ("plus", NOW + 3600, f"You've hit your usage limit. {PLUS} or try again at 2:03 AM."),
    ("free", NOW + 3600, f"{HIT} Upgrade to Plus to continue using Codex (https://openai.com/chatgpt/pricing)."),
    ("pro", NOW + 3 * 86400, f"{HIT} Visit https://chatgpt.com/codex/settings/usage to purchase more credits or try "
                             "again at Nov 28th, 2026 1:03 AM."),
    ("team", None, f"{HIT} {ADMIN} or try again later."),
    ("business", NOW + 60, f"{HIT} {ADMIN} or try again at 1:04 AM."),
    ("enterprise", NOW + 40 * 86400, "You've hit your usage limit. Try again at Jan 4th, 2027 1:03 AM."),
    ("edu", None, "You've hit your usage limit. Try again later."),
    ("weird", NOW + 7200, "You've hit your usage limit. Try again at 3:03 AM."),
    (None, calendar.timegm((2026, 11, 10, 23, 3, 0)), f"{HIT} Try again at Nov 10th, 2026 11:03 PM."),  # past
    (None, calendar.timegm((2026, 12, 1, 13, 3, 0)), f"{HIT} Try again at Dec 1st, 2026 1:03 PM."),
    (None, calendar.timegm((2026, 12, 2, 22, 3, 0)), f"{HIT} Try again at Dec 2nd, 2026 10:03 PM."),
    (None, calendar.timegm((2026, 12, 11, 0, 0, 0)), f"{HIT} Try again at Dec 11th, 2026 12:00 AM."),
    (None, calendar.timegm((2026, 12, 12, 12, 0, 0)), f"{HIT} Try again at Dec 12th, 2026 12:00 PM."),
    (None, calendar.timegm((2026, 12, 13, 23, 59, 0)), f"{HIT} Try again at Dec 13th, 2026 11:59 PM."),
    (None, calendar.timegm((2026, 12, 21, 9, 5, 0)), f"{HIT} Try again at Dec 21st, 2026 9:05 AM."),
    (None, calendar.timegm((2026, 12, 23, 11, 0, 0)), f"{HIT} Try again at Dec 23rd, 2026 11:00 AM."),
    (None, 10**20, "You've hit your usage limit. Try again later."),  # out of any calendar
])  # fmt: skip
def test_usage_limit_texts(utc: Any, plan: str | None, resets_at: int | None, message: str) -> None:
    assert model_client.usage_limit_message(plan, resets_at, now=NOW) == message


def test_usage_limit_plan_from_the_body_else_the_login_and_a_strict_body(model: MockModel, utc: Any) -> None:
    pro_login = AuthSnapshot(mode="chatgpt", access_token="token", account_id="acc", plan_type="pro")
    for body, auth, expected in [
        ({"plan_type": "plus"}, pro_login, f"You've hit your usage limit. {PLUS} or try again later."),
        ({}, pro_login, "You've hit your usage limit. Visit https://chatgpt.com/codex/settings/usage to purchase "
                        "more credits or try again later."),
        ({}, None, "You've hit your usage limit. Try again later."),
        # A field of the wrong type: 0.58 no longer reads it as a usage limit, just another 429.
        ({"resets_at": "soon"}, pro_login, "exceeded retry limit, last status: 429 Too Many Requests"),
        ({"plan_type": 5}, None, "exceeded retry limit, last status: 429 Too Many Requests"),
    ]:
        model.enqueue({"type": "http_error", "status": 429, "body": {"error": {"type": "usage_limit_reached", **body}}})
        with pytest.raises(ModelError) as info:
            collect(request(provider(model)), auth=(lambda _refresh, a=auth: a) if auth else None)
        assert info.value.message == expected, body
