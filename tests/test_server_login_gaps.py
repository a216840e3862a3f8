"""Login requirements of issue 3 that were tested only at actor level, tested here through the server
subprocess: the keyring credential store (a file-backed keyring backend chosen by
`PYTHON_KEYRING_BACKEND`), pipelined login/logout/status requests never exposing a torn `auth.json`,
and two server processes on one CODEX_HOME refreshing at once making one refresh."""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mock_issuer import MockIssuer, id_token_claims, make_jwt
from pytest_codex_app_server import AppServerClient

Start = Callable[..., AppServerClient]
KEYRING_SERVICE = "Codex Auth"  # the Rust CLI's names (DECISIONS 11)

# A keyring backend that keeps its entries in a JSON file, so the test can read what the server
# stored and a second server process sees the first one's entries.
KEYRING_MODULE = '''
import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class FileKeyring(KeyringBackend):
    priority = 1

    def _path(self):
        return Path(os.environ["GAPS_KEYRING_FILE"])

    def _load(self):
        try:
            return json.loads(self._path().read_text())
        except FileNotFoundError:
            return {}

    def _save(self, entries):
        temp = self._path().with_suffix(".tmp")
        temp.write_text(json.dumps(entries))
        os.replace(temp, self._path())

    def get_password(self, service, username):
        return self._load().get(service, {}).get(username)

    def set_password(self, service, username, password):
        entries = self._load()
        entries.setdefault(service, {})[username] = password
        self._save(entries)

    def delete_password(self, service, username):
        entries = self._load()
        if username not in entries.get(service, {}):
            raise PasswordDeleteError("not found")
        del entries[service][username]
        self._save(entries)
'''


@pytest.fixture
def issuer() -> Iterator[MockIssuer]:
    mock = MockIssuer().start()
    yield mock
    mock.stop()


def base_env(issuer: MockIssuer, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "CODEX_API_KEY")}
    env.update(CODEX_APP_SERVER_ISSUER=issuer.url, CODEX_APP_SERVER_LOGIN_PORT="0",
               CODEX_REFRESH_TOKEN_URL_OVERRIDE=f"{issuer.url}/oauth/token")
    env.update(extra)
    return env


@pytest.fixture
def start(codex_app_server_factory: Start, issuer: MockIssuer) -> Start:
    """`start(config="", env=None, home=None)`: a server with no model, wired to the mock issuer."""

    def go(config: str = "", env: dict[str, str] | None = None, home: Path | None = None) -> AppServerClient:
        text = f'chatgpt_base_url = "{issuer.url}/backend-api/"\n' + config
        return codex_app_server_factory(config_toml=text, env=env or base_env(issuer), model=None, home=home)

    return go


def keyring_account(codex_home: Path) -> str:
    return "cli|" + hashlib.sha256(str(codex_home.resolve()).encode()).hexdigest()[:16]


def write_chatgpt_auth(home: Path) -> None:
    document = {
        "OPENAI_API_KEY": None,
        "tokens": {"id_token": make_jwt(id_token_claims("user@example.com", "pro", "acct-123")),
                   "access_token": "acc-1", "refresh_token": "ref-1", "account_id": "acct-123"},
        "last_refresh": "2099-01-01T00:00:00Z",
    }
    (home / "auth.json").write_text(json.dumps(document))


# -- keyring store --------------------------------------------------------------------------------------------
def test_keyring_store_through_the_server(start: Start, issuer: MockIssuer, codex_home: Path, tmp_path: Path) -> None:
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "gaps_keyring.py").write_text(KEYRING_MODULE)
    entries = tmp_path / "keyring.json"
    python_path = os.pathsep.join(p for p in (str(modules), os.environ.get("PYTHONPATH", "")) if p)
    env = base_env(issuer, PYTHON_KEYRING_BACKEND="gaps_keyring.FileKeyring", GAPS_KEYRING_FILE=str(entries),
                   PYTHONPATH=python_path)
    config = 'cli_auth_credentials_store = "keyring"\n'
    (codex_home / "auth.json").write_text('{"OPENAI_API_KEY": "sk-stale-file"}')
    account = keyring_account(codex_home)

    client = start(config, env=env)
    # The keyring is the store: a left-over auth.json is not read.
    assert client.request("getAuthStatus", {"includeToken": True})["authMethod"] is None
    assert client.request("loginApiKey", {"apiKey": "sk-ring"}) == {}
    assert client.wait_notification("authStatusChange") == {"authMethod": "apikey"}
    assert json.loads(entries.read_text()) == {KEYRING_SERVICE: {account: '{"OPENAI_API_KEY":"sk-ring"}'}}
    assert not (codex_home / "auth.json").exists()  # the fallback file goes, as in the Rust CLI
    assert client.request("getAuthStatus", {"includeToken": True})["authToken"] == "sk-ring"
    assert client.close() == 0

    # Another process reads what the first stored.
    again = start(config, env=env)
    assert again.request("getAuthStatus", {"includeToken": True})["authToken"] == "sk-ring"
    assert again.request("account/logout") == {}
    assert again.wait_notification("account/updated") == {"authMode": None}
    assert json.loads(entries.read_text()) == {KEYRING_SERVICE: {}}
    assert again.request("getAuthStatus", {"includeToken": True})["authMethod"] is None
    assert again.close() == 0

    # A ChatGPT document stored in the keyring (as the Rust CLI stores it) is read too.
    write_chatgpt_auth(tmp_path)
    document = json.loads((tmp_path / "auth.json").read_text())
    entries.write_text(json.dumps({KEYRING_SERVICE: {account: json.dumps(document, separators=(",", ":"))}}))
    third = start(config, env=env)
    assert third.request("account/read", {}) == {
        "account": {"type": "chatgpt", "email": "user@example.com", "planType": "pro"}, "requiresOpenaiAuth": True}
    assert not (codex_home / "auth.json").exists()


