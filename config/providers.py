"""Model providers: the two built into 0.58 (`openai`, `oss`) and those declared in config.toml."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import msgspec

CLI_VERSION = "0.58.0"
DEFAULT_REQUEST_MAX_RETRIES = 4
DEFAULT_STREAM_MAX_RETRIES = 5
DEFAULT_STREAM_IDLE_TIMEOUT_MS = 300_000
# 0.58 caps user-configured retry counts so a typo cannot make a request retry forever.
MAX_RETRIES_CAP = 100
DEFAULT_OLLAMA_PORT = 11434
OSS_PROVIDER_ID = "oss"


class ModelProviderInfo(msgspec.Struct, frozen=True):
    """One `[model_providers.<id>]` entry, with 0.58's defaults (`wire_api` defaults to chat)."""

    name: str
    base_url: str | None = None
    env_key: str | None = None
    env_key_instructions: str | None = None
    wire_api: str = "chat"
    query_params: dict[str, str] | None = None
    http_headers: dict[str, str] | None = None
    env_http_headers: dict[str, str] | None = None
    request_max_retries: int | None = None
    stream_max_retries: int | None = None
    stream_idle_timeout_ms: int | None = None
    requires_openai_auth: bool = False
    extra: dict[str, Any] = msgspec.field(default_factory=dict)

    def effective_request_max_retries(self) -> int:
        return min(self.request_max_retries if self.request_max_retries is not None else DEFAULT_REQUEST_MAX_RETRIES,
                   MAX_RETRIES_CAP)

    def effective_stream_max_retries(self) -> int:
        return min(self.stream_max_retries if self.stream_max_retries is not None else DEFAULT_STREAM_MAX_RETRIES,
                   MAX_RETRIES_CAP)

    def effective_stream_idle_timeout_ms(self) -> int:
        if self.stream_idle_timeout_ms is None:
            return DEFAULT_STREAM_IDLE_TIMEOUT_MS
        return self.stream_idle_timeout_ms

    def api_key_from_env(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The key named by `env_key` when set and not blank; None when the provider has no env_key."""
        if self.env_key is None:
            return None
        value = (os.environ if environ is None else environ).get(self.env_key, "")
        return value if value.strip() else None


_KNOWN = (
    "name", "base_url", "env_key", "env_key_instructions", "wire_api", "query_params", "http_headers",
    "env_http_headers", "request_max_retries", "stream_max_retries", "stream_idle_timeout_ms",
    "requires_openai_auth",
)


def provider_from_toml(table: Mapping[str, Any]) -> ModelProviderInfo:
    """Build a provider from an already type-checked `[model_providers.<id>]` table."""
    known = {key: table[key] for key in _KNOWN if key in table}
    extra = {key: value for key, value in table.items() if key not in _KNOWN}
    return ModelProviderInfo(**known, extra=extra)


def _non_blank_env(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name)
    return value if value is not None and value.strip() else None


def built_in_providers(environ: Mapping[str, str] | None = None) -> dict[str, ModelProviderInfo]:
    """`openai` and `oss` as 0.58 defines them; both read their endpoint overrides from the environment."""
    env = os.environ if environ is None else environ
    oss_base_url = _non_blank_env(env, "CODEX_OSS_BASE_URL")
    if oss_base_url is None:
        port_text = _non_blank_env(env, "CODEX_OSS_PORT")
        port = DEFAULT_OLLAMA_PORT
        if port_text is not None and port_text.isdigit() and int(port_text) < 2**32:
            port = int(port_text)
        oss_base_url = f"http://localhost:{port}/v1"
    return {
        "openai": ModelProviderInfo(
            name="OpenAI",
            base_url=_non_blank_env(env, "OPENAI_BASE_URL"),
            wire_api="responses",
            http_headers={"version": CLI_VERSION},
            env_http_headers={"OpenAI-Organization": "OPENAI_ORGANIZATION", "OpenAI-Project": "OPENAI_PROJECT"},
            requires_openai_auth=True,
        ),
        OSS_PROVIDER_ID: ModelProviderInfo(name="gpt-oss", base_url=oss_base_url, wire_api="chat"),
    }
