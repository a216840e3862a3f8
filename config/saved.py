"""`getUserSavedConfig`: what config.toml says, read fresh on each call (PROTOCOL.md §4.12)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from config.loader import (
    CONFIG_FILE,
    MANAGED_CONFIG_PATH,
    ConfigError,
    check_config_table,
    read_toml_file,
)
from config.overrides import deep_merge
from messages.jsonrpc import internal_error


def _profile_view(profile: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "model": profile.get("model"),
        "modelProvider": profile.get("model_provider"),
        "approvalPolicy": profile.get("approval_policy"),
        "modelReasoningEffort": profile.get("model_reasoning_effort"),
        "modelReasoningSummary": profile.get("model_reasoning_summary"),
        "modelVerbosity": profile.get("model_verbosity"),
        "chatgptBaseUrl": profile.get("chatgpt_base_url"),
    }


def _sandbox_settings(table: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if table is None:
        return None
    return {
        "writableRoots": list(table.get("writable_roots", [])),
        "networkAccess": table.get("network_access", False),
        "excludeTmpdirEnvVar": table.get("exclude_tmpdir_env_var", False),
        "excludeSlashTmp": table.get("exclude_slash_tmp", False),
    }


def _tools(table: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if table is None:
        return None
    web_search = table.get("web_search", table.get("web_search_request"))
    return {"webSearch": web_search, "viewImage": table.get("view_image")}


def saved_config_view(table: Mapping[str, Any]) -> dict[str, Any]:
    """The `UserSavedConfig` wire object for a checked table: every key present, in wire order."""
    return {
        "approvalPolicy": table.get("approval_policy"),
        "sandboxMode": table.get("sandbox_mode"),
        "sandboxSettings": _sandbox_settings(table.get("sandbox_workspace_write")),
        "forcedChatgptWorkspaceId": table.get("forced_chatgpt_workspace_id"),
        "forcedLoginMethod": table.get("forced_login_method"),
        "model": table.get("model"),
        "modelReasoningEffort": table.get("model_reasoning_effort"),
        "modelReasoningSummary": table.get("model_reasoning_summary"),
        "modelVerbosity": table.get("model_verbosity"),
        "tools": _tools(table.get("tools")),
        "profile": table.get("profile"),
        "profiles": {name: _profile_view(p) for name, p in (table.get("profiles") or {}).items()},
    }


def read_user_saved_config(codex_home: Path, managed_config_path: Path | None = MANAGED_CONFIG_PATH) -> dict[str, Any]:
    """The getUserSavedConfig result `{"config": {...}}`; raises RpcError -32603 with 0.58's prefixes."""
    try:
        table = read_toml_file(Path(codex_home) / CONFIG_FILE)
        if managed_config_path is not None:
            deep_merge(table, read_toml_file(managed_config_path))
    except ConfigError as error:
        raise internal_error(f"failed to load config.toml: {error}") from None
    try:
        table = check_config_table(table)
    except ConfigError as error:
        raise internal_error(f"failed to parse config.toml: {error}") from None
    return {"config": saved_config_view(table)}
