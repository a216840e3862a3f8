"""The model client: one streamed model request over the Responses or Chat Completions wire.

Used from a conversation's turn worker thread (never inside an actor): `stream_model` is a
generator of `ModelEvent`s that blocks on the network. It owns what 0.58 does per request:
headers and body (CONVERSATIONS.md §4.2–4.3), credentials (provider `env_key`, else the login
actor's snapshot; one refresh after a 401), provider `query_params` / `http_headers` /
`env_http_headers`, request retries with backoff, stream retries (announced with `Reconnecting`,
which the turn shows as `stream_error`), the idle timeout, rate-limit headers, and the error texts
of §4.6. Chat streams are converted into Responses-style items, so the turn sees one item shape.

`StreamCancel.cancel()` wakes a worker blocked anywhere in a request — connecting, waiting for
headers, reading the stream, or sleeping between retries — by shutting the sockets down
(closing a `requests` response from another thread does not wake a blocked read).
"""

from __future__ import annotations

import datetime
import http
import logging
import os
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec

from actors.sse import SseParser
from messages.internal import AuthSnapshot

log = logging.getLogger(__name__)

OPENAI_BASE_URL = "https://api.openai.com/v1"
CHATGPT_BASE_URL = "https://chatgpt.com/backend-api/codex"
INITIAL_BACKOFF_S = 0.2  # first retry delay; doubles each attempt, ±10% jitter
DEFAULT_REQUEST_MAX_RETRIES = 4
DEFAULT_STREAM_MAX_RETRIES = 5
DEFAULT_STREAM_IDLE_TIMEOUT_MS = 300_000

HIGH_DEMAND = "We're currently experiencing high demand, which may cause temporary errors."
CONTEXT_WINDOW_EXCEEDED = (
    "Codex ran out of room in the model's context window. Start a new conversation or clear earlier "
    "history before retrying."
)
QUOTA_EXCEEDED = "Quota exceeded. Check your plan and billing details."
USAGE_NOT_INCLUDED = "To use Codex with your ChatGPT plan, upgrade to Plus: https://openai.com/chatgpt/pricing."
# What 0.58 adds after "You've hit your usage limit." for each plan (from the error body, else the
# login's id token); the ones that end in a clause go on with " or try again at/later".
_USAGE_LIMIT_BY_PLAN = {
    "free": "Upgrade to Plus to continue using Codex (https://openai.com/chatgpt/pricing).",
    "plus": "Upgrade to Pro (https://openai.com/chatgpt/pricing), visit https://chatgpt.com/codex/settings/usage to "
    "purchase more credits",
    "pro": "Visit https://chatgpt.com/codex/settings/usage to purchase more credits",
    "team": "To get more access now, send a request to your admin",
    "business": "To get more access now, send a request to your admin",
}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
STREAM_DISCONNECTED = "stream disconnected before completion: "

_RETRY_IN = re.compile(r"try again in\s*(\d+(?:\.\d+)?)\s*(ms|s)\b", re.IGNORECASE)


# -- the request ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelRequest:
    """One model request. `input` and `tools` are Responses-API shapes; the chat wire converts them.

    `provider` is a `config.ModelProviderInfo` (read by attribute, so any object with those
    attributes works). `reasoning`/`include`/`text` are sent as given on the Responses wire
    (None/[]/None for model families without reasoning summaries).
    """

    provider: Any
    model: str
    instructions: str
    input: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    conversation_id: str
    user_agent: str
    reasoning: dict[str, Any] | None = None
    include: list[str] = field(default_factory=list)
    text: dict[str, Any] | None = None
    tool_choice: str = "auto"
    parallel_tool_calls: bool = False
    store: bool = False
    originator: str = "codex_cli_rs"
    # 0.58 aggregates chat streams: no text deltas, only the finished message. False streams them.
    chat_aggregate: bool = True
    connect_timeout_s: float = 30.0


# -- events -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ReasoningSummaryDelta:
    text: str
    summary_index: int = 0


@dataclass(frozen=True, slots=True)
class ReasoningSummaryPartAdded:
    """A new reasoning summary part started (0.58 shows an `agent_reasoning_section_break`)."""

    summary_index: int = 0


@dataclass(frozen=True, slots=True)
class ReasoningContentDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ItemAdded:
    item: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ItemDone:
    item: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Completed:
    """The response finished. `token_usage` (Responses only, None on chat as 0.58):
    `{input_tokens, cached_input_tokens, output_tokens, reasoning_output_tokens, total_tokens}`."""

    response_id: str
    token_usage: dict[str, int] | None


