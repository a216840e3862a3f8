"""Login, account and rate limits through the server subprocess (PROTOCOL.md §4.2–4.11, §6.1, §7).

A mock OAuth issuer and usage endpoint run on loopback; the test plays the browser by requesting
the callback URL the server's auth URL names. The login actor reads the issuer, the callback port
and the refresh URL from the environment, and the login timeout from config.toml.
"""

from __future__ import annotations

import base64
import hashlib
import inspect
import json
import os
import socket
import stat
import threading
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from mock_issuer import MockIssuer, id_token_claims, make_jwt
from pytest_codex_app_server import AppServerClient, JsonRpcError

CANCELLED = "Login server error: Login cancelled"
NOT_COMPLETED = "Login server error: Login was not completed"
CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"


# -- helpers ----------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rpc_error(client: AppServerClient, method: str, params: Any = None) -> tuple[int, str]:
    with pytest.raises(JsonRpcError) as raised:
        client.request(method, params)
    return raised.value.code, raised.value.message


def messages(client: AppServerClient) -> list[dict[str, Any]]:
    return [json.loads(line) for line in list(client.lines)]


def position(client: AppServerClient, match: Callable[[dict[str, Any]], bool]) -> int:
    """Where the first message matching `match` sits in the server's output."""
    for index, message in enumerate(messages(client)):
        if match(message):
            return index
    raise AssertionError(f"no such message in {client.lines}")


def response_to(request_id: Any) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m.get("id") == request_id and "method" not in m


def note(method: str, **fields: Any) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m.get("method") == method and all(m.get("params", {}).get(k) == v for k, v in fields.items())


def query_of(url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))


def callback_base(auth_url: str) -> str:
    """The callback URL the browser is sent to, on 127.0.0.1 (the auth URL says localhost)."""
    redirect = query_of(auth_url)["redirect_uri"]
    return redirect.replace("http://localhost:", "http://127.0.0.1:")


def browse(auth_url: str, **params: str) -> requests.Response:
    """Play the browser returning from the issuer."""
    query = urllib.parse.urlencode(params)
    return requests.get(f"{callback_base(auth_url)}?{query}", allow_redirects=False, timeout=30)


def write_chatgpt_auth(home: Path, claims: dict[str, Any] | None = None, last_refresh: str = "2099-01-01T00:00:00Z",
                       access: str = "acc-1") -> None:
    token = make_jwt(claims if claims is not None else id_token_claims("user@example.com", "pro", "acct-123"))
    document = {
        "OPENAI_API_KEY": None,
        "tokens": {"id_token": token, "access_token": access, "refresh_token": "ref-1", "account_id": "acct-123"},
        "last_refresh": last_refresh,
    }
    (home / "auth.json").write_text(json.dumps(document))


def without_model(factory: Callable[..., AppServerClient]) -> dict[str, Any]:
    """The plugin may point config.toml at a scripted model of its own; these tests need the
    built-in openai provider (it requires OpenAI auth), so ask for none where that is possible."""
    return {"model": None} if "model" in inspect.signature(factory).parameters else {}


# -- fixtures ---------------------------------------------------------------------------------------
@pytest.fixture
def issuer() -> Iterator[MockIssuer]:
    mock = MockIssuer().start()
    yield mock
    mock.stop()


@pytest.fixture
def start(codex_app_server_factory: Any, issuer: MockIssuer) -> Callable[..., AppServerClient]:
    """Start a server wired to the mock issuer: `start(config="", port=None, timeout_seconds=None,
    base_url=None)`; config.toml gets `chatgpt_base_url` (default: the issuer's /backend-api/)."""

    def run(config: str = "", port: int | None = None, timeout_seconds: float | None = None,
            base_url: str | None = None) -> AppServerClient:
        env = dict(os.environ)
        env.update(
            CODEX_APP_SERVER_ISSUER=issuer.url,
            CODEX_APP_SERVER_LOGIN_PORT=str(port if port is not None else free_port()),
            CODEX_REFRESH_TOKEN_URL_OVERRIDE=f"{issuer.url}/oauth/token",
        )
        for name in ("OPENAI_API_KEY", "CODEX_API_KEY"):
            env.pop(name, None)
        base = base_url or f"{issuer.url}/backend-api/"
        text = f'chatgpt_base_url = "{base}"\n'
        if timeout_seconds is not None:
            text += f"login_timeout_seconds = {timeout_seconds}\n"
        return codex_app_server_factory(config_toml=text + config, env=env, **without_model(codex_app_server_factory))

    return run


