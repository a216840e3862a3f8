"""config.toml through the server subprocess: getUserSavedConfig, setDefaultModel, `-c` overrides and
start-up failures (PROTOCOL.md §1, §4.12, §4.13, §6.2; DECISIONS 9). Every expectation below was
checked side by side with codex app-server 0.58.0."""

from __future__ import annotations

import inspect
import json
import stat
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from pytest_codex_app_server import AppServerClient, JsonRpcError

ALL_NULL = {
    "approvalPolicy": None, "sandboxMode": None, "sandboxSettings": None, "forcedChatgptWorkspaceId": None,
    "forcedLoginMethod": None, "model": None, "modelReasoningEffort": None, "modelReasoningSummary": None,
    "modelVerbosity": None, "tools": None, "profile": None, "profiles": {},
}
FULL = """approval_policy = "on-request"
sandbox_mode = "workspace-write"
forced_chatgpt_workspace_id = "ws-1"
forced_login_method = "chatgpt"
model = "gpt-5.1"
model_reasoning_effort = "high"
model_reasoning_summary = "concise"
model_verbosity = "low"
unknown_key = 1

[sandbox_workspace_write]
network_access = true

[tools]
web_search = true

[profiles.a]
model = "m-a"
model_provider = "openai"
approval_policy = "never"
chatgpt_base_url = "https://x"
unknown = 2

[profiles.b]
"""
EMPTY_PROFILE = {"model": None, "modelProvider": None, "approvalPolicy": None, "modelReasoningEffort": None,
                 "modelReasoningSummary": None, "modelVerbosity": None, "chatgptBaseUrl": None}


def without_model(factory: Callable[..., AppServerClient]) -> dict[str, Any]:
    """The plugin may point config.toml at a scripted model of its own; these tests own the file."""
    return {"model": None} if "model" in inspect.signature(factory).parameters else {}


@pytest.fixture
def start(codex_app_server_factory: Callable[..., AppServerClient]) -> Callable[..., AppServerClient]:
    """`start(config_toml, args=(), initialize=True)`; `config_toml=None` leaves no config.toml."""

    def run(config_toml: str | None = "", args: Sequence[str] = (), initialize: bool = True) -> AppServerClient:
        return codex_app_server_factory(config_toml=config_toml, args=args, initialize=initialize,
                                        **without_model(codex_app_server_factory))

    return run


def rpc_error(client: AppServerClient, method: str, params: Any = None) -> tuple[int, str]:
    with pytest.raises(JsonRpcError) as raised:
        client.request(method, params)
    return raised.value.code, raised.value.message


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- getUserSavedConfig ---------------------------------------------------------------------------------
def test_saved_config_is_read_fresh_on_each_call(start: Callable[..., AppServerClient], codex_home: Path) -> None:
    client = start(None)
    assert not (codex_home / "config.toml").exists()
    assert client.request("getUserSavedConfig") == {"config": ALL_NULL}
    (codex_home / "config.toml").write_text(FULL)
    config = client.request("getUserSavedConfig")["config"]
    assert list(config) == list(ALL_NULL)
    assert config == {
        "approvalPolicy": "on-request", "sandboxMode": "workspace-write",
        "sandboxSettings": {"writableRoots": [], "networkAccess": True, "excludeTmpdirEnvVar": False,
                            "excludeSlashTmp": False},
        "forcedChatgptWorkspaceId": "ws-1", "forcedLoginMethod": "chatgpt", "model": "gpt-5.1",
        "modelReasoningEffort": "high", "modelReasoningSummary": "concise", "modelVerbosity": "low",
        "tools": {"webSearch": True, "viewImage": None}, "profile": None,
        "profiles": {
            "a": {**EMPTY_PROFILE, "model": "m-a", "modelProvider": "openai", "approvalPolicy": "never",
                  "chatgptBaseUrl": "https://x"},
            "b": EMPTY_PROFILE,
        },
    }
    assert list(config["profiles"]["a"]) == list(EMPTY_PROFILE)