@dataclass(frozen=True, slots=True)
class RateLimits:
    """From the response headers, as soon as they arrive (Responses only):
    `{"primary": W | None, "secondary": W | None}`, W = `{used_percent, window_minutes, resets_at}`."""

    snapshot: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Reconnecting:
    """The attempt failed and the whole request is sent again (`stream_max_retries`). Events of
    the failed attempt are not withdrawn; the turn emits `stream_error {message}`."""

    attempt: int
    max_attempts: int
    error: str

    @property
    def message(self) -> str:
        return f"Reconnecting... {self.attempt}/{self.max_attempts}"


ModelEvent = (
    TextDelta
    | ReasoningSummaryDelta
    | ReasoningSummaryPartAdded
    | ReasoningContentDelta
    | ItemAdded
    | ItemDone
    | Completed
    | RateLimits
    | Reconnecting
)


class ModelError(Exception):
    """The request failed for good. `message` is the text of the turn's `error` event (§4.6);
    `retryable` says whether a stream retry may help; `status` is the HTTP status if any."""

    def __init__(
        self, message: str, retryable: bool = True, status: int | None = None, delay: float | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status = status
        self.delay = delay


class ModelCancelled(Exception):
    """Raised by `stream_model` once its StreamCancel fired; nothing more is emitted."""


class StreamCancel:
    """Cancels one `stream_model` call from any thread, waking it at once wherever it blocks."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self) -> None:
        with self._lock:
            self._event.set()
            sockets = list(self._sockets)
        for sock in sockets:
            _shutdown(sock)

    def wait(self, seconds: float) -> bool:
        """Sleeps up to `seconds`; True when cancelled meanwhile."""
        return self._event.wait(max(0.0, seconds))

    def _attach(self, sock: socket.socket) -> None:
        with self._lock:
            if not self._event.is_set():
                self._sockets.append(sock)
                return
        _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    try:
        # The plain socket method, also for SSL sockets: SSLSocket.shutdown would drop its SSL
        # object under a reader that may be inside it.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


# -- sessions whose sockets a StreamCancel can reach -----------------------------------------------

_hook = threading.local()  # .cancel: the StreamCancel of the request this thread is sending
_session_classes: Any = None


def _register_socket(sock: Any) -> None:
    cancel = getattr(_hook, "cancel", None)
    if cancel is not None and sock is not None:
        cancel._attach(sock)


def _new_session() -> Any:
    """A requests Session whose every new connection registers its socket with the StreamCancel
    of the calling thread, so a cancel also wakes a connect or a wait for response headers."""
    global _session_classes
    import requests  # lazily: ~110 ms of import time, needed only once a turn starts

    if _session_classes is None:
        from requests.adapters import HTTPAdapter
        from urllib3.connection import HTTPConnection, HTTPSConnection
        from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

        class HookedHTTPConnection(HTTPConnection):
            def connect(self) -> None:
                super().connect()
                _register_socket(self.sock)

        class HookedHTTPSConnection(HTTPSConnection):
            def connect(self) -> None:
                super().connect()
                _register_socket(self.sock)

        class HookedHTTPPool(HTTPConnectionPool):
            ConnectionCls = HookedHTTPConnection

        class HookedHTTPSPool(HTTPSConnectionPool):
            ConnectionCls = HookedHTTPSConnection

        pools = {"http": HookedHTTPPool, "https": HookedHTTPSPool}

        class HookedAdapter(HTTPAdapter):
            def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
                super().init_poolmanager(*args, **kwargs)
                self.poolmanager.pool_classes_by_scheme = dict(pools)

            def proxy_manager_for(self, *args: Any, **kwargs: Any) -> Any:
                manager = super().proxy_manager_for(*args, **kwargs)
                if hasattr(manager, "pool_classes_by_scheme"):
                    manager.pool_classes_by_scheme = dict(pools)
                return manager

        _session_classes = HookedAdapter
    session = requests.Session()
    session.headers.clear()  # no default Accept-Encoding/Accept/User-Agent: we send exactly ours
    adapter = _session_classes(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


# -- public entry point -----------------------------------------------------------------------------


def backoff(attempt: int) -> float:
    """Delay before retry number `attempt` (1-based), as 0.58: 200 ms doubling, ±10% jitter."""
    return INITIAL_BACKOFF_S * (2 ** max(0, attempt - 1)) * random.uniform(0.9, 1.1)


def stream_model(
    request: ModelRequest,
    auth: Callable[[bool], AuthSnapshot | None] | None,
    cancel: StreamCancel,
) -> Iterator[ModelEvent]:
    """Streams one model response. `auth(refresh)` returns the login actor's credentials
    (refreshed first when `refresh`); it is called from this thread. Raises ModelError when the
    request fails after its retries, ModelCancelled once `cancel` fired."""
    provider = request.provider
    max_stream = _int_attr(provider, "stream_max_retries", DEFAULT_STREAM_MAX_RETRIES)
    retries = 0
    session = _new_session()
    try:
        while True:
            if cancel.cancelled:
                raise ModelCancelled()
            try:
                yield from _attempt(request, auth, cancel, session)
                return
            except ModelError as err:
                if cancel.cancelled:
                    raise ModelCancelled() from None
                if not err.retryable or retries >= max_stream:
                    raise
                retries += 1
                log.info("model stream failed (%s); retry %d/%d", err.message, retries, max_stream)
                yield Reconnecting(retries, max_stream, err.message)
                if cancel.wait(err.delay if err.delay is not None else backoff(retries)):
                    raise ModelCancelled() from None
    finally:
        session.close()


# -- one attempt ------------------------------------------------------------------------------------


def _int_attr(obj: Any, name: str, default: int) -> int:
    """A provider setting: through `config.ModelProviderInfo.effective_<name>()` (defaults and
    0.58's cap applied) when the provider has it, else the plain attribute or `default`."""
    effective = getattr(obj, f"effective_{name}", None)
    if callable(effective):
        return int(effective())
    value = getattr(obj, name, None)
    return default if value is None else int(value)


def _is_chat(provider: Any) -> bool:
    return str(getattr(provider, "wire_api", "responses") or "responses").lower() == "chat"


def _attempt(
    request: ModelRequest, auth: Callable[[bool], AuthSnapshot | None] | None, cancel: StreamCancel, session: Any
) -> Iterator[ModelEvent]:
    chat = _is_chat(request.provider)
    response = _open(request, auth, cancel, session, chat)
    try:
        if chat:
            yield from _chat_events(response, cancel, request.chat_aggregate)
        else:
            yield RateLimits(parse_rate_limits(response.headers))
            yield from _responses_events(response, cancel)
    finally:
        response.close()


def _status_text(status: int) -> str:
    try:
        return f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} <unknown status code>"


def _credentials(
    provider: Any, auth: Callable[[bool], AuthSnapshot | None] | None, refresh: bool
) -> tuple[AuthSnapshot | None, bool]:
    """(credentials, whether they came from the login actor). The provider's `env_key` wins;
    without it the login's credentials are used when there are any (as 0.58, for any provider)."""
    env_key = getattr(provider, "env_key", None)
    if env_key:
        value = os.environ.get(env_key, "").strip()
        if value:
            return AuthSnapshot(mode="apikey", api_key=value), False
    snapshot: AuthSnapshot | None = None
    if auth is not None:
        try:
            snapshot = auth(refresh)
        except Exception:  # a login actor that cannot answer must not kill the turn's worker
            log.exception("reading credentials failed")
    if snapshot is not None and snapshot.mode is None:
        snapshot = None
    if env_key and snapshot is None:
        instructions = getattr(provider, "env_key_instructions", None)
        message = f"Missing environment variable: `{env_key}`."
        raise ModelError(f"{message} {instructions}" if instructions else message, retryable=False)
    return snapshot, snapshot is not None


def _url(provider: Any, snapshot: AuthSnapshot | None, chat: bool) -> str:
    base = getattr(provider, "base_url", None)
    if not base:
        base = CHATGPT_BASE_URL if snapshot is not None and snapshot.mode == "chatgpt" else OPENAI_BASE_URL
    url = base.rstrip("/") + ("/chat/completions" if chat else "/responses")
    params = getattr(provider, "query_params", None) or {}
    if params:
        # As 0.58 writes it: k=v pairs, no form encoding (requests percent-quotes what is unsafe).
        url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
    return url


def _headers(request: ModelRequest, snapshot: AuthSnapshot | None, chat: bool) -> dict[str, str]:
    headers: dict[str, str] = {}
    token = None
    if snapshot is not None:
        token = snapshot.access_token if snapshot.mode == "chatgpt" else snapshot.api_key
    if token:
        headers["authorization"] = f"Bearer {token}"
    provider = request.provider
    for name, value in (getattr(provider, "http_headers", None) or {}).items():
        headers[name] = value
    for name, env_var in (getattr(provider, "env_http_headers", None) or {}).items():
        value = os.environ.get(env_var, "")
        if value.strip():
            headers[name] = value
    if not chat:
        headers["conversation_id"] = request.conversation_id
        headers["session_id"] = request.conversation_id
    headers["accept"] = "text/event-stream"
    headers["content-type"] = "application/json"
    headers["user-agent"] = request.user_agent
    headers["originator"] = request.originator
    if not chat and snapshot is not None and snapshot.mode == "chatgpt" and snapshot.account_id:
        headers["chatgpt-account-id"] = snapshot.account_id
    return headers


def _open(
    request: ModelRequest,
    auth: Callable[[bool], AuthSnapshot | None] | None,
    cancel: StreamCancel,
    session: Any,
    chat: bool,
) -> Any:
    """Sends the request (with `request_max_retries` and one credential refresh after a 401)
    and returns the streaming response once a 2xx status arrived."""
    import requests

    provider = request.provider
    body = msgspec.json.encode(chat_body(request) if chat else responses_body(request))
    max_retries = _int_attr(provider, "request_max_retries", DEFAULT_REQUEST_MAX_RETRIES)
    idle_s = _int_attr(provider, "stream_idle_timeout_ms", DEFAULT_STREAM_IDLE_TIMEOUT_MS) / 1000
    snapshot, from_login = _credentials(provider, auth, False)
    refreshed = False
    attempt = 0
    while True:
        if cancel.cancelled:
            raise ModelCancelled()
        url = _url(provider, snapshot, chat)
        _hook.cancel = cancel
        try:
            response = session.post(
                url,
                data=body,
                headers=_headers(request, snapshot, chat),
                stream=True,
                timeout=(request.connect_timeout_s, idle_s),
                allow_redirects=False,
            )
        except requests.RequestException as err:
            if cancel.cancelled:
                raise ModelCancelled() from None
            log.info("model request to %s failed: %s", url, err)
            if attempt >= max_retries:
                raise ModelError(f"Connection failed: error sending request for url ({url})") from None
            attempt += 1
            _sleep(cancel, backoff(attempt))
            continue
        finally:
            _hook.cancel = None
        status = response.status_code
        if 200 <= status < 300:
            return response
        try:
            text = response.text
        except requests.RequestException:
            text = ""
        finally:
            response.close()
        if cancel.cancelled:
            raise ModelCancelled()
        if status == 401 and from_login and not refreshed:
            refreshed = True
            fresh, fresh_from_login = _credentials(provider, auth, True)
            if fresh != snapshot:
                # New credentials deserve a try of their own: it does not use up a retry.
                snapshot, from_login = fresh, fresh_from_login
                continue
        retryable = status == 429 or status >= 500 or (status == 401 and not chat)
        if not retryable:
            raise ModelError(f"unexpected status {_status_text(status)}: {text}", status=status)
        if status == 429 and not chat:
            _raise_usage_error(text, snapshot.plan_type if snapshot is not None else None)
        if attempt >= max_retries:
            if status == 500 and not chat:
                raise ModelError(HIGH_DEMAND, status=status)
            ray = response.headers.get("cf-ray")
            suffix = f", request id: {ray}" if ray and not chat else ""
            raise ModelError(f"exceeded retry limit, last status: {_status_text(status)}{suffix}", status=status)
        attempt += 1
        _sleep(cancel, _retry_after(response.headers) or backoff(attempt))


def _sleep(cancel: StreamCancel, seconds: float) -> None:
    if cancel.wait(seconds):
        raise ModelCancelled()


def _retry_after(headers: Any) -> float | None:
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(int(value.strip()))
    except ValueError:
        return None


def _raise_usage_error(text: str, login_plan: str | None = None) -> None:
    try:
        error = msgspec.json.decode(text).get("error") or {}
    except (msgspec.DecodeError, AttributeError):
        return
    if not isinstance(error, dict):
        return
    # 0.58 reads the body strictly: one field of the wrong type and it is just another 429.
    for key in ("type", "code", "message", "plan_type"):
        if error.get(key) is not None and not isinstance(error[key], str):
            return
    resets_at = error.get("resets_at")
    if resets_at is not None and (not isinstance(resets_at, int) or isinstance(resets_at, bool)):
        return
    kind = error.get("type")
    if kind == "usage_limit_reached":
        plan = error.get("plan_type") or login_plan
        raise ModelError(usage_limit_message(plan, resets_at), retryable=False, status=429)
    if kind == "usage_not_included":
        raise ModelError(USAGE_NOT_INCLUDED, retryable=False, status=429)
    if error.get("code") == "insufficient_quota" or kind == "insufficient_quota":
        raise ModelError(QUOTA_EXCEEDED, retryable=False, status=429)


def usage_limit_message(plan: str | None, resets_at: int | None, now: float | None = None) -> str:
    """0.58's text for a reached usage limit: by plan, with the reset time in local time (the
    hour alone when it is today)."""
    when = _reset_time(resets_at, time.time() if now is None else now)
    tail = _USAGE_LIMIT_BY_PLAN.get(plan or "")
    if tail is None:
        return "You've hit your usage limit." + (f" Try again at {when}." if when else " Try again later.")
    if tail.endswith("."):
        return f"You've hit your usage limit. {tail}"
    return f"You've hit your usage limit. {tail}" + (f" or try again at {when}." if when else " or try again later.")


def _reset_time(resets_at: int | None, now: float) -> str | None:
    if resets_at is None:
        return None
    try:
        reset = datetime.datetime.fromtimestamp(resets_at)
        today = datetime.datetime.fromtimestamp(now).date()
    except (OverflowError, OSError, ValueError):
        return None
    clock = f"{reset.hour % 12 or 12}:{reset.minute:02d} {'AM' if reset.hour < 12 else 'PM'}"
    if reset.date() == today:
        return clock
    day = reset.day
    suffix = "th" if 11 <= day <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{_MONTHS[reset.month - 1]} {day}{suffix}, {reset.year} {clock}"


# -- bodies -----------------------------------------------------------------------------------------


def responses_body(request: ModelRequest) -> dict[str, Any]:
    """The Responses body, keys in 0.58's order (§4.2)."""
    body: dict[str, Any] = {
        "model": request.model,
        "instructions": request.instructions,
        "input": request.input,
        "tools": request.tools,
        "tool_choice": request.tool_choice,
        "parallel_tool_calls": request.parallel_tool_calls,
        "reasoning": request.reasoning,
        "store": request.store,
        "stream": True,
        "include": list(request.include),
        "prompt_cache_key": request.conversation_id,
    }
    if request.text is not None:
        body["text"] = request.text
    return body


def chat_body(request: ModelRequest) -> dict[str, Any]:
    """The Chat Completions body (§4.3): system prompt + history as messages, function tools only."""
    return {
        "model": request.model,
        "messages": chat_messages(request.instructions, request.input),
        "stream": True,
        "tools": chat_tools(request.tools),
    }


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return "".join(
        part["text"]
        for part in content
        if isinstance(part, dict)
        and part.get("type") in ("input_text", "output_text", "text")
        and isinstance(part.get("text"), str)
    )


def _output_text(output: Any) -> str:
    if isinstance(output, str):
        return output
    if isinstance(output, dict) and isinstance(output.get("content"), str):
        return output["content"]
    return msgspec.json.encode(output).decode()


def chat_messages(instructions: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [{"role": "system", "content": instructions}]
    for item in items:
        kind = item.get("type", "message")
        if kind == "message":
            messages.append({"role": item.get("role", "user"), "content": _content_text(item.get("content"))})
        elif kind == "function_call":
            call = {
                "id": item.get("call_id", ""),
                "type": "function",
                "function": {"name": item.get("name", ""), "arguments": item.get("arguments", "")},
            }
            messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "custom_tool_call":
            call = {
                "id": item.get("call_id", ""),
                "type": "custom",
                "custom": {"name": item.get("name", ""), "input": item.get("input", "")},
            }
            messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind in ("function_call_output", "custom_tool_call_output"):
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": item.get("call_id", ""),
                    "content": _output_text(item.get("output", "")),
                }
            )
        # reasoning, ghost snapshots and anything else stay out of a chat prompt (as 0.58)
    return messages


