"""The credential store: 0.58's auth.json format, atomic 0600 writes, corrupt files, the keyring,
and refresh (adopting another process's newer tokens; two processes refreshing at once refresh once)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError
from mock_issuer import MockIssuer, id_token_claims, make_jwt

from actors.auth_store import (
    KEYRING_SERVICE,
    REFRESH_TOKEN_EXPIRED_MESSAGE,
    AuthDotJson,
    AuthFormatError,
    AuthStore,
    RefreshError,
    keyring_account,
    parse_auth_json,
    render_auth_json,
)

REPO = Path(__file__).resolve().parent.parent
REFERENCE_BINARY = Path("/work/ref058/node_modules/.bin/codex")

# Written by the Rust codex 0.58.0 app-server for `loginApiKey {"apiKey": "sk-test-é\"x"}` (no
# trailing newline, raw UTF-8).
FIXTURE_058_API_KEY = b'{\n  "OPENAI_API_KEY": "sk-test-\xc3\xa9\\"x"\n}'

# Written by 0.58.0 after `getAuthStatus {"refreshToken": true}` against a mock issuer.
_ID_TOKEN_058 = (
    "eyJhbGciOiAibm9uZSIsICJ0eXAiOiAiSldUIn0.eyJodHRwczovL2FwaS5vcGVuYWkuY29tL2F1dGgiOiB7ImNoYXRncHRfcGxhbl90eXBlIjog"
    "InBybyIsICJjaGF0Z3B0X2FjY291bnRfaWQiOiAiYWNjdC0xMjMifSwgImVtYWlsIjogInVzZXJAZXhhbXBsZS5jb20ifQ.sig"
)
FIXTURE_058_CHATGPT = """{
  "OPENAI_API_KEY": null,
  "tokens": {
    "id_token": "ID_TOKEN",
    "access_token": "refreshed-access-1",
    "refresh_token": "refreshed-refresh-1",
    "account_id": "acc-1"
  },
  "last_refresh": "2026-11-24T21:43:38.409234184Z"
}""".replace("ID_TOKEN", _ID_TOKEN_058)


class MemoryKeyring(KeyringBackend):
    """An in-memory keyring backend for tests."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.entries:
            raise PasswordDeleteError("not found")
        del self.entries[(service, username)]


@pytest.fixture
def issuer() -> Any:
    mock = MockIssuer().start()
    yield mock
    mock.stop()


def chatgpt_auth(access: str = "AT", refresh: str = "RT", last_refresh: datetime | None = None) -> str:
    id_token = make_jwt(id_token_claims("a@b.c", "pro", "acc-1"))
    stamp = (last_refresh or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return json.dumps(
        {
            "OPENAI_API_KEY": None,
            "tokens": {"id_token": id_token, "access_token": access, "refresh_token": refresh, "account_id": "acc-1"},
            "last_refresh": stamp,
        }
    )


# -- format ------------------------------------------------------------------------------------
def test_api_key_file_is_byte_identical_to_058(tmp_path: Path) -> None:
    store = AuthStore(tmp_path)
    store.login_with_api_key('sk-test-é"x')
    path = tmp_path / "auth.json"
    assert path.read_bytes() == FIXTURE_058_API_KEY
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_reads_files_written_by_058(tmp_path: Path) -> None:
    (tmp_path / "auth.json").write_bytes(FIXTURE_058_API_KEY)
    auth = AuthStore(tmp_path).load()
    assert auth is not None and auth.mode == "apikey" and auth.openai_api_key == 'sk-test-é"x'

    (tmp_path / "auth.json").write_text(FIXTURE_058_CHATGPT)
    auth = AuthStore(tmp_path).load()
    assert auth is not None and auth.mode == "chatgpt"
    assert auth.tokens is not None
    assert auth.tokens.access_token == "refreshed-access-1"
    assert auth.tokens.account_id == "acc-1"
    assert auth.tokens.id_token.email == "user@example.com"
    assert auth.plan_type == "pro"
    assert auth.last_refresh == datetime(2026, 11, 24, 21, 43, 38, 409234, tzinfo=UTC)


def test_chatgpt_document_keeps_058_layout() -> None:
    auth = parse_auth_json(FIXTURE_058_CHATGPT)
    rendered = render_auth_json(auth)
    # Same keys, order and indentation; only the clock precision differs (µs here, ns in Rust).
    assert rendered == FIXTURE_058_CHATGPT.replace(".409234184Z", ".409234Z")


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        "[]",
        '{"OPENAI_API_KEY": 5}',
        '{"OPENAI_API_KEY": null, "tokens": {"id_token": "xx", "access_token": "a", "refresh_token": "r"}}',
        '{"OPENAI_API_KEY": null, "tokens": {"access_token": "a"}}',
        '{"OPENAI_API_KEY": null, "last_refresh": "yesterday"}',
    ],
)
def test_malformed_documents_are_refused(text: str) -> None:
    with pytest.raises(AuthFormatError):
        parse_auth_json(text)