# -- API key ----------------------------------------------------------------------------------------
def test_signed_out_and_corrupt_auth_reads(start: Callable[..., AppServerClient], codex_home: Path) -> None:
    client = start()
    assert client.request("getAuthStatus", {"includeToken": True}) == {
        "authMethod": None, "authToken": None, "requiresOpenaiAuth": True}
    assert client.request("account/read", {}) == {"account": None, "requiresOpenaiAuth": True}
    assert client.request("userInfo") == {"allegedUserEmail": None}
    assert rpc_error(client, "account/rateLimits/read") == (
        -32600, "codex account authentication required to read rate limits")
    assert not (codex_home / "auth.json").exists()
    # A corrupt auth.json reads as signed out, even when a refresh is asked for, and is left alone.
    (codex_home / "auth.json").write_text("{not json")
    assert client.request("getAuthStatus", {"refreshToken": True}) == {
        "authMethod": None, "authToken": None, "requiresOpenaiAuth": True}
    assert client.request("account/read", {"refreshToken": True}) == {"account": None, "requiresOpenaiAuth": True}
    assert client.request("userInfo") == {"allegedUserEmail": None}
    assert (codex_home / "auth.json").read_text() == "{not json"


def test_api_key_login_v1_reply_then_auth_status_change(start: Callable[..., AppServerClient],
                                                        codex_home: Path) -> None:
    client = start()
    request_id = client.send("loginApiKey", {"apiKey": "sk-test-1"})
    assert client.wait_response(request_id) == {}
    assert client.wait_notification("authStatusChange") == {"authMethod": "apikey"}
    assert position(client, response_to(request_id)) < position(client, note("authStatusChange"))
    assert [m for m, _ in client.take_notifications()] == []
    auth = codex_home / "auth.json"
    assert auth.read_text() == '{\n  "OPENAI_API_KEY": "sk-test-1"\n}'
    assert stat.S_IMODE(auth.stat().st_mode) == 0o600
    assert client.request("getAuthStatus", {}) == {
        "authMethod": "apikey", "authToken": None, "requiresOpenaiAuth": True}
    assert client.request("getAuthStatus", {"includeToken": True})["authToken"] == "sk-test-1"
    assert client.request("account/read", {}) == {"account": {"type": "apiKey"}, "requiresOpenaiAuth": True}
    assert client.request("userInfo") == {"allegedUserEmail": None}
    assert rpc_error(client, "account/rateLimits/read") == (
        -32600, "chatgpt authentication required to read rate limits")
    assert not [m for m, _ in client.take_notifications() if m != "authStatusChange"]
    # An empty key is saved, but reads as no token.
    assert client.request("loginApiKey", {"apiKey": ""}) == {}
    assert client.wait_notification("authStatusChange") == {"authMethod": "apikey"}
    assert client.request("getAuthStatus", {"includeToken": True}) == {
        "authMethod": None, "authToken": None, "requiresOpenaiAuth": True}
    assert client.request("account/read", {}) == {"account": {"type": "apiKey"}, "requiresOpenaiAuth": True}
    # A write failure is an internal error carrying the OS reason.
    (codex_home / "auth.json").unlink()
    (codex_home / "auth.json").mkdir()
    assert rpc_error(client, "loginApiKey", {"apiKey": "k"}) == (
        -32603, "failed to save api key: Is a directory (os error 21)")


