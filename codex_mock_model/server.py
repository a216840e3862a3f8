"""The scripted model: a loopback OpenAI-compatible HTTP server driven by a script of steps.

`POST …/responses` and `POST …/chat/completions` answer each request with the next scripted
step (or the first queued step whose `match` is found in the latest user message), streamed as
SSE in the real APIs' formats; `GET …/models` lists the model. A control API scripts it over HTTP:
`POST /control/steps` (enqueue), `GET /control/steps` (pending), `GET /control/requests`
(recorded requests), `GET /control/status` (counts and mode), `POST /control/reset`,
`POST /control/release` (release stalled streams).
A request with no step for it gets HTTP 400 naming what was expected, never a hang.
With a cassette (`--record FILE --upstream URL` or `--replay FILE`, see `cassette.py`) every
non-control request is forwarded or replayed instead of scripted; requests are still recorded.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import select
import signal
import socket
import stat
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import msgspec

from codex_mock_model.cassette import CassetteError, Recorder, Replayer
from codex_mock_model.script import (
    ApplyPatchStep,
    CutStep,
    FailedStep,
    FunctionCallStep,
    HttpErrorStep,
    ReasoningStep,
    ShellStep,
    StallStep,
    Step,
    TextStep,
    UpdatePlanStep,
    Usage,
    parse_steps,
    step_to_json,
    steps_from_objects,
)

log = logging.getLogger(__name__)

_STALL = object()  # marks where a stalled stream waits for release
_STALL_POLL_S = 0.05  # how often a stalled stream checks whether its client went away


def split_text(text: str, pieces: int) -> list[str]:
    """`text` cut into `pieces` near-equal non-empty parts (fewer when the text is shorter)."""
    pieces = max(1, min(pieces, len(text))) if text else 1
    size, extra = divmod(len(text), pieces)
    out, pos = [], 0
    for i in range(pieces):
        end = pos + size + (1 if i < extra else 0)
        out.append(text[pos:end])
        pos = end
    return out


def latest_user_text(body: Any) -> str:
    """The text of the last `user` message of a Responses `input` or Chat `messages` body."""
    if not isinstance(body, dict):
        return ""
    items = body.get("input") if isinstance(body.get("input"), list) else body.get("messages")
    if not isinstance(items, list):
        return ""
    for item in reversed(items):
        if not isinstance(item, dict) or item.get("role") != "user":
            continue
        if item.get("type", "message") != "message":
            continue
        content = item.get("content")
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "".join(p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


class _State:
    """What the server shares between handler threads, guarded by one condition."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.steps: list[Step] = []
        self.requests: list[dict[str, Any]] = []
        self.release_generation = 0
        self.stalled = 0
        self.stopping = False
        self.counter = 0

    def next_id(self) -> int:
        with self.cond:
            self.counter += 1
            return self.counter

    def take_step(self, user_text: str) -> tuple[Step | None, str]:
        """The step for a request and, when there is none, why."""
        with self.cond:
            for i, step in enumerate(self.steps):
                if step.match is not None and step.match in user_text:
                    return self.steps.pop(i), ""
            for i, step in enumerate(self.steps):
                if step.match is None:
                    return self.steps.pop(i), ""
            if not self.steps:
                return None, "the script is exhausted: no step is queued (enqueue one with POST /control/steps)"
            wanted = [s.match for s in self.steps]
            return None, (
                f"no queued step matches the latest user message {user_text!r}; "
                f"the queued steps expect a user message containing one of {wanted!r}"
            )


