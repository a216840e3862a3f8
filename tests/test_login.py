"""The login actor, driven the pykka way: routed Calls in, recorded Replies / Failures /
Notifications out, a mock OAuth issuer and usage endpoint on loopback, the test playing the browser."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pykka
import pytest
import requests
from mock_issuer import MockIssuer
from test_auth_store import MemoryKeyring, chatgpt_auth

from actors.auth_store import AuthStore, parse_auth_json
from actors.chatgpt_login import ChatGptLoginServer
from actors.login import LoginActor
from messages.internal import AuthSnapshot, Call, ConnectionClosed, Failure, GetAuth, Notify, Reply

FLUSH = object()


class Recorder(pykka.ThreadingActor):
    """Stands in for the outgoing actor: keeps every message it is told."""

    def __init__(self, sink: Sink) -> None:
        super().__init__()
        self.sink = sink

    def on_receive(self, message: Any) -> None:
        if message is not FLUSH:
            self.sink.add(message)


class Sink:
    def __init__(self) -> None:
        self.items: list[Any] = []
        self.cond = threading.Condition()

    def add(self, item: Any) -> None:
        with self.cond:
            self.items.append(item)
            self.cond.notify_all()

    def wait_for(self, predicate: Callable[[list[Any]], bool], timeout: float = 10.0) -> list[Any]:
        with self.cond:
            assert self.cond.wait_for(lambda: predicate(self.items), timeout), f"timed out; got {self.items}"
            return list(self.items)

    def notifications(self) -> list[tuple[str, Any]]:
        with self.cond:
            return [(m.method, m.params) for m in self.items if isinstance(m, Notify)]


@pytest.fixture(autouse=True)
def stop_actors() -> Iterator[None]:
    yield
    pykka.ActorRegistry.stop_all()


@pytest.fixture
def issuer() -> Iterator[MockIssuer]:
    mock = MockIssuer().start()
    yield mock
    mock.stop()


class Harness:
    def __init__(self, home: Path, mock: MockIssuer, **overrides: Any) -> None:
        self.home = home
        self.issuer = issuer = mock
        self.sink = Sink()
        raw = overrides.pop("raw", {})
        provider = SimpleNamespace(requires_openai_auth=overrides.pop("requires_openai_auth", True))
        self.config = SimpleNamespace(
            codex_home=home,
            model_provider=provider,
            forced_login_method=overrides.pop("forced_login_method", None),
            forced_chatgpt_workspace_id=overrides.pop("forced_chatgpt_workspace_id", None),
            cli_auth_credentials_store=overrides.pop("store", "file"),
            chatgpt_base_url=overrides.pop("chatgpt_base_url", f"{issuer.url}/backend-api/"),
            raw=raw,
        )
        kwargs = {"issuer": issuer.url, "login_port": 0, "refresh_url": f"{issuer.url}/oauth/token", **overrides}
        self.outgoing = Recorder.start(self.sink)
        self.actor = LoginActor.start(self.outgoing, self.config, **kwargs)
        self.next_id = 0

    def call(self, method: str, handler: str, params: Any = None, wait: bool = True) -> Any:
        self.next_id += 1
        request_id = self.next_id
        self.actor.tell(Call(0, request_id, method, handler, params, "test-agent/1.0"))
        if not wait:
            return request_id
        return self.answer(request_id)

    def answer(self, request_id: int) -> Any:
        items = self.sink.wait_for(lambda items: any(_answers(m, request_id) for m in items))
        (message,) = [m for m in items if _answers(m, request_id)]
        return message

    def sync(self) -> None:
        """Everything the login actor has told the recorder so far is recorded after this."""
        self.actor.ask(ConnectionClosed(99), timeout=10)
        self.outgoing.ask(FLUSH, timeout=10)

    def index_of(self, predicate: Callable[[Any], bool]) -> int:
        with self.sink.cond:
            return next(i for i, m in enumerate(self.sink.items) if predicate(m))


def _answers(message: Any, request_id: int) -> bool:
    return isinstance(message, Reply | Failure) and message.request_id == request_id


def result(message: Any) -> Any:
    assert isinstance(message, Reply), message
    return message.result


def error(message: Any) -> tuple[int, str]:
    assert isinstance(message, Failure), message
    return message.code, message.message


def p(**fields: Any) -> SimpleNamespace:
    return SimpleNamespace(**fields)


def callback_url(
    auth_url: str, *, state: str | None = None, code: str = "the-code", path: str = "/auth/callback"
) -> str:
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(auth_url).query))
    port = urllib.parse.urlsplit(query["redirect_uri"]).port
    params = urllib.parse.urlencode({"code": code, "state": state if state is not None else query["state"]})
    return f"http://127.0.0.1:{port}{path}?{params}"


def auth_query(auth_url: str) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(auth_url).query))


def is_notify(method: str) -> Callable[[Any], bool]:
    return lambda m: isinstance(m, Notify) and m.method == method


# -- API key -----------------------------------------------------------------------------------
def test_login_api_key_v1_replies_then_notifies(tmp_path: Path, issuer: MockIssuer) -> None:
    h = Harness(tmp_path, issuer)
    assert result(h.call("loginApiKey", "login_api_key", p(api_key="sk-one"))) == {}
    h.sync()
    reply_at = h.index_of(lambda m: isinstance(m, Reply))
    assert h.index_of(is_notify("authStatusChange")) > reply_at
    assert h.sink.notifications() == [("authStatusChange", {"authMethod": "apikey"})]
    assert json.loads((tmp_path / "auth.json").read_text()) == {"OPENAI_API_KEY": "sk-one"}

    status = result(h.call("getAuthStatus", "get_auth_status", p(include_token=True, refresh_token=None)))
    assert status == {"authMethod": "apikey", "authToken": "sk-one", "requiresOpenaiAuth": True}
    assert list(status) == ["authMethod", "authToken", "requiresOpenaiAuth"]
    assert result(h.call("getAuthStatus", "get_auth_status", p()))["authToken"] is None
    assert result(h.call("account/read", "account_read", p(refresh_token=False))) == {
        "account": {"type": "apiKey"},
        "requiresOpenaiAuth": True,
    }
    assert result(h.call("userInfo", "user_info")) == {"allegedUserEmail": None}
    assert error(h.call("account/rateLimits/read", "account_rate_limits_read")) == (
        -32600,
        "chatgpt authentication required to read rate limits",
    )


def test_empty_api_key_reports_no_method(tmp_path: Path, issuer: MockIssuer) -> None:
    h = Harness(tmp_path, issuer)
    h.call("loginApiKey", "login_api_key", p(api_key=""))
    h.sync()
    assert h.sink.notifications() == [("authStatusChange", {"authMethod": "apikey"})]
    assert result(h.call("getAuthStatus", "get_auth_status", p(include_token=True)))["authMethod"] is None
    assert result(h.call("account/read", "account_read", p()))["account"] == {"type": "apiKey"}


def test_account_login_start_api_key_v2(tmp_path: Path, issuer: MockIssuer) -> None:
    h = Harness(tmp_path, issuer)
    assert result(h.call("account/login/start", "account_login_start", p(type="apiKey", api_key="k"))) == {
        "type": "apiKey"
    }
    h.sync()
    assert h.sink.notifications() == [
        ("account/login/completed", {"loginId": None, "success": True, "error": None}),
        ("account/updated", {"authMode": "apikey"}),
    ]


def test_forced_login_methods_refuse(tmp_path: Path, issuer: MockIssuer) -> None:
    h = Harness(tmp_path, issuer, forced_login_method="chatgpt")
    assert error(h.call("loginApiKey", "login_api_key", p(api_key="k"))) == (
        -32600,
        "API key login is disabled. Use ChatGPT login instead.",
    )
    h2 = Harness(tmp_path, issuer, forced_login_method="api")
    assert error(h2.call("loginChatGpt", "login_chatgpt")) == (
        -32600,
        "ChatGPT login is disabled. Use API key login instead.",
    )
    assert not (tmp_path / "auth.json").exists()


def test_write_failure_is_reported(tmp_path: Path, issuer: MockIssuer) -> None:
    (tmp_path / "auth.json").mkdir()
    h = Harness(tmp_path, issuer)
    assert error(h.call("loginApiKey", "login_api_key", p(api_key="k"))) == (
        -32603,
        "failed to save api key: Is a directory (os error 21)",
    )


def test_provider_without_openai_auth(tmp_path: Path, issuer: MockIssuer) -> None:
    (tmp_path / "auth.json").write_text('{"OPENAI_API_KEY": "k"}')
    h = Harness(tmp_path, issuer, requires_openai_auth=False)
    assert result(h.call("getAuthStatus", "get_auth_status", p(include_token=True))) == {
        "authMethod": None,
        "authToken": None,
        "requiresOpenaiAuth": False,
    }
    assert result(h.call("account/read", "account_read", p())) == {"account": None, "requiresOpenaiAuth": False}


def test_corrupt_file_is_signed_out_until_a_login(tmp_path: Path, issuer: MockIssuer) -> None:
    (tmp_path / "auth.json").write_text('{"OPENAI_API_KEY": ')
    h = Harness(tmp_path, issuer)
    assert result(h.call("getAuthStatus", "get_auth_status", p(include_token=True))) == {
        "authMethod": None,
        "authToken": None,
        "requiresOpenaiAuth": True,
    }
    assert result(h.call("account/read", "account_read", p())) == {"account": None, "requiresOpenaiAuth": True}
    assert error(h.call("account/rateLimits/read", "account_rate_limits_read")) == (
        -32600,
        "codex account authentication required to read rate limits",
    )
    assert (tmp_path / "auth.json").read_text() == '{"OPENAI_API_KEY": '
    h.call("loginApiKey", "login_api_key", p(api_key="k"))
    assert json.loads((tmp_path / "auth.json").read_text()) == {"OPENAI_API_KEY": "k"}


def test_chatgpt_claims_missing_gives_058_error(tmp_path: Path, issuer: MockIssuer) -> None:
    (tmp_path / "auth.json").write_text("{}")
    h = Harness(tmp_path, issuer)
    assert error(h.call("account/read", "account_read", p())) == (
        -32600,
        "email and plan type are required for chatgpt authentication",
    )
    assert error(h.call("account/rateLimits/read", "account_rate_limits_read")) == (
        -32603,
        "failed to construct backend client: Token data is not available.",
    )


# -- ChatGPT -----------------------------------------------------------------------------------
def test_full_chatgpt_login_v2(tmp_path: Path, issuer: MockIssuer) -> None:
    h = Harness(tmp_path, issuer)
    started = result(h.call("account/login/start", "account_login_start", p(type="chatgpt")))
    assert list(started) == ["type", "loginId", "authUrl"] and started["type"] == "chatgpt"
    auth_url = started["authUrl"]
    query = auth_query(auth_url)
    assert auth_url.startswith(
        f"{issuer.url}/oauth/authorize?response_type=code&client_id=app_EMoamEEZ73f0CkXaXp7hrann"
        "&redirect_uri=http%3A%2F%2Flocalhost%3A"
    )
    assert "&scope=openid%20profile%20email%20offline_access&code_challenge=" in auth_url
    assert auth_url.endswith(f"&state={query['state']}&originator=codex_cli_rs")
    assert [k for k in query] == [
        "response_type", "client_id", "redirect_uri", "scope", "code_challenge", "code_challenge_method",
        "id_token_add_organizations", "codex_cli_simplified_flow", "state", "originator",
    ]
    assert len(query["code_challenge"]) == 43 and len(query["state"]) == 43

    # The browser with a wrong state is refused and the login goes on; other paths are 404.
    wrong = requests.get(callback_url(auth_url, state="forged"), allow_redirects=False, timeout=10)
    assert (wrong.status_code, wrong.text) == (400, "State mismatch")
    missing = requests.get(callback_url(auth_url, path="/elsewhere"), timeout=10)
    assert (missing.status_code, missing.text) == (404, "Not Found")
    h.sync()
    assert h.sink.notifications() == []

    good = requests.get(callback_url(auth_url), allow_redirects=False, timeout=10)
    assert good.status_code == 302 and good.headers["Location"].endswith("/success")
    # Credentials were saved before the browser was answered and before success was reported.
    auth = parse_auth_json((tmp_path / "auth.json").read_text())
    assert auth.mode == "chatgpt" and auth.tokens is not None
    assert auth.tokens.access_token == "access-the-code-1" and auth.tokens.account_id == "acct-123"
    h.sink.wait_for(lambda items: sum(isinstance(m, Notify) for m in items) == 2)
    assert h.sink.notifications() == [
        ("account/login/completed", {"loginId": started["loginId"], "success": True, "error": None}),
        ("account/updated", {"authMode": "chatgpt"}),
    ]
    success_page = requests.get(good.headers["Location"].replace("localhost", "127.0.0.1"), timeout=10)
    assert success_page.status_code == 200 and "Signed in" in success_page.text

    (exchange,) = issuer.requests_to("/oauth/token")
    form = dict(urllib.parse.parse_qsl(exchange.body.decode()))
    assert form["grant_type"] == "authorization_code" and form["code"] == "the-code"
    assert form["redirect_uri"] == query["redirect_uri"] and form["client_id"] == "app_EMoamEEZ73f0CkXaXp7hrann"
    challenge = base64.urlsafe_b64encode(hashlib.sha256(form["code_verifier"].encode()).digest()).rstrip(b"=")
    assert challenge.decode() == query["code_challenge"]

    status = result(h.call("getAuthStatus", "get_auth_status", p(include_token=True)))
    assert status == {"authMethod": "chatgpt", "authToken": "access-the-code-1", "requiresOpenaiAuth": True}
    assert result(h.call("account/read", "account_read", p())) == {
        "account": {"type": "chatgpt", "email": "user@example.com", "planType": "pro"},
        "requiresOpenaiAuth": True,
    }
    assert result(h.call("userInfo", "user_info")) == {"allegedUserEmail": "user@example.com"}


def test_chatgpt_login_v1_notifications(tmp_path: Path, issuer: MockIssuer) -> None:
    h = Harness(tmp_path, issuer)
    started = result(h.call("loginChatGpt", "login_chatgpt"))
    assert list(started) == ["loginId", "authUrl"]
    assert requests.get(callback_url(started["authUrl"]), allow_redirects=False, timeout=10).status_code == 302
    h.sink.wait_for(lambda items: sum(isinstance(m, Notify) for m in items) == 2)
    assert h.sink.notifications() == [
        ("loginChatGptComplete", {"loginId": started["loginId"], "success": True, "error": None}),
        ("authStatusChange", {"authMethod": "chatgpt"}),
    ]


def test_new_login_replaces_old_and_reports_it_first(tmp_path: Path, issuer: MockIssuer) -> None:
    h = Harness(tmp_path, issuer)
    first = result(h.call("account/login/start", "account_login_start", p(type="chatgpt")))
    second_id = h.call("loginChatGpt", "login_chatgpt", wait=False)
    second = result(h.answer(second_id))
    completion_at = h.index_of(is_notify("account/login/completed"))
    reply_at = h.index_of(lambda m: isinstance(m, Reply) and m.request_id == second_id)
    assert completion_at < reply_at
    assert h.sink.notifications() == [
        ("account/login/completed", {"loginId": first["loginId"], "success": False,
                                     "error": "Login server error: Login cancelled"}),
    ]
    with pytest.raises(requests.ConnectionError):
        requests.get(callback_url(first["authUrl"]), timeout=5)
    # The old id is gone; the new login still works.
    assert error(h.call("account/login/cancel", "account_login_cancel", p(login_id=first["loginId"]))) == (
        -32600,
        f"login id not found: {first['loginId']}",
    )
    assert requests.get(callback_url(second["authUrl"]), allow_redirects=False, timeout=10).status_code == 302
    h.sink.wait_for(lambda items: any(is_notify("loginChatGptComplete")(m) for m in items))
    assert ("loginChatGptComplete", {"loginId": second["loginId"], "success": True, "error": None}) in (
        h.sink.notifications()
    )
    assert issuer.requests_to("/oauth/token")


def test_cancel_v2_replies_then_reports(tmp_path: Path, issuer: MockIssuer) -> None:
    h = Harness(tmp_path, issuer)
    started = result(h.call("account/login/start", "account_login_start", p(type="chatgpt")))
    cancel_id = h.call("account/login/cancel", "account_login_cancel", p(login_id=started["loginId"]), wait=False)
    assert result(h.answer(cancel_id)) == {}
    h.sink.wait_for(lambda items: any(isinstance(m, Notify) for m in items))
    reply_at = h.index_of(lambda m: isinstance(m, Reply) and m.request_id == cancel_id)
    assert h.index_of(is_notify("account/login/completed")) > reply_at
    h.sync()
    assert h.sink.notifications() == [
        ("account/login/completed", {"loginId": started["loginId"], "success": False,
                                     "error": "Login server error: Login was not completed"}),
    ]
    assert error(h.call("account/login/cancel", "account_login_cancel", p(login_id="zzz"))) == (
        -32600,
        "invalid login id: zzz",
    )
    assert error(h.call("account/login/cancel", "account_login_cancel", p(login_id=started["loginId"]))) == (
        -32600,
        f"login id not found: {started['loginId']}",
    )
    assert not (tmp_path / "auth.json").exists()


def test_cancel_v1(tmp_path: Path, issuer: MockIssuer) -> None:
    import uuid

    h = Harness(tmp_path, issuer)
    started = result(h.call("loginChatGpt", "login_chatgpt"))
    assert result(h.call("cancelLoginChatGpt", "cancel_login_chatgpt", p(login_id=uuid.UUID(started["loginId"])))) == {}
    h.sink.wait_for(lambda items: any(isinstance(m, Notify) for m in items))
    assert h.sink.notifications() == [
        ("loginChatGptComplete", {"loginId": started["loginId"], "success": False,
                                  "error": "Login server error: Login was not completed"}),
    ]


def test_cancel_route_on_the_login_server(tmp_path: Path, issuer: MockIssuer) -> None:
    h = Harness(tmp_path, issuer)
    started = result(h.call("account/login/start", "account_login_start", p(type="chatgpt")))
    response = requests.get(callback_url(started["authUrl"], path="/cancel"), timeout=10)
    assert (response.status_code, response.text) == (200, "Login cancelled")
    h.sink.wait_for(lambda items: any(isinstance(m, Notify) for m in items))
    assert h.sink.notifications() == [
        ("account/login/completed", {"loginId": started["loginId"], "success": False,
                                     "error": "Login server error: Login cancelled"}),
    ]


def test_success_page_alone_does_not_complete(tmp_path: Path, issuer: MockIssuer) -> None:
    h = Harness(tmp_path, issuer)
    started = result(h.call("account/login/start", "account_login_start", p(type="chatgpt")))
    page = requests.get(callback_url(started["authUrl"], path="/success"), timeout=10)
    assert page.status_code == 200
    h.sync()
    assert h.sink.notifications() == []  # 0.58 reported success here with nothing saved
    assert not (tmp_path / "auth.json").exists()


def test_login_times_out(tmp_path: Path, issuer: MockIssuer) -> None:
    h = Harness(tmp_path, issuer, raw={"login_timeout_seconds": 0.3})
    started = result(h.call("account/login/start", "account_login_start", p(type="chatgpt")))
    h.sink.wait_for(lambda items: any(isinstance(m, Notify) for m in items))
    assert h.sink.notifications() == [
        ("account/login/completed", {"loginId": started["loginId"], "success": False, "error": "Login timed out"}),
    ]
    with pytest.raises(requests.ConnectionError):
        for _ in range(50):  # the listener closes right after the timeout
            requests.get(callback_url(started["authUrl"], path="/nothing"), timeout=2)
            time.sleep(0.05)


def test_token_exchange_failure_ends_the_login(tmp_path: Path, issuer: MockIssuer) -> None:
    issuer.token_status = 400
    issuer.token_body = json.dumps({"error": "invalid_grant", "error_description": "code expired"})
    h = Harness(tmp_path, issuer)
    started = result(h.call("account/login/start", "account_login_start", p(type="chatgpt")))
    page = requests.get(callback_url(started["authUrl"]), allow_redirects=False, timeout=10)
    assert page.status_code == 200 and "code expired" in page.text
    h.sink.wait_for(lambda items: any(isinstance(m, Notify) for m in items))
    ((method, params),) = h.sink.notifications()
    assert method == "account/login/completed" and params["success"] is False
    assert params["error"] == (
        "Login server error: Token exchange failed: token endpoint returned status 400 Bad Request: code expired"
    )
    assert not (tmp_path / "auth.json").exists()


def test_forced_workspace_refuses_other_accounts(tmp_path: Path, issuer: MockIssuer) -> None:
    h = Harness(tmp_path, issuer, forced_chatgpt_workspace_id="ws-other")
    started = result(h.call("account/login/start", "account_login_start", p(type="chatgpt")))
    assert auth_query(started["authUrl"])["allowed_workspace_id"] == "ws-other"
    requests.get(callback_url(started["authUrl"]), allow_redirects=False, timeout=10)
    h.sink.wait_for(lambda items: any(isinstance(m, Notify) for m in items))
    ((_, params),) = h.sink.notifications()
    assert params["error"] == "Login server error: Login is restricted to workspace id ws-other."
    assert not (tmp_path / "auth.json").exists()


def test_pasted_redirect_url_completes_the_login(tmp_path: Path, issuer: MockIssuer) -> None:
    h = Harness(tmp_path, issuer)
    started = result(h.call("account/login/start", "account_login_start", p(type="chatgpt")))
    login_id = started["loginId"]
    forged = callback_url(started["authUrl"], state="forged").replace("127.0.0.1", "localhost")
    assert error(h.call("account/login/complete", "account_login_complete",
                        p(login_id=login_id, callback_url=forged))) == (-32600, "State mismatch")
    assert error(h.call("account/login/complete", "account_login_complete",
                        p(login_id="nope", callback_url=forged))) == (-32600, "invalid login id: nope")
    pasted = callback_url(started["authUrl"], code="pasted").replace("127.0.0.1", "localhost")
    assert result(h.call("account/login/complete", "account_login_complete",
                         p(login_id=login_id, callback_url=pasted))) == {}
    h.sink.wait_for(lambda items: sum(isinstance(m, Notify) for m in items) == 2)
    assert h.sink.notifications() == [
        ("account/login/completed", {"loginId": login_id, "success": True, "error": None}),
        ("account/updated", {"authMode": "chatgpt"}),
    ]
    auth = parse_auth_json((tmp_path / "auth.json").read_text())
    assert auth.tokens is not None and auth.tokens.access_token == "access-pasted-1"


def test_busy_port_gets_cancel_then_the_exact_error(tmp_path: Path, issuer: MockIssuer) -> None:
    # An older login server (another process, say) on the port quits on /cancel: we take the port.
    old = ChatGptLoginServer(issuer=issuer.url, port=0)
    old.start()
    h = Harness(tmp_path, issuer, login_port=old.port)
    started = result(h.call("loginChatGpt", "login_chatgpt"))
    assert f"localhost%3A{old.port}%2F" in started["authUrl"]
    assert old.wait_closed(5)

    # A foreign listener answers /cancel but keeps the port: after the retries, 0.58's exact error.
    foreign = socket.socket()
    foreign.bind(("127.0.0.1", 0))
    foreign.listen(5)
    cancels: list[bytes] = []

    def answer() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = foreign.accept()
                with conn:
                    cancels.append(conn.recv(1024))
                    conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")

    threading.Thread(target=answer, daemon=True).start()
    try:
        port = foreign.getsockname()[1]
        h2 = Harness(tmp_path, issuer, login_port=port)
        assert error(h2.call("account/login/start", "account_login_start", p(type="chatgpt"))) == (
            -32603,
            f"failed to start login server: Port 127.0.0.1:{port} is already in use",
        )
        assert len(cancels) == 1 and cancels[0].startswith(b"GET /cancel HTTP/1.1\r\n")
    finally:
        foreign.close()


def test_logout_cancels_login_deletes_and_notifies(tmp_path: Path, issuer: MockIssuer) -> None:
    (tmp_path / "auth.json").write_text(chatgpt_auth())
    h = Harness(tmp_path, issuer)
    started = result(h.call("account/login/start", "account_login_start", p(type="chatgpt")))
    logout_id = h.call("account/logout", "account_logout", wait=False)
    assert result(h.answer(logout_id)) == {}
    h.sync()
    assert not (tmp_path / "auth.json").exists()
    assert h.sink.notifications() == [
        ("account/login/completed", {"loginId": started["loginId"], "success": False,
                                     "error": "Login server error: Login was not completed"}),
        ("account/updated", {"authMode": None}),
    ]
    reply_at = h.index_of(lambda m: isinstance(m, Reply) and m.request_id == logout_id)
    assert h.index_of(is_notify("account/login/completed")) < reply_at < h.index_of(is_notify("account/updated"))
    # Logging out with nothing stored still succeeds and notifies (v1 this time).
    assert result(h.call("logoutChatGpt", "logout_chatgpt")) == {}
    h.sync()
    assert h.sink.notifications()[-1] == ("authStatusChange", {"authMethod": None})


# -- refresh -----------------------------------------------------------------------------------
def test_get_auth_status_refresh_on_request(tmp_path: Path, issuer: MockIssuer) -> None:
    (tmp_path / "auth.json").write_text(chatgpt_auth())
    h = Harness(tmp_path, issuer)
    status = result(h.call("getAuthStatus", "get_auth_status", p(include_token=True, refresh_token=True)))
    assert status["authToken"].startswith("refreshed-access-") and issuer.refresh_count == 1
    account = result(h.call("account/read", "account_read", p(refresh_token=True)))
    assert account["account"]["email"] == "user@example.com" and issuer.refresh_count == 2


def test_failed_refresh_is_only_logged(tmp_path: Path, issuer: MockIssuer) -> None:
    issuer.refresh_status = 500
    (tmp_path / "auth.json").write_text(chatgpt_auth())
    h = Harness(tmp_path, issuer)
    status = result(h.call("getAuthStatus", "get_auth_status", p(include_token=True, refresh_token=True)))
    assert status == {"authMethod": "chatgpt", "authToken": "AT", "requiresOpenaiAuth": True}


def test_get_auth_refreshes_when_asked_and_when_stale(tmp_path: Path, issuer: MockIssuer) -> None:
    (tmp_path / "auth.json").write_text(chatgpt_auth())
    h = Harness(tmp_path, issuer)
    fresh = h.actor.ask(GetAuth(), timeout=10)
    assert fresh == AuthSnapshot(mode="chatgpt", access_token="AT", account_id="acc-1", plan_type="pro")
    assert issuer.refresh_count == 0
    after_401 = h.actor.ask(GetAuth(refresh=True), timeout=10)
    assert after_401.access_token.startswith("refreshed-access-") and issuer.refresh_count == 1

    (tmp_path / "auth.json").write_text(chatgpt_auth(last_refresh=datetime.now(UTC) - timedelta(days=40)))
    stale = h.actor.ask(GetAuth(), timeout=10)
    assert stale.access_token.startswith("refreshed-access-") and issuer.refresh_count == 2
    assert h.actor.ask(GetAuth(), timeout=10) == stale and issuer.refresh_count == 2

    (tmp_path / "auth.json").write_text('{"OPENAI_API_KEY": "sk"}')
    assert h.actor.ask(GetAuth(), timeout=10) == AuthSnapshot(mode="apikey", api_key="sk")
    (tmp_path / "auth.json").unlink()
    assert h.actor.ask(GetAuth(), timeout=10) == AuthSnapshot(mode=None)


# -- rate limits -------------------------------------------------------------------------------
def test_rate_limits_from_the_usage_endpoint(tmp_path: Path, issuer: MockIssuer) -> None:
    (tmp_path / "auth.json").write_text(chatgpt_auth())
    h = Harness(tmp_path, issuer)
    assert result(h.call("account/rateLimits/read", "account_rate_limits_read")) == {
        "rateLimits": {
            "primary": {"usedPercent": 42, "windowDurationMins": 300, "resetsAt": 1900000000},
            "secondary": {"usedPercent": 5, "windowDurationMins": 2, "resetsAt": 1900000500},
        }
    }
    (request,) = issuer.requests_to("/backend-api/wham/usage")
    assert request.headers["authorization"] == "Bearer AT"
    assert request.headers["chatgpt-account-id"] == "acc-1"
    assert request.headers["user-agent"] == "test-agent/1.0"

    h2 = Harness(tmp_path, issuer, chatgpt_base_url=issuer.url)
    issuer.usage_payload = {"plan_type": "plus", "rate_limit": None}
    assert result(h2.call("account/rateLimits/read", "account_rate_limits_read")) == {
        "rateLimits": {"primary": None, "secondary": None}
    }
    assert issuer.requests_to("/api/codex/usage")


def test_rate_limit_failures(tmp_path: Path, issuer: MockIssuer) -> None:
    (tmp_path / "auth.json").write_text(chatgpt_auth())
    h = Harness(tmp_path, issuer)
    url = f"{issuer.url}/backend-api/wham/usage"
    issuer.usage_status = 500
    assert error(h.call("account/rateLimits/read", "account_rate_limits_read")) == (
        -32603,
        f"failed to fetch codex rate limits: GET {url} failed: 500 Internal Server Error; "
        "content-type=text/plain; body=upstream sad",
    )
    issuer.usage_status = 200
    issuer.usage_payload = {"plan_type": "pro", "rate_limit": {"allowed": True, "limit_reached": False,
                            "primary_window": {"used_percent": 1.5, "limit_window_seconds": 60,
                                               "reset_after_seconds": 1, "reset_at": 1}}}
    code, message = error(h.call("account/rateLimits/read", "account_rate_limits_read"))
    assert code == -32603
    prefix = f"failed to fetch codex rate limits: Decode error for {url}: invalid type: floating point"
    assert message.startswith(prefix)
    assert "used_percent" in message and message.endswith("; content-type=application/json; body=" + json.dumps(
        issuer.usage_payload))

    h2 = Harness(tmp_path, issuer, chatgpt_base_url="http://127.0.0.1:9/backend-api/")
    assert error(h2.call("account/rateLimits/read", "account_rate_limits_read")) == (
        -32603,
        "failed to fetch codex rate limits: error sending request for url (http://127.0.0.1:9/backend-api/wham/usage)",
    )


# -- keyring and concurrency -------------------------------------------------------------------
def test_keyring_store_through_the_actor(tmp_path: Path, issuer: MockIssuer) -> None:
    backend = MemoryKeyring()
    h = Harness(tmp_path, issuer, store="keyring", keyring_backend=backend)
    h.call("loginApiKey", "login_api_key", p(api_key="sk-ring"))
    assert not (tmp_path / "auth.json").exists()
    assert list(backend.entries.values()) == ['{"OPENAI_API_KEY":"sk-ring"}']
    assert result(h.call("getAuthStatus", "get_auth_status", p(include_token=True)))["authToken"] == "sk-ring"
    h.call("account/logout", "account_logout")
    assert backend.entries == {}
    assert result(h.call("getAuthStatus", "get_auth_status", p()))["authMethod"] is None


def test_interleaved_requests_never_leave_a_partial_file(tmp_path: Path, issuer: MockIssuer) -> None:
    h = Harness(tmp_path, issuer)
    seen: list[str] = []
    stop = threading.Event()
    path = tmp_path / "auth.json"

    def watch() -> None:
        while not stop.is_set():
            try:
                text = path.read_text()
            except FileNotFoundError:
                seen.append("absent")
                continue
            json.loads(text)  # a torn file would raise here and fail the test below
            seen.append(text)

    watcher = threading.Thread(target=watch)
    watcher.start()
    ids = []
    try:
        for i in range(50):
            kind = i % 5
            if kind in (0, 3):
                ids.append(h.call("loginApiKey", "login_api_key", p(api_key=f"sk-{i}"), wait=False))
            elif kind == 1:
                ids.append(h.call("account/login/start", "account_login_start", p(type="chatgpt"), wait=False))
            elif kind == 2:
                ids.append(h.call("account/logout", "account_logout", wait=False))
            else:
                ids.append(h.call("getAuthStatus", "get_auth_status", p(include_token=True), wait=False))
        answers = [h.answer(request_id) for request_id in ids]
    finally:
        stop.set()
        watcher.join()
    assert all(isinstance(a, Reply) for a in answers)
    assert seen and all(s == "absent" or json.loads(s)["OPENAI_API_KEY"].startswith("sk-") for s in seen)
    # The last write was loginApiKey sk-48: the store and the status agree.
    assert json.loads(path.read_text()) == {"OPENAI_API_KEY": "sk-48"}
    assert result(h.call("getAuthStatus", "get_auth_status", p(include_token=True)))["authToken"] == "sk-48"
    assert AuthStore(tmp_path).load() is not None


def test_typed_params_from_messages(tmp_path: Path, issuer: MockIssuer) -> None:
    """The router hands over msgspec Structs: the tagged union carries its tag on the class."""
    import msgspec

    from messages import v1, v2

    h = Harness(tmp_path, issuer)
    api_key = msgspec.json.decode(b'{"type":"apiKey","apiKey":"sk-typed"}', type=v2.LoginAccountParams)
    assert result(h.call("account/login/start", "account_login_start", api_key)) == {"type": "apiKey"}
    status = msgspec.json.decode(b'{"includeToken":true}', type=v1.GetAuthStatusParams)
    assert result(h.call("getAuthStatus", "get_auth_status", status))["authToken"] == "sk-typed"
    chatgpt = msgspec.json.decode(b'{"type":"chatgpt"}', type=v2.LoginAccountParams)
    started = result(h.call("account/login/start", "account_login_start", chatgpt))
    assert started["type"] == "chatgpt"
    cancel = msgspec.json.decode(
        msgspec.json.encode({"loginId": started["loginId"]}), type=v1.CancelLoginChatGptParams
    )
    assert result(h.call("cancelLoginChatGpt", "cancel_login_chatgpt", cancel)) == {}


def test_environment_overrides_are_read_at_start(
    tmp_path: Path, issuer: MockIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    monkeypatch.setenv("CODEX_APP_SERVER_ISSUER", issuer.url)
    monkeypatch.setenv("CODEX_APP_SERVER_LOGIN_PORT", str(port))
    monkeypatch.setenv("CODEX_REFRESH_TOKEN_URL_OVERRIDE", f"{issuer.url}/oauth/token")
    (tmp_path / "auth.json").write_text(chatgpt_auth())
    h = Harness(tmp_path, issuer, issuer=None, login_port=None, refresh_url=None)
    started = result(h.call("loginChatGpt", "login_chatgpt"))
    assert started["authUrl"].startswith(f"{issuer.url}/oauth/authorize?")
    assert f"localhost%3A{port}%2Fauth%2Fcallback" in started["authUrl"]
    assert h.actor.ask(GetAuth(refresh=True), timeout=10).access_token.startswith("refreshed-access-")
    assert issuer.refresh_count == 1


def test_a_token_refresh_for_a_turn_leaves_the_login_actor_free(tmp_path: Path, issuer: MockIssuer) -> None:
    """The turn's GetAuth carries its own reply future: the refresh runs in a worker while the
    login actor answers others (here a status read) at once."""
    issuer.refresh_delay = 1.5
    (tmp_path / "auth.json").write_text(chatgpt_auth())
    h = Harness(tmp_path, issuer)
    answer = pykka.ThreadingFuture()
    h.actor.tell(GetAuth(refresh=True, reply=answer))
    started = time.monotonic()
    quick = h.actor.ask(GetAuth(), timeout=10)  # no refresh asked, none needed: inline
    assert time.monotonic() - started < 1.0, "the login actor waited for the token request"
    assert quick.access_token == "AT"
    refreshed = answer.get(timeout=10)
    assert refreshed.access_token.startswith("refreshed-access-") and issuer.refresh_count == 1
    # Not stale, no refresh asked: answered on the spot through the future too.
    again = pykka.ThreadingFuture()
    h.actor.tell(GetAuth(reply=again))
    assert again.get(timeout=10) == refreshed