def test_api_key_login_v2_then_logout_v1_and_v2(start: Callable[..., AppServerClient], codex_home: Path) -> None:
    client = start()
    request_id = client.send("account/login/start", {"type": "apiKey", "apiKey": "sk-two"})
    assert client.wait_response(request_id) == {"type": "apiKey"}
    client.wait_notification("account/updated")
    assert client.all_notifications == [
        ("account/login/completed", {"loginId": None, "success": True, "error": None}),
        ("account/updated", {"authMode": "apikey"}),
    ]
    assert position(client, response_to(request_id)) < position(client, note("account/login/completed"))
    assert json.loads((codex_home / "auth.json").read_text()) == {"OPENAI_API_KEY": "sk-two"}
    # Logout v1 and v2: delete, reply, notify (even with nothing to delete).
    client.request("loginApiKey", {"apiKey": "sk"})
    client.wait_notification("authStatusChange")
    request_id = client.send("logoutChatGpt")
    assert client.wait_response(request_id) == {}
    assert client.wait_notification("authStatusChange") == {"authMethod": None}
    assert position(client, response_to(request_id)) < position(client, note("authStatusChange", authMethod=None))
    assert not (codex_home / "auth.json").exists()
    assert client.request("account/logout") == {}
    assert client.wait_notification("account/updated") == {"authMode": None}
    assert client.request("logoutChatGpt") == {}
    assert client.wait_notification("authStatusChange") == {"authMethod": None}


def test_custom_provider_does_not_require_openai_auth(start: Callable[..., AppServerClient]) -> None:
    client = start(
        'model_provider = "mock"\n[model_providers.mock]\nname = "mock"\nbase_url = "http://127.0.0.1:1/v1"\n'
    )
    client.request("loginApiKey", {"apiKey": "sk"})
    assert client.request("getAuthStatus", {"includeToken": True}) == {
        "authMethod": None, "authToken": None, "requiresOpenaiAuth": False}
    assert client.request("account/read", {}) == {"account": None, "requiresOpenaiAuth": False}


# -- forced login method ------------------------------------------------------------------------------
def test_forced_chatgpt_refuses_api_keys(start: Callable[..., AppServerClient], codex_home: Path) -> None:
    client = start('forced_login_method = "chatgpt"\n')
    message = "API key login is disabled. Use ChatGPT login instead."
    assert rpc_error(client, "loginApiKey", {"apiKey": "k"}) == (-32600, message)
    assert rpc_error(client, "account/login/start", {"type": "apiKey", "apiKey": "k"}) == (-32600, message)
    assert not (codex_home / "auth.json").exists()
    assert client.take_notifications() == []


def test_forced_api_refuses_chatgpt(start: Callable[..., AppServerClient]) -> None:
    client = start('forced_login_method = "api"\n')
    message = "ChatGPT login is disabled. Use API key login instead."
    assert rpc_error(client, "loginChatGpt") == (-32600, message)
    assert rpc_error(client, "account/login/start", {"type": "chatgpt"}) == (-32600, message)
    assert client.take_notifications() == []