# -- pipelined requests never expose a torn auth.json ---------------------------------------------------------
def test_fifty_pipelined_login_requests_never_leave_a_torn_file(start: Start, codex_home: Path) -> None:
    client = start()
    path = codex_home / "auth.json"
    seen: list[str] = []
    torn: list[str] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            try:
                text = path.read_text()
            except FileNotFoundError:
                seen.append("absent")
                continue
            try:
                document = json.loads(text)
                valid = isinstance(document, dict) and re.fullmatch(r"sk-\d+", document.get("OPENAI_API_KEY") or "")
            except ValueError:
                valid = False
            (seen if valid else torn).append(text)

    requests: list[tuple[Any, str]] = []
    last_key: str | None = None
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        for index in range(50):
            kind = index % 6
            if kind == 0:
                requests.append((client.send("loginApiKey", {"apiKey": f"sk-{index}"}), "login"))
                last_key = f"sk-{index}"
            elif kind == 1:
                requests.append((client.send("getAuthStatus", {"includeToken": True}), "status"))
            elif kind == 2:
                requests.append((client.send("account/login/start", {"type": "apiKey", "apiKey": f"sk-{index}"}),
                                 "login"))
                last_key = f"sk-{index}"
            elif kind == 3:
                requests.append((client.send("account/login/start", {"type": "chatgpt"}), "chatgpt"))
            elif kind == 4:
                requests.append((client.send("logoutChatGpt" if index % 12 == 4 else "account/logout"), "logout"))
                last_key = None
            else:
                requests.append((client.send("account/read", {}), "read"))
        answers = [(kind, client.wait_response(request_id, timeout=30)) for request_id, kind in requests]
    finally:
        stop.set()
        watcher.join(5)
    assert torn == []
    assert seen, "the watcher never looked"
    for kind, answer in answers:
        if kind == "status":
            assert answer["authMethod"] in (None, "apikey")
            assert answer["authToken"] is None or re.fullmatch(r"sk-\d+", answer["authToken"])
        elif kind == "chatgpt":
            assert answer["type"] == "chatgpt" and answer["authUrl"].startswith("http")
    # The last write wins: the file and the status agree with it.
    assert last_key == "sk-48"
    assert json.loads(path.read_text()) == {"OPENAI_API_KEY": "sk-48"}
    assert client.request("getAuthStatus", {"includeToken": True})["authToken"] == "sk-48"


# -- two processes refreshing at once make one refresh --------------------------------------------------------
def test_two_servers_refreshing_at_once_make_one_refresh(start: Start, issuer: MockIssuer, codex_home: Path) -> None:
    issuer.refresh_delay = 0.5  # both requests are inside the refresh window at once
    write_chatgpt_auth(codex_home)
    servers = [start(), start()]
    for server in servers:  # both have read the stored tokens before either refreshes
        assert server.request("getAuthStatus", {"includeToken": True})["authToken"] == "acc-1"
    pending = [server.send("getAuthStatus", {"includeToken": True, "refreshToken": True}) for server in servers]
    tokens = [server.wait_response(request_id)["authToken"]
              for server, request_id in zip(servers, pending, strict=True)]
    assert issuer.refresh_count == 1
    assert len(issuer.requests_to("/oauth/token")) == 1
    assert tokens == ["refreshed-access-1", "refreshed-access-1"]
    stored = json.loads((codex_home / "auth.json").read_text())
    assert stored["tokens"]["access_token"] == "refreshed-access-1"
    assert stored["tokens"]["refresh_token"] == "refreshed-refresh-1"