def chat_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for tool in tools:
        if tool.get("type") != "function":
            continue  # freeform (custom) and built-in tools do not exist on the chat wire
        function = {k: tool[k] for k in ("name", "description", "strict", "parameters") if k in tool}
        out.append({"type": "function", "function": function})
    return out


# -- stream parsing ---------------------------------------------------------------------------------


def _is_timeout(err: BaseException) -> bool:
    seen: set[int] = set()
    stack: list[Any] = [err]
    while stack:
        e = stack.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, (socket.timeout, TimeoutError)) or type(e).__name__ in ("ReadTimeoutError", "ReadTimeout"):
            return True
        if isinstance(e, BaseException):
            stack.extend([e.__cause__, e.__context__, *[a for a in e.args if isinstance(a, BaseException)]])
    return False


def _chunks(response: Any, cancel: StreamCancel) -> Iterator[bytes]:
    """Raw body bytes as they arrive. Chunked bodies go through `iter_content(None)` (one HTTP
    chunk at a time); other bodies through `read1`, because `iter_content(None)` would read a
    close-delimited body to its end before yielding anything."""
    raw = response.raw
    if getattr(raw, "chunked", False) or not hasattr(raw, "read1"):
        source = response.iter_content(chunk_size=None)

        def read() -> bytes:
            return next(source, b"")
    else:

        def read() -> bytes:
            return raw.read1(65536)

    while True:
        try:
            data = read()
        except Exception as err:
            if cancel.cancelled:
                raise ModelCancelled() from None
            if _is_timeout(err):
                raise ModelError(STREAM_DISCONNECTED + "idle timeout waiting for SSE") from None
            log.info("model stream broke: %s", err)
            raise ModelError(STREAM_DISCONNECTED + "error decoding response body") from None
        if cancel.cancelled:
            raise ModelCancelled()
        if not data:
            return
        yield data