# -- the ChatGPT flow ---------------------------------------------------------------------------------
def test_full_chatgpt_login_v1(start: Callable[..., AppServerClient], issuer: MockIssuer, codex_home: Path) -> None:
    port = free_port()
    client = start(port=port)
    request_id = client.send("loginChatGpt")
    result = client.wait_response(request_id)
    assert list(result) == ["loginId", "authUrl"]
    login_id = result["loginId"]
    assert uuid.UUID(login_id).version == 4
    auth_url = result["authUrl"]
    assert auth_url.startswith(f"{issuer.url}/oauth/authorize?response_type=code&client_id={CLIENT_ID}&redirect_uri=")
    query = query_of(auth_url)
    assert list(query) == ["response_type", "client_id", "redirect_uri", "scope", "code_challenge",
                           "code_challenge_method", "id_token_add_organizations", "codex_cli_simplified_flow",
                           "state", "originator"]
    assert query["redirect_uri"] == f"http://localhost:{port}/auth/callback"
    assert "scope=openid%20profile%20email%20offline_access" in auth_url
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43 and len(query["state"]) == 43
    assert query["originator"] == "codex_cli_rs"

    # Wrong state: 400, the login goes on; unknown routes: 404.
    refused = browse(auth_url, code="abc", state="wrong")
    assert (refused.status_code, refused.text) == (400, "State mismatch")
    missing = requests.get(f"http://127.0.0.1:{port}/nope", timeout=10)
    assert (missing.status_code, missing.text) == (404, "Not Found")
    assert client.take_notifications() == []

    answer = browse(auth_url, code="abc", state=query["state"])
    assert answer.status_code == 302
    assert answer.headers["Location"] == f"http://localhost:{port}/success"
    assert client.wait_notification("loginChatGptComplete") == {"loginId": login_id, "success": True, "error": None}
    assert client.wait_notification("authStatusChange") == {"authMethod": "chatgpt"}
    assert position(client, note("loginChatGptComplete")) < position(client, note("authStatusChange"))
    success = requests.get(f"http://127.0.0.1:{port}/success", timeout=10)
    assert success.status_code == 200 and "<html" in success.text

    # The code exchange: PKCE verifier matching the challenge, the exact redirect URI.
    (exchange,) = issuer.requests_to("/oauth/token")
    form = dict(urllib.parse.parse_qsl(exchange.body.decode()))
    assert form["grant_type"] == "authorization_code" and form["code"] == "abc"
    assert form["redirect_uri"] == f"http://localhost:{port}/auth/callback"
    assert form["client_id"] == CLIENT_ID
    digest = hashlib.sha256(form["code_verifier"].encode()).digest()
    assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == query["code_challenge"]

    auth_path = codex_home / "auth.json"
    document = json.loads(auth_path.read_text())
    assert list(document) == ["OPENAI_API_KEY", "tokens", "last_refresh"]
    assert document["OPENAI_API_KEY"] is None
    assert document["tokens"]["access_token"] == "access-abc-1"
    assert document["tokens"]["refresh_token"] == "refresh-1"
    assert document["tokens"]["account_id"] == "acct-123"
    assert stat.S_IMODE(auth_path.stat().st_mode) == 0o600

    assert client.request("getAuthStatus", {"includeToken": True}) == {
        "authMethod": "chatgpt", "authToken": "access-abc-1", "requiresOpenaiAuth": True}
    assert client.request("account/read", {}) == {
        "account": {"type": "chatgpt", "email": "user@example.com", "planType": "pro"}, "requiresOpenaiAuth": True}
    assert client.request("userInfo") == {"allegedUserEmail": "user@example.com"}
    # The finished login is gone: cancelling it is an unknown id.
    assert rpc_error(client, "cancelLoginChatGpt", {"loginId": login_id}) == (-32600, f"login id not found: {login_id}")


def test_chatgpt_login_v2_completed_then_account_updated(start: Callable[..., AppServerClient]) -> None:
    client = start()
    result = client.request("account/login/start", {"type": "chatgpt"})
    assert list(result) == ["type", "loginId", "authUrl"] and result["type"] == "chatgpt"
    browse(result["authUrl"], code="v2code", state=query_of(result["authUrl"])["state"])
    client.wait_notification("account/updated")
    assert client.all_notifications == [
        ("account/login/completed", {"loginId": result["loginId"], "success": True, "error": None}),
        ("account/updated", {"authMode": "chatgpt"}),
    ]
    assert client.request("getAuthStatus", {"includeToken": True})["authToken"] == "access-v2code-1"


def test_oauth_error_and_failed_exchange_end_the_login(start: Callable[..., AppServerClient], issuer: MockIssuer,
                                                       codex_home: Path) -> None:
    client = start()
    issuer.token_status = 400
    first = client.request("loginChatGpt")
    page = browse(first["authUrl"], code="c", state=query_of(first["authUrl"])["state"])
    assert page.status_code == 200 and "Sign-in could not be completed" in page.text
    done = client.wait_notification("loginChatGptComplete")
    assert done == {
        "loginId": first["loginId"], "success": False,
        "error": "Login server error: Token exchange failed: token endpoint returned status 400 Bad Request: "
                 "invalid_grant",
    }
    assert not (codex_home / "auth.json").exists()
    second = client.request("loginChatGpt")
    browse(second["authUrl"], error="access_denied", error_description="nope",
           state=query_of(second["authUrl"])["state"])
    done = client.wait_notification("loginChatGptComplete")
    assert done == {"loginId": second["loginId"], "success": False, "error": "Login server error: Sign-in failed: nope"}
    assert [m for m, _ in client.take_notifications()] == []  # no authStatusChange after a failure


