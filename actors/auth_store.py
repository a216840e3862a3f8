"""Credentials in CODEX_HOME: `auth.json` in 0.58's exact format, or the OS keyring under the Rust
CLI's names, plus the cross-process token refresh.

Every mutation takes an exclusive `flock` on `auth.json.lock` beside `auth.json`, so several
server processes (IDE windows) sharing one CODEX_HOME never interleave a refresh with a login or
a logout, and a refresh re-reads the stored credentials under that lock first: when another
process already refreshed (or signed in again), its newer tokens are adopted instead of spending
our refresh token a second time (the refresh token is single-use upstream).

A file that does not parse reads as signed out, exactly as 0.58 does, and is only ever replaced
by a successful login (or removed by logout); nothing here raises on a corrupt file.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CLIENT_ID = "app_EMoamEEZ73f0CkXaXp7hrann"
REFRESH_TOKEN_URL = "https://auth.openai.com/oauth/token"
REFRESH_TOKEN_URL_OVERRIDE_ENV = "CODEX_REFRESH_TOKEN_URL_OVERRIDE"
# The Rust CLI's keyring entry: one JSON document per CODEX_HOME (DECISIONS 11).
KEYRING_SERVICE = "Codex Auth"
AUTH_FILE = "auth.json"
LOCK_FILE = "auth.json.lock"
# PROTOCOL §6.1: ChatGPT tokens older than this are refreshed before use.
DEFAULT_STALE_AFTER = timedelta(days=28)
LOCK_TIMEOUT_SECONDS = 60.0
KNOWN_PLANS = ("free", "plus", "pro", "team", "business", "enterprise", "edu")
STORE_MODES = ("file", "keyring", "auto")

REFRESH_TOKEN_EXPIRED_MESSAGE = (
    "Your access token could not be refreshed because your refresh token has expired. Please log out and sign in again."
)
REFRESH_TOKEN_REUSED_MESSAGE = (
    "Your access token could not be refreshed because your refresh token was already used. "
    "Please log out and sign in again."
)
REFRESH_TOKEN_INVALIDATED_MESSAGE = (
    "Your access token could not be refreshed because your refresh token was revoked. Please log out and sign in again."
)
REFRESH_TOKEN_UNKNOWN_MESSAGE = "Your access token could not be refreshed. Please log out and sign in again."


class AuthFormatError(ValueError):
    """The stored credentials do not parse (the store then reads as signed out)."""


class RefreshError(Exception):
    """A token refresh failed; `permanent` when the refresh token itself was refused."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


def os_error_text(error: BaseException) -> str:
    """An OSError worded as Rust's io::Error prints it (`Is a directory (os error 21)`)."""
    if isinstance(error, OSError) and error.errno is not None:
        return f"{os.strerror(error.errno)} (os error {error.errno})"
    return str(error)


# -- the document ------------------------------------------------------------------------------
@dataclass(frozen=True)
class IdTokenInfo:
    """Claims read (never verified, as upstream) from the ChatGPT id token."""

    raw_jwt: str
    email: str | None = None
    plan_type: str | None = None
    account_id: str | None = None


@dataclass(frozen=True)
class TokenData:
    id_token: IdTokenInfo
    access_token: str
    refresh_token: str
    account_id: str | None = None