_decode = msgspec.json.Decoder().decode


def _sse_objects(response: Any, cancel: StreamCancel) -> Iterator[tuple[str, Any]]:
    parser = SseParser()
    for chunk in _chunks(response, cancel):
        for event in parser.feed(chunk):
            data = event.data
            if data.strip() == "[DONE]":
                yield "[DONE]", None
                continue
            try:
                yield event.event, _decode(data)
            except msgspec.DecodeError:
                log.debug("skipping an SSE event that is not JSON: %.200s", data)


def _retry_delay(message: str) -> float | None:
    found = _RETRY_IN.search(message)
    if not found:
        return None
    value = float(found.group(1))
    return value / 1000 if found.group(2).lower() == "ms" else value


def _failed(response_obj: Any) -> ModelError:
    error = response_obj.get("error") if isinstance(response_obj, dict) else None
    if not isinstance(error, dict):
        return ModelError(STREAM_DISCONNECTED + "response.failed event received")
    code = error.get("code")
    if code == "context_length_exceeded":
        return ModelError(CONTEXT_WINDOW_EXCEEDED, retryable=False)
    if code == "insufficient_quota":
        return ModelError(QUOTA_EXCEEDED, retryable=False)
    message = error.get("message") or ""
    return ModelError(STREAM_DISCONNECTED + str(message), delay=_retry_delay(str(message)))