def test_forced_workspace_mismatch_refuses_the_account(start: Callable[..., AppServerClient],
                                                       codex_home: Path) -> None:
    client = start('forced_chatgpt_workspace_id = "ws-other"\n')
    result = client.request("account/login/start", {"type": "chatgpt"})
    assert query_of(result["authUrl"])["allowed_workspace_id"] == "ws-other"
    browse(result["authUrl"], code="c", state=query_of(result["authUrl"])["state"])
    assert client.wait_notification("account/login/completed") == {
        "loginId": result["loginId"], "success": False,
        "error": "Login server error: Login is restricted to workspace id ws-other."}
    assert not (codex_home / "auth.json").exists()


def test_new_login_replaces_the_old_one_first(start: Callable[..., AppServerClient]) -> None:
    port = free_port()
    client = start(port=port)
    old = client.request("loginChatGpt")
    new_id = client.send("account/login/start", {"type": "chatgpt"})
    new = client.wait_response(new_id)
    assert new["loginId"] != old["loginId"]
    ended = client.wait_notification("loginChatGptComplete")
    assert ended == {"loginId": old["loginId"], "success": False, "error": CANCELLED}
    assert position(client, note("loginChatGptComplete")) < position(client, response_to(new_id))
    # The same port now belongs to the new login: the old state is refused, the new one works.
    assert browse(old["authUrl"], code="x", state=query_of(old["authUrl"])["state"]).status_code == 400
    assert rpc_error(client, "account/login/cancel", {"loginId": old["loginId"]}) == (
        -32600, f"login id not found: {old['loginId']}")
    browse(new["authUrl"], code="y", state=query_of(new["authUrl"])["state"])
    assert client.wait_notification("account/login/completed") == {
        "loginId": new["loginId"], "success": True, "error": None}


def test_cancel_v2_then_v1_and_their_errors(start: Callable[..., AppServerClient]) -> None:
    port = free_port()
    client = start(port=port)
    login = client.request("account/login/start", {"type": "chatgpt"})
    request_id = client.send("account/login/cancel", {"loginId": login["loginId"]})
    assert client.wait_response(request_id) == {}
    assert client.wait_notification("account/login/completed") == {
        "loginId": login["loginId"], "success": False, "error": NOT_COMPLETED}
    assert position(client, response_to(request_id)) < position(client, note("account/login/completed"))
    assert client.take_notifications() == []  # no account/updated after a cancel
    assert rpc_error(client, "account/login/cancel", {"loginId": login["loginId"]}) == (
        -32600, f"login id not found: {login['loginId']}")
    assert rpc_error(client, "account/login/cancel", {"loginId": "zzz"}) == (-32600, "invalid login id: zzz")
    assert rpc_error(client, "cancelLoginChatGpt", {"loginId": "zzz"}) == (
        -32600, "Invalid request: UUID parsing failed: invalid character: expected an optional prefix of "
                "`urn:uuid:` followed by [0-9a-fA-F-], found `z` at 1")
    stranger = str(uuid.uuid4())
    assert rpc_error(client, "cancelLoginChatGpt", {"loginId": stranger}) == (-32600, f"login id not found: {stranger}")

    v1 = client.request("loginChatGpt")
    assert client.request("cancelLoginChatGpt", {"loginId": v1["loginId"]}) == {}
    assert client.wait_notification("loginChatGptComplete") == {
        "loginId": v1["loginId"], "success": False, "error": NOT_COMPLETED}
    # The listener is gone with the login.
    with pytest.raises(requests.ConnectionError):
        for _ in range(50):
            requests.get(f"http://127.0.0.1:{port}/nope", timeout=2)
            threading.Event().wait(0.05)


def test_api_key_login_and_logout_cancel_an_active_login(start: Callable[..., AppServerClient]) -> None:
    client = start()
    first = client.request("loginChatGpt")
    request_id = client.send("loginApiKey", {"apiKey": "sk"})
    client.wait_response(request_id)
    client.wait_notification("authStatusChange")
    assert client.all_notifications == [
        ("loginChatGptComplete", {"loginId": first["loginId"], "success": False, "error": NOT_COMPLETED}),
        ("authStatusChange", {"authMethod": "apikey"}),
    ]
    assert position(client, note("loginChatGptComplete")) < position(client, response_to(request_id))

    second = client.request("account/login/start", {"type": "chatgpt"})
    logout_id = client.send("account/logout")
    client.wait_response(logout_id)
    client.wait_notification("account/updated")
    assert client.all_notifications[2:] == [
        ("account/login/completed", {"loginId": second["loginId"], "success": False, "error": NOT_COMPLETED}),
        ("account/updated", {"authMode": None}),
    ]