@dataclass(frozen=True)
class AuthDotJson:
    """The stored credentials. `extra` keeps keys a newer CLI wrote, so a refresh rewriting the
    file does not drop them; logins write exactly 0.58's keys."""

    openai_api_key: str | None = None
    tokens: TokenData | None = None
    last_refresh: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def mode(self) -> str:
        # 0.58: a non-null API key wins even when tokens are present.
        return "apikey" if self.openai_api_key is not None else "chatgpt"

    @property
    def token(self) -> str | None:
        """The bearer token 0.58 reports: the API key, or the access token (which 0.58 only
        hands out when `last_refresh` is present)."""
        if self.openai_api_key is not None:
            return self.openai_api_key
        if self.tokens is not None and self.last_refresh is not None:
            return self.tokens.access_token
        return None

    @property
    def plan_type(self) -> str | None:
        """The account-facing plan (`unknown` for unrecognised values), or None without a claim."""
        if self.tokens is None or self.tokens.id_token.plan_type is None:
            return None
        plan = self.tokens.id_token.plan_type
        return plan if plan in KNOWN_PLANS else "unknown"


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_id_token(jwt: str) -> IdTokenInfo:
    parts = jwt.split(".")
    if len(parts) != 3 or not all(parts):
        raise AuthFormatError("invalid ID token format")
    try:
        claims = json.loads(_b64url_decode(parts[1]))
    except (ValueError, UnicodeDecodeError) as error:
        raise AuthFormatError(f"invalid ID token payload: {error}") from error
    if not isinstance(claims, dict):
        raise AuthFormatError("invalid ID token payload: not an object")
    auth = claims.get("https://api.openai.com/auth")
    auth = auth if isinstance(auth, dict) else {}
    email = claims.get("email")
    plan = auth.get("chatgpt_plan_type")
    account = auth.get("chatgpt_account_id")
    return IdTokenInfo(
        raw_jwt=jwt,
        email=email if isinstance(email, str) else None,
        plan_type=plan if isinstance(plan, str) else None,
        account_id=account if isinstance(account, str) else None,
    )


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with chrono's automatic precision (0, 3, 6 or 9 fractional digits; a
    Python clock gives at most 6)."""
    moment = moment.astimezone(UTC)
    ns = moment.microsecond * 1000
    base = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if ns == 0:
        return base + "Z"
    if ns % 1_000_000 == 0:
        return f"{base}.{ns // 1_000_000:03d}Z"
    if ns % 1000 == 0:
        return f"{base}.{ns // 1000:06d}Z"
    return f"{base}.{ns:09d}Z"


def parse_timestamp(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise AuthFormatError(f"invalid last_refresh: {text!r}") from error
    if moment.tzinfo is None:
        raise AuthFormatError(f"invalid last_refresh (no offset): {text!r}")
    return moment.astimezone(UTC)


def _string_field(table: dict[str, Any], key: str, required: bool) -> str | None:
    value = table.get(key)
    if value is None:
        if required:
            raise AuthFormatError(f"missing field `{key}`")
        return None
    if not isinstance(value, str):
        raise AuthFormatError(f"invalid type for `{key}`, expected a string")
    return value


def parse_auth_json(text: str) -> AuthDotJson:
    """Parse stored credentials with 0.58's rules; raises AuthFormatError when they do not parse."""
    try:
        document = json.loads(text)
    except ValueError as error:
        raise AuthFormatError(f"auth.json is not JSON: {error}") from error
    if not isinstance(document, dict):
        raise AuthFormatError("auth.json is not an object")
    api_key = _string_field(document, "OPENAI_API_KEY", required=False)
    tokens = None
    raw_tokens = document.get("tokens")
    if raw_tokens is not None:
        if not isinstance(raw_tokens, dict):
            raise AuthFormatError("invalid type for `tokens`")
        id_token = _string_field(raw_tokens, "id_token", required=True)
        access = _string_field(raw_tokens, "access_token", required=True)
        refresh = _string_field(raw_tokens, "refresh_token", required=True)
        assert id_token is not None and access is not None and refresh is not None
        tokens = TokenData(
            id_token=parse_id_token(id_token),
            access_token=access,
            refresh_token=refresh,
            account_id=_string_field(raw_tokens, "account_id", required=False),
        )
    last_refresh = None
    raw_last = document.get("last_refresh")
    if raw_last is not None:
        if not isinstance(raw_last, str):
            raise AuthFormatError("invalid type for `last_refresh`")
        last_refresh = parse_timestamp(raw_last)
    extra = {k: v for k, v in document.items() if k not in ("OPENAI_API_KEY", "tokens", "last_refresh")}
    return AuthDotJson(api_key, tokens, last_refresh, extra)


def auth_to_dict(auth: AuthDotJson, include_extra: bool = True) -> dict[str, Any]:
    """The document in 0.58's key order: `OPENAI_API_KEY` always, `tokens` and `last_refresh`
    only when present."""
    document: dict[str, Any] = {"OPENAI_API_KEY": auth.openai_api_key}
    if auth.tokens is not None:
        document["tokens"] = {
            "id_token": auth.tokens.id_token.raw_jwt,
            "access_token": auth.tokens.access_token,
            "refresh_token": auth.tokens.refresh_token,
            "account_id": auth.tokens.account_id,
        }
    if auth.last_refresh is not None:
        document["last_refresh"] = format_timestamp(auth.last_refresh)
    if include_extra:
        for key, value in auth.extra.items():
            document.setdefault(key, value)
    return document


