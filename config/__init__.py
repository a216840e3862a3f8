"""Configuration: config.toml read into a frozen Config, `-c` overrides, saved-config view, edits."""

from config.loader import (
    Config,
    ConfigError,
    ConfigOverrides,
    ShellEnvironmentPolicy,
    derive_config,
    load_config,
    os_error_text,
    rust_debug_str,
)
from config.overrides import OverrideError, parse_cli_override
from config.providers import ModelProviderInfo

__all__ = [
    "Config",
    "ConfigError",
    "ConfigOverrides",
    "ModelProviderInfo",
    "OverrideError",
    "ShellEnvironmentPolicy",
    "derive_config",
    "load_config",
    "os_error_text",
    "parse_cli_override",
    "rust_debug_str",
]