class _Server(ThreadingHTTPServer):
    # Many conversations stream at once in tests; the default backlog of 5 refuses connects.
    request_queue_size = 128
    daemon_threads = True
    allow_reuse_address = True
    state: _State
    model_ids: tuple[str, ...]
    cassette: Recorder | Replayer | None = None

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return  # a client hanging up (an interrupted turn, a closed session) is routine
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug("mock-model %s", format % args)

    # -- routing --------------------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        path, _, query = self.path.partition("?")
        state = self.server.state
        if self.server.cassette is not None and not path.startswith("/control/"):
            self._through_cassette("GET", path, query, b"")
        elif path == "/control/status":
            with state.cond:
                status = {"pending": len(state.steps), "requests": len(state.requests), "stalled": state.stalled,
                          "mode": self.server.cassette.mode if self.server.cassette else "script"}
            self._json(200, status)
        elif path == "/control/requests":
            with state.cond:
                data = [dict(r) for r in state.requests]
            self._json(200, data)
        elif path == "/control/steps":
            with state.cond:
                data = [step_to_json(s) for s in state.steps]
            self._json(200, data)
        elif path.endswith("/models"):
            models = [{"id": m, "object": "model", "created": 0, "owned_by": "codex-mock-model"}
                      for m in self.server.model_ids]
            self._json(200, {"object": "list", "data": models})
        else:
            self._json(404, {"error": {"message": f"mock model: no route GET {path}", "type": "not_found"}})

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        path, _, query = self.path.partition("?")
        raw = self._read_body()
        state = self.server.state
        if self.server.cassette is not None and not path.startswith("/control/"):
            self._through_cassette("POST", path, query, raw)
        elif path == "/control/steps":
            try:
                steps = parse_steps(raw or b"[]")
            except (msgspec.ValidationError, msgspec.DecodeError) as err:
                self._json(400, {"error": {"message": f"invalid step: {err}", "type": "invalid_script"}})
                return
            with state.cond:
                state.steps.extend(steps)
                pending = len(state.steps)
            self._json(200, {"queued": len(steps), "pending": pending})
        elif path == "/control/reset":
            _reset(state)
            self._json(200, {})
        elif path == "/control/release":
            self._json(200, {"released": _release(state)})
        elif path.endswith("/responses"):
            self._model(path, query, raw, chat=False)
        elif path.endswith("/chat/completions"):
            self._model(path, query, raw, chat=True)
        else:
            self._json(404, {"error": {"message": f"mock model: no route POST {path}", "type": "not_found"}})

    # -- helpers --------------------------------------------------------------------------------
    def _read_body(self) -> bytes:
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    # -- model endpoints -------------------------------------------------------------------------
    def _through_cassette(self, method: str, path: str, query: str, raw: bytes) -> None:
        """Forwards (record) or answers from the cassette (replay); the request is recorded either way."""
        state = self.server.state
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        headers = {k.lower(): v for k, v in self.headers.items()}
        record = {"path": path, "query": query, "headers": headers, "body": body, "disconnected": False}
        with state.cond:
            state.requests.append(record)
            state.cond.notify_all()
        # The client's base URL ends in /v1 like OpenAI's; the cassette keeps paths relative to it.
        relative = path[3:] if path.startswith("/v1/") else path
        assert self.server.cassette is not None
        self.server.cassette.handle(self, method, relative, query, dict(self.headers.items()), raw, body)

    def _model(self, path: str, query: str, raw: bytes, chat: bool) -> None:
        state = self.server.state
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        record = {
            "path": path,
            "query": query,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body,
            "disconnected": False,
        }
        with state.cond:
            state.requests.append(record)
            state.cond.notify_all()
        step, why = state.take_step(latest_user_text(body))
        if step is None:
            self._json(400, {"error": {"message": f"mock model: unscripted request to POST {path}: {why}",
                                       "type": "invalid_request_error", "code": "mock_model_unscripted"}})
            return
        extra = {k: str(v) for k, v in (step.rate_limit_headers or {}).items()}
        if isinstance(step, HttpErrorStep):
            payload = step.body if isinstance(step.body, str) else json.dumps(step.body)
            data = payload.encode()
            self.send_response(step.status)
            self.send_header("Content-Type", "text/plain" if isinstance(step.body, str) else "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in {**extra, **(step.headers or {})}.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
            return
        if isinstance(step, StallStep) and step.before_headers and not self._stall(record):
            return
        model = body.get("model", "mock-model") if isinstance(body, dict) else "mock-model"
        render = _ChatRender(state, model) if chat else _ResponsesRender(state, model)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for k, v in extra.items():
            self.send_header(k, v)
        self.end_headers()
        try:
            for piece in render.events(step):
                if piece is _STALL:
                    if not self._stall(record):
                        return
                    continue
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            record["disconnected"] = True
            self.close_connection = True

    def _stall(self, record: dict[str, Any]) -> bool:
        """Waits for a release; False when the client went away (or the server stops) first."""
        state = self.server.state
        with state.cond:
            generation = state.release_generation
            state.stalled += 1
        try:
            while True:
                with state.cond:
                    if state.release_generation != generation:
                        return True
                    if state.stopping:
                        self.close_connection = True
                        return False
                    state.cond.wait(_STALL_POLL_S)
                if _peer_closed(self.connection):
                    record["disconnected"] = True
                    self.close_connection = True
                    return False
        finally:
            with state.cond:
                state.stalled -= 1


def _peer_closed(sock: socket.socket) -> bool:
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        return sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def _reset(state: _State) -> None:
    with state.cond:
        state.steps.clear()
        state.requests.clear()
        state.release_generation += 1
        state.cond.notify_all()


def _release(state: _State) -> int:
    with state.cond:
        released = state.stalled
        state.release_generation += 1
        state.cond.notify_all()
        return released


def _usage(step: Step) -> Usage:
    return step.usage or Usage()


def _total(u: Usage) -> int:
    return u.total_tokens if u.total_tokens is not None else u.input_tokens + u.output_tokens


def _arguments(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _call(state: _State, step: Step) -> tuple[str, str, str]:
    """(kind, name, payload) of a tool-call step: kind is "function" or "custom"."""
    if isinstance(step, ShellStep):
        args: dict[str, Any] = {"command": step.command}
        for key in ("workdir", "timeout_ms", "with_escalated_permissions", "justification"):
            if getattr(step, key) is not None:
                args[key] = getattr(step, key)
        return "function", "shell", json.dumps(args)
    if isinstance(step, ApplyPatchStep):
        if step.via == "tool":
            return "custom", "apply_patch", step.patch
        if step.via == "shell":
            return "function", "shell", json.dumps({"command": ["apply_patch", step.patch]})
        return "function", "apply_patch", json.dumps({"input": step.patch})
    if isinstance(step, UpdatePlanStep):
        args = {"plan": [msgspec.to_builtins(p) for p in step.plan]}
        if step.explanation is not None:
            args = {"explanation": step.explanation, **args}
        return "function", "update_plan", json.dumps(args)
    assert isinstance(step, FunctionCallStep)
    return "function", step.name, _arguments(step.arguments)


def _call_id(state: _State, step: Step) -> str:
    given = getattr(step, "call_id", None)
    return given if given else f"call_{state.next_id()}"


def _text_parts(step: Step) -> tuple[list[str], int | None]:
    """Pieces of a text-bearing step and where it stalls or is cut (None: runs to the end)."""
    if isinstance(step, TextStep):
        return split_text(step.text, step.deltas), None
    if isinstance(step, StallStep) and step.before_headers:
        return split_text(step.text, step.deltas) if step.text else [], None
    if isinstance(step, (CutStep, StallStep)):
        pieces = split_text(step.text, step.deltas) if step.text else []
        return pieces, max(0, min(step.after_deltas, len(pieces)))
    return [], None


class _ResponsesRender:
    """Renders a step as a Responses API event stream (`event:` + `data:` per event)."""

    def __init__(self, state: _State, model: str) -> None:
        self.state = state
        self.model = model
        self.seq = 0
        self.response_id = f"resp_{state.next_id()}"
        self.created_at = int(time.time())
        self.output: list[dict[str, Any]] = []

    def _ev(self, kind: str, **fields: Any) -> bytes:
        obj = {"type": kind, "sequence_number": self.seq, **fields}
        self.seq += 1
        return b"event: %s\ndata: %s\n\n" % (kind.encode(), json.dumps(obj).encode())

    def _response(self, status: str, usage: dict[str, Any] | None = None) -> dict[str, Any]:
        resp: dict[str, Any] = {"id": self.response_id, "object": "response", "created_at": self.created_at,
                                "status": status, "model": self.model, "output": list(self.output),
                                "parallel_tool_calls": False, "tool_choice": "auto"}
        if usage is not None:
            resp["usage"] = usage
        return resp

    def events(self, step: Step) -> Iterator[Any]:
        yield self._ev("response.created", response=self._response("in_progress"))
        yield self._ev("response.in_progress", response=self._response("in_progress"))
        if isinstance(step, ReasoningStep):
            yield from self._reasoning(step)
            if step.answer is not None:
                yield from self._message(split_text(step.answer, 1))
        elif isinstance(step, (ShellStep, ApplyPatchStep, UpdatePlanStep, FunctionCallStep)):
            yield from self._tool_call(step)
        elif isinstance(step, FailedStep):
            failed = self._response("failed")
            failed["error"] = {"code": step.code, "message": step.message}
            yield self._ev("response.failed", response=failed)
            return
        else:
            pieces, stop_at = _text_parts(step)
            if isinstance(step, CutStep):
                yield from self._message(pieces, cut_at=stop_at)
                return
            if isinstance(step, StallStep) and not pieces:
                if not step.before_headers:
                    yield _STALL
            elif isinstance(step, StallStep):
                yield from self._message(pieces, stall_at=stop_at)
            else:
                yield from self._message(pieces)
        u = _usage(step)
        usage = {"input_tokens": u.input_tokens, "input_tokens_details": {"cached_tokens": u.cached_input_tokens},
                 "output_tokens": u.output_tokens,
                 "output_tokens_details": {"reasoning_tokens": u.reasoning_output_tokens},
                 "total_tokens": _total(u)}
        yield self._ev("response.completed", response=self._response("completed", usage))

    def _message(self, pieces: list[str], cut_at: int | None = None, stall_at: int | None = None) -> Iterator[Any]:
        index = len(self.output)
        item_id = f"msg_{self.state.next_id()}"
        item = {"id": item_id, "type": "message", "status": "in_progress", "content": [], "role": "assistant"}
        yield self._ev("response.output_item.added", output_index=index, item=item)
        part = {"type": "output_text", "annotations": [], "text": ""}
        yield self._ev("response.content_part.added", item_id=item_id, output_index=index, content_index=0, part=part)
        for i, piece in enumerate(pieces):
            if i == cut_at:
                return
            if i == stall_at:
                yield _STALL
            yield self._ev("response.output_text.delta", item_id=item_id, output_index=index, content_index=0,
                           delta=piece, logprobs=[])
        if cut_at is not None:
            return
        if stall_at is not None and stall_at >= len(pieces):
            yield _STALL
        text = "".join(pieces)
        yield self._ev("response.output_text.done", item_id=item_id, output_index=index, content_index=0,
                       text=text, logprobs=[])
        part = {"type": "output_text", "annotations": [], "logprobs": [], "text": text}
        yield self._ev("response.content_part.done", item_id=item_id, output_index=index, content_index=0, part=part)
        done = {"id": item_id, "type": "message", "status": "completed", "content": [part], "role": "assistant"}
        self.output.append(done)
        yield self._ev("response.output_item.done", output_index=index, item=done)

    def _reasoning(self, step: ReasoningStep) -> Iterator[Any]:
        index = len(self.output)
        item_id = f"rs_{self.state.next_id()}"
        yield self._ev("response.output_item.added", output_index=index,
                       item={"id": item_id, "type": "reasoning", "summary": []})
        yield self._ev("response.reasoning_summary_part.added", item_id=item_id, output_index=index,
                       summary_index=0, part={"type": "summary_text", "text": ""})
        for piece in split_text(step.text, step.deltas):
            yield self._ev("response.reasoning_summary_text.delta", item_id=item_id, output_index=index,
                           summary_index=0, delta=piece)
        yield self._ev("response.reasoning_summary_text.done", item_id=item_id, output_index=index,
                       summary_index=0, text=step.text)
        part = {"type": "summary_text", "text": step.text}
        yield self._ev("response.reasoning_summary_part.done", item_id=item_id, output_index=index,
                       summary_index=0, part=part)
        done = {"id": item_id, "type": "reasoning", "summary": [part]}
        self.output.append(done)
        yield self._ev("response.output_item.done", output_index=index, item=done)

    def _tool_call(self, step: Step) -> Iterator[Any]:
        kind, name, payload = _call(self.state, step)
        call_id = _call_id(self.state, step)
        index = len(self.output)
        if kind == "custom":
            item_id = f"ctc_{self.state.next_id()}"
            item = {"id": item_id, "type": "custom_tool_call", "status": "in_progress", "call_id": call_id,
                    "input": "", "name": name}
            yield self._ev("response.output_item.added", output_index=index, item=item)
            yield self._ev("response.custom_tool_call_input.delta", item_id=item_id, output_index=index, delta=payload)
            yield self._ev("response.custom_tool_call_input.done", item_id=item_id, output_index=index, input=payload)
            done = {**item, "status": "completed", "input": payload}
        else:
            item_id = f"fc_{self.state.next_id()}"
            item = {"id": item_id, "type": "function_call", "status": "in_progress", "arguments": "",
                    "call_id": call_id, "name": name}
            yield self._ev("response.output_item.added", output_index=index, item=item)
            yield self._ev("response.function_call_arguments.delta", item_id=item_id, output_index=index,
                           delta=payload)
            yield self._ev("response.function_call_arguments.done", item_id=item_id, output_index=index,
                           arguments=payload)
            done = {**item, "status": "completed", "arguments": payload}
        self.output.append(done)
        yield self._ev("response.output_item.done", output_index=index, item=done)


class _ChatRender:
    """Renders a step as a Chat Completions chunk stream (`data:` per chunk, then `[DONE]`)."""

    def __init__(self, state: _State, model: str) -> None:
        self.state = state
        self.model = model
        self.id = f"chatcmpl-{state.next_id()}"
        self.created = int(time.time())

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        obj = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
               "system_fingerprint": None,
               "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        return b"data: %s\n\n" % json.dumps(obj).encode()

    def _end(self, step: Step) -> Iterator[bytes]:
        if step.usage is not None:
            u = step.usage
            obj = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
                   "choices": [], "usage": {
                       "prompt_tokens": u.input_tokens, "completion_tokens": u.output_tokens,
                       "total_tokens": _total(u), "prompt_tokens_details": {"cached_tokens": u.cached_input_tokens},
                       "completion_tokens_details": {"reasoning_tokens": u.reasoning_output_tokens}}}
            yield b"data: %s\n\n" % json.dumps(obj).encode()
        yield b"data: [DONE]\n\n"

    def events(self, step: Step) -> Iterator[Any]:
        if isinstance(step, (ShellStep, ApplyPatchStep, UpdatePlanStep, FunctionCallStep)):
            _, name, payload = _call(self.state, step)
            if isinstance(step, ApplyPatchStep) and step.via == "tool":
                # Chat has no freeform tools: the patch travels as the JSON `apply_patch` function.
                payload = json.dumps({"input": step.patch})
            call = {"index": 0, "id": _call_id(self.state, step), "type": "function",
                    "function": {"name": name, "arguments": ""}}
            yield self._chunk({"role": "assistant", "content": None, "tool_calls": [call]})
            for piece in split_text(payload, 2):
                yield self._chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
            yield self._chunk({}, "tool_calls")
            yield from self._end(step)
            return
        yield self._chunk({"role": "assistant", "content": ""})
        if isinstance(step, FailedStep):
            error = {"message": step.message, "type": "server_error", "code": step.code}
            yield b"data: %s\n\n" % json.dumps({"error": error}).encode()
            return
        if isinstance(step, ReasoningStep):
            for piece in split_text(step.text, step.deltas):
                yield self._chunk({"reasoning": piece})
            pieces, stop_at = split_text(step.answer, 1) if step.answer else [], None
        else:
            pieces, stop_at = _text_parts(step)
        for i, piece in enumerate(pieces):
            if i == stop_at:
                if isinstance(step, CutStep):
                    return
                yield _STALL
            yield self._chunk({"content": piece})
        if isinstance(step, CutStep):
            return
        if isinstance(step, StallStep) and stop_at is not None and stop_at >= len(pieces):
            yield _STALL
        yield self._chunk({}, "stop")
        yield from self._end(step)


class MockModel:
    """The scripted model server, for tests and the `mock-model` command.

    `start()` binds `host:port` (loopback, port 0 = any free port) and serves in a daemon thread;
    usable as a context manager. Thread-safe.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, model_ids: tuple[str, ...] = ("mock-model",),
                 cassette: Recorder | Replayer | None = None) -> None:
        self._host = host
        self._port = port
        self._model_ids = model_ids
        self._cassette = cassette
        self._state = _State()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> MockModel:
        if self._server is not None:
            return self
        server = _Server((self._host, self._port), _Handler)
        server.state = self._state
        server.model_ids = self._model_ids
        server.cassette = self._cassette
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="mock-model", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        with self._state.cond:
            self._state.stopping = True
            self._state.cond.notify_all()
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> MockModel:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses ---------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("mock model is not started")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self._host}:{self.port}/v1"

    @property
    def control_url(self) -> str:
        return f"http://{self._host}:{self.port}/control"

    # -- scripting -----------------------------------------------------------------------------------
    def enqueue(self, *steps: Any) -> None:
        """Adds steps (dicts in the script format, Step structs, or lists of either)."""
        flat: list[Any] = []
        for s in steps:
            flat.extend(s if isinstance(s, list) else [s])
        parsed = steps_from_objects(flat)
        with self._state.cond:
            self._state.steps.extend(parsed)

    def pending(self) -> list[dict[str, Any]]:
        with self._state.cond:
            return [step_to_json(s) for s in self._state.steps]

    def requests(self) -> list[dict[str, Any]]:
        """Recorded model requests: `{"path", "query", "headers", "body", "disconnected"}`."""
        with self._state.cond:
            return [dict(r) for r in self._state.requests]

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Blocks until at least `count` model requests arrived; raises TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        with self._state.cond:
            while len(self._state.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self._state.requests)} of {count} model requests arrived")
                self._state.cond.wait(left)
            return [dict(r) for r in self._state.requests]

    def wait_for_stall(self, timeout: float = 10.0) -> None:
        """Blocks until some stream is stalled waiting for `release()`."""
        deadline = time.monotonic() + timeout
        with self._state.cond:
            while self._state.stalled == 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no stream stalled")
                self._state.cond.wait(min(left, _STALL_POLL_S))

    def release(self) -> int:
        """Lets every stalled stream go on; returns how many there were."""
        return _release(self._state)

    def reset(self) -> None:
        """Drops queued steps and recorded requests, and releases stalled streams."""
        _reset(self._state)


def _stdin_is_pipe() -> bool:
    """Only a pipe or socket on stdin is watched for closing: a parent that started us with stdin
    on /dev/null (Node's `stdio: "ignore"`) or a terminal stops us with SIGTERM instead."""
    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (OSError, ValueError, AttributeError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def main(argv: list[str] | None = None) -> int:
    """`mock-model [--script FILE] [--port 0] [--record FILE --upstream URL [--redact NAME]…] [--replay FILE]`:
    prints `{"base_url", "control_url"}` as the first stdout line, then serves until stdin (a pipe)
    closes, or SIGTERM."""
    parser = argparse.ArgumentParser(prog="mock-model", description="Serve a scripted OpenAI-compatible model.")
    parser.add_argument("--script", help="JSON script: a list of steps or {\"steps\": [...]}")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--record", metavar="FILE", help="forward every request to --upstream and append each "
                        "exchange, secrets removed, to this cassette (JSONL)")
    parser.add_argument("--upstream", metavar="URL", help="the real provider's base URL, e.g. https://api.openai.com/v1")
    parser.add_argument("--redact", metavar="NAME", action="append", default=[],
                        help="also remove this header or JSON key from the cassette (repeatable)")
    parser.add_argument("--replay", metavar="FILE", help="answer from this cassette instead of a script")
    args = parser.parse_args(argv)
    if args.record and args.replay:
        parser.error("--record and --replay cannot be combined")
    if bool(args.record) != bool(args.upstream):
        parser.error("--record FILE and --upstream URL go together")
    if args.script and (args.record or args.replay):
        parser.error("--script cannot be combined with --record or --replay")
    if args.redact and not args.record:
        parser.error("--redact applies only to --record")
    cassette: Recorder | Replayer | None = None
    try:
        if args.record:
            cassette = Recorder(args.record, args.upstream, args.redact)
        elif args.replay:
            cassette = Replayer(args.replay)
    except CassetteError as err:
        print(f"mock-model: {err}", file=sys.stderr)
        return 2
    model = MockModel(port=args.port, cassette=cassette)
    if args.script:
        try:
            with open(args.script, "rb") as f:
                steps = parse_steps(f.read())
        except (OSError, msgspec.ValidationError, msgspec.DecodeError) as err:
            print(f"mock-model: cannot load script {args.script}: {err}", file=sys.stderr)
            return 2
        model.enqueue(steps)
    model.start()
    done = threading.Event()

    def watch_stdin() -> None:
        try:
            while sys.stdin.buffer.read1(65536) if hasattr(sys.stdin.buffer, "read1") else sys.stdin.read(1):
                pass
        except (OSError, ValueError):
            pass
        done.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: done.set())
    if _stdin_is_pipe():
        threading.Thread(target=watch_stdin, name="mock-model-stdin", daemon=True).start()
    sys.stdout.write(json.dumps({"base_url": model.base_url, "control_url": model.control_url}) + "\n")
    sys.stdout.flush()
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    model.stop()
    return 0
