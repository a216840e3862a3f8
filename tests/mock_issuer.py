"""A loopback mock of the OpenAI OAuth issuer and the ChatGPT usage endpoint, for the login tests.

Routes: `POST /oauth/token` (authorization-code exchange as a form, refresh as JSON),
`GET /backend-api/wham/usage` and `GET /api/codex/usage`. Every request is recorded; the test
scripts the answers through the attributes below. Binds 127.0.0.1:0.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def make_jwt(claims: dict[str, Any]) -> str:
    """An unsigned JWT carrying `claims` (the server reads claims without verifying)."""

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.sig"


def id_token_claims(email: str | None, plan: str | None, account_id: str | None) -> dict[str, Any]:
    auth: dict[str, Any] = {}
    if plan is not None:
        auth["chatgpt_plan_type"] = plan
    if account_id is not None:
        auth["chatgpt_account_id"] = account_id
    claims: dict[str, Any] = {"https://api.openai.com/auth": auth}
    if email is not None:
        claims["email"] = email
    return claims


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class MockIssuer:
    """State the test reads and scripts. `refresh_delay` widens race windows for the
    cross-process refresh test; `token_status`/`usage_status` script failures."""

    email: str | None = "user@example.com"
    plan: str | None = "pro"
    account_id: str | None = "acct-123"
    token_status: int = 200
    token_body: str | None = None
    refresh_delay: float = 0.0
    refresh_status: int = 200
    usage_status: int = 200
    usage_payload: Any = field(
        default_factory=lambda: {
            "plan_type": "pro",
            "rate_limit": {
                "allowed": True,
                "limit_reached": False,
                "primary_window": {
                    "used_percent": 42,
                    "limit_window_seconds": 18000,
                    "reset_after_seconds": 100,
                    "reset_at": 1900000000,
                },
                "secondary_window": {
                    "used_percent": 5,
                    "limit_window_seconds": 90,
                    "reset_after_seconds": 10,
                    "reset_at": 1900000500,
                },
            },
        }
    )
    requests: list[Recorded] = field(default_factory=list)
    refresh_count: int = 0
    generation: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def id_token(self) -> str:
        return make_jwt(id_token_claims(self.email, self.plan, self.account_id))

    def start(self) -> MockIssuer:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                return

            def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _record(self) -> Recorded:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                entry = Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with issuer._lock:
                    issuer.requests.append(entry)
                return entry

            def do_POST(self) -> None:  # noqa: N802 - stdlib naming
                entry = self._record()
                if urllib.parse.urlsplit(self.path).path != "/oauth/token":
                    self._send(404, {"error": "not_found"})
                    return
                if entry.headers.get("content-type", "").startswith("application/json"):
                    self._refresh(json.loads(entry.body))
                    return
                form = dict(urllib.parse.parse_qsl(entry.body.decode()))
                if issuer.token_status != 200:
                    self._send(issuer.token_status, issuer.token_body or {"error": "invalid_grant"})
                    return
                with issuer._lock:
                    issuer.generation += 1
                    generation = issuer.generation
                self._send(
                    200,
                    {
                        "id_token": issuer.id_token(),
                        "access_token": f"access-{form.get('code')}-{generation}",
                        "refresh_token": f"refresh-{generation}",
                    },
                )

            def _refresh(self, body: dict[str, Any]) -> None:
                time.sleep(issuer.refresh_delay)
                if issuer.refresh_status != 200:
                    self._send(issuer.refresh_status, {"error": {"code": "refresh_token_expired"}})
                    return
                with issuer._lock:
                    issuer.refresh_count += 1
                    issuer.generation += 1
                    generation = issuer.generation
                self._send(
                    200,
                    {
                        "id_token": issuer.id_token(),
                        "access_token": f"refreshed-access-{generation}",
                        "refresh_token": f"refreshed-refresh-{generation}",
                        "seen_refresh_token": body.get("refresh_token"),
                    },
                )

            def do_GET(self) -> None:  # noqa: N802 - stdlib naming
                self._record()
                path = urllib.parse.urlsplit(self.path).path
                if path not in ("/backend-api/wham/usage", "/api/codex/usage"):
                    self._send(404, "not found", "text/plain")
                    return
                if issuer.usage_status != 200:
                    self._send(issuer.usage_status, "upstream sad", "text/plain")
                    return
                payload = issuer.usage_payload
                self._send(200, payload if not isinstance(payload, str) else payload)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def requests_to(self, path: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if urllib.parse.urlsplit(r.path).path == path]


if __name__ == "__main__":  # a standalone issuer for checking the reference binary by hand
    issuer = MockIssuer().start()
    print(issuer.url, flush=True)
    threading.Event().wait()
