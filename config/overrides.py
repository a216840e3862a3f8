"""`-c key=value` overrides and per-conversation `config` maps, applied to a parsed TOML table."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from typing import Any


class OverrideError(ValueError):
    """A `-c` argument that cannot be used (no `=`, or an empty key)."""


def parse_cli_override(text: str) -> tuple[str, Any]:
    """Split `a.b=value` into its dotted key and a TOML value.

    The value is parsed as a TOML value; when that fails it is taken as a raw string with
    surrounding quotes stripped, so `-c model=o3` works without shell-level quoting (as Codex does).
    """
    key, sep, raw = text.partition("=")
    if not sep:
        raise OverrideError(f"Invalid override (missing '='): {text}")
    key = key.strip()
    if not key:
        raise OverrideError(f"Empty key in override: {text}")
    return key, parse_toml_value(raw)


def parse_toml_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"_x_ = {raw}")["_x_"]
    except tomllib.TOMLDecodeError:
        return raw.strip().strip("\"'")


def json_to_toml(value: Any) -> Any:
    """A JSON value from a request's `config` map as the TOML value 0.58 makes of it.

    TOML has no null: 0.58 turns it into an empty string, so `{"model": null}` sets `model = ""`.
    """
    if value is None:
        return ""
    if isinstance(value, Mapping):
        return {str(k): json_to_toml(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_to_toml(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        return float(value)  # beyond i64, as serde_json's number → f64 fallback
    return value


def apply_override(table: dict[str, Any], dotted_key: str, value: Any) -> None:
    """Set `dotted_key` (split on `.`) in `table`, creating tables on the way and replacing any
    non-table value that stands where a table is needed."""
    parts = dotted_key.split(".")
    current = table
    for part in parts[:-1]:
        child = current.get(part)
        if not isinstance(child, dict):
            child = {}
            current[part] = child
        current = child
    current[parts[-1]] = value


def apply_overrides(table: dict[str, Any], overrides: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    for key, value in overrides:
        apply_override(table, key, value)
    return table


def deep_merge(base: dict[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Merge `overlay` into `base` in place: tables merge recursively, anything else replaces."""
    for key, value in overlay.items():
        existing = base.get(key)
        if isinstance(existing, dict) and isinstance(value, Mapping):
            deep_merge(existing, value)
        else:
            base[key] = value
    return base
