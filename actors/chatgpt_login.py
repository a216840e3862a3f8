"""One ChatGPT sign-in attempt: PKCE S256, a random `state`, and the local callback server.

The server listens on 127.0.0.1:<port> (1455 by default) and answers:
- `/auth/callback`: a wrong `state` gets `400 State mismatch` and the attempt goes on; a right one
  hands the code to the waiting worker, and the browser is held until the login actor has saved
  the credentials (then a redirect to `/success`) or failed (an error page).
- `/cancel`: `200 Login cancelled`, and the attempt ends with `Login cancelled` (an older server,
  even in another process, is shut down this way when a new login needs the port).
- `/success`: the success page. It never completes a login by itself (0.58's shortcut reported
  success with nothing saved; PROTOCOL §8).
- anything else: `404 Not Found`.

The same code can arrive by `submit_callback_url` (the user pasted the final redirect URL on a
headless machine). `wait_for_tokens` runs in a worker thread: it waits for the code, exchanges it
at `<issuer>/oauth/token` and returns the tokens; it never touches the credential store.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import html
import json
import logging
import queue
import secrets
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from actors.auth_store import CLIENT_ID, AuthFormatError, parse_id_token

log = logging.getLogger(__name__)

DEFAULT_ISSUER = "https://auth.openai.com"
DEFAULT_PORT = 1455
ORIGINATOR = "codex_cli_rs"
SCOPE = "openid profile email offline_access"
BIND_ATTEMPTS = 10
BIND_RETRY_DELAY = 0.2
# How long the browser's callback request may wait for the actor's verdict.
BROWSER_VERDICT_TIMEOUT = 120.0
# After success the server lingers so the browser can load `/success`.
LINGER_SECONDS = 30.0

SUCCESS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Signed in to Codex</title></head>
<body style="font-family: system-ui, sans-serif; text-align: center; margin-top: 15vh">
<h1>Signed in to Codex</h1><p>You may now close this page and return to your editor.</p>
</body></html>
"""


class PortInUseError(OSError):
    """The callback port stayed busy after asking its holder to quit."""

    def __str__(self) -> str:
        return self.strerror or ""


class LoginFailed(Exception):
    """The attempt ended without credentials; the message follows `Login server error: `."""


class LoginTimedOut(Exception):
    """No callback within the login timeout."""


@dataclass(frozen=True)
class Pkce:
    verifier: str
    challenge: str


@dataclass(frozen=True)
class ExchangedTokens:
    id_token: str
    access_token: str
    refresh_token: str


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def generate_pkce() -> Pkce:
    verifier = _b64url(secrets.token_bytes(64))
    return Pkce(verifier, _b64url(hashlib.sha256(verifier.encode("ascii")).digest()))


def generate_state() -> str:
    return _b64url(secrets.token_bytes(32))


def _encode(value: str) -> str:
    # Percent-encode everything outside RFC 3986's unreserved set (space as %20), as upstream.
    return urllib.parse.quote(value, safe="-._~")


def build_authorize_url(
    issuer: str,
    client_id: str,
    redirect_uri: str,
    pkce: Pkce,
    state: str,
    forced_workspace_id: str | None = None,
) -> str:
    query = [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("scope", SCOPE),
        ("code_challenge", pkce.challenge),
        ("code_challenge_method", "S256"),
        ("id_token_add_organizations", "true"),
        ("codex_cli_simplified_flow", "true"),
        ("state", state),
        ("originator", ORIGINATOR),
    ]
    if forced_workspace_id:
        query.append(("allowed_workspace_id", forced_workspace_id))
    return f"{issuer.rstrip('/')}/oauth/authorize?" + "&".join(f"{k}={_encode(v)}" for k, v in query)


def send_cancel(port: int, timeout: float = 2.0) -> None:
    """Ask whatever listens on the port (an older login server) to shut down."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(f"GET /cancel HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
        try:
            sock.recv(64)
        except OSError:
            pass


def workspace_error(forced_workspace_id: str | None, id_token: str) -> str | None:
    """Why the signed-in account is refused under `forced_chatgpt_workspace_id`, or None."""
    if not forced_workspace_id:
        return None
    try:
        account = parse_id_token(id_token).account_id
    except AuthFormatError:
        account = None
    if account is None:
        return "Login is restricted to a specific workspace, but the token did not include an chatgpt_account_id claim."
    if account != forced_workspace_id:
        return f"Login is restricted to workspace id {forced_workspace_id}."
    return None


class _CallbackServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A browser or /cancel caller hanging up early is normal; never print tracebacks to stderr.
        log.debug("login server request from %s failed", client_address, exc_info=True)


class _Verdict:
    """The answer a held browser request is waiting for."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.success = False
        self.message = ""

    def settle(self, success: bool, message: str = "") -> None:
        if not self.event.is_set():
            self.success, self.message = success, message
            self.event.set()


