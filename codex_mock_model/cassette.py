"""Cassettes: record real model traffic once through the mock-model, replay it offline forever.

A cassette is JSONL, one exchange a line:
`{"request": {"method", "path", "query", "headers", "body"}, "response": {"status", "headers", "body"}}`
where `path` is relative to the upstream base URL (`/responses`, `/chat/completions`, `/models`),
`request.body` is the decoded JSON body and `response.body` the whole response text (the SSE stream).

`Recorder` forwards each request to the upstream provider, streams the answer back as it arrives,
and appends the exchange with secrets removed: the values of credential headers (Authorization,
cookies, API keys, account ids), of JSON keys with credential names, and of everything named in
`--redact` (header names or JSON keys, case-insensitive); each removed value is also scrubbed
wherever else it appears in the line.

`Replayer` answers from a cassette. A request matches a recorded one when their normalised forms are
equal: the path, the model, the input items (Responses `input` or Chat `messages`) and the tools'
names, with ids, call ids, UUIDs and timestamps ignored. A miss answers HTTP 400 naming the nearest
recorded exchange and what differs.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import urllib.parse
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Protocol

REDACTED = "[REDACTED]"

# Headers that carry credentials or identify an account; always removed from a cassette.
SECRET_HEADERS = frozenset({
    "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key",
    "openai-api-key", "chatgpt-account-id", "openai-organization", "openai-project",
})
# JSON keys (request and response bodies) whose values are credentials or account ids.
SECRET_KEYS = frozenset({
    "api_key", "apikey", "access_token", "refresh_token", "id_token", "account_id",
    "chatgpt_account_id", "client_secret", "password", "secret",
})
# Hop-by-hop and framing headers: recomputed on each side, never forwarded or replayed.
_FRAMING = frozenset({
    "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
    "content-length", "content-encoding", "host", "accept-encoding", "date", "server",
})
# Request fields that are ids or bookkeeping rather than what the model was asked.
_IGNORED_KEYS = frozenset({"id", "call_id", "created_at", "created", "timestamp", "prompt_cache_key"})
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?")
_MAX_DIFFS_SHOWN = 3
_UPSTREAM_TIMEOUT_S = 600.0


class Handler(Protocol):
    """The part of `BaseHTTPRequestHandler` a cassette writes to."""

    wfile: Any
    close_connection: bool

    def send_response(self, code: int, message: str | None = None) -> None: ...
    def send_header(self, keyword: str, value: str) -> None: ...
    def end_headers(self) -> None: ...


class CassetteError(Exception):
    """A cassette file that cannot be read."""


def _norm_name(name: str) -> str:
    return name.lower().replace("-", "_")


class Redactor:
    """Removes credentials from one exchange before it is written."""

    def __init__(self, extra: Iterable[str] = ()) -> None:
        extra_names = {_norm_name(n) for n in extra}
        self.headers = {_norm_name(h) for h in SECRET_HEADERS} | extra_names
        self.keys = {_norm_name(k) for k in SECRET_KEYS} | extra_names

    def exchange(self, entry: dict[str, Any]) -> str:
        """The exchange as one JSON line, with every secret (and every copy of it) replaced."""
        secrets: set[str] = set()
        request, response = entry["request"], entry["response"]
        request["headers"] = self._headers(request["headers"], secrets)
        response["headers"] = self._headers(response["headers"], secrets)
        request["body"] = self._json(request["body"], secrets)
        response["body"] = self._sse(response["body"], secrets)
        line = json.dumps(entry, ensure_ascii=False)
        # Longest first, so a bearer token is scrubbed whole before any shorter secret inside it.
        for value in sorted(secrets, key=len, reverse=True):
            line = line.replace(json.dumps(value, ensure_ascii=False)[1:-1], REDACTED)
        return line

    def _headers(self, headers: dict[str, str], secrets: set[str]) -> dict[str, str]:
        out = {}
        for name, value in headers.items():
            if _norm_name(name) in self.headers:
                secrets.add(value)
                scheme, _, token = value.partition(" ")
                if token and scheme.lower() in ("bearer", "basic", "token"):
                    secrets.add(token)
                value = REDACTED
            out[name] = value
        return out

    def _json(self, value: Any, secrets: set[str]) -> Any:
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if isinstance(key, str) and _norm_name(key) in self.keys and item is not None:
                    if isinstance(item, str) and len(item) >= 4:
                        secrets.add(item)
                    out[key] = REDACTED
                else:
                    out[key] = self._json(item, secrets)
            return out
        if isinstance(value, list):
            return [self._json(item, secrets) for item in value]
        return value

    def _sse(self, text: str, secrets: set[str]) -> str:
        """Redacts named keys inside `data:` JSON lines (or a whole JSON body); other text is kept."""
        stripped = text.lstrip()
        if stripped.startswith(("{", "[")):
            try:
                return json.dumps(self._json(json.loads(text), secrets))
            except ValueError:
                return text
        lines = []
        for line in text.split("\n"):
            if line.startswith("data:") and any(k in _norm_name(line) for k in self.keys):
                try:
                    data = json.loads(line[5:])
                except ValueError:
                    pass
                else:
                    line = "data: " + json.dumps(self._json(data, secrets))
            lines.append(line)
        return "\n".join(lines)


def _scrub_text(value: str) -> str:
    return _TIMESTAMP.sub("<time>", _UUID.sub("<uuid>", value))


def _normalise_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _normalise_value(v) for k, v in value.items() if k not in _IGNORED_KEYS}
    if isinstance(value, list):
        return [_normalise_value(v) for v in value]
    if isinstance(value, str):
        return _scrub_text(value)
    return value


def normalise(method: str, path: str, body: Any) -> dict[str, Any]:
    """What a request is matched on: method and path, model, input items, tool names."""
    form: dict[str, Any] = {"request": f"{method} {path}"}
    if not isinstance(body, dict):
        if body not in (None, ""):
            form["body"] = _normalise_value(body)
        return form
    form["model"] = body.get("model")
    if "input" in body:
        form["input"] = _normalise_value(body["input"])
    if "messages" in body:
        form["messages"] = _normalise_value(body["messages"])
    tools = body.get("tools")
    if isinstance(tools, list):
        names = []
        for tool in tools:
            if isinstance(tool, dict):
                function = tool.get("function") if isinstance(tool.get("function"), dict) else {}
                names.append(f"{tool.get('type')}:{tool.get('name') or function.get('name')}")
        form["tools"] = names
    return form


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> dict[str, Any]:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), out)
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            _flatten(item, f"{prefix}[{index}]", out)
    else:
        out[prefix] = value
    return out


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def differences(recorded: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """Human-readable differences between two normalised forms, most significant first."""
    a, b = _flatten(recorded, "", {}), _flatten(got, "", {})
    diffs = []
    for key in list(a) + [k for k in b if k not in a]:
        if key not in b:
            diffs.append(f"{key}: recorded {_short(a[key])}, this request has nothing there")
        elif key not in a:
            diffs.append(f"{key}: this request has {_short(b[key])}, the recording has nothing there")
        elif a[key] != b[key]:
            diffs.append(f"{key}: recorded {_short(a[key])}, this request has {_short(b[key])}")
    return diffs


class Replayer:
    """Serves recorded exchanges; each match prefers the least-used of equal recordings, in order."""

    mode = "replay"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.entries: list[dict[str, Any]] = []
        self.forms: list[dict[str, Any]] = []
        try:
            text = self.path.read_text(encoding="utf-8")
        except OSError as err:
            raise CassetteError(f"cannot read cassette {self.path}: {err.strerror or err}") from err
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                request = entry["request"]
                entry["response"]["status"]
                self.forms.append(normalise(request["method"], request["path"], request.get("body")))
            except (ValueError, KeyError, TypeError) as err:
                raise CassetteError(f"cassette {self.path} line {number} is not a recorded exchange: {err}") from err
            entry["line"] = number
            self.entries.append(entry)
        self.uses = [0] * len(self.entries)
        self._lock = threading.Lock()

    def find(self, method: str, path: str, body: Any) -> tuple[dict[str, Any] | None, str]:
        """The exchange to replay, or None and why not (the nearest recording and what differs)."""
        form = normalise(method, path, body)
        with self._lock:
            matches = [i for i, recorded in enumerate(self.forms) if recorded == form]
            if matches:
                chosen = min(matches, key=lambda i: (self.uses[i], i))
                self.uses[chosen] += 1
                return self.entries[chosen], ""
        if not self.entries:
            return None, f"the cassette {self.path} holds no recorded exchange"
        scored = []
        for i, recorded in enumerate(self.forms):
            diffs = differences(recorded, form)
            # A different endpoint is never "near", however similar the bodies are.
            scored.append((len(diffs) + (1000 if recorded["request"] != form["request"] else 0), i, diffs))
        _, nearest, diffs = min(scored)
        entry = self.entries[nearest]
        shown = "; ".join(diffs[:_MAX_DIFFS_SHOWN])
        more = f" (and {len(diffs) - _MAX_DIFFS_SHOWN} more differences)" if len(diffs) > _MAX_DIFFS_SHOWN else ""
        return None, (
            f"no recorded exchange in {self.path} matches {method} {path}; the nearest is exchange "
            f"#{nearest + 1} (line {entry['line']}, {entry['request']['method']} {entry['request']['path']}): "
            f"{shown}{more}"
        )

    def handle(self, handler: Handler, method: str, path: str, query: str, headers: dict[str, str],
               raw: bytes, body: Any) -> None:
        entry, why = self.find(method, path, body)
        if entry is None:
            _send_json(handler, 400, {"error": {"message": f"mock model replay: {why}",
                                                "type": "invalid_request_error", "code": "cassette_miss"}})
            return
        response = entry["response"]
        data = str(response.get("body", "")).encode("utf-8")
        handler.send_response(int(response["status"]))
        for name, value in (response.get("headers") or {}).items():
            if name.lower() not in _FRAMING:
                handler.send_header(name, str(value))
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)


class Recorder:
    """Forwards every request to `upstream` and appends each exchange, redacted, to the cassette."""

    mode = "record"

    def __init__(self, path: str | Path, upstream: str, redact: Iterable[str] = ()) -> None:
        parts = urllib.parse.urlsplit(upstream)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CassetteError(f"--upstream must be an http(s) base URL such as https://api.openai.com/v1, "
                                f"not {upstream!r}")
        self.path = Path(path)
        self.upstream = upstream.rstrip("/")
        self._parts = parts
        self.redactor = Redactor(redact)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.touch()
        except OSError as err:
            raise CassetteError(f"cannot write cassette {self.path}: {err.strerror or err}") from err

    def handle(self, handler: Handler, method: str, path: str, query: str, headers: dict[str, str],
               raw: bytes, body: Any) -> None:
        parts = self._parts
        target = parts.path.rstrip("/") + path + (f"?{query}" if query else "")
        forward = {k: v for k, v in headers.items() if k.lower() not in _FRAMING}
        forward["Accept-Encoding"] = "identity"  # the cassette stores text, never a compressed stream
        connection_type = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        connection = connection_type(parts.hostname, parts.port, timeout=_UPSTREAM_TIMEOUT_S)
        try:
            connection.request(method, target, body=raw if raw else None, headers=forward)
            upstream = connection.getresponse()
        except OSError as err:
            connection.close()
            _send_json(handler, 502, {"error": {"message": f"mock model record: upstream {self.upstream} "
                                                           f"unreachable: {err}", "type": "upstream_error"}})
            return
        reply_headers = {k.lower(): v for k, v in upstream.getheaders()}
        chunks: list[bytes] = []
        try:
            handler.send_response(upstream.status)
            for name, value in upstream.getheaders():
                if name.lower() not in _FRAMING:
                    handler.send_header(name, value)
            handler.send_header("Transfer-Encoding", "chunked")
            handler.end_headers()
            while True:
                piece = upstream.read1(65536)
                if not piece:
                    break
                chunks.append(piece)
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                handler.wfile.flush()
            handler.wfile.write(b"0\r\n\r\n")
        except OSError:
            handler.close_connection = True  # the client went away: keep what arrived so far
        finally:
            connection.close()
        entry = {
            "request": {"method": method, "path": path, "query": query,
                        "headers": {k.lower(): v for k, v in headers.items() if k.lower() not in _FRAMING},
                        "body": body},
            "response": {"status": upstream.status, "headers": reply_headers,
                         "body": b"".join(chunks).decode("utf-8", "replace")},
        }
        line = self.redactor.exchange(entry)
        with self._lock, self.path.open("a", encoding="utf-8") as f:
            f.write(line + "\n")


def _send_json(handler: Handler, status: int, obj: Any) -> None:
    data = json.dumps(obj).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
