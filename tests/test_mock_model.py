"""The scripted model over HTTP: control API, both wires' SSE shapes, matching, errors, the command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests

from actors.sse import SseParser
from codex_mock_model import MockModel, parse_steps, script_json_schema

REPO = Path(__file__).resolve().parent.parent


def _user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def _sse(resp: requests.Response) -> list[tuple[str, Any]]:
    parser = SseParser()
    out = []
    for chunk in resp.iter_content(chunk_size=None):
        for ev in parser.feed(chunk):
            out.append((ev.event, ev.data if ev.data == "[DONE]" else json.loads(ev.data)))
    return out


def _responses(model: MockModel, text: str = "hi", **body: Any) -> requests.Response:
    payload = {"model": "mock-model", "input": [_user(text)], **body}
    return requests.post(f"{model.base_url}/responses", json=payload, timeout=10)


def _chat(model: MockModel, text: str = "hi") -> requests.Response:
    messages = [{"role": "system", "content": "x"}, {"role": "user", "content": text}]
    payload = {"model": "mock-model", "messages": messages}
    return requests.post(f"{model.base_url}/chat/completions", json=payload, timeout=10)


def test_control_api_enqueue_record_reset(model: MockModel) -> None:
    ctl = model.control_url
    two = [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]
    r = requests.post(f"{ctl}/steps", json=two, timeout=5)
    assert r.json() == {"queued": 2, "pending": 2}
    r = requests.post(f"{ctl}/steps", json={"type": "shell", "command": ["ls"]}, timeout=5)
    assert r.json() == {"queued": 1, "pending": 3}
    pending = requests.get(f"{ctl}/steps", timeout=5).json()
    assert [s["type"] for s in pending] == ["text", "text", "shell"]

    events = _sse(_responses(model, "first", extra=1))
    done = [d for name, d in events if name == "response.output_item.done"]
    assert done[0]["item"]["content"][0]["text"] == "one"

    recorded = requests.get(f"{ctl}/requests", timeout=5).json()
    assert len(recorded) == 1
    assert recorded[0]["path"] == "/v1/responses"
    assert recorded[0]["body"]["extra"] == 1
    assert recorded[0]["headers"]["content-type"] == "application/json"

    assert requests.post(f"{ctl}/reset", timeout=5).json() == {}
    assert requests.get(f"{ctl}/requests", timeout=5).json() == []
    assert requests.get(f"{ctl}/steps", timeout=5).json() == []


def test_invalid_step_is_rejected_with_its_path(model: MockModel) -> None:
    r = requests.post(f"{model.control_url}/steps", json=[{"type": "text"}], timeout=5)
    assert r.status_code == 400
    assert "text" in r.json()["error"]["message"]
    r = requests.post(f"{model.control_url}/steps", json=[{"type": "nope"}], timeout=5)
    assert r.status_code == 400
    assert model.pending() == []


def test_unscripted_request_gets_400_naming_the_expectation(model: MockModel) -> None:
    r = _responses(model)
    assert r.status_code == 400
    assert "script is exhausted" in r.json()["error"]["message"]
    model.enqueue({"type": "text", "text": "x", "match": "deploy"})
    r = _chat(model, "hello there")
    assert r.status_code == 400
    message = r.json()["error"]["message"]
    assert "'hello there'" in message and "deploy" in message
    assert len(model.requests()) == 2


def test_match_picks_a_step_out_of_order(model: MockModel) -> None:
    model.enqueue({"type": "text", "text": "in order"}, {"type": "text", "text": "matched", "match": "magic"})
    first = _sse(_responses(model, "say the magic word"))
    second = _sse(_responses(model, "anything"))

    def text(events: list[tuple[str, Any]]) -> str:
        return "".join(d["delta"] for name, d in events if name == "response.output_text.delta")

    assert text(first) == "matched"
    assert text(second) == "in order"


def test_responses_stream_shapes(model: MockModel) -> None:
    model.enqueue(
        {"type": "reasoning", "text": "think", "answer": "done", "deltas": 2},
        {"type": "apply_patch", "patch": "*** Begin Patch\n*** End Patch\n"},
        {"type": "update_plan", "plan": [{"step": "a", "status": "pending"}], "explanation": "why"},
        {"type": "text", "text": "abcdef", "deltas": 3,
         "usage": {"input_tokens": 5, "cached_input_tokens": 1, "output_tokens": 2},
         "rate_limit_headers": {"x-codex-primary-used-percent": 12.5}},
    )
    events = _sse(_responses(model))
    names = [n for n, _ in events]
    assert names[0] == "response.created" and names[-1] == "response.completed"
    assert names.count("response.reasoning_summary_text.delta") == 2
    items = [d["item"] for n, d in events if n == "response.output_item.done"]
    assert [i["type"] for i in items] == ["reasoning", "message"]
    assert items[0]["summary"] == [{"type": "summary_text", "text": "think"}]
    assert all(d["type"] == n for n, d in events)

    items = [d["item"] for n, d in _sse(_responses(model)) if n == "response.output_item.done"]
    assert items[0]["type"] == "custom_tool_call" and items[0]["name"] == "apply_patch"
    assert items[0]["input"] == "*** Begin Patch\n*** End Patch\n"

    items = [d["item"] for n, d in _sse(_responses(model)) if n == "response.output_item.done"]
    assert items[0]["name"] == "update_plan"
    assert json.loads(items[0]["arguments"]) == {"explanation": "why", "plan": [{"step": "a", "status": "pending"}]}

    resp = _responses(model)
    assert resp.headers["x-codex-primary-used-percent"] == "12.5"
    events = _sse(resp)
    deltas = [d["delta"] for n, d in events if n == "response.output_text.delta"]
    assert deltas == ["ab", "cd", "ef"]
    usage = events[-1][1]["response"]["usage"]
    assert usage == {"input_tokens": 5, "input_tokens_details": {"cached_tokens": 1}, "output_tokens": 2,
                     "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 7}


def test_chat_stream_shapes(model: MockModel) -> None:
    model.enqueue(
        {"type": "text", "text": "Hello", "deltas": 2},
        {"type": "shell", "command": ["echo", "hi"], "call_id": "call-9", "workdir": "sub"},
        {"type": "cut", "text": "abcd", "deltas": 4, "after_deltas": 2},
    )
    events = _sse(_chat(model))
    assert events[-1] == ("message", "[DONE]")
    chunks = [d for _, d in events[:-1]]
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == "Hello"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"

    chunks = [d for _, d in _sse(_chat(model))[:-1]]
    first = chunks[0]["choices"][0]["delta"]["tool_calls"][0]
    assert first["id"] == "call-9" and first["function"]["name"] == "shell"
    args = "".join(c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                   for c in chunks if c["choices"][0]["delta"].get("tool_calls"))
    assert json.loads(args) == {"command": ["echo", "hi"], "workdir": "sub"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"

    events = _sse(_chat(model))
    assert ("message", "[DONE]") not in events
    assert "".join(d["choices"][0]["delta"].get("content") or "" for _, d in events) == "ab"


def test_http_error_step(model: MockModel) -> None:
    model.enqueue({"type": "http_error", "status": 503, "body": {"error": {"message": "busy"}},
                   "headers": {"retry-after": "0"}})
    r = _responses(model)
    assert r.status_code == 503
    assert r.json() == {"error": {"message": "busy"}}
    assert r.headers["retry-after"] == "0"


def test_stall_until_released_over_http(model: MockModel) -> None:
    model.enqueue({"type": "stall", "text": "abcd", "deltas": 2, "after_deltas": 1})
    result: dict[str, Any] = {}

    def client() -> None:
        result["events"] = _sse(_responses(model))

    worker = threading.Thread(target=client)
    worker.start()
    model.wait_for_stall()
    assert "events" not in result
    assert requests.post(f"{model.control_url}/release", timeout=5).json() == {"released": 1}
    worker.join(10)
    deltas = [d["delta"] for n, d in result["events"] if n == "response.output_text.delta"]
    assert deltas == ["ab", "cd"]
    assert result["events"][-1][0] == "response.completed"


def test_stalled_stream_notices_the_client_leaving(model: MockModel) -> None:
    model.enqueue({"type": "stall"})
    resp = requests.post(f"{model.base_url}/responses", json={"input": []}, stream=True, timeout=10)
    model.wait_for_stall()
    resp.raw._fp.fp.raw._sock.shutdown(2)  # hang up mid-stream, as an interrupted turn does
    resp.close()
    for _ in range(200):
        if model.requests()[0]["disconnected"]:
            break
        threading.Event().wait(0.02)
    assert model.requests()[0]["disconnected"] is True


def test_models_endpoint(model: MockModel) -> None:
    data = requests.get(f"{model.base_url}/models", timeout=5).json()
    assert [m["id"] for m in data["data"]] == ["mock-model"]


def test_script_schema_validates_the_format() -> None:
    schema = script_json_schema()
    good = {"steps": [{"type": "text", "text": "hi", "deltas": 2}, {"type": "http_error", "status": 500},
                      {"type": "apply_patch", "patch": "p", "via": "shell"}]}
    jsonschema.validate(good, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"steps": [{"type": "text"}]}, schema)
    assert len(parse_steps(json.dumps(good))) == 3
    assert len(parse_steps(json.dumps(good["steps"]))) == 3


def test_mock_model_command(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"steps": [{"type": "text", "text": "from file"}]}))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "codex_mock_model", "--script", str(script), "--port", "0"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=tmp_path)
    try:
        first = json.loads(proc.stdout.readline())
        assert first["base_url"].startswith("http://127.0.0.1:") and first["base_url"].endswith("/v1")
        assert first["control_url"].endswith("/control")
        requests.post(f"{first['control_url']}/steps", json={"type": "text", "text": "added"}, timeout=5)
        texts = []
        for _ in range(2):
            r = requests.post(f"{first['base_url']}/responses", json={"input": []}, timeout=5)
            texts.append("".join(d["delta"] for n, d in _sse(r) if n == "response.output_text.delta"))
        assert texts == ["from file", "added"]
        proc.stdin.close()
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_mock_model_command_stops_on_sigterm_with_stdin_on_devnull(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "codex_mock_model"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, env=env, cwd=tmp_path)
    try:
        first = json.loads(proc.stdout.readline())
        # stdin on /dev/null must not stop it: it still serves after its first line
        assert requests.get(f"{first['base_url']}/models", timeout=5).status_code == 200
        proc.terminate()
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