def render_auth_json(auth: AuthDotJson) -> str:
    """serde_json's pretty form: two-space indent, raw UTF-8, no trailing newline."""
    return json.dumps(auth_to_dict(auth), indent=2, ensure_ascii=False)


def render_compact(auth: AuthDotJson) -> str:
    """serde_json's compact form, as the Rust CLI stores the document in the keyring."""
    return json.dumps(auth_to_dict(auth), separators=(",", ":"), ensure_ascii=False)


def keyring_account(codex_home: Path) -> str:
    """The keyring account name the Rust CLI uses for a CODEX_HOME: `cli|` + 16 hex of SHA-256."""
    try:
        canonical = codex_home.resolve(strict=True)
    except OSError:
        canonical = codex_home
    return "cli|" + hashlib.sha256(str(canonical).encode()).hexdigest()[:16]


# -- backends ----------------------------------------------------------------------------------
def _default_keyring() -> Any:
    import keyring  # lazily: 60 ms of import time, only for keyring/auto stores

    return keyring.get_keyring()


def keyring_available(backend: Any) -> bool:
    try:
        from keyring.backends import fail
    except ImportError:
        return False
    return backend is not None and not isinstance(backend, fail.Keyring)


def _write_atomically(path: Path, text: str) -> None:
    """Temp file in the same directory, fsync, rename: readers see the old file or the new one,
    never a torn one. Mode 0600 (DECISIONS 9)."""
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    fd, temp_name = tempfile.mkstemp(prefix=".auth.json.", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


class AuthStore:
    """Load, save, delete and refresh the credentials of one CODEX_HOME.

    `mode` is `cli_auth_credentials_store` (file | keyring | auto). `keyring_backend` is any
    object with keyring's `get_password / set_password / delete_password`; by default the
    `keyring` library's active backend, imported on first use. `read_text` lets tests inject
    read failures (tests run as root, so chmod cannot). Thread-safe and process-safe.
    """

    def __init__(
        self,
        codex_home: Path,
        mode: str = "file",
        *,
        keyring_backend: Any = None,
        refresh_url: str | None = None,
        client_id: str = CLIENT_ID,
        user_agent: str | None = None,
        now: Callable[[], datetime] | None = None,
        read_text: Callable[[Path], str] | None = None,
        http_timeout: tuple[float, float] = (10.0, 30.0),
    ) -> None:
        if mode not in STORE_MODES:
            raise ValueError(f"unknown cli_auth_credentials_store {mode!r}")
        self.codex_home = Path(codex_home)
        self.mode = mode
        self.auth_path = self.codex_home / AUTH_FILE
        self.lock_path = self.codex_home / LOCK_FILE
        self._keyring = keyring_backend
        self._keyring_loaded = keyring_backend is not None
        self.refresh_url = refresh_url or os.environ.get(REFRESH_TOKEN_URL_OVERRIDE_ENV) or REFRESH_TOKEN_URL
        self.client_id = client_id
        self.user_agent = user_agent
        self._now = now or (lambda: datetime.now(UTC))
        self._read_text = read_text or (lambda path: path.read_text(encoding="utf-8"))
        self.http_timeout = http_timeout

    # -- keyring plumbing ---------------------------------------------------------------------
    def _keyring_backend(self) -> Any:
        if not self._keyring_loaded:
            self._keyring_loaded = True
            try:
                self._keyring = _default_keyring()
            except Exception as error:  # noqa: BLE001 - a broken keyring install means "no keyring"
                log.warning("keyring unavailable: %s", error)
                self._keyring = None
        return self._keyring

    def _keyring_load(self) -> AuthDotJson | None:
        backend = self._keyring_backend()
        if backend is None:
            raise OSError("failed to load CLI auth from keyring: no keyring backend")
        try:
            serialized = backend.get_password(KEYRING_SERVICE, keyring_account(self.codex_home))
        except Exception as error:  # noqa: BLE001 - every backend failure reads as "unavailable"
            raise OSError(f"failed to load CLI auth from keyring: {error}") from error
        if serialized is None:
            return None
        try:
            return parse_auth_json(serialized)
        except AuthFormatError as error:
            raise OSError(f"failed to deserialize CLI auth from keyring: {error}") from error

    def _keyring_save(self, auth: AuthDotJson) -> None:
        backend = self._keyring_backend()
        if backend is None:
            raise OSError("failed to write OAuth tokens to keyring: no keyring backend")
        try:
            backend.set_password(KEYRING_SERVICE, keyring_account(self.codex_home), render_compact(auth))
        except Exception as error:  # noqa: BLE001
            raise OSError(f"failed to write OAuth tokens to keyring: {error}") from error
        # As the Rust CLI: once the keyring holds the credentials, the fallback file goes.
        with contextlib.suppress(FileNotFoundError):
            self.auth_path.unlink()

    def _keyring_delete(self) -> bool:
        backend = self._keyring_backend()
        if backend is None:
            raise OSError("failed to delete auth from keyring: no keyring backend")
        account = keyring_account(self.codex_home)
        try:
            present = backend.get_password(KEYRING_SERVICE, account) is not None
            if present:
                backend.delete_password(KEYRING_SERVICE, account)
        except Exception as error:  # noqa: BLE001
            raise OSError(f"failed to delete auth from keyring: {error}") from error
        return present

    # -- file plumbing ------------------------------------------------------------------------
    def _file_load(self) -> AuthDotJson | None:
        try:
            text = self._read_text(self.auth_path)
        except FileNotFoundError:
            return None
        return parse_auth_json(text)

    def _file_delete(self) -> bool:
        try:
            self.auth_path.unlink()
        except FileNotFoundError:
            return False
        return True

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Exclusive across threads and processes (each call opens its own file description)."""
        self.codex_home.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = time.monotonic() + LOCK_TIMEOUT_SECONDS
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"timed out waiting for {self.lock_path}") from None
                    time.sleep(0.01)
            yield
        finally:
            os.close(fd)  # closing the description releases the flock

    # -- public -------------------------------------------------------------------------------
    def load_strict(self) -> AuthDotJson | None:
        """The stored credentials; raises OSError / AuthFormatError when they cannot be read."""
        if self.mode == "file":
            return self._file_load()
        if self.mode == "keyring":
            return self._keyring_load()
        if keyring_available(self._keyring_backend()):
            try:
                found = self._keyring_load()
            except OSError as error:
                log.warning("failed to load CLI auth from keyring, falling back to file storage: %s", error)
                found = None
            if found is not None:
                return found
        return self._file_load()

    def load(self) -> AuthDotJson | None:
        """The stored credentials, or None when absent, unreadable or corrupt (signed out)."""
        try:
            return self.load_strict()
        except AuthFormatError as error:
            log.warning("stored credentials do not parse; treating as signed out: %s", error)
        except Exception as error:  # noqa: BLE001 - reading credentials never crashes anything
            log.warning("failed to read stored credentials; treating as signed out: %s", error)
        return None

    def _save_unlocked(self, auth: AuthDotJson) -> None:
        if self.mode == "keyring":
            self._keyring_save(auth)
            return
        if self.mode == "auto" and keyring_available(self._keyring_backend()):
            try:
                self._keyring_save(auth)
                return
            except OSError as error:
                log.warning("failed to save auth to keyring, falling back to file storage: %s", error)
        _write_atomically(self.auth_path, render_auth_json(auth))

    def save(self, auth: AuthDotJson) -> None:
        with self._locked():
            self._save_unlocked(auth)

    def delete(self) -> bool:
        """Remove the credentials (keyring entry and file); True when something was removed."""
        with self._locked():
            removed = False
            if self.mode == "keyring" or (self.mode == "auto" and keyring_available(self._keyring_backend())):
                try:
                    removed = self._keyring_delete()
                except OSError:
                    if self.mode == "keyring":
                        raise
            return self._file_delete() or removed

    def login_with_api_key(self, api_key: str) -> AuthDotJson:
        auth = AuthDotJson(openai_api_key=api_key)
        self.save(auth)
        return auth

    def save_chatgpt_tokens(self, id_token: str, access_token: str, refresh_token: str) -> AuthDotJson:
        """Persist a completed ChatGPT login (the account id comes from the id token's claims)."""
        info = parse_id_token(id_token)
        auth = AuthDotJson(
            openai_api_key=None,
            tokens=TokenData(info, access_token, refresh_token, info.account_id),
            last_refresh=self._now(),
        )
        self.save(auth)
        return auth

    def is_stale(self, auth: AuthDotJson, stale_after: timedelta = DEFAULT_STALE_AFTER) -> bool:
        if auth.mode != "chatgpt" or auth.tokens is None or auth.last_refresh is None:
            return False
        return auth.last_refresh < self._now() - stale_after

    def refresh(
        self,
        seen_access_token: str | None,
        *,
        force: bool,
        stale_after: timedelta = DEFAULT_STALE_AFTER,
    ) -> AuthDotJson | None:
        """Refresh the ChatGPT tokens when `force` (after a 401, or asked) or when stale.

        Under the cross-process lock the stored credentials are re-read first: when their access
        token is no longer `seen_access_token`, another process (or a new login) already replaced
        it and those credentials are returned without a refresh. Returns what is stored after.
        Raises RefreshError when the issuer refuses or cannot be reached.
        """
        with self._locked():
            current = self.load()
            if current is None or current.mode != "chatgpt" or current.tokens is None:
                return current
            if seen_access_token is not None and current.tokens.access_token != seen_access_token:
                return current
            if not force and not self.is_stale(current, stale_after):
                return current
            response = self._post_refresh(current.tokens.refresh_token)
            tokens = current.tokens
            if isinstance(response.get("id_token"), str):
                tokens = replace(tokens, id_token=parse_id_token(response["id_token"]))
            if isinstance(response.get("access_token"), str):
                tokens = replace(tokens, access_token=response["access_token"])
            if isinstance(response.get("refresh_token"), str):
                tokens = replace(tokens, refresh_token=response["refresh_token"])
            updated = replace(current, tokens=tokens, last_refresh=self._now())
            self._save_unlocked(updated)
            return updated

    def _post_refresh(self, refresh_token: str) -> dict[str, Any]:
        import requests  # lazily: 110 ms of import time

        body = {
            "client_id": self.client_id,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "scope": "openid profile email",
        }
        headers = {"Content-Type": "application/json", "originator": "codex_cli_rs"}
        if self.user_agent:
            headers["User-Agent"] = self.user_agent
        try:
            response = requests.post(self.refresh_url, json=body, headers=headers, timeout=self.http_timeout)
        except requests.RequestException as error:
            raise RefreshError(f"error sending request for url ({self.refresh_url}): {error}") from error
        if response.status_code == 401:
            raise RefreshError(_classify_refresh_failure(response.text), permanent=True)
        if not 200 <= response.status_code < 300:
            reason = f"{response.status_code} {response.reason or ''}".strip()
            raise RefreshError(f"Failed to refresh token: {reason}: {_error_message(response.text)}")
        try:
            payload = response.json()
        except ValueError as error:
            raise RefreshError(f"error decoding response body: {error}") from error
        if not isinstance(payload, dict):
            raise RefreshError("error decoding response body: not an object")
        return payload


def _error_code(body: str) -> str | None:
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    error = document.get("error")
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        return error["code"]
    if isinstance(error, str):
        return error
    code = document.get("code")
    return code if isinstance(code, str) else None


def _error_message(body: str) -> str:
    try:
        document = json.loads(body)
    except ValueError:
        return body
    if isinstance(document, dict):
        error = document.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"]
    return body


def _classify_refresh_failure(body: str) -> str:
    code = (_error_code(body) or "").lower()
    return {
        "refresh_token_expired": REFRESH_TOKEN_EXPIRED_MESSAGE,
        "refresh_token_reused": REFRESH_TOKEN_REUSED_MESSAGE,
        "refresh_token_invalidated": REFRESH_TOKEN_INVALIDATED_MESSAGE,
    }.get(code, REFRESH_TOKEN_UNKNOWN_MESSAGE)
