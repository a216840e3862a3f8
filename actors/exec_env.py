"""The environment a command runs with, derived from `shell_environment_policy` exactly as 0.58 does.

Steps, in 0.58's order: start from the inherited set (`all`, `core` or `none`), drop the default
excludes (`*KEY*`, `*SECRET*`, `*TOKEN*`) unless `ignore_default_excludes`, drop the custom
`exclude` patterns, apply `set`, then keep only `include_only` matches when that list is non-empty.
Patterns are shell-style globs (`*`, `?`, `[...]`) matched case-insensitively.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Mapping
from typing import Any

CORE_VARS = frozenset({"HOME", "LOGNAME", "PATH", "SHELL", "USER", "USERNAME", "TMPDIR", "TEMP", "TMP"})
DEFAULT_EXCLUDES = ("*KEY*", "*SECRET*", "*TOKEN*")


def _field(policy: Any, name: str, default: Any) -> Any:
    if policy is None:
        return default
    if isinstance(policy, Mapping):
        value = policy.get(name, default)
    else:
        value = getattr(policy, name, default)
    return default if value is None else value


def _matches_any(name: str, patterns: Iterable[str]) -> bool:
    lowered = name.lower()
    return any(fnmatch.fnmatchcase(lowered, str(pattern).lower()) for pattern in patterns)


def command_env(policy: Any = None, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for one command. `policy` is config's ShellEnvironmentPolicy, a dict, or None (defaults)."""
    source = os.environ if base is None else base
    inherit = str(_field(policy, "inherit", "all")).lower()
    if inherit == "none":
        env: dict[str, str] = {}
    elif inherit == "core":
        env = {k: v for k, v in source.items() if k in CORE_VARS}
    elif inherit == "all":
        env = dict(source)
    else:
        raise ValueError(f"unknown shell_environment_policy.inherit `{inherit}`, expected one of all, core, none")

    if not _field(policy, "ignore_default_excludes", False):
        env = {k: v for k, v in env.items() if not _matches_any(k, DEFAULT_EXCLUDES)}

    exclude = list(_field(policy, "exclude", ()))
    if exclude:
        env = {k: v for k, v in env.items() if not _matches_any(k, exclude)}

    for key, value in dict(_field(policy, "set", {})).items():
        env[str(key)] = str(value)

    include_only = list(_field(policy, "include_only", ()))
    if include_only:
        env = {k: v for k, v in env.items() if _matches_any(k, include_only)}
    return env
