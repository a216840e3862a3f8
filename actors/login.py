"""The login actor: every credential change (API-key login, ChatGPT login, logout, refresh) and
every read of the account (auth status, account, user info, rate limits). PROTOCOL.md §4.2–4.11.

Environment, read once at start (each also a constructor argument, which wins):
- `CODEX_REFRESH_TOKEN_URL_OVERRIDE`: the token refresh URL (0.58's variable).
- `CODEX_APP_SERVER_ISSUER`: the OAuth issuer base URL (default https://auth.openai.com).
- `CODEX_APP_SERVER_LOGIN_PORT`: the callback port (default 1455; 0 picks a free port).
Config (`config.raw`): `login_timeout_seconds` (default 600), how long a ChatGPT login waits for
the browser before it ends with `Login timed out`.
"""

from __future__ import annotations

import logging
import math
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pykka

from actors.auth_store import DEFAULT_STALE_AFTER, AuthDotJson, AuthStore, RefreshError, os_error_text
from actors.base import DEFERRED, FeatureActor
from actors.chatgpt_login import (
    DEFAULT_ISSUER,
    DEFAULT_PORT,
    ChatGptLoginServer,
    ExchangedTokens,
    LoginFailed,
    LoginTimedOut,
    PortInUseError,
)
from messages.internal import AuthSnapshot, Call, ConnectionClosed, GetAuth
from messages.jsonrpc import INTERNAL_ERROR, INVALID_REQUEST, RpcError

log = logging.getLogger(__name__)

ISSUER_ENV = "CODEX_APP_SERVER_ISSUER"
LOGIN_PORT_ENV = "CODEX_APP_SERVER_LOGIN_PORT"
REFRESH_URL_ENV = "CODEX_REFRESH_TOKEN_URL_OVERRIDE"
DEFAULT_LOGIN_TIMEOUT = 600.0
DEFAULT_CHATGPT_BASE_URL = "https://chatgpt.com/backend-api/"
CANCELLED = "Login server error: Login cancelled"
NOT_COMPLETED = "Login server error: Login was not completed"


@dataclass
class _ActiveLogin:
    login_id: str
    api: str  # "v1" | "v2": which notifications report its end
    server: ChatGptLoginServer


@dataclass(frozen=True)
class _LoginOutcome:
    tokens: ExchangedTokens | None = None
    error: str | None = None


def _param(params: Any, name: str, default: Any = None) -> Any:
    if params is None:
        return default
    if isinstance(params, dict):
        return params.get(name, default)
    return getattr(params, name, default)


def _config(config: Any, name: str, default: Any = None) -> Any:
    value = getattr(config, name, default)
    return default if value is None else value


