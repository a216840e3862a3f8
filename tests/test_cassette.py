"""Cassettes: a turn recorded through `mock-model --record` replays offline with the same events,
the file holds no secret, and a request that was never recorded gets a 400 naming what differs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import requests

from codex_mock_model.cassette import REDACTED, Redactor, normalise

SECRETS = {
    "api key": "sk-test-secret-0000",
    "team token": "team-secret-1234",
    "cookie": "cookie-secret-5678",
    "account id": "acct-secret-9012",
}
FULL_ACCESS = {"approvalPolicy": "never", "sandbox": "danger-full-access"}


def config_for(base_url: str) -> str:
    return (
        'model = "mock-model"\nmodel_provider = "recorded"\n\n[model_providers.recorded]\nname = "recorded"\n'
        f'base_url = "{base_url}"\nwire_api = "responses"\nenv_key = "CASSETTE_TEST_API_KEY"\n'
        "request_max_retries = 0\nstream_max_retries = 0\n"
        f'http_headers = {{ "x-team-token" = "{SECRETS["team token"]}", '
        f'"cookie" = "session={SECRETS["cookie"]}", "chatgpt-account-id" = "{SECRETS["account id"]}" }}\n'
    )


def run_turn(factory, base_url: str, home: Path, workspace: Path):
    env = {**os.environ, "CASSETTE_TEST_API_KEY": SECRETS["api key"]}
    server = factory(config_toml=config_for(base_url), model=None, env=env, home=home, cwd=workspace)
    turn = server.new_conversation(cwd=str(workspace), **FULL_ACCESS).ask("Count to three, please")
    server.close()
    return turn


def test_record_through_the_proxy_then_replay_with_the_upstream_gone(
    codex_model_factory, codex_app_server_factory, codex_workspace: Path, tmp_path: Path
):
    cassette = tmp_path / "cassettes" / "count.jsonl"
    upstream = codex_model_factory()
    upstream.shell(["seq", "3"], call_id="call_seq").text("One, two, three.", deltas=3)
    proxy = codex_model_factory(args=["--record", str(cassette), "--upstream", upstream.base_url,
                                      "--redact", "x-team-token"])

    recorded = run_turn(codex_app_server_factory, proxy.base_url, tmp_path / "home1", codex_workspace)

    assert recorded.status == "completed" and recorded.text == "One, two, three."
    assert recorded.commands[0]["stdout"] == "1\n2\n3\n"
    # The secrets really travelled through the proxy, so their absence from the file means something.
    seen = upstream.requests()[0]["headers"]
    assert seen["authorization"] == f"Bearer {SECRETS['api key']}"
    assert seen["x-team-token"] == SECRETS["team token"] and SECRETS["cookie"] in seen["cookie"]
    assert seen["chatgpt-account-id"] == SECRETS["account id"]
    upstream.stop()
    proxy.stop()
    assert not upstream.alive

    text = cassette.read_text()
    for name, secret in SECRETS.items():
        assert secret not in text, f"the {name} leaked into the cassette"
    exchanges = [json.loads(line) for line in text.splitlines()]
    assert len(exchanges) == 2
    headers = exchanges[0]["request"]["headers"]
    for header in ("authorization", "x-team-token", "cookie", "chatgpt-account-id"):
        assert headers[header] == REDACTED
    assert exchanges[0]["request"]["path"] == "/responses"
    assert "response.completed" in exchanges[1]["response"]["body"]

    replay = codex_model_factory(args=["--replay", str(cassette)])
    replayed = run_turn(codex_app_server_factory, replay.base_url, tmp_path / "home2", codex_workspace)

    assert replayed.types == recorded.types
    assert replayed.deltas == recorded.deltas
    assert replayed.text == recorded.text
    assert [c["stdout"] for c in replayed.commands] == ["1\n2\n3\n"]
    assert replay.status() == {"pending": 0, "requests": 2, "stalled": 0, "mode": "replay"}

    # A request that was never recorded: 400, naming the nearest exchange and the difference.
    body = dict(exchanges[0]["request"]["body"])
    body["input"] = [*body["input"][:-1], {"type": "message", "role": "user",
                                           "content": [{"type": "input_text", "text": "Count to four"}]}]
    miss = requests.post(f"{replay.base_url}/responses", json=body, timeout=20)
    assert miss.status_code == 400
    message = miss.json()["error"]["message"]
    assert "nearest is exchange #1 (line 1, POST /responses)" in message
    assert f"input[{len(body['input']) - 1}].content[0].text" in message
    assert "'Count to three, please'" in message and "'Count to four'" in message


def test_secrets_in_bodies_and_redact_names_are_scrubbed_everywhere(codex_model_factory, tmp_path: Path):
    cassette = tmp_path / "raw.jsonl"
    upstream = codex_model_factory()
    upstream.text("fine")
    proxy = codex_model_factory(args=["--record", str(cassette), "--upstream", upstream.base_url,
                                      "--redact", "team_note"])
    body = {"model": "m", "api_key": "sk-in-the-body-4242", "team_note": "internal-7777",
            "input": [{"type": "message", "role": "user",
                       "content": [{"type": "input_text", "text": "my key is sk-in-the-body-4242"}]}]}
    answer = requests.post(f"{proxy.base_url}/responses", json=body, timeout=20,
                           headers={"Authorization": "Bearer sk-header-3131"})
    assert answer.status_code == 200 and "fine" in answer.text
    proxy.stop()

    text = cassette.read_text()
    for secret in ("sk-in-the-body-4242", "internal-7777", "sk-header-3131"):
        assert secret not in text
    exchange = json.loads(text)
    assert exchange["request"]["body"]["api_key"] == REDACTED
    assert exchange["request"]["body"]["team_note"] == REDACTED
    # A secret repeated elsewhere (here in the prompt text) is scrubbed there too.
    assert exchange["request"]["body"]["input"][0]["content"][0]["text"] == f"my key is {REDACTED}"


def test_an_unreachable_upstream_is_a_502_and_nothing_is_recorded(codex_model_factory, tmp_path: Path):
    gone = codex_model_factory()
    url = gone.base_url
    gone.stop()
    cassette = tmp_path / "none.jsonl"
    proxy = codex_model_factory(args=["--record", str(cassette), "--upstream", url])
    answer = requests.post(f"{proxy.base_url}/responses", json={"model": "m", "input": []}, timeout=20)
    assert answer.status_code == 502
    assert f"upstream {url} unreachable" in answer.json()["error"]["message"]
    assert cassette.read_text() == ""


def test_normalised_form_ignores_ids_and_times_but_not_content():
    def body(text: str, call_id: str, when: str) -> dict:
        return {"model": "m", "prompt_cache_key": call_id, "tools": [{"type": "function", "name": "shell"}],
                "input": [{"type": "function_call", "call_id": call_id, "id": "fc_1", "name": "shell"},
                          {"type": "message", "role": "user",
                           "content": [{"type": "input_text", "text": f"{text} at {when}"}]}]}

    a = normalise("POST", "/responses", body("hi", "c1", "2025-01-01T10:00:00.123Z"))
    b = normalise("POST", "/responses", body("hi", "c2", "2026-02-02T11:11:11Z"))
    c = normalise("POST", "/responses", body("ho", "c1", "2025-01-01T10:00:00.123Z"))
    assert a == b
    assert a != c
    assert a["tools"] == ["function:shell"]
    assert normalise("POST", "/chat/completions", {"model": "m"}) != normalise("POST", "/responses", {"model": "m"})


def test_redactor_leaves_an_sse_stream_alone_unless_it_names_a_secret():
    stream = 'event: x\ndata: {"type":"x","account_id":"acct-1234"}\n\ndata: {"type":"y","delta":"hi"}\n\n'
    entry = {"request": {"headers": {}, "body": None}, "response": {"headers": {}, "body": stream}}
    line = json.loads(Redactor().exchange(entry))
    body = line["response"]["body"]
    assert "acct-1234" not in body
    assert 'data: {"type":"y","delta":"hi"}' in body  # untouched byte for byte