def test_mode_resolution_follows_058() -> None:
    both = json.loads(chatgpt_auth())
    both["OPENAI_API_KEY"] = "sk"
    assert parse_auth_json(json.dumps(both)).mode == "apikey"
    assert parse_auth_json("{}").mode == "chatgpt"  # as 0.58: no key means ChatGPT, even without tokens
    assert parse_auth_json("{}").token is None


# -- writes ------------------------------------------------------------------------------------
def test_write_is_0600_even_over_a_wider_file(tmp_path: Path) -> None:
    path = tmp_path / "auth.json"
    path.write_text("{}")
    path.chmod(0o644)
    AuthStore(tmp_path).login_with_api_key("k")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_corrupt_file_reads_signed_out_and_survives_refresh(tmp_path: Path, issuer: MockIssuer) -> None:
    path = tmp_path / "auth.json"
    path.write_text('{"OPENAI_API_KEY": null, "tokens": {"id_token": "garbage"')
    store = AuthStore(tmp_path, refresh_url=f"{issuer.url}/oauth/token")
    assert store.load() is None
    assert store.refresh(None, force=True) is None
    assert path.read_text().endswith('"garbage"')
    assert issuer.refresh_count == 0
    store.login_with_api_key("fresh")
    assert json.loads(path.read_text()) == {"OPENAI_API_KEY": "fresh"}


def test_read_failure_reads_signed_out(tmp_path: Path) -> None:
    (tmp_path / "auth.json").write_bytes(FIXTURE_058_API_KEY)

    def failing(_path: Path) -> str:
        raise PermissionError(13, "Permission denied")

    assert AuthStore(tmp_path, read_text=failing).load() is None


def test_delete_is_fine_when_absent(tmp_path: Path) -> None:
    store = AuthStore(tmp_path)
    assert store.delete() is False
    store.login_with_api_key("k")
    assert store.delete() is True
    assert not (tmp_path / "auth.json").exists()


# -- keyring -----------------------------------------------------------------------------------
def test_keyring_store_uses_the_rust_cli_names(tmp_path: Path) -> None:
    backend = MemoryKeyring()
    (tmp_path / "auth.json").write_text('{"OPENAI_API_KEY": "stale"}')
    store = AuthStore(tmp_path, "keyring", keyring_backend=backend)
    store.login_with_api_key("sk-ring")
    account = keyring_account(tmp_path)
    assert account.startswith("cli|") and len(account) == 4 + 16
    assert backend.entries == {(KEYRING_SERVICE, account): '{"OPENAI_API_KEY":"sk-ring"}'}
    assert not (tmp_path / "auth.json").exists()  # the fallback file goes, as in the Rust CLI
    loaded = store.load()
    assert loaded is not None and loaded.openai_api_key == "sk-ring"
    assert store.delete() is True
    assert backend.entries == {}
    assert store.load() is None


def test_auto_falls_back_to_the_file_without_a_backend(tmp_path: Path) -> None:
    from keyring.backends import fail

    store = AuthStore(tmp_path, "auto", keyring_backend=fail.Keyring())
    store.login_with_api_key("sk-file")
    assert json.loads((tmp_path / "auth.json").read_text()) == {"OPENAI_API_KEY": "sk-file"}
    loaded = store.load()
    assert loaded is not None and loaded.openai_api_key == "sk-file"


def test_auto_prefers_a_working_keyring(tmp_path: Path) -> None:
    backend = MemoryKeyring()
    store = AuthStore(tmp_path, "auto", keyring_backend=backend)
    store.login_with_api_key("sk-auto")
    assert not (tmp_path / "auth.json").exists()
    assert list(backend.entries.values()) == ['{"OPENAI_API_KEY":"sk-auto"}']


def test_keyring_mode_without_backend_fails_clearly(tmp_path: Path) -> None:
    from keyring.backends import fail

    store = AuthStore(tmp_path, "keyring", keyring_backend=fail.Keyring())
    with pytest.raises(OSError, match="failed to write OAuth tokens to keyring"):
        store.login_with_api_key("k")
    assert store.load() is None


# -- refresh -----------------------------------------------------------------------------------
def test_forced_refresh_updates_tokens_and_keeps_account(tmp_path: Path, issuer: MockIssuer) -> None:
    (tmp_path / "auth.json").write_text(chatgpt_auth())
    store = AuthStore(tmp_path, refresh_url=f"{issuer.url}/oauth/token")
    updated = store.refresh("AT", force=True)
    assert updated is not None and updated.tokens is not None
    assert updated.tokens.access_token.startswith("refreshed-access-")
    assert updated.tokens.account_id == "acc-1"  # 0.58 keeps the stored account id
    (request,) = issuer.requests_to("/oauth/token")
    assert json.loads(request.body) == {
        "client_id": "app_EMoamEEZ73f0CkXaXp7hrann",
        "grant_type": "refresh_token",
        "refresh_token": "RT",
        "scope": "openid profile email",
    }
    on_disk = json.loads((tmp_path / "auth.json").read_text())
    assert on_disk["tokens"]["refresh_token"] == updated.tokens.refresh_token
    assert list(on_disk) == ["OPENAI_API_KEY", "tokens", "last_refresh"]