class LoginActor(FeatureActor):
    """Owns the credential store of CODEX_HOME, the one active ChatGPT login attempt and the
    callback servers still finishing. Accepts the routed `Call`s of the table below, `GetAuth`
    (answered with an `AuthSnapshot`) and `ConnectionClosed` (nothing to drop: the account is
    shared by every connection).

    | method | handler |
    | loginApiKey / account/login/start {apiKey} | login_api_key / account_login_start |
    | loginChatGpt / account/login/start {chatgpt} | login_chatgpt / account_login_start |
    | cancelLoginChatGpt / account/login/cancel | cancel_login_chatgpt / account_login_cancel |
    | account/login/complete (ours) | account_login_complete |
    | logoutChatGpt / account/logout | logout_chatgpt / account_logout |
    | getAuthStatus, account/read, userInfo | get_auth_status, account_read, user_info |
    | account/rateLimits/read | account_rate_limits_read |
    """

    store: AuthStore
    _active: _ActiveLogin | None
    _finishing: list[ChatGptLoginServer]
    _auth: AuthDotJson | None
    _auth_signature: Any

    def __init__(
        self,
        outgoing: pykka.ActorRef,
        config: Any,
        *,
        issuer: str | None = None,
        login_port: int | None = None,
        refresh_url: str | None = None,
        keyring_backend: Any = None,
        login_timeout: float | None = None,
        stale_after: timedelta = DEFAULT_STALE_AFTER,
        id_factory: Callable[[], str] = lambda: str(uuid.uuid4()),
        store: AuthStore | None = None,
    ) -> None:
        super().__init__(outgoing)
        self.config = config
        self.issuer = issuer or os.environ.get(ISSUER_ENV) or DEFAULT_ISSUER
        if login_port is None:
            env_port = os.environ.get(LOGIN_PORT_ENV)
            login_port = int(env_port) if env_port and env_port.strip().isdigit() else DEFAULT_PORT
        self.login_port = login_port
        raw = _config(config, "raw", {}) or {}
        if login_timeout is None:
            configured = raw.get("login_timeout_seconds") if isinstance(raw, dict) else None
            login_timeout = float(configured) if isinstance(configured, int | float) else DEFAULT_LOGIN_TIMEOUT
        self.login_timeout = login_timeout
        self.stale_after = stale_after
        self.new_id = id_factory
        self.store = store or AuthStore(
            _config(config, "codex_home"),
            _config(config, "cli_auth_credentials_store", "file"),
            keyring_backend=keyring_backend,
            refresh_url=refresh_url or os.environ.get(REFRESH_URL_ENV) or None,
        )
        self._active = None
        self._finishing = []
        self._auth = None
        self._auth_signature = object()  # never equal: the first read loads

    def on_stop(self) -> None:
        if self._active is not None:
            self._active.server.cancel()
        for server in self._finishing:
            server.close()

    # -- reading the credentials --------------------------------------------------------------
    def _signature(self) -> Any:
        if self.store.mode != "file":
            return object()  # keyring entries have no cheap change stamp: read each time
        try:
            st = self.store.auth_path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def current_auth(self) -> AuthDotJson | None:
        """The stored credentials, re-read whenever the file changed (another process may have
        signed in, out, or refreshed)."""
        signature = self._signature()
        if signature != self._auth_signature:
            self._auth = self.store.load()
            self._auth_signature = signature
        return self._auth

    def _forget_cache(self) -> None:
        self._auth_signature = object()

    def _mode(self) -> str | None:
        auth = self.current_auth()
        return auth.mode if auth is not None else None

    def _requires_openai_auth(self) -> bool:
        provider = getattr(self.config, "model_provider", None)
        return bool(getattr(provider, "requires_openai_auth", True)) if provider is not None else True

    # -- notifications ------------------------------------------------------------------------
    def _notify_completed(self, api: str, login_id: str | None, success: bool, error: str | None) -> None:
        payload = {"loginId": login_id, "success": success, "error": error}
        self.notify("loginChatGptComplete" if api == "v1" else "account/login/completed", payload)

    def _notify_account(self, api: str) -> None:
        mode = self._mode()
        if api == "v1":
            self.notify("authStatusChange", {"authMethod": mode})
        else:
            self.notify("account/updated", {"authMode": mode})

    def _end_active(self, error: str) -> None:
        """Stop the active login now and report its end (before whatever replaced it)."""
        active, self._active = self._active, None
        if active is None:
            return
        active.server.cancel(error.removeprefix("Login server error: "))
        active.server.close()  # now, so a new login can bind the same port without a retry
        self._notify_completed(active.api, active.login_id, False, error)

    # -- API key ------------------------------------------------------------------------------
    def login_api_key(self, call: Call) -> Any:
        return self._login_api_key(call, _param(call.params, "api_key", ""), "v1")

    def _login_api_key(self, call: Call, api_key: str, api: str) -> Any:
        if _config(self.config, "forced_login_method") == "chatgpt":
            raise RpcError(INVALID_REQUEST, "API key login is disabled. Use ChatGPT login instead.")
        self._end_active(NOT_COMPLETED)
        try:
            self.store.login_with_api_key(api_key)
        except OSError as error:
            raise RpcError(INTERNAL_ERROR, f"failed to save api key: {os_error_text(error)}") from error
        finally:
            self._forget_cache()
        if api == "v1":
            self.reply(call, {})
            self._notify_account("v1")
        else:
            self.reply(call, {"type": "apiKey"})
            self._notify_completed("v2", None, True, None)
            self._notify_account("v2")
        return DEFERRED

    def account_login_start(self, call: Call) -> Any:
        kind = _param(call.params, "type")
        if kind is None:  # a msgspec tagged Struct carries its tag on the class, not as a field
            kind = getattr(getattr(type(call.params), "__struct_config__", None), "tag", None)
        if kind == "apiKey":
            return self._login_api_key(call, _param(call.params, "api_key", ""), "v2")
        if kind == "chatgpt":
            return self._login_chatgpt(call, "v2")
        raise RpcError(INVALID_REQUEST, f"Invalid request: unknown variant `{kind}`, expected `apiKey` or `chatgpt`")

    # -- ChatGPT ------------------------------------------------------------------------------
    def login_chatgpt(self, call: Call) -> Any:
        return self._login_chatgpt(call, "v1")

    def _login_chatgpt(self, call: Call, api: str) -> Any:
        if _config(self.config, "forced_login_method") == "api":
            raise RpcError(INVALID_REQUEST, "ChatGPT login is disabled. Use API key login instead.")
        self._end_active(CANCELLED)
        for old in self._finishing:  # a finished login lingering for /success frees the port now
            old.close()
        self._finishing.clear()
        server = ChatGptLoginServer(
            issuer=self.issuer,
            port=self.login_port,
            forced_workspace_id=_config(self.config, "forced_chatgpt_workspace_id"),
            user_agent=call.user_agent or None,
        )
        try:
            server.start()
        except OSError as error:
            message = str(error) if isinstance(error, PortInUseError) else os_error_text(error)
            raise RpcError(INTERNAL_ERROR, f"failed to start login server: {message}") from error
        login_id = self.new_id()
        self._active = _ActiveLogin(login_id, api, server)
        timeout = self.login_timeout

        def wait() -> _LoginOutcome:
            try:
                return _LoginOutcome(tokens=server.wait_for_tokens(timeout))
            except LoginTimedOut:
                return _LoginOutcome(error="Login timed out")
            except LoginFailed as error:
                return _LoginOutcome(error=f"Login server error: {error}")
            except Exception as error:  # noqa: BLE001 - reported as the login's end, never lost
                log.exception("ChatGPT login failed")
                return _LoginOutcome(error=f"Login server error: {error}")

        self.run_in_worker(None, wait, lambda _call, outcome: self._login_ended(login_id, outcome), name="login-wait")
        if api == "v1":
            return {"loginId": login_id, "authUrl": server.auth_url}
        return {"type": "chatgpt", "loginId": login_id, "authUrl": server.auth_url}

    def _login_ended(self, login_id: str, outcome: _LoginOutcome) -> None:
        active = self._active
        if active is None or active.login_id != login_id:
            # Cancelled or replaced while waiting: its end was reported then; never save.
            return
        server = active.server
        if outcome.tokens is None:
            self._active = None
            self._notify_completed(active.api, login_id, False, outcome.error)
            return
        tokens = outcome.tokens
        try:
            self.store.save_chatgpt_tokens(tokens.id_token, tokens.access_token, tokens.refresh_token)
        except Exception as error:  # noqa: BLE001 - a failed save ends the login with the reason
            self._forget_cache()
            self._active = None
            detail = os_error_text(error)
            server.finish(False, f"Sign-in completed but credentials could not be saved locally: {detail}")
            error_text = f"Login server error: failed to save credentials: {detail}"
            self._notify_completed(active.api, login_id, False, error_text)
            return
        self._forget_cache()
        self._active = None
        server.finish(True)
        self._finishing = [s for s in self._finishing if not s.wait_closed(0)] + [server]
        self._notify_completed(active.api, login_id, True, None)
        self._notify_account(active.api)

    def _find_login(self, login_id: str) -> _ActiveLogin:
        if self._active is None or self._active.login_id != login_id:
            raise RpcError(INVALID_REQUEST, f"login id not found: {login_id}")
        return self._active

    def cancel_login_chatgpt(self, call: Call) -> Any:
        raw = _param(call.params, "login_id")
        try:
            login_id = str(raw if isinstance(raw, uuid.UUID) else uuid.UUID(str(raw)))
        except ValueError as error:
            # v1 typed params reject a bad UUID while decoding; this only guards untyped callers.
            raise RpcError(INVALID_REQUEST, f"Invalid request: UUID parsing failed: {raw}") from error
        return self._cancel(call, login_id, "v1")

    def account_login_cancel(self, call: Call) -> Any:
        return self._cancel(call, self._parse_v2_id(_param(call.params, "login_id")), "v2")

    @staticmethod
    def _parse_v2_id(raw: Any) -> str:
        try:
            return str(uuid.UUID(str(raw)))
        except ValueError:
            raise RpcError(INVALID_REQUEST, f"invalid login id: {raw}") from None

    def _cancel(self, call: Call, login_id: str, api: str) -> Any:
        active = self._find_login(login_id)
        self._active = None
        active.server.cancel("Login was not completed")
        self.reply(call, {})
        self._notify_completed(active.api, active.login_id, False, NOT_COMPLETED)
        return DEFERRED

    def account_login_complete(self, call: Call) -> Any:
        """Ours: finish the active login from the redirect URL the user pasted (headless hosts)."""
        active = self._find_login(self._parse_v2_id(_param(call.params, "login_id")))
        callback_url = _param(call.params, "callback_url")
        if not isinstance(callback_url, str) or not callback_url.strip():
            raise RpcError(INVALID_REQUEST, "callbackUrl must be the full redirect URL")
        try:
            active.server.submit_callback_url(callback_url)
        except ValueError as error:
            raise RpcError(INVALID_REQUEST, str(error)) from error
        return {}

    # -- logout -------------------------------------------------------------------------------
    def logout_chatgpt(self, call: Call) -> Any:
        return self._logout(call, "v1")

    def account_logout(self, call: Call) -> Any:
        return self._logout(call, "v2")

    def _logout(self, call: Call, api: str) -> Any:
        self._end_active(NOT_COMPLETED)
        try:
            self.store.delete()
        except OSError as error:
            raise RpcError(INTERNAL_ERROR, f"logout failed: {os_error_text(error)}") from error
        finally:
            self._forget_cache()
        self.reply(call, {})
        self._notify_account(api)
        return DEFERRED

    # -- status -------------------------------------------------------------------------------
    def _refresh_in_worker(self, call: Call, then: Callable[[Call | None, Any], Any]) -> Any:
        auth = self.current_auth()
        seen = auth.tokens.access_token if auth is not None and auth.tokens is not None else None
        store = self.store

        def refresh() -> None:
            try:
                store.refresh(seen, force=True)
            except RefreshError as error:
                log.warning("failed to refresh token: %s", error)
            except Exception as error:  # noqa: BLE001 - a failed refresh is only logged (0.58)
                log.warning("failed to refresh token: %s", error)

        def after(done_call: Call | None, _value: Any) -> Any:
            self._forget_cache()
            return then(done_call, None)

        return self.run_in_worker(call, refresh, after, name="login-refresh")

    def get_auth_status(self, call: Call) -> Any:
        include_token = bool(_param(call.params, "include_token", False))
        if not self._requires_openai_auth():
            return {"authMethod": None, "authToken": None, "requiresOpenaiAuth": False}
        auth = self.current_auth()
        if _param(call.params, "refresh_token", False) and auth is not None and auth.mode == "chatgpt":
            return self._refresh_in_worker(call, lambda _c, _v: self._auth_status(include_token))
        return self._auth_status(include_token)

    def _auth_status(self, include_token: bool) -> dict[str, Any]:
        auth = self.current_auth()
        if auth is None:
            return {"authMethod": None, "authToken": None, "requiresOpenaiAuth": True}
        token = auth.token
        if not token:
            return {"authMethod": None, "authToken": None, "requiresOpenaiAuth": True}
        return {"authMethod": auth.mode, "authToken": token if include_token else None, "requiresOpenaiAuth": True}

    def account_read(self, call: Call) -> Any:
        if not self._requires_openai_auth():
            return {"account": None, "requiresOpenaiAuth": False}
        auth = self.current_auth()
        if _param(call.params, "refresh_token", False) and auth is not None and auth.mode == "chatgpt":
            return self._refresh_in_worker(call, lambda _c, _v: self._account())
        return self._account()

    def _account(self) -> dict[str, Any]:
        auth = self.current_auth()
        if auth is None:
            return {"account": None, "requiresOpenaiAuth": True}
        if auth.mode == "apikey":
            return {"account": {"type": "apiKey"}, "requiresOpenaiAuth": True}
        email = auth.tokens.id_token.email if auth.tokens is not None else None
        plan = auth.plan_type
        if email is None or plan is None:
            raise RpcError(INVALID_REQUEST, "email and plan type are required for chatgpt authentication")
        return {"account": {"type": "chatgpt", "email": email, "planType": plan}, "requiresOpenaiAuth": True}

    def user_info(self, call: Call) -> Any:
        auth = self.current_auth()
        email = auth.tokens.id_token.email if auth is not None and auth.tokens is not None else None
        return {"allegedUserEmail": email}

    # -- rate limits --------------------------------------------------------------------------
    def account_rate_limits_read(self, call: Call) -> Any:
        auth = self.current_auth()
        if auth is None:
            raise RpcError(INVALID_REQUEST, "codex account authentication required to read rate limits")
        if auth.mode != "chatgpt":
            raise RpcError(INVALID_REQUEST, "chatgpt authentication required to read rate limits")
        if auth.token is None or auth.tokens is None:
            raise RpcError(INTERNAL_ERROR, "failed to construct backend client: Token data is not available.")
        base_url = _config(self.config, "chatgpt_base_url", DEFAULT_CHATGPT_BASE_URL)
        store, stale_after = self.store, self.stale_after
        seen = auth.tokens.access_token

        def fetch() -> dict[str, Any]:
            current = auth
            if store.is_stale(auth, stale_after):
                try:
                    current = store.refresh(seen, force=False, stale_after=stale_after) or auth
                except RefreshError as error:
                    log.warning("failed to refresh token: %s", error)
            access = current.token or seen
            account_id = current.tokens.account_id if current.tokens is not None else None
            return fetch_rate_limits(base_url, access, account_id, call.user_agent)

        return self.run_in_worker(call, fetch, name="rate-limits")

    # -- other actors -------------------------------------------------------------------------
    def on_message(self, message: Any) -> Any:
        if isinstance(message, GetAuth):
            if message.reply is None:
                return self._snapshot(message.refresh)
            self._answer_auth(message.refresh, message.reply)
            return None
        if isinstance(message, ConnectionClosed):
            return None
        return super().on_message(message)

    def _needs_refresh(self, auth: Any, refresh: bool) -> bool:
        return (
            auth is not None
            and auth.mode == "chatgpt"
            and auth.tokens is not None
            and (refresh or self.store.is_stale(auth, self.stale_after))
        )

    def _refresh_tokens(self, seen: str, refresh: bool) -> None:
        try:
            self.store.refresh(seen, force=refresh, stale_after=self.stale_after)
        except Exception as error:  # noqa: BLE001 - the caller still gets the current token
            log.warning("failed to refresh token: %s", error)

    def _answer_auth(self, refresh: bool, reply: Any) -> None:
        """Set the snapshot on `reply`; a token refresh first runs in a worker (the store locks
        and writes auth.json atomically), so this mailbox stays free meanwhile."""
        auth = self.current_auth()
        if not self._needs_refresh(auth, refresh):
            reply.set(self._snapshot_of(auth))
            return
        before = self._snapshot_of(auth)
        seen = auth.tokens.access_token

        def answer(_call: Call | None, _value: Any) -> None:
            self._forget_cache()
            try:
                snapshot = self._snapshot_of(self.current_auth())
            except Exception:  # noqa: BLE001 - the turn still gets the credentials it had
                log.exception("reading credentials after a refresh failed")
                snapshot = before
            reply.set(snapshot)

        self.run_in_worker(None, lambda: self._refresh_tokens(seen, refresh), answer, name="auth-refresh")

    def _snapshot(self, refresh: bool) -> AuthSnapshot:
        """Answered inline (an `ask`): a refresh here holds this mailbox for one token request."""
        auth = self.current_auth()
        if self._needs_refresh(auth, refresh):
            self._refresh_tokens(auth.tokens.access_token, refresh)
            self._forget_cache()
            auth = self.current_auth()
        return self._snapshot_of(auth)

    def _snapshot_of(self, auth: Any) -> AuthSnapshot:
        if auth is None:
            return AuthSnapshot(mode=None)
        if auth.mode == "apikey":
            return AuthSnapshot(mode="apikey", api_key=auth.openai_api_key)
        return AuthSnapshot(
            mode="chatgpt",
            access_token=auth.token,
            account_id=auth.tokens.account_id if auth.tokens is not None else None,
            plan_type=auth.plan_type,
        )


