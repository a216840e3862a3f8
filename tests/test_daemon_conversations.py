"""Daemon mode with live conversations: shared subscriptions, disconnects, slow clients (issue 9)."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time

from websockets.sync.client import unix_connect

from codex_mock_model import MockModel


def _config(model: MockModel, approval: str = "never", sandbox: str = "danger-full-access") -> str:
    return f"""model = "mock-model"
model_provider = "mock"
approval_policy = "{approval}"
sandbox_mode = "{sandbox}"

[model_providers.mock]
name = "mock"
base_url = "{model.base_url}"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
"""


def _start(client, cwd) -> str:
    result = client.request("newConversation", {"cwd": str(cwd)})
    return result["conversationId"]


def _event_methods(client, conversation_id: str) -> list[str]:
    return [method for method, params in client.all_notifications
            if method.startswith("codex/event/") and params.get("conversationId") == conversation_id]


def test_a_second_client_subscribes_to_the_first_ones_conversation(codex_daemon_factory, model, tmp_path):
    daemon = codex_daemon_factory(config_toml=_config(model))
    first, second = daemon.connect(name="first"), daemon.connect(name="second")
    conversation = _start(first, tmp_path)
    first.request("addConversationListener", {"conversationId": conversation})
    second.request("addConversationListener", {"conversationId": conversation})
    model.enqueue({"type": "text", "text": "Hello from the shared turn", "deltas": 5})
    first.request("sendUserMessage", {"conversationId": conversation,
                                      "items": [{"type": "text", "data": {"text": "hi"}}]})
    first.wait_notification("codex/event/task_complete")
    second.wait_notification("codex/event/task_complete")
    assert _event_methods(first, conversation) == _event_methods(second, conversation)
    assert _event_methods(first, conversation).count("codex/event/agent_message_delta") == 5
    # The model request carried the user agent of the connection that sent the input.
    assert model.requests()[-1]["headers"].get("user-agent", "").endswith("(first; 0.0.0)")


def test_one_connection_with_two_subscriptions_receives_each_event_once(codex_daemon_factory, model, tmp_path):
    daemon = codex_daemon_factory(config_toml=_config(model))
    client = daemon.connect()
    conversation = _start(client, tmp_path)
    for _ in range(2):
        client.request("addConversationListener", {"conversationId": conversation})
    model.enqueue({"type": "text", "text": "once", "deltas": 3})
    client.request("sendUserMessage", {"conversationId": conversation,
                                       "items": [{"type": "text", "data": {"text": "hi"}}]})
    client.wait_notification("codex/event/task_complete")
    assert _event_methods(client, conversation).count("codex/event/agent_message_delta") == 3
    assert _event_methods(client, conversation).count("codex/event/task_complete") == 1


def test_a_client_leaving_mid_turn_does_not_stop_the_turn(codex_daemon_factory, model, tmp_path):
    daemon = codex_daemon_factory(config_toml=_config(model))
    leaver, watcher = daemon.connect(name="leaver"), daemon.connect(name="watcher")
    conversation = _start(leaver, tmp_path)
    leaver.request("addConversationListener", {"conversationId": conversation})
    watcher.request("addConversationListener", {"conversationId": conversation})
    model.enqueue({"type": "stall", "text": "finished after all", "deltas": 4, "after_deltas": 2})
    leaver.request("sendUserMessage", {"conversationId": conversation,
                                       "items": [{"type": "text", "data": {"text": "work"}}]})
    model.wait_for_stall()
    leaver.close()
    model.release()
    complete = watcher.wait_notification("codex/event/task_complete")
    assert complete["msg"]["last_agent_message"] == "finished after all"
    rollouts = list((daemon.process.codex_home / "sessions").rglob("rollout-*.jsonl"))
    assert len(rollouts) == 1
    kinds = [json.loads(line)["payload"].get("type") for line in rollouts[0].read_text().splitlines()]
    assert "agent_message" in kinds


def test_a_client_that_stops_reading_does_not_delay_another_clients_stream(codex_daemon_factory, model, tmp_path):
    daemon = codex_daemon_factory(config_toml=_config(model))
    reader = daemon.connect(name="reader")
    conversation = _start(reader, tmp_path)
    reader.request("addConversationListener", {"conversationId": conversation})
    # A client that subscribes and then never reads: once its small receive queue is full the
    # websocket library stops reading the socket, and the daemon's sends to it block.
    stalled = unix_connect(str(daemon.socket_path), uri="ws://localhost/", max_queue=4, legacy=True)
    stalled.send(json.dumps({"id": 1, "method": "initialize",
                             "params": {"clientInfo": {"name": "stalled", "version": "1"}}}))
    stalled.send(json.dumps({"id": 2, "method": "addConversationListener",
                             "params": {"conversationId": conversation}}))
    model.enqueue({"type": "text", "text": "x" * 4000, "deltas": 4000})
    reader.request("sendUserMessage", {"conversationId": conversation,
                                       "items": [{"type": "text", "data": {"text": "go"}}]})
    complete = reader.wait_notification("codex/event/task_complete", timeout=60)
    assert complete["msg"]["last_agent_message"] == "x" * 4000
    stalled.socket.shutdown(socket.SHUT_RDWR)


def test_sigterm_during_a_turn_ends_it_and_exits_zero(codex_daemon_factory, model, tmp_path):
    daemon = codex_daemon_factory(config_toml=_config(model))
    client = daemon.connect()
    conversation = _start(client, tmp_path)
    client.request("addConversationListener", {"conversationId": conversation})
    model.enqueue({"type": "stall", "text": "never finished", "deltas": 4, "after_deltas": 1})
    client.request("sendUserMessage", {"conversationId": conversation,
                                       "items": [{"type": "text", "data": {"text": "long job"}}]})
    model.wait_for_stall()
    daemon.process.process.send_signal(signal.SIGTERM)
    aborted = client.wait_notification("codex/event/turn_aborted", timeout=10)
    assert aborted["conversationId"] == conversation
    assert daemon.process.process.wait(10) == 0
    assert not daemon.socket_path.exists()


def test_fifty_clients_streaming_at_once_lose_and_cross_nothing(codex_daemon_factory, model, tmp_path):
    daemon = codex_daemon_factory(config_toml=_config(model))
    clients = [daemon.connect(name=f"c{index}") for index in range(50)]
    conversations = []
    for index, client in enumerate(clients):
        conversation = _start(client, tmp_path)
        client.request("addConversationListener", {"conversationId": conversation})
        conversations.append(conversation)
        model.enqueue({"type": "text", "text": f"[{index}]" + "y" * 99, "deltas": 100, "match": f"<client {index}>"})
    errors: list[str] = []

    def run(index: int) -> None:
        client, conversation = clients[index], conversations[index]
        client.request("sendUserMessage", {"conversationId": conversation,
                                           "items": [{"type": "text", "data": {"text": f"<client {index}>"}}]})
        done = client.wait_notification("codex/event/task_complete", timeout=120)
        answer = done["msg"]["last_agent_message"] or ""
        if not answer.startswith(f"[{index}]"):
            errors.append(f"client {index} got {answer[:10]!r}")
        foreign = [p for m, p in client.all_notifications
                   if m.startswith("codex/event/") and p.get("conversationId") != conversation]
        if foreign:
            errors.append(f"client {index} saw {len(foreign)} foreign events")
        deltas = _event_methods(client, conversation).count("codex/event/agent_message_delta")
        if deltas != 100:
            errors.append(f"client {index} saw {deltas} deltas")

    threads = [threading.Thread(target=run, args=(index,)) for index in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(180)
    assert errors == []


def test_a_subscriber_past_its_output_bound_is_closed_and_the_stream_goes_on(codex_daemon_factory, model, tmp_path):
    daemon = codex_daemon_factory(config_toml=_config(model),
                                  env={**os.environ, "CODEX_APP_SERVER_CONNECTION_BUFFER_BYTES": "200000"})
    driver = daemon.connect(name="driver")  # starts the turn but does not subscribe
    conversation = _start(driver, tmp_path)
    stalled = unix_connect(str(daemon.socket_path), uri="ws://localhost/", max_queue=4, legacy=True)
    stalled.send(json.dumps({"id": 1, "method": "initialize",
                             "params": {"clientInfo": {"name": "stalled", "version": "1"}}}))
    stalled.send(json.dumps({"id": 2, "method": "addConversationListener",
                             "params": {"conversationId": conversation}}))
    model.enqueue({"type": "text", "text": "x" * 8000, "deltas": 8000})
    driver.request("sendUserMessage", {"conversationId": conversation,
                                       "items": [{"type": "text", "data": {"text": "go"}}]})
    daemon.process.wait_stderr("bytes unsent; closing it", timeout=30)
    rollout = next((daemon.process.codex_home / "sessions").rglob("rollout-*.jsonl"))
    deadline = time.monotonic() + 60
    while '"type":"agent_message","message":"' + "x" * 8000 not in rollout.read_text():
        assert time.monotonic() < deadline, "the turn did not finish after the stalled client was cut off"
        time.sleep(0.05)
    assert driver.request("getUserAgent")["userAgent"].endswith("(driver; 0.0.0)")
    stalled.socket.close()