def token_usage(usage: Any) -> dict[str, int] | None:
    if not isinstance(usage, dict):
        return None
    input_details = usage.get("input_tokens_details") or {}
    output_details = usage.get("output_tokens_details") or {}
    return {
        "input_tokens": int(usage.get("input_tokens") or 0),
        "cached_input_tokens": int(input_details.get("cached_tokens") or 0),
        "output_tokens": int(usage.get("output_tokens") or 0),
        "reasoning_output_tokens": int(output_details.get("reasoning_tokens") or 0),
        "total_tokens": int(usage.get("total_tokens") or 0),
    }


def _responses_events(response: Any, cancel: StreamCancel) -> Iterator[ModelEvent]:
    for name, obj in _sse_objects(response, cancel):
        if not isinstance(obj, dict):
            continue
        kind = obj.get("type") or name
        if kind == "response.output_text.delta":
            yield TextDelta(obj.get("delta", ""))
        elif kind == "response.reasoning_summary_text.delta":
            yield ReasoningSummaryDelta(obj.get("delta", ""), int(obj.get("summary_index") or 0))
        elif kind == "response.reasoning_text.delta":
            yield ReasoningContentDelta(obj.get("delta", ""))
        elif kind == "response.reasoning_summary_part.added":
            yield ReasoningSummaryPartAdded(int(obj.get("summary_index") or 0))
        elif kind == "response.output_item.added":
            if isinstance(obj.get("item"), dict):
                yield ItemAdded(obj["item"])
        elif kind == "response.output_item.done":
            if isinstance(obj.get("item"), dict):
                yield ItemDone(obj["item"])
        elif kind == "response.completed":
            resp = obj.get("response") or {}
            yield Completed(str(resp.get("id") or ""), token_usage(resp.get("usage")))
            return
        elif kind == "response.failed":
            raise _failed(obj.get("response"))
    raise ModelError(STREAM_DISCONNECTED + "stream closed before response.completed")