# -- the usage endpoint ------------------------------------------------------------------------
USAGE_PLAN_TYPES = ("free", "go", "plus", "pro", "team", "business", "education", "quorum", "enterprise", "edu")


class _DecodeError(ValueError):
    pass


def usage_url(base_url: str) -> str:
    """§4.11: `<base>/wham/usage` when the base contains /backend-api, else `<base>/api/codex/usage`."""
    base = base_url.rstrip("/")
    if base.startswith(("https://chatgpt.com", "https://chat.openai.com")) and "/backend-api" not in base:
        base += "/backend-api"
    return f"{base}/wham/usage" if "/backend-api" in base else f"{base}/api/codex/usage"


def fetch_rate_limits(base_url: str, access_token: str, account_id: str | None, user_agent: str) -> dict[str, Any]:
    import requests  # lazily: 110 ms of import time

    url = usage_url(base_url)
    headers = {"Authorization": f"Bearer {access_token}", "User-Agent": user_agent or "codex-cli"}
    if account_id:
        headers["ChatGPT-Account-Id"] = account_id
    try:
        response = requests.get(url, headers=headers, timeout=(10, 30))
    except requests.RequestException as error:
        raise RpcError(
            INTERNAL_ERROR, f"failed to fetch codex rate limits: error sending request for url ({url})"
        ) from error
    content_type = response.headers.get("Content-Type", "")
    body = response.text
    if not 200 <= response.status_code < 300:
        status = f"{response.status_code} {response.reason or ''}".strip()
        raise RpcError(
            INTERNAL_ERROR,
            f"failed to fetch codex rate limits: GET {url} failed: {status}; content-type={content_type}; body={body}",
        )
    try:
        snapshot = decode_usage(body)
    except _DecodeError as error:
        detail = f"Decode error for {url}: {error}; content-type={content_type}; body={body}"
        raise RpcError(INTERNAL_ERROR, f"failed to fetch codex rate limits: {detail}") from error
    return {"rateLimits": snapshot}