def test_saved_config_errors_name_the_cause(start: Callable[..., AppServerClient], codex_home: Path) -> None:
    client = start()
    path = codex_home / "config.toml"
    path.write_text("model = 5\n")
    assert rpc_error(client, "getUserSavedConfig") == (
        -32603, "failed to parse config.toml: invalid type: integer `5`, expected a string\nin `model`\n")
    path.write_text('approval_policy = "bogus"\n')
    assert rpc_error(client, "getUserSavedConfig") == (
        -32603, "failed to parse config.toml: unknown variant `bogus`, expected one of `untrusted`, `on-failure`, "
                "`on-request`, `never`\nin `approval_policy`\n")
    path.write_text("model = \n")
    code, message = rpc_error(client, "getUserSavedConfig")
    # The parser's own diagnostic after the position may differ (DECISIONS: Rust library details).
    assert code == -32603
    assert message.startswith("failed to load config.toml: TOML parse error at line 1, column 9\n")
    assert message.endswith("\n")
    path.unlink()
    path.mkdir()
    assert rpc_error(client, "getUserSavedConfig") == (
        -32603, "failed to load config.toml: Is a directory (os error 21)")
    assert rpc_error(client, "setDefaultModel", {"model": "q"}) == (
        -32603, "failed to persist model selection: Is a directory (os error 21)")
    path.rmdir()
    assert client.request("getUserSavedConfig") == {"config": ALL_NULL}
    # setDefaultModel refuses an unparseable file and leaves it alone.
    path = codex_home / "config.toml"
    path.write_text("model = \n")
    code, message = rpc_error(client, "setDefaultModel", {"model": "q"})
    assert code == -32603
    assert message.startswith("failed to persist model selection: TOML parse error at line 1, column 9\n")
    assert path.read_text() == "model = \n"


# -- setDefaultModel --------------------------------------------------------------------------------------
EDITS = [
    # Removing a key removes the comment lines directly above it.
    ('a = 1\n# about model\nmodel = "x"\nb = 2\n', {}, "a = 1\nb = 2\n"),
    # Replaced in place (its trailing comment is lost); a new key goes after the table's last key.
    ('model = "old" # trailing\nother = 1\n\n# before table\n[t]\nk = 1\n',
     {"model": "gpt-5.1", "reasoningEffort": "low"},
     'model = "gpt-5.1"\nother = 1\nmodel_reasoning_effort = "low"\n\n# before table\n[t]\nk = 1\n'),
    ("x = 1\n\n# c\n[profiles.p]\nq = 1\n", {"model": "m"}, 'x = 1\nmodel = "m"\n\n# c\n[profiles.p]\nq = 1\n'),
    # Nothing left: an empty file.
    ('model = "x"\nmodel_reasoning_effort = "high"\n', {"model": None, "reasoningEffort": None}, ""),
    # No file: created.
    (None, {"model": "z"}, 'model = "z"\n'),
]


def test_set_default_model_edits_in_place(start: Callable[..., AppServerClient], codex_home: Path) -> None:
    path = codex_home / "config.toml"
    client = start(None)
    for before, params, after in EDITS:
        path.unlink(missing_ok=True)
        if before is not None:
            path.write_text(before)
            path.chmod(0o644)
        assert client.request("setDefaultModel", params) == {}
        assert path.read_text() == after, before
        assert mode(path) == 0o600  # written anew (temp file, rename), whatever it was
    assert client.take_notifications() == []


def test_set_default_model_targets_the_startup_profile(start: Callable[..., AppServerClient],
                                                       codex_home: Path) -> None:
    path = codex_home / "config.toml"
    client = start('profile = "p"\n[profiles.p]\nmodel = "o"\n')
    assert client.request("setDefaultModel", {"model": "z", "reasoningEffort": "minimal"}) == {}
    assert path.read_text() == 'profile = "p"\n[profiles.p]\nmodel = "z"\nmodel_reasoning_effort = "minimal"\n'
    # The profile is the one active at start-up: editing the file does not move the target.
    path.write_text('profile = "other"\n[profiles.other]\n')
    assert client.request("setDefaultModel", {"model": "y"}) == {}
    saved = client.request("getUserSavedConfig")["config"]
    assert saved["profile"] == "other"
    assert saved["profiles"]["p"]["model"] == "y"
    assert saved["profiles"]["other"] == EMPTY_PROFILE
    assert saved["model"] is None
    # A value of the wrong type in the file is simply overwritten.
    path.write_text("[profiles.p]\nmodel = 5 # c\n")
    assert client.request("setDefaultModel", {"model": "s"}) == {}
    assert path.read_text() == '[profiles.p]\nmodel = "s"\n'


