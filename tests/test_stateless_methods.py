"""Methods that need no model, login or stored conversation (PROTOCOL.md §4.1, §4.14–4.19)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time

import pytest
from pytest_codex_app_server import JsonRpcError

MODEL_IDS = ["gpt-5.1-codex", "gpt-5.1-codex-mini", "gpt-5.1"]


def test_model_list_returns_the_three_presets_in_wire_order(codex_app_server):
    result = codex_app_server.request("model/list", {})
    assert [model["id"] for model in result["data"]] == MODEL_IDS
    assert result["nextCursor"] is None
    first = result["data"][0]
    assert list(first) == ["id", "model", "displayName", "description", "supportedReasoningEfforts",
                           "defaultReasoningEffort", "isDefault"]
    assert first["supportedReasoningEfforts"][0] == {
        "reasoningEffort": "low", "description": "Fastest responses with limited reasoning"}
    assert [model["isDefault"] for model in result["data"]] == [True, False, False]


@pytest.mark.parametrize(
    ("params", "ids", "cursor"),
    [
        ({"limit": 1}, MODEL_IDS[:1], "1"),
        ({"limit": 0}, MODEL_IDS[:1], "1"),
        ({"limit": 2, "cursor": "1"}, MODEL_IDS[1:], None),
        ({"cursor": "+1"}, MODEL_IDS[1:], None),
        ({"cursor": "3"}, [], None),
        ({"limit": 99}, MODEL_IDS, None),
    ],
)
def test_model_list_paging(codex_app_server, params, ids, cursor):
    result = codex_app_server.request("model/list", params)
    assert [model["id"] for model in result["data"]] == ids
    assert result["nextCursor"] == cursor


@pytest.mark.parametrize(
    ("cursor", "message"),
    [("-1", "invalid cursor: -1"), (" 1", "invalid cursor:  1"), ("abc", "invalid cursor: abc"),
     ("4", "cursor 4 exceeds total models 3")],
)
def test_model_list_cursor_errors(codex_app_server, cursor, message):
    with pytest.raises(JsonRpcError) as error:
        codex_app_server.request("model/list", {"cursor": cursor})
    assert (error.value.code, error.value.message) == (-32600, message)


def test_thread_compact_is_not_implemented_as_in_058(codex_app_server):
    with pytest.raises(JsonRpcError) as error:
        codex_app_server.request("thread/compact", {"threadId": "bogus"})
    assert (error.value.code, error.value.message) == (-32603, "thread/compact is not implemented yet")
    with pytest.raises(JsonRpcError) as missing:
        codex_app_server.request("thread/compact", {})
    assert missing.value.message == "Invalid request: missing field `threadId`"


def test_exec_one_off_command_runs_unconfined_only_when_asked(codex_app_server, tmp_path):
    full = {"mode": "danger-full-access"}
    result = codex_app_server.request("execOneOffCommand", {"command": ["echo", "hello"], "sandboxPolicy": full})
    assert result == {"exitCode": 0, "stdout": "hello\n", "stderr": ""}
    mixed = codex_app_server.request(
        "execOneOffCommand",
        {"command": ["sh", "-c", "echo out; echo err 1>&2; exit 3"], "sandboxPolicy": full, "cwd": str(tmp_path)},
    )
    assert mixed == {"exitCode": 3, "stdout": "out\n", "stderr": "err\n"}
    with pytest.raises(JsonRpcError) as empty:
        codex_app_server.request("execOneOffCommand", {"command": [], "sandboxPolicy": full})
    assert (empty.value.code, empty.value.message) == (-32600, "command must not be empty")
    with pytest.raises(JsonRpcError) as missing:
        codex_app_server.request("execOneOffCommand", {"command": ["/no/such/program"], "sandboxPolicy": full})
    assert (missing.value.code, missing.value.message) == (
        -32603, "exec failed: No such file or directory (os error 2)")
    with pytest.raises(JsonRpcError) as timed_out:
        codex_app_server.request("execOneOffCommand",
                                 {"command": ["sleep", "5"], "sandboxPolicy": full, "timeoutMs": 200})
    assert timed_out.value.message == "exec failed: sandbox error: command timed out"


def test_exec_one_off_command_keeps_answering_other_requests_meanwhile(codex_app_server):
    slow = codex_app_server.send("execOneOffCommand",
                                 {"command": ["sleep", "2"], "sandboxPolicy": {"mode": "danger-full-access"}})
    assert codex_app_server.request("getUserAgent")["userAgent"]
    assert not any(f'"id":{slow},' in line for line in codex_app_server.lines)
    assert codex_app_server.wait_response(slow)["exitCode"] == 0


def test_exec_one_off_camel_case_policy_is_rejected_like_058(codex_app_server):
    with pytest.raises(JsonRpcError) as error:
        codex_app_server.request("execOneOffCommand",
                                 {"command": ["true"], "sandboxPolicy": {"mode": "dangerFullAccess"}})
    assert error.value.code == -32600
    assert error.value.message.startswith("Invalid request: unknown variant `dangerFullAccess`")


def test_git_diff_to_remote_outside_a_repository_fails_with_the_debug_path(codex_app_server, tmp_path):
    target = tmp_path / 'no "repo"'
    target.mkdir()
    with pytest.raises(JsonRpcError) as error:
        codex_app_server.request("gitDiffToRemote", {"cwd": str(target)})
    escaped = str(target).replace('"', '\\"')
    assert (error.value.code, error.value.message) == (
        -32600, f'failed to compute git diff to remote for cwd: "{escaped}"')


def test_feedback_upload_answers_at_once_and_writes_a_private_bundle(codex_app_server):
    result = codex_app_server.request("feedback/upload", {"classification": "bug", "includeLogs": True,
                                                          "reason": "it broke"})
    assert result["threadId"].startswith("no-active-thread-")
    given = codex_app_server.request("feedback/upload", {"classification": "bug", "includeLogs": False,
                                                         "conversationId": "01a20b1c-2dc0-75c1-8229-94f813206ed2"})
    assert given == {"threadId": "01a20b1c-2dc0-75c1-8229-94f813206ed2"}
    folder = codex_app_server.codex_home / "feedback"
    deadline = time.monotonic() + 30
    while True:
        bundles = sorted(folder.glob("*.json")) if folder.exists() else []
        if len(bundles) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(bundles) == 2
    contents = [json.loads(path.read_text()) for path in bundles]
    assert {bundle["classification"] for bundle in contents} == {"bug"}
    assert all(stat.S_IMODE(os.stat(path).st_mode) == 0o600 for path in bundles)


def test_invalid_config_fails_start_up_like_058(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('profile = "nope"\n')
    result = subprocess.run([sys.executable, "-c", "import server; server.main()"],
                            env={**os.environ, "CODEX_HOME": str(home)}, capture_output=True, text=True,
                            timeout=30, stdin=subprocess.DEVNULL)
    assert result.returncode == 1
    assert result.stderr.strip().endswith("Error: error loading config: config profile `nope` not found")
    assert result.stdout == ""


def test_missing_codex_home_is_created_private(tmp_path):
    home = tmp_path / "fresh" / "home"
    result = subprocess.run([sys.executable, "-c", "import server; server.main()"],
                            env={**os.environ, "CODEX_HOME": str(home)}, capture_output=True, text=True,
                            timeout=30, input="")
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(home.stat().st_mode) == 0o700


def test_app_server_subcommand_is_accepted(tmp_path):
    request = '{"id":1,"method":"initialize","params":{"clientInfo":{"name":"ide","version":"9"}}}\n'
    result = subprocess.run([sys.executable, "-c", "import server; server.main()", "app-server"],
                            env={**os.environ, "CODEX_HOME": str(tmp_path)}, capture_output=True, text=True,
                            timeout=30, input=request)
    assert result.returncode == 0
    assert json.loads(result.stdout)["result"]["userAgent"].endswith("(ide; 9)")


def test_exec_one_off_command_is_confined_by_its_sandbox_policy(codex_app_server, tmp_path):
    inside, outside = tmp_path / "work", tmp_path / "elsewhere"
    inside.mkdir()
    outside.mkdir()
    write = ["sh", "-c", "echo data > \"$0\"/f.txt && echo wrote", "{}"]
    # tmp_path lives under /tmp, which workspace-write allows unless excluded.
    policy = {"mode": "workspace-write", "writable_roots": [str(inside)], "exclude_slash_tmp": True,
              "exclude_tmpdir_env_var": True}

    def run(target, sandbox):
        argv = [part.format(target) if part == "{}" else part for part in write]
        return codex_app_server.request("execOneOffCommand",
                                        {"command": argv, "cwd": str(inside), "sandboxPolicy": sandbox})

    assert run(inside, policy)["stdout"] == "wrote\n"
    denied = run(outside, policy)
    assert denied["exitCode"] != 0 and not (outside / "f.txt").exists()
    read_only = run(inside, {"mode": "read-only"})
    assert read_only["exitCode"] != 0
    # The default policy comes from config (read-only unless config.toml says otherwise).
    default = codex_app_server.request("execOneOffCommand", {"command": ["touch", str(outside / "g")]})
    assert default["exitCode"] != 0 and not (outside / "g").exists()


def test_sigterm_exits_zero(codex_app_server):
    import signal

    codex_app_server.request("getUserAgent")
    codex_app_server.process.send_signal(signal.SIGTERM)
    assert codex_app_server.process.wait(5) == 0


def test_generate_json_schema_writes_every_type_we_speak(tmp_path):
    out = tmp_path / "schema"
    result = subprocess.run([sys.executable, "-c", "import server; server.main()", "generate-json-schema",
                             "--out", str(out)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    names = {path.stem for path in out.rglob("*.json")}
    for expected in ("InitializeParams", "NewConversationParams", "CompleteLoginAccountParams",
                     "DaemonStatusResponse", "MockModelScript"):
        assert any(expected in name for name in names), expected
    for path in out.rglob("*.json"):
        json.loads(path.read_text())


def _git(cwd, *args):
    subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@e"})


@pytest.fixture
def repo_with_remote(tmp_path):
    remote, work = tmp_path / "remote.git", tmp_path / "work"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True)
    (work / "a.txt").write_text("one\n")
    _git(work, "add", "a.txt")
    _git(work, "commit", "-qm", "first")
    _git(work, "remote", "add", "origin", str(remote))
    _git(work, "push", "-q", "origin", "main")
    (work / "a.txt").write_text("one\ntwo\n")
    (work / "new.txt").write_text("fresh\n")
    return work


def test_git_diff_to_remote_returns_the_remote_sha_and_the_diff(codex_app_server, repo_with_remote):
    sha = subprocess.run(["git", "-C", str(repo_with_remote), "rev-parse", "origin/main"], capture_output=True,
                         text=True, check=True).stdout.strip()
    result = codex_app_server.request("gitDiffToRemote", {"cwd": str(repo_with_remote)})
    assert list(result) == ["sha", "diff"]
    assert result["sha"] == sha
    assert "+two" in result["diff"] and "b/new.txt" in result["diff"] and "+fresh" in result["diff"]


def test_a_slow_git_diff_never_delays_other_requests(codex_app_server_factory, repo_with_remote, tmp_path):
    # A git that takes a while per command (as on a huge repository or a slow disk).
    slow_bin = tmp_path / "slow-bin"
    slow_bin.mkdir()
    real_git = subprocess.run(["which", "git"], capture_output=True, text=True, check=True).stdout.strip()
    (slow_bin / "git").write_text(f"#!/bin/sh\nsleep 0.3\nexec {real_git} \"$@\"\n")
    (slow_bin / "git").chmod(0o755)
    client = codex_app_server_factory(env={**os.environ, "PATH": f"{slow_bin}:{os.environ['PATH']}"})
    diff_id = client.send("gitDiffToRemote", {"cwd": str(repo_with_remote)})
    agent_id = client.send("getUserAgent")
    assert client.wait_response(agent_id)["userAgent"]
    assert not any(f'"id":{diff_id},' in line for line in client.lines)  # still computing
    assert client.wait_response(diff_id, timeout=60)["diff"]


def test_feedback_bundle_holds_logs_and_the_rollout_and_is_posted_where_configured(codex_app_server_factory,
                                                                                  codex_home):
    import http.server
    import threading

    received: list[bytes] = []

    class Collector(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - stdlib naming
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    collector = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    conversation = "01a20b1c-2dc0-75c1-8229-94f813206ed2"
    day = codex_home / "sessions" / "2026" / "11" / "24"
    day.mkdir(parents=True)
    rollout = day / f"rollout-2026-11-24T10-12-07-{conversation}.jsonl"
    rollout.write_text('{"timestamp":"2026-11-24T01:12:07.000Z","type":"session_meta","payload":{"id":"'
                       + conversation + '","timestamp":"2026-11-24T01:12:07.000Z","cwd":"/tmp","originator":"x",'
                       '"cli_version":"0.58.0","instructions":null,"source":"vscode"}}\n')
    try:
        client = codex_app_server_factory(
            config_toml=f'[feedback]\nurl = "http://127.0.0.1:{collector.server_address[1]}/feedback"\n',
            env={**os.environ, "CODEX_APP_SERVER_LOG": "info"})
        result = client.request("feedback/upload", {"classification": "bad_result", "includeLogs": True,
                                                    "reason": "wrong answer", "conversationId": conversation})
        assert result == {"threadId": conversation}
        deadline = time.monotonic() + 30
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(received) == 1, client.stderr_text()[-3000:]
        bundle = json.loads(received[0])
        assert bundle["classification"] == "bad_result" and bundle["reason"] == "wrong answer"
        assert bundle["rollout"]["path"] == str(rollout)
        assert conversation in bundle["rollout"]["content"]
        assert isinstance(bundle["logs"], list)
        written = list((codex_home / "feedback").glob("*.json"))
        assert [json.loads(path.read_text()) for path in written] == [bundle]
    finally:
        collector.shutdown()