def test_login_times_out(start: Callable[..., AppServerClient]) -> None:
    client = start(timeout_seconds=0.5)
    login = client.request("loginChatGpt")
    assert client.wait_notification("loginChatGptComplete", timeout=20) == {
        "loginId": login["loginId"], "success": False, "error": "Login timed out"}
    assert rpc_error(client, "cancelLoginChatGpt", {"loginId": login["loginId"]}) == (
        -32600, f"login id not found: {login['loginId']}")


def test_port_held_by_a_foreign_process(start: Callable[..., AppServerClient]) -> None:
    class Stubborn(BaseHTTPRequestHandler):
        """Answers /cancel but never lets go of the port."""

        def do_GET(self) -> None:  # noqa: N802 - stdlib naming
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            return

    holder = ThreadingHTTPServer(("127.0.0.1", 0), Stubborn)
    port = holder.server_address[1]
    threading.Thread(target=holder.serve_forever, daemon=True).start()
    try:
        client = start(port=port)
        assert rpc_error(client, "loginChatGpt") == (
            -32603, f"failed to start login server: Port 127.0.0.1:{port} is already in use")
    finally:
        holder.shutdown()
        holder.server_close()


def test_pasted_callback_url_completes_the_login(start: Callable[..., AppServerClient], codex_home: Path) -> None:
    client = start()
    login = client.request("account/login/start", {"type": "chatgpt"})
    redirect = query_of(login["authUrl"])["redirect_uri"]
    state = query_of(login["authUrl"])["state"]
    assert rpc_error(client, "account/login/complete",
                     {"loginId": login["loginId"], "callbackUrl": f"{redirect}?code=p&state=bad"}) == (
        -32600, "State mismatch")
    assert rpc_error(client, "account/login/complete", {"loginId": login["loginId"], "callbackUrl": " "}) == (
        -32600, "callbackUrl must be the full redirect URL")
    stranger = str(uuid.uuid4())
    assert rpc_error(client, "account/login/complete",
                     {"loginId": stranger, "callbackUrl": f"{redirect}?code=p&state={state}"}) == (
        -32600, f"login id not found: {stranger}")
    assert client.request("account/login/complete",
                          {"loginId": login["loginId"], "callbackUrl": f"{redirect}?code=pasted&state={state}"}) == {}
    assert client.wait_notification("account/login/completed") == {
        "loginId": login["loginId"], "success": True, "error": None}
    assert client.wait_notification("account/updated") == {"authMode": "chatgpt"}
    assert json.loads((codex_home / "auth.json").read_text())["tokens"]["access_token"] == "access-pasted-1"


# -- stored ChatGPT credentials: refresh, account, rate limits ---------------------------------------
def test_refresh_on_request(start: Callable[..., AppServerClient], issuer: MockIssuer, codex_home: Path) -> None:
    write_chatgpt_auth(codex_home)
    client = start()
    assert client.request("getAuthStatus", {"includeToken": True}) == {
        "authMethod": "chatgpt", "authToken": "acc-1", "requiresOpenaiAuth": True}
    assert issuer.refresh_count == 0
    assert client.request("getAuthStatus", {"includeToken": True, "refreshToken": True})["authToken"] == (
        "refreshed-access-1")
    (refresh,) = issuer.requests_to("/oauth/token")
    assert json.loads(refresh.body) == {"client_id": CLIENT_ID, "grant_type": "refresh_token",
                                        "refresh_token": "ref-1", "scope": "openid profile email"}
    stored = json.loads((codex_home / "auth.json").read_text())
    assert stored["tokens"]["refresh_token"] == "refreshed-refresh-1"
    assert stored["last_refresh"] != "2099-01-01T00:00:00Z"
    assert client.request("account/read", {"refreshToken": True})["account"]["type"] == "chatgpt"
    assert issuer.refresh_count == 2
    # A failed refresh is only logged: the reply is unchanged.
    issuer.refresh_status = 401
    assert client.request("getAuthStatus", {"includeToken": True, "refreshToken": True})["authToken"] == (
        "refreshed-access-2")
    # account/read needs the email and plan claims.
    write_chatgpt_auth(codex_home, claims=id_token_claims(None, "pro", "acct-123"))
    assert rpc_error(client, "account/read", {}) == (
        -32600, "email and plan type are required for chatgpt authentication")
    assert client.request("userInfo") == {"allegedUserEmail": None}
    write_chatgpt_auth(codex_home, claims=id_token_claims("a@b.c", "galaxy", "acct-123"))
    assert client.request("account/read", {})["account"] == {"type": "chatgpt", "email": "a@b.c",
                                                              "planType": "unknown"}
    assert client.request("userInfo") == {"allegedUserEmail": "a@b.c"}