# -- -c overrides and start-up --------------------------------------------------------------------------------
def test_command_line_overrides_apply_to_the_session(start: Callable[..., AppServerClient],
                                                     codex_home: Path) -> None:
    args = ["-c", 'profile="x"', "-c", 'forced_login_method="api"', "-c", 'model_provider="m"',
            "-c", 'model_providers.m={name="m", base_url="http://127.0.0.1:1"}']
    client = start("[profiles.x]\nmodel = \"a\"\n", args=args)
    # A custom provider does not need OpenAI auth; ChatGPT login is refused.
    assert client.request("getAuthStatus", {}) == {"authMethod": None, "authToken": None, "requiresOpenaiAuth": False}
    assert rpc_error(client, "loginChatGpt") == (-32600, "ChatGPT login is disabled. Use API key login instead.")
    # The profile chosen on the command line is the one setDefaultModel edits.
    assert client.request("setDefaultModel", {"model": "m1", "reasoningEffort": "high"}) == {}
    assert (codex_home / "config.toml").read_text() == '[profiles.x]\nmodel = "m1"\nmodel_reasoning_effort = "high"\n'
    # getUserSavedConfig shows the file, not the overrides.
    saved = client.request("getUserSavedConfig")["config"]
    assert (saved["profile"], saved["forcedLoginMethod"]) == (None, None)
    assert saved["profiles"] == {"x": {**EMPTY_PROFILE, "model": "m1", "modelReasoningEffort": "high"}}
    # An unquoted value is taken as a string.
    other = start(None, args=["-c", "model=gpt-5-unquoted", "-c", "sandbox_workspace_write.network_access=true"])
    assert other.request("getUserAgent")["userAgent"]


@pytest.mark.parametrize(
    ("config_toml", "args", "detail"),
    [
        ("model = 5\n", (), "invalid type: integer `5`, expected a string\nin `model`"),
        ('approval_policy = "bogus"\n', (),
         "unknown variant `bogus`, expected one of `untrusted`, `on-failure`, `on-request`, `never`\n"
         "in `approval_policy`"),
        ('profile = "nope"\n', (), "config profile `nope` not found"),
        ("[profiles.x]\nmodel = 3\n", (), "invalid type: integer `3`, expected a string\nin `profiles.x.model`"),
        ("", ("-c", "model=5"), "invalid type: integer `5`, expected a string\nin `model`"),
        ("", ("-c", 'profile="nope"'), "config profile `nope` not found"),
        ("model = \n", (), "TOML parse error at line 1, column 9\n"),
    ],
)
def test_invalid_config_exits_1_before_reading_stdin(start: Callable[..., AppServerClient], config_toml: str,
                                                     args: tuple[str, ...], detail: str) -> None:
    client = start(config_toml, args=args, initialize=False)
    assert client.process.wait(30) == 1
    assert client.lines == []
    assert client.wait_stderr(detail).startswith(f"Error: error loading config: {detail}")


def test_malformed_override_is_named_as_such(start: Callable[..., AppServerClient]) -> None:
    client = start("", args=("-c", "noequals"), initialize=False)
    assert client.process.wait(30) == 1
    expected = "Error: error parsing -c overrides: Invalid override (missing '='): noequals"
    assert client.wait_stderr("Error: ").startswith(expected)


def test_requests_read_before_eof_are_answered(start: Callable[..., AppServerClient], codex_home: Path) -> None:
    client = start()
    ids = [client.send("setDefaultModel", {"model": "m"}), client.send("getUserSavedConfig"),
           client.send("getAuthStatus", {})]
    assert client.close() == 0
    answered = {json.loads(line).get("id") for line in client.lines}
    assert (codex_home / "config.toml").read_text() == 'model = "m"\n'
    assert [request_id in answered for request_id in ids] == [True, True, True]