def _int_field(table: dict[str, Any], key: str) -> int:
    if key not in table:
        raise _DecodeError(f"missing field `{key}`")
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int):
        kind = "floating point" if isinstance(value, float) else type(value).__name__
        raise _DecodeError(f"invalid type: {kind} `{value}` for `{key}`, expected i32")
    return value


def _window(raw: Any, key: str) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _DecodeError(f"invalid type for `{key}`, expected struct RateLimitWindowSnapshot")
    used = _int_field(raw, "used_percent")
    seconds = _int_field(raw, "limit_window_seconds")
    _int_field(raw, "reset_after_seconds")
    reset_at = _int_field(raw, "reset_at")
    # Minutes rounded up; a non-positive window has no duration.
    minutes = math.ceil(seconds / 60) if seconds > 0 else None
    return {"usedPercent": used, "windowDurationMins": minutes, "resetsAt": reset_at}


def decode_usage(body: str) -> dict[str, Any]:
    """The backend's usage payload → `{"primary": W|null, "secondary": W|null}` (0.58's rules)."""
    import json

    try:
        payload = json.loads(body)
    except ValueError as error:
        raise _DecodeError(f"invalid JSON: {error}") from error
    if not isinstance(payload, dict):
        raise _DecodeError("invalid type, expected struct RateLimitStatusPayload")
    if "plan_type" not in payload:
        raise _DecodeError("missing field `plan_type`")
    if payload["plan_type"] not in USAGE_PLAN_TYPES:
        expected = ", ".join(f"`{p}`" for p in USAGE_PLAN_TYPES)
        raise _DecodeError(f"unknown variant `{payload['plan_type']}` for `plan_type`, expected one of {expected}")
    limits = payload.get("rate_limit")
    if limits is None:
        return {"primary": None, "secondary": None}
    if not isinstance(limits, dict):
        raise _DecodeError("invalid type for `rate_limit`, expected struct RateLimitStatusDetails")
    for flag in ("allowed", "limit_reached"):
        if flag not in limits:
            raise _DecodeError(f"missing field `{flag}`")
        if not isinstance(limits[flag], bool):
            raise _DecodeError(f"invalid type for `{flag}`, expected a boolean")
    return {
        "primary": _window(limits.get("primary_window"), "primary_window"),
        "secondary": _window(limits.get("secondary_window"), "secondary_window"),
    }