def test_refresh_adopts_newer_tokens_instead_of_refreshing(tmp_path: Path, issuer: MockIssuer) -> None:
    (tmp_path / "auth.json").write_text(chatgpt_auth(access="NEWER", refresh="RT2"))
    store = AuthStore(tmp_path, refresh_url=f"{issuer.url}/oauth/token")
    result = store.refresh("OLD", force=True)
    assert result is not None and result.tokens is not None and result.tokens.access_token == "NEWER"
    assert issuer.refresh_count == 0


def test_refresh_only_when_stale(tmp_path: Path, issuer: MockIssuer) -> None:
    store = AuthStore(tmp_path, refresh_url=f"{issuer.url}/oauth/token")
    (tmp_path / "auth.json").write_text(chatgpt_auth())
    store.refresh("AT", force=False)
    assert issuer.refresh_count == 0
    (tmp_path / "auth.json").write_text(chatgpt_auth(last_refresh=datetime.now(UTC) - timedelta(days=40)))
    store.refresh("AT", force=False)
    assert issuer.refresh_count == 1


def test_refused_refresh_is_permanent_with_058_message(tmp_path: Path, issuer: MockIssuer) -> None:
    issuer.refresh_status = 401
    (tmp_path / "auth.json").write_text(chatgpt_auth())
    store = AuthStore(tmp_path, refresh_url=f"{issuer.url}/oauth/token")
    with pytest.raises(RefreshError) as caught:
        store.refresh("AT", force=True)
    assert caught.value.permanent and str(caught.value) == REFRESH_TOKEN_EXPIRED_MESSAGE
    assert json.loads((tmp_path / "auth.json").read_text())["tokens"]["access_token"] == "AT"


REFRESH_SCRIPT = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from actors.auth_store import AuthStore
home, url, go = Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
store = AuthStore(home, refresh_url=url)
seen = store.load().tokens.access_token
print("ready", flush=True)
while not go.exists():
    time.sleep(0.005)
after = store.refresh(seen, force=True)
print(after.tokens.access_token, flush=True)
"""


def test_two_processes_refreshing_at_once_refresh_once(tmp_path: Path, issuer: MockIssuer) -> None:
    issuer.refresh_delay = 0.3
    home = tmp_path / "home"
    home.mkdir()
    (home / "auth.json").write_text(chatgpt_auth())
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", REFRESH_SCRIPT, str(REPO), str(home), f"{issuer.url}/oauth/token", str(go)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for proc in procs:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    go.touch()
    results = [proc.communicate(timeout=30)[0].strip() for proc in procs]
    assert all(proc.returncode == 0 for proc in procs)
    assert issuer.refresh_count == 1
    assert results[0] == results[1] and results[0].startswith("refreshed-access-")
    assert len(issuer.requests_to("/oauth/token")) == 1


# -- the reference binary reads ours (skipped where it is not installed) ---------------------------
@pytest.mark.skipif(not REFERENCE_BINARY.exists() or shutil.which("node") is None, reason="no 0.58 binary here")
def test_reference_binary_reads_our_files(tmp_path: Path) -> None:
    store = AuthStore(tmp_path)
    id_token = make_jwt(id_token_claims("ours@example.com", "team", "acc-9"))
    store.save_chatgpt_tokens(id_token, "OUR-ACCESS", "OUR-REFRESH")
    lines = _run_reference(tmp_path, [
        {"id": 1, "method": "getAuthStatus", "params": {"includeToken": True}},
        {"id": 2, "method": "account/read", "params": {}},
    ])
    expected = {"authMethod": "chatgpt", "authToken": "OUR-ACCESS", "requiresOpenaiAuth": True}
    assert lines[1] == {"id": 1, "result": expected}
    assert lines[2]["result"]["account"] == {"type": "chatgpt", "email": "ours@example.com", "planType": "team"}
    store.login_with_api_key("sk-ours")
    lines = _run_reference(tmp_path, [{"id": 1, "method": "getAuthStatus", "params": {"includeToken": True}}])
    assert lines[1]["result"]["authToken"] == "sk-ours"


def _run_reference(home: Path, requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    init = {"id": 0, "method": "initialize", "params": {"clientInfo": {"name": "t", "version": "1"}}}
    proc = subprocess.Popen(
        [str(REFERENCE_BINARY), "app-server"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "CODEX_HOME": str(home)},
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    out = []
    for request in [init, *requests]:
        proc.stdin.write(json.dumps(request) + "\n")
        proc.stdin.flush()
        out.append(json.loads(proc.stdout.readline()))
    proc.stdin.close()
    proc.wait(timeout=10)
    time.sleep(0)
    return out


def test_auth_dot_json_defaults() -> None:
    assert AuthDotJson().mode == "chatgpt" and AuthDotJson(openai_api_key="").mode == "apikey"