def _reasoning_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        for key in ("text", "content"):
            if isinstance(value.get(key), str) and value[key]:
                return value[key]
    return ""


def _chat_events(response: Any, cancel: StreamCancel, aggregate: bool) -> Iterator[ModelEvent]:
    """Chat chunks → Responses-style events: text and reasoning become one message and one
    reasoning item at the end, tool calls (assembled per `index`) function_call items at
    `finish_reason: "tool_calls"`. `[DONE]`, or the end of the body, completes the response."""
    text: list[str] = []
    reasoning: list[str] = []
    calls: dict[int, dict[str, Any]] = {}

    def flush_reasoning() -> Iterator[ModelEvent]:
        if reasoning:
            yield ItemDone(
                {
                    "type": "reasoning",
                    "summary": [],
                    "content": [{"type": "reasoning_text", "text": "".join(reasoning)}],
                    "encrypted_content": None,
                }
            )
            reasoning.clear()

    def flush_calls() -> Iterator[ModelEvent]:
        for index in sorted(calls):
            call = calls[index]
            yield ItemDone(
                {
                    "type": "function_call",
                    "name": call["name"],
                    "arguments": "".join(call["arguments"]),
                    "call_id": call["id"],
                }
            )
        calls.clear()

    for name, obj in _sse_objects(response, cancel):
        if name == "[DONE]":
            break
        if not isinstance(obj, dict):
            continue
        choices = obj.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else None
        if choice is None:
            continue
        delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
        content = delta.get("content")
        if isinstance(content, str) and content:
            text.append(content)
            if not aggregate:
                yield TextDelta(content)
        if "reasoning" in delta:
            piece = _reasoning_text(delta["reasoning"])
            if piece:
                reasoning.append(piece)
                if not aggregate:
                    yield ReasoningContentDelta(piece)
        tool_calls = delta.get("tool_calls")
        if isinstance(tool_calls, list):
            for tool_call in tool_calls:
                if not isinstance(tool_call, dict):
                    continue
                index = tool_call.get("index", 0) if isinstance(tool_call.get("index"), int) else 0
                call = calls.setdefault(index, {"id": "", "name": "", "arguments": []})
                if isinstance(tool_call.get("id"), str) and not call["id"]:
                    call["id"] = tool_call["id"]
                function = tool_call.get("function")
                if isinstance(function, dict):
                    if isinstance(function.get("name"), str) and not call["name"]:
                        call["name"] = function["name"]
                    if isinstance(function.get("arguments"), str):
                        call["arguments"].append(function["arguments"])
        if choice.get("finish_reason") == "tool_calls" and calls:
            yield from flush_reasoning()
            yield from flush_calls()
    yield from flush_reasoning()
    if text:
        yield ItemDone(
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "".join(text)}]}
        )
    yield from flush_calls()
    yield Completed("", None)


# -- rate limits ------------------------------------------------------------------------------------


def _header_float(headers: Any, name: str) -> float | None:
    value = headers.get(name)
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and number == number and abs(number) != float("inf") else None


def _header_int(headers: Any, name: str) -> int | None:
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _window(headers: Any, prefix: str) -> dict[str, Any] | None:
    used = _header_float(headers, f"x-codex-{prefix}-used-percent")
    if used is None:
        return None
    minutes = _header_int(headers, f"x-codex-{prefix}-window-minutes")
    resets_at = _header_int(headers, f"x-codex-{prefix}-reset-at")
    # As 0.58: a window with nothing in it (0 %, no length, no reset) is reported as absent.
    if used == 0 and not minutes and resets_at is None:
        return None
    return {"used_percent": used, "window_minutes": minutes, "resets_at": resets_at}


def parse_rate_limits(headers: Any) -> dict[str, Any]:
    """`x-codex-{primary,secondary}-{used-percent,window-minutes,reset-at}` → the snapshot."""
    return {"primary": _window(headers, "primary"), "secondary": _window(headers, "secondary")}
