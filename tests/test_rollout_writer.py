"""Rollout files: the writer's line format, and a whole conversation line by line against a rollout
recorded from codex 0.58.0 (tests/fixtures/rollout_058_*.jsonl, same script, ids normalised)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from actors.rollout_writer import (
    RolloutWriter,
    new_conversation_id,
    read_rollout,
    rollout_path,
    session_meta,
    utc_timestamp,
)
from codex_mock_model import MockModel
from tests.test_conversations import Harness

FIXTURES = Path(__file__).parent / "fixtures"
USAGE = {"input_tokens": 10, "output_tokens": 5}


def test_timestamp_and_path_format(tmp_path: Path) -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", utc_timestamp(1795556516.4191))
    assert utc_timestamp(0.5) == "1970-01-01T00:00:00.500Z"
    cid = new_conversation_id()
    assert cid[14] == "7" and cid[19] in "89ab"
    now = time.mktime((2026, 11, 24, 21, 41, 56, 0, 0, -1))
    path = rollout_path(tmp_path, cid, now)
    assert path == tmp_path / "sessions/2026/11/24" / f"rollout-2026-11-24T21-41-56-{cid}.jsonl"


def test_writer_lines_and_persisted_events(tmp_path: Path) -> None:
    path = tmp_path / "s" / "r.jsonl"
    meta = session_meta("id-1", "2026-01-01T00:00:00.000Z", tmp_path, None, "p", None)
    writer = RolloutWriter.create(path, meta, [{"type": "message", "role": "user", "content": []}], lambda: 0.0)
    writer.persist_event({"type": "agent_message_delta", "delta": "x"})
    writer.persist_event({"type": "agent_message", "message": "é"})
    writer.close()
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    assert lines[0].startswith(b'{"timestamp":"1970-01-01T00:00:00.000Z","type":"session_meta","payload":{"id":"id-1"')
    assert "git" not in json.loads(lines[0])["payload"]
    assert [json.loads(line)["type"] for line in lines[:-1]] == ["session_meta", "response_item", "event_msg"]
    assert json.loads(lines[2])["payload"] == {"type": "agent_message", "message": "é"}
    with open(path, "ab") as handle:
        handle.write(b'{"timestamp":"x","type":"event_')  # a torn last line is skipped
    assert len(read_rollout(path)) == 3
    again = RolloutWriter.append_to(path)
    assert again.path == path


def _normalise(records: list[dict[str, Any]], cwd: str) -> list[dict[str, Any]]:
    out = []
    for record in records:
        text = json.dumps(record["payload"]).replace(cwd, "CWD")
        payload = json.loads(text)
        if record["type"] == "session_meta":
            payload["id"] = payload["timestamp"] = "X"
        if payload.get("type") == "function_call":
            payload["arguments"] = json.loads(payload["arguments"])
        if payload.get("type") == "function_call_output":
            output = json.loads(payload["output"])
            output["metadata"]["duration_seconds"] = "D"
            payload["output"] = output
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["timestamp"])
        out.append({"type": record["type"], "payload": payload})
    return out


def test_two_turns_match_058_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHELL", "/bin/bash")
    fixture = read_rollout(FIXTURES / "rollout_058_two_turns.jsonl")
    with MockModel() as model:
        model.enqueue(
            {"type": "text", "text": "Hello there, friend!", "deltas": 3, "usage": USAGE},
            {"type": "shell", "command": ["python3", "-c", "print(42)"], "call_id": "call-1", "usage": USAGE},
            {"type": "text", "text": "done 1", "deltas": 3, "usage": USAGE},
        )
        harness = Harness(tmp_path, model)
        cid = harness.new_conversation()
        harness.listen(cid)
        harness.send(cid, "hi there")
        first = harness.event("task_complete", cid)
        harness.send(cid, "run python")
        harness.event("task_complete", cid, after=harness.log.index(first) + 1)
        ours = read_rollout(next(harness.home.glob("sessions/*/*/*/*.jsonl")))
    theirs = _normalise(fixture, "/tmp/cap/w")
    mine = _normalise(ours, str(harness.cwd))
    assert len(mine) == len(theirs)
    for index, (a, b) in enumerate(zip(mine, theirs, strict=True)):
        assert a == b, f"line {index + 1}"


def test_interrupted_turn_matches_058_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from messages import v2

    monkeypatch.setenv("SHELL", "/bin/bash")
    fixture = read_rollout(FIXTURES / "rollout_058_interrupt.jsonl")
    with MockModel() as model:
        model.enqueue({"type": "stall", "text": "partial", "deltas": 1, "after_deltas": 1},
                      {"type": "text", "text": "after", "deltas": 3, "usage": USAGE})
        harness = Harness(tmp_path, model)
        thread = harness.answer(harness.call("thread/start", "thread_start", v2.ThreadStartParams()))["thread"]
        tid = thread["id"]
        first = v2.TurnStartParams(thread_id=tid, input=[v2.TextUserInput(text="hi there")])
        harness.call("turn/start", "turn_start", first)
        harness.event("agent_message_delta", tid)
        stop = v2.TurnInterruptParams(thread_id=tid, turn_id="0")
        harness.answer(harness.call("turn/interrupt", "turn_interrupt", stop))
        params = v2.TurnStartParams(thread_id=tid, input=[v2.TextUserInput(text="again")], model="other-model")
        turn = harness.answer(harness.call("turn/start", "turn_start", params))["turn"]
        assert turn["id"] == "3"  # as 0.58: interrupt took 1, the override 2
        harness.event("task_complete", tid)
        ours = read_rollout(Path(thread["path"]))
    theirs = _normalise(fixture, "/tmp/cap/w")
    mine = _normalise(ours, str(harness.cwd))
    assert mine == theirs
