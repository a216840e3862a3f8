"""`codex-app-server mock-model` as a command, driven over HTTP the way a TypeScript suite drives it."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

TIMEOUT = 20


def command() -> list[str]:
    found = shutil.which("codex-app-server")
    # Without the console script (a bare checkout), the same entry point through the interpreter.
    return [found] if found else [sys.executable, "-c", "import server; server.main()"]


class ModelProcess:
    def __init__(self, *args: str, stdin: Any = subprocess.PIPE) -> None:
        self.process = subprocess.Popen([*command(), "mock-model", *args], stdin=stdin, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE)
        assert self.process.stdout is not None
        self.first_line = self.process.stdout.readline().decode()

    @property
    def address(self) -> dict[str, str]:
        return json.loads(self.first_line)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(TIMEOUT)


@pytest.fixture
def spawn() -> Iterator[Any]:
    started: list[ModelProcess] = []

    def start(*args: str, stdin: Any = subprocess.PIPE) -> ModelProcess:
        model = ModelProcess(*args, stdin=stdin)
        started.append(model)
        return model

    yield start
    for model in started:
        model.stop()


def sse_events(text: str) -> list[dict[str, Any]]:
    return [json.loads(line[5:]) for line in text.splitlines() if line.startswith("data:") and line[5:].strip()]


def ask(base_url: str, text: str) -> requests.Response:
    body = {"model": "mock-model", "stream": True,
            "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}]}
    return requests.post(f"{base_url}/responses", json=body, headers={"Authorization": "Bearer k"}, timeout=TIMEOUT)


def test_first_line_is_the_address_and_the_script_serves(spawn, tmp_path: Path):
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"steps": [{"type": "text", "text": "from the file", "deltas": 2}]}))
    model = spawn("--port", "0", "--script", str(script))

    address = model.address
    assert set(address) == {"base_url", "control_url"}
    assert address["base_url"].startswith("http://127.0.0.1:") and address["base_url"].endswith("/v1")
    assert address["control_url"] == address["base_url"][: -len("/v1")] + "/control"

    models = requests.get(f"{address['base_url']}/models", timeout=TIMEOUT).json()
    assert [m["id"] for m in models["data"]] == ["mock-model"]
    answer = ask(address["base_url"], "first question")
    assert answer.status_code == 200 and answer.headers["content-type"] == "text/event-stream"
    events = sse_events(answer.text)
    deltas = [e["delta"] for e in events if e["type"] == "response.output_text.delta"]
    assert len(deltas) == 2 and "".join(deltas) == "from the file"
    assert events[-1]["type"] == "response.completed"


def test_the_control_api_enqueues_records_and_resets(spawn):
    model = spawn()
    base, control = model.address["base_url"], model.address["control_url"]

    queued = requests.post(f"{control}/steps", json=[{"type": "text", "text": "one"},
                                                     {"type": "shell", "command": ["ls"], "call_id": "c1"}],
                           timeout=TIMEOUT)
    assert queued.json() == {"queued": 2, "pending": 2}
    assert [s["type"] for s in requests.get(f"{control}/steps", timeout=TIMEOUT).json()] == ["text", "shell"]

    assert "one" in ask(base, "q1").text
    call = [e for e in sse_events(ask(base, "q2").text) if e["type"] == "response.output_item.done"][0]["item"]
    assert call["type"] == "function_call" and call["name"] == "shell" and call["call_id"] == "c1"
    assert json.loads(call["arguments"]) == {"command": ["ls"]}

    recorded = requests.get(f"{control}/requests", timeout=TIMEOUT).json()
    assert [r["path"] for r in recorded] == ["/v1/responses", "/v1/responses"]
    assert recorded[1]["headers"]["authorization"] == "Bearer k"
    assert recorded[1]["body"]["input"][0]["content"][0]["text"] == "q2"
    status = requests.get(f"{control}/status", timeout=TIMEOUT).json()
    assert status == {"pending": 0, "requests": 2, "stalled": 0, "mode": "script"}

    unscripted = ask(base, "q3")
    assert unscripted.status_code == 400
    assert "the script is exhausted" in unscripted.json()["error"]["message"]

    bad = requests.post(f"{control}/steps", json={"type": "no-such-step"}, timeout=TIMEOUT)
    assert bad.status_code == 400 and "invalid step" in bad.json()["error"]["message"]

    assert requests.post(f"{control}/reset", timeout=TIMEOUT).status_code == 200
    assert requests.get(f"{control}/requests", timeout=TIMEOUT).json() == []


def test_a_stalled_stream_waits_for_release(spawn):
    model = spawn()
    base, control = model.address["base_url"], model.address["control_url"]
    requests.post(f"{control}/steps", json={"type": "stall", "text": "slowanswer", "deltas": 2, "after_deltas": 1},
                  timeout=TIMEOUT)
    body = {"model": "m", "input": []}
    with requests.post(f"{base}/responses", json=body, stream=True, timeout=TIMEOUT) as stream:
        lines = stream.iter_lines(decode_unicode=True)
        first_delta = next(line for line in lines if line.startswith("data:") and "output_text.delta" in line)
        assert json.loads(first_delta[5:])["delta"] == "slowa"
        assert requests.get(f"{control}/status", timeout=TIMEOUT).json()["stalled"] == 1
        assert requests.post(f"{control}/release", timeout=TIMEOUT).json() == {"released": 1}
        rest = [json.loads(line[5:]) for line in lines if line.startswith("data:")]
    assert [e["delta"] for e in rest if e["type"] == "response.output_text.delta"] == ["nswer"]
    assert rest[-1]["type"] == "response.completed"


def test_exits_when_stdin_closes(spawn):
    model = spawn()
    assert model.address
    assert model.process.stdin is not None
    model.process.stdin.close()
    assert model.process.wait(TIMEOUT) == 0


def test_exits_on_sigterm(spawn):
    model = spawn(stdin=subprocess.DEVNULL)  # a parent that never gives it stdin stops it with SIGTERM
    base = model.address["base_url"]
    assert requests.get(f"{base}/models", timeout=TIMEOUT).status_code == 200
    model.process.send_signal(signal.SIGTERM)
    assert model.process.wait(TIMEOUT) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--replay", "/no/such/cassette.jsonl"], "cannot read cassette /no/such/cassette.jsonl"),
        (["--record", "x.jsonl"], "--record FILE and --upstream URL go together"),
        (["--record", "x.jsonl", "--upstream", "ftp://h/v1"], "--upstream must be an http(s) base URL"),
        (["--replay", "a", "--record", "b", "--upstream", "http://h"], "cannot be combined"),
        (["--script", "/no/such/script.json"], "cannot load script /no/such/script.json"),
    ],
)
def test_bad_options_exit_2_with_a_clear_message(tmp_path: Path, args: list[str], message: str):
    done = subprocess.run([*command(), "mock-model", *args], capture_output=True, text=True, timeout=TIMEOUT,
                          cwd=tmp_path, stdin=subprocess.DEVNULL)
    assert done.returncode == 2
    assert done.stdout == ""
    assert message in done.stderr