class ChatGptLoginServer:
    """One sign-in attempt and its callback listener. Thread-safe; `start` binds, `close` frees."""

    def __init__(
        self,
        *,
        issuer: str = DEFAULT_ISSUER,
        port: int = DEFAULT_PORT,
        client_id: str = CLIENT_ID,
        forced_workspace_id: str | None = None,
        user_agent: str | None = None,
        http_timeout: tuple[float, float] = (10.0, 60.0),
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.requested_port = port
        self.client_id = client_id
        self.forced_workspace_id = forced_workspace_id
        self.user_agent = user_agent
        self.http_timeout = http_timeout
        self.pkce = generate_pkce()
        self.state = generate_state()
        self.port = port
        self.auth_url = ""
        self.redirect_uri = ""
        self._events: queue.Queue[tuple[str, Any, _Verdict | None]] = queue.Queue()
        self._lock = threading.Lock()
        self._close_lock = threading.Lock()
        self._code_taken = False
        self._finished = False
        self._verdict: _Verdict | None = None
        self._server: ThreadingHTTPServer | None = None
        self._closed = threading.Event()

    # -- listener -----------------------------------------------------------------------------
    def start(self) -> None:
        """Bind (after asking an older listener to quit) and serve. OSError when the port stays
        busy: `Port 127.0.0.1:<port> is already in use`."""
        self._server = self._bind()
        self.port = self._server.server_address[1]
        self.redirect_uri = f"http://localhost:{self.port}/auth/callback"
        self.auth_url = build_authorize_url(
            self.issuer, self.client_id, self.redirect_uri, self.pkce, self.state, self.forced_workspace_id
        )
        threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"login-server-{self.port}",
            daemon=True,
        ).start()

    def _bind(self) -> ThreadingHTTPServer:
        handler = self._handler_class()
        cancel_sent = False
        for _ in range(BIND_ATTEMPTS):
            try:
                server = _CallbackServer(("127.0.0.1", self.requested_port), handler)
            except OSError as error:
                if error.errno != errno.EADDRINUSE:
                    raise
                if not cancel_sent:
                    cancel_sent = True
                    try:
                        send_cancel(self.requested_port)
                    except OSError as cancel_error:
                        log.info("failed to cancel previous login server: %s", cancel_error)
                time.sleep(BIND_RETRY_DELAY)
                continue
            return server
        raise PortInUseError(errno.EADDRINUSE, f"Port 127.0.0.1:{self.requested_port} is already in use")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        login = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                log.debug("login server: " + format, *args)

            def _send(
                self,
                status: int,
                body: str,
                content_type: str = "text/plain; charset=utf-8",
                headers: dict[str, str] | None = None,
            ) -> None:
                data = body.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
                self.close_connection = True

            def do_GET(self) -> None:  # noqa: N802 - stdlib naming
                url = urllib.parse.urlsplit(self.path)
                if url.path == "/auth/callback":
                    self._callback(url.query)
                elif url.path == "/cancel":
                    try:
                        self._send(200, "Login cancelled")
                    finally:  # a caller that hangs up early still cancels
                        login._end("cancel", "Login cancelled")
                elif url.path == "/success":
                    self._send(200, SUCCESS_PAGE, "text/html; charset=utf-8")
                    if login._finished:
                        threading.Thread(target=login.close, daemon=True).start()
                else:
                    self._send(404, "Not Found")

            def _callback(self, query: str) -> None:
                try:
                    code = login._accept_callback(query)
                except ValueError as error:
                    self._send(400, str(error))
                    return
                if code is None:  # the callback carried an OAuth error: the attempt ended
                    self._send(200, _error_page(login._last_error), "text/html; charset=utf-8")
                    return
                verdict = _Verdict()
                login._events.put(("code", code, verdict))
                if not verdict.event.wait(BROWSER_VERDICT_TIMEOUT):
                    verdict.settle(False, "Sign-in did not finish in time.")
                if verdict.success:
                    self._send(302, "", headers={"Location": f"http://localhost:{login.port}/success"})
                else:
                    self._send(200, _error_page(verdict.message), "text/html; charset=utf-8")

        return Handler

    # -- callback handling --------------------------------------------------------------------
    _last_error = ""

    def _accept_callback(self, query: str) -> str | None:
        """The code of a valid callback; ValueError (→ 400) for a wrong state or a repeat; None
        when the provider reported an error (the attempt then ends with it)."""
        params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        if params.get("state") != self.state:
            raise ValueError("State mismatch")
        with self._lock:
            if self._code_taken or self._finished:
                raise ValueError("Login already completed")
            if params.get("error"):
                description = params.get("error_description") or params["error"]
                self._last_error = f"Sign-in failed: {description}"
                self._code_taken = True
                self._events.put(("fail", self._last_error, None))
                return None
            if not params.get("code"):
                raise ValueError("Missing authorization code")
            self._code_taken = True
        return params["code"]

    def submit_callback_url(self, callback_url: str) -> None:
        """Finish the flow from a pasted redirect URL; ValueError with the reason otherwise."""
        query = urllib.parse.urlsplit(callback_url.strip()).query
        code = self._accept_callback(query)
        if code is not None:
            self._events.put(("code", code, None))

    def wait_for_tokens(self, timeout: float) -> ExchangedTokens:
        """Block (in a worker) until a code arrives and is exchanged. Raises LoginFailed or
        LoginTimedOut; on success the browser stays held until `finish`."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                kind, value, verdict = self._events.get(timeout=max(remaining, 0.0))
            except queue.Empty:
                self._end("timeout", "Login timed out")
                raise LoginTimedOut("Login timed out") from None
            if kind in ("cancel", "timeout"):
                raise LoginFailed(value)
            if kind == "fail":
                self._finished = True
                raise LoginFailed(value)
            self._verdict = verdict
            try:
                tokens = self._exchange(value)
                refusal = workspace_error(self.forced_workspace_id, tokens.id_token)
                if refusal is not None:
                    raise LoginFailed(refusal)
            except LoginFailed as error:
                self.finish(False, str(error))
                raise
            return tokens

    def _exchange(self, code: str) -> ExchangedTokens:
        import requests  # lazily: 110 ms of import time

        url = f"{self.issuer}/oauth/token"
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
            "client_id": self.client_id,
            "code_verifier": self.pkce.verifier,
        }
        body = "&".join(f"{k}={_encode(v)}" for k, v in form.items())
        headers = {"Content-Type": "application/x-www-form-urlencoded", "originator": ORIGINATOR}
        if self.user_agent:
            headers["User-Agent"] = self.user_agent
        try:
            response = requests.post(url, data=body, headers=headers, timeout=self.http_timeout)
        except requests.RequestException as error:
            raise LoginFailed(f"Token exchange failed: error sending request for url ({url}): {error}") from error
        if not 200 <= response.status_code < 300:
            reason = f"{response.status_code} {response.reason or ''}".strip()
            detail = _detail(response.text)
            raise LoginFailed(f"Token exchange failed: token endpoint returned status {reason}: {detail}")
        try:
            payload = response.json()
            tokens = ExchangedTokens(payload["id_token"], payload["access_token"], payload["refresh_token"])
        except (ValueError, KeyError, TypeError) as error:
            raise LoginFailed(f"Token exchange failed: error decoding response body: {error}") from error
        if not all(isinstance(v, str) for v in (tokens.id_token, tokens.access_token, tokens.refresh_token)):
            raise LoginFailed("Token exchange failed: error decoding response body: expected strings")
        try:
            parse_id_token(tokens.id_token)
        except AuthFormatError as error:
            raise LoginFailed(f"Token exchange failed: {error}") from error
        return tokens

    # -- endings ------------------------------------------------------------------------------
    def finish(self, success: bool, message: str = "") -> None:
        """The actor's verdict after saving (or failing to save): answer the held browser. After
        success the listener lingers briefly for `/success`; otherwise it closes."""
        self._finished = True
        if self._verdict is not None:
            self._verdict.settle(success, message)
        if success:
            timer = threading.Timer(LINGER_SECONDS, self.close)
            timer.daemon = True
            timer.start()
        else:
            threading.Thread(target=self.close, daemon=True).start()

    def cancel(self, reason: str = "Login was not completed") -> None:
        """End the attempt from outside (cancel, replace, logout): the waiting worker raises."""
        self._end("cancel", reason)

    def _end(self, kind: str, reason: str) -> None:
        with self._lock:
            already = self._finished
            self._finished = True
        if not already:
            self._events.put((kind, reason, None))
        if self._verdict is not None:
            self._verdict.settle(False, reason)
        threading.Thread(target=self.close, daemon=True).start()

    def close(self) -> None:
        """Stop listening (idempotent). Never call from the serve thread itself."""
        with self._close_lock:  # a second caller returns only once the port is really free
            server, self._server = self._server, None
            if server is not None:
                server.shutdown()
                server.server_close()
        self._closed.set()

    def wait_closed(self, timeout: float) -> bool:
        return self._closed.wait(timeout)


def _detail(body: str) -> str:
    text = body.strip()
    if not text:
        return "unknown error"
    try:
        document = json.loads(text)
    except ValueError:
        return text
    if isinstance(document, dict):
        if isinstance(document.get("error_description"), str) and document["error_description"].strip():
            return document["error_description"]
        error = document.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return error["message"]
        if isinstance(error, str) and error.strip():
            return error
    return text


def _error_page(message: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Sign-in could not be completed</title>'
        '</head>\n<body style="font-family: system-ui, sans-serif; text-align: center; margin-top: 15vh">\n'
        f"<h1>Sign-in could not be completed</h1><p>{html.escape(message)}</p>\n"
        "<p>Return to your editor to try again.</p>\n</body></html>\n"
    )