def test_rate_limits_from_the_usage_endpoint(start: Callable[..., AppServerClient], issuer: MockIssuer,
                                             codex_home: Path) -> None:
    write_chatgpt_auth(codex_home)
    client = start()
    assert client.request("account/rateLimits/read") == {"rateLimits": {
        "primary": {"usedPercent": 42, "windowDurationMins": 300, "resetsAt": 1900000000},
        "secondary": {"usedPercent": 5, "windowDurationMins": 2, "resetsAt": 1900000500},
    }}
    (usage,) = issuer.requests_to("/backend-api/wham/usage")
    assert usage.headers["authorization"] == "Bearer acc-1"
    assert usage.headers["chatgpt-account-id"] == "acct-123"
    assert usage.headers["user-agent"].startswith("codex_cli_rs/0.58.0 (")
    assert issuer.refresh_count == 0

    issuer.usage_status = 500
    url = f"{issuer.url}/backend-api/wham/usage"
    assert rpc_error(client, "account/rateLimits/read") == (
        -32603, f"failed to fetch codex rate limits: GET {url} failed: 500 Internal Server Error; "
                "content-type=text/plain; body=upstream sad")
    issuer.usage_status = 200
    issuer.usage_payload = {"plan_type": "pro", "rate_limit": None}
    assert client.request("account/rateLimits/read") == {"rateLimits": {"primary": None, "secondary": None}}
    issuer.usage_payload = {"plan_type": "pro", "rate_limit": {"allowed": True, "limit_reached": False,
                                                               "primary_window": {"used_percent": 1.5,
                                                                                  "limit_window_seconds": 60,
                                                                                  "reset_after_seconds": 1,
                                                                                  "reset_at": 1}}}
    code, message = rpc_error(client, "account/rateLimits/read")
    assert code == -32603
    assert message.startswith(f"failed to fetch codex rate limits: Decode error for {url}: ")
    assert message.endswith("; content-type=application/json; body=" + json.dumps(issuer.usage_payload))
    # A stale token is refreshed before the usage endpoint is asked.
    issuer.usage_payload = MockIssuer().usage_payload
    write_chatgpt_auth(codex_home, last_refresh="2020-01-01T00:00:00Z")
    assert client.request("account/rateLimits/read")["rateLimits"]["secondary"]["windowDurationMins"] == 2
    assert issuer.refresh_count == 1
    usage = issuer.requests_to("/backend-api/wham/usage")[-1]
    assert usage.headers["authorization"] == "Bearer refreshed-access-1"
    assert json.loads((codex_home / "auth.json").read_text())["tokens"]["access_token"] == "refreshed-access-1"


def test_rate_limits_path_without_backend_api_and_unreachable(start: Callable[..., AppServerClient],
                                                              issuer: MockIssuer, codex_home: Path) -> None:
    write_chatgpt_auth(codex_home)
    client = start(base_url=issuer.url)
    assert client.request("account/rateLimits/read")["rateLimits"]["primary"]["usedPercent"] == 42
    assert [r.path for r in issuer.requests] == ["/api/codex/usage"]
    client.close()
    dead = free_port()
    client = start(base_url=f"http://127.0.0.1:{dead}/backend-api")
    assert rpc_error(client, "account/rateLimits/read") == (
        -32603, f"failed to fetch codex rate limits: error sending request for url "
                f"(http://127.0.0.1:{dead}/backend-api/wham/usage)")


